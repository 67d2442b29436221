// nettingWindowWorkflow's contract: one window of authorized transactions between this service and a peer, run by
// the pair's coordinator (the gateway whose id sorts first). The first transaction of a window starts its workflow
// (signal-with-start), and the window is woken again whenever enough may be waiting; it closes after maxTransactions
// (counted in the database) or periodMs, whichever first.
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

/** Transactions with the peer were authorized: count what waits again. */
export const authorizedSignal = wf.defineSignal('authorized');

export type NettingWindowWorkflow = (input: NettingWindowInput) => Promise<NettingWindowResult>;

export const nettingWindowWorkflowId = (peer: string, seq: number) => `netting-${peer}-${seq}`;
