// nettingWindowWorkflow's contract: one window of authorized transactions between this service and a peer, run by
// the pair's coordinator (the gateway whose id sorts first). Each transaction authorized with the peer signals the
// open window's workflow (signal-with-start); the window closes after maxTransactions or periodMs, whichever first.
import * as wf from '@temporalio/workflow';
import type { NetPosition } from '../domain/federation';

export interface NettingWindowInput {
  /** This gateway (the coordinator) and the peer. */
  me: string;
  peer: string;
  seq: number;
  maxTransactions: number;
  periodMs: number;
}

export interface NettingWindowResult {
  state: 'settled' | 'mismatch' | 'empty';
  transactions: number;
  positions: NetPosition[];
  transfers: Array<{ currency: string; transferId: string }>;
}

/** A transaction with the peer was authorized (it waits for the open window). */
export const authorizedSignal = wf.defineSignal('authorized');

export type NettingWindowWorkflow = (input: NettingWindowInput) => Promise<NettingWindowResult>;

export const nettingWindowWorkflowId = (peer: string, seq: number) => `netting-${peer}-${seq}`;
