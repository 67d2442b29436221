// Activities of reconciliation: a page of one side's records of a day, each looked up on the other side; each
// mismatch recorded as a problem (kind reconciliation_mismatch) with both records attached, keyed by the record's
// id, so a step repeated after a crash, or a day reconciled again, records it once (and opens it again if an
// operator had resolved it while it is still wrong).
import { Context } from '@temporalio/activity';
import { dayBounds, type MismatchReason, mismatchOf, type MoneyRecord } from '../domain/reconciliation';
import type { ProcessorClient } from '../processors/client';
import type { ProblemStore } from '../stores/problems';
import { MISMATCH, type ReconciliationStore } from '../stores/reconciliation';
import { withHeartbeats } from './heartbeat';

export interface ReconciliationDeps {
  reconciliation: ReconciliationStore;
  processor: ProcessorClient;
  problems: ProblemStore;
}

export interface ReconcileStep {
  checked: number;
  mismatches: number;
  /** Where the side's reading goes on; null when the side is done. */
  next: string | null;
}

const WHY: Record<MismatchReason, string> = {
  missing_in_ledger: 'the processor recorded it; the ledger has no such record',
  missing_at_processor: 'the ledger recorded it; the processor has no such record',
  amount_differs: 'the processor and the ledger recorded different amounts',
};

const byId = <R extends { id: string }>(records: R[]) => new Map(records.map((r) => [r.id, r]));

export function createReconciliationActivities(deps: ReconciliationDeps) {
  const { reconciliation, processor, problems } = deps;
  const workflowId = () => Context.current().info.workflowExecution?.workflowId ?? 'reconciliation';

  /** Records each pair that does not agree; returns how many did not. */
  const report = async (day: string, pairs: Array<[MoneyRecord | undefined, MoneyRecord | undefined]>, only?: MismatchReason) => {
    let n = 0;
    for (const [p, l] of pairs) {
      const reason = mismatchOf(p, l);
      if (reason === null || (only && reason !== only)) continue;
      const r = (p ?? l)!;
      await problems.record({
        workflowId: workflowId(), merchantId: null, kind: MISMATCH,
        message: `${day}: ${r.kind} ${r.id}: ${WHY[reason]}`,
        details: { key: r.id, day, reason, processor: p ?? null, ledger: l ?? null },
      });
      n++;
    }
    return n;
  };

  // every step heartbeats (the workflow gives its steps a heartbeat timeout of seconds)
  return withHeartbeats({
    async beginReconciliation(day: string): Promise<void> {
      await reconciliation.begin(day, workflowId());
    },

    async finishReconciliation(day: string, figures: { processorRecords: number; ledgerRecords: number; mismatches: number }): Promise<void> {
      await reconciliation.finish(day, figures);
    },

    /** The processor's records of the day after the cursor, each looked up in the ledger. */
    async reconcileProcessorRecords(day: string, cursor: string | null, limit: number): Promise<ReconcileStep> {
      const { from, to } = dayBounds(day);
      const page = await processor.records(from, to, cursor, limit);
      const ledger = byId(await reconciliation.recordsById(page.data.map((r) => r.id)));
      const mismatches = await report(day, page.data.map((r) => [r, ledger.get(r.id)]));
      return { checked: page.data.length, mismatches, next: page.hasMore ? page.next : null };
    },

    /** The ledger's records of the day after the cursor, each looked up at the processor (differences were found above). */
    async reconcileLedgerRecords(day: string, cursor: string | null, limit: number): Promise<ReconcileStep> {
      const { from, to } = dayBounds(day);
      const page = await reconciliation.recordsBetween(from, to, cursor, limit);
      const found = page.data.length === 0 ? new Map() : byId(await processor.recordsById(page.data.map((r) => r.id)));
      const mismatches = await report(day, page.data.map((r) => [found.get(r.id), r]), 'missing_at_processor');
      return { checked: page.data.length, mismatches, next: page.next };
    },
  });
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
