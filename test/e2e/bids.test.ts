// Bid rounds over HTTP with the real processes (API, worker, processor simulator, PostgreSQL, Temporal). Sell first:
// a buyer app buys at the class's price, the card is authorized once, merchants bid, the best wins and fulfils through
// its order (captured per shipment), the ledger owes it its bid and keeps the spread. Quote first: bids for a window,
// a quote of the best bid plus the margin, accepted and paid exactly. A winner that cancels hands the award to the next
// bid; late bids and late acceptances are refused by what the database and the round know, nothing written.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_BIDS_PER_MERCHANT } from '../../domain/bids';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { Receiver } from '../support/receiver';
import { startServices, type Services } from '../support/services';

let stores: Stores;
let db: Db;
let closeDb: () => Promise<void>;
let svc: Services;
let operator: string;

beforeAll(async () => {
  ({ stores, db, close: closeDb } = testDatabase(2));
  svc = await startServices({ PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_DELIVERY_INITIAL_BACKOFF: '100ms' });
  operator = (await stores.principals.create('operator', 'Bids operator')).apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

const address = { name: 'Ada', line1: '1 Main St', city: 'Austin', region: 'TX', postalCode: '73301', country: 'US' };
const settle = { timeout: 30_000, interval: 100 };

async function itemClass(body: Record<string, unknown>): Promise<string> {
  const id = uid('isbn-');
  const r = await call(svc.base, `/item-classes/${id}`, { method: 'PUT', key: operator, body: { name: 'A novel', currency: 'USD', kind: 'hard',
    pricing: { kind: 'list', listPriceMinor: 2500 }, minMarginMinor: 200, ...body } });
  expect(r.status).toBe(201);
  return id;
}

async function bidder(classId: string, name: string, rating = 300, autoBid: object | null = null) {
  const { merchant: m, apiKey } = await stores.merchants.create(name, { ...MERCHANT_SETTINGS, rating });
  const r = await call(svc.base, `/item-classes/${classId}/bidding`, { method: 'PUT', key: apiKey, body: { autoBid } });
  expect(r.status).toBe(200);
  return { id: m.id, key: apiKey };
}

async function buyerApp(receiver?: Receiver) {
  const { apiKey } = await stores.principals.create('buyer_app', 'Storefront');
  if (receiver) {
    const r = await call(svc.base, '/webhook-endpoints', { key: apiKey, idem: uid(), body: { url: receiver.url } });
    expect(r.status).toBe(201);
    receiver.secret = r.body.secret;
  }
  return apiKey;
}

const bid = (key: string, roundId: string, unitPriceMinor: number, deliveryDays = 3, idem = uid()) =>
  call(svc.base, `/bid-rounds/${roundId}/bids`, { key, idem, body: { unitPriceMinor, currency: 'USD', deliveryDays } });

async function purchase(app: string, classId: string, quantity = 2) {
  const token = await tokenizeCard(svc.processor);
  const r = await call(svc.base, '/purchases', { key: app, idem: uid(), body: { itemClass: classId, quantity, customerId: 'cust-1',
    shipping: { address }, payment: { token, billingPostalCode: '73301' } } });
  expect(r.status).toBe(201);
  return r.body;
}

const purchaseNow = (app: string, id: string) => call(svc.base, `/purchases/${id}`, { key: app }).then((r) => r.body);
const balance = async (accountId: string) => Number((await stores.ledger.balance(accountId).catch(() => ({ amountMinor: 0n }))).amountMinor);

describe('sell first over HTTP', () => {
  it('the customer pays the list price once; the lowest bid wins and ships; its merchant is owed its bid, the broker the spread', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const classId = await itemClass({ windowSeconds: 60, enoughBids: 2 });
      const cheap = await bidder(classId, 'Cheap books', 100);
      const dear = await bidder(classId, 'Dear books', 500);
      const app = await buyerApp(receiver);
      const p = await purchase(app, classId);
      expect(p).toMatchObject({ object: 'purchase', state: 'open', unitPriceMinor: 2500, totalMinor: 5000, merchantId: null });

      // the round is open to both, and to nobody else
      const listed = await call(svc.base, '/bid-rounds', { key: cheap.key });
      expect(listed.body.data.map((r: { id: string }) => r.id)).toContain(p.id);
      const shown = await call(svc.base, `/bid-rounds/${p.id}`, { key: dear.key });
      expect(shown.body).toMatchObject({ biddingOpen: true, maxAcceptableUnitPriceMinor: 2300, yourBid: null, outcome: 'pending' });
      const outsider = await bidder(await itemClass({}), 'Outsider');
      expect((await bid(outsider.key, p.id, 1000)).status).toBe(404);

      expect((await bid(dear.key, p.id, 2200, 2)).status).toBe(201);
      const placed = await bid(cheap.key, p.id, 2000, 5); // the second bid is enough: the round closes early
      expect(placed.status).toBe(201);
      const awarded = await vi.waitFor(async () => {
        const now = await purchaseNow(app, p.id);
        if (now.state !== 'awarded') throw new Error(now.state);
        return now;
      }, settle);
      expect(awarded).toMatchObject({ merchantId: cheap.id, deliveryDays: 5 });
      const won = await call(svc.base, `/bid-rounds/${p.id}`, { key: cheap.key });
      expect(won.body).toMatchObject({ outcome: 'won', orderId: awarded.orderId, biddingOpen: false, yourBid: { unitPriceMinor: 2000 } });
      expect((await call(svc.base, `/bid-rounds/${p.id}`, { key: dear.key })).body).not.toHaveProperty('bids');

      // the winner ships through its order: captured once, at the sale price
      const order = await call(svc.base, `/orders/${awarded.orderId}`, { key: cheap.key });
      expect(order.body).toMatchObject({ merchantId: cheap.id, totalMinor: 5000, state: 'authorized_plus_avs' });
      const shipped = await call(svc.base, `/orders/${awarded.orderId}/shipments`, { key: cheap.key, idem: uid(),
        body: { items: [{ sku: classId, quantity: 2 }], trackingNumber: 'TRK1' } });
      expect(shipped.status).toBe(200);
      await vi.waitFor(async () => expect((await purchaseNow(app, p.id)).state).toBe('fulfilling'), settle);
      expect((await call(svc.base, `/bid-rounds/${p.id}`, { key: dear.key })).body.outcome).toBe('lost');

      const auths = await svc.admin.authorizationsByReference(`bid-round-${p.id}`);
      expect(auths).toHaveLength(1);
      expect(await svc.admin.capturesByAuthorization(auths[0].id)).toEqual([expect.objectContaining({ amountMinor: 5000 })]);
      expect(await balance(`merchant-payable:${cheap.id}:USD`)).toBe(-4000);
      const entry = await stores.ledger.entry(`capture:${order.body.captures?.[0]?.id ?? (await call(svc.base, `/orders/${awarded.orderId}`, { key: cheap.key })).body.captures[0].id}`);
      expect(entry!.postings.map((x) => [x.accountId, Number(x.amountMinor)]).sort()).toEqual([
        ['broker-fees:USD', -1000], [`merchant-payable:${cheap.id}:USD`, -4000], ['processor-clearing:USD', 5000]]);

      // the buyer app heard it in order
      await vi.waitFor(() => expect(receiver.received.map((r) => r.body.type)).toEqual(
        ['purchase.authorized', 'purchase.awarded', 'purchase.fulfilling']), settle);
      expect(receiver.received.every((r) => r.verified)).toBe(true);
      const events = await call(svc.base, '/events?type=bid_round.lost', { key: dear.key });
      expect(events.body.data.map((e: { data: { roundId: string } }) => e.data.roundId)).toEqual([p.id]);
    } finally {
      await receiver.stop();
    }
  });

  it('a winner that cancels before shipping hands the award to the next bid; nothing is voided or charged twice', async () => {
    const classId = await itemClass({ windowSeconds: 60, enoughBids: 2 });
    const first = await bidder(classId, 'First');
    const second = await bidder(classId, 'Second');
    const app = await buyerApp();
    const p = await purchase(app, classId, 1);
    await bid(first.key, p.id, 1900);
    await bid(second.key, p.id, 2100);
    const awarded = await vi.waitFor(async () => {
      const now = await purchaseNow(app, p.id);
      if (now.state !== 'awarded') throw new Error(now.state);
      return now;
    }, settle);
    expect(awarded.merchantId).toBe(first.id);
    const cancelled = await call(svc.base, `/orders/${awarded.orderId}/cancel`, { method: 'POST', key: first.key, idem: uid() });
    expect(cancelled.status).toBe(200);
    const fallen = await vi.waitFor(async () => {
      const now = await purchaseNow(app, p.id);
      if (now.merchantId !== second.id) throw new Error(String(now.merchantId));
      return now;
    }, settle);
    expect(fallen).toMatchObject({ state: 'awarded', totalMinor: 2500 });
    expect((await call(svc.base, `/bid-rounds/${p.id}`, { key: first.key })).body.outcome).toBe('withdrawn');
    await call(svc.base, `/orders/${fallen.orderId}/shipments`, { key: second.key, idem: uid(),
      body: { items: [{ sku: classId, quantity: 1 }], trackingNumber: 'TRK2' } });
    await vi.waitFor(async () => expect((await purchaseNow(app, p.id)).state).toBe('fulfilling'), settle);
    const [auth] = await svc.admin.authorizationsByReference(`bid-round-${p.id}`);
    expect(auth.voided).toBe(false);
    expect(await svc.admin.capturesByAuthorization(auth.id)).toHaveLength(1);
    expect(await balance(`merchant-payable:${second.id}:USD`)).toBe(-2100);
    expect(await balance(`merchant-payable:${first.id}:USD`)).toBe(0);
  });

  it('a bid one millisecond after the close is refused by the database: 409 round_closed, nothing written', async () => {
    const classId = await itemClass({ windowSeconds: 1 });
    const late = await bidder(classId, 'Late');
    const app = await buyerApp();
    const p = await purchase(app, classId, 1);
    const closesAt = Date.parse((await call(svc.base, `/bid-rounds/${p.id}`, { key: late.key })).body.closesAt);
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt + 1 - Date.now())));
    const r = await bid(late.key, p.id, 1000);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('round_closed');
    expect(await db('bids').where({ round_id: p.id }).count({ n: '*' })).toEqual([{ n: '0' }]);
    // no acceptable bid: reopened once (twice as long), then voided and the customer told; nothing captured
    await vi.waitFor(async () => expect((await purchaseNow(app, p.id)).state).toBe('no_award'), settle);
    const [auth] = await svc.admin.authorizationsByReference(`bid-round-${p.id}`);
    expect(auth.voided).toBe(true);
    expect(await svc.admin.capturesByAuthorization(auth.id)).toHaveLength(0);
  });
});

describe('quote first over HTTP', () => {
  it('bids for the window (an auto-bid among them), a quote of the best plus the margin, accepted and paid exactly', async () => {
    const classId = await itemClass({ kind: 'soft', quoteMarginBps: 1000 });
    const auto = await bidder(classId, 'Auto', 300, { unitPriceMinor: 900, deliveryDays: 0, maxQuantity: null });
    const live = await bidder(classId, 'Live');
    const app = await buyerApp();
    const q = await call(svc.base, '/quotes', { key: app, idem: uid(), body: { itemClass: classId, quantity: 3, customerId: 'cust-q', windowSeconds: 2 } });
    expect(q.status).toBe(201);
    expect(q.body).toMatchObject({ object: 'quote', state: 'open', unitPriceMinor: null });
    await vi.waitFor(async () => expect((await bid(live.key, q.body.id, 800, 1)).status).toBe(201), settle);
    const quoted = await call(svc.base, `/quotes/${q.body.id}?waitSeconds=10`, { key: app });
    expect(quoted.body).toMatchObject({ state: 'quoted', unitPriceMinor: 880, totalMinor: 2640 });
    const token = await tokenizeCard(svc.processor);
    const accepted = await call(svc.base, `/quotes/${q.body.id}/accept`, { key: app, idem: uid(), body: { payment: { token, billingPostalCode: '73301' } } });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ state: 'awarded', merchantId: live.id });
    await vi.waitFor(async () => expect((await call(svc.base, `/quotes/${q.body.id}`, { key: app })).body.state).toBe('fulfilling'), settle);
    const [auth] = await svc.admin.authorizationsByReference(`bid-round-${q.body.id}`);
    expect(auth.amountMinor).toBe(2640);
    expect(await svc.admin.capturesByAuthorization(auth.id)).toEqual([expect.objectContaining({ amountMinor: 2640 })]);
    expect(await balance(`merchant-payable:${live.id}:USD`)).toBe(-2400);
    expect((await call(svc.base, `/bid-rounds/${q.body.id}`, { key: auto.key })).body.outcome).toBe('lost');
  });

  it('a quote accepted one second after it expired: 409 quote_expired, nothing authorized', async () => {
    const classId = await itemClass({ kind: 'soft', quoteLifetimeSeconds: 1 });
    await bidder(classId, 'Auto', 300, { unitPriceMinor: 900, deliveryDays: 0, maxQuantity: null });
    const app = await buyerApp();
    const q = await call(svc.base, '/quotes', { key: app, idem: uid(), body: { itemClass: classId, quantity: 1, customerId: 'cust-x', windowSeconds: 1 } });
    const quoted = (await call(svc.base, `/quotes/${q.body.id}?waitSeconds=10`, { key: app })).body;
    expect(quoted.state).toBe('quoted');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(quoted.quoteExpiresAt) + 1000 - Date.now())));
    const token = await tokenizeCard(svc.processor);
    const r = await call(svc.base, `/quotes/${q.body.id}/accept`, { key: app, idem: uid(), body: { payment: { token, billingPostalCode: '73301' } } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('quote_expired');
    expect(await svc.admin.authorizationsByReference(`bid-round-${q.body.id}`)).toHaveLength(0);
  });
});

describe('bad input, each a clear 4xx with nothing written', () => {
  it('prices, currencies, windows, limits and rounds a merchant may not bid on', async () => {
    const classId = await itemClass({ windowSeconds: 60 });
    const m = await bidder(classId, 'Careful');
    const app = await buyerApp();
    const p = await purchase(app, classId, 1);
    const count = async () => Number((await db('bids').where({ round_id: p.id }).count({ n: '*' }))[0].n);
    const refused = async (r: Promise<{ status: number; body: any }>, status: number, code: string) => {
      const { status: s, body } = await r;
      expect([s, body?.error?.code ?? body]).toEqual([status, code]);
    };
    await refused(bid(m.key, p.id, 0), 400, 'parameter_invalid');
    await refused(bid(m.key, p.id, -5), 400, 'parameter_invalid');
    await refused(call(svc.base, `/bid-rounds/${p.id}/bids`, { key: m.key, body: { unitPriceMinor: 900, currency: 'EUR', deliveryDays: 1 } }), 422, 'currency_mismatch');
    await refused(call(svc.base, `/bid-rounds/${p.id}/bids`, { key: m.key, body: { unitPriceMinor: 25_001, currency: 'USD', deliveryDays: 1 } }), 422, 'price_too_high');
    await refused(call(svc.base, '/bid-rounds/rnd_nope/bids', { key: m.key, body: { unitPriceMinor: 900, currency: 'USD', deliveryDays: 1 } }), 404, 'resource_missing');
    await refused(call(svc.base, `/bid-rounds/${p.id}/bids`, { key: app, body: { unitPriceMinor: 900, currency: 'USD', deliveryDays: 1 } }), 403, 'forbidden');
    expect(await count()).toBe(0);

    const key = uid();
    expect((await bid(m.key, p.id, 2000, 3, key)).status).toBe(201);
    expect((await bid(m.key, p.id, 2000, 3, key)).status).toBe(200); // the same bid again
    await refused(bid(m.key, p.id, 1999, 3, key), 422, 'idempotency_key_reused');
    for (let i = 2; i <= MAX_BIDS_PER_MERCHANT; i++) expect((await bid(m.key, p.id, 2000 - i)).status).toBe(201);
    await refused(bid(m.key, p.id, 1000), 409, 'too_many_bids');
    await refused(bid(m.key, p.id, 2000, 3, key), 409, 'bid_replaced'); // (a retry of the first bid, replaced since)
    await refused(bid(m.key, p.id, 1000, 3, 'not a key!'), 400, 'parameter_invalid');
    const kept = await call(svc.base, `/bid-rounds/${p.id}`, { key: m.key });
    expect(kept.body.yourBid).toMatchObject({ unitPriceMinor: 2000 - MAX_BIDS_PER_MERCHANT, placed: MAX_BIDS_PER_MERCHANT });
    expect(await count()).toBe(1);

    await refused(call(svc.base, '/quotes', { key: app, idem: uid(), body: { itemClass: classId, quantity: 1, customerId: 'c', windowSeconds: 61,
      destination: { country: 'US' } } }), 400, 'parameter_invalid');
    await refused(call(svc.base, '/quotes', { key: app, idem: uid(), body: { itemClass: classId, quantity: 1, customerId: 'c', windowSeconds: 0,
      destination: { country: 'US' } } }), 400, 'parameter_invalid');
    await refused(call(svc.base, '/quotes', { key: app, idem: uid(), body: { itemClass: classId, quantity: 1, customerId: 'c' } }), 422, 'shipping_required');
    await refused(call(svc.base, '/quotes', { key: app, idem: uid(), body: { itemClass: 'no-such-class', quantity: 1, customerId: 'c' } }), 422, 'unknown_item_class');
    await refused(call(svc.base, `/item-classes/${classId}`, { method: 'PUT', key: operator, body: { name: 'x', currency: 'USD', kind: 'hard',
      pricing: { kind: 'list', listPriceMinor: 100 }, minMarginMinor: 100 } }), 422, 'parameter_invalid');
    await refused(call(svc.base, `/item-classes/${classId}`, { method: 'PUT', key: m.key, body: {} }), 403, 'forbidden');
    await refused(call(svc.base, '/item-classes/no-such-class/bidding', { method: 'PUT', key: m.key, body: {} }), 404, 'resource_missing');
    // the broker's own order names are not the merchants' to take (a round's award would find its order taken)
    const order = { customerId: 'c', items: [{ sku: 'x', quantity: 1, unitPriceMinor: 100, kind: 'soft' }], payment: { token: 'tok_x', billingPostalCode: '73301' } };
    await refused(call(svc.base, '/orders', { key: m.key, body: { ...order, clientOrderId: `round-${p.id}-1` } }), 400, 'parameter_invalid');
    await refused(call(svc.base, '/orders', { key: m.key, idem: `cart-${p.id}`, body: order }), 422, 'client_order_id_reserved');
    expect(await db('bid_rounds').where({ requester_id: (await call(svc.base, '/me', { key: app })).body.id }).count({ n: '*' })).toEqual([{ n: '1' }]);
  });
});
