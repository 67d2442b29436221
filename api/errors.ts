// The one error shape of the API: { error: { type, code, message, param } } with one status per code. The
// refusals of the layers below (stores, services, domain rules) are mapped here.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { BidRoundError } from '../domain/bids';
import { CartError } from '../domain/cart';
import { CheckoutError } from '../domain/checkout';
import { PricingError } from '../domain/pricing';
import { isDatabaseUnavailable, LedgerError } from '../stores';
import { AuthenticationRefused } from '../services/authentications';
import { WebhookRefused } from '../services/confirmations';
import { DisputeRefused } from '../services/disputes';
import { FederationRefused } from '../services/federation';
import { HoldRefused } from '../services/holds';
import { IssuerRefused } from '../services/issuer';
import { OrderError } from '../services/orders';
import { TermsChanging } from '../services/recorder';
import { SettlementError } from '../services/settlement';
import { TemporalUnavailable } from '../services/temporal';
import { BidRefusal } from '../stores/bids';
import { DeliveryError } from '../stores/delivery';
import { StoreRefusal } from '../stores/refusal';
import type { Logger } from '../runtime/log';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' |
  'idempotency_error' | 'conflict_error' | 'unprocessable_error' | 'rate_limit_error' | 'service_unavailable_error' | 'api_error';

export class ApiError extends Error {
  headers: Record<string, string> = {};

  constructor(readonly status: number, readonly type: ErrorType, readonly code: string, message: string,
    readonly param?: string) {
    super(message);
    this.name = 'ApiError';
  }

  withHeaders(headers: Record<string, string>): this {
    this.headers = { ...this.headers, ...headers };
    return this;
  }
}

export const badRequest = (code: string, message: string, param?: string) =>
  new ApiError(400, 'invalid_request_error', code, message, param);
export const notFound = (what: string) => new ApiError(404, 'not_found_error', 'resource_missing', `No such ${what}`);
export const forbidden = (message = 'This API key may not do that') =>
  new ApiError(403, 'permission_error', 'forbidden', message);
export const unprocessable = (code: string, message: string, param?: string) =>
  new ApiError(422, 'unprocessable_error', code, message, param);
export const conflict = (code: string, message: string, param?: string) => new ApiError(409, 'conflict_error', code, message, param);

/** Logs a refusal of a webhook or a device (its kind and code, never a phone or a key) and passes it on to the error handler. */
export function logRefusal(res: Response, what: string) {
  return (err: unknown): never => {
    if (err instanceof WebhookRefused || err instanceof AuthenticationRefused) {
      res.locals.logger?.warn({ requestId: res.locals.requestId, refused: what, code: err.code, status: err.status }, `${what} refused: ${err.message}`);
    }
    throw err;
  };
}

export const notFoundRoute: RequestHandler = (req) => {
  throw new ApiError(404, 'not_found_error', 'route_not_found', `No route ${req.method} ${req.path}`);
};

declare module 'express-serve-static-core' {
  interface Locals {
    /** The API's logger and the request's id (the app's first middleware sets them). */
    logger?: Logger;
    requestId?: string;
  }
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toApiError(err);
  if (e.status >= 500 && e.code === 'internal_error') {
    if (res.locals.logger) res.locals.logger.error({ err, requestId: res.locals.requestId }, `${req.method} ${req.originalUrl} failed`);
    else console.error(`${req.method} ${req.originalUrl} failed:`, err);
  }
  if (res.headersSent) return;
  res.status(e.status).set(e.headers).json({ error: { type: e.type, code: e.code, message: e.message, param: e.param ?? null } });
};

/** How long a client should wait before it retries when a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;
const unavailable = (code: string, message: string) =>
  new ApiError(503, 'service_unavailable_error', code, message).withHeaders({ 'Retry-After': String(RETRY_AFTER_SECONDS) });

/** Refusals whose code means a conflict with what exists (409) rather than a request the rules refuse (422). */
const CONFLICTS = new Set(['already_a_seller', 'order_closed', 'paid_with_seller_credits', 'payouts_outstanding', 'already_retried', 'last_api_key',
  'api_key_revoked', 'api_key_rolled', 'order_awaiting_customer', 'too_many_open_confirmations']);

/** The error type of a refusal of a device or a gateway webhook, by its status. */
const REFUSAL_TYPES: Record<number, ErrorType> = {
  401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 409: 'conflict_error', 410: 'conflict_error', 422: 'unprocessable_error',
};

/** Refusals of checkout sessions and carts that are about their state, not the request's shape (the hosted pages' too). */
export const CHECKOUT_CONFLICTS: ReadonlySet<string> = new Set(['session_expired', 'session_closed', 'attempts_exhausted', 'cart_not_active', 'cart_changed', 'price_changed', 'total_changed']);
/** A dispute's refusals that are about its state (409); the rest are about the request (422). */
const DISPUTE_CONFLICTS: ReadonlySet<string> = new Set(['dispute_not_open', 'evidence_past_due']);
/** A hold's refusals that are about its state (409); the rest are about the request (422). */
export const HOLD_CONFLICTS: ReadonlySet<string> = new Set(['hold_not_active', 'over_capture', 'too_many_captures', 'reservation_ended']);

/** Refusals of bid rounds, purchases and quotes that are about the round's state, not the request's shape. */
const BID_CONFLICTS: ReadonlySet<string> = new Set(['round_closed', 'too_many_bids', 'bid_replaced', 'too_many_bidders', 'quote_expired', 'quote_not_ready', 'no_quote', 'round_ended']);

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof WebhookRefused || err instanceof AuthenticationRefused) {
    return new ApiError(err.status, REFUSAL_TYPES[err.status] ?? 'invalid_request_error', err.code, err.message);
  }
  if (err instanceof BidRoundError || err instanceof BidRefusal) {
    const param = err.param;
    if (err.code === 'idempotency_key_reused') return new ApiError(422, 'idempotency_error', err.code, err.message, param);
    if (err.code === 'round_not_found') return notFound('bid round');
    if (err.code === 'item_class_not_found') return notFound('item class');
    return BID_CONFLICTS.has(err.code) ? conflict(err.code, err.message, param) : unprocessable(err.code, err.message, param);
  }
  if (err instanceof StoreRefusal || err instanceof PricingError || err instanceof SettlementError || err instanceof DeliveryError) {
    const param = 'param' in err ? err.param : undefined;
    if (err instanceof SettlementError && err.code === 'period_not_frozen') return conflict(err.code, err.message, param);
    return CONFLICTS.has(err.code) ? conflict(err.code, err.message, param) : unprocessable(err.code, err.message, param);
  }
  if (err instanceof OrderError) {
    if (err.code === 'client_order_id_reused') return new ApiError(422, 'idempotency_error', err.code, err.message, err.param);
    if (err.code === 'order_unavailable') return unavailable(err.code, err.message);
    if (err.code === 'unknown_merchant') return notFound('merchant');
    return CONFLICTS.has(err.code) ? conflict(err.code, err.message, err.param) : unprocessable(err.code, err.message, err.param);
  }
  if (err instanceof CheckoutError || err instanceof CartError) {
    if (err.code === 'idempotency_key_reused') return new ApiError(422, 'idempotency_error', err.code, err.message, err.param);
    if (err.code === 'unknown_merchant') return notFound('merchant');
    return CHECKOUT_CONFLICTS.has(err.code) ? conflict(err.code, err.message, err.param) : unprocessable(err.code, err.message, err.param);
  }
  if (err instanceof FederationRefused) {
    if (err.status === 503) return unavailable(err.code, err.message);
    return new ApiError(err.status, REFUSAL_TYPES[err.status] ?? 'invalid_request_error', err.code, err.message, err.param);
  }
  if (err instanceof IssuerRefused) {
    if (err.status === 503) return unavailable(err.code, err.message);
    return new ApiError(err.status, REFUSAL_TYPES[err.status] ?? 'invalid_request_error', err.code, err.message, err.param);
  }
  if (err instanceof DisputeRefused) {
    return DISPUTE_CONFLICTS.has(err.code) ? conflict(err.code, err.message, err.param) : unprocessable(err.code, err.message, err.param);
  }
  if (err instanceof HoldRefused) {
    if (err.code === 'idempotency_key_reused') return new ApiError(422, 'idempotency_error', err.code, err.message, err.param);
    if (err.code === 'unknown_merchant') return notFound('merchant');
    return HOLD_CONFLICTS.has(err.code) ? conflict(err.code, err.message, err.param) : unprocessable(err.code, err.message, err.param);
  }
  if (err instanceof TemporalUnavailable) {
    return unavailable('temporal_unavailable', 'The workflow service cannot be reached right now; an order accepted before it went goes on when it is back. Retry the request');
  }
  if (isDatabaseUnavailable(err)) return unavailable('database_unavailable', 'The database cannot be reached right now; retry the request (with the same Idempotency-Key, if it had one)');
  if (err instanceof TermsChanging) return unavailable('terms_changing', err.message);
  if (err instanceof LedgerError) {
    const status = err.code === 'idempotency_conflict' || err.code === 'account_conflict' ? 409 : 422;
    return new ApiError(status, status === 409 ? 'conflict_error' : 'unprocessable_error', `ledger_${err.code}`, err.message);
  }
  const e = err as { type?: string; status?: number; message?: string };
  // the router's: a path parameter that is not valid percent-encoded UTF-8 ('/orders/%E0%A4%A')
  if (err instanceof URIError && e.status === 400) return badRequest('parameter_invalid', 'A path parameter is not valid percent-encoded UTF-8');
  // body-parser's errors
  if (e.type === 'entity.too.large') return new ApiError(413, 'invalid_request_error', 'body_too_large', 'The request body is too large');
  if (e.type === 'entity.parse.failed') return badRequest('invalid_json', 'The request body is not valid JSON');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
    return new ApiError(415, 'invalid_request_error', 'unsupported_encoding', e.message ?? 'Unsupported encoding');
  }
  return new ApiError(500, 'api_error', 'internal_error', 'An internal error occurred');
}
