// Reconciliation of one UTC day: the processor's records of the day, a page at a time, each looked up in the
// ledger (missing there, or another amount: a mismatch); then the ledger's records of the day, each looked up at
// the processor (missing there: a mismatch). Every mismatch is a problem with both records attached, recorded once
// per day and record (activities/reconciliation.ts). A Temporal Schedule ticks daily and starts the reconciliation
// of the day before; an operator may run any day again (POST /v1/reconciliations).
import * as wf from '@temporalio/workflow';
import type { ReconciliationActivities } from '../activities/reconciliation';
import { previousDay } from '../domain/reconciliation';
import { startOnce } from './children';
import {
  MAX_STEPS_PER_RUN, RECORDS_PER_STEP, type ReconciliationInput, type ReconciliationProgress, type ReconciliationResult,
  reconciliationWorkflowId,
} from './reconciliation.contract';

const books = wf.proxyActivities<ReconciliationActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Infinity },
});
const reports = wf.proxyActivities<ReconciliationActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: Infinity },
});

export async function reconciliationWorkflow(input: ReconciliationInput = {}): Promise<ReconciliationResult> {
  if (input.day === undefined) return tick();
  const day = input.day;
  const p: ReconciliationProgress = input.resume ?? { side: 'processor', cursor: null, processorRecords: 0, ledgerRecords: 0, mismatches: 0 };
  if (!input.resume) await books.beginReconciliation(day);
  for (let step = 0; p.side !== 'done'; step++) {
    if (step >= MAX_STEPS_PER_RUN || wf.workflowInfo().continueAsNewSuggested) {
      await wf.continueAsNew<typeof reconciliationWorkflow>({ day, resume: p });
    }
    const r = p.side === 'processor'
      ? await reports.reconcileProcessorRecords(day, p.cursor, RECORDS_PER_STEP)
      : await reports.reconcileLedgerRecords(day, p.cursor, RECORDS_PER_STEP);
    if (p.side === 'processor') p.processorRecords += r.checked;
    else p.ledgerRecords += r.checked;
    p.mismatches += r.mismatches;
    p.cursor = r.next;
    if (r.next === null) p.side = p.side === 'processor' ? 'ledger' : 'done';
  }
  await books.finishReconciliation(day, { processorRecords: p.processorRecords, ledgerRecords: p.ledgerRecords, mismatches: p.mismatches });
  return { kind: 'reconciled', day, progress: p };
}

/** The Schedule's tick: start the reconciliation of the day before (once; a second tick finds it started). */
async function tick(): Promise<ReconciliationResult> {
  const day = previousDay(new Date(Date.now()));
  const started = await startOnce(reconciliationWorkflow, { workflowId: reconciliationWorkflowId(wf.workflowInfo().taskQueue, day), args: [{ day }] });
  return { kind: 'tick', day, started };
}
