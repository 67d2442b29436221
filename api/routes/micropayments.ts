// Recording micro-payments (one, or a batch) between programs holding rule-set tokens, refunds, and the access
// grants sellers' sites verify. Recording is synchronous (services/recorder.ts): no workflow per payment; the
// settlement period workflow invoices and credits at the period's end.
import type { Response } from 'express';
import { z } from 'zod';
import { MAX_BATCH_PAYMENTS, paymentId, paymentNumber, periodId } from '../../domain/micropayments';
import type { RecordedPayment } from '../../stores';
import type { Services } from '../../services';
import { type GrantSigner, isoOf, MAX_GRANT_LENGTH, redeemGrant } from '../../services/grants';
import { isRefused } from '../../services/recorder';
import { assertCanSee } from '../auth';
import { ApiError, notFound, unprocessable } from '../errors';
import { type Operation, operation } from '../operations';
import { listedFor, pageAnswer, pageRequest } from '../paging';
import { currency, itemId, pageOf, pageQuery, partyId, PATTERNS, ruleSetToken, timestamp } from '../schemas';

/** Largest body of POST /v1/micropayments/batch (the other routes keep the API's 64 KiB). */
export const MAX_BATCH_BODY_BYTES = 512 * 1024;

const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
export const paymentSchema = z.strictObject({
  clientId: z.string().regex(CLIENT_ID, 'letters, digits, _ . : and -, at most 100').meta({ description: 'Makes the payment idempotent per buyer' }),
  buyerToken: ruleSetToken.meta({ description: "The buyer's rule-set token" }),
  sellerToken: ruleSetToken.optional().meta({ description: "The seller's rule-set token (required when the seller has a rule set)" }),
  sellerId: partyId,
  itemId,
  currency,
  amountMinor: z.number().int().min(1).optional()
    .meta({ description: "The price the buyer's program expects; refused (price_mismatch) when the terms differ" }),
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
/** A well-formed batch body, checked without zod (else zod parses it and names the first problem). */
function isWellFormedBatch(b: unknown): boolean {
  const ps = (b as { payments?: unknown } | undefined)?.payments;
  return typeof b === 'object' && b !== null && !Array.isArray(b) && Object.keys(b).length === 1 && Array.isArray(ps)
    && ps.length >= 1 && ps.length <= MAX_BATCH_PAYMENTS && ps.every(isWellFormedPayment);
}

const grantSchema = z.object({ token: z.string(), expiresAt: timestamp, accessUntil: timestamp });
const paymentView = z.object({
  id: z.string(), object: z.literal('micropayment'), periodId: z.string(), buyerId: z.string(), sellerId: z.string(), itemId: z.string(),
  clientId: z.string(), currency: z.string(), amountMinor: z.number().int(), feeMinor: z.number().int(), createdAt: timestamp,
});
const recordedSchema = z.object({ ...paymentView.shape, grant: grantSchema.meta({ description: 'A single-use access grant for the seller\'s site' }) })
  .meta({ id: 'RecordedMicropayment' });
const storedSchema = z.object({ ...paymentView.shape, refunded: z.boolean(), refundedAt: timestamp.nullable() }).meta({ id: 'Micropayment' });
const refusalSchema = z.object({ code: z.string(), message: z.string(), param: z.string().nullable() });
const batchResult = z.discriminatedUnion('status', [
  z.object({ index: z.number().int(), clientId: z.string(), status: z.enum(['recorded', 'replayed']), payment: recordedSchema }),
  z.object({ index: z.number().int(), clientId: z.string(), status: z.literal('refused'), error: refusalSchema }),
]);

/** A JSON string: as is when it has nothing to escape (the ids and codes the API writes), else JSON.stringify's. */
const PLAIN = /^[A-Za-z0-9_.:-]*$/;
const jsonString = (s: string) => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/**
 * A micro-payment as the API shows it (view): as recorded, with its grant; or as stored, with whether it was refunded
 * (refundedAt given). json: the recorded view as JSON text.
 */
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
   * JSON.stringify of the recorded payment's view with its grant, written directly: a batch answer holds a
   * thousand, and building objects for JSON.stringify was its largest cost (a test checks the texts are the same).
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

const utf8 = new TextEncoder();
/** JSON text as res.json sends it, encoded with TextEncoder: a third of the cost of express's Buffer.from for a batch's answer. */
function sendJson(res: Response, text: string): void {
  const bytes = utf8.encode(text);
  res.set('Content-Type', 'application/json; charset=utf-8').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

const recorders = ['buyer', 'buyer_app', 'merchant', 'operator'] as const;

export function micropaymentOperations(services: Services): Operation[] {
  const { recorder, grants, stores: { micropayments } } = services;
  const { view, json } = paymentViews(grants);
  const visiblePayment = async (principal: { kind: string; id: string }, id: string) => {
    const n = paymentNumber(id);
    const p = n === undefined ? undefined : await micropayments.get(n);
    if (!p || (principal.kind !== 'operator' && principal.id !== p.buyerId && principal.id !== p.sellerId)) throw notFound('micropayment');
    return p;
  };
  return [
    operation({
      method: 'post', path: '/micropayments', allow: recorders, body: paymentSchema, fastBody: isWellFormedPayment,
      audit: false, // (each payment is its own row in micro_payments, with its buyer, client id and time)
      summary: 'Record one micro-payment; the answer carries a single-use access grant',
      description: 'A buyer records its own payments, a seller (merchant key) payments to itself; buyer apps and operators any. '
        + 'The same clientId again (per buyer) returns the first payment and grant (200, Idempotent-Replayed: true).',
      responses: { 201: { description: 'Recorded', schema: recordedSchema },
        200: { description: 'A repeat of the clientId: the first payment and grant', schema: recordedSchema, headers: { 'Idempotent-Replayed': 'true' } } },
      async handler({ res, principal, body }) {
        const [a] = await recorder.record(principal, [body], Date.now());
        if (isRefused(a)) throw new ApiError(a.status, a.status === 403 ? 'permission_error' : 'unprocessable_error', a.code, a.message, a.param);
        if (a.kind === 'replayed') res.set('Idempotent-Replayed', 'true');
        sendJson(res.status(a.kind === 'recorded' ? 201 : 200), json(a.payment));
      },
    }),
    operation({
      method: 'post', path: '/micropayments/batch', allow: recorders, body: batchSchema, fastBody: isWellFormedBatch,
      audit: false, // (as above)
      summary: `Record up to ${MAX_BATCH_PAYMENTS} micro-payments; each is recorded, replayed or refused on its own`,
      description: `A well-formed payment that breaks a rule is refused on its own and the others are still recorded (one result `
        + `per payment, in order). A malformed body or a malformed payment in it (a missing field, a wrong type, an unknown field, `
        + `more than ${MAX_BATCH_PAYMENTS} payments) refuses the whole batch with 400, naming the first problem, and writes nothing. `
        + `At most ${MAX_BATCH_BODY_BYTES} bytes.`,
      responses: { 200: { description: 'One result per payment, in order', schema: z.object({
        object: z.literal('micropayment_batch'), recorded: z.number().int(), replayed: z.number().int(), refused: z.number().int(),
        results: z.array(batchResult) }).meta({ id: 'MicropaymentBatch' }) } },
      async handler({ res, principal, body }) {
        const { payments } = body;
        const answers = await recorder.record(principal, payments, Date.now());
        const counts = { recorded: 0, replayed: 0, refused: 0 };
        const results = answers.map((a, index) => {
          const clientId = payments[index].clientId;
          if (isRefused(a)) {
            counts.refused++;
            return JSON.stringify({ index, clientId, status: 'refused', error: { code: a.code, message: a.message, param: a.param ?? null } });
          }
          counts[a.kind]++;
          return `{"index":${index},"clientId":${jsonString(clientId)},"status":"${a.kind}","payment":${json(a.payment)}}`;
        });
        sendJson(res, `{"object":"micropayment_batch","recorded":${counts.recorded},"replayed":${counts.replayed},`
          + `"refused":${counts.refused},"results":[${results.join(',')}]}`);
      },
    }),
    operation({
      method: 'get', path: '/micropayments', allow: ['buyer', 'merchant', 'operator'],
      summary: "Micro-payments, newest first, a page at a time: a buyer's purchases, a seller's sales (operators name the buyer or the seller)",
      query: z.strictObject({ ...pageQuery,
        buyerId: partyId.optional().meta({ description: "Operators: only this buyer's payments" }),
        sellerId: partyId.optional().meta({ description: "Operators: only this seller's payments" }) }),
      responses: { 200: { description: 'OK', schema: pageOf(storedSchema) } },
      async handler({ res, principal, query }) {
        // a buyer lists its purchases, a seller (merchant key) its sales: naming a party is for operators, who name one
        if (principal.kind !== 'operator') listedFor(principal, query.buyerId ?? query.sellerId, query.buyerId !== undefined ? 'buyerId' : 'sellerId');
        else if (query.buyerId === undefined && query.sellerId === undefined) {
          throw unprocessable('parameter_missing', "Operators list a buyer's or a seller's micro-payments: name buyerId or sellerId", 'buyerId');
        }
        const buyerId = principal.kind === 'buyer' ? principal.id : query.buyerId;
        const sellerId = principal.kind === 'merchant' ? principal.id : query.sellerId;
        const page = await services.stores.settlementLists.payments({ ...pageRequest(query), buyerId, sellerId });
        res.json(pageAnswer(page, (p) => view(p, false, p.refundedAt)));
      },
    }),
    operation({
      method: 'get', path: '/micropayments/:id', summary: 'A micro-payment (its buyer, its seller, operators)', allow: 'any',
      responses: { 200: { description: 'OK', schema: storedSchema } },
      async handler({ res, principal, params }) {
        const p = await visiblePayment(principal, params.id);
        res.json(view(p, false, p.refundedAt));
      },
    }),
    operation({
      method: 'post', path: '/micropayments/:id/refund', allow: ['merchant', 'operator'], bodyRequired: false,
      summary: 'Refund a micro-payment in full (its seller, operators); booked in the open period, the grant stops working',
      body: z.strictObject({ reason: z.string().max(500).optional() }),
      responses: (() => {
        const schema = z.object({ object: z.literal('micropayment_refund'), paymentId: z.string(), amountMinor: z.number().int(),
          currency: z.string(), periodId: z.string(), createdAt: timestamp }).meta({ id: 'MicropaymentRefund' });
        return { 201: { description: 'Refunded', schema }, 200: { description: 'Refunded before', schema, headers: { 'Idempotent-Replayed': 'true' } } };
      })(),
      async handler({ res, principal, params, body }) {
        const n = paymentNumber(params.id);
        const p = n === undefined ? undefined : await micropayments.get(n);
        assertCanSee(principal, p?.sellerId, 'micropayment');
        const refund = await micropayments.refund(p, body.reason);
        if (!refund.created) res.set('Idempotent-Replayed', 'true');
        res.status(refund.created ? 201 : 200).json({
          object: 'micropayment_refund', paymentId: paymentId(p.id), amountMinor: p.amountMinor, currency: p.currency,
          periodId: periodId(refund.periodSeq), createdAt: refund.createdAt.toISOString(),
        });
      },
    }),
    operation({
      method: 'post', path: '/grants/verify', allow: ['merchant', 'operator'],
      audit: false, // (one per purchase; grant_redemptions records it)
      summary: 'Redeem an access grant once (the seller): grant_invalid, grant_expired, grant_revoked, grant_already_used',
      body: z.strictObject({ grant: z.string().min(1).max(MAX_GRANT_LENGTH) }),
      responses: { 200: { description: 'Redeemed', schema: z.object({
        object: z.literal('grant_verification'), valid: z.literal(true), paymentId: z.string(), buyerId: z.string(), sellerId: z.string(),
        itemId: z.string(), accessUntil: timestamp, redeemedAt: timestamp }).meta({ id: 'GrantVerification' }) } },
      async handler({ res, principal, body }) {
        const r = await redeemGrant({ signer: grants, grants: services.stores.grants, micropayments }, principal, body.grant, Date.now());
        if (!r.ok) {
          throw new ApiError(r.code === 'grant_already_used' ? 409 : 422, r.code === 'grant_already_used' ? 'conflict_error' : 'unprocessable_error',
            r.code, r.message, 'grant');
        }
        const p = r.payment;
        res.json({
          object: 'grant_verification', valid: true, paymentId: paymentId(p.id), buyerId: p.buyerId, sellerId: p.sellerId, itemId: p.itemId,
          accessUntil: r.accessUntil.toISOString(), redeemedAt: r.redeemedAt.toISOString(),
        });
      },
    }),
  ];
}

