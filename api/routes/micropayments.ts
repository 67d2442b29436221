// Recording micro-payments (one, or a batch) between programs holding rule-set tokens, refunds, and the access
// grants sellers' sites verify. Recording is synchronous: no workflow per payment, one short statement or
// transaction per request, shared with concurrent requests where it can be (see ledger/micropayments.ts); the
// settlement period workflow invoices and credits at the period's end.
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { MAX_BATCH_PAYMENTS, microFee, paymentId, paymentNumber, periodId } from '../../domain/micropayments';
import { evaluateRules } from '../../domain/rules';
import type { Db } from '../../ledger/db';
import {
  confirmGeneration, getPayment, type PaymentToRecord, recordingGeneration, recordPayments, type RecordedPayment, type RecordOutcome,
  refundPayment, StaleGeneration,
} from '../../ledger/micropayments';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, notFound } from '../errors';
import { type GrantSigner, isoOf, MAX_GRANT_LENGTH } from '../grants';
import type { Principal } from '../principals';
import { currency, type Item, itemId, itemsByKey, partyId, PATTERNS, ruleSetsByToken, ruleSetToken, sellersById } from '../parties';
import { GenerationCache } from '../generationCache';
import { parseBody, pathId } from '../validation';

/** Largest body of POST /v1/micropayments/batch (the other routes keep the API's 64 KiB). */
export const MAX_BATCH_BODY_BYTES = 512 * 1024;

const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
export const paymentSchema = z.strictObject({
  clientId: z.string().regex(CLIENT_ID, 'letters, digits, _ . : and -, at most 100'),
  buyerToken: ruleSetToken,
  sellerToken: ruleSetToken.optional(),
  sellerId: partyId,
  itemId,
  currency,
  /** The price the buyer's program expects; refused when the item's price differs. */
  amountMinor: z.number().int().min(1).optional(),
});
type PaymentBody = z.infer<typeof paymentSchema>;
const batchSchema = z.strictObject({ payments: z.array(paymentSchema).min(1).max(MAX_BATCH_PAYMENTS) });

const PAYMENT_KEYS = new Set(Object.keys(paymentSchema.shape));
const matches = (v: unknown, re: RegExp) => typeof v === 'string' && re.test(v);
/**
 * paymentSchema's verdict on a well-formed payment without zod's per-field work, which counts a thousand times in a
 * batch: a plain object with only the schema's keys, each valid. Anything else goes to zod, which names the
 * problem (test/api/payment-shape.test.ts checks that the two agree).
 */
export function isWellFormedPayment(x: unknown): x is PaymentBody {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const p = x as Record<string, unknown>;
  for (const k in p) if (!PAYMENT_KEYS.has(k)) return false;
  return matches(p.clientId, CLIENT_ID) && matches(p.buyerToken, PATTERNS.ruleSetToken)
    && (p.sellerToken === undefined || matches(p.sellerToken, PATTERNS.ruleSetToken))
    && matches(p.sellerId, PATTERNS.partyId) && matches(p.itemId, PATTERNS.itemId) && matches(p.currency, PATTERNS.currency)
    && (p.amountMinor === undefined || (Number.isSafeInteger(p.amountMinor) && (p.amountMinor as number) >= 1));
}
/** The payments of a well-formed batch body, else what zod makes of it (it throws the first problem). */
function batchPayments(req: Request): PaymentBody[] {
  const b = req.body as { payments?: unknown } | undefined;
  const ps = b?.payments;
  const plain = typeof b === 'object' && b !== null && !Array.isArray(b) && Object.keys(b).length === 1 && Array.isArray(ps)
    && ps.length >= 1 && ps.length <= MAX_BATCH_PAYMENTS && ps.every(isWellFormedPayment);
  return plain ? ps as PaymentBody[] : parseBody(batchSchema, req).payments;
}
const refundSchema = z.strictObject({ reason: z.string().max(500).optional() });
const verifySchema = z.strictObject({ grant: z.string().min(1).max(MAX_GRANT_LENGTH) });

interface Refusal { status: number; code: string; message: string; param?: string }
const refuse = (code: string, message: string, param?: string, status = 422): Refusal => ({ status, code, message, param });

/**
 * What resolving reads, kept per process and tagged with the recording generation read before it (see
 * ledger/migrations/007): the recording INSERT is refused if that generation has moved on, so nothing cached is
 * used once a change to it has committed.
 */
interface Lookups {
  /** The latest generation this process knows (read from PostgreSQL once, and again after stale()). */
  generation(): Promise<number>;
  /** A recording under `generation` was refused as stale: read the generation again. */
  stale(generation: number): void;
  ruleSets(generation: number, tokens: string[]): Promise<Map<string, RuleSetWithBuyer>>;
  sellers(generation: number, ids: string[]): Promise<Map<string, SellerWithRules>>;
  items(generation: number, keys: string[]): Promise<Map<string, Item>>;
}
type RuleSetWithBuyer = Awaited<ReturnType<typeof ruleSetsByToken>> extends Map<string, infer V> ? V : never;
type SellerWithRules = Awaited<ReturnType<typeof sellersById>> extends Map<string, infer V> ? V : never;

const splitItemKey = (k: string) => { const i = k.indexOf('/'); return { sellerId: k.slice(0, i), itemId: k.slice(i + 1) }; };
function cachedLookups(db: Db): Lookups {
  const [ruleSets, sellers, items] = [new GenerationCache<RuleSetWithBuyer>(), new GenerationCache<SellerWithRules>(), new GenerationCache<Item>()];
  let known: Promise<number> | undefined;
  let knownValue: number | undefined;
  return {
    generation: () => (known ??= recordingGeneration(db).then(
      (g) => { knownValue = g; return g; },
      (e: unknown) => { known = undefined; throw e; })),
    stale: (g) => { if (knownValue === g) { known = undefined; knownValue = undefined; } },
    ruleSets: (g, tokens) => ruleSets.getMany(g, tokens, (missing) => ruleSetsByToken(db, missing)),
    sellers: (g, ids) => sellers.getMany(g, ids, (missing) => sellersById(db, missing)),
    items: (g, keys) => items.getMany(g, keys, (missing) => itemsByKey(db, missing.map(splitItemKey))),
  };
}

/** Checks every payment against its parties, terms and rule sets; a handful of queries for the whole batch. */
async function resolve(lookups: Lookups, generation: number, caller: Principal, bodies: PaymentBody[], nowMs: number):
  Promise<Array<PaymentToRecord | Refusal>> {
  const tokens = new Set<string>();
  const sellerIds = new Set<string>();
  const itemKeys = bodies.map((b) => {
    tokens.add(b.buyerToken);
    if (b.sellerToken) tokens.add(b.sellerToken);
    sellerIds.add(b.sellerId);
    return `${b.sellerId}/${b.itemId}`;
  });
  const [ruleSets, sellers, items] = await Promise.all([lookups.ruleSets(generation, [...tokens]),
    lookups.sellers(generation, [...sellerIds]), lookups.items(generation, [...new Set(itemKeys)])]);

  return bodies.map((b, k): PaymentToRecord | Refusal => {
    const rs = ruleSets.get(b.buyerToken);
    if (!rs || rs.party !== 'buyer' || !rs.buyer) return refuse('invalid_buyer_token', 'The buyer token is unknown or revoked', 'buyerToken');
    const buyer = rs.buyer;
    if (caller.kind === 'buyer' && caller.id !== rs.ownerId) return refuse('invalid_buyer_token', 'The buyer token is unknown or revoked', 'buyerToken');
    if (caller.kind === 'merchant' && caller.id !== b.sellerId) {
      return refuse('forbidden', 'A seller records payments to itself only', 'sellerId', 403);
    }
    if (buyer.suspendedAt) return refuse('buyer_suspended', `The buyer is suspended: ${buyer.suspendedReason ?? 'unpaid invoice'}`, 'buyerToken');
    const seller = sellers.get(b.sellerId);
    if (!seller) return refuse('unknown_seller', `No seller ${b.sellerId}`, 'sellerId');
    const item = items.get(itemKeys[k]);
    if (!item) return refuse('unknown_item', `Seller ${b.sellerId} has no item ${b.itemId}`, 'itemId');
    if (b.currency !== item.currency || b.currency !== buyer.currency) {
      return refuse('currency_mismatch', `The item is sold in ${item.currency} and the buyer pays in ${buyer.currency}`, 'currency');
    }
    if (b.amountMinor !== undefined && b.amountMinor !== item.priceMinor) {
      return refuse('price_mismatch', `The item costs ${item.priceMinor}, not ${b.amountMinor}`, 'amountMinor');
    }
    let sellerRules = null;
    if (b.sellerToken) {
      const srs = ruleSets.get(b.sellerToken);
      if (!srs || srs.party !== 'seller' || srs.ownerId !== b.sellerId) {
        return refuse('invalid_seller_token', 'The seller token is unknown, revoked or not this seller\'s', 'sellerToken');
      }
      sellerRules = srs.rules;
    } else if (seller.hasRules) {
      return refuse('seller_token_required', `Seller ${b.sellerId} requires its rule-set token with each payment`, 'sellerToken');
    }
    const decision = evaluateRules(rs.rules, sellerRules, {
      amountMinor: item.priceMinor, sellerId: b.sellerId, category: item.category, buyerClass: buyer.buyerClass, atMs: nowMs,
    });
    if (!decision.allowed) return refuse(decision.code, decision.message, decision.party === 'buyer' ? 'buyerToken' : 'sellerToken');
    return {
      buyerId: rs.ownerId, sellerId: b.sellerId, itemId: b.itemId, clientId: b.clientId, ruleSetId: rs.id, currency: b.currency,
      amountMinor: item.priceMinor, feeMinor: microFee(item.priceMinor, seller.feeBps), grantSeconds: item.grantSeconds,
      caps: decision.caps,
    };
  });
}

const isRefusal = (x: object): x is Refusal => 'code' in x;

const utf8 = new TextEncoder();
/** JSON text as res.json sends it, encoded with TextEncoder: a third of the cost of express's Buffer.from for a batch's answer. */
function sendJson(res: Response, text: string): void {
  const bytes = utf8.encode(text);
  res.set('Content-Type', 'application/json; charset=utf-8').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

type Answer = Refusal | { kind: 'recorded' | 'replayed'; payment: RecordedPayment };

/** Tries of a request whose reads turned out stale (parties or terms changed meanwhile) before it gives up. */
const RECORD_TRIES = 3;

/**
 * Resolves (from the cache) and records, one answer per payment. If parties or terms changed after the cache
 * read them, nothing was written: they are read afresh and the payments resolved and recorded again.
 */
async function resolveAndRecord(db: Db, lookups: Lookups, caller: Principal, bodies: PaymentBody[], nowMs: number): Promise<Answer[]> {
  for (let attempt = 1; ; attempt++) {
    const generation = await lookups.generation();
    const resolved = await resolve(lookups, generation, caller, bodies, nowMs);
    const accepted = resolved.flatMap((x, i) => (isRefusal(x) ? [] : [i]));
    let outcomes: RecordOutcome[] = [];
    try {
      // the INSERT confirms that what the refusals were decided on is current too; without one, a read does
      if (accepted.length > 0) outcomes = await recordPayments(db, accepted.map((i) => resolved[i] as PaymentToRecord), nowMs, generation);
      else await confirmGeneration(db, generation);
    } catch (err) {
      if (!(err instanceof StaleGeneration)) throw err;
      lookups.stale(generation);
      if (attempt < RECORD_TRIES) continue;
      throw new ApiError(503, 'service_unavailable_error', 'terms_changing',
        'Parties or terms kept changing while the payments were recorded; nothing was written, try again');
    }
    const answers = resolved as Answer[];
    accepted.forEach((i, k) => {
      const o = outcomes[k];
      answers[i] = o.status === 'refused' ? refuse(o.code, o.message, o.code === 'client_id_reused' ? 'clientId' : 'buyerToken')
        : { kind: o.status, payment: o.payment };
    });
    return answers;
  }
}

/** A JSON string: as is when it has nothing to escape (the ids and codes the API writes), else JSON.stringify's. */
const PLAIN = /^[A-Za-z0-9_.:-]*$/;
const jsonString = (s: string) => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/** A micro-payment as the API shows it (view), and the same as JSON text with its grant (json). */
export function paymentViews(grants: GrantSigner) {
  const view = (p: RecordedPayment, withGrant: boolean, refundedAt?: Date | null) => {
    const v: Record<string, unknown> = {
      id: paymentId(p.id), object: 'micropayment', periodId: periodId(p.periodSeq), buyerId: p.buyerId, sellerId: p.sellerId,
      itemId: p.itemId, clientId: p.clientId, currency: p.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor,
      createdAt: isoOf(p.createdAt.getTime()),
    };
    if (refundedAt !== undefined) {
      v.refunded = refundedAt !== null;
      v.refundedAt = refundedAt?.toISOString() ?? null;
    }
    if (withGrant) v.grant = grants.issue(p);
    return v;
  };
  /**
   * JSON.stringify(view(p, true)), written directly: a batch answer holds a thousand, and building objects for
   * JSON.stringify was its largest cost (a test checks the texts are the same).
   */
  const json = (p: RecordedPayment) => {
    const g = grants.issue(p);
    return `{"id":"${paymentId(p.id)}","object":"micropayment","periodId":"${periodId(p.periodSeq)}","buyerId":${jsonString(p.buyerId)},`
      + `"sellerId":${jsonString(p.sellerId)},"itemId":${jsonString(p.itemId)},"clientId":${jsonString(p.clientId)},`
      + `"currency":${jsonString(p.currency)},"amountMinor":${p.amountMinor},"feeMinor":${p.feeMinor},"createdAt":"${isoOf(p.createdAt.getTime())}",`
      + `"grant":{"token":"${g.token}","expiresAt":"${g.expiresAt}","accessUntil":"${g.accessUntil}"}}`;
  };
  return { view, json };
}

export function micropaymentRoutes(deps: { db: Db; grants: GrantSigner }): Router {
  const { db, grants } = deps;
  const r = Router();
  const { view, json } = paymentViews(grants);

  const recorders = ['buyer', 'buyer_app', 'merchant', 'operator'] as const;
  const lookups = cachedLookups(db);

  r.post('/micropayments', allow(...recorders), async (req, res) => {
    const body = isWellFormedPayment(req.body) ? req.body : parseBody(paymentSchema, req);
    const [a] = await resolveAndRecord(db, lookups, principalOf(res), [body], Date.now());
    if (isRefusal(a)) throw new ApiError(a.status, a.status === 403 ? 'permission_error' : 'unprocessable_error', a.code, a.message, a.param);
    if (a.kind === 'replayed') res.set('Idempotent-Replayed', 'true');
    sendJson(res.status(a.kind === 'recorded' ? 201 : 200), json(a.payment));
  });

  /**
   * Up to MAX_BATCH_PAYMENTS payments in one request: each is recorded, replayed or refused on its own (a
   * malformed body refuses the whole batch and writes nothing). 200 with one result per payment, in order.
   */
  r.post('/micropayments/batch', allow(...recorders), async (req, res) => {
    const payments = batchPayments(req);
    const answers = await resolveAndRecord(db, lookups, principalOf(res), payments, Date.now());
    const counts = { recorded: 0, replayed: 0, refused: 0 };
    const results = answers.map((a, index) => {
      const clientId = payments[index].clientId;
      if (isRefusal(a)) {
        counts.refused++;
        return JSON.stringify({ index, clientId, status: 'refused', error: { code: a.code, message: a.message, param: a.param ?? null } });
      }
      counts[a.kind]++;
      return `{"index":${index},"clientId":${jsonString(clientId)},"status":"${a.kind}","payment":${json(a.payment)}}`;
    });
    sendJson(res, `{"object":"micropayment_batch","recorded":${counts.recorded},"replayed":${counts.replayed},`
      + `"refused":${counts.refused},"results":[${results.join(',')}]}`);
  });

  r.get('/micropayments/:id', async (req, res) => {
    const n = paymentNumber(pathId(req, 'id'));
    const p = n === undefined ? undefined : await getPayment(db, n);
    const who = principalOf(res);
    if (!p || (who.kind !== 'operator' && who.id !== p.buyerId && who.id !== p.sellerId)) throw notFound('micropayment');
    res.json(view(p, false, p.refundedAt));
  });

  /** A full refund by the seller (or an operator), booked in the period open now; the grant stops working. */
  r.post('/micropayments/:id/refund', allow('merchant', 'operator'), async (req, res) => {
    const n = paymentNumber(pathId(req, 'id'));
    const p = n === undefined ? undefined : await getPayment(db, n);
    assertCanSee(principalOf(res), p?.sellerId, 'micropayment');
    const { reason } = parseBody(refundSchema, req);
    const refund = await refundPayment(db, p!, reason);
    if (!refund.created) res.set('Idempotent-Replayed', 'true');
    res.status(refund.created ? 201 : 200).json({
      object: 'micropayment_refund', paymentId: paymentId(p!.id), amountMinor: p!.amountMinor, currency: p!.currency,
      periodId: periodId(refund.periodSeq), createdAt: refund.createdAt.toISOString(),
    });
  });

  /**
   * The seller's site redeems a grant once before showing the content. Refused: forged or malformed
   * (grant_invalid), another seller's (grant_invalid), expired (grant_expired), refunded (grant_revoked),
   * redeemed before (grant_already_used).
   */
  r.post('/grants/verify', allow('merchant', 'operator'), async (req, res) => {
    const { grant } = parseBody(verifySchema, req);
    const who = principalOf(res);
    const claims = grants.open(grant);
    const invalid = () => new ApiError(422, 'unprocessable_error', 'grant_invalid', 'The grant is not valid', 'grant');
    if (!claims || (who.kind !== 'operator' && claims.s !== who.id)) throw invalid();
    if (Date.now() >= claims.e * 1000) throw new ApiError(422, 'unprocessable_error', 'grant_expired', 'The grant has expired', 'grant');
    const p = await getPayment(db, claims.p);
    if (!p || p.sellerId !== claims.s || p.itemId !== claims.i) throw invalid();
    if (p.refundedAt) throw new ApiError(422, 'unprocessable_error', 'grant_revoked', 'The payment was refunded', 'grant');
    const { rows } = await db.raw('INSERT INTO grant_redemptions (payment_id) VALUES (?) ON CONFLICT DO NOTHING RETURNING redeemed_at', [p.id]);
    if (rows.length === 0) throw new ApiError(409, 'conflict_error', 'grant_already_used', 'The grant was redeemed before', 'grant');
    res.json({
      object: 'grant_verification', valid: true, paymentId: paymentId(p.id), buyerId: p.buyerId, sellerId: p.sellerId, itemId: p.itemId,
      accessUntil: new Date(claims.a * 1000).toISOString(), redeemedAt: (rows[0].redeemed_at as Date).toISOString(),
    });
  });

  return r;
}
