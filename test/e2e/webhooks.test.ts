// Merchant webhooks over HTTP with the real processes: register an endpoint, receive an order's events in
// order with valid Standard Webhooks signatures, and work a dead letter through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENDPOINTS_PER_MERCHANT } from '../../stores/delivery';
import type { Stores } from '../../stores';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { Receiver } from '../support/receiver';
import { startServices, type Services } from '../support/services';
import { CARD, tokenizeCard } from '../support/processor-calls';

let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;
let operator: string;

beforeAll(async () => {
  ({ stores, close: closeDb } = testDatabase(2));
  svc = await startServices({ PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_DELIVERY_INITIAL_BACKOFF: '100ms' });
  operator = (await stores.principals.create('operator', 'webhook operator')).apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

async function merchantWithEndpoint(receiver: Receiver, extra: object = {}) {
  const { merchant: principal, apiKey } = await stores.merchants.create('Hooked shop', MERCHANT_SETTINGS);
  const r = await call(svc.base, '/webhook-endpoints', { key: apiKey, idem: uid(), body: { url: receiver.url, ...extra } });
  expect(r.status).toBe(201);
  receiver.secret = r.body.secret;
  return { merchantId: principal.id, key: apiKey, endpoint: r.body };
}

async function placeOrder(key: string) {
  const token = await tokenizeCard(svc.processor);
  const r = await call(svc.base, '/orders', { key, body: {
    clientOrderId: uid('co-'), customerId: 'c', items: [{ sku: 'mug', quantity: 1, unitPriceMinor: 1200, kind: 'hard' }],
    shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'Austin', region: 'TX', postalCode: '73301', country: 'US' } },
    payment: { token, billingPostalCode: '73301' } } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

describe('webhook endpoints', () => {
  it('registers an endpoint with a signing secret shown once, and refuses bad URLs', async () => {
    const { apiKey: key } = await stores.merchants.create('URL shop', MERCHANT_SETTINGS);
    const idem = uid();
    const first = await call(svc.base, '/webhook-endpoints', { key, idem, body: { url: 'http://127.0.0.1:9/hooks' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ object: 'webhook_endpoint', onDeadLetter: 'hold', secret: expect.stringMatching(/^whsec_/) });
    const replay = await call(svc.base, '/webhook-endpoints', { key, idem, body: { url: 'http://127.0.0.1:9/hooks' } });
    expect(replay.body.secret).toBeNull();
    for (const [url, code] of [['http://user:pw@example.com/h', 'url_credentials'], ['ftp://example.com/h', 'url_scheme'], ['not a url', 'url_invalid']]) {
      const r = await call(svc.base, '/webhook-endpoints', { key, idem: uid(), body: { url } });
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code, param: 'url' });
    }
    expect((await call(svc.base, '/webhook-endpoints', { key: operator, idem: uid(), body: { url: 'http://127.0.0.1:9/h' } })).status).toBe(403);
  });

  it(`allows ${MAX_ENDPOINTS_PER_MERCHANT} active endpoints per merchant and refuses one more`, async () => {
    const { apiKey: key } = await stores.merchants.create('Many hooks', MERCHANT_SETTINGS);
    for (let i = 0; i < MAX_ENDPOINTS_PER_MERCHANT; i++) {
      expect((await call(svc.base, '/webhook-endpoints', { key, idem: uid(), body: { url: `http://127.0.0.1:9/h${i}` } })).status).toBe(201);
    }
    const past = await call(svc.base, '/webhook-endpoints', { key, idem: uid(), body: { url: 'http://127.0.0.1:9/h' } });
    expect(past.body.error.code).toBe('too_many_endpoints');
    const list = await call(svc.base, '/webhook-endpoints', { key });
    const removed = await call(svc.base, `/webhook-endpoints/${list.body.data[0].id}`, { key, method: 'DELETE' });
    expect(removed.body.disabledAt).toBeTruthy();
    expect((await call(svc.base, '/webhook-endpoints', { key, idem: uid(), body: { url: 'http://127.0.0.1:9/h' } })).status).toBe(201);
    // enabling the disabled one again would make one too many
    const again = await call(svc.base, `/webhook-endpoints/${list.body.data[0].id}`, { key, method: 'PATCH', body: { disabled: false } });
    expect(again.body.error).toMatchObject({ code: 'too_many_endpoints', param: 'disabled' });
  });

  it('changes an endpoint: its URL and event types take effect for what is sent next; others cannot touch it', async () => {
    const first = new Receiver();
    const second = new Receiver();
    await first.start();
    await second.start();
    try {
      const { key, endpoint } = await merchantWithEndpoint(first);
      second.secret = first.secret;
      const path = `/webhook-endpoints/${endpoint.id}`;
      const changed = await call(svc.base, path, { key, method: 'PATCH', body: { url: second.url, events: ['order.captured'], description: 'moved' } });
      expect(changed.body).toMatchObject({ url: second.url, events: ['order.captured'], description: 'moved', disabledAt: null });
      expect((await call(svc.base, path, { key, method: 'PATCH', body: {} })).body).toMatchObject({ url: second.url });
      expect((await call(svc.base, path, { key, method: 'PATCH', body: { url: 'ftp://x' } })).body.error).toMatchObject({ param: 'url' });
      const other = (await stores.merchants.create('Other hooks', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, path, { key: other, method: 'PATCH', body: { description: 'mine' } })).status).toBe(404);

      const id = await placeOrder(key);
      await call(svc.base, `/orders/${id}/shipments`, { key, idem: 's', body: { items: [{ sku: 'mug', quantity: 1 }], trackingNumber: 'T' } });
      await expect.poll(() => second.unique().map((r) => r.body.type), { timeout: 20_000 }).toEqual(['order.captured']);
      expect(second.unique()[0].verified).toBe(true);
      expect(first.unique()).toEqual([]);
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});

describe("an order's events", () => {
  it('arrive in order, signed, each with its own webhook-id', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key } = await merchantWithEndpoint(receiver);
      const id = await placeOrder(key);
      await call(svc.base, `/orders/${id}/shipments`, { key, idem: 's', body: { items: [{ sku: 'mug', quantity: 1 }], trackingNumber: 'T' } });
      await call(svc.base, `/orders/${id}/refunds`, { key, idem: 'r', body: { amountMinor: 300 } });
      await expect.poll(() => receiver.unique().map((r) => r.body.type), { timeout: 20_000 })
        .toEqual(['order.authorized', 'order.captured', 'order.refunded']);
      const got = receiver.unique();
      expect(got.every((r) => r.verified && r.body.data.orderId === id)).toBe(true);
      expect(new Set(got.map((r) => r.webhookId)).size).toBe(3);
      expect(got[2].body.data).toMatchObject({ amountMinor: 300, currency: 'USD', state: 'partially_refunded' });
    } finally {
      await receiver.stop();
    }
  });

  it('a declined card is order.authorization_failed, with its decline code', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key } = await merchantWithEndpoint(receiver);
      const r = await call(svc.base, '/orders', { key, body: {
        clientOrderId: uid('co-'), customerId: 'c', items: [{ sku: 'mug', quantity: 1, unitPriceMinor: 1200, kind: 'soft' }],
        payment: { token: await tokenizeCard(svc.processor, CARD.decline), billingPostalCode: '73301', billingCountry: 'US', billingRegion: 'TX' } } });
      expect(r.body).toMatchObject({ state: 'failed_authorization', failure: { code: 'card_declined' } });
      await expect.poll(() => receiver.unique().map((x) => x.body.type), { timeout: 20_000 }).toEqual(['order.authorization_failed']);
      expect(receiver.unique()[0]).toMatchObject({ verified: true,
        body: { data: { orderId: r.body.id, state: 'failed_authorization', code: 'card_declined' } } });
    } finally {
      await receiver.stop();
    }
  });

  it('a dead letter holds the order\'s later events until redelivered through the API', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key } = await merchantWithEndpoint(receiver);
      let refuse = true;
      receiver.answer = (_id, body) => (refuse && body.type === 'order.captured' ? 422 : 200);
      const id = await placeOrder(key);
      await call(svc.base, `/orders/${id}/shipments`, { key, idem: 's', body: { items: [{ sku: 'mug', quantity: 1 }], trackingNumber: 'T' } });
      await call(svc.base, `/orders/${id}/refunds`, { key, idem: 'r', body: { amountMinor: 100 } });

      await expect.poll(async () => (await call(svc.base, '/dead-letters', { key })).body.data.length, { timeout: 20_000 }).toBe(1);
      const [dead] = (await call(svc.base, '/dead-letters', { key })).body.data;
      expect(dead).toMatchObject({ eventType: 'order.captured', lastStatus: 422, groupKey: id });
      expect(receiver.unique().map((r) => r.body.type)).toEqual(['order.authorized']);
      const held = await heldProblem(dead.id);
      expect(held).toMatchObject({ kind: 'delivery_held', resolvedAt: null, details: { messageId: dead.id } });
      const stranger = (await stores.merchants.create('Stranger', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, '/dead-letters', { key: stranger })).body.data).toEqual([]);
      expect((await call(svc.base, `/dead-letters/${dead.id}/redeliver`, { key: stranger, method: 'POST' })).status).toBe(404);

      refuse = false;
      const redo = await call(svc.base, `/dead-letters/${dead.id}/redeliver`, { key: operator, method: 'POST' });
      expect(redo.body).toMatchObject({ action: 'redeliver', state: 'queued' });
      await expect.poll(() => receiver.unique().map((r) => r.body.type), { timeout: 20_000 })
        .toEqual(['order.authorized', 'order.captured', 'order.refunded']);
      expect((await call(svc.base, `/dead-letters/${dead.id}/redeliver`, { key: operator, method: 'POST' })).body.error.code).toBe('not_a_dead_letter');
      // redelivered from the dead letters: the problem that said the group holds is resolved
      expect(await heldProblem(dead.id)).toMatchObject({ id: held.id, resolutionNote: 'Redelivered' });
    } finally {
      await receiver.stop();
    }
  });

  it('a dead letter holding its group is in the problems log, and an operator retries it from there', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key } = await merchantWithEndpoint(receiver);
      let refuse = true;
      receiver.answer = (_id, body) => (refuse && body.type === 'order.captured' ? 422 : 200);
      const id = await placeOrder(key);
      await call(svc.base, `/orders/${id}/shipments`, { key, idem: 's', body: { items: [{ sku: 'mug', quantity: 1 }], trackingNumber: 'T' } });
      await expect.poll(async () => (await call(svc.base, '/dead-letters', { key })).body.data.length, { timeout: 20_000 }).toBe(1);
      const [dead] = (await call(svc.base, '/dead-letters', { key })).body.data;
      const held = await heldProblem(dead.id);

      refuse = false;
      const retried = await call(svc.base, `/problems/${held.id}/retry`, { key: operator, method: 'POST' });
      expect(retried.status, JSON.stringify(retried.body)).toBe(200);
      expect(retried.body).toMatchObject({ retry: { kind: 'redelivery', messageId: dead.id },
        problem: { id: held.id, resolvedBy: expect.any(String), resolutionNote: `Retried: message ${dead.id} redelivered` } });
      await expect.poll(() => receiver.unique().map((r) => r.body.type), { timeout: 20_000 }).toEqual(['order.authorized', 'order.captured']);
      const again = await call(svc.base, `/problems/${held.id}/retry`, { key: operator, method: 'POST' });
      expect([again.status, again.body.error.code]).toEqual([409, 'already_retried']);
      expect((await call(svc.base, `/problems/${held.id}/retry`, { key, method: 'POST' })).status).toBe(403);
    } finally {
      await receiver.stop();
    }
  });
});

/** The problem that says the message's group holds behind it. */
async function heldProblem(messageId: string) {
  let found: Record<string, any> | undefined;
  await expect.poll(async () => {
    const open = (await call(svc.base, '/problems?limit=100', { key: operator })).body.data as Array<Record<string, any>>;
    found = open.find((p) => p.kind === 'delivery_held' && p.details.messageId === messageId);
    return found !== undefined;
  }, { timeout: 10_000 }).toBe(true);
  return found!;
}
