// Checkout sessions and carts as PostgreSQL keeps them (migration 023): a session's row before its workflow starts,
// with its view as the workflow saves it; the merchants' catalog of cart items; carts (their owner as a hash) and
// their published references.
import type { CatalogItem, CartLine, CartView } from '../domain/cart';
import type { CheckoutSessionInput, CheckoutSessionView } from '../domain/checkout';
import type { Db } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';

export interface CheckoutSessionRow {
  id: string;
  merchantId: string;
  input: CheckoutSessionInput;
  view: CheckoutSessionView | null;
  state: string;
  orderId: string | null;
  createdAt: Date;
}

export interface PublishedCart {
  ref: string;
  cartId: string;
  /** The items as published: merchant, sku, title, quantity, price; nothing about who published them. */
  lines: CartLine[];
  expiresAt: Date | null;
  unpublishedAt: Date | null;
  createdAt: Date;
}

const sessionOf = (r: Record<string, any>): CheckoutSessionRow => ({
  id: r.id, merchantId: r.merchant_id, input: r.input, view: r.view, state: r.state, orderId: r.order_id, createdAt: r.created_at,
});
const catalogOf = (r: Record<string, any>): CatalogItem => ({
  merchantId: r.merchant_id, sku: r.sku, title: r.title, unitPriceMinor: Number(r.unit_price_minor), currency: r.currency.trim(), kind: r.kind,
  minQuantity: r.min_quantity, maxQuantity: r.max_quantity, imageUrl: r.image_url, available: r.available,
});
const referenceOf = (r: Record<string, any>): PublishedCart => ({
  ref: r.ref, cartId: r.cart_id, lines: r.lines, expiresAt: r.expires_at, unpublishedAt: r.unpublished_at, createdAt: r.created_at,
});

export class CheckoutStore {
  constructor(private readonly db: Db) {}

  /** Writes a session's row once per merchant and key: the new row, or the existing one with whether it is the same request. */
  async claimSession(s: { id: string; merchantId: string; idempotencyKey: string; requestSha256: Buffer; input: CheckoutSessionInput }):
  Promise<{ row: CheckoutSessionRow; claim: 'created' | 'same' | 'different' }> {
    const [inserted] = await this.db('checkout_sessions').insert({
      id: s.id, merchant_id: s.merchantId, idempotency_key: s.idempotencyKey, request_sha256: s.requestSha256, input: JSON.stringify(s.input),
      expires_at: s.input.expiresAt,
    }).onConflict(['merchant_id', 'idempotency_key']).ignore().returning('*');
    if (inserted) return { row: sessionOf(inserted), claim: 'created' };
    const existing = await this.db('checkout_sessions').where({ merchant_id: s.merchantId, idempotency_key: s.idempotencyKey }).first();
    return { row: sessionOf(existing), claim: (existing.request_sha256 as Buffer).equals(s.requestSha256) ? 'same' : 'different' };
  }

  async session(id: string): Promise<CheckoutSessionRow | undefined> {
    const r = await this.db('checkout_sessions').where({ id }).first();
    return r && sessionOf(r);
  }

  async saveSession(view: CheckoutSessionView): Promise<void> {
    await this.db('checkout_sessions').where({ id: view.id }).update({ view: JSON.stringify(view), state: view.state, order_id: view.orderId });
  }

  /** A merchant's sessions, newest first. */
  listSessions(req: PageRequest & { merchantId: string }): Promise<Page<CheckoutSessionRow>> {
    return pageOf(() => this.db('checkout_sessions').where({ merchant_id: req.merchantId }), req, sessionOf);
  }

  // --- the catalog -----------------------------------------------------------------------------------------

  async offer(item: CatalogItem): Promise<void> {
    await this.db('catalog_items').insert({
      merchant_id: item.merchantId, sku: item.sku, title: item.title, unit_price_minor: item.unitPriceMinor, currency: item.currency,
      kind: item.kind, min_quantity: item.minQuantity, max_quantity: item.maxQuantity, image_url: item.imageUrl, available: item.available,
    }).onConflict(['merchant_id', 'sku']).merge({
      title: item.title, unit_price_minor: item.unitPriceMinor, currency: item.currency, kind: item.kind, min_quantity: item.minQuantity,
      max_quantity: item.maxQuantity, image_url: item.imageUrl, available: item.available, updated_at: this.db.fn.now(),
    });
  }

  /** The merchants' current offers of these items, by lineKey (merchant/sku); an item never offered is absent. */
  async catalog(items: Array<{ merchantId: string; sku: string }>): Promise<Map<string, CatalogItem>> {
    if (items.length === 0) return new Map();
    const rows = await this.db('catalog_items').whereIn(['merchant_id', 'sku'], items.map((i) => [i.merchantId, i.sku]));
    return new Map(rows.map((r: Record<string, any>) => { const c = catalogOf(r); return [`${c.merchantId}/${c.sku}`, c]; }));
  }

  // --- carts -------------------------------------------------------------------------------------------------

  async createCart(id: string, ownerSha256: Buffer): Promise<void> {
    await this.db('carts').insert({ id, owner_sha256: ownerSha256 });
  }

  async cart(id: string): Promise<{ id: string; ownerSha256: Buffer; state: string; view: CartView | null } | undefined> {
    const r = await this.db('carts').where({ id }).first();
    return r && { id: r.id, ownerSha256: r.owner_sha256, state: r.state, view: r.view };
  }

  /** The owner's newest active cart. */
  async activeCartOf(ownerSha256: Buffer): Promise<string | undefined> {
    const r = await this.db('carts').where({ owner_sha256: ownerSha256, state: 'active' }).orderBy('updated_at', 'desc').first('id');
    return r?.id;
  }

  async saveCart(view: CartView): Promise<void> {
    await this.db('carts').where({ id: view.id }).update({ view: JSON.stringify(view), state: view.state, updated_at: this.db.fn.now() });
  }

  async publish(p: { ref: string; cartId: string; lines: CartLine[]; expiresAt: Date | null }): Promise<PublishedCart> {
    const [r] = await this.db('cart_references').insert({ ref: p.ref, cart_id: p.cartId, lines: JSON.stringify(p.lines), expires_at: p.expiresAt })
      .returning('*');
    return referenceOf(r);
  }

  async reference(ref: string): Promise<PublishedCart | undefined> {
    const r = await this.db('cart_references').where({ ref }).first();
    return r && referenceOf(r);
  }

  async referencesOf(cartId: string): Promise<PublishedCart[]> {
    return (await this.db('cart_references').where({ cart_id: cartId }).orderBy('created_at')).map(referenceOf);
  }

  /** Unpublishes a reference of this cart: false when it has no such reference. */
  async unpublish(cartId: string, ref: string): Promise<boolean> {
    const n = await this.db('cart_references').where({ ref, cart_id: cartId }).whereNull('unpublished_at').update({ unpublished_at: this.db.fn.now() });
    return n > 0 || (await this.db('cart_references').where({ ref, cart_id: cartId }).first('ref')) !== undefined;
  }
}
