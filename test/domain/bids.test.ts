// Bid round rules: the sale price by the class's criteria, which bids are acceptable and which wins (never a dominated
// bid, ties decided the same way whatever order the bids came in), what a close, an acceptance, an expiry and a
// withdrawal do to a round, and a supply-priced order's fee (the broker's spread) on captures and refunds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AVS_POLICY } from '../../domain/avs';
import {
  type Bid, BidRound, BidRoundError, checkRoundRequest, compareBids, type ItemClass, quoteUnitPrice, rankBids, roundMaxUnitPrice,
  roundDetails, roundPriced, type RoundTerms, saleUnitPrice,
} from '../../domain/bids';
import { Order, type OrderInput } from '../../domain/order';
import { MAX_ORDER_TOTAL_MINOR } from '../../domain/pricing';

const itemClass = (over: Partial<ItemClass> = {}): ItemClass => ({
  id: 'isbn-1', name: 'A novel', currency: 'USD', kind: 'hard', pricing: { kind: 'list', listPriceMinor: 2500 }, minMarginMinor: 200,
  quoteMarginBps: 1000, windowSeconds: 60, enoughBids: null, quoteLifetimeSeconds: 600, maxQuantity: 10, ...over,
});
const terms = (over: Partial<RoundTerms> = {}): RoundTerms => ({
  roundId: 'rnd_1', mode: 'sell_first', itemClass: itemClass(), quantity: 2, requesterId: 'app_1', customerId: 'c1', saleUnitPriceMinor: 2500,
  windowMs: 60_000, ...over,
});
let seq = 0;
const bid = (merchantId: string, unitPriceMinor: number, deliveryDays = 3, rating = 300, s = ++seq): Bid =>
  ({ merchantId, unitPriceMinor, deliveryDays, rating, seq: s, conditions: null });
const orderId = (m: string, n: number) => `order-${m}-round-rnd_1-${n}`;

describe('the sale price', () => {
  it('a list price as it is; recent winning bids: their median plus the margin, within the floor and the ceiling', () => {
    expect(saleUnitPrice({ kind: 'list', listPriceMinor: 2500 }, [1, 2, 3])).toBe(2500);
    const recent = { kind: 'recent_bids' as const, marginBps: 1000, floorMinor: 1000, ceilingMinor: 3000 };
    expect(saleUnitPrice(recent, [])).toBe(3000); // no history yet: the ceiling
    expect(saleUnitPrice(recent, [2000, 1800, 2200])).toBe(2200); // median 2000 + 10%
    expect(saleUnitPrice(recent, [2000, 1800])).toBe(2090); // median of two: 1900, + 10%
    expect(saleUnitPrice(recent, [500, 600, 700])).toBe(1000); // the floor
    expect(saleUnitPrice(recent, [5000])).toBe(3000); // the ceiling
  });

  it('is always within the floor and ceiling, and never below the median', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 10_000 }),
      fc.integer({ min: 1, max: 500_000 }), fc.integer({ min: 0, max: 500_000 }), (bids, marginBps, floorMinor, span) => {
        const pricing = { kind: 'recent_bids' as const, marginBps, floorMinor, ceilingMinor: floorMinor + span };
        const p = saleUnitPrice(pricing, bids);
        expect(p).toBeGreaterThanOrEqual(floorMinor);
        expect(p).toBeLessThanOrEqual(floorMinor + span);
        const sorted = [...bids].sort((a, b) => a - b);
        if (p < floorMinor + span) expect(p).toBeGreaterThanOrEqual(sorted[(sorted.length - 1) >> 1]);
      }));
  });

  it('a round refuses bids above ten times the reference price, and any whose total (quote first: with the margin) no order could carry', () => {
    expect(roundMaxUnitPrice(itemClass(), 2, 2500)).toBe(25_000);
    expect(roundMaxUnitPrice(itemClass({ pricing: { kind: 'recent_bids', marginBps: 0, floorMinor: 10, ceilingMinor: 700 } }), 1, null)).toBe(7000);
    // quote first: the bid plus the broker's 10 % must still be an order's total
    const big = itemClass({ pricing: { kind: 'list', listPriceMinor: MAX_ORDER_TOTAL_MINOR } });
    const most = roundMaxUnitPrice(big, 4, null);
    expect(most).toBe(Math.floor((MAX_ORDER_TOTAL_MINOR / 4) * 10_000 / 11_000));
    expect(quoteUnitPrice(most, big.quoteMarginBps) * 4).toBeLessThanOrEqual(MAX_ORDER_TOTAL_MINOR);
    expect(roundMaxUnitPrice(big, 4, MAX_ORDER_TOTAL_MINOR)).toBe(MAX_ORDER_TOTAL_MINOR / 4); // (sell first: the sale is the total)
  });

  it('the order of an award is one line at the unit price: no separate shipping or tax', () => {
    expect(roundPriced(itemClass(), 3, 2500)).toMatchObject({ totalMinor: 7500, shippingOptionId: 'included', shippingMinor: 0, taxMinor: 0,
      lines: [{ sku: 'isbn-1', quantity: 3, unitPriceMinor: 2500, unitTaxMinor: 0, kind: 'hard' }] });
    expect(roundPriced(itemClass({ kind: 'soft' }), 1, 10).shippingOptionId).toBeNull();
  });

  it('a request is checked against its class: quantity, and an address exactly for goods that ship', () => {
    expect(() => checkRoundRequest(itemClass(), 11, true)).toThrow(/quantity must be 1 to 10/);
    expect(() => checkRoundRequest(itemClass(), 0, true)).toThrow(BidRoundError);
    expect(() => checkRoundRequest(itemClass(), 1, false)).toThrow(/shipping address is required/);
    expect(() => checkRoundRequest(itemClass({ kind: 'soft' }), 1, true)).toThrow(/does not ship/);
    expect(() => checkRoundRequest(itemClass(), 10, true)).not.toThrow();
  });
});

describe('selection', () => {
  it('lowest price, then fastest delivery, then best rating, then earliest bid, then merchant id', () => {
    const ranked = rankBids([bid('e', 900, 3, 300, 5), bid('d', 900, 3, 300, 4), bid('c', 900, 3, 400, 9), bid('b', 900, 2, 100, 8),
      bid('a', 800, 9, 0, 7), bid('z', 900, 3, 300, 4)], null);
    expect(ranked.map((b) => b.merchantId)).toEqual(['a', 'b', 'c', 'd', 'z', 'e']);
  });

  it('only bids at or below the most a round accepts are ranked', () => {
    expect(rankBids([bid('a', 2301), bid('b', 2300), bid('c', 100)], 2300).map((b) => b.merchantId)).toEqual(['c', 'b']);
  });

  const bids = fc.uniqueArray(fc.record({ merchantId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), unitPriceMinor: fc.integer({ min: 1, max: 20 }),
    deliveryDays: fc.integer({ min: 0, max: 5 }), rating: fc.integer({ min: 0, max: 3 }).map((r) => r * 100), seq: fc.integer({ min: 1, max: 50 }),
    conditions: fc.constant(null) }), { minLength: 1, maxLength: 8, selector: (b) => b.merchantId });

  it('the winner is never dominated: no other acceptable bid is as good on every criterion and better on one', () => {
    fc.assert(fc.property(bids, fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }), (all, max) => {
      const [winner] = rankBids(all, max);
      if (!winner) expect(all.every((b) => max !== null && b.unitPriceMinor > max)).toBe(true);
      else for (const b of all.filter((x) => x !== winner && (max === null || x.unitPriceMinor <= max))) {
        const noWorse = b.unitPriceMinor <= winner.unitPriceMinor && b.deliveryDays <= winner.deliveryDays && b.rating >= winner.rating;
        const better = b.unitPriceMinor < winner.unitPriceMinor || b.deliveryDays < winner.deliveryDays || b.rating > winner.rating;
        expect(noWorse && better).toBe(false);
      }
    }));
  });

  it('ties are decided the same way whatever order the bids arrive in (a total order)', () => {
    fc.assert(fc.property(bids, fc.integer(), (all, seed) => {
      const shuffled = [...all].sort((x, y) => ((x.merchantId.charCodeAt(0) * 7919 + seed) % 13) - ((y.merchantId.charCodeAt(0) * 7919 + seed) % 13));
      expect(rankBids(shuffled, null)).toEqual(rankBids(all, null));
      for (const x of all) for (const y of all) expect(Math.sign(compareBids(x, y)) + Math.sign(compareBids(y, x))).toBe(0);
    }));
  });
});

describe('a sell-first round', () => {
  it('authorized, opened, closed with acceptable bids: the best is awarded its order; its capture makes it fulfilling', () => {
    const r = new BidRound(terms());
    expect(r.state).toBe('authorizing');
    r.authorized('auth_1');
    expect(r.opened(1000)).toBe(61_000);
    expect(roundDetails(r.view())).toBe('open until 1970-01-01T00:01:01.000Z: 0 bids, 0 awards, sale $50.00');
    expect(r.closed([bid('dear', 2301), bid('ok', 2300, 5), bid('fast', 2300, 1)], 61_000)).toBe('award');
    const award = r.nextAward(orderId)!;
    expect(award).toMatchObject({ merchantId: 'fast', supplyUnitMinor: { 'isbn-1': 2300 }, priced: { totalMinor: 5000 } });
    expect(roundDetails(r.view())).toBe('awarded: 3 bids, 1 award, sale $50.00');
    expect(r.view()).toMatchObject({ state: 'awarded', bidCount: 3, sale: { unitPriceMinor: 2500, totalMinor: 5000 },
      awards: [{ merchantId: 'fast', orderId: orderId('fast', 1), outcome: 'awaiting_fulfilment' }] });
    expect(r.orderReported('order-other', 'captured')).toBe(false);
    expect(r.orderReported(orderId('fast', 1), 'captured')).toBe(true);
    expect(r.isFinal).toBe(true);
    expect(r.losers()).toEqual(['dear', 'ok']);
  });

  it('a winner that hands its share back: the next acceptable bid is awarded; with none left the round ends, nothing charged', () => {
    const r = new BidRound(terms());
    r.authorized('auth_1');
    r.opened(0);
    r.closed([bid('a', 2000), bid('b', 2100), bid('c', 2400)], 60_000);
    r.nextAward(orderId);
    r.orderReported(orderId('a', 1), 'released');
    expect(r.nextAward(orderId)).toMatchObject({ merchantId: 'b' });
    expect(r.award).toMatchObject({ orderId: orderId('b', 2) });
    r.orderReported(orderId('b', 2), 'released');
    expect(r.nextAward(orderId)).toBeNull(); // c's 2400 is above the sale less the margin
    expect(r.view()).toMatchObject({ state: 'no_award', failure: { code: 'awards_released' } });
    expect(roundDetails(r.view())).toBe('no_award: awards_released');
    expect(r.losers()).toEqual(['c']);
  });

  it('an award whose order voided the authorization itself (its owner unheard, or a capture in doubt) ends the round', () => {
    const r = new BidRound(terms());
    r.authorized('auth_1');
    r.opened(0);
    r.closed([bid('a', 2000), bid('b', 2100)], 60_000);
    r.nextAward(orderId);
    expect(r.orderReported(orderId('a', 1), 'voided')).toBe(true);
    expect(r.view()).toMatchObject({ state: 'no_award', failure: { code: 'award_voided' } });
    expect(r.nextAward(orderId)).toBeNull();
  });

  it('no acceptable bid: reopened once for twice the window, then no award', () => {
    const r = new BidRound(terms());
    r.authorized('auth_1');
    r.opened(0);
    expect(r.closed([bid('a', 2400)], 60_000)).toBe('reopen');
    expect(r.opened(60_000)).toBe(180_000);
    expect(r.view()).toMatchObject({ state: 'open', opening: 2, closedAt: null });
    expect(r.closed([], 180_000)).toBe('no_award');
    expect(r.view()).toMatchObject({ state: 'no_award', failure: { code: 'no_acceptable_bid' } });
  });

  it('a declined card fails the purchase', () => {
    const r = new BidRound(terms());
    r.authorizationFailed('card_declined', 'declined');
    expect(r.view()).toMatchObject({ state: 'failed', failure: { code: 'card_declined' } });
  });
});

describe('a quote-first round', () => {
  const quoteFirst = () => new BidRound(terms({ mode: 'quote_first', saleUnitPriceMinor: null, windowMs: 5000 }));

  it('quotes the best bid plus the margin; accepted while valid, refused once expired', () => {
    const r = quoteFirst();
    expect(() => r.admitAccept(0)).toThrow(expect.objectContaining({ code: 'quote_not_ready' }));
    r.opened(0);
    expect(r.closed([bid('a', 1000), bid('b', 900, 9)], 5000)).toBe('quoted');
    expect(r.view()).toMatchObject({ state: 'quoted', sale: { unitPriceMinor: quoteUnitPrice(900, 1000), totalMinor: 1980 },
      quoteExpiresAt: new Date(605_000).toISOString() });
    expect(r.admitAccept(604_999)).toBe('accept');
    expect(() => r.admitAccept(605_000)).toThrow(expect.objectContaining({ code: 'quote_expired' }));
    expect(r.expire(604_999)).toBe(false);
    expect(r.expire(605_000)).toBe(true);
    expect(() => r.admitAccept(0)).toThrow(expect.objectContaining({ code: 'quote_expired' }));
    expect(r.losers()).toEqual(['a', 'b']);
  });

  it('an acceptance declined leaves the quote standing for another card; a repeat while accepting answers the same', () => {
    const r = quoteFirst();
    r.opened(0);
    r.closed([bid('a', 1000)], 5000);
    r.accepting();
    expect(r.admitAccept(6000)).toBe('answered');
    r.authorizationFailed('card_declined', 'declined');
    expect(r.view()).toMatchObject({ state: 'quoted', failure: { code: 'card_declined' } });
    r.accepting();
    r.authorized('auth_2');
    expect(r.nextAward(orderId)).toMatchObject({ merchantId: 'a', priced: { totalMinor: 2200 } });
  });

  it('no bids: no quote; a fall-through bid must be covered by the quoted price', () => {
    const none = quoteFirst();
    none.opened(0);
    expect(none.closed([], 5000)).toBe('no_quote');
    expect(() => none.admitAccept(5000)).toThrow(expect.objectContaining({ code: 'no_quote' }));
    const r = quoteFirst();
    r.opened(0);
    r.closed([bid('a', 1000), bid('b', 1100), bid('c', 1101)], 5000); // quoted 1100
    r.nextAward(orderId);
    r.orderReported(orderId('a', 1), 'released');
    expect(r.nextAward(orderId)).toMatchObject({ merchantId: 'b' });
    r.orderReported(orderId('b', 2), 'released');
    expect(r.nextAward(orderId)).toBeNull();
  });
});

describe("a supply-priced order's fee is the broker's spread", () => {
  const input = (): OrderInput => ({
    orderId: 'o1', merchantId: 'm1', customerId: 'c1', clientOrderId: 'round-rnd_1-1', priced: roundPriced(itemClass(), 3, 2500),
    shipping: { optionId: 'included', address: { line1: '1 Main', city: 'Austin', postalCode: '73301', country: 'US' } },
    payment: { token: 'tok_1', billingPostalCode: '73301' },
    policy: { avsPolicy: DEFAULT_AVS_POLICY, feeBps: 250, reviewTimeoutMs: 1, processorDeadlineMs: 1, processorMaxBackoffMs: 1, reauthLeadMs: 1, refundWindowMs: 1e9 },
    supplyUnitMinor: { 'isbn-1': 2100 },
  });

  it('each capture keeps what is not owed to the merchant; refunds give the spread back in proportion, never more than taken', () => {
    const o = new Order(input());
    o.authorized({ id: 'a1', amountMinor: 7500, avsCode: 'Y', expiresAt: new Date(1e12).toISOString() }, 'accept', 0);
    const c1 = o.captured({ id: 'c1', authorizationId: 'a1', amountMinor: 5000, shipmentId: 's1', units: [{ sku: 'isbn-1', quantity: 2 }] }, 0);
    const c2 = o.captured({ id: 'c2', authorizationId: 'a1', amountMinor: 2500, shipmentId: 's2', units: [{ sku: 'isbn-1', quantity: 1 }] }, 0);
    expect([c1.feeMinor, c2.feeMinor]).toEqual([800, 400]);
    expect(o.allocateRefund(2500)).toEqual([{ captureId: 'c2', amountMinor: 2500, feeMinor: 400 }]);
    expect(o.allocateRefund(1001)).toEqual([{ captureId: 'c2', amountMinor: 1001, feeMinor: 160 }]);
  });
});
