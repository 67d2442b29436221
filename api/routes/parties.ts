// Micro-payment parties: buyers (a payment token and a currency) and sellers (a payout destination and the
// broker's fee rate) are made by operators; sellers publish their items' terms; buyers and sellers register
// rule sets and hand the rule sets' tokens to their programs.
import { Router } from 'express';
import { z } from 'zod';
import { MAX_ITEMS_PER_SELLER, MAX_RULE_SETS_PER_OWNER } from '../../domain/micropayments';
import type { Db } from '../../ledger/db';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, forbidden, notFound } from '../errors';
import { idempotent } from '../idempotency';
import { getMerchant } from '../merchants';
import { name, parseBody, pathId } from '../validation';
import {
  addSellerRows, buyerRulesSchema, buyerView, createBuyer, createRuleSet, createSeller, currency, getBuyer, getSeller, itemOf,
  itemTermsSchema, itemView, putItem, ruleSetOf, ruleSetView, sellerRulesSchema, sellerView,
} from '../parties';

/** A processor card token (the processor takes at most 100 characters). */
const paymentToken = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'a processor card token: letters, digits, _ and -, at most 100');
const buyerClass = z.string().regex(/^[a-z0-9_-]{1,40}$/);
const buyerBody = z.strictObject({ name, currency, paymentToken, buyerClass: buyerClass.optional() });
const buyerPatch = z.strictObject({ paymentToken: paymentToken.optional(), buyerClass: buyerClass.optional(), reinstate: z.literal(true).optional() });
const payoutDestination = z.string().regex(/^[A-Za-z0-9_:.-]{1,200}$/);
const feeBps = z.number().int().min(0).max(5000);
const sellerBody = z.union([
  z.strictObject({ name, currency, payoutDestination, feeBps }),
  // an existing merchant becomes a seller (its card-order captures are then credited with its sales)
  z.strictObject({ merchantId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/), payoutDestination, feeBps }),
]);
const ruleSetBody = { buyer: z.strictObject({ rules: buyerRulesSchema }), seller: z.strictObject({ rules: sellerRulesSchema }) };

export function partyRoutes(db: Db): Router {
  const r = Router();

  r.post('/buyers', allow('operator'), idempotent(db), async (req, res) => {
    const body = parseBody(buyerBody, req);
    const { id, apiKey } = await createBuyer(db, body);
    res.locals.idempotencyRedact = ['apiKey'];
    res.status(201).json({ ...buyerView((await getBuyer(db, id))!), apiKey });
  });

  r.get('/buyers/:id', async (req, res) => {
    const b = await getBuyer(db, pathId(req, 'id'));
    assertCanSee(principalOf(res), b?.id, 'buyer');
    res.json(buyerView(b!));
  });

  /** The buyer updates its card; an operator also sets the class or reinstates a suspended buyer. */
  r.patch('/buyers/:id', allow('operator', 'buyer'), async (req, res) => {
    const b = await getBuyer(db, pathId(req, 'id'));
    const who = principalOf(res);
    assertCanSee(who, b?.id, 'buyer');
    const body = parseBody(buyerPatch, req);
    if (who.kind !== 'operator' && (body.buyerClass !== undefined || body.reinstate)) {
      throw forbidden('Only an operator may change a buyer\'s class or reinstate a buyer');
    }
    const cols: Record<string, unknown> = {};
    if (body.paymentToken !== undefined) cols.payment_token = body.paymentToken;
    if (body.buyerClass !== undefined) cols.buyer_class = body.buyerClass;
    if (body.reinstate) { cols.suspended_at = null; cols.suspended_reason = null; }
    if (Object.keys(cols).length) await db('buyers').where({ id: b!.id }).update(cols);
    res.json(buyerView((await getBuyer(db, b!.id))!));
  });

  r.post('/sellers', allow('operator'), idempotent(db), async (req, res) => {
    const body = parseBody(sellerBody, req);
    if ('merchantId' in body) {
      const m = await getMerchant(db, body.merchantId);
      if (!m) throw new ApiError(422, 'unprocessable_error', 'unknown_merchant', `No merchant ${body.merchantId}`, 'merchantId');
      if (await getSeller(db, m.id)) throw new ApiError(409, 'conflict_error', 'already_a_seller', `Merchant ${m.id} is a seller already`, 'merchantId');
      await db.transaction((trx) => addSellerRows(trx, m.id, { ...body, currency: m.currency }));
      res.status(201).json(sellerView((await getSeller(db, m.id))!));
      return;
    }
    const { id, apiKey } = await createSeller(db, body);
    res.locals.idempotencyRedact = ['apiKey'];
    res.status(201).json({ ...sellerView((await getSeller(db, id))!), apiKey });
  });

  r.get('/sellers/:id', async (req, res) => {
    const s = await getSeller(db, pathId(req, 'id'));
    if (!s) throw notFound('seller');
    res.json(sellerView(s)); // sellers' terms are public to every API key
  });

  /** Publishes (or changes) an item's terms; payments already recorded keep the price they were made at. */
  r.put('/sellers/:id/items/:itemId', allow('merchant', 'operator'), async (req, res) => {
    const s = await getSeller(db, pathId(req, 'id'));
    assertCanSee(principalOf(res), s?.id, 'seller');
    const id = pathId(req, 'itemId');
    const terms = parseBody(itemTermsSchema, req);
    if (terms.currency !== s!.currency) {
      throw new ApiError(422, 'unprocessable_error', 'currency_mismatch', `The seller sells in ${s!.currency}`, 'currency');
    }
    const existing = await db('items').where({ seller_id: s!.id, id }).first('id');
    if (!existing) {
      const { n } = (await db('items').where({ seller_id: s!.id }).count({ n: '*' }).first()) as { n: string };
      if (Number(n) >= MAX_ITEMS_PER_SELLER) {
        throw new ApiError(422, 'unprocessable_error', 'too_many_items', `A seller may publish at most ${MAX_ITEMS_PER_SELLER} items`);
      }
    }
    res.status(existing ? 200 : 201).json(itemView(await putItem(db, s!.id, id, terms)));
  });

  r.get('/sellers/:id/items', async (req, res) => {
    const s = await getSeller(db, pathId(req, 'id'));
    if (!s) throw notFound('seller');
    const rows = await db('items').where({ seller_id: s.id }).orderBy('id').limit(MAX_ITEMS_PER_SELLER);
    res.json({ object: 'list', data: rows.map((row) => itemView(itemOf(row))) });
  });

  r.get('/sellers/:id/items/:itemId', async (req, res) => {
    const row = await db('items').where({ seller_id: pathId(req, 'id'), id: pathId(req, 'itemId') }).first();
    if (!row) throw notFound('item');
    res.json(itemView(itemOf(row)));
  });

  /** A buyer's or a seller's rule set; its token is shown once. */
  r.post('/rule-sets', allow('buyer', 'merchant'), idempotent(db), async (req, res) => {
    const who = principalOf(res);
    const party = who.kind === 'buyer' ? 'buyer' : 'seller';
    if (party === 'seller' && !(await getSeller(db, who.id))) throw forbidden('Only sellers and buyers hold rule sets');
    const { rules } = parseBody(ruleSetBody[party], req);
    const { n } = (await db('rule_sets').where({ owner_id: who.id }).whereNull('revoked_at').count({ n: '*' }).first()) as { n: string };
    if (Number(n) >= MAX_RULE_SETS_PER_OWNER) {
      throw new ApiError(422, 'unprocessable_error', 'too_many_rule_sets', `A party may hold at most ${MAX_RULE_SETS_PER_OWNER} active rule sets`);
    }
    const { ruleSet, token } = await createRuleSet(db, who.id, party, rules);
    res.locals.idempotencyRedact = ['token'];
    res.status(201).json({ ...ruleSetView(ruleSet), token });
  });

  r.get('/rule-sets', allow('buyer', 'merchant'), async (_req, res) => {
    const rows = await db('rule_sets').where({ owner_id: principalOf(res).id }).orderBy('created_at', 'desc').limit(100);
    res.json({ object: 'list', data: rows.map((row) => ruleSetView(ruleSetOf(row))) });
  });

  r.get('/rule-sets/:id', async (req, res) => {
    const row = await db('rule_sets').where({ id: pathId(req, 'id') }).first();
    assertCanSee(principalOf(res), row?.owner_id, 'rule set');
    res.json(ruleSetView(ruleSetOf(row)));
  });

  /** Revokes the rule set: its token authorizes nothing from now on. */
  r.delete('/rule-sets/:id', async (req, res) => {
    const row = await db('rule_sets').where({ id: pathId(req, 'id') }).first();
    assertCanSee(principalOf(res), row?.owner_id, 'rule set');
    const [updated] = await db('rule_sets').where({ id: row.id }).update({ revoked_at: db.raw('coalesce(revoked_at, now())') }).returning('*');
    res.json(ruleSetView(ruleSetOf(updated)));
  });

  return r;
}
