// A dispute (chargeback) on a capture: the amount and the fee leave the merchant's balance at once and the merchant is
// told; it may accept, submit evidence, or (a failed provisioning) refund at once, until the evidence deadline (a
// durable timer, with reminders 3 days and 1 day before; no evidence by then counts as accepted). A period charge's
// dispute is the broker's own (the merchant of record of buyers' invoices): the buyer's debt reopens, its operators are
// told through the problems log and answer it the same way. Then the issuer
// decides (the processor's webhook, or its view asked now and then) and the books follow. The rules and the ledger's
// arithmetic live in domain/disputes.ts.
import * as wf from '@temporalio/workflow';
import type { DisputeActivities } from '../activities/disputes';
import type { OrderActivities } from '../activities/orders';
import type { BusinessEvent } from '../domain/events';
import { closingStep, Dispute, DisputeError, disputeDetails, type DisputeInput, type DisputeResolution, type DisputeView, reminderTimes } from '../domain/disputes';
import { PROCESSOR_CALL, UNTIL_WRITTEN } from './activityOptions';
import { acceptUpdate, closedSignal, disputeQuery, refundUpdate, submitUpdate } from './dispute.contract';
import { notDone, reachable } from './reachable';
import { refusedAs } from './refusal';

/** How often a dispute under review asks the processor for its decision, in case its webhook is lost. */
export const DEFAULT_DECISION_POLL_MS = 60 * 60_000;

const processor = wf.proxyLocalActivities<DisputeActivities>(PROCESSOR_CALL);
const books = wf.proxyLocalActivities<DisputeActivities>(UNTIL_WRITTEN);
const problems = wf.proxyLocalActivities<OrderActivities>(UNTIL_WRITTEN);

type Closing = { status: 'won' | 'lost' | 'refunded'; feeMinor: number };

export async function disputeWorkflow(input: DisputeInput): Promise<DisputeView> {
  const d = new Dispute(input);
  const id = wf.workflowInfo().workflowId;
  let asked: 'accept' | 'submit' | 'refund' | null = null;
  let closing: Closing | null = null;

  wf.setHandler(disputeQuery, () => d.view());
  /** The view to save, also shown as the workflow's current details in the Web UI. */
  const shown = () => {
    const view = d.view();
    wf.setCurrentDetails(disputeDetails(view));
    return view;
  };
  const request = (what: 'accept' | 'submit' | 'refund', answered: () => boolean) => wf.setHandler(
    what === 'accept' ? acceptUpdate : what === 'submit' ? submitUpdate : refundUpdate,
    async () => {
      asked ??= what;
      await wf.condition(answered);
      return d.view();
    }, { validator: () => refusedAs(DisputeError, () => d.admit(what, Date.now())) });
  request('accept', () => d.isClosed);
  request('submit', () => d.state !== 'needs_response');
  request('refund', () => d.refundId !== null || d.isClosed);
  wf.setHandler(closedSignal, (c) => { closing ??= c; });

  /** The merchant hears each step (a period charge's dispute has none: its operators see it in the problems log). */
  const event = (type: BusinessEvent['type'], key: string, data: Record<string, unknown> = {}): BusinessEvent[] => (input.merchantId === null ? [] : [{
    merchantId: input.merchantId, groupKey: id, type, eventKey: `${id}:${type}:${key}`,
    data: { disputeId: input.disputeId, captureId: input.captureId, orderId: input.orderId, holdId: input.holdId, reason: input.reason,
      amountMinor: input.amountMinor, feeMinor: input.feeMinor, currency: input.currency, evidenceDueBy: input.evidenceDueBy, state: d.state, ...data },
  }]);
  /** A period charge's dispute is the broker's own: its operators are told what to do, and what it left. */
  const tellOperators = async (kind: string, message: string) => {
    if (input.invoice) {
      await problems.recordProblem({ workflowId: id, merchantId: null, kind, message,
        details: { disputeId: input.disputeId, chargeId: input.chargeId, ...input.invoice, amountMinor: input.amountMinor, currency: input.currency } });
    }
  };
  const now = () => new Date(Date.now()).toISOString();
  /** A call that must be answered: the processor is waited out for as long as it takes. */
  const answered = <T extends object>(call: () => Promise<T>) => reachable(call, Number.MAX_SAFE_INTEGER);

  await books.saveDispute(shown(), 'opened', event('dispute.created', 'created'));
  await tellOperators('period_charge_disputed', `Buyer ${input.invoice?.buyerId} disputed its invoice of period ${input.invoice?.periodSeq} `
    + `(${input.amountMinor} ${input.currency}, ${input.reason}): answer with evidence or accept by ${input.evidenceDueBy}`);

  // The merchant's turn, until it answers, the issuer closes it, or the deadline passes.
  const reminders = reminderTimes(input.evidenceDueBy, Date.now());
  const dueMs = Date.parse(input.evidenceDueBy);
  let resolution: DisputeResolution = 'decided';
  while (asked === null && closing === null) {
    const next = reminders[0] ?? dueMs;
    if (await wf.condition(() => asked !== null || closing !== null, Math.max(1, next - Date.now()))) break;
    if (reminders.length > 0) {
      const left = Math.round((dueMs - reminders.shift()!) / 86_400_000);
      await books.saveDispute(shown(), null, event('dispute.evidence_due_soon', `${left}d`, { daysLeft: left }));
    } else if (Date.now() >= dueMs) {
      resolution = 'deadline';
      break;
    }
  }

  if (closing === null) {
    if (asked === 'submit') {
      const r = await answered(() => processor.submitDisputeEvidence(input.disputeId, `${id}:evidence`));
      if (!notDone(r) && r.outcome === 'submitted') {
        d.submitted(now());
        await books.saveDispute(shown(), null, []);
      } else resolution = 'deadline';
    } else if (asked === 'refund') {
      const r = await answered(async () => ({ refundId: await processor.refundDisputedCapture(input, `${id}:refund`) }));
      if (!notDone(r)) {
        d.refunded(r.refundId);
        resolution = 'refunded';
        await books.saveDispute(shown(), null, []);
      }
    } else if (asked === 'accept') resolution = 'accepted';
    if (resolution === 'accepted' || resolution === 'deadline') {
      const r = await answered(() => processor.acceptDispute(input.disputeId, `${id}:accept`));
      // (refused: the issuer closed it meanwhile, which its webhook or the next look says)
      if (!notDone(r) && (r.status === 'lost' || r.status === 'won' || r.status === 'refunded')) closing ??= { status: r.status, feeMinor: r.feeMinor };
    }
  }

  // The issuer's decision: its webhook, else its view asked now and then.
  while (closing === null) {
    if (await wf.condition(() => closing !== null, input.decisionPollMs ?? DEFAULT_DECISION_POLL_MS)) break;
    const p = await answered(async () => ({ dispute: await processor.processorDispute(input.disputeId) }));
    const seen = notDone(p) ? null : p.dispute;
    if (seen && (seen.status === 'won' || seen.status === 'lost' || seen.status === 'refunded')) closing = { status: seen.status, feeMinor: seen.feeMinor };
  }
  const c = closing as Closing;
  d.closed(c.status, c.status === 'refunded' ? 'refunded' : resolution === 'deadline' || resolution === 'accepted' ? resolution : 'decided', c.feeMinor, now());
  await books.saveDispute(shown(), closingStep(d.state), event('dispute.closed', d.state, { resolution: d.resolution, feeChargedMinor: c.feeMinor }));
  if (d.state === 'lost') {
    await tellOperators('period_charge_dispute_lost', `Buyer ${input.invoice?.buyerId} won its dispute of period ${input.invoice?.periodSeq}'s invoice: `
      + `it owes ${input.amountMinor} ${input.currency} again (its receivable), to be collected`);
  }
  await wf.condition(wf.allHandlersFinished);
  return d.view();
}
