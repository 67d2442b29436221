// The recording routes accept a well-formed payment without zod (isWellFormedPayment) and leave everything else to
// zod, which names the problem: the two must agree on every body, valid or nearly so.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWellFormedPayment, paymentSchema } from '../../api/routes/micropayments';

const token = 'rst_' + 'A'.repeat(43);
const valid = { clientId: 'c-1:2.x_y', buyerToken: token, sellerToken: token, sellerId: 'mer_abc', itemId: 'a.b-c', currency: 'USD', amountMinor: 5 };

// per field, values that pass and values that fail in the interesting ways
const candidates: Record<string, unknown[]> = {
  clientId: ['c', 'x'.repeat(100), 'x'.repeat(101), '', 'a b', 'a"b', 'é', 7, null],
  buyerToken: [token, token + 'A', 'rst_' + 'A'.repeat(42), 'rst_' + '-'.repeat(43), 'RST_' + 'A'.repeat(43), 1, null],
  sellerToken: [undefined, token, 'rst_x', null, ''],
  sellerId: ['mer_1', 'a'.repeat(100), 'a'.repeat(101), 'a.b', '', 5, null],
  itemId: ['a.b', 'a'.repeat(100), 'a'.repeat(101), 'a:b', '', [], null],
  currency: ['USD', 'usd', 'US', 'USDD', 3, null],
  amountMinor: [undefined, 1, 5, 0, -1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, '5', null, NaN, Infinity],
};
const MISSING = Symbol('missing');
// mostly valid fields, so that one or two odd values (or a missing or extra key) decide the verdict
const field = (k: string) => fc.oneof({ weight: 5, arbitrary: fc.constant((valid as Record<string, unknown>)[k]) },
  { weight: 2, arbitrary: fc.constantFrom(...candidates[k]) }, { weight: 1, arbitrary: fc.constant(MISSING) });
const payment = fc.tuple(fc.record(Object.fromEntries(Object.keys(candidates).map((k) => [k, field(k)]))), fc.integer({ min: 0, max: 9 }))
  .map(([p, extra]) => ({
    ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== MISSING && v !== undefined)),
    ...(extra === 0 ? { extra: 1 } : {}),
  }));

describe('isWellFormedPayment', () => {
  it('agrees with paymentSchema', () => {
    expect(isWellFormedPayment(valid)).toBe(true);
    fc.assert(fc.property(payment, (p) => {
      expect(isWellFormedPayment(p)).toBe(paymentSchema.safeParse(p).success);
    }), { numRuns: 5000 });
  });

  it('agrees on what is not an object at all, and on inherited or odd keys', () => {
    for (const x of [null, undefined, 1, 'x', [], [valid], JSON.parse('{"__proto__": {"a": 1}}'), Object.create({ extra: 1 })]) {
      expect(isWellFormedPayment(x)).toBe(paymentSchema.safeParse(x).success);
    }
    const inherited = Object.assign(Object.create({ extra: 1 }), valid);
    expect(isWellFormedPayment(inherited)).toBe(paymentSchema.safeParse(inherited).success);
  });
});
