// Activities of disputes: the processor's side (evidence, acceptance, its view of a dispute, the refund that resolves a
// failed provisioning) and the books (each step's entry between the merchant's balance, disputes held and cash at the
// processor, with its movement for the next payout; the merchant's events; the dispute's row). Each is safe to run
// twice: processor calls carry the workflow's keys, entries and rows are keyed by the dispute and its step.
import { chargeDisputePostings, type DisputeInput, disputePostings, type DisputeStep, type DisputeView, refundFeeShare } from '../domain/disputes';
import { accounts, brokerDisputesHeld, buyerReceivable, disputesHeld } from '../ledger/accounts';
import type { Ledger } from '../ledger/ledger';
import type { Dispute as ProcessorDispute, ProcessorClient } from '../processors/client';
import type { DisputeStore } from '../stores/disputes';
import type { OrderStore } from '../stores/orders';
import { bookRefund } from './orders';
import { processorCall } from './processorCall';
import type { BusinessEvent, WebhookEventActivities } from './webhookEvents';

export function createDisputeActivities(deps: { processor: ProcessorClient; ledger: Ledger; orders: OrderStore; disputes: DisputeStore;
  events: WebhookEventActivities; }) {
  const { processor, ledger, disputes, events } = deps;
  const feeCharged = (view: DisputeView) => view.feeChargedMinor ?? view.feeMinor;

  /** A capture's dispute: between the merchant's balance, disputes held and cash at the processor. */
  async function bookMerchantStep(view: DisputeView, merchantId: string, step: DisputeStep): Promise<void> {
    const { currency } = view;
    const a = accounts(currency, merchantId);
    const held = disputesHeld(merchantId, currency);
    await Promise.all([ledger.openAccount(a.merchant), ledger.openAccount(a.clearing), ledger.openAccount(held)]);
    const id = { merchant: a.merchant.id, held: held.id, clearing: a.clearing.id };
    const postings = disputePostings(step, view.amountMinor, view.feeMinor, feeCharged(view));
    await ledger.post({
      idempotencyKey: `dispute:${view.id}:${step}`, description: `dispute ${view.id} of capture ${view.captureId}: ${step}`,
      metadata: { disputeId: view.id, captureId: view.captureId, orderId: view.orderId, holdId: view.holdId },
      postings: postings.map((p) => ({ accountId: id[p.account], amountMinor: p.amountMinor, currency })),
    });
    const merchantMoved = postings.find((p) => p.account === 'merchant')?.amountMinor ?? 0;
    await disputes.move({ disputeId: view.id, step, merchantId, currency, amountMinor: -merchantMoved });
  }

  /** A period charge's dispute, the broker's: between the buyer's debt, the broker's costs, disputes held and cash. */
  async function bookChargeStep(view: DisputeView, step: DisputeStep): Promise<void> {
    if (step === 'refunded') throw new Error(`dispute ${view.id} of a period charge cannot end refunded`);
    const { currency, invoice } = view;
    const buyer = buyerReceivable(invoice!.buyerId, currency);
    const { clearing, processorFees } = accounts(currency, '');
    const held = brokerDisputesHeld(currency);
    await Promise.all([buyer, clearing, processorFees, held].map((acc) => ledger.openAccount(acc)));
    const id = { buyer: buyer.id, processorFees: processorFees.id, held: held.id, clearing: clearing.id };
    await ledger.post({
      idempotencyKey: `dispute:${view.id}:${step}`, description: `dispute ${view.id} of period charge ${view.chargeId}: ${step}`,
      metadata: { disputeId: view.id, chargeId: view.chargeId, buyerId: invoice!.buyerId, periodSeq: invoice!.periodSeq },
      postings: chargeDisputePostings(step, view.amountMinor, view.feeMinor, feeCharged(view))
        .map((p) => ({ accountId: id[p.account], amountMinor: p.amountMinor, currency })),
    });
  }

  return {
    /**
     * Freezes the drafted evidence and submits it to the processor: 'submitted', or why not ('evidence_past_due' when
     * the deadline passed first, by the database's clock; 'evidence_empty' when nothing was drafted).
     */
    async submitDisputeEvidence(disputeId: string, idempotencyKey: string): Promise<{ outcome: 'submitted' } | { outcome: 'refused'; code: string }> {
      const evidence = await disputes.freeze(disputeId);
      if (!evidence) {
        const row = await disputes.dispute(disputeId);
        return { outcome: 'refused', code: row && Object.keys(row.evidence).length > 0 ? 'evidence_past_due' : 'evidence_empty' };
      }
      await processorCall(() => processor.submitDisputeEvidence(disputeId, evidence, idempotencyKey));
      return { outcome: 'submitted' };
    },
    async acceptDispute(disputeId: string, idempotencyKey: string): Promise<ProcessorDispute> {
      return processorCall(() => processor.acceptDispute(disputeId, idempotencyKey));
    },
    async processorDispute(disputeId: string): Promise<ProcessorDispute | null> {
      return processorCall(async () => (await processor.getDispute(disputeId)) ?? null);
    },
    /** Refunds the disputed amount of the capture at once, and books the refund as any refund of it. */
    async refundDisputedCapture(i: DisputeInput, idempotencyKey: string): Promise<string> {
      const captureId = i.captureId!;
      const refund = await processorCall(() => processor.refund(captureId, i.amountMinor, idempotencyKey));
      await bookRefund(deps, { refundId: refund.id, captureId, merchantId: i.merchantId!, currency: i.currency,
        amountMinor: refund.amountMinor, feeMinor: refundFeeShare(refund.amountMinor, i.captureAmountMinor, i.captureFeeMinor) },
      i.orderId ? { orderId: i.orderId } : { holdId: i.holdId! });
      return refund.id;
    },
    /**
     * A step's books: its entry (and, a merchant's dispute, its movement on the merchant's balance for the next payout),
     * then the merchant's events, then the row.
     */
    async saveDispute(view: DisputeView, step: DisputeStep | null, emitted: BusinessEvent[]): Promise<void> {
      if (step) await (view.merchantId ? bookMerchantStep(view, view.merchantId, step) : bookChargeStep(view, step));
      for (const e of emitted) await events.emitEvent(e);
      await disputes.save(view);
    },
  };
}

export type DisputeActivities = ReturnType<typeof createDisputeActivities>;
