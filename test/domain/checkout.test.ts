// Checkout and cart rules: pricing a session's choices, a session's outcomes, a cart priced across merchants, the
// split of one authorization into each merchant's share, and a price change found at purchase.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cart, type CartLine, CartError, type CatalogItem, lineKey, MAX_CART_LINES, MAX_CART_MERCHANTS, priceCart, reprice, splitAuthorization } from '../../domain/cart';
import { CheckoutError, CheckoutSession, type CheckoutSessionInput, checkSessionRequest, MAX_PAYMENT_ATTEMPTS, priceCheckout } from '../../domain/checkout';
import { DEFAULT_AVS_POLICY } from '../../domain/avs';
import type { MerchantPricing } from '../../domain/pricing';

const address = { line1: '1 Main St', city: 'Springfield', postalCode: '94107', country: 'US', region: 'CA' };
const session = (over: Partial<CheckoutSessionInput> = {}): CheckoutSessionInput => ({
  sessionId: 'cs_1', merchantId: 'm1', merchantName: 'Shop', currency: 'USD',
  items: [{ sku: 'lamp', title: 'Lamp', quantity: 2, unitPriceMinor: 1500, kind: 'hard' }, { sku: 'ebook', title: 'E-book', quantity: 1, unitPriceMinor: 999, kind: 'soft' }],
  shippingOptions: [{ id: 'std', label: 'Standard', priceMinor: 500 }, { id: 'exp', label: 'Express', priceMinor: 1500 }],
  options: [{ id: 'giftwrap', label: 'Gift wrap', priceMinor: 300 }],
  taxRatesBps: { US: 500, 'US-CA': 825 }, successUrl: 'https://shop.example/ok', cancelUrl: 'https://shop.example/cancel',
  expiresAt: new Date(10_000).toISOString(), customerId: 'c1',
  policy: { avsPolicy: DEFAULT_AVS_POLICY, feeBps: 250, reviewTimeoutMs: 1000, processorDeadlineMs: 1000, processorMaxBackoffMs: 1000, reauthLeadMs: 1000, refundWindowMs: 1000 },
  ...over,
});

describe('checkout pricing', () => {
  it('prices items, the chosen shipping, options and tax by destination; a dearer option raises the total by its price and tax', () => {
    const std = priceCheckout(session(), { shippingOptionId: 'std', optionIds: [], address });
    expect(std.itemsMinor).toBe(3999);
    expect(std.shippingMinor).toBe(500);
    expect(std.taxRateBps).toBe(825);
    const exp = priceCheckout(session(), { shippingOptionId: 'exp', optionIds: ['giftwrap'], address });
    expect(exp.totalMinor - std.totalMinor).toBe(1000 + 83 + 300 + 25); // shipping +1000 and its tax, gift wrap 300 and its tax
    expect(exp.lines.find((l) => l.sku === 'option:giftwrap')).toMatchObject({ kind: 'soft', unitPriceMinor: 300 });
    expect(priceCheckout(session(), { shippingOptionId: 'std', optionIds: [], address: { ...address, region: 'NY' } }).taxRateBps).toBe(500);
  });

  it('refuses an unknown shipping option or option, an option twice, and hard goods without an address', () => {
    const code = (fn: () => unknown) => { try { fn(); return 'none'; } catch (e) { return (e as CheckoutError).code; } };
    expect(code(() => priceCheckout(session(), { shippingOptionId: 'nope', optionIds: [], address }))).toBe('unknown_shipping_option');
    expect(code(() => priceCheckout(session(), { shippingOptionId: 'std', optionIds: ['x'], address }))).toBe('unknown_option');
    expect(code(() => priceCheckout(session(), { shippingOptionId: 'std', optionIds: ['giftwrap', 'giftwrap'], address }))).toBe('duplicate_option');
    expect(code(() => priceCheckout(session(), { shippingOptionId: 'std', optionIds: [], address: null }))).toBe('shipping_required');
    expect(code(() => checkSessionRequest(session({ items: [{ sku: 'option:x', title: 'x', quantity: 1, unitPriceMinor: 1, kind: 'soft' }] })))).toBe('parameter_invalid');
    expect(code(() => checkSessionRequest(session({ shippingOptions: [] })))).toBe('shipping_required');
  });
});

describe('a checkout session', () => {
  const pay = { shippingOptionId: 'std', optionIds: [], address, token: 'tok_1', billingPostalCode: '94107' };

  it('completes once: a payment while one decides, or after completion, joins it', () => {
    const s = new CheckoutSession(session());
    expect(s.admitPay(pay, 0)).not.toBeNull();
    s.startAttempt('o1');
    expect(s.admitPay(pay, 0)).toBeNull();
    s.decided('o1', { state: 'authorized_plus_avs', failure: null }, 5);
    expect(s.state).toBe('completed');
    expect(s.admitPay(pay, 20_000)).toBeNull(); // (even after its expiry: the same order)
    expect(s.view()).toMatchObject({ orderId: 'o1', completedAt: new Date(5).toISOString() });
  });

  it('reopens after a decline, fails after the last attempt, and expires when open past its expiry', () => {
    const s = new CheckoutSession(session());
    for (let n = 1; n <= MAX_PAYMENT_ATTEMPTS; n++) {
      s.startAttempt(`o${n}`);
      s.decided(`o${n}`, { state: 'failed_authorization', failure: { code: 'card_declined', message: 'declined' } }, 0);
      expect(s.state).toBe(n < MAX_PAYMENT_ATTEMPTS ? 'open' : 'failed');
    }
    expect(() => s.admitPay(pay, 0)).toThrow(CheckoutError);
    const e = new CheckoutSession(session());
    e.expire(9_999);
    expect(e.state).toBe('open');
    e.expire(10_000);
    expect(e.state).toBe('expired');
    expect(() => e.admitPay(pay, 10_000)).toThrow(/expired/);
  });

  it('a declined attempt decided after the expiry ends the session expired', () => {
    const s = new CheckoutSession(session());
    s.startAttempt('o1');
    s.expire(20_000);
    expect(s.state).toBe('processing');
    s.decided('o1', { state: 'failed_authorization', failure: null }, 20_000);
    expect(s.state).toBe('expired');
  });
});

const line = (merchantId: string, sku: string, unitPriceMinor: number, quantity = 1, kind: 'hard' | 'soft' = 'hard'): CartLine =>
  ({ merchantId, sku, title: sku, unitPriceMinor, currency: 'USD', kind, minQuantity: 1, maxQuantity: 10, imageUrl: null, quantity });
const pricing = (ship: number, taxBps: number): MerchantPricing =>
  ({ currency: 'USD', shippingOptions: [{ id: 'std', label: 'Standard', priceMinor: ship }], taxRatesBps: { US: taxBps } });

describe('a cart across merchants', () => {
  it("prices each merchant's part by its own shipping and tax; the parts add up to the total and to the authorization's shares", () => {
    const lines = [line('a', 'x', 1000, 2), line('b', 'y', 333, 3), line('c', 'z', 500, 1, 'soft')];
    const by: Record<string, MerchantPricing> = { a: pricing(500, 500), b: pricing(250, 0), c: pricing(0, 1000) };
    const { parts, totalMinor } = priceCart(lines, { a: 'std', b: 'std' }, address, (m) => by[m]);
    expect(parts.map((p) => p.priced.totalMinor)).toEqual([2000 + 500 + 100 + 25, 999 + 250, 500 + 50]);
    expect(totalMinor).toBe(parts.reduce((s, p) => s + p.priced.totalMinor, 0));
    expect(splitAuthorization(totalMinor, parts).map((s) => s.amountMinor)).toEqual(parts.map((p) => p.priced.totalMinor));
    expect(() => splitAuthorization(totalMinor - 1, parts)).toThrow();
  });

  it('the shares always add up to the authorized total (random carts)', () => {
    fc.assert(fc.property(fc.array(fc.record({ m: fc.constantFrom('a', 'b', 'c', 'd'), price: fc.integer({ min: 0, max: 100_000 }),
      q: fc.integer({ min: 1, max: 10 }), soft: fc.boolean() }), { minLength: 1, maxLength: 30 }), (raw) => {
      const lines = raw.map((r, i) => line(r.m, `s${i}`, r.price, r.q, r.soft ? 'soft' : 'hard'));
      if (lines.every((l) => l.unitPriceMinor === 0)) return;
      try {
        const { parts, totalMinor } = priceCart(lines, { a: 'std', b: 'std', c: 'std', d: 'std' }, address, () => pricing(100, 725));
        expect(splitAuthorization(totalMinor, parts).reduce((s, p) => s + p.amountMinor, 0)).toBe(totalMinor);
      } catch (e) {
        expect((e as CartError).code).toBe('amount_too_small'); // (a merchant whose part is all free)
      }
    }));
  });

  it('a changed price is taken and reported; an item no longer offered is dropped and reported', () => {
    const lines = [line('a', 'x', 1000), line('b', 'y', 500), line('b', 'gone', 700)];
    const offer = (l: CartLine, over: Partial<CatalogItem> = {}): [string, CatalogItem] =>
      [lineKey(l), { ...l, available: true, ...over }];
    const catalog = new Map([offer(lines[0], { unitPriceMinor: 1200 }), offer(lines[1]), offer(lines[2], { available: false })]);
    const { lines: now, changes } = reprice(lines, catalog);
    expect(now.map((l) => [l.sku, l.unitPriceMinor])).toEqual([['x', 1200], ['y', 500]]);
    expect(changes).toEqual([
      expect.objectContaining({ sku: 'x', change: 'price_changed', oldUnitPriceMinor: 1000, newUnitPriceMinor: 1200 }),
      expect.objectContaining({ sku: 'gone', change: 'unavailable', newUnitPriceMinor: null }),
    ]);
    expect(reprice(lines, new Map()).lines).toEqual([]); // never offered: nothing charged for it
  });

  it('holds at most MAX_CART_LINES lines and MAX_CART_MERCHANTS merchants, one currency, quantities within the offer', () => {
    const cart = new Cart('c', { updatedAtMs: 0 });
    for (let i = 0; i < MAX_CART_MERCHANTS; i++) cart.add(line(`m${i}`, 'x', 1), 1, 0);
    expect(() => cart.add(line('one-more', 'x', 1), 1, 0)).toThrow(/at most 20 merchants/);
    for (let i = cart.lines.length; i < MAX_CART_LINES; i++) cart.add(line('m0', `s${i}`, 1), 1, 0);
    expect(() => cart.add(line('m0', 'past', 1), 1, 0)).toThrow(/at most 100 lines/);
    const small = new Cart('d', { updatedAtMs: 0 });
    small.add(line('a', 'x', 1), 10, 0);
    expect(() => small.add(line('a', 'x', 1), 1, 0)).toThrow(CartError); // 11 > maxQuantity 10
    expect(() => small.add({ ...line('a', 'eur', 1), currency: 'EUR' }, 1, 0)).toThrow(/in USD/);
    small.setQuantity('a/x', 0, 1);
    expect(small.lines).toEqual([]);
  });

  it('a purchase is admitted only for the lines the cart holds now', () => {
    const cart = new Cart('c', { updatedAtMs: 0 });
    cart.add(line('a', 'x', 100), 2, 0);
    cart.add(line('b', 'gone', 100), 1, 0);
    expect(() => cart.admitPurchase([line('a', 'x', 100, 1)], ['b/gone'])).toThrow(/changed/); // another quantity
    expect(() => cart.admitPurchase([line('a', 'x', 100, 2)], [])).toThrow(/changed/); // a line neither bought nor dropped (added since)
    expect(() => cart.admitPurchase([line('a', 'x', 100, 2), line('c', 'new', 1)], ['b/gone'])).toThrow(/changed/); // a line not in the cart
    expect(() => cart.admitPurchase([line('a', 'x', 100, 2)], ['b/gone'])).not.toThrow();
    cart.startPurchase(200, 1);
    expect(() => cart.add(line('a', 'y', 1), 1, 2)).toThrow(/purchasing/);
  });
});
