// A card order's life over HTTP: API process → worker process → simulator process → PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { settlementScheduleId } from '../../workflows/settlementBatch.contract';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { orderLedger } from '../support/orders';
import { startServices, type Services } from '../support/services';
import { tokenizeCard } from '../support/processor-calls';

let db: Db;
let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;
let operator: string;
let merchant: { id: string; key: string };
let other: { id: string; key: string };

beforeAll(async () => {
  ({ db, stores, close: closeDb } = testDatabase(2));
  svc = await startServices();
  operator = (await stores.principals.create('operator', 'e2e operator')).apiKey;
  const make = async (name: string) => {
    const r = await call(svc.base, '/merchants', { key: operator, idem: uid(), body: { name, ...MERCHANT_SETTINGS } });
    expect(r.status).toBe(201);
    return { id: r.body.id as string, key: r.body.apiKey as string };
  };
  merchant = await make('E2E shop');
  other = await make('Other shop');
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

const token = () => tokenizeCard(svc.processor);

const orderBody = async (clientOrderId = uid('co-')) => ({
  clientOrderId, customerId: 'cust-42',
  items: [{ sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' }, { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' }],
  shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' } },
  payment: { token: await token(), billingPostalCode: '94107' },
});

describe('an order through its life over HTTP', () => {
  it('creates, authorizes, ships in two, refunds, and is batched for settlement', async () => {
    const created = await call(svc.base, '/orders', { key: merchant.key, body: await orderBody() });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'order', state: 'authorized_plus_avs', currency: 'USD', totalMinor: 9650 });
    const id = created.body.id as string;

    const got = await call(svc.base, `/orders/${id}`, { key: merchant.key });
    expect(got.body.authorizations).toHaveLength(1);

    const s1 = await call(svc.base, `/orders/${id}/shipments`, { key: merchant.key, idem: 's1',
      body: { items: [{ sku: 'book', quantity: 2 }], trackingNumber: 'TRK1' } });
    expect(s1.status).toBe(200);
    expect(s1.body).toMatchObject({ state: 'partially_shipped', capturedMinor: 4824 });
    const s2 = await call(svc.base, `/orders/${id}/shipments`, { key: merchant.key,
      body: { shipmentId: 's2', items: [{ sku: 'lamp', quantity: 1 }], trackingNumber: 'TRK2' } });
    expect(s2.body).toMatchObject({ state: 'shipped', capturedMinor: 9650 });

    const refund = await call(svc.base, `/orders/${id}/refunds`, { key: merchant.key, idem: 'r1', body: { amountMinor: 650 } });
    expect(refund.body).toMatchObject({ state: 'partially_refunded', refundedMinor: 650 });
    const over = await call(svc.base, `/orders/${id}/refunds`, { key: merchant.key, idem: 'r2', body: { amountMinor: 9001 } });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe('over_refund');

    expect(await orderLedger(db, id)).toMatchObject({ captured: 9000n, sum: 0n });

    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      await new Client({ connection, dataConverter: testDataConverter() }).schedule.getHandle(settlementScheduleId(svc.taskQueue)).trigger();
    } finally {
      await connection.close();
    }
    await expect.poll(async () => (await call(svc.base, `/orders/${id}`, { key: merchant.key })).body.captures
      .map((c: { batchId: string | null }) => c.batchId !== null), { timeout: 20_000 }).toEqual([true, true]);
  });

  it('five identical POSTs at once make one order and one authorization', async () => {
    const body = await orderBody();
    const replies = await Promise.all(Array.from({ length: 5 }, () => call(svc.base, '/orders', { key: merchant.key, body })));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    const ids = new Set(replies.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    expect(await db('orders').where({ id }).count({ n: '*' }).first()).toEqual({ n: '1' });
    expect(await svc.admin.authorizationsByReference(id as string)).toHaveLength(1);
  });

  it('a repeat with its keys in another order is the same request', async () => {
    const body = await orderBody();
    expect((await call(svc.base, '/orders', { key: merchant.key, body })).status).toBe(201);
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const repeat = await call(svc.base, '/orders', { key: merchant.key, body: reordered });
    expect(repeat.status).toBe(200);
    expect(await svc.admin.authorizationsByReference(repeat.body.id as string)).toHaveLength(1);
  });

  it('a repeat after its workflow is gone (past retention) answers from the order kept, authorizing nothing again', async () => {
    const body = await orderBody();
    const first = await call(svc.base, '/orders', { key: merchant.key, body });
    expect(first.status).toBe(201);
    const id = first.body.id as string;
    await expect.poll(async () => (await db('orders').where({ id }).first('view')).view?.state).toBe('authorized_plus_avs');
    // what the server's retention does to a closed workflow, done now: its history is deleted
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection, dataConverter: testDataConverter() });
      await client.workflow.getHandle(id).terminate('the test plays retention');
      await client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: id } });
      await expect.poll(() => client.workflow.getHandle(id).describe().then(() => 'there', () => 'gone'), { timeout: 60_000, interval: 500 })
        .toBe('gone');
      const repeat = await call(svc.base, '/orders', { key: merchant.key, body });
      expect(repeat.status).toBe(200);
      expect(repeat.body).toMatchObject({ id, state: 'authorized_plus_avs' });
      expect(await svc.admin.authorizationsByReference(id)).toHaveLength(1);
      expect(await client.workflow.getHandle(id).describe().then(() => 'started again', () => 'none')).toBe('none');
    } finally {
      await connection.close();
    }
  }, 90_000);

  it('refuses a reused client order id with another body, and bad input, writing nothing', async () => {
    const body = await orderBody();
    expect((await call(svc.base, '/orders', { key: merchant.key, body })).status).toBe(201);
    const changed = await call(svc.base, '/orders', { key: merchant.key, body: { ...body, customerId: 'someone-else' } });
    expect(changed.status).toBe(422);
    expect(changed.body.error.code).toBe('client_order_id_reused');

    const count = async () => Number((await db('orders').count({ n: '*' }).first())!.n);
    const before = await count();
    const bad = async (b: object) => (await call(svc.base, '/orders', { key: merchant.key, body: b })).body.error;
    expect(await bad({ ...(await orderBody()), shipping: { ...body.shipping, optionId: 'teleport' } }))
      .toMatchObject({ code: 'unknown_shipping_option', param: 'shipping.optionId' });
    const { clientOrderId: _omit, ...noId } = await orderBody();
    expect(await bad(noId)).toMatchObject({ code: 'parameter_missing', param: 'clientOrderId' });
    expect(await bad({ ...(await orderBody()), items: [] })).toMatchObject({ code: 'parameter_invalid', param: 'items' });
    expect(await bad({ ...(await orderBody()), coupon: 'FREE' })).toMatchObject({ code: 'unknown_parameter' });
    expect(await count()).toBe(before);
  });

  it('shows an order to its merchant and operators only; only operators review, only merchants ship', async () => {
    const created = await call(svc.base, '/orders', { key: merchant.key, body: await orderBody() });
    const id = created.body.id;
    expect((await call(svc.base, `/orders/${id}`, { key: other.key })).status).toBe(404);
    expect((await call(svc.base, `/orders/${id}`, { key: operator })).status).toBe(200);
    expect((await call(svc.base, `/orders/${id}/shipments`, { key: other.key, idem: 'x',
      body: { items: [{ sku: 'lamp', quantity: 1 }], trackingNumber: 'T' } })).status).toBe(404);
    expect((await call(svc.base, `/orders/${id}/review`, { key: merchant.key, body: { decision: 'approve' } })).status).toBe(403);
    const review = await call(svc.base, `/orders/${id}/review`, { key: operator, body: { decision: 'approve' } });
    expect(review.status).toBe(422);
    expect(review.body.error.code).toBe('not_in_review');
  });

  it('cancels before capture, and refuses shipping a cancelled order', async () => {
    const id = (await call(svc.base, '/orders', { key: merchant.key, body: await orderBody() })).body.id;
    const cancelled = await call(svc.base, `/orders/${id}/cancel`, { key: merchant.key, method: 'POST' });
    expect(cancelled.body.state).toBe('voided');
    const ship = await call(svc.base, `/orders/${id}/shipments`, { key: merchant.key, idem: 'late',
      body: { items: [{ sku: 'lamp', quantity: 1 }], trackingNumber: 'T' } });
    expect([409, 422]).toContain(ship.status);
  });

  it('lists problems for operators only', async () => {
    expect((await call(svc.base, '/problems', { key: merchant.key })).status).toBe(403);
    const r = await call(svc.base, '/problems?limit=5', { key: operator });
    expect(r.status).toBe(200);
    expect(r.body.object).toBe('list');
    expect((await call(svc.base, '/problems?limit=0', { key: operator })).body.error.code).toBe('parameter_invalid');
  });
});
