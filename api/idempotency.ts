// Idempotency-Key for creating POSTs. The first request with a key runs and its response (status < 500) is
// stored before it is sent; a repeat with the same body gets the stored response (Idempotent-Replayed: true);
// a repeat with a different body is refused (422); a repeat while the first is still running is refused (409).
// A 5xx releases the key so the client can retry. A key left running by a crashed process is taken over
// after IDEMPOTENCY_LOCK_TIMEOUT_SECONDS.
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Db } from '../ledger/db';
import { principalOf } from './auth';
import { ApiError, badRequest } from './errors';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const IDEMPOTENCY_LOCK_TIMEOUT_SECONDS = 60;

declare module 'express-serve-static-core' {
  interface Locals {
    /** Top-level response fields never written to the idempotency store (secrets shown once). */
    idempotencyRedact?: string[];
  }
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function idempotent(db: Db): RequestHandler {
  return async (req, res, next) => {
    const key = req.get('idempotency-key');
    if (key === undefined) throw badRequest('idempotency_key_missing', 'Send an Idempotency-Key header with every creating POST', 'Idempotency-Key');
    if (key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
      throw badRequest('idempotency_key_invalid', `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters`, 'Idempotency-Key');
    }
    const principalId = principalOf(res).id;
    const requestHash = createHash('sha256').update(`${req.method} ${req.path}\n${canonical(req.body ?? null)}`).digest();
    const fresh = await db('idempotency_keys')
      .insert({ principal_id: principalId, key, method: req.method, path: req.path, request_sha256: requestHash })
      .onConflict(['principal_id', 'key']).ignore().returning('key');
    if (fresh.length === 0) {
      const row = await db('idempotency_keys').where({ principal_id: principalId, key }).first();
      if (!row.request_sha256.equals(requestHash)) {
        throw new ApiError(422, 'idempotency_error', 'idempotency_key_reused',
          'This Idempotency-Key was used with a different request; use a new key for a new request', 'Idempotency-Key');
      }
      if (row.response_status === null) {
        const takenOver = await db('idempotency_keys')
          .where({ principal_id: principalId, key }).whereNull('response_status')
          .where('created_at', '<', db.raw(`now() - interval '${IDEMPOTENCY_LOCK_TIMEOUT_SECONDS} seconds'`))
          .update({ created_at: db.fn.now() }).returning('key');
        if (takenOver.length === 0) {
          throw new ApiError(409, 'idempotency_error', 'idempotency_request_in_progress',
            'A request with this Idempotency-Key is still being processed; retry shortly', 'Idempotency-Key');
        }
      } else {
        res.set('Idempotent-Replayed', 'true').status(row.response_status).json(row.response_body);
        return;
      }
    }

    const send = res.json.bind(res);
    res.json = ((body: unknown) => {
      const status = res.statusCode;
      const done = status >= 500
        ? db('idempotency_keys').where({ principal_id: principalId, key }).del()
        : db('idempotency_keys').where({ principal_id: principalId, key })
          .update({ response_status: status, response_body: JSON.stringify(redact(body, res.locals.idempotencyRedact)), completed_at: db.fn.now() });
      done.then(() => send(body), (err: unknown) => {
        console.error('storing an idempotent response failed:', err);
        res.status(503);
        send({ error: { type: 'service_unavailable_error', code: 'idempotency_store_unavailable',
          message: 'The request may have taken effect; retry with the same Idempotency-Key', param: null } });
      });
      return res;
    }) as typeof res.json;
    next();
  };
}

function redact(body: unknown, fields: string[] | undefined): unknown {
  if (!fields?.length || !body || typeof body !== 'object') return body;
  const copy = { ...(body as Record<string, unknown>) };
  for (const f of fields) if (f in copy) copy[f] = null;
  return copy;
}
