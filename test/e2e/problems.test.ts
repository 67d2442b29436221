// The operator's loop over HTTP: an order's capture fails at the processor (its authorization was voided behind the
// broker's back), the order asks for attention (a problem, needsAttention, the NeedsAttention search attribute), an
// operator resolves the problem with a note, and the order stops asking.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NeedsAttention } from '../../workflows/searchAttributes';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

const { stores, close } = testDatabase(2);
let svc: Services;
let connection: Connection;
let client: Client;
let operator: string;
let merchant: string;

beforeAll(async () => {
  svc = await startServices({ PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true' });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, dataConverter: testDataConverter() });
  operator = (await stores.principals.create('operator', 'Problems operator')).apiKey;
  merchant = (await stores.merchants.create('Problems shop', MERCHANT_SETTINGS)).apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await connection?.close();
  await close();
});

const attentionOf = async (id: string) => (await client.workflow.getHandle(id).describe()).typedSearchAttributes.get(NeedsAttention);

describe('resolving a problem', () => {
  it('clears the order\'s attention once its last open problem of the kind is resolved; a repeat keeps the first resolution', async () => {
    const created = await call(svc.base, '/orders', { key: merchant, body: {
      clientOrderId: uid('co-'), customerId: 'c1', items: [{ sku: 'kettle', quantity: 1, unitPriceMinor: 3000, kind: 'hard' }],
      shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' } },
      payment: { token: await tokenizeCard(svc.processor), billingPostalCode: '94107' },
    } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // the authorization voided at the processor behind the broker's back: the capture is refused
    await svc.processor.void(created.body.authorizations[0].id, uid('behind-'));
    const ship = await call(svc.base, `/orders/${id}/shipments`, { key: merchant, idem: 's1',
      body: { items: [{ sku: 'kettle', quantity: 1 }], trackingNumber: 'T1' } });
    expect(ship.status, JSON.stringify(ship.body)).toBe(422);
    expect((await call(svc.base, `/orders/${id}`, { key: merchant })).body).toMatchObject({ needsAttention: true, attentionReasons: ['capture_failed'] });
    expect(await attentionOf(id)).toBe(true);
    const [problem] = (await call(svc.base, `/problems?workflowId=${id}`, { key: operator })).body.data;
    expect(problem).toMatchObject({ kind: 'capture_failed', resolvedAt: null, resolvedBy: null, resolutionNote: null });

    // only operators, only problems that exist, only with a note
    const path = `/problems/${problem.id}/resolve`;
    expect((await call(svc.base, path, { key: merchant, body: { note: 'x' } })).status).toBe(403);
    expect((await call(svc.base, '/problems/999999999/resolve', { key: operator, body: { note: 'x' } })).status).toBe(404);
    expect((await call(svc.base, '/problems/not-a-number/resolve', { key: operator, body: { note: 'x' } })).status).toBe(404);
    expect((await call(svc.base, path, { key: operator, body: { note: ' ' } })).body.error).toMatchObject({ code: 'parameter_invalid', param: 'note' });

    const resolved = await call(svc.base, path, { key: operator, body: { note: 'Captured by hand at the processor' } });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ id: problem.id, resolutionNote: 'Captured by hand at the processor' });
    expect(resolved.body.resolvedAt).not.toBeNull();
    const order = (await call(svc.base, `/orders/${id}`, { key: merchant })).body;
    expect(order).toMatchObject({ needsAttention: false, attentionReasons: [] });
    expect(await attentionOf(id)).toBe(false);
    await expect.poll(async () => (await stores.orders.get(id))?.view?.needsAttention).toBe(false);

    const again = await call(svc.base, path, { key: operator, body: { note: 'another note' } });
    expect(again.body).toMatchObject({ resolvedAt: resolved.body.resolvedAt, resolutionNote: 'Captured by hand at the processor' });
    expect((await call(svc.base, `/problems?workflowId=${id}&open=true`, { key: operator })).body.data).toEqual([]);
  });

  it('the same failure again opens a resolved problem again; another key is another problem', async () => {
    const workflowId = uid('wf-');
    const p = { workflowId, merchantId: null, kind: 'payout_failed', message: 'first', details: { key: 'seller-1' } };
    await stores.problems.record(p);
    await stores.problems.record(p); // a repeated step: still one
    const [first] = (await stores.problems.list({ limit: 10, workflowId })).data;
    expect(await stores.problems.hasOpen(workflowId, 'payout_failed')).toBe(true);
    expect(await stores.problems.resolve(first.id, 'op', 'paid by hand')).toMatchObject({ resolvedBy: 'op', resolutionNote: 'paid by hand' });
    expect(await stores.problems.hasOpen(workflowId, 'payout_failed')).toBe(false);

    await stores.problems.record({ ...p, message: 'again' });
    expect((await stores.problems.list({ limit: 10, workflowId })).data).toEqual([
      expect.objectContaining({ id: first.id, message: 'again', resolvedAt: null, resolvedBy: null, resolutionNote: null })]);
    await stores.problems.record({ ...p, details: { key: 'seller-2' } });
    expect((await stores.problems.list({ limit: 10, workflowId, open: true })).data).toHaveLength(2);
  });
});

describe('the AVS review queue', () => {
  it('lists the orders an operator is to decide, oldest first, flagged for attention until decided', async () => {
    const held: Array<Record<string, any>> = [];
    for (const i of [1, 2]) {
      const r = await call(svc.base, '/orders', { key: merchant, body: {
        clientOrderId: uid(`review-${i}-`), customerId: 'c1', items: [{ sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' }],
        shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' } },
        payment: { token: await tokenizeCard(svc.processor), billingPostalCode: '11111' }, // AVS A: review by the default policy
      } });
      expect(r.body).toMatchObject({ state: 'authorized_minus_avs', needsAttention: true, attentionReasons: ['avs_review'] });
      expect(Date.parse(r.body.reviewDeadline)).toBeGreaterThan(Date.now());
      held.push(r.body);
    }
    expect(await attentionOf(held[0].id)).toBe(true);
    const queue = async (key: string) => (await call(svc.base, '/reviews?limit=100', { key })).body.data
      .filter((q: { orderId: string }) => held.some((h) => h.id === q.orderId));
    expect(await queue(operator)).toEqual(held.map((h) => ({
      object: 'review', orderId: h.id, merchantId: h.merchantId, clientOrderId: h.clientOrderId, customerId: 'c1', currency: 'USD',
      totalMinor: h.totalMinor, authorizationId: h.authorizations[0].id, avsCode: 'A', reviewDeadline: h.reviewDeadline,
      createdAt: expect.any(String),
    })));
    expect(await queue(merchant)).toHaveLength(2); // its own
    expect((await call(svc.base, '/reviews?limit=0', { key: operator })).body.error).toMatchObject({ code: 'parameter_invalid', param: 'limit' });

    const approved = await call(svc.base, `/orders/${held[0].id}/review`, { key: operator, body: { decision: 'approve' } });
    expect(approved.body).toMatchObject({ review: { decision: 'approve' }, needsAttention: false, attentionReasons: [] });
    expect(await attentionOf(held[0].id)).toBe(false);
    expect((await queue(operator)).map((q: { orderId: string }) => q.orderId)).toEqual([held[1].id]);
    // a page may go on from an order decided since (it has left the queue)
    const after = await call(svc.base, `/reviews?starting_after=${held[0].id}`, { key: merchant });
    expect(after.body.data.map((q: { orderId: string }) => q.orderId)).toContain(held[1].id);
    expect(after.body.data.map((q: { orderId: string }) => q.orderId)).not.toContain(held[0].id);
  });
});
