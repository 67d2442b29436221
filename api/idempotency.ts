// Idempotency-Key for creating POSTs. The first request with a key runs and its response (status < 500) is
// stored before it is sent; a repeat with the same body gets the stored response (Idempotent-Replayed: true);
// a repeat with a different body is refused (422); a repeat while the first is still running is refused (409).
// A 5xx releases the key so the client can retry (stores/idempotency.ts keeps the keys).
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { canonical } from '../domain/canonical';
import type { IdempotencyStore } from '../stores/idempotency';
import { principalOf } from './auth';
import { ApiError, badRequest, RETRY_AFTER_SECONDS } from './errors';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

declare module 'express-serve-static-core' {
  interface Locals {
    /** Top-level response fields never written to the idempotency store or the audit log (secrets shown once). */
    redactFields?: string[];
  }
}

/** The Idempotency-Key header, checked: undefined when absent. */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw badRequest('idempotency_key_invalid', `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters`, 'Idempotency-Key');
  }
  return header;
}

export function idempotent(store: IdempotencyStore): RequestHandler {
  return async (req, res, next) => {
    const key = idempotencyKeyOf(req.get('idempotency-key'));
    if (key === undefined) throw badRequest('idempotency_key_missing', 'Send an Idempotency-Key header with every creating POST', 'Idempotency-Key');
    const principalId = principalOf(res).id;
    const sha256 = createHash('sha256').update(`${req.method} ${req.path}\n${canonical(req.body ?? null)}`).digest();
    const claim = await store.claim(principalId, key, { method: req.method, path: req.path, sha256 });
    if (claim.kind === 'reused') {
      throw new ApiError(422, 'idempotency_error', 'idempotency_key_reused',
        'This Idempotency-Key was used with a different request; use a new key for a new request', 'Idempotency-Key');
    }
    if (claim.kind === 'in_progress') {
      throw new ApiError(409, 'idempotency_error', 'idempotency_request_in_progress',
        'A request with this Idempotency-Key is still being processed; retry shortly', 'Idempotency-Key');
    }
    if (claim.kind === 'replay') {
      res.set('Idempotent-Replayed', 'true').status(claim.status).json(claim.body);
      return;
    }

    const send = res.json.bind(res);
    res.json = ((body: unknown) => {
      const status = res.statusCode;
      const done = status >= 500 ? store.release(principalId, key) : store.complete(principalId, key, status, redact(body, res.locals.redactFields));
      done.then(() => send(body), (err: unknown) => {
        console.error('storing an idempotent response failed:', err);
        res.status(503).set('Retry-After', String(RETRY_AFTER_SECONDS));
        send({ error: { type: 'service_unavailable_error', code: 'idempotency_store_unavailable',
          message: 'The request may have taken effect; retry with the same Idempotency-Key', param: null } });
      });
      return res;
    }) as typeof res.json;
    next();
  };
}

export function redact(body: unknown, fields: string[] | undefined): unknown {
  if (!fields?.length || !body || typeof body !== 'object') return body;
  const copy = { ...(body as Record<string, unknown>) };
  for (const f of fields) if (f in copy) copy[f] = null;
  return copy;
}
