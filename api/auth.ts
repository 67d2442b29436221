// Bearer API keys → principals, each key's rate limit and mode, and the per-object rule: a principal sees only its
// own objects; operators see all.
import type { RequestHandler } from 'express';
import type { KeyMode, Principal, PrincipalStore } from '../stores/principals';
import { ApiError, notFound } from './errors';
import type { TokenBuckets } from './rateLimit';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
    /** The request's API key. */
    apiKey?: { id: string; mode: KeyMode };
  }
}

/** What a read-only key may do. */
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Finds the key's principal; takes a token from the key's bucket (429 rate_limited when it is empty; every answer
 * carries RateLimit-Limit, -Remaining and -Reset); refuses a read-only key anything but GET and HEAD.
 */
export function authenticate(principals: PrincipalStore, buckets: TokenBuckets): RequestHandler {
  const limit = String(Math.floor(buckets.limit.burst));
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) {
      throw new ApiError(401, 'authentication_error', 'missing_api_key', 'Send your API key as "Authorization: Bearer <key>"');
    }
    const m = /^Bearer (\S+)$/.exec(header);
    const holder = m ? await principals.forKey(m[1]) : undefined;
    if (!holder) throw new ApiError(401, 'authentication_error', 'invalid_api_key', 'The API key is invalid, revoked or expired');
    res.locals.principal = holder.principal;
    res.locals.apiKey = { id: holder.keyId, mode: holder.mode };
    const t = buckets.take(holder.keyId);
    res.setHeader('RateLimit-Limit', limit);
    res.setHeader('RateLimit-Remaining', String(t.remaining));
    res.setHeader('RateLimit-Reset', String(t.resetSeconds));
    if (!t.ok) {
      throw new ApiError(429, 'rate_limit_error', 'rate_limited', `Too many requests with this API key; retry in ${t.retryAfterSeconds} s`)
        .withHeaders({ 'Retry-After': String(t.retryAfterSeconds) });
    }
    if (holder.mode === 'read_only' && !READ_METHODS.has(req.method)) {
      throw new ApiError(403, 'permission_error', 'api_key_read_only', `This API key is read-only: it may only GET, not ${req.method}`);
    }
    next();
  };
}

export function principalOf(res: { locals: { principal?: Principal } }): Principal {
  const p = res.locals.principal;
  if (!p) throw new Error('route reached without authentication');
  return p;
}

/**
 * The object (owned by ownerId; undefined when it does not exist) may be shown to this principal. Others get
 * 404, not 403, so ids of other merchants' objects cannot be probed.
 */
export function assertCanSee(principal: Principal, ownerId: string | null | undefined, what: string): asserts ownerId is string {
  if (ownerId === undefined || ownerId === null) throw notFound(what);
  if (principal.kind !== 'operator' && ownerId !== principal.id) throw notFound(what);
}
