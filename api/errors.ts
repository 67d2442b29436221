// The one error shape of the API: { error: { type, code, message, param } } with one status per code.
import type { ErrorRequestHandler, RequestHandler } from 'express';
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
  // body-parser's errors
  if (e.type === 'entity.too.large') return new ApiError(413, 'invalid_request_error', 'body_too_large', 'The request body is too large');
  if (e.type === 'entity.parse.failed') return badRequest('invalid_json', 'The request body is not valid JSON');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
    return new ApiError(415, 'invalid_request_error', 'unsupported_encoding', e.message ?? 'Unsupported encoding');
  }
  return new ApiError(500, 'api_error', 'internal_error', 'An internal error occurred');
}
