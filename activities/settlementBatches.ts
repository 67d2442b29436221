// Activities of the settlement batch run: which captures are not in a batch yet, submit them, record the batch.
import type { Db } from '../ledger/db';
import type { ProcessorClient, SettlementBatch } from '../processors/client';
import { processorCall } from './processorCall';

export function createSettlementBatchActivities(deps: { processor: ProcessorClient; db: Db }) {
  const { processor, db } = deps;
  return {
    /**
     * Claims up to `limit` captures no batch has claimed, oldest first, for this batch. Concurrent runs skip
     * each other's rows, so a capture goes to one batch only; a retry with the same claim gets the same rows.
     */
    async claimCaptures(claim: string, limit: number): Promise<string[]> {
      return db.transaction(async (trx) => {
        const mine = await trx('captures').where({ batch_claim: claim }).orderBy([{ column: 'created_at' }, { column: 'id' }]).select('id');
        if (mine.length) return mine.map((r) => r.id as string);
        const { rows } = await trx.raw(`
          UPDATE captures SET batch_claim = ? WHERE id IN (
            SELECT id FROM captures WHERE batch_claim IS NULL ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
          RETURNING id, created_at`, [claim, limit]);
        return (rows as Array<{ id: string; created_at: Date }>)
          .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id)).map((r) => r.id);
      });
    },
    async submitBatch(captureIds: string[], idempotencyKey: string): Promise<SettlementBatch> {
      return processorCall(() => processor.settleBatch(captureIds, idempotencyKey));
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
