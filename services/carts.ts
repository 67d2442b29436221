// Broker carts as merchants and customers use them. A merchant offers an item with its own key: its catalog entry is
// written and it gets a signed offer (the item's description under the broker's HMAC) that a customer's browser
// brings to the hosted cart. A customer is known by a secret cookie; carts keep only its hash. Each cart is a
// workflow (Update-with-Start on the first item); a purchase is priced here from the merchants' current offers and
// the customer must have confirmed exactly that total. Published references show the items, never the owner.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Client, WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { type CartLine, type CartView, type CatalogItem, CartError, lineKey, merchantsOf, type PriceChange, priceCart, reprice } from '../domain/cart';
import type { Address } from '../domain/order';
import type { PricedOrder, ShippingOption } from '../domain/pricing';
import type { CheckoutStore, PublishedCart } from '../stores/checkout';
import type { GrantStore } from '../stores/grants';
import type { MerchantConfig, MerchantStore } from '../stores/merchants';
import {
  addAllUpdate, addUpdate, type CartInput, type CartWorkflow, cartWorkflowId, purchaseUpdate, quantityUpdate,
} from '../workflows/cart.contract';
import type { OrderTiming } from './orders';
import { isTemporalUnavailable, replyWithin, TemporalUnavailable, updateRefusal, withinDeadline } from './temporal';

export { CartError } from '../domain/cart';

/** How long a signed offer may be brought to a cart. */
export const OFFER_TTL_MS = 7 * 24 * 3600_000;
/** How long a purchase waits for its authorization before answering the cart as it stands (purchasing; the page polls). */
export const PURCHASE_REPLY_WAIT_MS = 3500;
/** The longest a published reference may stay published. */
export const MAX_REFERENCE_DAYS = 365;
const OFFER_KEY_ID = 'cart-offers';
const OFFER_PREFIX = 'offer_';

export type OfferRequest = Omit<CatalogItem, 'merchantId' | 'currency' | 'available' | 'imageUrl'> & { imageUrl?: string; available?: boolean };

/** A merchant of the cart as the pages show it. */
export interface CartMerchant { id: string; name: string; shippingOptions: ShippingOption[] }

export interface CartQuote {
  lines: CartLine[];
  changes: PriceChange[];
  parts: Array<{ merchantId: string; priced: PricedOrder; shippingOptionId: string | null }>;
  totalMinor: number;
  currency: string;
}

export interface PurchaseAsk {
  shipping: Record<string, string>;
  address: Address | null;
  token: string;
  billingPostalCode: string;
  /** The total the customer saw and confirmed: a purchase priced otherwise now is refused (price_changed). */
  expectedTotalMinor: number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class CartService {
  private constructor(private readonly deps: {
    checkout: CheckoutStore; merchants: MerchantStore; temporal: Client; taskQueue: string; timing: OrderTiming; publicUrl: string;
    clock: () => number; offerKey: Buffer;
  }) {}

  static async create(deps: Omit<CartService['deps'], 'offerKey'> & { grants: GrantStore }): Promise<CartService> {
    return new CartService({ ...deps, offerKey: await deps.grants.secret(OFFER_KEY_ID) });
  }

  // --- merchants ---------------------------------------------------------------------------------------------

  /** Writes the merchant's offer of the item (its catalog entry, what purchases are priced by) and signs it. */
  async offer(merchantId: string, req: OfferRequest): Promise<{ item: CatalogItem; offer: string; addUrl: string; expiresAt: string }> {
    const merchant = await this.merchant(merchantId);
    if (req.minQuantity > req.maxQuantity) throw new CartError('parameter_invalid', 'minQuantity exceeds maxQuantity', 'minQuantity');
    const item: CatalogItem = { ...req, merchantId, currency: merchant.currency, imageUrl: req.imageUrl ?? null, available: req.available ?? true };
    await this.deps.checkout.offer(item);
    const exp = this.deps.clock() + OFFER_TTL_MS;
    const body = Buffer.from(JSON.stringify({ ...item, exp })).toString('base64url');
    const offer = `${OFFER_PREFIX}${body}.${this.sign(body)}`;
    return { item, offer, addUrl: `${this.deps.publicUrl}/carts/add?offer=${offer}`, expiresAt: new Date(exp).toISOString() };
  }

  /** A signed offer's item, if the signature holds and it has not expired. */
  openOffer(offer: string): CatalogItem {
    const bad = () => new CartError('offer_invalid', 'This item offer is not valid (altered, or from no merchant of ours)', 'offer');
    if (typeof offer !== 'string' || offer.length > 4000 || !offer.startsWith(OFFER_PREFIX)) throw bad();
    const [body, sig, ...rest] = offer.slice(OFFER_PREFIX.length).split('.');
    if (!body || !sig || rest.length) throw bad();
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    const item = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CatalogItem & { exp: number };
    if (item.exp < this.deps.clock()) throw new CartError('offer_expired', 'This item offer has expired; ask the merchant again', 'offer');
    const { exp: _, ...rest2 } = item;
    return rest2;
  }

  // --- customers ---------------------------------------------------------------------------------------------

  /** A new customer's secret (the cookie's value). */
  newCustomer(): string {
    return randomBytes(24).toString('base64url');
  }

  /** The cart as its workflow last saved it, if this customer owns it (else undefined: a stranger's cart is as good as absent). */
  async owned(cartId: string, customer: string | undefined): Promise<{ id: string; view: CartView } | undefined> {
    if (!customer || !/^cart_[A-Za-z0-9_-]{1,40}$/.test(cartId)) return undefined;
    const row = await this.deps.checkout.cart(cartId);
    if (!row || !row.ownerSha256.equals(sha256(customer))) return undefined;
    return { id: row.id, view: row.view ?? emptyView(row.id, this.deps.clock()) };
  }

  /**
   * The cart as it stands: as its workflow saved it (each change is saved in the workflow task that makes it, before
   * the change's update is answered), read again.
   */
  async current(cart: { id: string; view: CartView }): Promise<CartView> {
    return (await this.deps.checkout.cart(cart.id))?.view ?? cart.view;
  }

  /** Adds an offered item to the customer's active cart (a new one if none); returns the cart. */
  async add(customer: string, offer: string, quantity: number): Promise<CartView> {
    const item = this.openOffer(offer);
    let cartId = await this.deps.checkout.activeCartOf(sha256(customer));
    if (!cartId) {
      cartId = `cart_${randomBytes(18).toString('base64url')}`;
      await this.deps.checkout.createCart(cartId, sha256(customer));
    }
    const { merchantId, sku, title, unitPriceMinor, currency, kind, minQuantity, maxQuantity, imageUrl } = item;
    return this.update(cartId, addUpdate, { line: { merchantId, sku, title, unitPriceMinor, currency, kind, minQuantity, maxQuantity, imageUrl }, quantity }, true);
  }

  setQuantity(cartId: string, key: string, quantity: number): Promise<CartView> {
    return this.update(cartId, quantityUpdate, { key, quantity });
  }

  /** The merchants of these lines: names and shipping options. */
  async merchantsOf(lines: CartLine[]): Promise<CartMerchant[]> {
    const all = await Promise.all(merchantsOf(lines).map((id) => this.merchant(id)));
    return all.map((m) => ({ id: m.id, name: m.name, shippingOptions: m.shippingOptions }));
  }

  /** The purchase as the merchants' offers price it now: lines (changes reported), each merchant's part, the total. */
  async quote(view: CartView, shipping: Record<string, string>, address: Address | null): Promise<CartQuote> {
    return (await this.priced(view, shipping, address)).quote;
  }

  /**
   * Buys the cart: priced now, it must total what the customer confirmed (else price_changed: show the new quote);
   * the lines that can no longer be supplied are left out. Answered once the authorization is decided, or after
   * PURCHASE_REPLY_WAIT_MS with the cart purchasing (the page polls); a cart already purchasing is answered as it is.
   */
  async purchase(view: CartView, ask: PurchaseAsk): Promise<CartView> {
    if (view.state === 'purchasing') return view; // (a second click while the first decides: no second update)
    const { quote, merchants } = await this.priced(view, ask.shipping, ask.address);
    if (quote.totalMinor !== ask.expectedTotalMinor) {
      throw new CartError('price_changed', `The total is now ${quote.totalMinor}${quote.changes.length ? ' (prices or items changed)' : ''}; confirm it to buy`,
        'expectedTotalMinor');
    }
    const parts = quote.parts.map((p) => {
      const m = merchants.get(p.merchantId)!;
      return { ...p, policy: { avsPolicy: m.avsPolicy, feeBps: m.feeBps, reviewTimeoutMs: m.reviewTimeoutSeconds * 1000, ...this.deps.timing } };
    });
    const reply = this.update(view.id, purchaseUpdate, { lines: quote.lines, parts, totalMinor: quote.totalMinor, currency: quote.currency,
      dropped: quote.changes.filter((c) => c.change === 'unavailable').map(lineKey), address: ask.address,
      payment: { token: ask.token, billingPostalCode: ask.billingPostalCode }, customerId: `cart-${view.id}` }, false, 60_000);
    return await replyWithin(reply, PURCHASE_REPLY_WAIT_MS) ?? this.current({ id: view.id, view });
  }

  private async priced(view: CartView, shipping: Record<string, string>, address: Address | null) {
    const { lines, changes } = reprice(view.lines, await this.deps.checkout.catalog(view.lines));
    const merchants = new Map((await Promise.all(merchantsOf(lines).map((id) => this.merchant(id)))).map((m) => [m.id, m]));
    const priced = priceCart(lines, shipping, address, (id) => merchants.get(id)!);
    const quote: CartQuote = { lines, changes, parts: priced.parts.map((p) => ({ merchantId: p.merchantId, priced: p.priced, shippingOptionId: p.shippingOptionId })),
      totalMinor: priced.totalMinor, currency: priced.currency };
    return { quote, merchants };
  }

  // --- published references ----------------------------------------------------------------------------------

  async publish(cartId: string, view: CartView, expiresInDays: number | null): Promise<PublishedCart & { url: string }> {
    if (view.lines.length === 0) throw new CartError('cart_empty', 'An empty cart cannot be published');
    if (expiresInDays !== null && (!Number.isInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > MAX_REFERENCE_DAYS)) {
      throw new CartError('parameter_invalid', `expiresInDays: 1 to ${MAX_REFERENCE_DAYS}`, 'expiresInDays');
    }
    const ref = randomBytes(16).toString('base64url');
    const published = await this.deps.checkout.publish({ ref, cartId, lines: view.lines.map((l) => ({ ...l })),
      expiresAt: expiresInDays === null ? null : new Date(this.deps.clock() + expiresInDays * 86_400_000) });
    return { ...published, url: this.referenceUrl(ref) };
  }

  referenceUrl(ref: string): string {
    return `${this.deps.publicUrl}/carts/p/${ref}`;
  }

  references(cartId: string) {
    return this.deps.checkout.referencesOf(cartId);
  }

  unpublish(cartId: string, ref: string): Promise<boolean> {
    return this.deps.checkout.unpublish(cartId, ref);
  }

  /** A published reference that is still published and not expired; else undefined. */
  async reference(ref: string): Promise<PublishedCart | undefined> {
    if (!/^[A-Za-z0-9_-]{22}$/.test(ref)) return undefined;
    const r = await this.deps.checkout.reference(ref);
    if (!r || r.unpublishedAt || (r.expiresAt && r.expiresAt.getTime() <= this.deps.clock())) return undefined;
    return r;
  }

  /**
   * The reference's items in a new cart of this customer, priced afresh by the merchants' current offers (items no
   * longer offered are left out); returns the new cart.
   */
  async copy(published: PublishedCart, customer: string): Promise<CartView> {
    const catalog = await this.deps.checkout.catalog(published.lines);
    const { lines } = reprice(published.lines, catalog);
    if (lines.length === 0) throw new CartError('nothing_available', 'None of these items is offered any more');
    const cartId = `cart_${randomBytes(18).toString('base64url')}`;
    await this.deps.checkout.createCart(cartId, sha256(customer));
    return this.update(cartId, addAllUpdate, lines.map(({ quantity, ...line }) => ({ line, quantity })), true);
  }

  // --- the workflow ------------------------------------------------------------------------------------------

  private async update<A>(cartId: string, def: UpdateDefinition<CartView, [A]>, arg: A, start = false, ms?: number): Promise<CartView> {
    const { temporal, taskQueue } = this.deps;
    try {
      return await withinDeadline(temporal, () => (start
        ? temporal.workflow.executeUpdateWithStart(def, { args: [arg] as [A], startWorkflowOperation: new WithStartWorkflowOperation<CartWorkflow>('cartWorkflow', {
          workflowId: cartWorkflowId(cartId), taskQueue, args: [{ cartId } as CartInput], workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `Cart ${cartId}` }) })
        : temporal.workflow.getHandle(cartWorkflowId(cartId)).executeUpdate(def, { args: [arg] as [A] })), ms);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CartError('cart_not_active', 'The cart is no longer open');
      const refusal = updateRefusal(err);
      if (refusal) throw new CartError(refusal.code, refusal.message, refusal.param);
      throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
    }
  }

  private async merchant(id: string): Promise<MerchantConfig> {
    const m = await this.deps.merchants.get(id);
    if (!m) throw new CartError('unknown_merchant', `No merchant ${id}`);
    return m;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.deps.offerKey).update(body).digest('base64url');
  }
}


function emptyView(id: string, nowMs: number): CartView {
  return { id, state: 'active', currency: null, lines: [], orders: [], lastError: null, purchase: null, updatedAt: new Date(nowMs).toISOString() };
}
