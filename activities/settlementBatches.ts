// Activities of the settlement batch run: which captures are not in a batch yet, submit them, record the batch.
import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../ledger/db';
import { type ProcessorClient, ProcessorRejectedError, type SettlementBatch } from '../processors/client';

export function createSettlementBatchActivities(deps: { processor: ProcessorClient; db: Db }) {
  const { processor, db } = deps;
  return {
    /** Oldest first, so every capture gets into a batch in time. */
    async unbatchedCaptures(limit: number): Promise<string[]> {
      const rows = await db('captures').whereNull('batch_id').orderBy([{ column: 'created_at' }, { column: 'id' }])
        .limit(limit).select('id');
      return rows.map((r) => r.id as string);
    },
    async submitBatch(captureIds: string[], idempotencyKey: string): Promise<SettlementBatch> {
      try {
        return await processor.settleBatch(captureIds, idempotencyKey);
      } catch (err) {
        if (err instanceof ProcessorRejectedError) {
          throw ApplicationFailure.create({ type: 'ProcessorRejected', message: err.message, nonRetryable: true, details: [err.code] });
        }
        throw err;
      }
    },
    /** Marks each capture with its batch; a capture already in a batch keeps its first one. */
    async recordBatch(b: { batch: SettlementBatch; workflowId: string }): Promise<number> {
      return db.transaction(async (trx) => {
        await trx('settlement_batches').insert({
          id: b.batch.id, workflow_id: b.workflowId, capture_count: b.batch.captureIds.length, totals: JSON.stringify(b.batch.totals),
        }).onConflict('id').ignore();
        const marked = await trx('captures').whereIn('id', b.batch.captureIds).whereNull('batch_id').update({ batch_id: b.batch.id });
        return Number(marked);
      });
    },
  };
}

export type SettlementBatchActivities = ReturnType<typeof createSettlementBatchActivities>;
