// Merchant webhooks over HTTP with the real processes: register an endpoint, receive an order's events in
// order with valid Standard Webhooks signatures, and work a dead letter through the API; events as objects (listed,
// read, stored once, purged after their retention by the worker), each delivery attempt listed per endpoint, secret
// rotation with an overlap, and test events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryService } from '../../services/delivery';
import { EventService } from '../../services/events';
import { MAX_ENDPOINTS_PER_MERCHANT } from '../../stores/delivery';
import { EVENT_RETENTION_DAYS } from '../../stores/events';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { verifyWebhook } from '../../webhooks/signature';
import { temporalClient, testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { Receiver } from '../support/receiver';
import { startServices, type Services } from '../support/services';
import { CARD, tokenizeCard } from '../support/processor-calls';

let stores: Stores;
let db: Db;
let closeDb: () => Promise<void>;
let svc: Services;
let operator: string;
let temporal: Awaited<ReturnType<typeof temporalClient>>;

beforeAll(async () => {
  ({ stores, db, close: closeDb } = testDatabase(2));
  svc = await startServices({ PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_DELIVERY_INITIAL_BACKOFF: '100ms' });
  operator = (await stores.principals.create('operator', 'webhook operator')).apiKey;
  temporal = await temporalClient();
});
afterAll(async () => {
  await svc?.stopAll();
  await temporal?.close();
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
      const { id, dead, accept } = await capturedEventDead(receiver, (key, orderId) =>
        call(svc.base, `/orders/${orderId}/refunds`, { key, idem: 'r', body: { amountMinor: 100 } }));
      expect(dead).toMatchObject({ eventType: 'order.captured', lastStatus: 422, groupKey: id });
      expect(receiver.unique().map((r) => r.body.type)).toEqual(['order.authorized']);
      const held = await heldProblem(dead.id);
      expect(held).toMatchObject({ kind: 'delivery_held', resolvedAt: null, details: { messageId: dead.id } });
      const stranger = (await stores.merchants.create('Stranger', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, '/dead-letters', { key: stranger })).body.data).toEqual([]);
      expect((await call(svc.base, `/dead-letters/${dead.id}/redeliver`, { key: stranger, method: 'POST' })).status).toBe(404);

      accept();
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
      const { key, dead, accept } = await capturedEventDead(receiver);
      const held = await heldProblem(dead.id);

      accept();
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

/**
 * A merchant whose endpoint answers order.captured with 422 until accept(): its order shipped (then `more` done),
 * and the capture's event a dead letter that holds the order's group.
 */
async function capturedEventDead(receiver: Receiver, more?: (key: string, id: string) => Promise<unknown>) {
  const { key } = await merchantWithEndpoint(receiver);
  let refuse = true;
  receiver.answer = (_id, body) => (refuse && body.type === 'order.captured' ? 422 : 200);
  const id = await placeOrder(key);
  await call(svc.base, `/orders/${id}/shipments`, { key, idem: 's', body: { items: [{ sku: 'mug', quantity: 1 }], trackingNumber: 'T' } });
  await more?.(key, id);
  await expect.poll(async () => (await call(svc.base, '/dead-letters', { key })).body.data.length, { timeout: 20_000 }).toBe(1);
  const [dead] = (await call(svc.base, '/dead-letters', { key })).body.data;
  return { key, id, dead, accept: () => { refuse = false; } };
}

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
describe('events', () => {
  it('every event is an event object: listed newest first, filtered by type, read by id as its webhook carried it', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { merchantId, key } = await merchantWithEndpoint(receiver);
      const id = await placeOrder(key);
      await call(svc.base, `/orders/${id}/shipments`, { key, idem: 's', body: { items: [{ sku: 'mug', quantity: 1 }], trackingNumber: 'T' } });
      await expect.poll(() => receiver.unique().length, { timeout: 20_000 }).toBe(2);

      const list = await call(svc.base, '/events', { key });
      expect(list.body).toMatchObject({ object: 'list', has_more: false });
      expect(list.body.data.map((e: any) => e.type)).toEqual(['order.captured', 'order.authorized']);
      for (const got of receiver.unique()) {
        const e = await call(svc.base, `/events/${got.body.id}`, { key });
        expect(e.body).toEqual({ ...got.body, object: 'event', merchantId });
      }
      const captured = await call(svc.base, '/events?type=order.captured', { key });
      expect(captured.body.data.map((e: any) => e.id)).toEqual([list.body.data[0].id]);
      const first = await call(svc.base, '/events?limit=1', { key });
      expect(first.body).toMatchObject({ has_more: true, data: [{ id: list.body.data[0].id }] });
      const next = await call(svc.base, `/events?limit=1&starting_after=${list.body.data[0].id}`, { key });
      expect(next.body).toMatchObject({ has_more: false, data: [{ id: list.body.data[1].id }] });

      // another merchant sees none of them; operators see them, and may name the merchant
      const stranger = (await stores.merchants.create('Event stranger', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, '/events', { key: stranger })).body.data).toEqual([]);
      expect((await call(svc.base, `/events/${list.body.data[0].id}`, { key: stranger })).status).toBe(404);
      expect((await call(svc.base, `/events?merchantId=${merchantId}`, { key: stranger })).body.error)
        .toMatchObject({ code: 'parameter_not_allowed', param: 'merchantId' });
      expect((await call(svc.base, `/events?merchantId=${merchantId}`, { key: operator })).body.data).toEqual(list.body.data);
      expect((await call(svc.base, `/events/${list.body.data[1].id}`, { key: operator })).body.type).toBe('order.authorized');
      expect((await call(svc.base, '/events?type=order.nonsense', { key })).body.error).toMatchObject({ code: 'parameter_invalid', param: 'type' });
      expect((await call(svc.base, '/events/evt_nothing', { key: operator })).status).toBe(404);
    } finally {
      await receiver.stop();
    }
  });

  it("a merchant without an endpoint has its events all the same", async () => {
    const { merchant, apiKey: key } = await stores.merchants.create('Quiet shop', MERCHANT_SETTINGS);
    const id = await placeOrder(key);
    const list = await call(svc.base, '/events', { key });
    expect(list.body.data).toMatchObject([{ type: 'order.authorized', merchantId: merchant.id, data: { orderId: id } }]);
  });

  it('an event emitted twice (a retried activity) is stored and queued once, with its first time', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { merchantId } = await merchantWithEndpoint(receiver);
      const events = new EventService(stores.events, stores.delivery, new DeliveryService(stores.delivery, temporal.client, svc.taskQueue));
      const e = { merchantId, groupKey: 'twice', type: 'order.voided' as const, eventKey: uid('twice-'), data: { orderId: 'o-1' } };
      const first = await events.emit(e);
      const again = await events.emit({ ...e, data: { orderId: 'changed' } });
      expect(again).toEqual(first);
      expect(first.queued).toBe(1);
      await expect.poll(() => receiver.unique().length, { timeout: 20_000 }).toBe(1);
      expect(receiver.unique()[0].body).toEqual({ id: first.event.id, type: 'order.voided', createdAt: first.event.createdAt.toISOString(),
        data: { orderId: 'o-1' } });
      expect(await db('events').where({ id: first.event.id }).count({ n: '*' }).first()).toEqual({ n: '1' });
      expect(await db('delivery_messages').where({ event_id: first.event.id }).count({ n: '*' }).first()).toEqual({ n: '1' });
    } finally {
      await receiver.stop();
    }
  });

  it(`the worker purges events and delivery attempts older than ${EVENT_RETENTION_DAYS} days; a purged event is 404`, async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key, endpoint } = await merchantWithEndpoint(receiver);
      const old = (await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, idem: uid(), method: 'POST' })).body;
      await expect.poll(async () => (await call(svc.base, `/webhook-endpoints/${endpoint.id}/attempts`, { key })).body.data.length,
        { timeout: 20_000 }).toBe(1);
      const recent = (await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, idem: uid(), method: 'POST' })).body;
      const aged = db.raw(`now() - make_interval(days => ${EVENT_RETENTION_DAYS}, mins => 1)`);
      expect((await call(svc.base, `/events/${old.id}`, { key })).status).toBe(200);
      await db('events').where({ id: old.id }).update({ created_at: aged });
      await db('delivery_attempts').where({ event_id: old.id }).update({ created_at: aged });

      await svc.kill('worker');
      await svc.start('worker'); // (it purges at start, then hourly)
      await expect.poll(async () => (await call(svc.base, `/events/${old.id}`, { key })).status, { timeout: 20_000 }).toBe(404);
      expect(await db('delivery_attempts').where({ event_id: old.id }).first()).toBeUndefined();
      expect((await call(svc.base, `/events/${recent.id}`, { key })).body).toMatchObject({ id: recent.id, type: 'webhook.test' });
      expect((await call(svc.base, '/events', { key })).body.data.map((e: any) => e.id)).toEqual([recent.id]);
    } finally {
      await receiver.stop();
    }
  });
});

describe('delivery attempts', () => {
  it('each attempt is listed with its endpoint, newest first: status or network error, latency, outcome', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key, endpoint } = await merchantWithEndpoint(receiver);
      const answers = [503];
      receiver.answer = () => answers.shift() ?? 200;
      await receiver.down();
      const test = await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, idem: uid(), method: 'POST' });
      const path = `/webhook-endpoints/${endpoint.id}/attempts`;
      await expect.poll(async () => (await call(svc.base, path, { key })).body.data.length, { timeout: 20_000 }).toBeGreaterThan(0);
      await receiver.up();
      await expect.poll(() => receiver.unique().length, { timeout: 20_000 }).toBe(1);
      await expect.poll(async () => (await call(svc.base, path, { key })).body.data[0]?.outcome, { timeout: 20_000 }).toBe('delivered');

      const attempts = (await call(svc.base, path, { key })).body.data;
      const n = attempts.length;
      expect(n).toBeGreaterThanOrEqual(3); // refused at least once, 503 once, then delivered
      expect(attempts.map((a: any) => a.attempt)).toEqual(Array.from({ length: n }, (_, i) => n - i));
      const messageId = receiver.unique()[0].webhookId;
      for (const a of attempts) {
        expect(a).toMatchObject({ object: 'webhook_attempt', endpointId: endpoint.id, messageId, eventId: test.body.id });
        expect(a.latencyMs).toBeGreaterThanOrEqual(0);
      }
      expect(attempts[0]).toMatchObject({ outcome: 'delivered', status: 200, error: null });
      expect(attempts[1]).toMatchObject({ outcome: 'retry', status: 503, error: 'HTTP 503' });
      expect(attempts[n - 1]).toMatchObject({ outcome: 'retry', status: null, error: 'ECONNREFUSED' });

      const page = await call(svc.base, `${path}?limit=1&starting_after=${attempts[0].id}`, { key });
      expect(page.body).toMatchObject({ has_more: true, data: [{ id: attempts[1].id }] });
      expect((await call(svc.base, `${path}?starting_after=nope`, { key })).body.error.code).toBe('cursor_unknown');
      expect((await call(svc.base, path, { key: operator })).body.data).toEqual(attempts);
      const stranger = (await stores.merchants.create('Attempt stranger', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, path, { key: stranger })).status).toBe(404);
    } finally {
      await receiver.stop();
    }
  });
});

describe('secret rotation', () => {
  it('signs with the old and the new secret during the overlap, then with the new one alone', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key, endpoint } = await merchantWithEndpoint(receiver);
      const original = receiver.secret!;
      const path = `/webhook-endpoints/${endpoint.id}`;
      const sendTest = async (count: number) => {
        await call(svc.base, `${path}/test`, { key, idem: uid(), method: 'POST' });
        await expect.poll(() => receiver.unique().length, { timeout: 20_000 }).toBe(count);
        return receiver.unique()[count - 1];
      };
      const verifies = (r: { headers: any; raw: string }, secret: string) => {
        try {
          return !!verifyWebhook(secret, r.headers, r.raw);
        } catch {
          return false;
        }
      };

      const idem = uid();
      const rotated = await call(svc.base, `${path}/rotate-secret`, { key, idem, body: { overlapSeconds: 3600 } });
      expect(rotated.status).toBe(200);
      expect(rotated.body).toMatchObject({ id: endpoint.id, secret: expect.stringMatching(/^whsec_/) });
      expect(rotated.body.secret).not.toBe(original);
      const expires = Date.parse(rotated.body.previousSecretExpiresAt) - Date.now();
      expect(expires).toBeGreaterThan(3500_000);
      expect(expires).toBeLessThanOrEqual(3600_000);
      const replay = await call(svc.base, `${path}/rotate-secret`, { key, idem, body: { overlapSeconds: 3600 } });
      expect(replay.body.secret).toBeNull();

      const during = await sendTest(1);
      expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect([verifies(during, original), verifies(during, rotated.body.secret)]).toEqual([true, true]);

      const again = await call(svc.base, `${path}/rotate-secret`, { key, idem: uid(), body: { overlapSeconds: 0 } });
      expect(again.body.previousSecretExpiresAt).toBeNull();
      const after = await sendTest(2);
      expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
      expect([verifies(after, rotated.body.secret), verifies(after, again.body.secret)]).toEqual([false, true]);

      // the default overlap is a day; more than 7 days, a negative one, or another merchant's endpoint is refused
      const byDefault = await call(svc.base, `${path}/rotate-secret`, { key, idem: uid(), method: 'POST' });
      expect(Date.parse(byDefault.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(86_300_000);
      for (const overlapSeconds of [7 * 86400 + 1, -1, 1.5]) {
        const r = await call(svc.base, `${path}/rotate-secret`, { key, idem: uid(), body: { overlapSeconds } });
        expect(r.status).toBe(400);
        expect(r.body.error).toMatchObject({ code: 'parameter_invalid', param: 'overlapSeconds' });
      }
      expect((await call(svc.base, `${path}/rotate-secret`, { key, idem: uid(), body: { overlapSeconds: 7 * 86400 } })).status).toBe(200);
      const stranger = (await stores.merchants.create('Rotation stranger', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, `${path}/rotate-secret`, { key: stranger, idem: uid(), method: 'POST' })).status).toBe(404);
    } finally {
      await receiver.stop();
    }
  });
});

describe('test events', () => {
  it('goes to that endpoint alone, whatever it subscribes to, and answers 202 with the event', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const { key, endpoint, merchantId } = await merchantWithEndpoint(receiver, { events: ['order.captured'] });
      const second = await call(svc.base, '/webhook-endpoints', { key, idem: uid(), body: { url: 'http://127.0.0.1:9/hooks' } });
      const idem = uid();
      const sent = await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, idem, method: 'POST' });
      expect(sent.status).toBe(202);
      expect(sent.body).toMatchObject({ object: 'event', type: 'webhook.test', merchantId, data: { endpointId: endpoint.id } });
      const replay = await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, idem, method: 'POST' });
      expect(replay.body).toEqual(sent.body);

      await expect.poll(() => receiver.unique().map((r) => r.body.id), { timeout: 20_000 }).toEqual([sent.body.id]);
      expect(receiver.unique()[0]).toMatchObject({ verified: true, body: { type: 'webhook.test', data: { endpointId: endpoint.id } } });
      expect((await call(svc.base, `/events/${sent.body.id}`, { key })).body).toEqual(sent.body);
      await expect.poll(async () => (await call(svc.base, `/webhook-endpoints/${endpoint.id}/attempts`, { key })).body.data, { timeout: 20_000 })
        .toMatchObject([{ eventId: sent.body.id, outcome: 'delivered' }]);
      expect(await db('delivery_messages').where({ event_id: sent.body.id }).select('destination_id')).toEqual([{ destination_id: endpoint.id }]);
      expect((await call(svc.base, `/webhook-endpoints/${second.body.id}/attempts`, { key })).body.data).toEqual([]);

      expect((await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, method: 'POST' })).body.error.code).toBe('idempotency_key_missing');
      const stranger = (await stores.merchants.create('Test stranger', MERCHANT_SETTINGS)).apiKey;
      expect((await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key: stranger, idem: uid(), method: 'POST' })).status).toBe(404);
      await call(svc.base, `/webhook-endpoints/${endpoint.id}`, { key, method: 'DELETE' });
      const disabled = await call(svc.base, `/webhook-endpoints/${endpoint.id}/test`, { key, idem: uid(), method: 'POST' });
      expect(disabled.status).toBe(409);
      expect(disabled.body.error.code).toBe('endpoint_disabled');
    } finally {
      await receiver.stop();
    }
  });
});
