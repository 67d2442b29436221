// Micro-payment parties: buyers (a payment token and a currency) and sellers (merchants with a payout destination
// and the broker's fee rate), the items sellers publish, and the rule sets buyers and sellers hand to their
// programs. Lookups take many keys at once (prepared statements), so a batch of a thousand payments costs a
// handful of queries.
import { randomBytes } from 'node:crypto';
import { MAX_ITEMS_PER_SELLER, MAX_RULE_SETS_PER_OWNER } from '../domain/micropayments';
import { type BuyerRules, hasValidWindow, type SellerRules } from '../domain/rules';
import { accounts, buyerReceivable, sellerPayable } from '../ledger/accounts';
import type { Db, Statements } from '../ledger/db';
import { Ledger } from '../ledger/ledger';
import { MerchantStore } from './merchants';
import { insertPrincipal, sha256 } from './principals';
import { type Page, pageOf, type PageRequest } from './page';
import { StoreRefusal } from './refusal';

export interface Buyer { id: string; name: string; currency: string; paymentToken: string; buyerClass: string; suspendedAt: Date | null; suspendedReason: string | null; createdAt: Date }
export interface Seller { id: string; name: string; currency: string; payoutDestination: string; feeBps: number; createdAt: Date }
export interface Item { sellerId: string; id: string; title: string; category: string; priceMinor: number; currency: string; grantSeconds: number; updatedAt: Date }
export interface ItemTerms { title: string; category: string; priceMinor: number; currency: string; grantSeconds: number }
export interface RuleSet { id: string; ownerId: string; party: 'buyer' | 'seller'; rules: BuyerRules & SellerRules; createdAt: Date; revokedAt: Date | null }
export type RuleSetWithBuyer = RuleSet & { buyer?: Buyer };
export type SellerWithRules = Seller & { hasRules: boolean };

/** Rule sets listed per owner. */
export const MAX_RULE_SETS_LISTED = 100;

export const newRuleSetToken = () => `rst_${randomBytes(32).toString('base64url')}`;
export const newRuleSetId = () => `rs_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

const buyerOf = (r: Record<string, any>): Buyer => ({
  id: r.id, name: r.name, currency: r.currency, paymentToken: r.payment_token, buyerClass: r.buyer_class,
  suspendedAt: r.suspended_at, suspendedReason: r.suspended_reason, createdAt: r.created_at,
});
const sellerOf = (r: Record<string, any>): Seller => ({
  id: r.id, name: r.name, currency: r.currency, payoutDestination: r.payout_destination, feeBps: r.fee_bps, createdAt: r.created_at,
});
const itemOf = (r: Record<string, any>): Item => ({
  sellerId: r.seller_id, id: r.id, title: r.title, category: r.category, priceMinor: Number(r.price_minor),
  currency: r.currency, grantSeconds: r.grant_seconds, updatedAt: r.updated_at,
});
const ruleSetOf = (r: Record<string, any>): RuleSet => ({
  id: r.id, ownerId: r.owner_id, party: r.party, rules: r.rules, createdAt: r.created_at, revokedAt: r.revoked_at,
});

export class PartyStore {
  private readonly merchants: MerchantStore;

  constructor(private readonly db: Db, private readonly statements: Statements) {
    this.merchants = new MerchantStore(db);
  }

  // --- buyers ----------------------------------------------------------------------------------------

  /** A buyer: its principal and first API key, its row and its receivable account, in one transaction. */
  createBuyer(b: { name: string; currency: string; paymentToken: string; buyerClass?: string }): Promise<{ buyer: Buyer; apiKey: string }> {
    return this.db.transaction(async (trx) => {
      const { principal, apiKey } = await insertPrincipal(trx, 'buyer', b.name);
      const [row] = await trx('buyers').insert({ id: principal.id, currency: b.currency, payment_token: b.paymentToken,
        buyer_class: b.buyerClass ?? 'standard' }).returning('*');
      await new Ledger(trx).openAccount(buyerReceivable(principal.id, b.currency));
      return { buyer: buyerOf({ ...row, name: b.name }), apiKey };
    });
  }

  /** A page of buyers, newest first (operators). */
  async listBuyers(req: PageRequest): Promise<Page<Buyer>> {
    return pageOf(() => this.db('buyers as b').join('principals as p', 'p.id', 'b.id').select('b.*', 'p.name'), req, buyerOf,
      { key: ['b.created_at', 'b.id'], cursors: () => this.db('buyers as b') });
  }

  async getBuyer(id: string): Promise<Buyer | undefined> {
    const r = await this.db('buyers as b').join('principals as p', 'p.id', 'b.id').where('b.id', id).first('b.*', 'p.name');
    return r && buyerOf(r);
  }

  /** A new card, a class, or reinstatement of a suspended buyer. */
  async updateBuyer(id: string, change: { paymentToken?: string; buyerClass?: string; reinstate?: boolean }): Promise<Buyer | undefined> {
    const cols: Record<string, unknown> = {};
    if (change.paymentToken !== undefined) cols.payment_token = change.paymentToken;
    if (change.buyerClass !== undefined) cols.buyer_class = change.buyerClass;
    if (change.reinstate) { cols.suspended_at = null; cols.suspended_reason = null; }
    if (Object.keys(cols).length) await this.db('buyers').where({ id }).update(cols);
    return this.getBuyer(id);
  }

  // --- sellers ---------------------------------------------------------------------------------------

  /** A seller that is a new merchant: principal, first API key, merchant and seller rows, accounts. */
  createSeller(s: { name: string; currency: string; payoutDestination: string; feeBps: number }): Promise<{ seller: Seller; apiKey: string }> {
    return this.db.transaction(async (trx) => {
      const { merchant, apiKey } = await this.merchants.create(s.name, { currency: s.currency, feeBps: s.feeBps }, trx);
      return { seller: await this.addSeller(trx, merchant.id, merchant.name, s), apiKey };
    });
  }

  /** An existing merchant becomes a seller (its card-order captures are then credited with its sales). */
  async merchantBecomesSeller(merchantId: string, s: { payoutDestination: string; feeBps: number }): Promise<Seller> {
    const m = await this.merchants.get(merchantId);
    if (!m) throw new StoreRefusal('unknown_merchant', `No merchant ${merchantId}`, 'merchantId');
    return this.db.transaction(async (trx) => {
      // (the merchant's row lock: no payout of it is being prepared or failing meanwhile)
      await trx('merchants').where({ id: m.id }).forUpdate().first('id');
      if (await trx('sellers').where({ id: m.id }).first('id')) {
        throw new StoreRefusal('already_a_seller', `Merchant ${m.id} is a seller already`, 'merchantId');
      }
      // a seller's card sales go into its period credits, never into payouts: what payouts still owe it is paid first
      const owed = await trx('payouts').where({ merchant_id: m.id }).where((q) => q.where({ state: 'pending' })
        .orWhere((w) => w.whereIn('state', ['carried', 'failed']).whereNull('carried_into'))).first('id')
        ?? await trx('reserves').where({ merchant_id: m.id }).whereNull('released_by').first('payout_id');
      if (owed) {
        throw new StoreRefusal('payouts_outstanding', `Merchant ${m.id} has payouts or reserves still to pay: `
          + 'it becomes a seller once they are paid (POST /v1/payouts pays what is due now)', 'merchantId');
      }
      return this.addSeller(trx, m.id, m.name, { ...s, currency: m.currency });
    });
  }

  /** A merchant's seller row and the accounts its sales are booked to. */
  private async addSeller(trx: Db, id: string, name: string, s: { currency: string; payoutDestination: string; feeBps: number }): Promise<Seller> {
    const [row] = await trx('sellers').insert({ id, currency: s.currency, payout_destination: s.payoutDestination, fee_bps: s.feeBps })
      .returning('*');
    const ledger = new Ledger(trx);
    await ledger.openAccount(sellerPayable(id, s.currency));
    await ledger.openAccount(accounts(s.currency, id).fees);
    return sellerOf({ ...row, name });
  }

  /** A page of sellers, newest first (operators). */
  async listSellers(req: PageRequest): Promise<Page<Seller>> {
    return pageOf(() => this.db('sellers as s').join('principals as p', 'p.id', 's.id').select('s.*', 'p.name'), req, sellerOf,
      { key: ['s.created_at', 's.id'], cursors: () => this.db('sellers as s') });
  }

  async getSeller(id: string): Promise<Seller | undefined> {
    const r = await this.db('sellers as s').join('principals as p', 'p.id', 's.id').where('s.id', id).first('s.*', 'p.name');
    return r && sellerOf(r);
  }

  /** Sellers by id, and whether each holds an active rule set (its payments must then present one). */
  async sellersById(ids: string[]): Promise<Map<string, SellerWithRules>> {
    if (ids.length === 0) return new Map();
    const rows = await this.statements.query<Record<string, any>>('sellers-by-id', `
      SELECT s.*, '' AS name,
        EXISTS (SELECT 1 FROM rule_sets r WHERE r.owner_id = s.id AND r.party = 'seller' AND r.revoked_at IS NULL) AS has_rules
      FROM sellers s WHERE s.id = ANY($1::text[])`, [ids]);
    return new Map(rows.map((r) => [r.id, { ...sellerOf(r), hasRules: r.has_rules }]));
  }

  // --- items -----------------------------------------------------------------------------------------

  /**
   * Publishes (or changes) an item's terms, in the seller's currency and within MAX_ITEMS_PER_SELLER; payments
   * already recorded keep the price they were made at.
   */
  putItem(seller: Seller, id: string, t: ItemTerms): Promise<{ item: Item; created: boolean }> {
    const sellerId = seller.id;
    if (t.currency !== seller.currency) throw new StoreRefusal('currency_mismatch', `The seller sells in ${seller.currency}`, 'currency');
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`items\n${sellerId}`]);
      const existing = await trx('items').where({ seller_id: sellerId, id }).first('id');
      if (!existing) {
        const { n } = (await trx('items').where({ seller_id: sellerId }).count({ n: '*' }).first()) as { n: string };
        if (Number(n) >= MAX_ITEMS_PER_SELLER) {
          throw new StoreRefusal('too_many_items', `A seller may publish at most ${MAX_ITEMS_PER_SELLER} items`);
        }
      }
      const cols = { title: t.title, category: t.category, price_minor: t.priceMinor, currency: t.currency, grant_seconds: t.grantSeconds,
        updated_at: trx.fn.now() };
      const [row] = await trx('items').insert({ seller_id: sellerId, id, ...cols }).onConflict(['seller_id', 'id']).merge(cols).returning('*');
      return { item: itemOf(row), created: !existing };
    });
  }

  async getItem(sellerId: string, id: string): Promise<Item | undefined> {
    const row = await this.db('items').where({ seller_id: sellerId, id }).first();
    return row && itemOf(row);
  }

  async listItems(sellerId: string): Promise<Item[]> {
    return (await this.db('items').where({ seller_id: sellerId }).orderBy('id').limit(MAX_ITEMS_PER_SELLER)).map(itemOf);
  }

  /** Items keyed `${sellerId}/${itemId}`. */
  async itemsByKey(keys: Array<{ sellerId: string; itemId: string }>): Promise<Map<string, Item>> {
    if (keys.length === 0) return new Map();
    const rows = await this.statements.query<Record<string, any>>('items-by-key', `
      SELECT i.* FROM items i WHERE (i.seller_id, i.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [keys.map((k) => k.sellerId), keys.map((k) => k.itemId)]);
    return new Map(rows.map((r) => [`${r.seller_id}/${r.id}`, itemOf(r)]));
  }

  // --- rule sets -------------------------------------------------------------------------------------

  /** A rule set and its token (only the token's hash is kept), within MAX_RULE_SETS_PER_OWNER active ones. */
  async createRuleSet(ownerId: string, party: 'buyer' | 'seller', rules: BuyerRules | SellerRules): Promise<{ ruleSet: RuleSet; token: string }> {
    if (!hasValidWindow(rules)) throw new StoreRefusal('validity_window_empty', 'validFrom must be before validUntil', 'rules.validUntil');
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`rule-sets\n${ownerId}`]);
      const { n } = (await trx('rule_sets').where({ owner_id: ownerId }).whereNull('revoked_at').count({ n: '*' }).first()) as { n: string };
      if (Number(n) >= MAX_RULE_SETS_PER_OWNER) {
        throw new StoreRefusal('too_many_rule_sets', `A party may hold at most ${MAX_RULE_SETS_PER_OWNER} active rule sets`);
      }
      const token = newRuleSetToken();
      const [row] = await trx('rule_sets').insert({ id: newRuleSetId(), owner_id: ownerId, party, token_sha256: sha256(token),
        rules: JSON.stringify(rules) }).returning('*');
      return { ruleSet: ruleSetOf(row), token };
    });
  }

  async getRuleSet(id: string): Promise<RuleSet | undefined> {
    const row = await this.db('rule_sets').where({ id }).first();
    return row && ruleSetOf(row);
  }

  /** The owner's rule sets, newest first (at most MAX_RULE_SETS_LISTED). */
  async listRuleSets(ownerId: string): Promise<RuleSet[]> {
    return (await this.db('rule_sets').where({ owner_id: ownerId }).orderBy('created_at', 'desc').limit(MAX_RULE_SETS_LISTED)).map(ruleSetOf);
  }

  /** Revokes the rule set: its token authorizes nothing from now on (a second revocation keeps the first time). */
  async revokeRuleSet(id: string): Promise<RuleSet | undefined> {
    const [row] = await this.db('rule_sets').where({ id }).update({ revoked_at: this.db.raw('coalesce(revoked_at, now())') }).returning('*');
    return row && ruleSetOf(row);
  }

  /** Active rule sets by token, with their owner's buyer row for buyer rule sets. */
  async ruleSetsByToken(tokens: string[]): Promise<Map<string, RuleSetWithBuyer>> {
    if (tokens.length === 0) return new Map();
    const hashes = tokens.map(sha256);
    const rows = await this.statements.query<Record<string, any>>('rule-sets-by-token', `
      SELECT r.*, b.currency, b.payment_token, b.buyer_class, b.suspended_at, b.suspended_reason, b.created_at AS buyer_created_at
      FROM rule_sets r LEFT JOIN buyers b ON b.id = r.owner_id
      WHERE r.token_sha256 = ANY($1::bytea[]) AND r.revoked_at IS NULL`, [hashes]);
    const byHash = new Map(rows.map((r) => [(r.token_sha256 as Buffer).toString('hex'), r]));
    const out = new Map<string, RuleSetWithBuyer>();
    tokens.forEach((t, i) => {
      const r = byHash.get(hashes[i].toString('hex'));
      if (!r) return;
      const rs = ruleSetOf(r);
      out.set(t, r.party === 'buyer' && r.buyer_class
        ? { ...rs, buyer: buyerOf({ ...r, id: r.owner_id, name: '', created_at: r.buyer_created_at }) } : rs);
    });
    return out;
  }
}
