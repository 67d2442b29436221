// Micro-payment parties: buyers (a payment token and a currency) and sellers (a payout destination and the
// broker's fee rate) are made by operators; sellers publish their items' terms; buyers and sellers register
// rule sets and hand the rule sets' tokens to their programs.
import { z } from 'zod';
import { MAX_GRANT_SECONDS, MAX_MICROPAYMENT_MINOR } from '../../domain/micropayments';
import { MAX_RULE_LIST_ENTRIES } from '../../domain/rules';
import type { Stores } from '../../stores';
import type { Buyer, Item, RuleSet, Seller } from '../../stores/parties';
import type { Principal } from '../../stores/principals';
import { assertCanSee } from '../auth';
import { forbidden, notFound } from '../errors';
import { type Operation, operation, PATH_ID } from '../operations';
import { listOperation } from '../paging';
import { category, currency, isoTime, listOf, name, partyId, shownOnce, timestamp } from '../schemas';

/** A processor card token (the processor takes at most 100 characters). */
const paymentToken = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'a processor card token: letters, digits, _ and -, at most 100');
const buyerClass = z.string().regex(/^[a-z0-9_-]{1,40}$/);
const payoutDestination = z.string().regex(/^[A-Za-z0-9_:.-]{1,200}$/);
const feeBps = z.number().int().min(0).max(5000).meta({ description: "The broker's fee on each sale, in basis points" });
const amount = z.number().int().min(1).max(MAX_MICROPAYMENT_MINOR);
const list = <T extends z.ZodType>(t: T) => z.array(t).min(1).max(MAX_RULE_LIST_ENTRIES);

const window = { validFrom: isoTime.optional(), validUntil: isoTime.optional().meta({ description: 'After validFrom (else 422 validity_window_empty)' }) };
export const buyerRulesSchema = z.strictObject({
  maxPerPaymentMinor: amount.optional(),
  maxPerDayMinor: z.number().int().min(1).optional(),
  maxPerPeriodMinor: z.number().int().min(1).optional(),
  allowedSellers: list(partyId).optional(),
  allowedCategories: list(category).optional(),
  ...window,
});
export const sellerRulesSchema = z.strictObject({
  minPriceMinor: amount.optional(),
  acceptedBuyerClasses: list(category).optional(),
  ...window,
});

const itemTerms = z.strictObject({
  title: z.string().trim().min(1).max(200),
  category,
  priceMinor: amount,
  currency,
  grantSeconds: z.number().int().min(1).max(MAX_GRANT_SECONDS).meta({ description: 'Access the purchase grants' }),
});

// --- what the API answers ---------------------------------------------------------------------------------
const buyerSchema = z.object({
  id: z.string(), object: z.literal('buyer'), name: z.string(), currency: z.string(), buyerClass: z.string(), paymentTokenLast4: z.string(),
  suspended: z.boolean(), suspendedAt: timestamp.nullable(), suspendedReason: z.string().nullable(), createdAt: timestamp,
}).meta({ id: 'Buyer' });
const sellerSchema = z.object({
  id: z.string(), object: z.literal('seller'), name: z.string(), currency: z.string(), payoutDestination: z.string(), feeBps: z.number().int(),
  createdAt: timestamp,
}).meta({ id: 'Seller' });
const itemSchema = z.object({
  id: z.string(), object: z.literal('item'), sellerId: z.string(), title: z.string(), category: z.string(), priceMinor: z.number().int(),
  currency: z.string(), grant: z.object({ kind: z.literal('access'), seconds: z.number().int() }), updatedAt: timestamp,
}).meta({ id: 'Item' });
const ruleSetSchema = z.object({
  id: z.string(), object: z.literal('rule_set'), ownerId: z.string(), party: z.enum(['buyer', 'seller']),
  rules: z.object({ ...buyerRulesSchema.shape, ...sellerRulesSchema.shape }).partial(), createdAt: timestamp, revoked: z.boolean(),
  revokedAt: timestamp.nullable(),
}).meta({ id: 'RuleSet' });

const buyerView = (b: Buyer): z.infer<typeof buyerSchema> => ({
  id: b.id, object: 'buyer', name: b.name, currency: b.currency, buyerClass: b.buyerClass,
  paymentTokenLast4: b.paymentToken.slice(-4), suspended: b.suspendedAt !== null,
  suspendedAt: b.suspendedAt?.toISOString() ?? null, suspendedReason: b.suspendedReason, createdAt: b.createdAt.toISOString(),
});
const sellerView = (s: Seller): z.infer<typeof sellerSchema> => ({
  id: s.id, object: 'seller', name: s.name, currency: s.currency, payoutDestination: s.payoutDestination, feeBps: s.feeBps,
  createdAt: s.createdAt.toISOString(),
});
const itemView = (i: Item): z.infer<typeof itemSchema> => ({
  id: i.id, object: 'item', sellerId: i.sellerId, title: i.title, category: i.category, priceMinor: i.priceMinor,
  currency: i.currency, grant: { kind: 'access', seconds: i.grantSeconds }, updatedAt: i.updatedAt.toISOString(),
});
const ruleSetView = (r: RuleSet) => ({
  id: r.id, object: 'rule_set', ownerId: r.ownerId, party: r.party, rules: r.rules, createdAt: r.createdAt.toISOString(),
  revoked: r.revokedAt !== null, revokedAt: r.revokedAt?.toISOString() ?? null,
});

export function partyOperations(stores: Stores): Operation[] {
  const { parties } = stores;
  const visibleRuleSet = async (principal: Principal, id: string) => {
    const rs = await parties.getRuleSet(id);
    assertCanSee(principal, rs?.ownerId, 'rule set');
    return rs;
  };
  return [
    operation({
      method: 'post', path: '/buyers', allow: ['operator'], idempotency: 'stored',
      summary: 'Create a buyer with a card token and a currency, and its first API key (operator)',
      body: z.strictObject({ name, currency, paymentToken: paymentToken.meta({ description: "The processor's card token" }),
        buyerClass: buyerClass.optional() }),
      responses: { 201: { description: 'Created', schema: z.object({ ...buyerSchema.shape, apiKey: shownOnce('The buyer\'s API key') }) } },
      async handler({ res, body }) {
        const { buyer, apiKey } = await parties.createBuyer(body);
        res.locals.redactFields = ['apiKey'];
        res.status(201).json({ ...buyerView(buyer), apiKey });
      },
    }),
    listOperation({ path: '/buyers', summary: 'Buyers, newest first, a page at a time (operator)', allow: ['operator'],
      schema: buyerSchema, list: (req) => parties.listBuyers(req), view: buyerView }),
    operation({
      method: 'get', path: '/buyers/:id', summary: 'A buyer (itself, operators)', allow: 'any',
      responses: { 200: { description: 'OK', schema: buyerSchema } },
      async handler({ res, principal, params }) {
        const b = await parties.getBuyer(params.id);
        assertCanSee(principal, b?.id, 'buyer');
        res.json(buyerView(b));
      },
    }),
    operation({
      method: 'patch', path: '/buyers/:id', allow: ['operator', 'buyer'],
      summary: 'Update the card (the buyer); the buyer class, or reinstate a suspended buyer (operator)',
      body: z.strictObject({ paymentToken: paymentToken.optional(), buyerClass: buyerClass.optional(), reinstate: z.literal(true).optional() }),
      responses: { 200: { description: 'OK', schema: buyerSchema } },
      async handler({ res, principal, params, body }) {
        const b = await parties.getBuyer(params.id);
        assertCanSee(principal, b?.id, 'buyer');
        if (principal.kind !== 'operator' && (body.buyerClass !== undefined || body.reinstate)) {
          throw forbidden('Only an operator may change a buyer\'s class or reinstate a buyer');
        }
        res.locals.auditBefore = buyerView(b);
        res.json(buyerView((await parties.updateBuyer(b.id, body))!));
      },
    }),
    operation({
      method: 'post', path: '/sellers', allow: ['operator'], idempotency: 'stored',
      summary: 'Create a seller: a new merchant, or an existing one by merchantId, with its payout destination and fee rate (operator)',
      body: z.union([
        z.strictObject({ name, currency, payoutDestination, feeBps }),
        // an existing merchant becomes a seller (its card-order captures are then credited with its sales)
        z.strictObject({ merchantId: PATH_ID, payoutDestination, feeBps }),
      ]),
      responses: { 201: { description: 'Created (apiKey: a new merchant\'s first key)', schema: z.object({ ...sellerSchema.shape,
        apiKey: shownOnce('A new merchant\'s API key (absent when an existing merchant became a seller)').optional() }) } },
      async handler({ res, body }) {
        if ('merchantId' in body) {
          res.status(201).json(sellerView(await parties.merchantBecomesSeller(body.merchantId, body)));
          return;
        }
        const { seller, apiKey } = await parties.createSeller(body);
        res.locals.redactFields = ['apiKey'];
        res.status(201).json({ ...sellerView(seller), apiKey });
      },
    }),
    listOperation({ path: '/sellers', summary: 'Sellers, newest first, a page at a time (operator)', allow: ['operator'],
      schema: sellerSchema, list: (req) => parties.listSellers(req), view: sellerView }),
    operation({
      method: 'get', path: '/sellers/:id', summary: "A seller's public terms (any API key)", allow: 'any',
      responses: { 200: { description: 'OK', schema: sellerSchema } },
      async handler({ res, params }) {
        const s = await parties.getSeller(params.id);
        if (!s) throw notFound('seller');
        res.json(sellerView(s));
      },
    }),
    operation({
      method: 'put', path: '/sellers/:id/items/:itemId', allow: ['merchant', 'operator'], body: itemTerms,
      params: { id: PATH_ID, itemId: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/) },
      summary: "Publish or change an item's terms (the seller, operators); payments already recorded keep their price",
      responses: { 200: { description: 'Changed', schema: itemSchema }, 201: { description: 'Published', schema: itemSchema } },
      async handler({ res, principal, params, body }) {
        const s = await parties.getSeller(params.id);
        assertCanSee(principal, s?.id, 'seller');
        const old = await parties.getItem(s.id, params.itemId);
        res.locals.auditBefore = old && itemView(old);
        const { item, created } = await parties.putItem(s, params.itemId, body);
        res.status(created ? 201 : 200).json(itemView(item));
      },
    }),
    operation({
      method: 'get', path: '/sellers/:id/items', summary: "A seller's items (any API key)", allow: 'any',
      responses: { 200: { description: 'OK', schema: listOf(itemSchema) } },
      async handler({ res, params }) {
        const s = await parties.getSeller(params.id);
        if (!s) throw notFound('seller');
        res.json({ object: 'list', data: (await parties.listItems(s.id)).map(itemView) });
      },
    }),
    operation({
      method: 'get', path: '/sellers/:id/items/:itemId', summary: 'An item and its terms (any API key)', allow: 'any',
      params: { id: PATH_ID, itemId: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/) },
      responses: { 200: { description: 'OK', schema: itemSchema } },
      async handler({ res, params }) {
        const item = await parties.getItem(params.id, params.itemId);
        if (!item) throw notFound('item');
        res.json(itemView(item));
      },
    }),
    operation({
      method: 'post', path: '/rule-sets', allow: ['buyer', 'merchant'], idempotency: 'stored',
      summary: "Register a rule set (a buyer's, or a seller's with a merchant key); the token is shown once",
      body: z.strictObject({ rules: z.union([buyerRulesSchema, sellerRulesSchema]).meta({ description:
        'buyer: maxPerPaymentMinor, maxPerDayMinor, maxPerPeriodMinor, allowedSellers, allowedCategories, validFrom, validUntil; '
        + 'seller: minPriceMinor, acceptedBuyerClasses, validFrom, validUntil' }) }),
      bodyOf: (p) => z.strictObject({ rules: p.kind === 'buyer' ? buyerRulesSchema : sellerRulesSchema }),
      responses: { 201: { description: 'Created', schema: z.object({ ...ruleSetSchema.shape, token: shownOnce('The rule-set token') }) } },
      async handler({ res, principal, body }) {
        const party = principal.kind === 'buyer' ? 'buyer' : 'seller';
        if (party === 'seller' && !(await parties.getSeller(principal.id))) throw forbidden('Only sellers and buyers hold rule sets');
        const { ruleSet, token } = await parties.createRuleSet(principal.id, party, body.rules);
        res.locals.redactFields = ['token'];
        res.status(201).json({ ...ruleSetView(ruleSet), token });
      },
    }),
    operation({
      method: 'get', path: '/rule-sets', summary: 'Your rule sets, newest first', allow: ['buyer', 'merchant'],
      responses: { 200: { description: 'OK', schema: listOf(ruleSetSchema) } },
      async handler({ res, principal }) {
        res.json({ object: 'list', data: (await parties.listRuleSets(principal.id)).map(ruleSetView) });
      },
    }),
    operation({
      method: 'get', path: '/rule-sets/:id', summary: 'A rule set (its owner, operators)', allow: 'any',
      responses: { 200: { description: 'OK', schema: ruleSetSchema } },
      async handler({ res, principal, params }) {
        res.json(ruleSetView(await visibleRuleSet(principal, params.id)));
      },
    }),
    operation({
      method: 'delete', path: '/rule-sets/:id', summary: 'Revoke a rule set: its token authorizes nothing from now on', allow: 'any',
      responses: { 200: { description: 'Revoked', schema: ruleSetSchema } },
      async handler({ res, principal, params }) {
        const rs = await visibleRuleSet(principal, params.id);
        res.locals.auditBefore = ruleSetView(rs);
        res.json(ruleSetView((await parties.revokeRuleSet(rs.id))!));
      },
    }),
  ];
}
