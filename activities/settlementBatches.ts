// Activities of the settlement batch run: which captures are not in a batch yet, submit them, record the batch.
import type { ProcessorClient, SettlementBatch } from '../processors/client';
import type { OrderStore } from '../stores/orders';
import { processorCall } from './processorCall';

export function createSettlementBatchActivities(deps: { processor: ProcessorClient; orders: OrderStore }) {
  const { processor, orders } = deps;
  return {
    /** Claims up to `limit` captures no batch has claimed (a retry with the same claim gets the same rows). */
    async claimCaptures(claim: string, limit: number): Promise<string[]> {
      return orders.claimCaptures(claim, limit);
    },
    async submitBatch(captureIds: string[], idempotencyKey: string): Promise<SettlementBatch> {
      return processorCall(() => processor.settleBatch(captureIds, idempotencyKey));
    },
    /** Marks each capture with its batch; a capture already in a batch keeps its first one. */
    async recordBatch(b: { batch: SettlementBatch; workflowId: string }): Promise<number> {
      return orders.recordBatch(b.batch, b.workflowId);
    },
  };
}

export type SettlementBatchActivities = ReturnType<typeof createSettlementBatchActivities>;
