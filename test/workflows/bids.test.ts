// Bid rounds on the real server with the real activities (the processor simulator over HTTP, PostgreSQL), driven
// through the service the API uses: both variants from request to fulfilment, the round's closes, awards and the
// books (one authorization, one capture, the ledger balanced, the merchant owed its bid, every party told).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemClass, RoundView } from '../../domain/bids';
import type { Services } from '../../services';
import { bidRoundWorkflowId } from '../../workflows/bidRound.contract';
import { shipUpdate } from '../../workflows/order.contract';
import { testApp } from '../support/app';
import { uid } from '../support/env';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { orderHarness, orderLedger, type OrderHarness } from '../support/orders';
import { CARD } from '../support/processor-calls';

let h: OrderHarness;
let services: Services;
let app: string;
beforeAll(async () => {
  h = await orderHarness();
  services = (await testApp(h.database, h.client, { taskQueue: h.taskQueue })).services;
  app = (await h.stores.principals.create('buyer_app', 'Round storefront')).principal.id;
});
afterAll(() => h.close());

const address = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
async function itemClass(over: Partial<ItemClass> = {}): Promise<ItemClass> {
  const c: ItemClass = { id: uid('cls-'), name: 'A lamp', currency: 'USD', kind: 'hard', pricing: { kind: 'list', listPriceMinor: 5000 },
    minMarginMinor: 500, quoteMarginBps: 1000, windowSeconds: 3600, enoughBids: null, quoteLifetimeSeconds: 600, maxQuantity: 10, ...over };
  return (await services.bids.putItemClass(c)).itemClass;
}
async function bidder(c: ItemClass, rating: number, autoBid: { unitPriceMinor: number; deliveryDays: number } | null = null) {
  const { merchant } = await h.stores.merchants.create(uid('Bidder '), { ...MERCHANT_SETTINGS, rating });
  await services.bids.optIn(c.id, merchant.id, autoBid && { ...autoBid, maxQuantity: null });
  return merchant.id;
}
const result = (id: string): Promise<RoundView> => h.client.workflow.getHandle(bidRoundWorkflowId(id)).result();
const row = async (id: string) => (await services.bids.round(id))!;
const told = (roundId: string) => h.db('events').whereRaw(`data->>'roundId' = ?`, [roundId]).orderBy('created_at')
  .select('type', 'merchant_id').then((rs) => rs.map((r) => `${r.type}@${r.merchant_id === app ? 'app' : r.merchant_id}`));
const waitState = async (id: string, states: RoundView['state'][]) => services.bids.waitFor(await row(id), states, 20_000);

describe('sell first', () => {
  it('authorized at the list price; auto-bids enough to close at once; the best wins, ships, and is owed its bid', async () => {
    const c = await itemClass({ enoughBids: 2 });
    const slow = await bidder(c, 500, { unitPriceMinor: 4000, deliveryDays: 9 });
    const fast = await bidder(c, 100, { unitPriceMinor: 4000, deliveryDays: 2 });
    const { round } = await services.bids.purchase(app, uid(), { itemClass: c.id, quantity: 2, customerId: 'c1', shipping: { address },
      payment: { token: await h.tokenize(CARD.approve), billingPostalCode: '94107' } });
    expect(round).toMatchObject({ sale: { unitPriceMinor: 5000, totalMinor: 10_000 } });
    const awarded = await waitState(round.id, ['authorizing', 'open']);
    expect(awarded).toMatchObject({ state: 'awarded', bidCount: 2, awards: [{ merchantId: fast, unitPriceMinor: 4000, deliveryDays: 2 }] });
    const orderId = awarded.awards[0].orderId;
    await h.client.workflow.getHandle(orderId).executeUpdate(shipUpdate, { args: [{ shipmentId: 's1', items: [{ sku: c.id, quantity: 2 }], trackingNumber: 'T1' }] });
    expect(await result(round.id)).toMatchObject({ state: 'fulfilling', awards: [{ outcome: 'fulfilling' }] });

    const [auth] = await h.admin.authorizationsByReference(bidRoundWorkflowId(round.id));
    expect(auth.amountMinor).toBe(10_000);
    expect(await h.admin.capturesByAuthorization(auth.id)).toHaveLength(1);
    const books = await orderLedger(h.db, orderId);
    expect(books.sum).toBe(0n);
    expect(Number((await h.stores.ledger.balance(`merchant-payable:${fast}:USD`)).amountMinor)).toBe(-8000);
    expect((await row(round.id)).state).toBe('fulfilling');
    expect(await told(round.id)).toEqual(expect.arrayContaining(['purchase.authorized@app', `bid_round.opened@${slow}`, `bid_round.opened@${fast}`,
      `bid_round.won@${fast}`, 'purchase.awarded@app', `bid_round.lost@${slow}`, 'purchase.fulfilling@app']));
    // the winning bid is now the class's history: recent_bids pricing takes it
    await services.bids.putItemClass({ ...c, pricing: { kind: 'recent_bids', marginBps: 2000, floorMinor: 1000, ceilingMinor: 9000 } });
    const next = await services.bids.purchase(app, uid(), { itemClass: c.id, quantity: 1, customerId: 'c2', shipping: { address },
      payment: { token: await h.tokenize(CARD.approve), billingPostalCode: '94107' } });
    expect(next.round.sale).toEqual({ unitPriceMinor: 4800, totalMinor: 4800 });
  });

  it('a declined card: the purchase fails, no round opens, nobody is told to bid', async () => {
    const c = await itemClass();
    const m = await bidder(c, 300);
    const { round } = await services.bids.purchase(app, uid(), { itemClass: c.id, quantity: 1, customerId: 'c1', shipping: { address },
      payment: { token: await h.tokenize(CARD.decline), billingPostalCode: '94107' } });
    expect(round).toMatchObject({ state: 'failed', failure: { code: 'card_declined' }, opening: 0 });
    expect(await services.bids.openedTo(round.id, m)).toBe(false);
    expect(await told(round.id)).toEqual(['purchase.authorization_failed@app']);
  });
});

describe('quote first', () => {
  it('quotes the best bid plus the margin; a declined acceptance leaves the quote for another card, which wins it', async () => {
    const c = await itemClass({ kind: 'soft' });
    await bidder(c, 300, { unitPriceMinor: 1200, deliveryDays: 0 });
    const best = await bidder(c, 300, { unitPriceMinor: 1000, deliveryDays: 0 });
    const { round } = await services.bids.quote(app, uid(), { itemClass: c.id, quantity: 1, customerId: 'c1', windowSeconds: 1 });
    const quoted = await waitState(round.id, ['open']);
    expect(quoted).toMatchObject({ state: 'quoted', sale: { unitPriceMinor: 1100, totalMinor: 1100 } });
    const declined = await services.bids.accept(await row(round.id), { payment: { token: await h.tokenize(CARD.decline), billingPostalCode: '94107' }, address: null });
    expect(declined).toMatchObject({ state: 'quoted', failure: { code: 'card_declined' } });
    const accepted = await services.bids.accept(await row(round.id), { payment: { token: await h.tokenize(CARD.approve), billingPostalCode: '94107' }, address: null });
    expect(accepted).toMatchObject({ state: 'awarded', awards: [{ merchantId: best }] });
    expect(await result(round.id)).toMatchObject({ state: 'fulfilling' }); // soft goods: captured as the order starts
    const auths = await h.admin.authorizationsByReference(bidRoundWorkflowId(round.id));
    expect(auths.map((a) => [a.status, a.amountMinor])).toEqual([['declined', 1100], ['approved', 1100]]);
    expect(Number((await h.stores.ledger.balance(`merchant-payable:${best}:USD`)).amountMinor)).toBe(-1000);
  });

  it('no bids: no quote; a quote left alone expires by its timer, and an acceptance is then refused', async () => {
    const empty = await itemClass({ kind: 'soft' });
    const none = await services.bids.quote(app, uid(), { itemClass: empty.id, quantity: 1, customerId: 'c1', windowSeconds: 1 });
    expect(await result(none.round.id)).toMatchObject({ state: 'no_quote', failure: { code: 'no_bids' } });
    const c = await itemClass({ kind: 'soft', quoteLifetimeSeconds: 1 });
    await bidder(c, 300, { unitPriceMinor: 700, deliveryDays: 1 });
    const { round } = await services.bids.quote(app, uid(), { itemClass: c.id, quantity: 1, customerId: 'c1', windowSeconds: 1 });
    expect(await result(round.id)).toMatchObject({ state: 'expired' });
    await expect(services.bids.accept(await row(round.id), { payment: { token: await h.tokenize(CARD.approve), billingPostalCode: '94107' }, address: null }))
      .rejects.toMatchObject({ code: 'quote_expired' });
    expect(await told(round.id)).toEqual(expect.arrayContaining(['quote.ready@app', 'quote.expired@app']));
  });
});
