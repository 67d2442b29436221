// Broker checkout over HTTP with the real processes: a merchant makes a session, the customer's payment goes through
// the hosted page's endpoints (the card tokenized at the processor, never sent to Paybroker), and the merchant hears
// order.created, the order's events and checkout.session.completed at its webhook endpoint, in that order; the order
// is the merchant's to ship. Bad input is refused with the right status and code, and nothing is half-written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHECKOUT_ITEMS } from '../../domain/checkout';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { Receiver } from '../support/receiver';
import { startServices, type Services } from '../support/services';
import { CARD, tokenizeCard } from '../support/processor-calls';

let stores: Stores;
let db: Db;
let closeDb: () => Promise<void>;
let svc: Services;
let site: string;

beforeAll(async () => {
  ({ stores, db, close: closeDb } = testDatabase(2));
  svc = await startServices({ PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_DELIVERY_INITIAL_BACKOFF: '100ms' });
  site = svc.base.replace(/\/v1$/, '');
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

const address = { name: 'Ada', line1: '1 Main St', city: 'Austin', region: 'TX', postalCode: '73301', country: 'US' };
const sessionBody = (over: object = {}) => ({
  items: [{ sku: 'mug', title: 'Mug', quantity: 2, unitPriceMinor: 1200, kind: 'hard' }, { sku: 'manual', title: 'Manual', quantity: 1, unitPriceMinor: 500, kind: 'soft' }],
  options: [{ id: 'wrap', label: 'Gift wrap', priceMinor: 300 }],
  successUrl: 'https://shop.example/thanks', cancelUrl: 'https://shop.example/cart', ...over,
});
const page = (path: string, body?: unknown) => fetch(site + path, body === undefined ? {} : {
  method: 'POST', headers: { 'content-type': 'application/json', origin: site }, body: JSON.stringify(body) });
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

async function merchant(receiver?: Receiver) {
  const { merchant: m, apiKey } = await stores.merchants.create('Checkout shop', MERCHANT_SETTINGS);
  if (receiver) {
    const r = await call(svc.base, '/webhook-endpoints', { key: apiKey, idem: uid(), body: { url: receiver.url } });
    receiver.secret = r.body.secret;
  }
  return { id: m.id, key: apiKey };
}

describe('checkout sessions over HTTP', () => {
  it('a session paid on the hosted page: one order, the merchant told in order, the order shipped with its key', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const m = await merchant(receiver);
      const idem = uid();
      const created = await call(svc.base, '/checkout-sessions', { key: m.key, idem, body: sessionBody() });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ object: 'checkout_session', state: 'open', url: `${site}/checkout/${created.body.id}`,
        shippingOptions: MERCHANT_SETTINGS.shippingOptions });
      const repeat = await call(svc.base, '/checkout-sessions', { key: m.key, idem, body: sessionBody() });
      expect(repeat.body.id).toBe(created.body.id);
      const id = created.body.id as string;

      const choice = { shippingOptionId: 'express', optionIds: ['wrap'], address };
      const quote = await json(page(`/checkout/${id}/quote`, choice));
      const token = await tokenizeCard(svc.processor);
      const paid = await page(`/checkout/${id}/pay`, { ...choice, token, billingPostalCode: '73301' });
      expect(paid.status).toBe(200);
      const { session, order } = await json(paid);
      expect(session).toMatchObject({ state: 'completed', orderId: order.id });
      expect(order).toMatchObject({ state: 'authorized_plus_avs', totalMinor: quote.totalMinor, merchantId: m.id });
      // a double click or a reload: the same order
      const again = await json(page(`/checkout/${id}/pay`, { ...choice, token, billingPostalCode: '73301' }));
      expect(again.session.orderId).toBe(order.id);
      expect(await svc.admin.authorizationsByReference(order.id)).toHaveLength(1);

      const seen = await call(svc.base, `/orders/${order.id}`, { key: m.key });
      expect(seen.body).toMatchObject({ id: order.id, state: 'authorized_plus_avs' });
      const shipped = await call(svc.base, `/orders/${order.id}/shipments`, { key: m.key, body: { shipmentId: 's1', items: [{ sku: 'mug', quantity: 2 }], trackingNumber: 'TRK123' } });
      expect(shipped.body).toMatchObject({ state: 'shipped', capturedMinor: quote.totalMinor });
      expect((await call(svc.base, `/checkout-sessions/${id}`, { key: m.key })).body).toMatchObject({ state: 'completed', orderId: order.id });

      await expect.poll(() => receiver.received.map((r) => r.body.type), { timeout: 10_000 })
        .toEqual(expect.arrayContaining(['order.created', 'order.authorized', 'order.captured', 'checkout.session.completed']));
      const types = receiver.received.filter((r) => r.body.data.orderId === order.id && r.body.type.startsWith('order.')).map((r) => r.body.type);
      expect(types.slice(0, 2)).toEqual(['order.created', 'order.authorized']);
      expect(receiver.received.every((r) => r.verified)).toBe(true);
      // the card never reached Paybroker: no request of ours carried its number
      expect(JSON.stringify(await db('orders').where({ id: order.id }).first())).not.toContain('4242424242424242');
    } finally {
      await receiver.stop();
    }
  });

  it('refuses bad sessions with the right status and code, writing nothing', async () => {
    const m = await merchant();
    const before = await db('checkout_sessions').where({ merchant_id: m.id }).count({ n: '*' });
    const bad: Array<[object, number, string]> = [
      [sessionBody({ items: [] }), 400, 'items'],
      [sessionBody({ items: Array.from({ length: MAX_CHECKOUT_ITEMS + 1 }, (_, i) => ({ sku: `s${i}`, title: 't', quantity: 1, unitPriceMinor: 1, kind: 'soft' })) }), 400, 'items'],
      [sessionBody({ items: [{ sku: 'option:x', title: 't', quantity: 1, unitPriceMinor: 1, kind: 'soft' }] }), 400, 'items.0.sku'],
      [sessionBody({ successUrl: 'javascript:alert(1)' }), 400, 'successUrl'],
      [sessionBody({ expiresInSeconds: 1 }), 400, 'expiresInSeconds'],
      [sessionBody({ items: [{ sku: 'x', title: 'x', quantity: 1, unitPriceMinor: 1, kind: 'soft', imageUrl: 'http://insecure.example/a.png' }] }), 400, 'items.0.imageUrl'],
      [sessionBody({ options: [{ id: 'a', label: 'A', priceMinor: 1 }, { id: 'a', label: 'B', priceMinor: 2 }] }), 422, 'options.1.id'],
    ];
    for (const [body, status, param] of bad) {
      const r = await call(svc.base, '/checkout-sessions', { key: m.key, idem: uid(), body });
      expect([r.status, r.body.error?.param]).toEqual([status, param]);
    }
    expect(await db('checkout_sessions').where({ merchant_id: m.id }).count({ n: '*' })).toEqual(before);
    const other = await merchant();
    const mine = await call(svc.base, '/checkout-sessions', { key: m.key, idem: uid(), body: sessionBody() });
    expect((await call(svc.base, `/checkout-sessions/${mine.body.id}`, { key: other.key })).status).toBe(404);
    expect((await call(svc.base, '/checkout-sessions/cs_nope', { key: m.key })).status).toBe(404);
    expect((await call(svc.base, '/checkout-sessions', { key: other.key })).body.data).toEqual([]);
  });

  it('a declined card is answered with its code and the session stays open; pages of unknown sessions are 404 HTML', async () => {
    const m = await merchant();
    const s = await call(svc.base, '/checkout-sessions', { key: m.key, idem: uid(), body: sessionBody() });
    const token = await tokenizeCard(svc.processor, CARD.decline);
    const r = await json(page(`/checkout/${s.body.id}/pay`, { shippingOptionId: 'standard', optionIds: [], address, token, billingPostalCode: '73301' }));
    expect(r.session.state).toBe('open');
    expect(r.order).toMatchObject({ state: 'failed_authorization', failure: { code: 'card_declined' } });
    const missing = await page('/checkout/cs_unknown');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/text\/html/);
    expect(await missing.text()).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe("the hosted page's endpoints", () => {
  it('refuse bad input with a 4xx and its code, never a 5xx, and take nothing from another origin', async () => {
    const m = await merchant();
    const s = await call(svc.base, '/checkout-sessions', { key: m.key, idem: uid(), body: sessionBody() });
    const post = (raw: string, headers: Record<string, string> = {}) => fetch(`${site}/checkout/${s.body.id}/pay`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: site, ...headers }, body: raw });
    const good = { shippingOptionId: 'standard', optionIds: [], address, token: 'tok_x', billingPostalCode: '73301' };
    const cases: Array<[string, Record<string, string>, number]> = [
      [JSON.stringify(good).replace('"Ada"', '"\\ud800"'), {}, 400], // half a UTF-16 pair
      [JSON.stringify({ ...good, optionIds: Array.from({ length: 50 }, (_, i) => `o${i}`) }), {}, 400],
      [JSON.stringify({ ...good, shippingOptionId: 'nope' }), {}, 422],
      [JSON.stringify({ ...good, address: { ...address, name: 'x'.repeat(20_000) } }), {}, 413],
      ['{"not json', {}, 400],
      [JSON.stringify(good), { origin: 'https://evil.example' }, 403],
    ];
    for (const [raw, headers, status] of cases) {
      const r = await post(raw, headers);
      expect([r.status, raw.slice(0, 40)]).toEqual([status, raw.slice(0, 40)]);
    }
    expect((await db('checkout_sessions').where({ id: s.body.id }).first()).state).toBe('open');
    expect(await db('orders').whereLike('id', `%checkout-${s.body.id}%`)).toEqual([]);
  });
});

describe('cart offers over HTTP', () => {
  it("signs a merchant's offer (its catalog entry) and refuses bad ones", async () => {
    const m = await merchant();
    const r = await call(svc.base, '/cart-offers', { key: m.key, idem: uid(), body: { sku: 'tea', title: 'Tea', unitPriceMinor: 450, kind: 'hard', maxQuantity: 5 } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ object: 'cart_offer', offer: expect.stringMatching(/^offer_/), addUrl: expect.stringContaining(`${site}/carts/add?offer=`),
      item: { merchantId: m.id, sku: 'tea', currency: 'USD', minQuantity: 1, maxQuantity: 5, available: true } });
    const bad = await call(svc.base, '/cart-offers', { key: m.key, idem: uid(), body: { sku: 'tea', title: 'Tea', unitPriceMinor: 450, kind: 'hard', minQuantity: 6, maxQuantity: 5 } });
    expect([bad.status, bad.body.error.code]).toEqual([422, 'parameter_invalid']);
    const tampered = r.body.offer.replace(/.$/, (c: string) => (c === 'A' ? 'B' : 'A'));
    expect((await page(`/carts/add?offer=${encodeURIComponent(tampered)}`)).status).toBe(400);
  });
});
