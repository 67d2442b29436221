// Telling PostgreSQL being away from a statement being wrong, for callers that answer "try again" (the API's 503)
// without holding a connection themselves.

// SQLSTATEs of a server that is shutting down, starting, or gone, and the socket errors of one that is not there
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Timeout acquiring a connection/;

/** The error says PostgreSQL could not be reached (or stopped answering), not that a statement was wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { code?: string; name?: string; message?: string };
    if (x.name === 'KnexTimeoutError') return true;
    if (typeof x.code === 'string' && (UNAVAILABLE_SQLSTATES.has(x.code) || UNAVAILABLE_SOCKET_CODES.has(x.code))) return true;
    if (typeof x.message === 'string' && UNAVAILABLE_MESSAGES.test(x.message)) return true;
  }
  return false;
}
