// Buyers, sellers, their items and rule sets as the API reads them. Lookups take many keys at once, so a batch
// of a thousand payments costs a handful of queries.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { BuyerRules, SellerRules } from '../domain/rules';
import { MAX_RULE_LIST_ENTRIES } from '../domain/rules';
import { MAX_GRANT_SECONDS, MAX_MICROPAYMENT_MINOR } from '../domain/micropayments';
import { type Db, prepared } from '../ledger/db';
import { Ledger } from '../ledger/ledger';
import { accounts, buyerReceivable, sellerPayable } from '../activities/accounts';
import { createPrincipal, sha256 } from './principals';

export interface Buyer { id: string; name: string; currency: string; paymentToken: string; buyerClass: string; suspendedAt: Date | null; suspendedReason: string | null; createdAt: Date }
export interface Seller { id: string; name: string; currency: string; payoutDestination: string; feeBps: number; createdAt: Date }
export interface Item { sellerId: string; id: string; title: string; category: string; priceMinor: number; currency: string; grantSeconds: number; updatedAt: Date }
export interface RuleSet { id: string; ownerId: string; party: 'buyer' | 'seller'; rules: BuyerRules & SellerRules; createdAt: Date; revokedAt: Date | null }

/** The patterns of ids and codes, for the schemas below and for checks that skip zod on hot paths. */
export const PATTERNS = {
  currency: /^[A-Z]{3}$/, itemId: /^[A-Za-z0-9_.-]{1,100}$/, ruleSetToken: /^rst_[A-Za-z0-9_-]{43}$/, partyId: /^[A-Za-z0-9_-]{1,100}$/,
} as const;
export const currency = z.string().regex(PATTERNS.currency, 'an ISO 4217 code such as USD');
export const category = z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lower-case letters, digits, _ and -, at most 40');
export const itemId = z.string().regex(PATTERNS.itemId, 'letters, digits, _ . and -, at most 100');
export const ruleSetToken = z.string().regex(PATTERNS.ruleSetToken, 'a rule-set token (rst_...)');
export const partyId = z.string().regex(PATTERNS.partyId);
const isoTime = z.iso.datetime({ offset: true });
const amount = z.number().int().min(1).max(MAX_MICROPAYMENT_MINOR);
const list = <T extends z.ZodType>(t: T) => z.array(t).min(1).max(MAX_RULE_LIST_ENTRIES);

function validWindow<T extends { validFrom?: string; validUntil?: string }>(r: T): boolean {
  return r.validFrom === undefined || r.validUntil === undefined || Date.parse(r.validFrom) < Date.parse(r.validUntil);
}
export const buyerRulesSchema = z.strictObject({
  maxPerPaymentMinor: amount.optional(),
  maxPerDayMinor: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  maxPerPeriodMinor: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  allowedSellers: list(partyId).optional(),
  allowedCategories: list(category).optional(),
  validFrom: isoTime.optional(),
  validUntil: isoTime.optional(),
}).refine(validWindow, { message: 'validFrom must be before validUntil', path: ['validUntil'] });
export const sellerRulesSchema = z.strictObject({
  minPriceMinor: amount.optional(),
  acceptedBuyerClasses: list(category).optional(),
  validFrom: isoTime.optional(),
  validUntil: isoTime.optional(),
}).refine(validWindow, { message: 'validFrom must be before validUntil', path: ['validUntil'] });

export const itemTermsSchema = z.strictObject({
  title: z.string().trim().min(1).max(200),
  category,
  priceMinor: amount,
  currency,
  grantSeconds: z.number().int().min(1).max(MAX_GRANT_SECONDS),
});

export const newRuleSetToken = () => `rst_${randomBytes(32).toString('base64url')}`;
export const newRuleSetId = () => `rs_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

const buyerOf = (r: Record<string, any>): Buyer => ({
  id: r.id, name: r.name, currency: r.currency, paymentToken: r.payment_token, buyerClass: r.buyer_class,
  suspendedAt: r.suspended_at, suspendedReason: r.suspended_reason, createdAt: r.created_at,
});
const sellerOf = (r: Record<string, any>): Seller => ({
  id: r.id, name: r.name, currency: r.currency, payoutDestination: r.payout_destination, feeBps: r.fee_bps, createdAt: r.created_at,
});
export const itemOf = (r: Record<string, any>): Item => ({
  sellerId: r.seller_id, id: r.id, title: r.title, category: r.category, priceMinor: Number(r.price_minor),
  currency: r.currency, grantSeconds: r.grant_seconds, updatedAt: r.updated_at,
});
export const ruleSetOf = (r: Record<string, any>): RuleSet => ({
  id: r.id, ownerId: r.owner_id, party: r.party, rules: r.rules, createdAt: r.created_at, revokedAt: r.revoked_at,
});

export async function getBuyer(db: Db, id: string): Promise<Buyer | undefined> {
  const r = await db('buyers as b').join('principals as p', 'p.id', 'b.id').where('b.id', id).first('b.*', 'p.name');
  return r && buyerOf(r);
}

export async function getSeller(db: Db, id: string): Promise<Seller | undefined> {
  const r = await db('sellers as s').join('principals as p', 'p.id', 's.id').where('s.id', id).first('s.*', 'p.name');
  return r && sellerOf(r);
}

/** Active rule sets by token, with their owner's buyer row for buyer rule sets. */
export async function ruleSetsByToken(db: Db, tokens: string[]): Promise<Map<string, RuleSet & { buyer?: Buyer }>> {
  if (tokens.length === 0) return new Map();
  const hashes = tokens.map(sha256);
  const rows = await prepared<Record<string, any>>(db, 'rule-sets-by-token', `
    SELECT r.*, b.currency, b.payment_token, b.buyer_class, b.suspended_at, b.suspended_reason, b.created_at AS buyer_created_at
    FROM rule_sets r LEFT JOIN buyers b ON b.id = r.owner_id
    WHERE r.token_sha256 = ANY($1::bytea[]) AND r.revoked_at IS NULL`, [hashes]);
  const byHash = new Map(rows.map((r) => [(r.token_sha256 as Buffer).toString('hex'), r]));
  const out = new Map<string, RuleSet & { buyer?: Buyer }>();
  tokens.forEach((t, i) => {
    const r = byHash.get(hashes[i].toString('hex'));
    if (!r) return;
    const rs = ruleSetOf(r);
    out.set(t, r.party === 'buyer' && r.buyer_class
      ? { ...rs, buyer: buyerOf({ ...r, id: r.owner_id, name: '', created_at: r.buyer_created_at }) } : rs);
  });
  return out;
}

/** Sellers by id, and whether each holds an active rule set (its payments must then present one). */
export async function sellersById(db: Db, ids: string[]): Promise<Map<string, Seller & { hasRules: boolean }>> {
  if (ids.length === 0) return new Map();
  const rows = await prepared<Record<string, any>>(db, 'sellers-by-id', `
    SELECT s.*, '' AS name,
      EXISTS (SELECT 1 FROM rule_sets r WHERE r.owner_id = s.id AND r.party = 'seller' AND r.revoked_at IS NULL) AS has_rules
    FROM sellers s WHERE s.id = ANY($1::text[])`, [ids]);
  return new Map(rows.map((r) => [r.id, { ...sellerOf(r), hasRules: r.has_rules }]));
}

/** Items keyed `${sellerId}/${itemId}`. */
export async function itemsByKey(db: Db, keys: Array<{ sellerId: string; itemId: string }>): Promise<Map<string, Item>> {
  if (keys.length === 0) return new Map();
  const rows = await prepared<Record<string, any>>(db, 'items-by-key', `
    SELECT i.* FROM items i WHERE (i.seller_id, i.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
  [keys.map((k) => k.sellerId), keys.map((k) => k.itemId)]);
  return new Map(rows.map((r) => [`${r.seller_id}/${r.id}`, itemOf(r)]));
}

/** A buyer: its principal and first API key, its row and its receivable account, in one transaction. */
export async function createBuyer(db: Db, b: { name: string; currency: string; paymentToken: string; buyerClass?: string }):
  Promise<{ id: string; apiKey: string }> {
  const { principal, apiKey } = await createPrincipal(db, 'buyer', b.name, {}, async (trx, id) => {
    await trx('buyers').insert({ id, currency: b.currency, payment_token: b.paymentToken, buyer_class: b.buyerClass ?? 'standard' });
    await new Ledger(trx).openAccount(buyerReceivable(id, b.currency));
  });
  return { id: principal.id, apiKey };
}

/** A merchant's seller row and the accounts its sales are booked to. */
export async function addSellerRows(trx: Db, id: string, s: { currency: string; payoutDestination: string; feeBps: number }): Promise<void> {
  await trx('sellers').insert({ id, currency: s.currency, payout_destination: s.payoutDestination, fee_bps: s.feeBps });
  const ledger = new Ledger(trx);
  await ledger.openAccount(sellerPayable(id, s.currency));
  await ledger.openAccount(accounts(s.currency, id).fees);
}

/** A seller that is a new merchant: principal, first API key, merchant and seller rows, accounts. */
export async function createSeller(db: Db, s: { name: string; currency: string; payoutDestination: string; feeBps: number }):
  Promise<{ id: string; apiKey: string }> {
  const { principal, apiKey } = await createPrincipal(db, 'merchant', s.name, { currency: s.currency, fee_bps: s.feeBps },
    (trx, id) => addSellerRows(trx, id, s));
  return { id: principal.id, apiKey };
}

export async function putItem(db: Db, sellerId: string, id: string, t: z.infer<typeof itemTermsSchema>): Promise<Item> {
  const cols = { title: t.title, category: t.category, price_minor: t.priceMinor, currency: t.currency, grant_seconds: t.grantSeconds,
    updated_at: db.fn.now() };
  const [row] = await db('items').insert({ seller_id: sellerId, id, ...cols }).onConflict(['seller_id', 'id']).merge(cols).returning('*');
  return itemOf(row);
}

/** A rule set and its token (only the token's hash is kept). */
export async function createRuleSet(db: Db, ownerId: string, party: 'buyer' | 'seller', rules: BuyerRules | SellerRules):
  Promise<{ ruleSet: RuleSet; token: string }> {
  const token = newRuleSetToken();
  const [row] = await db('rule_sets').insert({ id: newRuleSetId(), owner_id: ownerId, party, token_sha256: sha256(token), rules: JSON.stringify(rules) })
    .returning('*');
  return { ruleSet: ruleSetOf(row), token };
}

export const buyerView = (b: Buyer) => ({
  id: b.id, object: 'buyer', name: b.name, currency: b.currency, buyerClass: b.buyerClass,
  paymentTokenLast4: b.paymentToken.slice(-4), suspended: b.suspendedAt !== null,
  suspendedAt: b.suspendedAt?.toISOString() ?? null, suspendedReason: b.suspendedReason, createdAt: b.createdAt.toISOString(),
});
export const sellerView = (s: Seller) => ({
  id: s.id, object: 'seller', name: s.name, currency: s.currency, payoutDestination: s.payoutDestination, feeBps: s.feeBps,
  createdAt: s.createdAt.toISOString(),
});
export const itemView = (i: Item) => ({
  id: i.id, object: 'item', sellerId: i.sellerId, title: i.title, category: i.category, priceMinor: i.priceMinor,
  currency: i.currency, grant: { kind: 'access', seconds: i.grantSeconds }, updatedAt: i.updatedAt.toISOString(),
});
export const ruleSetView = (r: RuleSet) => ({
  id: r.id, object: 'rule_set', ownerId: r.ownerId, party: r.party, rules: r.rules, createdAt: r.createdAt.toISOString(),
  revoked: r.revokedAt !== null, revokedAt: r.revokedAt?.toISOString() ?? null,
});
