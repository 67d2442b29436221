// Disputes on the real server with the real activities: the processor simulator opens a dispute on a real capture (a
// hold's), the service takes its notice as the webhook route does, and the dispute's workflow runs to its end against
// the simulator (which decides a few seconds after evidence; the workflow asks for the decision every 500 ms, since the
// shared simulator's webhooks reach no API here). Each test checks the merchant's balance, the processor and the books.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisputeView } from '../../domain/disputes';
import type { Dispute as ProcessorDispute, DisputeReason } from '../../processors/client';
import type { Services } from '../../services';
import { disputeWorkflowId } from '../../workflows/dispute.contract';
import { testApp } from '../support/app';
import { uid } from '../support/env';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { orderHarness, type OrderHarness } from '../support/orders';

let h: OrderHarness;
let services: Services;
beforeAll(async () => {
  h = await orderHarness();
  services = (await testApp(h.database, h.client, { taskQueue: h.taskQueue, disputeDecisionPollMs: 300 })).services;
});
afterAll(() => h.close());

/** A hold captured in full: its capture (5000, the broker's fee 125 at 250 bps). */
async function capture(amountMinor = 5000, merchantId = h.merchantId): Promise<{ holdId: string; captureId: string }> {
  const { hold } = await services.holds.create(merchantId, uid('idem-'), { token: await h.tokenize('4000056655665556'), amountMinor,
    currency: 'USD', expiresInSeconds: 3600 });
  const captured = await services.holds.capture((await services.holds.hold(hold.id))!, uid('cap-'));
  return { holdId: hold.id, captureId: captured.captures[0].id };
}
async function dispute(captureId: string, reason: DisputeReason, over: { evidenceSeconds?: number; outcome?: 'won' | 'lost'; amountMinor?: number } = {}) {
  const d = await h.admin.openDispute(captureId, { reason, ...over }) as unknown as ProcessorDispute;
  expect(await services.disputes.opened(d)).toBe('opened');
  return d;
}
const result = (id: string): Promise<DisputeView> => h.client.workflow.getHandle(disputeWorkflowId(id)).result();
const row = async (id: string) => (await services.disputes.dispute(id))!;
/** What the merchant is owed on its payable account (credit balance), and what its disputes hold. */
async function balances() {
  const sum = async (id: string) => 0 - Number((await h.db('postings').where({ account_id: id }).sum({ s: 'amount_minor' }).first())?.s ?? 0);
  return { merchant: await sum(`merchant-payable:${h.merchantId}:USD`), held: await sum(`disputes-held:${h.merchantId}:USD`) };
}
const disputeEvents = (id: string) => h.db('events').whereRaw(`data->>'disputeId' = ?`, [id]).orderBy('created_at').pluck('type');
const until = async <T>(fn: () => Promise<T>, ok: (v: T) => boolean) => {
  for (let i = 0; i < 100; i++) {
    const v = await fn();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('not reached');
};

describe('disputes', () => {
  it('won with evidence: the amount and fee leave the balance at once, the amount comes back, the fee stays with the processor', async () => {
    const before = await balances();
    const { captureId } = await capture();
    const afterCapture = await balances();
    expect(afterCapture.merchant - before.merchant).toBe(5000 - 125);
    const d = await dispute(captureId, 'product_not_received');
    const opened = await until(balances, (b) => b.held !== afterCapture.held);
    expect(opened).toEqual({ merchant: afterCapture.merchant - 5000 - d.feeMinor, held: afterCapture.held + 5000 + d.feeMinor });
    await services.disputes.evidence(await row(d.id), { trackingNumber: '1Z999AA10123456784', shippingCarrier: 'UPS' }, false);
    await services.disputes.evidence(await row(d.id), { deliveryProof: 'Signed for by the customer on 2026-12-01' }, true);
    expect((await row(d.id)).evidence).toEqual({ trackingNumber: '1Z999AA10123456784', shippingCarrier: 'UPS',
      deliveryProof: 'Signed for by the customer on 2026-12-01' });
    await expect(services.disputes.evidence(await row(d.id), { uncategorized: 'late' }, false)).rejects.toMatchObject({ code: 'dispute_not_open' });
    const end = await result(d.id);
    expect(end).toMatchObject({ state: 'won', resolution: 'decided', feeChargedMinor: d.feeMinor });
    expect(await balances()).toEqual({ merchant: afterCapture.merchant - d.feeMinor, held: afterCapture.held });
    expect(await h.processor.getDispute(d.id)).toMatchObject({ status: 'won' });
    expect(await disputeEvents(d.id)).toEqual(['dispute.created', 'dispute.closed']);
  });

  it('lost by the deadline: no evidence counts as accepted; the money stays with the customer', async () => {
    const { captureId } = await capture();
    const start = await balances();
    const d = await dispute(captureId, 'fraudulent', { evidenceSeconds: 2 });
    const end = await result(d.id);
    expect(end).toMatchObject({ state: 'lost', resolution: 'deadline' });
    expect(await balances()).toEqual({ merchant: start.merchant - 5000 - d.feeMinor, held: start.held });
    await expect(services.disputes.evidence(await row(d.id), { uncategorized: 'too late' }, false)).rejects.toMatchObject({ code: 'dispute_not_open' });
    expect(await h.processor.getDispute(d.id)).toMatchObject({ status: 'lost' });
  });

  it('accepted by the merchant: lost at once', async () => {
    const { captureId } = await capture();
    const d = await dispute(captureId, 'product_unacceptable');
    await services.disputes.accept(await row(d.id));
    expect(await result(d.id)).toMatchObject({ state: 'lost', resolution: 'accepted' });
    await expect(services.disputes.accept(await row(d.id))).rejects.toMatchObject({ code: 'dispute_not_open' });
  });

  it('a failed provisioning refunded at once: the customer is refunded once and the issuer waives the fee', async () => {
    const { captureId } = await capture();
    const start = await balances();
    const d = await dispute(captureId, 'provisioning_failed');
    await services.disputes.refund(await row(d.id));
    const end = await result(d.id);
    expect(end).toMatchObject({ state: 'refunded', resolution: 'refunded', feeChargedMinor: 0 });
    expect(end.refundId).toMatch(/^re/);
    // (the refund gives back its share of the broker's fee: the merchant bears the amount less that, no dispute fee)
    expect(await balances()).toEqual({ merchant: start.merchant - (5000 - 125), held: start.held });
    expect(await h.db('card_refunds').where({ capture_id: captureId }).count().first()).toEqual({ count: '1' });
    await expect(services.disputes.refund(await row(d.id))).rejects.toMatchObject({ code: 'dispute_not_open' });
  });

  it('re-provisioned: the proof of delivery becomes the evidence, and wins', async () => {
    const { captureId } = await capture();
    const d = await dispute(captureId, 'provisioning_failed');
    await services.disputes.reprovisioned(await row(d.id), { deliveryProof: 'Licence key re-sent and activated', provisioningLog: 'activated 12:00Z' });
    await services.disputes.evidence(await row(d.id), {}, true);
    expect(await result(d.id)).toMatchObject({ state: 'won' });
    const other = await dispute((await capture()).captureId, 'fraudulent');
    await expect(services.disputes.reprovisioned(await row(other.id), { deliveryProof: 'x' })).rejects.toMatchObject({ code: 'not_provisioning_failure' });
    await services.disputes.accept(await row(other.id));
  });

  it('a repeated notice is one dispute (one entry); a notice for an unknown capture is a problem, never dropped', async () => {
    const { captureId } = await capture();
    const d = await dispute(captureId, 'duplicate');
    expect(await services.disputes.opened(d)).toBe('opened');
    await until(() => h.db('journal_entries').where({ idempotency_key: `dispute:${d.id}:opened` }).count().first(), (r) => r?.count === '1');
    await services.disputes.accept(await row(d.id));
    await result(d.id);
    const stray = { ...d, id: uid('dp_stray_'), captureId: uid('cap_nowhere_') };
    expect(await services.disputes.opened(stray)).toBe('unknown_capture');
    expect(await h.db('problems').where({ kind: 'dispute_unknown_capture', workflow_id: disputeWorkflowId(stray.id) }).count().first()).toEqual({ count: '1' });
    expect(await services.disputes.dispute(stray.id)).toBeUndefined();
  });

  it('refuses evidence too large (nothing written) and evidence with nothing drafted', async () => {
    const { captureId } = await capture();
    const d = await dispute(captureId, 'general');
    await expect(services.disputes.evidence(await row(d.id), { uncategorized: 'x'.repeat(20_001) }, false)).rejects.toMatchObject({ code: 'evidence_too_large' });
    expect((await row(d.id)).evidence).toEqual({});
    await expect(services.disputes.evidence(await row(d.id), {}, true)).rejects.toMatchObject({ code: 'evidence_empty' });
    await services.disputes.accept(await row(d.id));
  });

  it('a dispute after the merchant was paid out is recovered by the next payout, never lost', async () => {
    const { merchant } = await h.stores.merchants.create(uid('Paid out '), MERCHANT_SETTINGS);
    const { captureId } = await capture(5000, merchant.id);
    const [first] = await h.stores.payouts.prepare(merchant.id, new Date(Date.now() + 1000), uid('first-'));
    expect(first).toMatchObject({ amountMinor: 5000 - 125, disputesMinor: 0, state: 'pending' });
    const d = await dispute(captureId, 'fraudulent');
    await services.disputes.accept(await row(d.id));
    expect(await result(d.id)).toMatchObject({ state: 'lost' });
    // nothing else sold: the next payout is negative, carried (nothing sent)
    const [second] = await h.stores.payouts.prepare(merchant.id, new Date(Date.now() + 1000), uid('second-'));
    expect(second).toMatchObject({ disputesMinor: 5000 + d.feeMinor, amountMinor: -(5000 + d.feeMinor), state: 'carried' });
    const balance = await h.stores.payouts.balanceTransactions(second);
    expect(balance.data).toEqual([expect.objectContaining({ type: 'dispute', sourceId: d.id, amountMinor: -(5000 + d.feeMinor) })]);
    // a later sale: that payout takes what the dispute cost
    await capture(10_000, merchant.id);
    const [third] = await h.stores.payouts.prepare(merchant.id, new Date(Date.now() + 1000), uid('third-'));
    expect(third).toMatchObject({ carriedMinor: -(5000 + d.feeMinor), disputesMinor: 0, amountMinor: 10_000 - 250 - 5000 - d.feeMinor, state: 'pending' });
  });

  it('reminds the merchant 3 days before the evidence deadline (a durable timer), while no answer has come', async () => {
    const { captureId } = await capture();
    // (the deadline 3 days and 2 seconds away: the first reminder is due in 2 seconds)
    const d = await dispute(captureId, 'product_unacceptable', { evidenceSeconds: 3 * 86_400 + 2 });
    await until(() => disputeEvents(d.id), (types) => types.includes('dispute.evidence_due_soon'));
    const reminder = await h.db('events').whereRaw(`data->>'disputeId' = ?`, [d.id]).where({ type: 'dispute.evidence_due_soon' }).first('data');
    expect(reminder.data).toMatchObject({ daysLeft: 3, state: 'needs_response', evidenceDueBy: d.evidenceDueBy });
    await services.disputes.accept(await row(d.id));
    expect(await result(d.id)).toMatchObject({ state: 'lost', resolution: 'accepted' });
    expect(await disputeEvents(d.id)).toEqual(['dispute.created', 'dispute.evidence_due_soon', 'dispute.closed']);
  });
});
