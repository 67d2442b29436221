// The payout workflows' contract. A Temporal Schedule ticks once a day (by default): each tick starts a run for
// its UTC day (payoutRunWorkflow; a second run that day finds its payouts made), which prepares the payouts of every merchant due that day and starts
// one `payout-<payout id>` workflow per payout, which sends it and retries a refused one by policy.

/** Delays between tries of a payout the processor refused; after the last, it fails (problems log, carried). */
export const DEFAULT_PAYOUT_RETRY_DELAYS_MS = [60_000, 600_000, 3_600_000];

export interface PayoutRunInput {
  /** Captures and refunds made before this are paid out (default: when the run started); its UTC day names the run. */
  cutoff?: string;
  retryDelaysMs?: number[];
  /** Where a run continued-as-new left off: the last merchant id prepared. */
  after?: string | null;
}

export interface PayoutRunResult { periodKey: string; merchants: number; payoutsStarted: number }

export interface PayoutInput {
  payoutId: string;
  retryDelaysMs?: number[];
}

export interface PayoutResult {
  payoutId: string;
  /** paid; settled: found paid, failed or carried before; failed: refused on every try. */
  outcome: 'paid' | 'settled' | 'failed';
  attempts: number;
}

/** Merchants prepared per step of a run, and steps before the run continues as new. */
export const MERCHANTS_PER_STEP = 200;
export const MAX_STEPS_PER_RUN = 50;

export const payoutWorkflowId = (payoutId: string) => `payout-${payoutId}`;
export const payoutScheduleId = (taskQueue: string) => `payouts-${taskQueue}`;

export type PayoutWorkflow = (input: PayoutInput) => Promise<PayoutResult>;
export type PayoutRunWorkflow = (input?: PayoutRunInput) => Promise<PayoutRunResult>;
