import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AVS_POLICY } from '../../domain/avs';
import { AUTHENTICATION_FAILURE, Order, orderCommand, orderDetails, type OrderInput, type OrderPolicy, OrderRuleError, orderSummary, type Units } from '../../domain/order';
import { type LineItemInput, type MerchantPricing, priceOrder, type PricedOrder } from '../../domain/pricing';
import { CONFIRMATION_FAILURE } from '../../domain/confirmation';

const MERCHANT: MerchantPricing = {
  currency: 'USD',
  shippingOptions: [{ id: 'standard', label: 'Standard', priceMinor: 500 }],
  taxRatesBps: { US: 500, 'US-CA': 725 },
};
const BOOK: LineItemInput = { sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' };
const LAMP: LineItemInput = { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' };
const EBOOK: LineItemInput = { sku: 'ebook', quantity: 1, unitPriceMinor: 1200, kind: 'soft' };

// US-CA 725 bps, per unit: book 1999 + 145 = 2144, lamp 4500 + 326 = 4826, ebook 1200 + 87 = 1287,
// shipping 500 + 36 = 536. Total 2 × 2144 + 4826 + 1287 + 536 = 10937.
const PRICED = priceOrder([BOOK, LAMP, EBOOK], 'standard', { country: 'US', region: 'CA' }, MERCHANT);
const BOOK_UNIT = 2144;
const LAMP_UNIT = 4826;
const EBOOK_UNIT = 1287;
const SHIPPING = 536;
const TOTAL = 10937;

const POLICY: OrderPolicy = {
  avsPolicy: DEFAULT_AVS_POLICY, feeBps: 250, reviewTimeoutMs: 60_000, processorDeadlineMs: 60_000,
  processorMaxBackoffMs: 1_000, reauthLeadMs: 60_000, refundWindowMs: 2_000,
};
const EXPIRES = '2030-01-08T00:00:00.000Z';
const EXPIRES_MS = Date.parse(EXPIRES);
/** When the fixture's events happen (the order reads no clock). */
const AT_MS = Date.parse('2029-12-01T00:00:00.000Z');

function input(priced: PricedOrder = PRICED, policy: Partial<OrderPolicy> = {}): OrderInput {
  return {
    orderId: 'ord_1', merchantId: 'mer_1', customerId: 'cus_1', clientOrderId: 'client-1', priced,
    shipping: priced.shippingOptionId
      ? { optionId: priced.shippingOptionId, address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' } }
      : null,
    payment: { token: 'tok_1', billingPostalCode: '94107' },
    policy: { ...POLICY, ...policy },
  };
}

function authorizedOrder(decision: 'accept' | 'review' = 'accept', priced: PricedOrder = PRICED, policy: Partial<OrderPolicy> = {}): Order {
  const o = new Order(input(priced, policy));
  o.authorized({ id: 'auth_1', amountMinor: priced.totalMinor, avsCode: decision === 'accept' ? 'Y' : 'A', expiresAt: EXPIRES }, decision, AT_MS);
  return o;
}

/** What the workflow does for soft goods once authorized: one capture of their units. */
function captureSoft(o: Order): number {
  const amount = o.softUnits().reduce((s, u) => {
    const l = o.priced.lines.find((x) => x.sku === u.sku)!;
    return s + (l.unitPriceMinor + l.unitTaxMinor) * u.quantity;
  }, 0);
  const auth = o.assertCapturable(amount);
  o.captured({ id: 'cap_soft', authorizationId: auth.id, amountMinor: amount, shipmentId: null, units: [] }, AT_MS);
  o.softGoodsCaptured();
  return amount;
}

/** What the workflow does for a shipment: check, capture, record. */
function ship(o: Order, id: string, items: Units[]): number {
  const amount = o.shipmentAmount(items);
  const auth = o.assertCapturable(amount);
  const c = o.captured({ id: `cap_${id}`, authorizationId: auth.id, amountMinor: amount, shipmentId: id, units: [] }, AT_MS);
  o.shipped({ id, items, trackingNumber: `TRK-${id}`, amountMinor: amount, captureId: c.id });
  return amount;
}

/** What the workflow does for a refund or return: check, split over captures, record. */
function refund(o: Order, id: string, req: { kind: 'refund' | 'return'; amountMinor?: number; items?: Units[] }): number {
  const amount = o.refundAmount(req);
  const parts = o.allocateRefund(amount);
  o.refunded({ id, kind: req.kind, amountMinor: amount, items: req.items ?? null,
    parts: parts.map((p) => ({ ...p, processorRefundId: `re_${id}_${p.captureId}` })) });
  return amount;
}

/** Runs a rule check that must fail and returns the code and param a client sees. */
function ruleError(fn: () => unknown): { code: string; param?: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OrderRuleError);
    const e = err as OrderRuleError;
    return e.param === undefined ? { code: e.code } : { code: e.code, param: e.param };
  }
  throw new Error('expected an OrderRuleError, the rule allowed it');
}

describe('Order authorization states', () => {
  it('the fixture order totals what the hand computation says', () => {
    expect(PRICED.totalMinor).toBe(TOTAL);
    expect(2 * BOOK_UNIT + LAMP_UNIT + EBOOK_UNIT + SHIPPING).toBe(TOTAL);
  });

  it('starts confirmed; an accepted AVS authorization makes it authorized_plus_avs with an active authorization', () => {
    const o = new Order(input());
    expect(o.state).toBe('confirmed');
    expect(o.authorization).toBeUndefined();
    o.authorized({ id: 'auth_1', amountMinor: TOTAL, avsCode: 'Y', expiresAt: EXPIRES }, 'accept', AT_MS);
    expect(o.state).toBe('authorized_plus_avs');
    expect(o.authorization).toEqual({ id: 'auth_1', amountMinor: TOTAL, avsCode: 'Y', expiresAt: EXPIRES, status: 'active' });
    expect(o.isFinal).toBe(false);
  });

  it('an AVS decision of review makes it authorized_minus_avs, not authorized_plus_avs, asking for attention until decided', () => {
    const o = authorizedOrder('review');
    expect(o.state).toBe('authorized_minus_avs');
    expect(o.authorization?.status).toBe('active');
    expect(o.review).toBeNull();
    expect(o.view()).toMatchObject({ needsAttention: true, attentionReasons: ['avs_review'],
      reviewDeadline: new Date(AT_MS + POLICY.reviewTimeoutMs).toISOString() });
    o.reviewed('approve');
    expect(o.review).toEqual({ decision: 'approve' });
    expect(o.state).toBe('authorized_minus_avs');
    expect(o.view()).toMatchObject({ needsAttention: false, attentionReasons: [] });
    const timedOut = authorizedOrder('review');
    timedOut.reviewed('timeout');
    expect(timedOut.needsAttention).toBe(false);
  });

  it('a failed authorization is final and records why; an approved one records no failure', () => {
    const o = new Order(input());
    o.authorizationFailed('card_declined', 'The card was declined (card_declined)');
    expect(o.state).toBe('failed_authorization');
    expect(o.failure).toEqual({ code: 'card_declined', message: 'The card was declined (card_declined)' });
    expect(o.isFinal).toBe(true);
    expect(authorizedOrder().failure).toBeNull();
  });

  it('a failed authorization during a processor outage leaves the outage state behind', () => {
    const o = new Order(input());
    o.enterAwaitingProcessor();
    o.authorizationFailed('processor_unreachable', 'unreachable');
    expect(o.state).toBe('failed_authorization');
    expect(o.settledState).toBe('failed_authorization');
  });

  it('voiding before any capture makes the order voided, with a failure unless the merchant cancelled', () => {
    const rejected = authorizedOrder('review');
    rejected.voided('review_rejected', 'An operator rejected the order in AVS review');
    expect(rejected.state).toBe('voided');
    expect(rejected.isFinal).toBe(true);
    expect(rejected.authorizations[0].status).toBe('voided');
    expect(rejected.authorization).toBeUndefined();
    expect(rejected.failure).toEqual({ code: 'review_rejected', message: 'An operator rejected the order in AVS review' });

    const cancelled = authorizedOrder();
    cancelled.voided('cancelled', 'Cancelled by the merchant');
    expect(cancelled.state).toBe('voided');
    expect(cancelled.failure).toBeNull();
  });

  it('voiding after a capture voids the authorization but keeps the order in its shipping state', () => {
    const o = authorizedOrder();
    captureSoft(o);
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    o.voided('cancelled', 'Cancelled by the merchant');
    expect(o.state).toBe('partially_shipped');
    expect(o.isFinal).toBe(false);
    expect(o.failure).toBeNull();
    expect(o.authorizations[0].status).toBe('voided');
    expect(o.authorization).toBeUndefined();
    // Nothing more ships on a voided authorization.
    expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity: 1 }]))).toEqual({ code: 'order_not_shippable' });
  });

  it('an outage shows awaiting_processor and leaving it restores the state before it', () => {
    const o = authorizedOrder();
    o.enterAwaitingProcessor();
    expect(o.state).toBe('awaiting_processor');
    expect(o.settledState).toBe('authorized_plus_avs');
    o.enterAwaitingProcessor(); // a second failed call in the same outage does not lose the state before it
    expect(o.settledState).toBe('authorized_plus_avs');
    o.leaveAwaitingProcessor();
    expect(o.state).toBe('authorized_plus_avs');
    expect(o.settledState).toBe('authorized_plus_avs');
    o.leaveAwaitingProcessor(); // leaving when not in an outage changes nothing
    expect(o.state).toBe('authorized_plus_avs');
  });

  it('an outage before authorization settles to confirmed and an authorization ends it', () => {
    const o = new Order(input());
    o.enterAwaitingProcessor();
    expect(o.state).toBe('awaiting_processor');
    expect(o.settledState).toBe('confirmed');
    o.authorized({ id: 'auth_1', amountMinor: TOTAL, avsCode: 'Y', expiresAt: EXPIRES }, 'accept', AT_MS);
    expect(o.state).toBe('authorized_plus_avs');

    const shipping = authorizedOrder();
    ship(shipping, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    shipping.enterAwaitingProcessor();
    expect(shipping.settledState).toBe('partially_shipped');
    // Rules look through the outage to the settled state.
    expect(shipping.shipmentAmount([{ sku: 'book', quantity: 1 }])).toBe(BOOK_UNIT);
    shipping.leaveAwaitingProcessor();
    expect(shipping.state).toBe('partially_shipped');
  });
});

describe('Order.shipmentAmount', () => {
  it('the first shipment carries shipping and its tax, later ones only their units, and all add up to the total', () => {
    const o = authorizedOrder();
    const soft = captureSoft(o);
    expect(soft).toBe(EBOOK_UNIT);
    expect(o.shipmentAmount([{ sku: 'book', quantity: 1 }])).toBe(BOOK_UNIT + SHIPPING);
    const first = ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    expect(first).toBe(2680);
    const second = ship(o, 'shp_2', [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
    expect(second).toBe(BOOK_UNIT + LAMP_UNIT);
    expect(soft + first + second).toBe(TOTAL);
    expect(o.capturedMinor).toBe(TOTAL);
  });

  it('refuses a shipment before authorization and after the order failed or was voided (order_not_shippable)', () => {
    const items = [{ sku: 'book', quantity: 1 }];
    expect(ruleError(() => new Order(input()).shipmentAmount(items))).toEqual({ code: 'order_not_shippable' });
    const outage = new Order(input());
    outage.enterAwaitingProcessor();
    expect(ruleError(() => outage.shipmentAmount(items))).toEqual({ code: 'order_not_shippable' });
    const failed = new Order(input());
    failed.authorizationFailed('card_declined', 'declined');
    expect(ruleError(() => failed.shipmentAmount(items))).toEqual({ code: 'order_not_shippable' });
    const voided = authorizedOrder();
    voided.voided('cancelled', 'cancelled');
    expect(ruleError(() => voided.shipmentAmount(items))).toEqual({ code: 'order_not_shippable' });
    expect(authorizedOrder().shipmentAmount(items)).toBe(BOOK_UNIT + SHIPPING);
  });

  it('refuses a shipment while the AVS review is undecided and allows it once approved', () => {
    const o = authorizedOrder('review');
    expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity: 1 }]))).toEqual({ code: 'order_in_review' });
    o.reviewed('approve');
    expect(o.shipmentAmount([{ sku: 'book', quantity: 1 }])).toBe(BOOK_UNIT + SHIPPING);
  });

  it('ships exactly the units left and refuses one more (over_shipment)', () => {
    const o = authorizedOrder();
    expect(o.shipmentAmount([{ sku: 'book', quantity: 2 }])).toBe(2 * BOOK_UNIT + SHIPPING);
    expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity: 3 }]))).toEqual({ code: 'over_shipment', param: 'items.0.quantity' });
    expect(ruleError(() => o.shipmentAmount([{ sku: 'lamp', quantity: 1 }, { sku: 'book', quantity: 3 }])))
      .toEqual({ code: 'over_shipment', param: 'items.1.quantity' });
    for (const quantity of [0, -1, 1.5]) {
      expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity }]))).toEqual({ code: 'over_shipment', param: 'items.0.quantity' });
    }
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity: 2 }]))).toEqual({ code: 'over_shipment', param: 'items.0.quantity' });
    expect(o.shipmentAmount([{ sku: 'book', quantity: 1 }])).toBe(BOOK_UNIT);
    ship(o, 'shp_2', [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
    expect(ruleError(() => o.shipmentAmount([{ sku: 'lamp', quantity: 1 }]))).toEqual({ code: 'over_shipment', param: 'items.0.quantity' });
  });

  it('refuses unknown skus, soft goods, a sku twice and an empty shipment', () => {
    const o = authorizedOrder();
    expect(ruleError(() => o.shipmentAmount([{ sku: 'ghost', quantity: 1 }]))).toEqual({ code: 'unknown_sku', param: 'items.0.sku' });
    expect(ruleError(() => o.shipmentAmount([{ sku: 'ebook', quantity: 1 }]))).toEqual({ code: 'not_shippable', param: 'items.0.sku' });
    expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity: 1 }, { sku: 'book', quantity: 1 }])))
      .toEqual({ code: 'duplicate_sku', param: 'items.1.sku' });
    expect(ruleError(() => o.shipmentAmount([]))).toEqual({ code: 'parameter_invalid', param: 'items' });
    expect(o.shipmentAmount([{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }])).toBe(BOOK_UNIT + LAMP_UNIT + SHIPPING);
  });
});

describe('Order captures and shipments', () => {
  it('a capture may take exactly what the authorization has left and not one minor unit more', () => {
    const o = authorizedOrder();
    captureSoft(o);
    const left = TOTAL - EBOOK_UNIT;
    expect(ruleError(() => o.assertCapturable(left + 1))).toEqual({ code: 'over_capture' });
    expect(o.assertCapturable(left)).toBe(o.authorization);
    o.captured({ id: 'cap_rest', authorizationId: 'auth_1', amountMinor: left, shipmentId: null, units: [] }, AT_MS);
    expect(ruleError(() => o.assertCapturable(1))).toEqual({ code: 'over_capture' });
  });

  it('refuses a capture without an active authorization (no_authorization)', () => {
    expect(ruleError(() => new Order(input()).assertCapturable(1))).toEqual({ code: 'no_authorization' });
    const voided = authorizedOrder();
    voided.voided('cancelled', 'cancelled');
    expect(ruleError(() => voided.assertCapturable(1))).toEqual({ code: 'no_authorization' });
  });

  it('records the broker fee of each capture, rounded half up', () => {
    const o = authorizedOrder();
    // 250 bps: 1287 → 32.175 → 32; 2680 → 67; 200 → 5
    expect(o.captured({ id: 'c1', authorizationId: 'auth_1', amountMinor: 1287, shipmentId: null, units: [] }, AT_MS).feeMinor).toBe(32);
    expect(o.captured({ id: 'c2', authorizationId: 'auth_1', amountMinor: 2680, shipmentId: 's', units: [] }, AT_MS).feeMinor).toBe(67);
    expect(o.feeFor(200, [])).toBe(5);
    expect(o.feeFor(20, [])).toBe(1); // 0.5 → 1
    expect(o.feeFor(19, [])).toBe(0); // 0.475 → 0
  });

  it('shipped() moves the order to partially_shipped and then to shipped once every hard unit is out', () => {
    const o = authorizedOrder();
    captureSoft(o);
    expect(o.state).toBe('authorized_plus_avs'); // soft goods alone do not make a mixed order shipped
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    expect(o.state).toBe('partially_shipped');
    expect(o.unshippedUnits()).toEqual([{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
    ship(o, 'shp_2', [{ sku: 'lamp', quantity: 1 }]);
    expect(o.state).toBe('partially_shipped');
    ship(o, 'shp_3', [{ sku: 'book', quantity: 1 }]);
    expect(o.state).toBe('shipped');
    expect(o.unshippedUnits()).toEqual([]);
    expect(o.shippedQuantity('book')).toBe(2);
  });

  it('a soft-goods-only order counts as shipped once its goods are captured', () => {
    const priced = priceOrder([EBOOK], null, null, MERCHANT);
    const o = authorizedOrder('accept', priced);
    captureSoft(o);
    expect(o.state).toBe('shipped');
    expect(o.capturedMinor).toBe(1200);
  });
});

describe('Order refunds and returns', () => {
  function shippedOnce(): Order {
    const o = authorizedOrder();
    captureSoft(o); // cap_soft 1287
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]); // cap_shp_1 2680
    return o;
  }

  it('refuses a refund before anything is captured (nothing_captured)', () => {
    const o = authorizedOrder();
    expect(ruleError(() => o.refundAmount({ kind: 'refund', amountMinor: 1 }))).toEqual({ code: 'nothing_captured' });
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'ebook', quantity: 1 }] }))).toEqual({ code: 'nothing_captured' });
    captureSoft(o);
    expect(o.refundAmount({ kind: 'refund', amountMinor: 1 })).toBe(1);
  });

  it('refunds exactly what is refundable and not one minor unit more (over_refund)', () => {
    const o = shippedOnce();
    const refundable = EBOOK_UNIT + BOOK_UNIT + SHIPPING;
    expect(o.refundableMinor()).toBe(refundable);
    expect(ruleError(() => o.refundAmount({ kind: 'refund', amountMinor: refundable + 1 }))).toEqual({ code: 'over_refund', param: 'amountMinor' });
    expect(o.refundAmount({ kind: 'refund', amountMinor: refundable })).toBe(refundable);
    refund(o, 'ref_1', { kind: 'refund', amountMinor: 1000 });
    expect(o.refundableMinor()).toBe(refundable - 1000);
    expect(ruleError(() => o.refundAmount({ kind: 'refund', amountMinor: refundable - 999 }))).toEqual({ code: 'over_refund', param: 'amountMinor' });
    expect(o.refundAmount({ kind: 'refund', amountMinor: refundable - 1000 })).toBe(refundable - 1000);
  });

  it('a refund names a whole positive amount', () => {
    const o = shippedOnce();
    expect(ruleError(() => o.refundAmount({ kind: 'refund' }))).toEqual({ code: 'parameter_missing', param: 'amountMinor' });
    for (const amountMinor of [0, -1, 1.5, Number.NaN]) {
      expect(ruleError(() => o.refundAmount({ kind: 'refund', amountMinor }))).toEqual({ code: 'parameter_invalid', param: 'amountMinor' });
    }
    expect(o.refundAmount({ kind: 'refund', amountMinor: 1 })).toBe(1);
  });

  it('returns only delivered units: shipped hard goods and soft goods (over_return)', () => {
    const o = shippedOnce(); // 1 of 2 books shipped, lamp not shipped, ebook delivered
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 2 }] })))
      .toEqual({ code: 'over_return', param: 'items.0.quantity' });
    expect(o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 1 }] })).toBe(BOOK_UNIT);
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }] })))
      .toEqual({ code: 'over_return', param: 'items.1.quantity' });
    expect(o.refundAmount({ kind: 'return', items: [{ sku: 'ebook', quantity: 1 }] })).toBe(EBOOK_UNIT);
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'ebook', quantity: 2 }] })))
      .toEqual({ code: 'over_return', param: 'items.0.quantity' });
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 0 }] })))
      .toEqual({ code: 'over_return', param: 'items.0.quantity' });
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'ghost', quantity: 1 }] })))
      .toEqual({ code: 'unknown_sku', param: 'items.0.sku' });
    expect(ruleError(() => o.refundAmount({ kind: 'return' }))).toEqual({ code: 'parameter_missing', param: 'items' });
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [] }))).toEqual({ code: 'parameter_missing', param: 'items' });

    refund(o, 'ret_1', { kind: 'return', items: [{ sku: 'book', quantity: 1 }] });
    expect(o.returnedQuantity('book')).toBe(1);
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 1 }] })))
      .toEqual({ code: 'over_return', param: 'items.0.quantity' });
  });

  it('a return is still limited by what is refundable', () => {
    const o = shippedOnce();
    refund(o, 'ref_1', { kind: 'refund', amountMinor: o.refundableMinor() - BOOK_UNIT + 1 });
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 1 }] }))).toEqual({ code: 'over_refund', param: 'amountMinor' });
  });

  it('allocates a refund to the newest capture first, with the fee back in proportion', () => {
    const o = shippedOnce();
    // fees at 250 bps: cap_soft 1287 → 32, cap_shp_1 2680 → 67
    expect(o.captures.map((c) => [c.id, c.amountMinor, c.feeMinor])).toEqual([['cap_soft', 1287, 32], ['cap_shp_1', 2680, 67]]);
    // 100 × 2.5% = 2.5 → 3
    expect(o.allocateRefund(100)).toEqual([{ captureId: 'cap_shp_1', amountMinor: 100, feeMinor: 3 }]);
    // The newest capture in full (its whole fee), then 320 of the older one (320 × 2.5% = 8).
    expect(o.allocateRefund(3000)).toEqual([
      { captureId: 'cap_shp_1', amountMinor: 2680, feeMinor: 67 },
      { captureId: 'cap_soft', amountMinor: 320, feeMinor: 8 },
    ]);
    expect(o.allocateRefund(3967)).toEqual([
      { captureId: 'cap_shp_1', amountMinor: 2680, feeMinor: 67 },
      { captureId: 'cap_soft', amountMinor: 1287, feeMinor: 32 },
    ]);
    expect(ruleError(() => o.allocateRefund(3968))).toEqual({ code: 'over_refund' });
    // Allocation only proposes; refunded() records. A fully refunded capture is skipped next time.
    refund(o, 'ref_1', { kind: 'refund', amountMinor: 2680 });
    expect(o.allocateRefund(100)).toEqual([{ captureId: 'cap_soft', amountMinor: 100, feeMinor: 3 }]);
  });

  it('fee refunds over any sequence of partial refunds of one capture never exceed its fee and end at exactly its fee (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.integer({ min: 0, max: 2_000 }),
      fc.array(fc.integer({ min: 1, max: 10_000_000 }), { maxLength: 30 }),
      (captureMinor, feeBps, requests) => {
        const priced = priceOrder([{ sku: 'sub', quantity: 1, unitPriceMinor: captureMinor, kind: 'soft' }], null, null, MERCHANT);
        const o = authorizedOrder('accept', priced, { feeBps });
        captureSoft(o);
        const c = o.captures[0];
        expect(c.amountMinor).toBe(captureMinor);
        let n = 0;
        const step = (amount: number) => {
          refund(o, `ref_${n++}`, { kind: 'refund', amountMinor: amount });
          expect(c.feeRefundedMinor).toBeGreaterThanOrEqual(0);
          expect(c.feeRefundedMinor).toBeLessThanOrEqual(c.feeMinor);
          for (const r of o.refunds) for (const p of r.parts) expect(p.feeMinor).toBeGreaterThanOrEqual(0);
        };
        for (const req of requests) {
          const left = captureMinor - c.refundedMinor;
          if (left <= 1) break;
          step(Math.min(req, left - 1)); // partial: leaves at least 1 behind
          expect(c.refundedMinor).toBeLessThan(captureMinor);
        }
        step(captureMinor - c.refundedMinor); // the last refund empties the capture
        expect(c.refundedMinor).toBe(captureMinor);
        expect(c.feeRefundedMinor).toBe(c.feeMinor);
        expect(o.state).toBe('refunded');
      },
    ));
  });

  it('refunds of a fully delivered order end in partially_refunded, then refunded', () => {
    const priced = priceOrder([EBOOK], null, null, MERCHANT);
    const o = authorizedOrder('accept', priced);
    captureSoft(o);
    refund(o, 'ref_1', { kind: 'refund', amountMinor: 200 });
    expect(o.state).toBe('partially_refunded');
    expect(o.isFinal).toBe(false);
    refund(o, 'ref_2', { kind: 'refund', amountMinor: 1000 });
    expect(o.state).toBe('refunded');
    expect(o.isFinal).toBe(true);
    expect(o.refundedMinor).toBe(1200);
  });

  it('returns of a fully shipped order end in partially_returned, then returned', () => {
    const o = authorizedOrder();
    captureSoft(o);
    ship(o, 'shp_1', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
    expect(o.state).toBe('shipped');
    refund(o, 'ret_1', { kind: 'return', items: [{ sku: 'lamp', quantity: 1 }] });
    expect(o.state).toBe('partially_returned');
    refund(o, 'ret_2', { kind: 'return', items: [{ sku: 'book', quantity: 2 }, { sku: 'ebook', quantity: 1 }] });
    expect(o.state).toBe('partially_returned'); // shipping is still captured
    refund(o, 'ref_3', { kind: 'refund', amountMinor: SHIPPING });
    expect(o.state).toBe('returned');
    expect(o.refundedMinor).toBe(TOTAL);
    expect(o.isFinal).toBe(true);
  });

  it('refunding everything captured while units are still to ship is only partially_refunded', () => {
    const o = shippedOnce();
    refund(o, 'ref_1', { kind: 'refund', amountMinor: o.refundableMinor() });
    expect(o.refundableMinor()).toBe(0);
    expect(o.unshippedUnits().length).toBeGreaterThan(0);
    expect(o.state).toBe('partially_refunded');
    expect(o.isFinal).toBe(false);
  });
});

describe('Order reauthorization', () => {
  it('reauthorizes reauthLeadMs before expiry while hard units are unshipped', () => {
    expect(new Order(input()).reauthorizeAtMs()).toBeNull();
    const o = authorizedOrder('accept', PRICED, { reauthLeadMs: 3_600_000 });
    expect(o.reauthorizeAtMs()).toBe(EXPIRES_MS - 3_600_000);
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    expect(o.reauthorizeAtMs()).toBe(EXPIRES_MS - 3_600_000);
    ship(o, 'shp_2', [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
    expect(o.reauthorizeAtMs()).toBeNull();
  });

  it('does not reauthorize without an active authorization or without hard goods', () => {
    const voided = authorizedOrder();
    voided.voided('cancelled', 'cancelled');
    expect(voided.reauthorizeAtMs()).toBeNull();
    const failed = new Order(input());
    failed.authorizationFailed('card_declined', 'declined');
    expect(failed.reauthorizeAtMs()).toBeNull();
    const softOnly = authorizedOrder('accept', priceOrder([EBOOK], null, null, MERCHANT));
    expect(softOnly.reauthorizeAtMs()).toBeNull();
  });

  it("a share of a purchase's authorization is not reauthorized: at the same lead the order asks a person to look, once", () => {
    const shared = { id: 'auth_cart', amountMinor: PRICED.totalMinor, avsCode: 'Y', expiresAt: EXPIRES };
    const o = new Order({ ...input(PRICED, { reauthLeadMs: 3_600_000 }), sharedAuthorization: shared });
    o.authorized(shared, 'accept', AT_MS);
    expect(o.nextWakeAtMs()).toBe(EXPIRES_MS - 3_600_000);
    expect(o.dueTimer(EXPIRES_MS - 3_600_000)).toBe('share_expiring');
    expect(o.releasableMinor()).toBe(PRICED.totalMinor); // (a cancel releases the share, not the whole)
    o.reauthorizationFailed(); // (the workflow's warning given)
    expect(o.dueTimer(EXPIRES_MS)).toBeNull();
    expect(authorizedOrder('accept', PRICED, { reauthLeadMs: 3_600_000 }).dueTimer(EXPIRES_MS - 3_600_000)).toBe('reauthorize');
  });

  it('reauthorized() replaces the active authorization and captures count against the new one', () => {
    const o = authorizedOrder();
    captureSoft(o);
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    const rest = o.uncapturedOrderMinor();
    expect(rest).toBe(BOOK_UNIT + LAMP_UNIT);
    const later = '2030-01-15T00:00:00.000Z';
    const old = o.reauthorized({ id: 'auth_2', amountMinor: rest, avsCode: 'Y', expiresAt: later });
    expect(old.id).toBe('auth_1');
    expect(old.status).toBe('replaced');
    expect(o.authorizations.map((a) => [a.id, a.status])).toEqual([['auth_1', 'replaced'], ['auth_2', 'active']]);
    expect(o.authorization?.id).toBe('auth_2');
    expect(o.view().authorizedMinor).toBe(rest);
    expect(o.reauthorizeAtMs()).toBe(Date.parse(later) - POLICY.reauthLeadMs);
    expect(o.state).toBe('partially_shipped');
    expect(ruleError(() => o.assertCapturable(rest + 1))).toEqual({ code: 'over_capture' });
    expect(o.assertCapturable(rest).id).toBe('auth_2');
    ship(o, 'shp_2', [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
    expect(o.captures.at(-1)?.authorizationId).toBe('auth_2');
    expect(o.capturedMinor).toBe(TOTAL);
    expect(o.state).toBe('shipped');
  });
});

describe('Order attention and view', () => {
  it('flags once per reason and needs attention until every reason is cleared', () => {
    const o = authorizedOrder();
    expect(o.needsAttention).toBe(false);
    o.flag('capture_failed');
    o.flag('capture_failed');
    o.flag('void_failed');
    expect(o.attentionReasons).toEqual(['capture_failed', 'void_failed']);
    expect(o.needsAttention).toBe(true);
    o.clearFlag('capture_failed');
    expect(o.needsAttention).toBe(true);
    o.clearFlag('not_flagged');
    expect(o.attentionReasons).toEqual(['void_failed']);
    o.clearFlag('void_failed');
    expect(o.needsAttention).toBe(false);
    expect(o.attentionReasons).toEqual([]);
  });

  it('a resolve (an operator resolved a problem) is a command the order admits while it runs, not once final', () => {
    const resolve = orderCommand.resolve({ problemId: '7', kind: 'capture_failed' });
    expect(resolve.id).toBe('resolve:7');
    expect(() => authorizedOrder().admit(resolve)).not.toThrow();
    const failed = new Order(input());
    failed.authorizationFailed('processor_unreachable', 'unreachable');
    expect(ruleError(() => failed.admit(resolve))).toEqual({ code: 'order_closed' });
  });

  it('view() shows identity, state, money and every record', () => {
    const fresh = new Order(input()).view();
    expect(fresh).toMatchObject({ state: 'confirmed', authorizedMinor: 0, capturedMinor: 0, refundedMinor: 0, authorizations: [],
      captures: [], shipments: [], refunds: [], failure: null, needsAttention: false, attentionReasons: [], review: null, reviewDeadline: null });

    const o = authorizedOrder('review');
    o.reviewed('approve');
    captureSoft(o);
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }]);
    refund(o, 'ref_1', { kind: 'refund', amountMinor: 100 });
    o.flag('refund_failed');
    expect(o.view()).toEqual({
      id: 'ord_1', merchantId: 'mer_1', customerId: 'cus_1', clientOrderId: 'client-1',
      state: 'partially_refunded', currency: 'USD', totalMinor: TOTAL, authorizedMinor: TOTAL,
      capturedMinor: EBOOK_UNIT + BOOK_UNIT + SHIPPING, refundedMinor: 100, priced: PRICED,
      authorizations: [{ id: 'auth_1', amountMinor: TOTAL, avsCode: 'A', expiresAt: EXPIRES, status: 'active' }],
      captures: [
        { id: 'cap_soft', authorizationId: 'auth_1', amountMinor: 1287, feeMinor: 32, shipmentId: null, refundedMinor: 0, feeRefundedMinor: 0 },
        { id: 'cap_shp_1', authorizationId: 'auth_1', amountMinor: 2680, feeMinor: 67, shipmentId: 'shp_1', refundedMinor: 100, feeRefundedMinor: 3 },
      ],
      shipments: [{ id: 'shp_1', items: [{ sku: 'book', quantity: 1 }], trackingNumber: 'TRK-shp_1', amountMinor: 2680, captureId: 'cap_shp_1' }],
      refunds: [{ id: 'ref_1', kind: 'refund', amountMinor: 100, items: null,
        parts: [{ captureId: 'cap_shp_1', processorRefundId: 're_ref_1_cap_shp_1', amountMinor: 100, feeMinor: 3 }] }],
      failure: null, needsAttention: true, attentionReasons: ['refund_failed'], review: { decision: 'approve' },
      reviewDeadline: new Date(AT_MS + POLICY.reviewTimeoutMs).toISOString(), confirmation: null, authentication: null,
    });
  });
});

describe('Order guards found by review', () => {
  it('a return may not name a sku twice to return more than was delivered', () => {
    const o = authorizedOrder();
    captureSoft(o);
    ship(o, 'shp_1', [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
    expect(ruleError(() => o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 1 }, { sku: 'book', quantity: 1 }] })))
      .toMatchObject({ code: 'duplicate_sku', param: 'items.1.sku' });
    expect(o.refundAmount({ kind: 'return', items: [{ sku: 'book', quantity: 1 }] })).toBe(BOOK_UNIT);
  });

  it('refuses a shipment after the review was rejected or timed out, allows it after approval', () => {
    for (const d of ['reject', 'timeout'] as const) {
      const o = authorizedOrder('review');
      o.reviewed(d);
      expect(ruleError(() => o.shipmentAmount([{ sku: 'book', quantity: 1 }])).code).toBe('order_not_shippable');
    }
    const approved = authorizedOrder('review');
    approved.reviewed('approve');
    expect(approved.shipmentAmount([{ sku: 'lamp', quantity: 1 }])).toBe(LAMP_UNIT + SHIPPING);
  });
});

describe('Order waiting for its customer (confirmation by message, step-up authentication)', () => {
  const CONFIRMATION: NonNullable<OrderInput['confirmation']> = {
    channel: 'sms', phoneToken: 'ph_1', phoneMasked: '+*******0100', reason: 'requested', timeoutMs: 900_000, sendDeadlineMs: 3_600_000,
  };
  const NOT_ACCEPTED = ['rejected', 'failed', 'expired', 'cancelled', 'not_sent'] as const;
  const confirmingOrder = () => new Order({ ...input(), confirmation: CONFIRMATION });
  /** A plain order the processor asked to authenticate. */
  const authenticatingOrder = () => {
    const o = new Order(input());
    o.requireAuthentication('ref_1');
    return o;
  };
  const cancel = orderCommand.cancel({ cancelId: 'c1' });
  const others = [
    orderCommand.ship({ shipmentId: 'shp_1', items: [{ sku: 'book', quantity: 1 }], trackingNumber: 'TRK-1' }),
    orderCommand.refund({ refundId: 'rf_1', kind: 'refund', amountMinor: 100 }),
    orderCommand.resolve({ problemId: '7', kind: 'capture_failed' }),
  ];

  it('an order with a confirmation starts awaiting_confirmation, its offer being sent; without one it starts confirmed', () => {
    const o = confirmingOrder();
    expect(o.state).toBe('awaiting_confirmation');
    expect(o.awaitingCustomer).toBe(true);
    expect(o.isFinal).toBe(false);
    expect(o.confirmation).toEqual({ channel: 'sms', phone: '+*******0100', reason: 'requested', state: 'sending', offerSentAt: null, deadline: null });
    expect(o.authentication).toBeNull();
    expect(o.answerFromCustomer).toBeNull();
    const plain = new Order(input());
    expect(plain.state).toBe('confirmed');
    expect(plain.awaitingCustomer).toBe(false);
    expect(plain.confirmation).toBeNull();
  });

  it('the confirmation view never shows the phone token, only the masked number', () => {
    expect(JSON.stringify(confirmingOrder().view())).not.toContain('ph_1');
  });

  it('offerSent makes the confirmation pending with when it was sent and its deadline, the order still waiting', () => {
    const o = confirmingOrder();
    o.offerSent(AT_MS, AT_MS + 900_000);
    expect(o.state).toBe('awaiting_confirmation');
    expect(o.confirmation).toEqual({
      channel: 'sms', phone: '+*******0100', reason: 'requested', state: 'pending',
      offerSentAt: new Date(AT_MS).toISOString(), deadline: new Date(AT_MS + 900_000).toISOString(),
    });
  });

  it("customerAnswered takes the customer's first answer while the order waits; later ones are ignored", () => {
    const o = confirmingOrder();
    o.offerSent(AT_MS, AT_MS + 900_000);
    o.customerAnswered('rejected');
    o.customerAnswered('accepted');
    expect(o.answerFromCustomer).toBe('rejected');
    const a = authenticatingOrder();
    a.customerAnswered('approved');
    a.customerAnswered('rejected');
    expect(a.answerFromCustomer).toBe('approved');
  });

  it('customerAnswered is ignored when the order is not waiting for its customer (before, and after the wait ended)', () => {
    const plain = new Order(input());
    plain.customerAnswered('accepted');
    expect(plain.answerFromCustomer).toBeNull();
    const o = confirmingOrder();
    o.customerAnswered('accepted');
    o.confirmationEnded('accepted');
    expect(o.answerFromCustomer).toBeNull();
    o.customerAnswered('rejected');
    expect(o.answerFromCustomer).toBeNull();
  });

  it('an accepted confirmation makes the order confirmed, with no failure, the authorization still to come', () => {
    const o = confirmingOrder();
    o.offerSent(AT_MS, AT_MS + 900_000);
    o.confirmationEnded('accepted');
    expect(o.state).toBe('confirmed');
    expect(o.confirmation?.state).toBe('accepted');
    expect(o.confirmation?.offerSentAt).toBe(new Date(AT_MS).toISOString());
    expect(o.failure).toBeNull();
    expect(o.isFinal).toBe(false);
    expect(o.awaitingCustomer).toBe(false);
    expect(o.authorizationDecided).toBe(false);
  });

  it('any other end of the confirmation cancels the order, final, with the failure of that outcome', () => {
    for (const outcome of NOT_ACCEPTED) {
      const o = confirmingOrder();
      o.offerSent(AT_MS, AT_MS + 900_000);
      o.customerAnswered(outcome);
      o.confirmationEnded(outcome);
      expect(o.state, outcome).toBe('cancelled');
      expect(o.isFinal, outcome).toBe(true);
      expect(o.confirmation?.state, outcome).toBe(outcome);
      expect(o.failure, outcome).toEqual(CONFIRMATION_FAILURE[outcome]);
      expect(o.authorizationDecided, outcome).toBe(true);
      expect(o.answerFromCustomer, outcome).toBeNull();
    }
    expect(CONFIRMATION_FAILURE.rejected.code).toBe('confirmation_rejected');
    expect(CONFIRMATION_FAILURE.expired.code).toBe('confirmation_expired');
  });

  it('requireAuthentication moves the order to requires_authentication, the request not made yet', () => {
    const o = authenticatingOrder();
    expect(o.state).toBe('requires_authentication');
    expect(o.awaitingCustomer).toBe(true);
    expect(o.authentication).toEqual({ id: null, reference: 'ref_1', state: 'starting', deadline: null });
  });

  it('requireAuthentication during a processor outage leaves the outage', () => {
    const o = new Order(input());
    o.enterAwaitingProcessor();
    o.requireAuthentication('ref_1');
    expect(o.state).toBe('requires_authentication');
    expect(o.settledState).toBe('requires_authentication');
  });

  it('authenticationRequested records the request and its deadline, pending', () => {
    const o = authenticatingOrder();
    o.authenticationRequested('authn_1', AT_MS + 300_000);
    expect(o.state).toBe('requires_authentication');
    expect(o.authentication).toEqual({ id: 'authn_1', reference: 'ref_1', state: 'pending', deadline: new Date(AT_MS + 300_000).toISOString() });
  });

  it('an approved authentication makes the order confirmed again, not final, no failure', () => {
    const o = authenticatingOrder();
    o.authenticationRequested('authn_1', AT_MS + 300_000);
    o.customerAnswered('approved');
    o.authenticationEnded('approved');
    expect(o.state).toBe('confirmed');
    expect(o.authentication?.state).toBe('approved');
    expect(o.failure).toBeNull();
    expect(o.isFinal).toBe(false);
    expect(o.awaitingCustomer).toBe(false);
    expect(o.answerFromCustomer).toBeNull();
  });

  it('a rejected authentication, or none possible (no device), fails the authorization: authentication_failed', () => {
    for (const outcome of ['rejected', 'no_device'] as const) {
      const o = authenticatingOrder();
      o.authenticationEnded(outcome);
      expect(o.state, outcome).toBe('failed_authorization');
      expect(o.failure?.code, outcome).toBe('authentication_failed');
      expect(o.authentication?.state, outcome).toBe(outcome);
      expect(o.isFinal, outcome).toBe(true);
      expect(o.authorizationDecided, outcome).toBe(true);
    }
  });

  it('an expired authentication fails the authorization: authentication_timeout', () => {
    const o = authenticatingOrder();
    o.authenticationRequested('authn_1', AT_MS + 300_000);
    o.authenticationEnded('expired');
    expect(o.state).toBe('failed_authorization');
    expect(o.failure).toEqual(AUTHENTICATION_FAILURE.expired);
    expect(o.failure?.code).toBe('authentication_timeout');
    expect(o.isFinal).toBe(true);
  });

  it('an authentication cancelled by the merchant cancels the order, final', () => {
    const o = authenticatingOrder();
    o.authenticationRequested('authn_1', AT_MS + 300_000);
    o.authenticationEnded('cancelled');
    expect(o.state).toBe('cancelled');
    expect(o.authentication?.state).toBe('cancelled');
    expect(o.failure?.code).toBe('cancelled');
    expect(o.isFinal).toBe(true);
    expect(o.submitAnswer()).toEqual({ outcome: 'done' });
  });

  it('while the order awaits its customer it admits a cancel and refuses every other command (order_awaiting_customer)', () => {
    const sent = confirmingOrder();
    sent.offerSent(AT_MS, AT_MS + 900_000);
    const requested = authenticatingOrder();
    requested.authenticationRequested('authn_1', AT_MS + 300_000);
    for (const o of [confirmingOrder(), sent, authenticatingOrder(), requested]) {
      expect(() => o.admit(cancel), o.state).not.toThrow();
      for (const cmd of others) expect(ruleError(() => o.admit(cmd)), `${o.state} ${cmd.kind}`).toEqual({ code: 'order_awaiting_customer' });
      // (a review is refused too: there is nothing to review yet)
      expect(() => o.admit(orderCommand.review({ decision: 'approve' }))).toThrow(OrderRuleError);
    }
  });

  it('once the customer accepted, commands are admitted again by the usual rules', () => {
    const o = confirmingOrder();
    o.offerSent(AT_MS, AT_MS + 900_000);
    o.confirmationEnded('accepted');
    expect(() => o.admit(orderCommand.resolve({ problemId: '7', kind: 'capture_failed' }))).not.toThrow();
    expect(ruleError(() => o.admit(others[0]))).toEqual({ code: 'order_not_shippable' });
  });

  it('submitAnswer waits while the offer is unsent and answers done once it is sent', () => {
    const o = confirmingOrder();
    expect(o.submitAnswer()).toBeUndefined();
    o.offerSent(AT_MS, AT_MS + 900_000);
    expect(o.submitAnswer()).toEqual({ outcome: 'done' });
    o.confirmationEnded('accepted');
    expect(o.submitAnswer()).toEqual({ outcome: 'done' });
  });

  it('submitAnswer answers done when the confirmation ended before its offer could be sent', () => {
    const o = confirmingOrder();
    o.confirmationEnded('not_sent');
    expect(o.submitAnswer()).toEqual({ outcome: 'done' });
  });

  it('submitAnswer waits until the authentication request is made, then answers done', () => {
    const o = authenticatingOrder();
    expect(o.submitAnswer()).toBeUndefined();
    o.authenticationRequested('authn_1', AT_MS + 300_000);
    expect(o.submitAnswer()).toEqual({ outcome: 'done' });
  });

  it('submitAnswer answers done when the authentication ended before any request was made (no device)', () => {
    const o = authenticatingOrder();
    o.authenticationEnded('no_device');
    expect(o.submitAnswer()).toEqual({ outcome: 'done' });
  });

  it('view() carries the confirmation and the authentication', () => {
    const o = confirmingOrder();
    expect(o.view()).toMatchObject({ state: 'awaiting_confirmation', confirmation: { state: 'sending', phone: '+*******0100' }, authentication: null });
    o.offerSent(AT_MS, AT_MS + 900_000);
    o.confirmationEnded('accepted');
    o.requireAuthentication('ref_1');
    o.authenticationRequested('authn_1', AT_MS + 300_000);
    const v = o.view();
    expect(v.state).toBe('requires_authentication');
    expect(v.confirmation).toEqual(o.confirmation);
    expect(v.confirmation?.state).toBe('accepted');
    expect(v.authentication).toEqual({ id: 'authn_1', reference: 'ref_1', state: 'pending', deadline: new Date(AT_MS + 300_000).toISOString() });
    expect(new Order(input()).view()).toMatchObject({ confirmation: null, authentication: null });
  });
});

describe("an order's summary and current details (the Web UI's lines)", () => {
  it('say where it stands with no personal data: what is left to ship, why it failed, and what needs attention', () => {
    const o = authorizedOrder();
    expect(orderSummary(input())).toBe('Order client-1 of mer_1: $109.37');
    expect(orderDetails(o.view())).toBe('authorized_plus_avs: shipped 0 of 3 items, $0.00 of $109.37 captured');
    captureSoft(o);
    ship(o, 's1', [{ sku: 'book', quantity: 2 }]);
    expect(orderDetails(o.view())).toBe(`partially_shipped: shipped 2 of 3 items, $${((BOOK_UNIT * 2 + SHIPPING + EBOOK_UNIT) / 100).toFixed(2)} of $109.37 captured`);
    o.flag('capture_failed');
    expect(orderDetails(o.view())).toMatch(/ — needs attention: capture_failed$/);

    const failed = new Order(input());
    failed.authorizationFailed('card_declined', 'Declined');
    expect(orderDetails(failed.view())).toBe('failed_authorization: card_declined');
    for (const v of [o.view(), failed.view()]) {
      for (const personal of ['cus_1', '1 Main St', 'tok_1', '94107']) expect(orderDetails(v)).not.toContain(personal);
    }
  });
});
