// Dunning: a buyer's period charge failed. Retry it after each delay of the schedule (1 hour, 1 day, 3 days by
// default), with the buyer's card as it is then (the buyer may have updated it); after the last failure the
// buyer is suspended and the debt stays on the books. One workflow per (period, buyer), started by the period's
// close as a child that outlives it.
import * as wf from '@temporalio/workflow';
import type { SettlementPeriodActivities } from '../activities/settlementPeriods';
import { MAX_DUNNING_ATTEMPTS } from '../domain/micropayments';
import { type DunningInput, type DunningResult, dunningStatusQuery } from './dunning.contract';

const acts = wf.proxyActivities<SettlementPeriodActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: Infinity,
    nonRetryableErrorTypes: ['ProcessorRejected'] },
});

export async function dunningWorkflow(input: DunningInput): Promise<DunningResult> {
  const delays = input.delaysMs.slice(0, MAX_DUNNING_ATTEMPTS);
  let attempts = 0;
  let nextAttemptAt: string | null = null;
  let outcome: DunningResult['outcome'] | null = null;
  wf.setHandler(dunningStatusQuery, () => ({ attempts, nextAttemptAt, outcome }));
  for (const delay of delays) {
    nextAttemptAt = new Date(Date.now() + delay).toISOString();
    await wf.sleep(delay);
    attempts++;
    const r = await acts.retryCharge(input.periodSeq, input.buyerId, attempts);
    if (r !== 'failed') {
      outcome = r;
      return { outcome: r, attempts };
    }
  }
  nextAttemptAt = null;
  await acts.suspendBuyer(input.periodSeq, input.buyerId);
  outcome = 'suspended';
  return { outcome, attempts };
}
