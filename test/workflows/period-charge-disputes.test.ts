// Disputes of period charges of micro-payments, end to end below the HTTP edge: buyers pay sellers, the period closes
// and charges each buyer's invoice through the processor simulator, the issuer disputes one of those charges, and the
// dispute's workflow runs as the broker's own (the merchant of record of invoices): the buyer's debt reopens in the
// ledger while it is open, operators are told through the problems log and answer it (evidence, or acceptance), and the
// books follow the issuer's decision; sellers' credits are untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisputeView } from '../../domain/disputes';
import { periodSeq } from '../../domain/micropayments';
import type { Dispute as ProcessorDispute } from '../../processors/client';
import { brokerDisputesHeld, buyerReceivable } from '../../ledger/accounts';
import type { Services } from '../../services';
import { disputeWorkflowId } from '../../workflows/dispute.contract';
import { testApp } from '../support/app';
import { uid } from '../support/env';
import { microHarness, type MicroHarness } from '../support/micro';

let h: MicroHarness;
let services: Services;
const invoices: Array<{ buyerId: string; chargeId: string; amountMinor: number }> = [];
let sellerId: string;

beforeAll(async () => {
  h = await microHarness();
  services = (await testApp(h.database, h.client, { taskQueue: h.taskQueue, disputeDecisionPollMs: 300 })).services;
  const seller = await h.seller({ feeBps: 1000, items: [{ id: 'article', priceMinor: 250 }] });
  sellerId = seller.id;
  for (let b = 0; b < 3; b++) {
    const buyer = await h.buyer();
    for (let i = 0; i < 4; i++) {
      const r = await h.api('/micropayments', { key: buyer.key, idem: uid('mp-'),
        body: { clientId: uid('c'), buyerToken: buyer.token, sellerId: seller.id, itemId: 'article', currency: 'USD' } });
      expect(r.status).toBe(201);
    }
  }
  await h.closePeriod();
  const rows: Array<{ buyer_id: string; charge_id: string; amount_minor: string }> = await h.db('invoices').where({ state: 'paid' });
  for (const r of rows) invoices.push({ buyerId: r.buyer_id, chargeId: r.charge_id, amountMinor: Number(r.amount_minor) });
  expect(invoices).toHaveLength(3);
}, 120_000);
afterAll(() => h.close());

const result = (id: string): Promise<DisputeView> => h.client.workflow.getHandle(disputeWorkflowId(id)).result();
const row = async (id: string) => (await services.disputes.dispute(id))!;
const owed = async (accountId: string) => Number((await h.db('postings').where({ account_id: accountId }).sum({ s: 'amount_minor' }).first())?.s ?? 0);
async function disputed(i: number, over: { evidenceSeconds?: number } = {}) {
  const d = await h.admin.openChargeDispute(invoices[i].chargeId, { reason: 'fraudulent', ...over }) as unknown as ProcessorDispute;
  expect(await services.disputes.opened(d)).toBe('opened');
  return d;
}

describe('disputes of period charges', () => {
  it("won with the operators' evidence: the buyer's debt reopens while it runs, then is settled again; the broker pays the fee", async () => {
    const inv = invoices[0];
    const receivable = buyerReceivable(inv.buyerId, 'USD').id;
    const before = await owed(receivable);
    const sellersBefore = await h.db('seller_credits').sum({ s: 'amount_minor' }).first();
    const d = await disputed(0);
    expect(d).toMatchObject({ chargeId: inv.chargeId, captureId: null, amountMinor: inv.amountMinor });
    expect(await row(d.id)).toMatchObject({ merchantId: null, chargeId: inv.chargeId });
    await expect.poll(() => owed(receivable)).toBe(before + inv.amountMinor);
    expect(await owed(brokerDisputesHeld('USD').id)).toBe(-(inv.amountMinor + d.feeMinor));
    const told = await h.db('problems').where({ workflow_id: disputeWorkflowId(d.id), kind: 'period_charge_disputed' }).first();
    expect(told.details).toMatchObject({ chargeId: inv.chargeId, buyerId: inv.buyerId });
    await services.disputes.evidence(await row(d.id), { customerCommunication: 'The buyer read every article (access log attached)' }, true);
    const end = await result(d.id);
    expect(end).toMatchObject({ state: 'won', resolution: 'decided', invoice: { buyerId: inv.buyerId } });
    expect(await owed(receivable)).toBe(before);
    expect(await owed(brokerDisputesHeld('USD').id)).toBe(0);
    expect(await owed('processor-fees:USD')).toBeGreaterThanOrEqual(d.feeMinor);
    expect(await h.db('seller_credits').sum({ s: 'amount_minor' }).first()).toEqual(sellersBefore);
    // (no merchant to tell: no business events, no payout movement)
    expect(await h.db('events').whereRaw(`data->>'disputeId' = ?`, [d.id]).count().first()).toEqual({ count: '0' });
    expect(await h.db('dispute_movements').where({ dispute_id: d.id }).count().first()).toEqual({ count: '0' });
  });

  it('lost by the deadline: the buyer owes the amount again, and operators are told to collect it', async () => {
    const inv = invoices[1];
    const receivable = buyerReceivable(inv.buyerId, 'USD').id;
    const before = await owed(receivable);
    const d = await disputed(1, { evidenceSeconds: 2 });
    expect(await result(d.id)).toMatchObject({ state: 'lost', resolution: 'deadline' });
    expect(await owed(receivable)).toBe(before + inv.amountMinor);
    expect(await h.db('problems').where({ workflow_id: disputeWorkflowId(d.id), kind: 'period_charge_dispute_lost' }).count().first())
      .toEqual({ count: '1' });
    for (const [currency, total] of await h.ledger.trialBalance()) expect(total, currency).toBe(0n);
  });

  it('cannot be refunded at once (no capture); a notice for a charge the broker never made is a problem', async () => {
    const d = await disputed(2);
    await expect(services.disputes.refund(await row(d.id))).rejects.toMatchObject({ code: 'not_provisioning_failure' });
    await services.disputes.accept(await row(d.id));
    expect(await result(d.id)).toMatchObject({ state: 'lost', resolution: 'accepted' });
    const stray = { ...d, id: uid('dp_stray_'), chargeId: uid('ch_nowhere_') };
    expect(await services.disputes.opened(stray)).toBe('unknown_charge');
    expect(await h.db('problems').where({ kind: 'dispute_unknown_charge', workflow_id: disputeWorkflowId(stray.id) }).count().first()).toEqual({ count: '1' });
  });

  it("a seller's card capture disputed and lost: its next period credit takes the amount and the fee (it has no payouts)", async () => {
    const { hold } = await services.holds.create(sellerId, uid('idem-'), { token: await h.tokenize('4000056655665556'), amountMinor: 5000,
      currency: 'USD', expiresInSeconds: 3600 });
    const captured = await services.holds.capture((await services.holds.hold(hold.id))!, uid('cap-'));
    const capture = await h.db('captures').where({ id: captured.captures[0].id }).first('fee_minor');
    const d = await h.admin.openDispute(captured.captures[0].id, { reason: 'fraudulent' }) as unknown as ProcessorDispute;
    expect(await services.disputes.opened(d)).toBe('opened');
    await services.disputes.accept(await row(d.id));
    expect(await result(d.id)).toMatchObject({ state: 'lost', merchantId: sellerId });
    const closed = await h.closePeriod();
    const seq = periodSeq(closed.periodId)!;
    const credit = await h.db('seller_credits').where({ period_seq: seq, seller_id: sellerId }).first('card_minor');
    expect(Number(credit.card_minor)).toBe(5000 - Number(capture.fee_minor) - 5000 - d.feeMinor);
    expect(await h.db('dispute_movements').where({ dispute_id: d.id }).first('period_seq', 'payout_id')).toEqual({ period_seq: seq, payout_id: null });
  });
});
