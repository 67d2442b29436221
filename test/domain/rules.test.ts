import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateRules, hasValidWindow, withinCap, type BuyerRules, type PaymentFacts } from '../../domain/rules';

const T0 = Date.parse('2026-11-22T12:00:00Z');
const facts = (f: Partial<PaymentFacts> = {}): PaymentFacts =>
  ({ amountMinor: 5, sellerId: 'sel_a', category: 'news', buyerClass: 'standard', atMs: T0, ...f });

describe('rule-set evaluation', () => {
  it('allows a payment that every rule allows, and hands back the caps', () => {
    const d = evaluateRules({ maxPerPaymentMinor: 5, maxPerDayMinor: 100, allowedSellers: ['sel_a'], allowedCategories: ['news'] },
      { minPriceMinor: 5, acceptedBuyerClasses: ['standard'] }, facts());
    expect(d).toEqual({ allowed: true, caps: { perDayMinor: 100, perPeriodMinor: null } });
  });

  it('refuses at the per-payment limit plus one, allows exactly at it', () => {
    expect(evaluateRules({ maxPerPaymentMinor: 5 }, null, facts({ amountMinor: 5 })).allowed).toBe(true);
    expect(evaluateRules({ maxPerPaymentMinor: 5 }, null, facts({ amountMinor: 6 }))).toMatchObject({ allowed: false, code: 'amount_over_payment_limit', party: 'buyer' });
  });

  it('refuses sellers and categories the buyer did not allow', () => {
    expect(evaluateRules({ allowedSellers: ['sel_b'] }, null, facts())).toMatchObject({ code: 'seller_not_allowed' });
    expect(evaluateRules({ allowedCategories: ['music'] }, null, facts())).toMatchObject({ code: 'category_not_allowed' });
  });

  it("applies the seller's own rules: minimum price and buyer classes", () => {
    expect(evaluateRules({}, { minPriceMinor: 6 }, facts())).toMatchObject({ code: 'price_below_minimum', party: 'seller' });
    expect(evaluateRules({}, { acceptedBuyerClasses: ['premium'] }, facts())).toMatchObject({ code: 'buyer_class_not_accepted', party: 'seller' });
  });

  it('honours validity windows: from is inclusive, until is exclusive', () => {
    const w = { validFrom: new Date(T0).toISOString(), validUntil: new Date(T0 + 1000).toISOString() };
    expect(evaluateRules(w, null, facts({ atMs: T0 })).allowed).toBe(true);
    expect(evaluateRules(w, null, facts({ atMs: T0 - 1 }))).toMatchObject({ code: 'rule_set_not_yet_valid' });
    expect(evaluateRules(w, null, facts({ atMs: T0 + 1000 }))).toMatchObject({ code: 'rule_set_expired' });
    expect(evaluateRules({}, w, facts({ atMs: T0 + 1000 }))).toMatchObject({ code: 'rule_set_expired', party: 'seller' });
  });

  it('a window is empty unless validFrom comes before validUntil; an open end never empties it', () => {
    const at = (ms: number) => new Date(ms).toISOString();
    expect(hasValidWindow({ validFrom: at(T0), validUntil: at(T0 + 1) })).toBe(true);
    expect(hasValidWindow({ validFrom: at(T0), validUntil: at(T0) })).toBe(false);
    expect(hasValidWindow({ validFrom: at(T0 + 1), validUntil: at(T0) })).toBe(false);
    expect(hasValidWindow({ validFrom: at(T0) })).toBe(true);
    expect(hasValidWindow({ validUntil: at(T0) })).toBe(true);
  });

  it('caps: spent plus the amount may reach the cap, not pass it; no cap never refuses', () => {
    expect(withinCap(95, 5, 100)).toBe(true);
    expect(withinCap(96, 5, 100)).toBe(false);
    expect(withinCap(10 ** 12, 5, null)).toBe(true);
  });
});

describe('rule-set evaluation (properties)', () => {
  const buyerRules = fc.record({
    maxPerPaymentMinor: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
    allowedSellers: fc.option(fc.subarray(['sel_a', 'sel_b', 'sel_c']), { nil: undefined }),
    allowedCategories: fc.option(fc.subarray(['news', 'music', 'games']), { nil: undefined }),
  }, { requiredKeys: [] }) as fc.Arbitrary<BuyerRules>;
  const sellerRules = fc.option(fc.record({
    minPriceMinor: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
    acceptedBuyerClasses: fc.option(fc.subarray(['standard', 'premium']), { nil: undefined }),
  }, { requiredKeys: [] }), { nil: null });
  const paymentFacts = fc.record({
    amountMinor: fc.integer({ min: 1, max: 1000 }), sellerId: fc.constantFrom('sel_a', 'sel_b', 'sel_c'),
    category: fc.constantFrom('news', 'music', 'games'), buyerClass: fc.constantFrom('standard', 'premium'), atMs: fc.constant(T0),
  });

  it('allows exactly when each rule, checked on its own, allows', () => {
    fc.assert(fc.property(buyerRules, sellerRules, paymentFacts, (b, s, f) => {
      const each = [
        b.maxPerPaymentMinor === undefined || f.amountMinor <= b.maxPerPaymentMinor,
        !b.allowedSellers || b.allowedSellers.includes(f.sellerId),
        !b.allowedCategories || b.allowedCategories.includes(f.category),
        !s || s.minPriceMinor === undefined || f.amountMinor >= s.minPriceMinor,
        !s || !s.acceptedBuyerClasses || s.acceptedBuyerClasses.includes(f.buyerClass),
      ];
      expect(evaluateRules(b, s, f).allowed).toBe(each.every(Boolean));
    }));
  });

  it('adding a rule never turns a refusal into an allowance (rules only narrow)', () => {
    fc.assert(fc.property(buyerRules, sellerRules, paymentFacts, fc.integer({ min: 0, max: 1000 }), (b, s, f, limit) => {
      if (!evaluateRules(b, s, f).allowed) {
        expect(evaluateRules({ ...b, maxPerPaymentMinor: Math.min(limit, b.maxPerPaymentMinor ?? limit) }, s, f).allowed).toBe(false);
      }
    }));
  });

  it('a sequence of payments admitted by withinCap never sums past the cap', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 100 }), (cap, amounts) => {
      let spent = 0;
      for (const a of amounts) if (withinCap(spent, a, cap)) spent += a;
      expect(spent).toBeLessThanOrEqual(cap);
    }));
  });
});
