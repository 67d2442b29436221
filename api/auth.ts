// Bearer API keys → principals, and the per-object rule: a principal sees only its own objects; operators see all.
import type { RequestHandler } from 'express';
import type { Principal, PrincipalStore } from '../stores/principals';
import { ApiError, notFound } from './errors';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
  }
}

export function authenticate(principals: PrincipalStore): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) {
      throw new ApiError(401, 'authentication_error', 'missing_api_key', 'Send your API key as "Authorization: Bearer <key>"');
    }
    const m = /^Bearer (\S+)$/.exec(header);
    const principal = m ? await principals.forKey(m[1]) : undefined;
    if (!principal) throw new ApiError(401, 'authentication_error', 'invalid_api_key', 'The API key is invalid or revoked');
    res.locals.principal = principal;
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
