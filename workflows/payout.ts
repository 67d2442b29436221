// Merchant payouts. The Schedule's tick is a run of one day: it prepares the payouts of the merchants due that day,
// a step of MERCHANTS_PER_STEP merchants at a time (each preparation is idempotent per merchant and day, see
// stores/payouts.ts), and starts a payout workflow per payout to send, which outlives the run. A payout workflow
// sends its payout in a one-line processor payout file; a line the processor refuses (a rejected destination, or
// none set) is tried again after each delay of the retry policy (the merchant may fix its destination meanwhile),
// then the payout fails: the problems log says so and its amount is carried into the merchant's next payout.
import * as wf from '@temporalio/workflow';
import type { PayoutActivities } from '../activities/payouts';
import { scheduledPeriodKey } from '../domain/payouts';
import { startOnce } from './children';
import {
  DEFAULT_PAYOUT_RETRY_DELAYS_MS, MAX_STEPS_PER_RUN, MERCHANTS_PER_STEP, type PayoutInput, type PayoutResult, type PayoutRunInput,
  type PayoutRunResult, payoutWorkflowId,
} from './payout.contract';

const books = wf.proxyActivities<PayoutActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Infinity },
});
const processor = wf.proxyActivities<PayoutActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: Infinity,
    nonRetryableErrorTypes: ['ProcessorRejected'] },
});

export async function payoutRunWorkflow(input: PayoutRunInput = {}): Promise<PayoutRunResult> {
  const cutoff = input.cutoff ?? new Date(Date.now()).toISOString();
  const periodKey = scheduledPeriodKey(new Date(cutoff));
  let after = input.after ?? null;
  let merchants = 0;
  let payoutsStarted = 0;
  for (let step = 0; ; step++) {
    if (step >= MAX_STEPS_PER_RUN || wf.workflowInfo().continueAsNewSuggested) {
      await wf.continueAsNew<typeof payoutRunWorkflow>({ cutoff, retryDelaysMs: input.retryDelaysMs, after });
    }
    const r = await books.preparePayouts(cutoff, periodKey, after, MERCHANTS_PER_STEP);
    merchants += r.merchants;
    for (const payoutId of r.payoutIds) {
      if (await startPayout(payoutId, input.retryDelaysMs)) payoutsStarted++;
    }
    if (r.last === null) break;
    after = r.last;
  }
  return { periodKey, merchants, payoutsStarted };
}

/** Starts the payout's workflow as a child that outlives the run; false when it was started before. */
const startPayout = (payoutId: string, retryDelaysMs: number[] | undefined) => startOnce(payoutWorkflow, {
  workflowId: payoutWorkflowId(payoutId), args: [{ payoutId, retryDelaysMs }],
  // (a payout whose workflow ended without settling it, terminated say, is sent by a new one: each try is idempotent)
  workflowIdReusePolicy: wf.WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
});

export async function payoutWorkflow(input: PayoutInput): Promise<PayoutResult> {
  const delays = input.retryDelaysMs ?? DEFAULT_PAYOUT_RETRY_DELAYS_MS;
  for (let attempt = 1; ; attempt++) {
    const r = await processor.sendPayout(input.payoutId, attempt);
    if (r.outcome !== 'refused') return { payoutId: input.payoutId, outcome: r.outcome, attempts: attempt };
    if (attempt > delays.length) {
      await books.failPayout(input.payoutId, r.code);
      return { payoutId: input.payoutId, outcome: 'failed', attempts: attempt };
    }
    await wf.sleep(delays[attempt - 1]);
  }
}
