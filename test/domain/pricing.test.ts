import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyBps, type Destination, type LineItemInput, MAX_LINE_ITEMS, MAX_ORDER_TOTAL_MINOR, MAX_QUANTITY, type MerchantPricing,
  priceOrder, PricingError, taxRateFor, unitsAmount,
} from '../../domain/pricing';

const MERCHANT: MerchantPricing = {
  currency: 'USD',
  shippingOptions: [
    { id: 'standard', label: 'Standard', priceMinor: 500 },
    { id: 'express', label: 'Express', priceMinor: 1500 },
    { id: 'pickup', label: 'Pickup', priceMinor: 0 },
  ],
  taxRatesBps: { US: 500, 'US-CA': 725, 'US-OR': 0, DE: 1900 },
};
const CA: Destination = { country: 'US', region: 'CA' };

const BOOK: LineItemInput = { sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' };
const LAMP: LineItemInput = { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' };
const EBOOK: LineItemInput = { sku: 'ebook', quantity: 1, unitPriceMinor: 1200, kind: 'soft' };

/** Runs a pricing call that must fail and returns what the client sees: the code and the param. */
function pricingError(fn: () => unknown): { code: string; param?: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PricingError);
    const e = err as PricingError;
    return { code: e.code, param: e.param };
  }
  throw new Error('expected a PricingError, got a price');
}

const soft = (sku: string, unitPriceMinor: number, quantity = 1): LineItemInput => ({ sku, quantity, unitPriceMinor, kind: 'soft' });

describe('priceOrder totals', () => {
  it('prices a mixed order with a regional tax rate to the cent', () => {
    // US-CA is 725 bps; tax is per unit, rounded half up:
    //   book  1999 × 0.0725 = 144.9275 → 145 (× 2 units = 290)
    //   lamp  4500 × 0.0725 = 326.25   → 326
    //   ebook 1200 × 0.0725 =  87.00   →  87
    //   shipping 500 × 0.0725 = 36.25  →  36
    // items 2×1999 + 4500 + 1200 = 9698; tax 290 + 326 + 87 + 36 = 739; total 9698 + 500 + 739 = 10937
    const p = priceOrder([BOOK, LAMP, EBOOK], 'standard', CA, MERCHANT);
    expect(p.taxRateBps).toBe(725);
    expect(p.lines.map((l) => [l.sku, l.unitTaxMinor])).toEqual([['book', 145], ['lamp', 326], ['ebook', 87]]);
    expect(p.itemsMinor).toBe(9698);
    expect(p.shippingOptionId).toBe('standard');
    expect(p.shippingMinor).toBe(500);
    expect(p.shippingTaxMinor).toBe(36);
    expect(p.taxMinor).toBe(739);
    expect(p.totalMinor).toBe(10937);
    expect(p.currency).toBe('USD');
    // Every unit plus shipping and its tax is the whole total.
    expect(unitsAmount(p, [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }, { sku: 'ebook', quantity: 1 }])
      + p.shippingMinor + p.shippingTaxMinor).toBe(p.totalMinor);
  });

  it('a region rate beats the country rate, and a country without the region falls back to the country rate', () => {
    expect(taxRateFor(MERCHANT.taxRatesBps, { country: 'US', region: 'CA' })).toBe(725);
    expect(taxRateFor(MERCHANT.taxRatesBps, { country: 'US', region: 'NY' })).toBe(500);
    expect(taxRateFor(MERCHANT.taxRatesBps, { country: 'US' })).toBe(500);
    // A region rate of 0 is a rate, not a missing one: it still beats the country's 500.
    expect(taxRateFor(MERCHANT.taxRatesBps, { country: 'US', region: 'OR' })).toBe(0);
    expect(priceOrder([LAMP], 'standard', { country: 'US', region: 'OR' }, MERCHANT).taxMinor).toBe(0);
    // lamp 4500 × 5% = 225, shipping 500 × 5% = 25
    expect(priceOrder([LAMP], 'standard', { country: 'US', region: 'NY' }, MERCHANT).taxMinor).toBe(250);
  });

  it('an unknown destination pays no tax, and neither does a soft-only order without an address', () => {
    expect(taxRateFor(MERCHANT.taxRatesBps, { country: 'FR', region: 'IDF' })).toBe(0);
    const fr = priceOrder([LAMP], 'standard', { country: 'FR' }, MERCHANT);
    expect(fr).toMatchObject({ taxRateBps: 0, taxMinor: 0, shippingTaxMinor: 0, totalMinor: 5000 });
    const digital = priceOrder([EBOOK], null, null, MERCHANT);
    expect(digital).toMatchObject({ taxRateBps: 0, taxMinor: 0, shippingMinor: 0, shippingOptionId: null, totalMinor: 1200 });
    // With an address, a soft-only order is taxed by it (DE 19%: 1200 × 0.19 = 228).
    expect(priceOrder([EBOOK], null, { country: 'DE' }, MERCHANT).totalMinor).toBe(1428);
  });
});

describe('priceOrder refusals', () => {
  it('needs 1 to MAX_LINE_ITEMS line items', () => {
    expect(pricingError(() => priceOrder([], null, null, MERCHANT))).toEqual({ code: 'parameter_invalid', param: 'items' });
    const many = (n: number) => Array.from({ length: n }, (_, i) => soft(`sku-${i}`, 1));
    expect(priceOrder(many(MAX_LINE_ITEMS), null, null, MERCHANT).lines).toHaveLength(MAX_LINE_ITEMS);
    expect(pricingError(() => priceOrder(many(MAX_LINE_ITEMS + 1), null, null, MERCHANT)))
      .toEqual({ code: 'parameter_invalid', param: 'items' });
  });

  it('refuses a sku that appears twice, naming the second occurrence', () => {
    expect(pricingError(() => priceOrder([soft('a', 1), soft('b', 1), soft('a', 2)], null, null, MERCHANT)))
      .toEqual({ code: 'duplicate_sku', param: 'items.2.sku' });
    expect(priceOrder([soft('a', 1), soft('b', 1)], null, null, MERCHANT).lines).toHaveLength(2);
  });

  it('accepts quantities 1 to MAX_QUANTITY in whole units only', () => {
    expect(priceOrder([soft('a', 1, 1)], null, null, MERCHANT).totalMinor).toBe(1);
    expect(priceOrder([soft('a', 1, MAX_QUANTITY)], null, null, MERCHANT).totalMinor).toBe(MAX_QUANTITY);
    for (const quantity of [0, -1, MAX_QUANTITY + 1, 1.5, Number.NaN]) {
      expect(pricingError(() => priceOrder([soft('ok', 1), soft('a', 1, quantity)], null, null, MERCHANT)))
        .toEqual({ code: 'parameter_invalid', param: 'items.1.quantity' });
    }
  });

  it('accepts a zero unit price but refuses a negative or fractional one', () => {
    expect(priceOrder([soft('free', 0), soft('a', 1)], null, null, MERCHANT).totalMinor).toBe(1);
    for (const unitPriceMinor of [-1, 0.5, Number.POSITIVE_INFINITY]) {
      expect(pricingError(() => priceOrder([soft('a', unitPriceMinor)], null, null, MERCHANT)))
        .toEqual({ code: 'parameter_invalid', param: 'items.0.unitPriceMinor' });
    }
  });

  it('hard goods need a shipping option and an address', () => {
    expect(pricingError(() => priceOrder([LAMP], null, CA, MERCHANT))).toEqual({ code: 'shipping_required', param: 'shipping' });
    expect(pricingError(() => priceOrder([LAMP], 'standard', null, MERCHANT))).toEqual({ code: 'shipping_required', param: 'shipping' });
    expect(priceOrder([LAMP], 'express', CA, MERCHANT).shippingMinor).toBe(1500);
  });

  it('refuses a shipping option the merchant does not offer', () => {
    expect(pricingError(() => priceOrder([LAMP], 'teleport', CA, MERCHANT)))
      .toEqual({ code: 'unknown_shipping_option', param: 'shipping.optionId' });
    expect(priceOrder([LAMP], 'pickup', CA, MERCHANT).shippingMinor).toBe(0);
  });

  it('refuses shipping on an order of soft goods only', () => {
    expect(pricingError(() => priceOrder([EBOOK], 'standard', CA, MERCHANT)))
      .toEqual({ code: 'shipping_not_applicable', param: 'shipping' });
    expect(pricingError(() => priceOrder([EBOOK], 'standard', null, MERCHANT)))
      .toEqual({ code: 'shipping_not_applicable', param: 'shipping' });
    expect(priceOrder([EBOOK], null, CA, MERCHANT).shippingMinor).toBe(0);
  });

  it('allows a total of exactly MAX_ORDER_TOTAL_MINOR and refuses one minor unit more', () => {
    expect(priceOrder([soft('big', MAX_ORDER_TOTAL_MINOR)], null, null, MERCHANT).totalMinor).toBe(MAX_ORDER_TOTAL_MINOR);
    expect(pricingError(() => priceOrder([soft('big', MAX_ORDER_TOTAL_MINOR + 1)], null, null, MERCHANT)))
      .toEqual({ code: 'amount_too_large', param: 'items' });
    // Reached through quantity and tax rather than one price: 10 000 × 1 000 000 = 10^10 is at the limit; 5% tax on it is over.
    expect(priceOrder([soft('many', 1_000_000, MAX_QUANTITY)], null, null, MERCHANT).totalMinor).toBe(MAX_ORDER_TOTAL_MINOR);
    expect(pricingError(() => priceOrder([soft('many', 1_000_000, MAX_QUANTITY)], null, { country: 'US' }, MERCHANT)))
      .toEqual({ code: 'amount_too_large', param: 'items' });
  });

  it('refuses an order that totals 0 and accepts one that totals 1', () => {
    expect(pricingError(() => priceOrder([soft('free', 0)], null, null, MERCHANT))).toEqual({ code: 'amount_too_small', param: 'items' });
    expect(pricingError(() => priceOrder([{ sku: 'free', quantity: 3, unitPriceMinor: 0, kind: 'hard' }], 'pickup', CA, MERCHANT)))
      .toEqual({ code: 'amount_too_small', param: 'items' });
    expect(priceOrder([soft('cent', 1)], null, null, MERCHANT).totalMinor).toBe(1);
    // Free goods with paid shipping are a valid order: 500 + 36 tax.
    expect(priceOrder([{ sku: 'free', quantity: 1, unitPriceMinor: 0, kind: 'hard' }], 'standard', CA, MERCHANT).totalMinor).toBe(536);
  });
});

describe('applyBps', () => {
  it('rounds exactly half a minor unit up and anything less than half down', () => {
    expect(applyBps(1, 5000)).toBe(1); // 0.5 → 1
    expect(applyBps(1, 4999)).toBe(0); // 0.4999 → 0
    expect(applyBps(3, 5000)).toBe(2); // 1.5 → 2
    expect(applyBps(5, 1000)).toBe(1); // 0.5 → 1
    expect(applyBps(25, 1000)).toBe(3); // 2.5 → 3
    expect(applyBps(200, 725)).toBe(15); // 14.5 → 15
    expect(applyBps(199, 725)).toBe(14); // 14.4275 → 14
    expect(applyBps(1999, 725)).toBe(145); // 144.9275 → 145
    expect(applyBps(4500, 725)).toBe(326); // 326.25 → 326
    expect(applyBps(10_000, 250)).toBe(250); // exact
  });

  it('is zero for a zero amount or a zero rate, and the identity at 10 000 bps', () => {
    expect(applyBps(0, 725)).toBe(0);
    expect(applyBps(1999, 0)).toBe(0);
    expect(applyBps(1999, 10_000)).toBe(1999);
  });

  it('is always the integer nearest to amount × bps / 10 000, ties up (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: MAX_ORDER_TOTAL_MINOR }), fc.integer({ min: 0, max: 10_000 }), (amount, bps) => {
      const r = applyBps(amount, bps);
      expect(Number.isInteger(r)).toBe(true);
      // In exact integers: r - 1/2 ≤ amount × bps / 10 000 < r + 1/2
      const scaled = BigInt(amount) * BigInt(bps) * 2n;
      expect(BigInt(r) * 20_000n - 10_000n <= scaled).toBe(true);
      expect(scaled < BigInt(r) * 20_000n + 10_000n).toBe(true);
    }));
  });
});

describe('priceOrder properties', () => {
  const itemsArb = fc.uniqueArray(
    fc.record({
      sku: fc.stringMatching(/^[a-z]{1,6}$/),
      quantity: fc.integer({ min: 1, max: 20 }),
      unitPriceMinor: fc.integer({ min: 1, max: 100_000 }),
      kind: fc.constantFrom<'hard' | 'soft'>('hard', 'soft'),
    }),
    { selector: (i) => i.sku, minLength: 1, maxLength: 10 },
  );
  const merchantArb = fc.record({
    shipPrice: fc.integer({ min: 0, max: 5_000 }),
    countryBps: fc.integer({ min: 0, max: 3_000 }),
    regionBps: fc.integer({ min: 0, max: 3_000 }),
  });
  const destArb = fc.constantFrom<Destination>({ country: 'US', region: 'CA' }, { country: 'US' }, { country: 'FR' });
  // Which shipment each hard unit goes into (at most 10 lines × 20 units).
  const assignmentArb = fc.array(fc.nat(4), { minLength: 200, maxLength: 200 });

  it('any split of the hard units into shipments, plus shipping with its tax once, adds up to the total less the soft goods (property)', () => {
    fc.assert(fc.property(itemsArb, merchantArb, destArb, assignmentArb, (items, mp, dest, assignment) => {
      const m: MerchantPricing = {
        currency: 'USD', shippingOptions: [{ id: 'ship', label: 'Ship', priceMinor: mp.shipPrice }],
        taxRatesBps: { US: mp.countryBps, 'US-CA': mp.regionBps },
      };
      const hasHard = items.some((i) => i.kind === 'hard');
      const p = priceOrder(items, hasHard ? 'ship' : null, dest, m);

      const shipments = new Map<number, Map<string, number>>();
      let unit = 0;
      for (const l of items.filter((i) => i.kind === 'hard')) {
        for (let q = 0; q < l.quantity; q++) {
          const index = assignment[unit++];
          const s = shipments.get(index) ?? new Map<string, number>();
          s.set(l.sku, (s.get(l.sku) ?? 0) + 1);
          shipments.set(index, s);
        }
      }
      const shipped = [...shipments.values()]
        .reduce((sum, s) => sum + unitsAmount(p, [...s].map(([sku, quantity]) => ({ sku, quantity }))), 0);
      const softAmount = unitsAmount(p, items.filter((i) => i.kind === 'soft').map((i) => ({ sku: i.sku, quantity: i.quantity })));
      expect(shipped + p.shippingMinor + p.shippingTaxMinor).toBe(p.totalMinor - softAmount);
    }));
  });

  it('every amount of a priced order is an integer and the total is items + shipping + tax (property)', () => {
    fc.assert(fc.property(itemsArb, merchantArb, destArb, (items, mp, dest) => {
      const m: MerchantPricing = {
        currency: 'USD', shippingOptions: [{ id: 'ship', label: 'Ship', priceMinor: mp.shipPrice }],
        taxRatesBps: { US: mp.countryBps, 'US-CA': mp.regionBps },
      };
      const p = priceOrder(items, items.some((i) => i.kind === 'hard') ? 'ship' : null, dest, m);
      for (const v of [p.itemsMinor, p.shippingMinor, p.shippingTaxMinor, p.taxMinor, p.totalMinor, ...p.lines.map((l) => l.unitTaxMinor)]) {
        expect(Number.isSafeInteger(v)).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
      }
      expect(p.totalMinor).toBe(p.itemsMinor + p.shippingMinor + p.taxMinor);
      expect(p.totalMinor).toBeGreaterThanOrEqual(1);
      expect(p.totalMinor).toBeLessThanOrEqual(MAX_ORDER_TOTAL_MINOR);
    }));
  });
});
