// The broker's cart: one customer's items from many merchants, bought in one purchase. The broker is the merchant of
// record: it authorizes the whole once, and each merchant's part becomes an order that captures its share of that
// authorization per shipment (workflows/cart.ts). Prices are the merchants' own (their catalog entries), re-checked at
// purchase: a price that changed or an item no longer offered is shown to the customer, who confirms the new total
// before anything is authorized; an item that cannot be supplied is never charged.
import type { AvsPolicy } from './avs';
import type { Address } from './order';
import { type ItemKind, type MerchantPricing, type PricedOrder, priceOrder, PricingError } from './pricing';

/** A merchant's current offer of an item (its catalog entry). */
export interface CatalogItem {
  merchantId: string;
  sku: string;
  title: string;
  unitPriceMinor: number;
  currency: string;
  kind: ItemKind;
  minQuantity: number;
  maxQuantity: number;
  imageUrl: string | null;
  available: boolean;
}

/** An offered item in a cart, at the price and limits it was offered with, and how many of it. */
export interface CartLine extends Omit<CatalogItem, 'available'> {
  quantity: number;
}

export type CartState = 'active' | 'purchasing' | 'purchased' | 'expired';

/** What one run of a cart's workflow hands the next. */
export interface CartCarried {
  lines: CartLine[];
  state: CartState;
  updatedAtMs: number;
  lastError: { code: string; message: string } | null;
  purchaseAttempts: number;
  askAgain: boolean;
}

/** One merchant's part of a purchase: its order's lines priced by the merchant's shipping and tax. */
export interface CartPart { merchantId: string; priced: PricedOrder; shippingOptionId: string | null }

export interface CartView {
  id: string;
  state: CartState;
  currency: string | null;
  lines: CartLine[];
  /** The orders of the purchase, one per merchant. */
  orders: Array<{ merchantId: string; orderId: string; amountMinor: number }>;
  /** Why the last purchase did not go through (declined, AVS), shown to the customer. */
  lastError: { code: string; message: string } | null;
  /** The purchase's authorization while the processor is unreachable: 'awaiting_processor'. */
  purchase: null | { state: 'authorizing' | 'awaiting_processor' | 'done'; totalMinor: number };
  updatedAt: string;
}

export const MAX_CART_LINES = 100;
export const MAX_CART_MERCHANTS = 20;
export const MAX_LINE_QUANTITY = 1000;
/** A cart nobody touched for this long expires. */
export const CART_IDLE_MS = 30 * 24 * 3600_000;

/** The broker's AVS policy as merchant of record: only an address that does not match at all is refused. */
export const CART_AVS_POLICY: AvsPolicy = { Y: 'accept', A: 'accept', Z: 'accept', N: 'reject', U: 'accept', S: 'accept', R: 'accept' };

export class CartError extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'CartError';
  }
}

export const lineKey = (l: { merchantId: string; sku: string }) => `${l.merchantId}/${l.sku}`;

/** A change between a line as the cart holds it and the merchant's offer now. */
export interface PriceChange {
  merchantId: string;
  sku: string;
  title: string;
  change: 'price_changed' | 'unavailable';
  oldUnitPriceMinor: number;
  newUnitPriceMinor: number | null;
}

/**
 * The lines as the merchants offer them now: a changed price taken (and reported), an item no longer offered (or
 * in another currency, or whose quantity the merchant no longer allows) dropped (and reported).
 */
export function reprice(lines: CartLine[], catalog: ReadonlyMap<string, CatalogItem>): { lines: CartLine[]; changes: PriceChange[] } {
  const out: CartLine[] = [];
  const changes: PriceChange[] = [];
  for (const l of lines) {
    const now = catalog.get(lineKey(l));
    const base = { merchantId: l.merchantId, sku: l.sku, title: l.title, oldUnitPriceMinor: l.unitPriceMinor };
    if (!now || !now.available || now.currency !== l.currency || l.quantity < now.minQuantity || l.quantity > now.maxQuantity) {
      changes.push({ ...base, change: 'unavailable', newUnitPriceMinor: null });
      continue;
    }
    if (now.unitPriceMinor !== l.unitPriceMinor) changes.push({ ...base, change: 'price_changed', newUnitPriceMinor: now.unitPriceMinor });
    out.push({ ...l, title: now.title, unitPriceMinor: now.unitPriceMinor, imageUrl: now.imageUrl });
  }
  return { lines: out, changes };
}

/** Merchants in the order their first line was added. */
export function merchantsOf(lines: CartLine[]): string[] {
  return [...new Set(lines.map((l) => l.merchantId))];
}

/**
 * Prices each merchant's part by its own shipping options and tax rates for the destination. The purchase's total
 * is the sum of the parts, and each part is the share of the one authorization its order captures from.
 */
export function priceCart(lines: CartLine[], shipping: Record<string, string | null | undefined>, address: Address | null,
  pricingOf: (merchantId: string) => MerchantPricing): { parts: CartPart[]; totalMinor: number; currency: string } {
  if (lines.length === 0) throw new CartError('cart_empty', 'The cart has no items to buy');
  const currency = lines[0].currency;
  const parts = merchantsOf(lines).map((merchantId) => {
    const own = lines.filter((l) => l.merchantId === merchantId);
    const optionId = own.some((l) => l.kind === 'hard') ? shipping[merchantId] ?? null : null;
    try {
      const priced = priceOrder(own.map((l) => ({ sku: l.sku, description: l.title, quantity: l.quantity, unitPriceMinor: l.unitPriceMinor, kind: l.kind })),
        optionId, address, pricingOf(merchantId));
      if (priced.currency !== currency) throw new CartError('currency_mismatch', `Merchant ${merchantId} sells in ${priced.currency}, the cart is in ${currency}`);
      return { merchantId, priced, shippingOptionId: optionId };
    } catch (err) {
      if (err instanceof PricingError) throw new CartError(err.code, `${merchantId}: ${err.message}`, `shipping.${merchantId}`);
      throw err;
    }
  });
  return { parts, totalMinor: parts.reduce((s, p) => s + p.priced.totalMinor, 0), currency };
}

/** Each part's share of the purchase's authorization: its order's total (they add up to the authorized amount). */
export function splitAuthorization(authorizedMinor: number, parts: CartPart[]): Array<{ merchantId: string; amountMinor: number }> {
  const shares = parts.map((p) => ({ merchantId: p.merchantId, amountMinor: p.priced.totalMinor }));
  const total = shares.reduce((s, p) => s + p.amountMinor, 0);
  if (total !== authorizedMinor) throw new Error(`the parts total ${total}, the authorization ${authorizedMinor}`);
  return shares;
}

/** The cart's items and what the customer does with them; the workflow wires its messages to this. */
export class Cart {
  lines: CartLine[];
  state: CartState;
  orders: CartView['orders'];
  lastError: CartView['lastError'] = null;
  purchase: CartView['purchase'] = null;
  updatedAtMs: number;
  /** The number in the idempotency key of the purchase's authorization (a new one for each try the processor answered). */
  purchaseAttempts: number;
  /** The last try was never answered by the processor: the next asks again under its key. */
  private askAgain: boolean;

  constructor(readonly id: string, s: Partial<CartCarried> & { orders?: CartView['orders']; updatedAtMs: number }) {
    this.purchaseAttempts = s.purchaseAttempts ?? 0;
    this.askAgain = s.askAgain ?? false;
    this.lines = s.lines ?? [];
    this.state = s.state ?? 'active';
    this.orders = s.orders ?? [];
    this.lastError = s.lastError ?? null;
    this.updatedAtMs = s.updatedAtMs;
  }

  /** What a new run of the cart's workflow starts from (continue-as-new). */
  carried(): CartCarried {
    return { lines: this.lines, state: this.state, updatedAtMs: this.updatedAtMs, lastError: this.lastError,
      purchaseAttempts: this.purchaseAttempts, askAgain: this.askAgain };
  }

  /** A new number for the authorization's key (the one asked again was for another total). */
  nextPurchaseKey(): number {
    return ++this.purchaseAttempts;
  }

  get currency(): string | null { return this.lines[0]?.currency ?? null; }

  private assertActive(): void {
    if (this.state !== 'active') throw new CartError('cart_not_active', `The cart is ${this.state}`);
  }

  /** Adds an offered item (or more of one already in the cart), within the merchant's quantity limits and the cart's. */
  add(item: Omit<CartLine, 'quantity'>, quantity: number, nowMs: number): void {
    this.assertActive();
    const existing = this.lines.find((l) => lineKey(l) === lineKey(item));
    const want = (existing?.quantity ?? 0) + quantity;
    this.checkQuantity(item, want);
    if (this.currency && item.currency !== this.currency) {
      throw new CartError('currency_mismatch', `The cart is in ${this.currency}; this item is in ${item.currency}`, 'currency');
    }
    if (!existing) {
      if (this.lines.length >= MAX_CART_LINES) throw new CartError('cart_full', `A cart holds at most ${MAX_CART_LINES} lines`);
      if (!merchantsOf(this.lines).includes(item.merchantId) && merchantsOf(this.lines).length >= MAX_CART_MERCHANTS) {
        throw new CartError('too_many_merchants', `A cart holds items of at most ${MAX_CART_MERCHANTS} merchants`);
      }
      this.lines.push({ ...item, quantity: want });
    } else {
      existing.quantity = want;
    }
    this.updatedAtMs = nowMs;
  }

  /** Sets a line's quantity; 0 removes it. */
  setQuantity(key: string, quantity: number, nowMs: number): void {
    this.assertActive();
    const i = this.lines.findIndex((l) => lineKey(l) === key);
    if (i < 0) throw new CartError('unknown_line', `The cart has no line ${key}`, 'line');
    if (quantity === 0) this.lines.splice(i, 1);
    else {
      this.checkQuantity(this.lines[i], quantity);
      this.lines[i].quantity = quantity;
    }
    this.updatedAtMs = nowMs;
  }

  private checkQuantity(l: { minQuantity: number; maxQuantity: number; title: string }, q: number): void {
    const max = Math.min(l.maxQuantity, MAX_LINE_QUANTITY);
    if (!Number.isInteger(q) || q < l.minQuantity || q > max) {
      throw new CartError('quantity_invalid', `${l.title}: between ${l.minQuantity} and ${max}`, 'quantity');
    }
  }

  /**
   * A purchase may start: the cart is active, and it was priced from the cart's lines as they are now, each either
   * bought (same quantity) or dropped (no longer offered).
   */
  admitPurchase(lines: CartLine[], dropped: string[]): void {
    if (this.state === 'purchasing' || this.state === 'purchased') return; // (a repeat joins the purchase)
    this.assertActive();
    if (this.lines.length === 0) throw new CartError('cart_empty', 'The cart has no items to buy');
    const bought = new Map(lines.map((l) => [lineKey(l), l.quantity]));
    const gone = new Set(dropped);
    const accounted = this.lines.every((l) => bought.get(lineKey(l)) === l.quantity || (gone.has(lineKey(l)) && !bought.has(lineKey(l))));
    const known = new Set(this.lines.map(lineKey));
    if (lines.length === 0 || !accounted || lines.some((l) => !known.has(lineKey(l))) || bought.size + gone.size !== this.lines.length) {
      throw new CartError('cart_changed', 'The cart changed since it was priced; review it again');
    }
  }

  startPurchase(totalMinor: number, nowMs: number): void {
    if (!this.askAgain) this.purchaseAttempts++;
    this.askAgain = false;
    this.state = 'purchasing';
    this.lastError = null;
    this.purchase = { state: 'authorizing', totalMinor };
    this.updatedAtMs = nowMs;
  }

  /** The authorization failed (declined, AVS, or no answer from the processor): the cart is the customer's again. */
  purchaseFailed(code: string, message: string, nowMs: number): void {
    this.askAgain = code === 'processor_unreachable';
    this.state = 'active';
    this.purchase = null;
    this.lastError = { code, message };
    this.updatedAtMs = nowMs;
  }

  purchased(orders: CartView['orders'], lines: CartLine[], nowMs: number): void {
    this.state = 'purchased';
    this.orders = orders;
    this.lines = lines;
    this.purchase = { state: 'done', totalMinor: this.purchase?.totalMinor ?? 0 };
    this.updatedAtMs = nowMs;
  }

  expire(nowMs: number): boolean {
    if (this.state !== 'active' || nowMs - this.updatedAtMs < CART_IDLE_MS) return false;
    this.state = 'expired';
    return true;
  }

  view(): CartView {
    return { id: this.id, state: this.state, currency: this.currency, lines: this.lines, orders: this.orders, lastError: this.lastError,
      purchase: this.purchase, updatedAt: new Date(this.updatedAtMs).toISOString() };
  }
}
