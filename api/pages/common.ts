// What the hosted pages' routes share: bounded reading of form and JSON input, the same-origin check on every POST,
// the customer cookie, and one mapping of failures to answers (JSON for the pages' fetches, an HTML page for forms).
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { CartError } from '../../domain/cart';
import { CheckoutError } from '../../domain/checkout';
import type { Address } from '../../domain/order';
import { PricingError } from '../../domain/pricing';
import { TemporalUnavailable } from '../../services/temporal';
import { isDatabaseUnavailable } from '../../stores';
import { CHECKOUT_CONFLICTS } from '../errors';
import { errorPage, html } from './html';

/** Largest form or JSON body a page posts. */
export const MAX_PAGE_BODY_BYTES = 16 * 1024;
/** How long a client should wait before it retries when a dependency is down. */
export const PAGE_RETRY_AFTER_SECONDS = 5;

export const formBody = express.urlencoded({ extended: false, limit: MAX_PAGE_BODY_BYTES, parameterLimit: 50 });
export const jsonPageBody = express.json({ limit: MAX_PAGE_BODY_BYTES, strict: true });

/** A refusal of the customer's input: its status and code, shown as JSON to fetches and as a page to forms. */
export class PageError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly param?: string,
    readonly extra: Record<string, unknown> = {}, readonly link?: { href: string; text: string }) {
    super(message);
    this.name = 'PageError';
  }
}

export const bad = (code: string, message: string, param?: string) => new PageError(400, code, message, param);

// --- input -----------------------------------------------------------------------------------------------------

/** Half of a UTF-16 pair alone (JSON can carry one; PostgreSQL cannot store it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function text(v: unknown, param: string, max: number, o: { required?: boolean; pattern?: RegExp } = {}): string | undefined {
  if (v === undefined || v === null || v === '') {
    if (o.required) throw bad('parameter_missing', `${param} is required`, param);
    return undefined;
  }
  if (typeof v !== 'string') throw bad('parameter_invalid', `${param} must be a string`, param);
  const s = v.trim();
  if (s.length > max) throw bad('parameter_invalid', `${param} is at most ${max} characters`, param);
  // (nothing PostgreSQL or a page cannot hold: NUL and other control characters)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(s) || LONE_SURROGATE.test(s)) throw bad('parameter_invalid', `${param} has characters that are not allowed`, param);
  if (s === '' && o.required) throw bad('parameter_missing', `${param} is required`, param);
  if (o.pattern && s !== '' && !o.pattern.test(s)) throw bad('parameter_invalid', `${param} is not valid`, param);
  return s === '' ? undefined : s;
}

export function integer(v: unknown, param: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^\s*-?\d{1,12}\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw bad('parameter_invalid', `${param} must be a whole number from ${min} to ${max}`, param);
  }
  return n;
}

export const COUNTRY = /^[A-Z]{2}$/;

/** An address as the page's form sends it; partial: only the country is needed (for a quote's tax). */
export function addressOf(v: unknown, param: string, partial: boolean): Address | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('parameter_invalid', `${param} must be an object`, param);
  const a = v as Record<string, unknown>;
  const req = !partial;
  const country = text(typeof a.country === 'string' ? a.country.toUpperCase() : a.country, `${param}.country`, 2, { required: true, pattern: COUNTRY })!;
  return {
    name: text(a.name, `${param}.name`, 200, { required: req }),
    line1: text(a.line1, `${param}.line1`, 200, { required: req }) ?? '',
    line2: text(a.line2, `${param}.line2`, 200),
    city: text(a.city, `${param}.city`, 100, { required: req }) ?? '',
    region: text(a.region, `${param}.region`, 100),
    postalCode: text(a.postalCode, `${param}.postalCode`, 20, { required: req }) ?? '',
    country,
  };
}

export function object(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('invalid_body', 'The request body must be a JSON object');
  return v as Record<string, unknown>;
}

// --- same origin, cookies --------------------------------------------------------------------------------------

/**
 * Every POST of a page comes from the page: an Origin header, when the browser sends one, must be this site's
 * (the configured public origin, or the origin the request was addressed to). Else 403.
 */
export function sameOrigin(publicOrigin: string): RequestHandler {
  return (req, _res, next) => {
    if (req.method !== 'POST') return next();
    const origin = req.get('origin');
    if (origin === undefined) return next();
    const own = `${req.protocol}://${req.get('host') ?? ''}`;
    if (origin === publicOrigin || origin === own) return next();
    next(new PageError(403, 'cross_origin', 'This form can only be sent from its own page'));
  };
}

export const CUSTOMER_COOKIE = 'pb_customer';
const CUSTOMER_VALUE = /^[A-Za-z0-9_-]{16,64}$/;

export function cookie(req: Request, name: string): string | undefined {
  const header = req.get('cookie');
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The customer's secret from the cookie (undefined: none, or not one of ours). */
export function customerOf(req: Request): string | undefined {
  const v = cookie(req, CUSTOMER_COOKIE);
  return v && CUSTOMER_VALUE.test(v) ? v : undefined;
}

/** The customer's secret, a new one (and its cookie) when the browser has none. */
export function ensureCustomer(req: Request, res: Response, make: () => string): string {
  const known = customerOf(req);
  if (known) return known;
  const made = make();
  const secure = req.secure ? '; Secure' : '';
  res.append('Set-Cookie', `${CUSTOMER_COOKIE}=${made}; Path=/carts; HttpOnly; SameSite=Lax; Max-Age=${30 * 86400}${secure}`);
  return made;
}

// --- failures --------------------------------------------------------------------------------------------------

function pageErrorOf(err: unknown): PageError {
  if (err instanceof PageError) return err;
  if (err instanceof CheckoutError || err instanceof CartError || err instanceof PricingError) {
    if (err.code === 'session_expired' || err.code === 'session_closed' || err.code === 'offer_expired') return new PageError(410, err.code, err.message, err.param);
    if (err.code === 'offer_invalid') return new PageError(400, err.code, err.message, err.param);
    if (err.code === 'unknown_merchant') return new PageError(404, err.code, err.message, err.param);
    return new PageError(CHECKOUT_CONFLICTS.has(err.code) ? 409 : 422, err.code, err.message, err.param);
  }
  if (err instanceof TemporalUnavailable || isDatabaseUnavailable(err)) {
    return new PageError(503, 'service_unavailable', 'We cannot take this right now. Nothing was charged; try again in a few seconds.');
  }
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.too.large') return new PageError(413, 'body_too_large', 'What was sent is too large');
  if (e.type === 'entity.parse.failed') return bad('invalid_json', 'The request body is not valid JSON');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported' || e.type === 'parameters.too.many') {
    return bad('invalid_body', 'The request body cannot be read');
  }
  if (err instanceof URIError && e.status === 400) return bad('parameter_invalid', 'The address of this page is not valid');
  return new PageError(500, 'internal_error', 'Something went wrong on our side. Nothing was charged twice; try again.');
}

/** A fetch of the pages' script (JSON in, JSON out), rather than a form or a link. */
export const wantsJson = (req: Request) => req.is('application/json') === 'application/json' || /\.json$|\/(quote|pay|status|purchase)$/.test(req.path);

export function pageErrorHandler(): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = pageErrorOf(err);
    if (e.status >= 500 && e.code === 'internal_error') {
      if (res.locals.logger) res.locals.logger.error({ err, requestId: res.locals.requestId }, `${req.method} ${req.originalUrl} failed`);
      else console.error(`${req.method} ${req.originalUrl} failed:`, err);
    }
    if (res.headersSent) return;
    const headers: Record<string, string> = e.status === 503 ? { 'Retry-After': String(PAGE_RETRY_AFTER_SECONDS) } : {};
    if (wantsJson(req)) {
      res.status(e.status).set(headers).set('Cache-Control', 'no-store')
        .json({ error: { type: 'invalid_request_error', code: e.code, message: e.message, param: e.param ?? null }, ...e.extra });
      return;
    }
    const titles: Record<number, string> = { 403: 'Not allowed', 404: 'Not found', 409: 'Cannot do that now', 410: 'No longer available',
      413: 'Too large', 429: 'Too many requests', 503: 'Try again shortly' };
    errorPage(res, e.status, titles[e.status] ?? (e.status >= 500 ? 'Something went wrong' : 'Please check what you entered'), e.message,
      e.link, headers);
  };
}

/** Runs an async handler, passing its failure on to the error handler (express 4 does not). */
export const run = (fn: (req: Request, res: Response) => Promise<void>): RequestHandler => (req, res, next) => {
  fn(req, res).catch(next);
};

/** Only http(s) links are shown as links (a merchant's URL of another scheme becomes '#'). */
export function safeUrl(u: string | null | undefined): string {
  if (!u) return '#';
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '#';
  } catch {
    return '#';
  }
}

export { html };
