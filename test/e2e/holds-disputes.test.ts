// Holds, disputes and issuer assistance over HTTP with the real processes (API, worker, processor simulator playing the
// issuer and sending its signed webhooks to this API, PostgreSQL, Temporal). A hold is placed, partly captured and
// released; one above the balance is declined; a dispute opened by the processor on an order's capture reaches the
// merchant, shows on the order, is won with evidence (the webhook closes it) with the balance moving right; forged and
// repeated webhooks change nothing; loyalty rewards, provisioning failures and line items reach the issuer.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureFeeMinor } from '../../processors/simulator/fees';
import { signProcessorWebhook } from '../../processors/webhookSignature';
import type { Stores } from '../../stores';
import type { Db } from '../../ledger/db';
import { testDatabase, uid, webUiLines } from '../support/env';
import { formatMoney } from '../../domain/money';
import { disputeWorkflowId } from '../../workflows/dispute.contract';
import { holdWorkflowId } from '../../workflows/hold.contract';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';
import { loadConfig } from '../../config';

let stores: Stores;
let db: Db;
let closeDb: () => Promise<void>;
let svc: Services;

beforeAll(async () => {
  ({ stores, db, close: closeDb } = testDatabase(2));
  svc = await startServices({}, { logDir: process.env.E2E_LOG_DIR });
  // (decisions a moment after evidence)
  await svc.admin.setConfig({ disputeDecisionDelayMs: 500 });
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

const settle = { timeout: 30_000, interval: 100 };
const DEBIT = '4000056655665556';
const PREPAID = '5105105105105100';
const SECRET = loadConfig({}).processorWebhooks.secret;

async function merchant(settings: Record<string, unknown> = {}) {
  const { merchant: m, apiKey } = await stores.merchants.create(`Games ${uid()}`, { ...MERCHANT_SETTINGS, ...settings });
  return { id: m.id, key: apiKey };
}
/** What the merchant is owed on its payable account (its balance), from the ledger. */
async function balance(merchantId: string): Promise<number> {
  const r = await db('postings').where({ account_id: `merchant-payable:${merchantId}:USD` }).sum({ s: 'amount_minor' }).first();
  return 0 - Number(r?.s ?? 0);
}
async function softOrder(key: string, unitPriceMinor = 4999, card?: string) {
  const token = await tokenizeCard(svc.processor, card);
  const res = await call(svc.base, '/orders', { key, idem: uid('co-'), body: {
    customerId: uid('cus-'), items: [{ sku: 'game-key', description: 'Game licence key', quantity: 1, unitPriceMinor, kind: 'soft' }],
    payment: { token, billingPostalCode: '94107', billingCountry: 'US' } } });
  expect(res.status).toBe(201);
  return vi.waitFor(async () => {
    const o = (await call(svc.base, `/orders/${res.body.id}`, { key })).body;
    expect(o.captures).toHaveLength(1);
    return o;
  }, settle);
}

describe('holds over HTTP', () => {
  it('a hold placed, captured in part twice, the rest released; listed; a capture beyond it refused', async () => {
    const m = await merchant();
    const token = await tokenizeCard(svc.processor, DEBIT);
    const placed = await call(svc.base, '/holds', { key: m.key, idem: uid('h-'), body: { token, amountMinor: 20_000, expiresInSeconds: 3600 } });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ object: 'hold', state: 'active', amountMinor: 20_000, currency: 'USD' });
    const id = placed.body.id;
    expect((await svc.processor.balance(token)).availableMinor).toBe(30_000);
    const one = await call(svc.base, `/holds/${id}/capture`, { key: m.key, idem: uid('c-'), body: { amountMinor: 6000 } });
    expect(one).toMatchObject({ status: 200, body: { capturedMinor: 6000 } });
    // the Web UI's lines for it: its summary, and what it has done and waits for
    expect(await webUiLines(holdWorkflowId(id))).toEqual({ summary: `Hold ${id} of ${m.id}: $200.00 for up to 3600 s`,
      details: `active: $60.00 of $200.00 captured; releases itself at ${placed.body.expiresAt}` });
    const over = await call(svc.base, `/holds/${id}/capture`, { key: m.key, idem: uid('c-'), body: { amountMinor: 14_001 } });
    expect(over).toMatchObject({ status: 409, body: { error: { code: 'over_capture' } } });
    const two = await call(svc.base, `/holds/${id}/capture`, { key: m.key, idem: uid('c-'), body: { amountMinor: 4000 } });
    expect(two.body.captures.map((c: { amountMinor: number }) => c.amountMinor)).toEqual([6000, 4000]);
    const released = await call(svc.base, `/holds/${id}/release`, { key: m.key, idem: uid('r-'), method: 'POST' });
    expect(released.body).toMatchObject({ state: 'released', capturedMinor: 10_000, releasedMinor: 10_000 });
    expect((await svc.processor.balance(token)).availableMinor).toBe(40_000);
    const again = await call(svc.base, `/holds/${id}/capture`, { key: m.key, idem: uid('c-'), body: { amountMinor: 1 } });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'hold_not_active' } } });
    const list = await call(svc.base, '/holds', { key: m.key });
    expect(list.body.data.map((h: { id: string }) => h.id)).toEqual([id]);
    expect(await balance(m.id)).toBe(10_000 - 250);
  });

  it('a hold above the balance is declined insufficient_funds and reserves nothing; bad input is a clear 4xx', async () => {
    const m = await merchant();
    const token = await tokenizeCard(svc.processor, PREPAID);
    const declined = await call(svc.base, '/holds', { key: m.key, idem: uid('h-'), body: { token, amountMinor: 10_001, expiresInSeconds: 3600 } });
    expect(declined).toMatchObject({ status: 201, body: { state: 'declined', failure: { code: 'insufficient_funds' }, reservationId: null } });
    expect((await svc.processor.balance(token)).availableMinor).toBe(10_000);
    const tooLong = await call(svc.base, '/holds', { key: m.key, idem: uid('h-'), body: { token, amountMinor: 100, expiresInSeconds: 7 * 86_400 + 1 } });
    expect(tooLong.status).toBe(400);
    const noKey = await call(svc.base, '/holds', { key: m.key, body: { token, amountMinor: 100 } });
    expect(noKey.status).toBe(400);
    const unknown = await call(svc.base, '/holds/hold_nope/capture', { key: m.key, idem: uid('c-'), body: {} });
    expect(unknown).toMatchObject({ status: 404 });
  });
});

describe('disputes over HTTP', () => {
  it('a dispute on an order: the merchant hears of it, the order needs attention, evidence wins it, the balance follows', async () => {
    const m = await merchant();
    const order = await softOrder(m.key);
    const captured = await balance(m.id);
    const dispute = await svc.admin.openDispute(order.captures[0].id, { reason: 'product_not_received' });
    const opened = await vi.waitFor(async () => {
      const d = await call(svc.base, `/disputes/${dispute.id}`, { key: m.key });
      expect(d.body.state).toBe('needs_response');
      return d.body;
    }, settle);
    expect(opened).toMatchObject({ orderId: order.id, amountMinor: order.capturedMinor, feeMinor: dispute.feeMinor, reason: 'product_not_received' });
    expect(await webUiLines(disputeWorkflowId(dispute.id))).toEqual({ summary: `Dispute ${dispute.id} of order ${order.id}`,
      details: `needs_response: ${formatMoney(order.capturedMinor, 'USD')}, product_not_received; evidence due by ${opened.evidenceDueBy}` });
    await vi.waitFor(async () => expect(await balance(m.id)).toBe(captured - order.capturedMinor - dispute.feeMinor), settle);
    const shown = (await call(svc.base, `/orders/${order.id}`, { key: m.key })).body;
    expect(shown).toMatchObject({ needsAttention: true, disputes: [{ id: dispute.id, state: 'needs_response' }] });
    expect(shown.attentionReasons).toContain('dispute');

    const drafted = await call(svc.base, `/disputes/${dispute.id}/evidence`, { key: m.key, body: { provisioningLog: 'key GAME-123 delivered 12:00Z' } });
    expect(drafted.body.evidence).toEqual({ provisioningLog: 'key GAME-123 delivered 12:00Z' });
    const tooLarge = await call(svc.base, `/disputes/${dispute.id}/evidence`, { key: m.key, body: { uncategorized: 'x'.repeat(20_001) } });
    expect(tooLarge.status).toBe(400);
    const submitted = await call(svc.base, `/disputes/${dispute.id}/evidence`, { key: m.key, body: { customerCommunication: 'Thanks, it works!', submit: true } });
    expect(submitted.body).toMatchObject({ state: 'under_review' });
    const closed = await vi.waitFor(async () => {
      const d = await call(svc.base, `/disputes/${dispute.id}`, { key: m.key });
      expect(d.body.state).toBe('won');
      return d.body;
    }, settle);
    expect(closed).toMatchObject({ resolution: 'decided', feeChargedMinor: dispute.feeMinor });
    expect(await balance(m.id)).toBe(captured - dispute.feeMinor);
    expect((await call(svc.base, `/orders/${order.id}`, { key: m.key })).body).toMatchObject({ needsAttention: false, disputes: [{ state: 'won' }] });
    const late = await call(svc.base, `/disputes/${dispute.id}/evidence`, { key: m.key, body: { uncategorized: 'more' } });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'dispute_not_open' } } });
    expect(await db('events').whereRaw(`data->>'disputeId' = ?`, [dispute.id]).orderBy('created_at').pluck('type'))
      .toEqual(['dispute.created', 'dispute.closed']);
  });

  it('refuses unsigned and forged processor webhooks (nothing changes); a repeated signed notice is one dispute', async () => {
    const m = await merchant();
    const order = await softOrder(m.key, 1500);
    const dispute = await svc.admin.openDispute(order.captures[0].id, { reason: 'fraudulent' });
    await vi.waitFor(async () => expect((await call(svc.base, `/disputes/${dispute.id}`, { key: m.key })).status).toBe(200), settle);
    const body = JSON.stringify({ id: `evt_${uid()}`, type: 'dispute.created', createdAt: new Date().toISOString(), data: { object: { ...dispute, id: `dp_${uid()}` } } });
    const post = (headers: Record<string, string>) => fetch(`${svc.base}/processor/webhooks`, { method: 'POST', body,
      headers: { 'content-type': 'application/json', ...headers } });
    expect((await post({})).status).toBe(401);
    expect((await post(signProcessorWebhook('not-the-secret', 'evt_1', body, Date.now()))).status).toBe(401);
    expect((await post(signProcessorWebhook(SECRET, 'evt_2', body, Date.now() - 3600_000))).status).toBe(401);
    const forgedId = JSON.parse(body).data.object.id;
    expect((await call(svc.base, `/disputes/${forgedId}`, { key: m.key })).status).toBe(404);
    // the real notice, signed, twice (a redelivery): one dispute, one withdrawal
    const real = JSON.stringify({ id: `evt_${uid()}`, type: 'dispute.created', createdAt: new Date().toISOString(), data: { object: dispute } });
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${svc.base}/processor/webhooks`, { method: 'POST', body: real,
        headers: { 'content-type': 'application/json', ...signProcessorWebhook(SECRET, 'evt_real', real, Date.now()) } });
      expect(r.status).toBe(200);
    }
    const list = await call(svc.base, '/disputes', { key: m.key });
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([dispute.id]);
    const accepted = await call(svc.base, `/disputes/${dispute.id}/accept`, { key: m.key, method: 'POST' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body).toMatchObject({ state: 'lost', resolution: 'accepted' });
  });
});

describe('issuer assistance over HTTP', () => {
  it('a loyalty reward is forwarded to the issuer once and listed on the order', async () => {
    const m = await merchant();
    const order = await softOrder(m.key);
    const idem = uid('loy-');
    const made = await call(svc.base, `/orders/${order.id}/loyalty`, { key: m.key, idem, body: { program: 'gold-club', points: 250 } });
    expect(made).toMatchObject({ status: 201, body: { object: 'loyalty_reward', captureId: order.captures[0].id, program: 'gold-club', points: 250 } });
    const replay = await call(svc.base, `/orders/${order.id}/loyalty`, { key: m.key, idem, body: { program: 'gold-club', points: 250 } });
    expect(replay.body.id).toBe(made.body.id);
    expect(await svc.processor.getTransaction(made.body.id)).toMatchObject({ captureId: order.captures[0].id, points: 250 });
    expect((await call(svc.base, `/orders/${order.id}`, { key: m.key })).body.loyalty).toEqual([expect.objectContaining({ id: made.body.id, points: 250 })]);
  });

  it('a provisioning failure refunds the customer and tells the issuer, before any dispute', async () => {
    const m = await merchant();
    const order = await softOrder(m.key);
    const res = await call(svc.base, `/orders/${order.id}/provisioning-failure`, { key: m.key, idem: uid('pf-'), method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ refundedMinor: order.capturedMinor });
    const again = await call(svc.base, `/orders/${order.id}/provisioning-failure`, { key: m.key, idem: uid('pf-'), method: 'POST' });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'nothing_to_refund' } } });
    // (the issuer heard of it once, for the capture refunded)
    expect(await db('processor_sim.provisioning_failures').where({ capture_id: order.captures[0].id }).count().first()).toEqual({ count: '1' });
    expect(await svc.processor.getTransaction(order.captures[0].id)).toMatchObject({ refundedMinor: order.capturedMinor });
  });

  it("line items go to the issuer where the merchant opts in, and the ledger records the processor's lower fee", async () => {
    const m = await merchant({ shareLineItems: true });
    const order = await softOrder(m.key, 10_000);
    const capture = await svc.processor.getTransaction(order.captures[0].id) as { lineItems?: Array<{ productCode: string }>; feeMinor: number };
    expect(capture.lineItems?.[0]).toMatchObject({ productCode: 'game-key' });
    expect(capture.feeMinor).toBe(captureFeeMinor(order.capturedMinor, true));
    expect(capture.feeMinor).toBeLessThan(captureFeeMinor(order.capturedMinor, false));
    const plain = await merchant();
    const other = await softOrder(plain.key, 10_000);
    const without = await svc.processor.getTransaction(other.captures[0].id) as { lineItems?: unknown; feeMinor: number };
    expect(without.lineItems).toBeUndefined();
    expect(without.feeMinor).toBe(captureFeeMinor(other.capturedMinor, false));
  });
});
