// Submits every capture not yet in a settlement batch to the processor, in batches of at most
// MAX_CAPTURES_PER_BATCH. Started by a Temporal Schedule (daily by default; see workers/schedules.ts).
// Each capture ends up in exactly one batch: a batch first claims its captures in PostgreSQL (concurrent runs
// skip each other's claims), the batch's idempotency key is its claim, so a retried submission returns the
// same batch, and the processor itself refuses a capture in two batches.
import * as wf from '@temporalio/workflow';
import type { SettlementBatchActivities } from '../activities/settlementBatches';
import type { SettlementBatchInput, SettlementBatchResult } from './settlementBatch.contract';

export const MAX_CAPTURES_PER_BATCH = 1000;
/** Batches per run; the rest waits for the next run (and keeps the history small). */
export const MAX_BATCHES_PER_RUN = 100;


const processor = wf.proxyActivities<SettlementBatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: Infinity,
    nonRetryableErrorTypes: ['ProcessorRejected'] },
});
const books = wf.proxyActivities<SettlementBatchActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Infinity },
});

export async function settlementBatchWorkflow(input: SettlementBatchInput = {}): Promise<SettlementBatchResult> {
  const size = Math.min(Math.max(1, input.capturesPerBatch ?? MAX_CAPTURES_PER_BATCH), MAX_CAPTURES_PER_BATCH);
  const { workflowId, runId } = wf.workflowInfo();
  const result: SettlementBatchResult = { batches: [] };
  for (let n = 0; n < MAX_BATCHES_PER_RUN; n++) {
    const key = `${workflowId}:${runId}:batch:${n}`;
    const captureIds = await books.claimCaptures(key, size);
    if (captureIds.length === 0) break;
    const batch = await processor.submitBatch(captureIds, key);
    await books.recordBatch({ batch, workflowId });
    result.batches.push({ id: batch.id, captureCount: batch.captureIds.length, totals: batch.totals });
  }
  return result;
}
