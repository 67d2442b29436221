import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBalanced, isCurrency, sumByCurrency, toMinor } from '../../domain/money';

describe('money', () => {
  it('accepts safe integers and bigints only', () => {
    expect(toMinor(1999)).toBe(1999n);
    expect(toMinor(2n ** 70n)).toBe(2n ** 70n);
    for (const bad of [19.99, Number.NaN, Infinity, 2 ** 53]) expect(() => toMinor(bad)).toThrow(RangeError);
  });

  it('knows ISO 4217 code shapes', () => {
    expect(isCurrency('USD')).toBe(true);
    for (const bad of ['usd', 'US', 'USDX', '', 1]) expect(isCurrency(bad)).toBe(false);
  });

  it('balances per currency, never across currencies', () => {
    expect(isBalanced([{ amountMinor: 100, currency: 'USD' }, { amountMinor: -100, currency: 'USD' }])).toBe(true);
    expect(isBalanced([{ amountMinor: 100, currency: 'USD' }, { amountMinor: -100, currency: 'EUR' }])).toBe(false);
  });

  it('any list of amounts plus its negated sum balances (property)', () => {
    fc.assert(fc.property(fc.array(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), { minLength: 1, maxLength: 20 }), (amounts) => {
      const lines = amounts.map((a) => ({ amountMinor: a, currency: 'USD' }));
      const total = sumByCurrency(lines).get('USD')!;
      expect(isBalanced([...lines, { amountMinor: -total, currency: 'USD' }])).toBe(true);
      expect(isBalanced([...lines, { amountMinor: -total + 1n, currency: 'USD' }])).toBe(false);
    }));
  });
});
