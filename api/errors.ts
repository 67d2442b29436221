// The one error shape of the API: { error: { type, code, message, param } } with one status per code.
import type { ErrorRequestHandler, RequestHandler, Router } from 'express';
import { LedgerError } from '../ledger/ledger';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' |
  'idempotency_error' | 'conflict_error' | 'unprocessable_error' | 'service_unavailable_error' | 'api_error';

export class ApiError extends Error {
  constructor(readonly status: number, readonly type: ErrorType, readonly code: string, message: string,
    readonly param?: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string, param?: string) =>
  new ApiError(400, 'invalid_request_error', code, message, param);
export const notFound = (what: string) => new ApiError(404, 'not_found_error', 'resource_missing', `No such ${what}`);
export const forbidden = (message = 'This API key may not do that') =>
  new ApiError(403, 'permission_error', 'forbidden', message);

export const notFoundRoute: RequestHandler = (req) => {
  throw new ApiError(404, 'not_found_error', 'route_not_found', `No route ${req.method} ${req.path}`);
};

/** What this module reads of an express router and its layers (express keeps them on router.stack). */
interface RouterLike { stack: LayerLike[] }
interface LayerLike {
  route?: { methods: Record<string, boolean | undefined> };
  handle: unknown;
  /** The part of the path the layer matches (all of it for a route, a prefix for a mounted router), or false. */
  match(path: string): false | { path: string };
}
const isRouter = (h: unknown): h is RouterLike => typeof h === 'function' && Array.isArray((h as Partial<RouterLike>).stack);

/** The methods the router's routes (its mounted routers' included) serve at this path; HEAD wherever GET is. */
export function allowedMethods(router: RouterLike, path: string): Set<string> {
  const methods = new Set<string>();
  for (const layer of router.stack) {
    let m: ReturnType<LayerLike['match']>;
    try {
      m = layer.match(path);
    } catch {
      continue; // a malformed %-escape in a parameter: this layer does not serve the path
    }
    if (!m) continue;
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
    } else if (isRouter(layer.handle)) {
      const rest = path.slice(m.path.length);
      if (rest === '' || rest.startsWith('/')) for (const method of allowedMethods(layer.handle, rest || '/')) methods.add(method);
    }
  }
  if (methods.has('GET')) methods.add('HEAD');
  return methods;
}

/**
 * Last in a router: a request no route took, at a path some route serves with other methods, is answered 405
 * method_not_allowed with those methods in Allow (RFC 9110). Other paths go on to 404 route_not_found.
 */
export function methodNotAllowed(router: Router): RequestHandler {
  return (req, res, next) => {
    const allowed = [...allowedMethods(router as unknown as RouterLike, req.path)].sort();
    if (allowed.length === 0) return next();
    res.set('Allow', allowed.join(', '));
    throw new ApiError(405, 'invalid_request_error', 'method_not_allowed',
      `${req.method} is not allowed on ${req.baseUrl}${req.path}; allowed: ${allowed.join(', ')}`);
  };
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toApiError(err);
  if (e.status >= 500 && e.code === 'internal_error') console.error(`${req.method} ${req.originalUrl} failed:`, err);
  if (res.headersSent) return;
  res.status(e.status).json({ error: { type: e.type, code: e.code, message: e.message, param: e.param ?? null } });
};

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
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
