// A settlement period's close. A Temporal Schedule ticks once per period (a day by default); the tick starts
// `settlement-period-<task queue>-sp_<n>` for the period open then, which:
//   waits the grace interval → freezes the period (later payments go to the next one) → aggregates one invoice
//   per buyer and one credit per seller → charges the invoices in processor files (a failed charge starts
//   dunning) → pays the credits in payout files → closes the period with its totals.
// Every step is idempotent per period, buyer and seller (see activities/settlementPeriods.ts), so a worker
// killed anywhere in a close resumes without charging, crediting or skipping anyone twice. The charge and
// payout loops continue-as-new every MAX_FILES_PER_RUN files, so the history stays small for any number of
// buyers. A buyer whose charge failed gets a dunning workflow, started as a child that outlives the close.
import * as wf from '@temporalio/workflow';
import type { SettlementPeriodActivities, StepResult } from '../activities/settlementPeriods';
import { DEFAULT_DUNNING_DELAYS_MS, periodId } from '../domain/micropayments';
import { startOnce } from './children';
import { dunningWorkflow } from './dunning';
import { dunningWorkflowId } from './dunning.contract';
import {
  type ClosePhase, type CloseProgress, MAX_FILES_PER_RUN, progressQuery, type SettlementPeriodInput, type SettlementPeriodResult,
  settlementPeriodWorkflowId,
} from './settlementPeriod.contract';

/** Lines per processor file unless the input asks for fewer (the processor's own limit). */
export const DEFAULT_FILE_LINES = 5000;

// Every step heartbeats every second (activities/settlementPeriods.ts): a dead worker is noticed in seconds.
const books = wf.proxyActivities<SettlementPeriodActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Infinity },
});
const processor = wf.proxyActivities<SettlementPeriodActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: Infinity,
    nonRetryableErrorTypes: ['ProcessorRejected'] },
});

export async function settlementPeriodWorkflow(input: SettlementPeriodInput = {}): Promise<SettlementPeriodResult> {
  if (input.periodSeq === undefined) return tick(input);
  const seq = input.periodSeq;
  const fileLines = Math.max(1, Math.min(input.fileLines ?? DEFAULT_FILE_LINES, DEFAULT_FILE_LINES));
  const p: CloseProgress = input.resume ?? {
    phase: 'grace', frozenAt: null, cursor: null, totals: null,
    invoices: { submitted: 0, paid: 0, failed: 0 }, credits: { submitted: 0, paid: 0, failed: 0 },
  };
  wf.setHandler(progressQuery, () => p);
  let files = 0;
  const dunningDelaysMs = input.dunningDelaysMs ?? DEFAULT_DUNNING_DELAYS_MS;

  /** One dunning per failed invoice, even after an earlier one has ended (a repeated step names it again). */
  const startDunning = (buyerIds: string[]) => Promise.all(buyerIds.map((buyerId) => startOnce(dunningWorkflow, {
    workflowId: dunningWorkflowId(periodId(seq), buyerId), args: [{ periodSeq: seq, buyerId, delaysMs: dunningDelaysMs }],
  })));

  if (p.phase === 'grace') {
    if ((input.graceMs ?? 0) > 0) await wf.sleep(input.graceMs!);
    p.phase = 'freeze';
  }
  if (p.phase === 'freeze') {
    p.frozenAt = (await books.freezePeriod(seq, wf.workflowInfo().workflowId)).frozenAt;
    p.phase = 'aggregate';
  }
  if (p.phase === 'aggregate') {
    p.totals = await books.aggregatePeriod(seq);
    p.phase = 'charge';
    p.cursor = null;
  }
  const loop = async (step: (after: string | null) => Promise<StepResult>, counts: CloseProgress['invoices'], then: ClosePhase) => {
    for (;;) {
      if (files >= MAX_FILES_PER_RUN || wf.workflowInfo().continueAsNewSuggested) {
        await wf.continueAsNew<typeof settlementPeriodWorkflow>({ periodSeq: seq, fileLines, dunningDelaysMs, resume: p });
      }
      const r = await step(p.cursor);
      files++;
      counts.submitted += r.submitted;
      counts.paid += r.succeeded;
      counts.failed += r.failed;
      if (r.last === null) break;
      p.cursor = r.last;
    }
    p.phase = then;
    p.cursor = null;
  };
  if (p.phase === 'charge') {
    await loop(async (after) => {
      const r = await processor.chargeInvoices(seq, after, fileLines);
      await startDunning(r.failedBuyerIds);
      return r;
    }, p.invoices, 'credit');
  }
  if (p.phase === 'credit') await loop((after) => processor.creditSellers(seq, after, fileLines), p.credits, 'close');
  if (p.phase === 'close') {
    p.totals = await books.closePeriod(seq);
    p.phase = 'closed';
  }
  return { kind: 'closed', periodId: periodId(seq), progress: p };
}

/** The Schedule's tick: start the close of the period open now (once; a second tick finds it started). */
async function tick(input: SettlementPeriodInput): Promise<SettlementPeriodResult> {
  const seq = await books.openPeriodSeq();
  const started = await startOnce(settlementPeriodWorkflow, {
    workflowId: settlementPeriodWorkflowId(wf.workflowInfo().taskQueue, seq),
    args: [{ periodSeq: seq, graceMs: input.graceMs, fileLines: input.fileLines, dunningDelaysMs: input.dunningDelaysMs }],
  });
  return { kind: 'tick', periodId: periodId(seq), started };
}
