// The reconciliation workflow's contract: the reconciliation of one UTC day (its id names the day), or the
// Schedule's tick that starts the reconciliation of the day before.

export interface ReconciliationProgress {
  /** The side being read: the processor's records (each looked up in the ledger), then the ledger's. */
  side: 'processor' | 'ledger' | 'done';
  /** Where the side's reading goes on (an opaque cursor of its reports). */
  cursor: string | null;
  processorRecords: number;
  ledgerRecords: number;
  mismatches: number;
}

export interface ReconciliationInput {
  /** YYYY-MM-DD; unset for the Schedule's tick. */
  day?: string;
  /** Where a run continued-as-new left off. */
  resume?: ReconciliationProgress;
}

export type ReconciliationResult =
  | { kind: 'tick'; day: string; started: boolean }
  | { kind: 'reconciled'; day: string; progress: ReconciliationProgress };

export type ReconciliationWorkflow = (input?: ReconciliationInput) => Promise<ReconciliationResult>;

/** Records read per step, and steps before a run continues as new (its history stays small for any day). */
export const RECORDS_PER_STEP = 500;
export const MAX_STEPS_PER_RUN = 100;

export const reconciliationWorkflowId = (taskQueue: string, day: string) => `reconciliation-${taskQueue}-${day}`;
export const reconciliationScheduleId = (taskQueue: string) => `reconciliations-${taskQueue}`;
