// The bid store on PostgreSQL: a bid is taken only while its round is open to its merchant, a bid racing the close is
// either read by it or refused, a close repeated (its worker killed before the workflow recorded it) reads the same bids
// with the same ratings though an operator changed one since, and enough is counted in bids that could win.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemClass } from '../../domain/bids';
import type { BidRequest } from '../../stores/bids';
import { testDatabase, uid } from '../support/env';
import { MERCHANT_SETTINGS } from '../support/order-input';

const { db, stores, close } = testDatabase(4);
const store = stores.bids;
let requester: string;
beforeAll(async () => {
  requester = (await stores.principals.create('buyer_app', 'Bid store storefront')).principal.id;
});
afterAll(() => close());

const itemClass = (): ItemClass => ({ id: uid('cls-'), name: 'A book', currency: 'USD', kind: 'soft', pricing: { kind: 'list', listPriceMinor: 1000 },
  minMarginMinor: 0, quoteMarginBps: 0, windowSeconds: 60, enoughBids: null, quoteLifetimeSeconds: 60, maxQuantity: 10 });

async function openRound(merchants: number, opts: { enoughBids?: number; closesInMs?: number; acceptableMaxMinor?: number } = {}) {
  const c = itemClass();
  await store.putItemClass(c);
  const ids: string[] = [];
  for (let i = 0; i < merchants; i++) {
    const { merchant } = await stores.merchants.create(`Bidder ${i}`, { ...MERCHANT_SETTINGS, rating: 300 });
    await store.optIn(c.id, merchant.id, null, 1000);
    ids.push(merchant.id);
  }
  const id = uid('rnd_');
  await store.claimRound({ id, mode: 'quote_first', itemClassId: c.id, currency: 'USD', quantity: 1, requesterId: requester, idempotencyKey: id,
    requestSha256: Buffer.alloc(32), input: {}, state: 'open', maxUnitPriceMinor: 10_000, enoughBids: opts.enoughBids ?? null,
    acceptableMaxMinor: opts.acceptableMaxMinor ?? null });
  const opened = await store.openRound(id, c.id, 1, new Date(Date.now() + (opts.closesInMs ?? 60_000)), opts.enoughBids ?? null);
  expect(opened.merchants.sort()).toEqual([...ids].sort());
  return { id, merchants: ids };
}
const request = (roundId: string, merchantId: string, unitPriceMinor: number, key = randomUUID()): BidRequest =>
  ({ roundId, merchantId, currency: 'USD', unitPriceMinor, deliveryDays: 2, conditions: null, idempotencyKey: key, requestSha256: Buffer.from(`${unitPriceMinor}`) });

describe('the bid store', () => {
  it('a close repeated after an operator changed a rating reads the ratings of the first close: the same winner', async () => {
    const { id, merchants: [a, b] } = await openRound(2);
    await store.placeBid(request(id, a, 500), 10);
    await store.placeBid(request(id, b, 500), 10);
    await stores.merchants.update(a, { rating: 400 });
    const first = await store.closeRound(id);
    await stores.merchants.update(a, { rating: 100 });
    const again = await store.closeRound(id);
    expect(again).toEqual(first);
    expect(first.find((x) => x.merchantId === a)?.rating).toBe(400);
  });

  it('bids racing the close: each is read by the close or refused as late, none lost', async () => {
    const { id, merchants } = await openRound(8);
    const placing = merchants.map((m, i) => store.placeBid(request(id, m, 100 + i), 10).then(() => m, (err) => {
      expect(err.code).toBe('round_closed');
      return null;
    }));
    const read = await store.closeRound(id);
    const placed = (await Promise.all(placing)).filter((m): m is string => m !== null);
    expect(read.map((b) => b.merchantId).sort()).toEqual(placed.sort());
    await expect(store.placeBid(request(id, merchants[0], 1), 10)).rejects.toMatchObject({ code: 'round_closed' });
  });

  it('enough is counted in bids that could win: one above the acceptable price does not count until replaced below it', async () => {
    const { id, merchants: [a, b, c] } = await openRound(3, { enoughBids: 2, acceptableMaxMinor: 480 });
    expect((await store.placeBid(request(id, a, 500), 10)).enough).toBe(false); // (not acceptable)
    expect((await store.placeBid(request(id, b, 480), 10)).enough).toBe(false);
    expect((await store.placeBid(request(id, a, 470), 10)).enough).toBe(true); // (a's replacement is acceptable now)
    expect((await store.placeBid(request(id, c, 460), 10)).enough).toBe(true);
    const any = await openRound(2, { enoughBids: 2 }); // (quote first: every bid counts)
    expect((await store.placeBid(request(any.id, any.merchants[0], 9000), 10)).enough).toBe(false);
    expect((await store.placeBid(request(any.id, any.merchants[1], 9000), 10)).enough).toBe(true);
  });

  it('a class takes bidders up to its limit, and refuses one past it; one already in may change its auto-bid', async () => {
    const c = itemClass();
    await store.putItemClass(c);
    const [a, b, extra] = await Promise.all([1, 2, 3].map(async (i) => (await stores.merchants.create(`Limit ${i}`, MERCHANT_SETTINGS)).merchant.id));
    expect(await store.optIn(c.id, a, null, 2)).toBe(true);
    expect(await store.optIn(c.id, b, null, 2)).toBe(true);
    expect(await store.optIn(c.id, extra, null, 2)).toBe(false);
    expect(await store.optIn(c.id, b, { unitPriceMinor: 5, deliveryDays: 1, maxQuantity: null }, 2)).toBe(true);
    expect(await db('item_class_bidders').where({ item_class_id: c.id }).orderBy('merchant_id').pluck('merchant_id')).toEqual([a, b].sort());
  });

  it("a merchant's open rounds are read from the open rounds' index, without a sort, among 20,000 closed ones opened to it", async () => {
    const { id: open, merchants: [m] } = await openRound(1);
    const c = (await db('bid_rounds').where({ id: open }).first('item_class_id')).item_class_id;
    await db.raw(`
      INSERT INTO bid_rounds (id, mode, item_class_id, currency, quantity, requester_id, idempotency_key, request_sha256, input, state,
        closes_at, closed_at, max_unit_price_minor)
      SELECT 'rnd_closed_' || g || '_' || ?, 'quote_first', ?, 'USD', 1, ?, 'closed-' || g || '-' || ?, '\\x', '{}', 'no_quote',
        now() - interval '1 hour', now() - interval '1 hour', 10000 FROM generate_series(1, 20000) g`, [open, c, requester, open]);
    await db.raw(`INSERT INTO bid_round_merchants (round_id, merchant_id) SELECT 'rnd_closed_' || g || '_' || ?, ? FROM generate_series(1, 20000) g`, [open, m]);
    await db.raw('ANALYZE bid_rounds; ANALYZE bid_round_merchants');
    const queries: Array<{ sql: string; bindings: unknown[] }> = [];
    const seen = (q: { sql: string; bindings: unknown[] }) => { if (/from "bid_rounds"/.test(q.sql) && /order by/.test(q.sql)) queries.push(q); };
    db.on('query', seen);
    try {
      const page = await store.listRounds({ limit: 10, openTo: m });
      expect(page.data.map((r) => r.id)).toEqual([open]);
    } finally {
      db.off('query', seen);
    }
    const [{ 'QUERY PLAN': plan }] = (await db.raw(`EXPLAIN (FORMAT JSON) ${queries[0].sql.replace(/\$\d+/g, '?')}`, queries[0].bindings as never[])).rows;
    const text = JSON.stringify(plan);
    expect(text, text).toContain('"Index Name":"bid_rounds_open_idx"');
    expect(text, text).not.toContain('"Node Type":"Sort"');
  });

  it('a round not open to the merchant, or past its closing time, refuses the bid; nothing is written', async () => {
    const { id } = await openRound(1, { closesInMs: -1 });
    const { merchant: outsider } = await stores.merchants.create('Outsider', MERCHANT_SETTINGS);
    await expect(store.placeBid(request(id, outsider.id, 500), 10)).rejects.toMatchObject({ code: 'round_not_found' });
    const [m] = (await db('bid_round_merchants').where({ round_id: id })).map((r) => r.merchant_id);
    await expect(store.placeBid(request(id, m, 500), 10)).rejects.toMatchObject({ code: 'round_closed' });
    expect(await db('bids').where({ round_id: id })).toEqual([]);
  });
});
