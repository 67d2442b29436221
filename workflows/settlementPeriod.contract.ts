// The settlement period workflow's contract: the close of one period (its id names the period), or the
// Schedule's tick that starts the close of the period open then; its progress as a query.
import * as wf from '@temporalio/workflow';
import { periodId } from '../domain/micropayments';
import type { PeriodTotals } from '../domain/settlement';

export type ClosePhase = 'grace' | 'freeze' | 'aggregate' | 'charge' | 'credit' | 'close' | 'closed';

export interface CloseProgress {
  phase: ClosePhase;
  frozenAt: string | null;
  /** the last buyer/seller id the charge/credit phase covered */
  cursor: string | null;
  invoices: { submitted: number; paid: number; failed: number };
  credits: { submitted: number; paid: number; failed: number };
  totals: PeriodTotals | null;
}

export interface SettlementPeriodInput {
  /** The period to close; unset for the Schedule's tick (which starts the close of the period open then). */
  periodSeq?: number;
  graceMs?: number;
  /** Lines per processor file (at most the processor's limit). */
  fileLines?: number;
  /** Delays of the dunning retries of a failed charge. */
  dunningDelaysMs?: number[];
  /** Where a run continued-as-new left off. */
  resume?: CloseProgress;
}

export type SettlementPeriodResult =
  | { kind: 'tick'; periodId: string; started: boolean }
  | { kind: 'closed'; periodId: string; progress: CloseProgress };

export type SettlementPeriodWorkflow = (input?: SettlementPeriodInput) => Promise<SettlementPeriodResult>;

/** Processor files per run before the close continues as new (its history stays small for any number of parties). */
export const MAX_FILES_PER_RUN = 40;

/** One deployment (task queue) closes its periods; tests run several side by side on one Temporal server. */
export const settlementPeriodWorkflowId = (taskQueue: string, seq: number) => `settlement-period-${taskQueue}-${periodId(seq)}`;
export const settlementPeriodScheduleId = (taskQueue: string) => `settlement-periods-${taskQueue}`;
export const progressQuery = wf.defineQuery<CloseProgress>('progress');
