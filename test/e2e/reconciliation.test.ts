// Reconciliation on the real processes, on a database of their own (the processor's records and the ledger of this
// file's orders only): a day whose records agree reconciles clean; then the processor records a capture the ledger
// never saw, loses one the ledger has, and changes the amount of another — and a second run reports each, with both
// records attached; once one is put right, a third run resolves its problem.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconciliationWorkflowId } from '../../workflows/reconciliation.contract';
import { uid } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

let svc: Services;
let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let operator: string;
let merchant: string;

beforeAll(async () => {
  fresh = await freshDatabase();
  svc = await startServices({ DATABASE_URL: fresh.url });
  operator = (await fresh.stores.principals.create('operator', 'Reconciling operator')).apiKey;
  merchant = (await fresh.stores.merchants.create('Reconciled shop', { ...MERCHANT_SETTINGS, payoutDestination: 'acct_r' })).apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await fresh?.drop();
});

async function capturedOrder(unitPriceMinor: number): Promise<{ id: string; captureId: string }> {
  const created = await call(svc.base, '/orders', { key: merchant, body: {
    clientOrderId: uid('co-'), customerId: 'c1', items: [{ sku: 'kettle', quantity: 1, unitPriceMinor, kind: 'hard' }],
    shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'Portland', region: 'OR', postalCode: '97201', country: 'US' } },
    payment: { token: await tokenizeCard(svc.processor), billingPostalCode: '97201' },
  } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const shipped = await call(svc.base, `/orders/${created.body.id}/shipments`, { key: merchant,
    body: { shipmentId: 's1', items: [{ sku: 'kettle', quantity: 1 }], trackingNumber: 'T1' } });
  expect(shipped.status, JSON.stringify(shipped.body)).toBe(200);
  const [captureId] = await fresh.db('captures').where({ order_id: created.body.id }).pluck('id');
  return { id: created.body.id, captureId };
}

const today = () => new Date().toISOString().slice(0, 10);

async function reconcile(day: string) {
  const run = await call(svc.base, '/reconciliations', { key: operator, idem: uid('rec-'), body: { day } });
  expect(run.status, JSON.stringify(run.body)).toBe(202);
  expect(run.body).toMatchObject({ object: 'reconciliation_run', day, started: true, workflowId: reconciliationWorkflowId(svc.taskQueue, day) });
  await expect.poll(async () => (await call(svc.base, `/reconciliations/${day}`, { key: operator })).body.state, { timeout: 30_000, interval: 200 })
    .toBe('done');
  return { ...(await call(svc.base, `/reconciliations/${day}`, { key: operator })).body, workflowId: run.body.workflowId as string };
}

describe('reconciling a day', () => {
  it('finds nothing when both sides agree, then reports each record missing on one side or with another amount', async () => {
    const a = await capturedOrder(3_000);
    const b = await capturedOrder(4_000);
    const c = await capturedOrder(5_000);
    expect((await call(svc.base, `/orders/${a.id}/refunds`, { key: merchant, body: { refundId: 'r1', kind: 'refund', amountMinor: 700 } })).status).toBe(200);
    const payout = (await call(svc.base, '/payouts', { key: merchant, idem: uid('po-'), body: {} })).body.data[0];
    await expect.poll(async () => (await call(svc.base, `/payouts/${payout.id}`, { key: merchant })).body.state, { timeout: 30_000 }).toBe('paid');

    // 3 captures, 1 refund, 1 payout on each side
    const clean = await reconcile(today());
    expect(clean).toMatchObject({ object: 'reconciliation', id: today(), processorRecords: 5, ledgerRecords: 5, mismatches: 0 });
    expect((await call(svc.base, `/problems?workflowId=${clean.workflowId}`, { key: operator })).body.data).toEqual([]);

    // the processor records a capture the broker never asked for (so the ledger never saw it) ...
    const auth = await svc.processor.authorize({ token: await tokenizeCard(svc.processor), amountMinor: 1_234, currency: 'USD',
      postalCode: '97201', reference: 'not-the-brokers' }, uid('auth-'));
    const stray = await svc.processor.capture(auth.id, 1_234, uid('cap-'));
    // ... loses a capture the ledger has, and records another with a different amount
    await svc.admin.tamper(b.captureId, { drop: true });
    await svc.admin.tamper(c.captureId, { amountMinor: 4_999 });

    const dirty = await reconcile(today());
    expect(dirty).toMatchObject({ processorRecords: 5, ledgerRecords: 5, mismatches: 3 });
    const problems = (await call(svc.base, `/problems?workflowId=${dirty.workflowId}&limit=10`, { key: operator })).body.data;
    const byRecord = Object.fromEntries(problems.map((p: { details: { key: string } }) => [p.details.key, p]));
    expect(Object.keys(byRecord).sort()).toEqual([b.captureId, c.captureId, stray.id].sort());
    expect(byRecord[stray.id]).toMatchObject({ kind: 'reconciliation_mismatch', resolvedAt: null, details: { day: today(), reason: 'missing_in_ledger',
      processor: { id: stray.id, kind: 'capture', amountMinor: 1_234, currency: 'USD' }, ledger: null } });
    expect(byRecord[b.captureId].details).toMatchObject({ reason: 'missing_at_processor', processor: null,
      ledger: { id: b.captureId, kind: 'capture', currency: 'USD' } });
    const cLedger = await fresh.db('captures').where({ id: c.captureId }).first('amount_minor');
    expect(byRecord[c.captureId].details).toMatchObject({ reason: 'amount_differs', processor: { amountMinor: 4_999 },
      ledger: { amountMinor: Number(cLedger.amount_minor) } });

    // the processor's amount put right: a run again reports the two left, once each, and resolves the third
    await svc.admin.tamper(c.captureId, { amountMinor: Number(cLedger.amount_minor) });
    expect((await reconcile(today())).mismatches).toBe(2);
    const after = (await call(svc.base, `/problems?workflowId=${dirty.workflowId}&limit=10`, { key: operator })).body.data;
    expect(after).toHaveLength(3);
    expect(after.find((p: { details: { key: string } }) => p.details.key === c.captureId))
      .toMatchObject({ resolvedBy: 'reconciliation', resolutionNote: `Not found again by the reconciliation of ${today()}` });
    expect(after.filter((p: { resolvedAt: string | null }) => p.resolvedAt === null)).toHaveLength(2);
    // bad days are refused
    expect((await call(svc.base, '/reconciliations', { key: operator, idem: uid('x-'), body: { day: '2026-02-30' } })).body.error.code).toBe('parameter_invalid');
    expect((await call(svc.base, '/reconciliations', { key: operator, idem: uid('x-'), body: { day: '2999-01-01' } })).status).toBe(422);
    expect((await call(svc.base, '/reconciliations', { key: merchant, idem: uid('x-'), body: {} })).status).toBe(403);
    expect((await call(svc.base, '/reconciliations/2026-02-30', { key: operator })).status).toBe(404);
    expect((await call(svc.base, '/reconciliations?limit=1', { key: operator })).body.data).toMatchObject([{ id: today() }]);
  });
});
