// A checkout session: a merchant hands its customer's cart to the broker, which prices it as the customer chooses
// shipping and options, takes the payment (an order started by the session) and tells the merchant once. This class
// holds the session's state and decides what it accepts; the workflow (workflows/checkoutSession.ts) is the story.
//
//   open → processing (an attempt's order deciding its authorization) → completed
//                     → open again (declined: the customer may try another card, up to MAX_PAYMENT_ATTEMPTS)
//   open → expired (its timer) | failed (attempts used up)
// Priced options (gift wrap, say) are soft lines of the order, captured at authorization like soft goods.
import type { Address, OrderPolicy } from './order';
import { type ItemKind, type LineItemInput, type PricedOrder, priceOrder, PricingError, type ShippingOption } from './pricing';

export interface CheckoutItem {
  sku: string;
  title: string;
  quantity: number;
  unitPriceMinor: number;
  kind: ItemKind;
  /** An https URL of the item's picture (shown on the page; its origin is allowed by the page's policy). */
  imageUrl?: string;
}

/** An option the customer may add at a price (gift wrap, say). */
export interface PricedOption { id: string; label: string; priceMinor: number }

export interface CheckoutSessionInput {
  sessionId: string;
  merchantId: string;
  merchantName: string;
  currency: string;
  items: CheckoutItem[];
  shippingOptions: ShippingOption[];
  options: PricedOption[];
  taxRatesBps: Record<string, number>;
  successUrl: string;
  cancelUrl: string;
  expiresAt: string;
  /** The customer the orders are for (the merchant's name for them, else one per session). */
  customerId: string;
  /** The merchant's order policy when the session was made (AVS, fee, review), with the broker's timing. */
  policy: OrderPolicy;
}

/** What the customer chose on the page. */
export interface CheckoutChoice {
  shippingOptionId: string | null;
  optionIds: string[];
  /** The shipping address (goods to ship), else null. */
  address: Address | null;
  /** Tax destination without an address (soft goods only). */
  billingCountry?: string;
  billingRegion?: string;
}

export interface PayRequest extends CheckoutChoice {
  token: string;
  billingPostalCode: string;
}

export type SessionState = 'open' | 'processing' | 'completed' | 'expired' | 'failed';

export interface PaymentAttempt {
  n: number;
  orderId: string;
  /** null while its order is deciding; then the order's state and, declined, why. */
  outcome: null | { state: string; failure: { code: string; message: string } | null };
}

export interface CheckoutSessionView {
  id: string;
  merchantId: string;
  state: SessionState;
  currency: string;
  expiresAt: string;
  /** The order of the completed session (or of the attempt deciding). */
  orderId: string | null;
  attempts: PaymentAttempt[];
  completedAt: string | null;
}

export const MAX_CHECKOUT_ITEMS = 100;
export const MAX_CHECKOUT_OPTIONS = 20;
export const MAX_PAYMENT_ATTEMPTS = 5;
export const DEFAULT_SESSION_TTL_MS = 24 * 3600_000;
export const MIN_SESSION_TTL_MS = 10_000;
export const MAX_SESSION_TTL_MS = 7 * 24 * 3600_000;
/** Options are order lines named by this prefix (merchant skus may not take it). */
export const OPTION_SKU_PREFIX = 'option:';

/** Order states in which a checkout's payment is taken (accepted, or held for the merchant's AVS review). */
const PAID_STATES = new Set(['authorized_plus_avs', 'authorized_minus_avs', 'partially_shipped', 'shipped']);

export class CheckoutError extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'CheckoutError';
  }
}

/** The order's lines: the items, then each chosen option as a soft line. */
export function checkoutLines(input: CheckoutSessionInput, optionIds: string[]): LineItemInput[] {
  const seen = new Set<string>();
  const options = optionIds.map((id, i) => {
    const o = input.options.find((x) => x.id === id);
    if (!o) throw new CheckoutError('unknown_option', `No option '${id}'`, `optionIds.${i}`);
    if (seen.has(id)) throw new CheckoutError('duplicate_option', `Option '${id}' is chosen twice`, `optionIds.${i}`);
    seen.add(id);
    return { sku: `${OPTION_SKU_PREFIX}${o.id}`, description: o.label, quantity: 1, unitPriceMinor: o.priceMinor, kind: 'soft' as const };
  });
  return [...input.items.map((it) => ({ sku: it.sku, description: it.title, quantity: it.quantity, unitPriceMinor: it.unitPriceMinor,
    kind: it.kind })), ...options];
}

/** Prices the session as the customer chose: items, options, shipping and tax by destination. */
export function priceCheckout(input: CheckoutSessionInput, choice: CheckoutChoice): PricedOrder {
  const dest = choice.address ?? (choice.billingCountry ? { country: choice.billingCountry, region: choice.billingRegion } : null);
  const hasHard = input.items.some((i) => i.kind === 'hard');
  try {
    return priceOrder(checkoutLines(input, choice.optionIds), hasHard ? choice.shippingOptionId : null, dest,
      { currency: input.currency, shippingOptions: input.shippingOptions, taxRatesBps: input.taxRatesBps });
  } catch (err) {
    if (err instanceof PricingError) throw new CheckoutError(err.code, err.message, err.param);
    throw err;
  }
}

/** Checks a merchant's session request: skus unique and not an option's, options unique, the total within bounds. */
export function checkSessionRequest(input: CheckoutSessionInput): void {
  if (input.items.length < 1 || input.items.length > MAX_CHECKOUT_ITEMS) {
    throw new CheckoutError('parameter_invalid', `A session has 1 to ${MAX_CHECKOUT_ITEMS} items`, 'items');
  }
  for (const [i, it] of input.items.entries()) {
    if (it.sku.startsWith(OPTION_SKU_PREFIX)) throw new CheckoutError('parameter_invalid', `A sku may not start with ${OPTION_SKU_PREFIX}`, `items.${i}.sku`);
  }
  const ids = new Set<string>();
  for (const [i, o] of input.options.entries()) {
    if (ids.has(o.id)) throw new CheckoutError('duplicate_option', `Option '${o.id}' appears twice`, `options.${i}.id`);
    ids.add(o.id);
  }
  const hasHard = input.items.some((i) => i.kind === 'hard');
  if (hasHard && input.shippingOptions.length === 0) {
    throw new CheckoutError('shipping_required', 'Hard goods need at least one shipping option (or the merchant\'s defaults)', 'shippingOptions');
  }
  // the dearest choice must be within an order's bounds: every option, the dearest shipping, no tax destination
  const dearest = [...input.shippingOptions].sort((a, b) => b.priceMinor - a.priceMinor)[0];
  priceCheckout({ ...input, taxRatesBps: {} }, { shippingOptionId: hasHard ? dearest.id : null, optionIds: input.options.map((o) => o.id),
    address: hasHard ? { line1: '-', city: '-', postalCode: '00000', country: 'ZZ' } : null });
}

/** The merchant's name of the order a payment attempt starts, from the session and the attempt's number. */
export const checkoutClientOrderId = (sessionId: string, n: number) => `checkout-${sessionId}-${n}`;

export class CheckoutSession {
  state: SessionState = 'open';
  attempts: PaymentAttempt[] = [];
  completedAtMs: number | null = null;

  constructor(readonly input: CheckoutSessionInput) {}

  get expiresAtMs(): number { return Date.parse(this.input.expiresAt); }
  get current(): PaymentAttempt | undefined { return this.attempts.at(-1); }
  get isFinal(): boolean { return this.state === 'completed' || this.state === 'expired' || this.state === 'failed'; }

  /**
   * Checks a payment before it is accepted. While an attempt is deciding, or once completed, a payment is the same
   * one (a double click, a reload): it joins it. Otherwise the session must be open and the choice must price.
   */
  admitPay(req: PayRequest, nowMs: number): PricedOrder | null {
    if (this.state === 'processing' || this.state === 'completed') return null;
    if (this.state === 'expired' || (this.state === 'open' && nowMs >= this.expiresAtMs)) {
      throw new CheckoutError('session_expired', 'This checkout session has expired');
    }
    if (this.state === 'failed') throw new CheckoutError('attempts_exhausted', `The payment was declined ${MAX_PAYMENT_ATTEMPTS} times`);
    return priceCheckout(this.input, req);
  }

  /** The next attempt's number and the merchant's name of its order. */
  nextAttempt(): { n: number; clientOrderId: string } {
    const n = this.attempts.length + 1;
    return { n, clientOrderId: checkoutClientOrderId(this.input.sessionId, n) };
  }

  /** Starts the next attempt (its order, of this id, to be started); the session is processing until the order decides. */
  startAttempt(orderId: string): PaymentAttempt {
    const attempt = { n: this.attempts.length + 1, orderId, outcome: null };
    this.attempts.push(attempt);
    this.state = 'processing';
    return attempt;
  }

  /** The attempt's order decided its authorization: paid completes the session; declined reopens it (or fails it). */
  decided(orderId: string, outcome: { state: string; failure: { code: string; message: string } | null }, nowMs: number): void {
    const attempt = this.attempts.find((a) => a.orderId === orderId);
    if (!attempt || attempt.outcome) return;
    attempt.outcome = outcome;
    if (PAID_STATES.has(outcome.state)) {
      this.state = 'completed';
      this.completedAtMs = nowMs;
    } else if (this.attempts.length >= MAX_PAYMENT_ATTEMPTS) {
      this.state = 'failed';
    } else {
      this.state = nowMs >= this.expiresAtMs ? 'expired' : 'open';
    }
  }

  /** The expiry timer fired: an open session expires (one deciding waits for its order). */
  expire(nowMs: number): void {
    if (this.state === 'open' && nowMs >= this.expiresAtMs) this.state = 'expired';
  }

  view(): CheckoutSessionView {
    const paid = this.state === 'completed' || this.state === 'processing' ? this.current?.orderId ?? null : null;
    return {
      id: this.input.sessionId, merchantId: this.input.merchantId, state: this.state, currency: this.input.currency,
      expiresAt: this.input.expiresAt, orderId: paid, attempts: this.attempts,
      completedAt: this.completedAtMs === null ? null : new Date(this.completedAtMs).toISOString(),
    };
  }
}
