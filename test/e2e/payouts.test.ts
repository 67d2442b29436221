// Merchant payouts over HTTP on the real processes, on a database of their own (a scheduled run pays every merchant
// due in its database): two orders captured and one refunded, then the merchant paid now — the payout holds the
// captures, the refund and the reserve, the processor paid it once, and the ledger and the statement agree; a
// refused payout retried by policy, failed into the problems log, and carried into the next one; the minimum; the
// scheduled run by each merchant's schedule.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { accounts, merchantReserve } from '../../ledger/accounts';
import { Ledger } from '../../ledger/ledger';
import type { Stores } from '../../stores';
import { payoutWorkflowId, type PayoutRunWorkflow } from '../../workflows/payout.contract';
import { uid, testDataConverter } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

let svc: Services;
let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let stores: Stores;
let ledger: Ledger;
let connection: Connection;
let client: Client;
let operator: string;

beforeAll(async () => {
  fresh = await freshDatabase();
  stores = fresh.stores;
  ledger = new Ledger(fresh.db);
  svc = await startServices({ DATABASE_URL: fresh.url, PAYBROKER_PAYOUT_RETRY_DELAYS: '100ms, 100ms' });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, dataConverter: testDataConverter() });
  operator = (await stores.principals.create('operator', 'Payouts operator')).apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await connection?.close();
  await fresh?.drop();
});

const ADDRESS = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };

async function merchant(settings: Record<string, unknown> = {}) {
  const r = await call(svc.base, '/merchants', { key: operator, idem: uid('m-'), body: {
    name: 'Payout shop', ...MERCHANT_SETTINGS, payoutDestination: 'acct_shop', ...settings } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id as string, key: r.body.apiKey as string };
}

/** An order of `unitPriceMinor` (no tax: shipped to Oregon; shipping 500) shipped in full: its captured total and the broker's fee on it. */
async function capturedOrder(key: string, unitPriceMinor: number): Promise<{ id: string; total: number; fee: number }> {
  const created = await call(svc.base, '/orders', { key, body: {
    clientOrderId: uid('co-'), customerId: 'c1', items: [{ sku: 'kettle', quantity: 1, unitPriceMinor, kind: 'hard' }],
    shipping: { optionId: 'standard', address: { ...ADDRESS, region: 'OR', city: 'Portland', postalCode: '97201' } },
    payment: { token: await tokenizeCard(svc.processor), billingPostalCode: '97201' },
  } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = created.body.id as string;
  const shipped = await call(svc.base, `/orders/${id}/shipments`, { key, body: { shipmentId: 's1', items: [{ sku: 'kettle', quantity: 1 }], trackingNumber: 'T1' } });
  expect(shipped.status, JSON.stringify(shipped.body)).toBe(200);
  return { id, total: shipped.body.capturedMinor, fee: await feeOf('captures', id) };
}

/** The broker's fee on an order's captures, or the part of it its refunds returned, as the books keep it. */
const feeOf = async (table: 'captures' | 'card_refunds', orderId: string) => {
  const column = table === 'captures' ? 'order_id' : 'capture_id';
  const ids = table === 'captures' ? [orderId] : (await fresh.db('captures').where({ order_id: orderId }).pluck('id'));
  return Number((await fresh.db(table).whereIn(column, ids).sum({ fee: 'fee_minor' }).first())!.fee ?? 0);
};

const payNow = async (key: string, body: Record<string, unknown> = {}) => call(svc.base, '/payouts', { key, idem: uid('po-'), body });
const settled = async (key: string, id: string) => {
  await expect.poll(async () => (await call(svc.base, `/payouts/${id}`, { key })).body.state, { timeout: 30_000, interval: 200 })
    .not.toBe('pending');
  return (await call(svc.base, `/payouts/${id}`, { key })).body;
};
/** What the broker owes the merchant (credit balances are negative in the ledger). */
const owed = async (id: string) => -(await ledger.balance(accounts('USD', id).merchant.id)).amountMinor;

describe('a merchant paid now', () => {
  it('pays its captures less fees and a refund, holds the reserve back, once at the processor; ledger and statement agree', async () => {
    const from = new Date().toISOString();
    const m = await merchant({ reserveBps: 1000, reserveDays: 7 });
    const a = await capturedOrder(m.key, 10_000);
    const b = await capturedOrder(m.key, 4_000);
    const refunded = await call(svc.base, `/orders/${b.id}/refunds`, { key: m.key, body: { refundId: 'r1', kind: 'refund', amountMinor: 1_000 } });
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);

    const made = await payNow(m.key);
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.data).toHaveLength(1);
    const payout = await settled(m.key, made.body.data[0].id);
    // the refund returns its share of the capture's fee
    const refundFee = await feeOf('card_refunds', b.id);
    expect(refundFee).toBeGreaterThan(0);
    const net = a.total + b.total - (a.fee + b.fee - refundFee) - 1_000;
    const held = Math.floor(net / 10);
    expect(payout).toMatchObject({
      object: 'payout', merchantId: m.id, currency: 'USD', state: 'paid', attempts: 1, destination: 'acct_shop',
      capturesMinor: a.total + b.total, feesMinor: a.fee + b.fee - refundFee, refundsMinor: 1_000,
      reserveHeldMinor: held, reserveReleasedMinor: 0, carriedMinor: 0, amountMinor: net - held, balanceTransactionCount: 4,
    });
    expect(payout.balanceTransactions.map((t: { type: string }) => t.type).sort()).toEqual(['capture', 'capture', 'refund', 'reserve_hold']);
    expect(payout.balanceTransactions.reduce((s: number, t: { netMinor: number }) => s + t.netMinor, 0)).toBe(payout.amountMinor);

    // the processor paid it once, the amount the broker says
    const lines = await svc.admin.batchPayoutsByReference(`payout:${payout.id}`);
    expect(lines.map((l) => [l.status, l.amountMinor, l.destination])).toEqual([['paid', payout.amountMinor, 'acct_shop']]);
    // the ledger: nothing more owed on the balance, the reserve held, the whole journal balanced
    expect(await owed(m.id)).toBe(0n);
    expect(-(await ledger.balance(merchantReserve(m.id, 'USD').id)).amountMinor).toBe(BigInt(held));
    for (const [currency, total] of await ledger.trialBalance()) expect(total, currency).toBe(0n);

    const statement = (await call(svc.base, `/merchants/${m.id}/statement?from=${from}&to=${new Date(Date.now() + 1000).toISOString()}`, { key: m.key })).body;
    expect(statement).toMatchObject({
      object: 'merchant_statement', openingBalanceMinor: 0, closingBalanceMinor: 0, openingReserveMinor: 0, closingReserveMinor: held,
      captureCount: 2, capturedMinor: a.total + b.total, refundCount: 1, refundedMinor: 1_000,
      movements: { capturesNetMinor: a.total + b.total - a.fee - b.fee, refundsNetMinor: -(1_000 - refundFee),
        payoutsMinor: -payout.amountMinor, reserveHeldMinor: -held, reserveReleasedMinor: 0, sellerCreditsMinor: 0 },
    });

    // nothing built up since: a second run makes no payout; the lists show the one
    expect((await payNow(m.key)).body.data).toEqual([]);
    // eight days on, the day's run releases the reserve into a payout of its own
    const [released] = await stores.payouts.prepare(m.id, new Date(Date.now() + 8 * 86_400_000), 'eight-days-on');
    expect(released).toMatchObject({ reserveReleasedMinor: held, reserveHeldMinor: 0, amountMinor: held, state: 'pending' });
    await client.workflow.execute('payoutWorkflow', { taskQueue: svc.taskQueue, workflowId: payoutWorkflowId(released.id), args: [{ payoutId: released.id }] });
    const releasedPaid = (await call(svc.base, `/payouts/${released.id}`, { key: m.key })).body;
    expect(releasedPaid).toMatchObject({ state: 'paid', balanceTransactions: [{ type: 'reserve_release', sourceId: payout.id, netMinor: held }] });
    expect((await ledger.balance(merchantReserve(m.id, 'USD').id)).amountMinor).toBe(0n);
    expect(await owed(m.id)).toBe(0n);
    const listed = await call(svc.base, '/payouts?limit=5', { key: m.key });
    expect(listed.body.data.map((p: { id: string }) => p.id)).toEqual([released.id, payout.id]);
    expect((await call(svc.base, `/payouts?merchantId=${m.id}&state=paid`, { key: operator })).body.data).toHaveLength(2);
    const other = await merchant();
    expect((await call(svc.base, `/payouts/${payout.id}`, { key: other.key })).status).toBe(404);
    expect((await call(svc.base, '/payouts', { key: other.key, idem: uid('x-'), body: { merchantId: m.id } })).body.error.code).toBe('parameter_not_allowed');
    expect((await call(svc.base, '/payouts', { key: operator, idem: uid('x-'), body: {} })).body.error.code).toBe('parameter_missing');
    expect((await call(svc.base, '/payouts', { key: operator, idem: uid('x-'), body: { merchantId: 'nobody' } })).status).toBe(404);
  });

  it('a refused payout is tried by policy, then fails into the problems log, and is carried into the next one', async () => {
    const m = await merchant({ payoutDestination: 'fail_closed_account' });
    const a = await capturedOrder(m.key, 2_000);
    const made = await payNow(m.key);
    const failed = await settled(m.key, made.body.data[0].id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 3, failureCode: 'destination_rejected', amountMinor: a.total - a.fee });
    expect(failed.failedAt).not.toBeNull();
    const problems = (await call(svc.base, `/problems?workflowId=${payoutWorkflowId(failed.id)}`, { key: operator })).body.data;
    expect(problems).toMatchObject([{ kind: 'payout_failed', merchantId: m.id, details: { payoutId: failed.id, amountMinor: failed.amountMinor } }]);
    // the money is still owed, and the processor paid nothing
    expect(await owed(m.id)).toBe(BigInt(failed.amountMinor));
    expect((await svc.admin.batchPayoutsByReference(`payout:${failed.id}`)).map((l) => l.status)).toEqual(['failed', 'failed', 'failed']);

    // the merchant fixes its destination; an operator retries from the problems log
    expect((await call(svc.base, `/merchants/${m.id}`, { key: operator, method: 'PATCH', body: { payoutDestination: 'acct_fixed' } })).status).toBe(200);
    const retried = await call(svc.base, `/problems/${problems[0].id}/retry`, { key: operator, method: 'POST' });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body.retry).toMatchObject({ kind: 'payout', payoutIds: [expect.any(String)] });
    expect(retried.body.problem.resolvedAt).not.toBeNull();
    const next = await settled(m.key, retried.body.retry.payoutIds[0]);
    expect(next).toMatchObject({ state: 'paid', carriedMinor: failed.amountMinor, amountMinor: failed.amountMinor, destination: 'acct_fixed' });
    expect(next.balanceTransactions).toMatchObject([{ type: 'carried', sourceId: failed.id, netMinor: failed.amountMinor }]);
    expect((await call(svc.base, `/payouts/${failed.id}`, { key: m.key })).body.carriedInto).toBe(next.id);
    expect(await owed(m.id)).toBe(0n);
    expect((await call(svc.base, `/problems/${problems[0].id}/retry`, { key: operator, method: 'POST' })).body.error.code).toBe('already_retried');
  });

  it('below the minimum nothing is sent: the amount is carried until a payout reaches it', async () => {
    const m = await merchant({ payoutMinimumMinor: 5_000 });
    const a = await capturedOrder(m.key, 2_000);
    const first = (await payNow(m.key)).body.data[0];
    expect(first).toMatchObject({ state: 'carried', amountMinor: a.total - a.fee });
    // what a payout still carries is paid before the merchant may become a micro-payment seller
    const becomeSeller = () => call(svc.base, '/sellers', { key: operator, idem: uid('s-'), body: { merchantId: m.id, payoutDestination: 'acct_s', feeBps: 100 } });
    expect((await becomeSeller()).body.error).toMatchObject({ code: 'payouts_outstanding' });
    const b = await capturedOrder(m.key, 3_000);
    const second = await settled(m.key, (await payNow(m.key)).body.data[0].id);
    expect(second).toMatchObject({ state: 'paid', carriedMinor: first.amountMinor, amountMinor: a.total + b.total - a.fee - b.fee });
    expect(await owed(m.id)).toBe(0n);
    expect((await becomeSeller()).status).toBe(201);
  });

  it('a micro-payment seller is paid with its period credits', async () => {
    const m = await merchant();
    const seller = await call(svc.base, '/sellers', { key: operator, idem: uid('s-'), body: { merchantId: m.id, payoutDestination: 'acct_s', feeBps: 100 } });
    expect(seller.status, JSON.stringify(seller.body)).toBe(201);
    const r = await payNow(m.key);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('paid_with_seller_credits');
  });
});

describe('the scheduled run', () => {
  it("pays the merchants due that day by their schedule, once however often it runs", async () => {
    const today = new Date();
    const daily = await merchant();
    const manual = await merchant({ payoutSchedule: { interval: 'manual' } });
    const weeklyToday = await merchant({ payoutSchedule: { interval: 'weekly', weeklyAnchor: today.getUTCDay() } });
    const weeklyNot = await merchant({ payoutSchedule: { interval: 'weekly', weeklyAnchor: (today.getUTCDay() + 1) % 7 } });
    for (const m of [daily, manual, weeklyToday, weeklyNot]) await capturedOrder(m.key, 1_000);
    const cutoff = new Date().toISOString();
    const run = () => client.workflow.execute<PayoutRunWorkflow>('payoutRunWorkflow', {
      taskQueue: svc.taskQueue, workflowId: uid('payout-run-'), args: [{ cutoff, retryDelaysMs: [100] }],
    });
    const first = await run();
    expect(first.periodKey).toBe(cutoff.slice(0, 10));
    const paid = async (m: { id: string; key: string }) => {
      const [p] = (await call(svc.base, '/payouts', { key: m.key })).body.data;
      return p && (await settled(m.key, p.id)).state;
    };
    expect(await paid(daily)).toBe('paid');
    expect(await paid(weeklyToday)).toBe('paid');
    expect(await paid(manual)).toBeUndefined();
    expect(await paid(weeklyNot)).toBeUndefined();
    const again = await run();
    expect(again.payoutsStarted).toBe(0);
    expect((await call(svc.base, `/payouts?merchantId=${daily.id}`, { key: operator })).body.data).toHaveLength(1);
  });
});
