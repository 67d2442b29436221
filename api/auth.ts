// Bearer API keys → principals, and the per-object rule: a principal sees only its own objects; operators see all.
import type { RequestHandler } from 'express';
import type { Db } from '../ledger/db';
import { ApiError, forbidden, notFound } from './errors';
import { principalForKey, type Principal, type PrincipalKind } from './principals';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
  }
}

export function authenticate(db: Db): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) {
      throw new ApiError(401, 'authentication_error', 'missing_api_key', 'Send your API key as "Authorization: Bearer <key>"');
    }
    const m = /^Bearer (\S+)$/.exec(header);
    const principal = m ? await principalForKey(db, m[1]) : undefined;
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

/** Only these kinds of principal may call the route. */
export function allow(...kinds: PrincipalKind[]): RequestHandler {
  return (_req, res, next) => {
    if (!kinds.includes(principalOf(res).kind)) throw forbidden(`This route is for ${kinds.join(' or ')} API keys`);
    next();
  };
}

/**
 * The object (owned by ownerId; undefined when it does not exist) may be shown to this principal. Others get
 * 404, not 403, so ids of other merchants' objects cannot be probed.
 */
export function assertCanSee(principal: Principal, ownerId: string | undefined, what: string): asserts ownerId is string {
  if (ownerId === undefined) throw notFound(what);
  if (principal.kind !== 'operator' && ownerId !== principal.id) throw notFound(what);
}

