// The processor simulator: a real HTTP service with its state in PostgreSQL (schema processor_sim), modelled on
// card processor APIs. Two listeners:
//
// public API, JSON, base /v1 (every POST needs an Idempotency-Key):
//   POST /v1/tokens                              {cardNumber, expMonth, expYear, cvc?}      201 card token
//   OPTIONS /v1/tokens                           204 CORS preflight (no fault, no idempotency). /v1/tokens is the one
//                                                endpoint a browser calls (a hosted checkout page sends the card
//                                                number here, never through the broker): its answers, errors
//                                                included, carry Access-Control-Allow-Origin: *, allow POST with
//                                                Content-Type and Idempotency-Key (max age 600 s) and expose
//                                                Idempotent-Replayed. No other endpoint sends CORS headers.
//   POST /v1/authorizations                      {token, amountMinor, currency, postalCode, reference}
//                                                201 authorization (declines are 201 with status 'declined';
//                                                an unknown token is declined invalid_token, AVS U; a card that
//                                                requires step-up authentication answers 201 with status and
//                                                declineCode 'authentication_required' and no expiresAt)
//   POST /v1/authorizations/:id/authentication   {authenticated, authenticationId}   200 the authorization, completed:
//                                                authenticated, decided by the card (approved with expiresAt, or
//                                                declined); not, declined authentication_failed; authenticationId
//                                                (1-100 of [A-Za-z0-9_-]) kept and shown. One already completed
//                                                answers 200 as it stands (a retry under a new key is harmless);
//                                                409 authentication_not_required if it never awaited authentication.
//                                                Counted, and faulted, as the 'authorize' operation
//   POST /v1/authorizations/:id/captures         {amountMinor, lineItems?}   201 capture, up to amount - captured - released;
//                                                409 over_capture, authorization_expired, authorization_voided,
//                                                authorization_declined (also while it awaits authentication).
//                                                Every capture (of an authorization or a reservation) carries the
//                                                processor's feeMinor: 2.9% + 30, or 1.9% + 30 with line items
//                                                (fees.ts). lineItems: 1 to MAX_LINE_ITEMS of {productCode (1-26),
//                                                description (1-100), quantity (1-10000), unitAmountMinor >= 0,
//                                                taxMinor? >= 0} whose quantity × unitAmountMinor add up to amountMinor
//                                                (else 400 line_items_mismatch); kept on the capture (lineItems)
//   POST /v1/authorizations/:id/void             {amountMinor?}  200 {authorizationId, releasedMinor, remainingMinor};
//                                                409 already_voided, over_release, authorization_declined. Without
//                                                amountMinor it releases all that is left and voids the authorization;
//                                                with it (a partial void) it releases that much of what is left
//                                                (amount - captured - released) and the rest stays capturable;
//                                                a release that leaves nothing voids it
//   POST /v1/authorizations/:id/reauthorize      {amountMinor}   201 a new authorization on the same card; 409 authorization_voided.
//                                                Merchant-initiated: a card that requires authentication is not
//                                                asked for it (decided as after one), but the original must have been
//                                                authenticated: 409 authorization_not_authenticated while it awaits
//                                                authentication or after its authentication failed
//   POST /v1/captures/:id/refunds                {amountMinor}   201 refund; 409 over_refund
//   POST /v1/settlement-batches                  {captureIds}    201 batch; 409 capture_already_settled; 404 unknown capture
//   POST /v1/payouts                             {destination, amountMinor, currency}   201 payout
//   POST /v1/charge-batches                      {lines: [{idempotencyKey, token, amountMinor, currency, reference}]}
//                                                201 {id, results}: one direct sale (no authorize/capture) per line,
//                                                decided by the card like an authorization; results in line order;
//                                                a card that requires authentication fails authentication_required
//   POST /v1/payout-batches                      {lines: [{idempotencyKey, destination, amountMinor, currency, reference}]}
//                                                201 {id, results}: a destination starting fail_ fails destination_rejected
//   (a batch file has 1 to MAX_BATCH_FILE_LINES lines, else 400, in a body of up to MAX_BATCH_FILE_BODY_BYTES.
//   Each line's own idempotency key is applied once across every file of its kind: a line whose key was applied
//   before, in this file or an earlier one, returns its first result without a second effect; with a different
//   token/destination, amount or currency, the line fails idempotency_key_reused (the reference is not compared).
//   A failed line is a result, not an error. /admin/stats counts files and applied lines.)
// the issuer's side (reservations.ts; debit and prepaid test cards in cards.ts):
//   GET  /v1/tokens/:token/balance               200 {object: 'balance', token, kind: 'debit'|'prepaid', availableMinor,
//                                                currency}; 409 balance_not_available (a credit card); 404 unknown token
//   POST /v1/reservations                        {token, amountMinor, currency, reference, expiresInSeconds (1 to
//                                                604800)}   201 reservation (status 'active', or 'declined' with
//                                                declineCode: insufficient_funds when the balance is short (nothing
//                                                reserved), the test card's code, expired_card, invalid_token,
//                                                authentication_required (a step-up card: a reservation has no step-up),
//                                                currency_mismatch (the balance is in another currency)). A placed one
//                                                takes its amount from a debit or prepaid card's available balance
//   POST /v1/reservations/:id/extend             {expiresInSeconds}   200 reservation, its expiry moved to that long
//                                                from now; 409 extension_too_long (past 7 days after its placement),
//                                                reservation_ended, reservation_declined
//   POST /v1/reservations/:id/captures           {amountMinor, lineItems?}   201 capture {reservationId, ...}, part or all
//                                                of what is left, as often as wanted; all of it ends it 'captured';
//                                                409 over_capture, reservation_ended (expired included), reservation_declined
//   POST /v1/reservations/:id/release            {}   200 reservation 'released': what was not captured goes back to
//                                                the balance; one already ended (or declined) is answered as it stands
//   GET  /v1/reservations/:id                    200 reservation or 404
//                                                A reservation past its expiresAt is expired (status 'expired', the rest
//                                                given back) by the next call touching it or its card, or by the
//                                                pump's periodic sweep, whichever comes first. Faults: placing,
//                                                extending and releasing are the 'reserve' operation, captures 'capture',
//                                                reads 'query'
// disputes (disputes.ts; the test cards that dispute their captures in cards.ts):
//   GET  /v1/disputes/:id                        200 dispute {id, captureId, chargeId, amountMinor, currency, feeMinor,
//                                                reason, status, evidenceDueBy, evidence?, evidenceSubmittedAt?, closedAt?,
//                                                createdAt} or 404. A dispute belongs to exactly one of a capture (of an
//                                                authorization or a reservation) or a succeeded charge line of a batch
//                                                file: captureId or chargeId, the other null; at most one open per capture
//                                                or charge. A capture's is opened by the admin API or, right after each
//                                                capture, on the cards 4000000000000259 (fraudulent) and
//                                                4000000000001976 (provisioning_failed): amount the capture's less its
//                                                refunds; a charge's by the admin API only: amount the charge's. Fee
//                                                disputeFeeMinor, status needs_response, evidence due
//                                                disputeEvidenceSeconds from now (admin config)
//   POST /v1/disputes/:id/evidence               {productDescription?, customerCommunication?, trackingNumber?,
//                                                shippingCarrier?, deliveryProof?, provisioningLog?, refundPolicy?,
//                                                uncategorized?} (at least one; each <= 20000 characters; a body of
//                                                at most 64 KiB, else 413)   200 dispute, under_review, decided
//                                                disputeDecisionDelayMs later by the pump: its planned outcome (admin),
//                                                else lost if a field contains "losing_evidence", else won.
//                                                409 evidence_already_submitted, evidence_past_due (after evidenceDueBy),
//                                                dispute_closed. Unanswered past evidenceDueBy, a dispute is lost
//   POST /v1/disputes/:id/accept                 {}   200 dispute, lost at once; 409 evidence_already_submitted
//                                                (under review), dispute_closed
//   POST /v1/captures/:id/provisioning-failures  {}   201 {object: 'provisioning_failure', captureId, reportedAt}: the
//                                                purchase could not be provisioned; a repeat answers the first report
//   POST /v1/captures/:id/loyalty                {program (1-64), points (1-10000000)}   201 loyalty signal (loy_)
//                                                A refund of a capture whose open provisioning_failed dispute it covers
//                                                (refund amount >= the disputed amount) closes it 'refunded', fee 0 (a
//                                                charge's dispute is never 'refunded': a charge has no refunds).
//                                                Faults: evidence, accept and provisioning failures are the 'dispute'
//                                                operation, loyalty 'loyalty', reads 'query'
//   GET  /v1/transactions/:id                    any object by id (its `object` field names the kind: authorization,
//                                                capture, refund, settlement_batch, payout, charge, batch_payout,
//                                                charge_batch, payout_batch, reservation, dispute, loyalty_signal) or 404
//   GET  /v1/reports/records?from&to[&cursor][&limit]   POST /v1/reports/records/lookup {ids}
//                                                the records of money moved (captures, refunds, charges, payouts,
//                                                batches) for reconciliation; voids move none and are not records
//   GET  /health
// webhooks to the broker (events.ts, pump.ts): dispute.created (the dispute, of a capture or a charge), dispute.closed
// (won, lost or refunded), reservation.expired (by time, or early by the admin API). POST to the endpoint of the
// process that made the dispute or reservation (SimulatorOptions.webhook; main.ts: PAYBROKER_PROCESSOR_WEBHOOK_URL,
// default the API's /v1/processor/webhooks), body {id, type, createdAt, data: {object}}, headers processor-webhook-id (the event id, the
// same on every attempt), processor-webhook-timestamp (seconds), processor-webhook-signature
// (v1=hex HMAC-SHA256(secret, "<timestamp>.<id>.<body>"); verifyProcessorWebhook in processors/webhookSignature.ts),
// with the secret stored for that endpoint (PAYBROKER_PROCESSOR_WEBHOOK_SECRET). A non-2xx answer or none is retried
// with a doubling pause (1 s to 60 s by default) up to MAX_WEBHOOK_ATTEMPTS (20). The pump of every process (each
// pumpIntervalMs) also expires due reservations and decides due disputes; several processes sharing one database
// divide that work (FOR UPDATE SKIP LOCKED) and each event still reaches its own broker.
// Errors are { error: { code, message } }: 4xx for refusals, 5xx only for faults. An Idempotency-Key repeated
// with the same request returns the first response (Idempotent-Replayed: true) without a second effect; with a
// different request, 422 idempotency_key_reused. The key, the effect and the response commit in one transaction.
//
// admin API (its own port, loopback, no auth), so "down" can close the public listener while admin stays up:
//   GET|PUT /admin/faults   POST /admin/reset-faults   GET /admin/stats[?scope=database] (effects, webhook deliveries)
//   GET|PUT /admin/config   {authValiditySeconds, disputeFeeMinor (default 1500), disputeEvidenceSeconds (default 7 days),
//                           disputeDecisionDelayMs (default 3000)}; a PUT changes the fields it sends
//   POST /admin/captures/:id/disputes {reason, amountMinor?, evidenceSeconds?, outcome?: 'won'|'lost'}   201 dispute
//                           (dispute.created); 409 dispute_exists, over_dispute, capture_refunded; 404 unknown capture
//   POST /admin/charges/:id/disputes  (same body)   201 dispute of a succeeded charge line (dispute.created), amount
//                           default the charge's, at most it; 409 dispute_exists, over_dispute; 404 unknown id (a failed
//                           line has none)
//   GET /admin/disputes?captureId=X|chargeId=X   GET /admin/webhook-events?objectId=X (the outbox, with attempts and outcome)
//   GET /admin/authorizations?reference=X   GET /admin/captures?authorizationId=X|reservationId=X
//   GET /admin/reservations?reference=X   PUT /admin/tokens/:token/balance {availableMinor}   200 balance (409 a credit card)
//   POST /admin/reservations/:id/expire   200 the reservation, expired early by its issuer (the rest given back);
//                                         409 reservation_ended
//   GET /admin/charges?reference=X   GET /admin/payouts?reference=X (batch file lines)   GET /health
//   POST /admin/records/:id/tamper {amountMinor} | {drop: true}   (stats: voids counts every void, partial ones too)
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { close, listen, urlHost } from '../serve';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { createDb, type Db } from '../../ledger/db';
import { DISPUTE_REASONS, type DisputeReason, MAX_BATCH_FILE_LINES, MAX_LINE_ITEMS, MAX_RESERVATION_SECONDS } from '../client';
import type { IssuerContext } from './common';
import * as d from './disputes';
import { eventsOf } from './events';
import { Faults, faultSettingsSchema, FaultSettingsError, OPERATIONS, type Operation } from './faults';
import { migrateSimulator, SIM_SCHEMA } from './migrations';
import * as p from './processor';
import { EFFECT_NAMES, SimError, type EffectName, type Outcome } from './processor';
import {
  DEFAULT_PUMP_INTERVAL_MS, DEFAULT_WEBHOOK_INITIAL_BACKOFF_MS, DEFAULT_WEBHOOK_MAX_BACKOFF_MS, DEFAULT_WEBHOOK_TIMEOUT_MS, Pump,
} from './pump';
import * as r from './reservations';

export { AVS_BY_POSTAL_CODE, TEST_CARDS } from './cards';

/** Largest request body accepted, in bytes (413 body_too_large past it). */
export const MAX_BODY_BYTES = 256 * 1024;
/**
 * Largest body of a batch file (POST /v1/charge-batches, /v1/payout-batches): a full file of lines whose fields
 * are all at their longest fits, so the line count is the limit that binds.
 */
export const MAX_BATCH_FILE_BODY_BYTES = 4 * 1024 * 1024;
/** Captures per settlement batch. */
export const MAX_BATCH_CAPTURES = 1000;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
/** Authorizations can be captured for this long unless configured otherwise (7 days). */
export const DEFAULT_AUTH_VALIDITY_SECONDS = 7 * 24 * 3600;
export const MAX_AUTH_VALIDITY_SECONDS = 366 * 24 * 3600;

export interface SimulatorOptions {
  databaseUrl: string;
  /** Public API port (0: any free port). */
  port: number;
  /** Admin API port; default port + 1 (any free port when port is 0). */
  adminPort?: number;
  /** Interface of the public API; default 127.0.0.1. */
  host?: string;
  /** Interface of the admin API; default 127.0.0.1 (loopback only: it has no authentication). */
  adminHost?: string;
  authValiditySeconds?: number;
  /** Pause between the background pump's ticks (expiry sweep, dispute decisions, webhooks); default DEFAULT_PUMP_INTERVAL_MS. */
  pumpIntervalMs?: number;
  /**
   * This process's broker: where the disputes and reservations it makes send their webhooks, and the secret they are
   * signed with (upserted into webhook_endpoints at start). Absent: its events are kept, never sent.
   */
  webhook?: { url: string; secret: string };
  /** Pause after a failed webhook attempt, doubling from initialMs to maxMs; defaults 1 s and 60 s. */
  webhookBackoff?: { initialMs: number; maxMs: number };
  /** One webhook attempt; default 10 s. */
  webhookTimeoutMs?: number;
}

export interface RunningSimulator {
  url: string;
  adminUrl: string;
  stop(): Promise<void>;
}

export interface SimulatorConfig {
  authValiditySeconds: number;
  /** What a dispute costs the merchant (default 1500). */
  disputeFeeMinor: number;
  /** How long a new dispute waits for evidence (default 7 days). */
  disputeEvidenceSeconds: number;
  /** How long after the evidence the issuer decides (default 3000 ms). */
  disputeDecisionDelayMs: number;
}

export const MAX_DISPUTE_FEE_MINOR = 1_000_000;
export const MAX_DISPUTE_EVIDENCE_SECONDS = 120 * 24 * 3600;
export const MAX_DISPUTE_DECISION_DELAY_MS = 24 * 3600 * 1000;

export type SimulatorStats = Record<EffectName, number> & {
  /** 'process': effects this process applied since it started; 'database': rows in the simulator's schema. */
  scope: 'process' | 'database';
  since: string;
  /** HTTP calls received per operation by this process since it started (including faulted ones). */
  requests: Record<Operation, number>;
};

// ---- request validation ----

const amountMinor = z.number().int().min(1);
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code (3 capital letters)');
const objectId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be an id');

const tokenBody = z.strictObject({
  cardNumber: z.string().min(1).max(32),
  expMonth: z.number().int().min(1).max(12),
  expYear: z.number().int().min(2000).max(2100),
  cvc: z.string().regex(/^\d{3,4}$/).optional(),
});
const authorizeBody = z.strictObject({
  token: z.string().min(1).max(100),
  amountMinor,
  currency,
  postalCode: z.string().min(1).max(20),
  reference: z.string().min(1).max(255),
});
const amountBody = z.strictObject({ amountMinor });
/** Level 2/3 data of a capture: what was sold, line by line (their quantity × unit amount adds up to the amount). */
const lineItems = z.array(z.strictObject({
  productCode: z.string().min(1).max(26),
  description: z.string().min(1).max(100),
  quantity: z.number().int().min(1).max(10_000),
  unitAmountMinor: z.number().int().min(0),
  taxMinor: z.number().int().min(0).optional(),
})).min(1).max(MAX_LINE_ITEMS);
const captureBody = z.strictObject({ amountMinor, lineItems: lineItems.optional() });
const holdSeconds = z.number().int().min(r.MIN_RESERVATION_SECONDS).max(MAX_RESERVATION_SECONDS);
const reserveBody = z.strictObject({
  token: z.string().min(1).max(100), amountMinor, currency, reference: z.string().min(1).max(255), expiresInSeconds: holdSeconds,
});
const extendBody = z.strictObject({ expiresInSeconds: holdSeconds });
const emptyBody = z.strictObject({});
const balanceBody = z.strictObject({ availableMinor: z.number().int().min(0) });
const voidBody = z.strictObject({ amountMinor: amountMinor.optional() });
const authenticationBody = z.strictObject({ authenticated: z.boolean(), authenticationId: objectId });
const batchBody = z.strictObject({ captureIds: z.array(objectId).min(1).max(MAX_BATCH_CAPTURES) });
const payoutBody = z.strictObject({ destination: z.string().min(1).max(200), amountMinor, currency });
/** A batch file line's own idempotency key: like the Idempotency-Key header. */
const lineKey = z.string().min(1).max(IDEMPOTENCY_KEY_MAX_LENGTH).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII');
const reference = z.string().min(1).max(255);
const chargeBatchBody = z.strictObject({
  lines: z.array(z.strictObject({ idempotencyKey: lineKey, token: z.string().min(1).max(100), amountMinor, currency, reference }))
    .min(1).max(MAX_BATCH_FILE_LINES),
});
const payoutBatchBody = z.strictObject({
  lines: z.array(z.strictObject({ idempotencyKey: lineKey, destination: z.string().min(1).max(200), amountMinor, currency, reference }))
    .min(1).max(MAX_BATCH_FILE_LINES),
});
const recordsQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).transform((v) => new Date(v)), to: z.iso.datetime({ offset: true }).transform((v) => new Date(v)),
  cursor: z.string().regex(/^[^|]{1,64}\|[A-Za-z0-9_-]{1,100}$/).optional(),
  limit: z.coerce.number().int().min(1).max(p.MAX_REPORT_PAGE).default(100),
});
const lookupBody = z.strictObject({ ids: z.array(objectId).min(1).max(p.MAX_REPORT_PAGE) });
const tamperBody = z.union([z.strictObject({ amountMinor, drop: z.literal(false).optional() }), z.strictObject({ drop: z.literal(true) })]);
const configBody = z.strictObject({
  authValiditySeconds: z.number().int().min(1).max(MAX_AUTH_VALIDITY_SECONDS).optional(),
  disputeFeeMinor: z.number().int().min(0).max(MAX_DISPUTE_FEE_MINOR).optional(),
  disputeEvidenceSeconds: z.number().int().min(1).max(MAX_DISPUTE_EVIDENCE_SECONDS).optional(),
  disputeDecisionDelayMs: z.number().int().min(0).max(MAX_DISPUTE_DECISION_DELAY_MS).optional(),
});
const evidenceField = z.string().max(d.MAX_EVIDENCE_FIELD_CHARS).optional();
const evidenceBody = z.strictObject({
  productDescription: evidenceField, customerCommunication: evidenceField, trackingNumber: evidenceField, shippingCarrier: evidenceField,
  deliveryProof: evidenceField, provisioningLog: evidenceField, refundPolicy: evidenceField, uncategorized: evidenceField,
}).refine((e) => Object.values(e).some((v) => v !== undefined && v !== ''), 'send at least one evidence field');
const openDisputeBody = z.strictObject({
  reason: z.enum(DISPUTE_REASONS),
  amountMinor: amountMinor.optional(),
  evidenceSeconds: z.number().int().min(1).max(MAX_DISPUTE_EVIDENCE_SECONDS).optional(),
  outcome: z.enum(['won', 'lost']).optional(),
});
const loyaltyBody = z.strictObject({ program: z.string().min(1).max(64), points: z.number().int().min(1).max(10_000_000) });

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    throw new SimError(400, 'unknown_parameter', `Unknown parameter: ${[...issue.path, issue.keys[0]].join('.')}`);
  }
  const path = issue.path.join('.');
  const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], body);
  throw new SimError(400, value === undefined ? 'parameter_missing' : 'parameter_invalid', path ? `${path}: ${issue.message}` : issue.message);
}

function pathId(req: Request, name: string): string {
  const v = req.params[name];
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(v)) throw new SimError(400, 'parameter_invalid', `Invalid ${name}`);
  return v;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---- responses ----

declare module 'express-serve-static-core' {
  interface Locals {
    /** lost_response fault: the effect is committed, then the connection is dropped instead of answering. */
    loseResponse?: boolean;
  }
}

function reply(res: Response, status: number, body: unknown): void {
  if (res.locals.loseResponse) {
    res.req.socket.destroy();
    return;
  }
  res.status(status).json(body);
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

function toSimError(err: unknown): SimError {
  if (err instanceof SimError) return err;
  if (err instanceof FaultSettingsError) return new SimError(400, 'parameter_invalid', err.message);
  const e = err as { type?: string; limit?: number };
  if (e.type === 'entity.too.large') return new SimError(413, 'body_too_large', `The request body exceeds ${e.limit ?? MAX_BODY_BYTES} bytes`);
  if (e.type === 'entity.parse.failed') return new SimError(400, 'invalid_json', 'The request body is not valid JSON');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return new SimError(415, 'unsupported_encoding', 'Unsupported encoding');
  return new SimError(500, 'internal_error', 'An internal error occurred');
}

const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toSimError(err);
  if (e.code === 'internal_error') console.error(`processor simulator: ${req.method} ${req.originalUrl} failed:`, err);
  if (res.headersSent) return;
  reply(res, e.status, errorBody(e.code, e.message));
};

/** CORS for POST /v1/tokens, the one endpoint a browser calls: any origin, and a preflight cached 600 s. */
export const TOKENS_CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST',
  'Access-Control-Allow-Headers': 'Content-Type, Idempotency-Key',
  'Access-Control-Max-Age': '600',
  'Access-Control-Expose-Headers': 'Idempotent-Replayed',
} as const;

const tokensCors: RequestHandler = (_req, res, next) => {
  res.set(TOKENS_CORS_HEADERS);
  next();
};

const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) throw new SimError(415, 'unsupported_media_type', 'Send request bodies as application/json');
  next();
};

// ---- the service ----

class Simulator {
  readonly faults = new Faults();
  readonly config: SimulatorConfig;
  readonly since = new Date().toISOString();
  private readonly effects = Object.fromEntries(EFFECT_NAMES.map((k) => [k, 0])) as Record<EffectName, number>;
  private readonly requests = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<Operation, number>;

  constructor(readonly db: Db, authValiditySeconds: number, private readonly webhookUrl: string | null) {
    this.config = {
      authValiditySeconds, disputeFeeMinor: d.DEFAULT_DISPUTE_FEE_MINOR, disputeEvidenceSeconds: d.DEFAULT_DISPUTE_EVIDENCE_SECONDS,
      disputeDecisionDelayMs: d.DEFAULT_DISPUTE_DECISION_DELAY_MS,
    };
  }

  /** What operations need of this process: its webhook endpoint and the dispute settings as configured now. */
  ctx(): IssuerContext {
    const { disputeFeeMinor, disputeEvidenceSeconds, disputeDecisionDelayMs } = this.config;
    return { webhookUrl: this.webhookUrl, disputeFeeMinor, disputeEvidenceSeconds, disputeDecisionDelayMs };
  }

  async stats(scope: 'process' | 'database'): Promise<SimulatorStats> {
    const counts = scope === 'database' ? await p.databaseStats(this.db) : { ...this.effects };
    return { scope, since: this.since, ...counts, requests: { ...this.requests } };
  }

  /** Counts the call as received. */
  received(op: Operation): RequestHandler {
    return (_req, _res, next) => {
      this.requests[op] += 1;
      next();
    };
  }

  /**
   * Applies the current fault to the call, before any effect. Runs after the body is read, so a slow call
   * whose client has given up still takes effect, as it would at a real processor.
   */
  fault(op: Operation): RequestHandler {
    return async (_req, res, next) => {
      const action = this.faults.decide(op);
      if (action.kind === 'unavailable') {
        res.status(503).json(errorBody('processor_unavailable', 'The processor is unavailable; retry with the same Idempotency-Key'));
        return;
      }
      if (action.kind === 'delay') await new Promise((r) => setTimeout(r, action.ms));
      if (action.kind === 'lose_response') res.locals.loseResponse = true;
      next();
    };
  }

  /** Counts what a call (or the pump) applied outside mutate. */
  count(effects: EffectName[]): void {
    for (const e of effects) this.effects[e] += 1;
  }

  /** Answers a read's outcome, counting the effects it applied (expiries by time). */
  answer(res: Response, out: Outcome): void {
    this.count(out.effects);
    reply(res, out.status, out.body);
  }

  /**
   * One mutating call: claims the Idempotency-Key, applies the effect and stores the response in one short
   * transaction. A concurrent request with the same key waits on the key's unique index until the first
   * commits, then replays its response; if the first rolls back (a fault), the second runs instead.
   */
  async mutate<S extends z.ZodType>(req: Request, res: Response, op: Operation, schema: S,
    run: (trx: Knex.Transaction, body: z.infer<S>) => Promise<Outcome>): Promise<void> {
    const key = req.get('idempotency-key');
    if (key === undefined) throw new SimError(400, 'idempotency_key_missing', 'Send an Idempotency-Key header with every POST');
    if (key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
      throw new SimError(400, 'idempotency_key_invalid', `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters`);
    }
    const raw: unknown = req.body ?? {};
    const body = parse(schema, raw);
    const requestSha256 = createHash('sha256').update(`${req.method} ${req.baseUrl}${req.path}\n${canonical(raw)}`).digest();
    const T = 'processor_sim.idempotency_keys';

    const result = await this.db.transaction(async (trx) => {
      const claimed = await trx(T).insert({ key, operation: op, request_sha256: requestSha256 })
        .onConflict('key').ignore().returning('key');
      if (claimed.length === 0) {
        const stored = await trx(T).where({ key }).first();
        if (!stored.request_sha256.equals(requestSha256)) {
          throw new SimError(422, 'idempotency_key_reused',
            'This Idempotency-Key was used with a different request; use a new key for a new request');
        }
        return { status: stored.response_status as number, body: stored.response_body as unknown, effects: [] as EffectName[],
          counts: undefined, replayed: true };
      }
      let out: Outcome;
      try {
        out = await run(trx, body);
      } catch (err) {
        // refusals are checked before any write (but an expiry by time, which err.effects counts), so the
        // transaction holds only the key: store the refusal too
        if (!(err instanceof SimError) || err.status >= 500) throw err;
        out = { status: err.status, body: errorBody(err.code, err.message), effects: err.effects };
      }
      await trx(T).where({ key }).update({ response_status: out.status, response_body: JSON.stringify(out.body) });
      return { ...out, replayed: false };
    });

    for (const e of result.effects) this.effects[e] += 1;
    for (const [e, n] of Object.entries(result.counts ?? {}) as Array<[EffectName, number]>) this.effects[e] += n;
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    reply(res, result.status, result.body);
  }

  publicApp(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.set('query parser', 'simple');
    app.get('/health', async (_req, res) => {
      await this.db.raw('SELECT 1');
      const f = this.faults.current;
      if (f.mode === 'down' && f.operations === null) {
        res.status(503).json({ status: 'down', service: 'processor-simulator' });
        return;
      }
      res.json({ status: 'ok', service: 'processor-simulator' });
    });

    const v1 = express.Router();
    const json = (limit: number) => [jsonOnly, express.json({ limit, strict: true })];
    const post = (path: string, op: Operation, handler: RequestHandler, limit = MAX_BODY_BYTES) =>
      v1.post(path, this.received(op), ...json(limit), this.fault(op), handler);
    const validity = () => this.config.authValiditySeconds;

    // CORS headers first, so that every answer (a 400 invalid_card, a 503 fault) is readable by the page
    v1.options('/tokens', tokensCors, (_req, res) => { res.status(204).end(); });
    v1.post('/tokens', tokensCors, this.received('tokenize'), ...json(MAX_BODY_BYTES), this.fault('tokenize'), (req, res) =>
      this.mutate(req, res, 'tokenize', tokenBody, (trx, b) => p.tokenize(trx, b)));
    post('/authorizations', 'authorize', (req, res) =>
      this.mutate(req, res, 'authorize', authorizeBody, (trx, b) => p.authorize(trx, b, validity())));
    // completing an authentication is the authorization's own decision, made late: it is the 'authorize' operation
    post('/authorizations/:id/authentication', 'authorize', (req, res) =>
      this.mutate(req, res, 'authorize', authenticationBody, (trx, b) => p.completeAuthentication(trx, pathId(req, 'id'), b, validity())));
    post('/authorizations/:id/captures', 'capture', (req, res) =>
      this.mutate(req, res, 'capture', captureBody, (trx, b) => p.capture(trx, pathId(req, 'id'), b.amountMinor, b.lineItems, this.ctx())));
    post('/authorizations/:id/void', 'void', (req, res) =>
      this.mutate(req, res, 'void', voidBody, (trx, b) => p.voidAuthorization(trx, pathId(req, 'id'), b.amountMinor)));
    post('/authorizations/:id/reauthorize', 'reauthorize', (req, res) =>
      this.mutate(req, res, 'reauthorize', amountBody, (trx, b) => p.reauthorize(trx, pathId(req, 'id'), b.amountMinor, validity())));
    post('/captures/:id/refunds', 'refund', (req, res) =>
      this.mutate(req, res, 'refund', amountBody, (trx, b) => p.refund(trx, pathId(req, 'id'), b.amountMinor)));
    post('/settlement-batches', 'settle', (req, res) =>
      this.mutate(req, res, 'settle', batchBody, (trx, b) => {
        if (new Set(b.captureIds).size !== b.captureIds.length) throw new SimError(400, 'parameter_invalid', 'captureIds: duplicate capture id');
        return p.settleBatch(trx, b.captureIds);
      }));
    post('/payouts', 'payout', (req, res) => this.mutate(req, res, 'payout', payoutBody, (trx, b) => p.payout(trx, b)));
    post('/charge-batches', 'charge_batch', (req, res) =>
      this.mutate(req, res, 'charge_batch', chargeBatchBody, (trx, b) => p.chargeBatch(trx, b.lines)), MAX_BATCH_FILE_BODY_BYTES);
    post('/payout-batches', 'payout_batch', (req, res) =>
      this.mutate(req, res, 'payout_batch', payoutBatchBody, (trx, b) => p.payoutBatch(trx, b.lines)), MAX_BATCH_FILE_BODY_BYTES);
    // the issuer's side: balances and reservations (reservations.ts)
    v1.get('/tokens/:token/balance', this.received('query'), this.fault('query'), async (req, res) => {
      this.answer(res, await r.balance(this.db, pathId(req, 'token')));
    });
    post('/reservations', 'reserve', (req, res) => this.mutate(req, res, 'reserve', reserveBody, (trx, b) => r.reserve(trx, b, this.ctx())));
    post('/reservations/:id/extend', 'reserve', (req, res) =>
      this.mutate(req, res, 'reserve', extendBody, (trx, b) => r.extendReservation(trx, pathId(req, 'id'), b.expiresInSeconds)));
    post('/reservations/:id/captures', 'capture', (req, res) =>
      this.mutate(req, res, 'capture', captureBody, (trx, b) => r.captureReservation(trx, pathId(req, 'id'), b.amountMinor, b.lineItems, this.ctx())));
    post('/reservations/:id/release', 'reserve', (req, res) =>
      this.mutate(req, res, 'reserve', emptyBody, (trx) => r.releaseReservation(trx, pathId(req, 'id'))));
    v1.get('/reservations/:id', this.received('query'), this.fault('query'), async (req, res) => {
      this.answer(res, await r.getReservation(this.db, pathId(req, 'id')));
    });
    // disputes, and what the merchant tells the issuer about a capture (disputes.ts)
    v1.get('/disputes/:id', this.received('query'), this.fault('query'), async (req, res) => {
      const row = await d.getDispute(this.db, pathId(req, 'id'));
      if (!row) throw p.notFound('dispute', pathId(req, 'id'));
      reply(res, 200, d.disputeView(row));
    });
    post('/disputes/:id/evidence', 'dispute', (req, res) =>
      this.mutate(req, res, 'dispute', evidenceBody, (trx, b) => d.submitEvidence(trx, pathId(req, 'id'), b, this.ctx())), d.MAX_EVIDENCE_BODY_BYTES);
    post('/disputes/:id/accept', 'dispute', (req, res) =>
      this.mutate(req, res, 'dispute', emptyBody, (trx) => d.acceptDispute(trx, pathId(req, 'id'))));
    post('/captures/:id/provisioning-failures', 'dispute', (req, res) =>
      this.mutate(req, res, 'dispute', emptyBody, (trx) => d.reportProvisioningFailure(trx, pathId(req, 'id'))));
    post('/captures/:id/loyalty', 'loyalty', (req, res) =>
      this.mutate(req, res, 'loyalty', loyaltyBody, (trx, b) => d.sendLoyalty(trx, pathId(req, 'id'), b)));
    v1.get('/transactions/:id', this.received('query'), this.fault('query'), async (req, res) => {
      const id = pathId(req, 'id');
      // a reservation is expired first if it is due, as every call touching it does
      if (id.startsWith('rsv_')) {
        this.answer(res, await r.getReservation(this.db, id));
        return;
      }
      const found = await p.getTransaction(this.db, id);
      if (!found) throw p.notFound('transaction', id);
      reply(res, 200, found);
    });

    // reports: what the processor recorded, for the broker's reconciliation
    v1.get('/reports/records', this.received('query'), this.fault('query'), async (req, res) => {
      const q = parse(recordsQuery, req.query);
      if (q.to <= q.from) throw new SimError(400, 'parameter_invalid', 'to must be after from');
      reply(res, 200, await p.recordsBetween(this.db, q.from, q.to, q.cursor, q.limit));
    });
    v1.post('/reports/records/lookup', this.received('query'), ...json(MAX_BODY_BYTES), this.fault('query'), async (req, res) => {
      reply(res, 200, await p.recordsById(this.db, parse(lookupBody, req.body ?? {}).ids));
    });

    app.use('/v1', v1);
    app.use((req) => { throw new SimError(404, 'route_not_found', `No route ${req.method} ${req.path}`); });
    app.use(errorHandler);
    return app;
  }

  adminApp(setFaults: (apply: () => void) => Promise<void>): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.set('query parser', 'simple');
    app.use(jsonOnly, express.json({ limit: 64 * 1024, strict: true }));
    const query = (req: Request, name: string): string => {
      const v = req.query[name];
      if (typeof v !== 'string' || v.length < 1 || v.length > 255) throw new SimError(400, 'parameter_missing', `Query parameter ${name} is required`);
      return v;
    };

    app.get('/health', (_req, res) => { res.json({ status: 'ok', service: 'processor-simulator-admin' }); });
    app.get('/admin/faults', (_req, res) => { res.json(this.faults.current); });
    app.put('/admin/faults', async (req, res) => {
      const settings = parse(faultSettingsSchema, req.body ?? {});
      await setFaults(() => { this.faults.set(settings); });
      res.json(this.faults.current);
    });
    app.post('/admin/reset-faults', async (_req, res) => {
      await setFaults(() => { this.faults.clear(); });
      res.json(this.faults.current);
    });
    app.get('/admin/config', (_req, res) => { res.json(this.config); });
    app.put('/admin/config', (req, res) => {
      const body = parse(configBody, req.body ?? {});
      for (const [k, v] of Object.entries(body) as Array<[keyof SimulatorConfig, number | undefined]>) if (v !== undefined) this.config[k] = v;
      res.json(this.config);
    });
    app.get('/admin/stats', async (req, res) => {
      const scope = req.query.scope === undefined ? 'process' : req.query.scope;
      if (scope !== 'process' && scope !== 'database') throw new SimError(400, 'parameter_invalid', "scope must be 'process' or 'database'");
      res.json(await this.stats(scope));
    });
    app.get('/admin/authorizations', async (req, res) => {
      res.json({ data: await p.authorizationsByReference(this.db, query(req, 'reference')) });
    });
    app.get('/admin/captures', async (req, res) => {
      if (req.query.reservationId !== undefined) {
        res.json({ data: await p.capturesByReservation(this.db, query(req, 'reservationId')) });
        return;
      }
      res.json({ data: await p.capturesByAuthorization(this.db, query(req, 'authorizationId')) });
    });
    // a chargeback the issuer opens on a capture (dispute.created to this process's broker)
    app.post('/admin/captures/:id/disputes', async (req, res) => {
      const b = parse(openDisputeBody, req.body ?? {});
      const row = await this.db.transaction((trx) => d.openDispute(trx, pathId(req, 'id'), { ...b, reason: b.reason as DisputeReason }, this.ctx()));
      this.count(['disputes', 'webhookEvents']);
      res.status(201).json(d.disputeView(row));
    });
    // ... or on a succeeded charge line of a batch file
    app.post('/admin/charges/:id/disputes', async (req, res) => {
      const b = parse(openDisputeBody, req.body ?? {});
      const row = await this.db.transaction((trx) => d.openChargeDispute(trx, pathId(req, 'id'), { ...b, reason: b.reason as DisputeReason }, this.ctx()));
      this.count(['disputes', 'webhookEvents']);
      res.status(201).json(d.disputeView(row));
    });
    app.get('/admin/disputes', async (req, res) => {
      const of = req.query.chargeId !== undefined ? { charge_id: query(req, 'chargeId') } : { capture_id: query(req, 'captureId') };
      res.json({ data: await d.disputesOf(this.db, of) });
    });
    app.get('/admin/webhook-events', async (req, res) => {
      res.json({ data: await eventsOf(this.db, query(req, 'objectId')) });
    });
    app.get('/admin/reservations', async (req, res) => {
      res.json({ data: await r.reservationsByReference(this.db, query(req, 'reference')) });
    });
    app.put('/admin/tokens/:token/balance', async (req, res) => {
      const out = await r.setBalance(this.db, pathId(req, 'token'), parse(balanceBody, req.body ?? {}).availableMinor);
      this.count(out.effects);
      res.status(out.status).json(out.body);
    });
    // the issuer ends a hold before its expiry (reservation.expired, as by time)
    app.post('/admin/reservations/:id/expire', async (req, res) => {
      const out = await r.expireEarly(this.db, pathId(req, 'id'));
      this.count(out.effects);
      res.status(out.status).json(out.body);
    });
    app.get('/admin/charges', async (req, res) => {
      res.json({ data: await p.chargesByReference(this.db, query(req, 'reference')) });
    });
    app.get('/admin/payouts', async (req, res) => {
      res.json({ data: await p.batchPayoutsByReference(this.db, query(req, 'reference')) });
    });
    // a record changed or dropped behind the broker's back (reconciliation's fault tests)
    app.post('/admin/records/:id/tamper', async (req, res) => {
      const b = parse(tamperBody, req.body ?? {});
      const done = await p.tamperRecord(this.db, pathId(req, 'id'), b.drop ? 'drop' : { amountMinor: b.amountMinor! });
      if (!done) throw p.notFound('record', pathId(req, 'id'));
      res.json({ id: pathId(req, 'id'), tampered: b.drop ? 'dropped' : 'amount' });
    });
    app.use((req) => { throw new SimError(404, 'route_not_found', `No route ${req.method} ${req.path}`); });
    app.use(errorHandler);
    return app;
  }
}


/** Migrates the simulator's schema, then serves the public API on port and the admin API on adminPort. */
export async function startSimulator(opts: SimulatorOptions): Promise<RunningSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const adminHost = opts.adminHost ?? '127.0.0.1';
  const validity = opts.authValiditySeconds ?? DEFAULT_AUTH_VALIDITY_SECONDS;
  if (!Number.isInteger(validity) || validity < 1 || validity > MAX_AUTH_VALIDITY_SECONDS) {
    throw new RangeError(`authValiditySeconds must be an integer from 1 to ${MAX_AUTH_VALIDITY_SECONDS}, got ${validity}`);
  }
  const db = createDb(opts.databaseUrl, { applicationName: 'processor-simulator' });
  const publicServer = createServer();
  const adminServer = createServer();
  let pump: Pump | undefined;
  try {
    await migrateSimulator(db);
    if (opts.webhook) {
      await db(`${SIM_SCHEMA}.webhook_endpoints`).insert({ url: opts.webhook.url, secret: opts.webhook.secret })
        .onConflict('url').merge({ secret: opts.webhook.secret, updated_at: db.raw('clock_timestamp()') });
    }
    const sim = new Simulator(db, validity, opts.webhook?.url ?? null);
    publicServer.on('request', sim.publicApp());
    pump = new Pump(db, {
      intervalMs: opts.pumpIntervalMs ?? DEFAULT_PUMP_INTERVAL_MS, webhookTimeoutMs: opts.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
      initialBackoffMs: opts.webhookBackoff?.initialMs ?? DEFAULT_WEBHOOK_INITIAL_BACKOFF_MS,
      maxBackoffMs: opts.webhookBackoff?.maxMs ?? DEFAULT_WEBHOOK_MAX_BACKOFF_MS,
    }, (effects) => sim.count(effects));

    let port = await listen(publicServer, opts.port, host);
    let stopped = false;
    // fault changes run one at a time: closing or reopening the public listener is part of the change
    let changing = Promise.resolve();
    const setFaults = (apply: () => void): Promise<void> => {
      const next = changing.then(async () => {
        apply();
        if (stopped) return;
        if (sim.faults.refusing) await close(publicServer);
        else if (!publicServer.listening) port = await listen(publicServer, port, host);
      });
      changing = next.catch(() => {});
      return next;
    };
    adminServer.on('request', sim.adminApp(setFaults));
    const adminPort = await listen(adminServer, opts.adminPort ?? (opts.port === 0 ? 0 : opts.port + 1), adminHost);
    pump.start();

    return {
      url: `http://${urlHost(host)}:${port}`,
      adminUrl: `http://${urlHost(adminHost)}:${adminPort}`,
      async stop() {
        stopped = true;
        await pump?.stop();
        await changing;
        await Promise.all([close(publicServer), close(adminServer)]);
        await db.destroy();
      },
    };
  } catch (err) {
    await pump?.stop();
    await Promise.all([close(publicServer), close(adminServer)]);
    await db.destroy();
    throw err;
  }
}
