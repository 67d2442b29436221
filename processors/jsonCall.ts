// One JSON call to an outside system's HTTP API, with the failure mapping every client of ours uses: no answer
// (network error, connection refused or closed, timeout), a 5xx or an unreadable success → the system's "unavailable"
// error (the call may have taken effect: retry with the same idempotency key); a 4xx → its "rejected" error with the
// answer's code. The processor's client and the messaging gateway's both call through here.

export type Json = Record<string, unknown>;

export interface CallFailures {
  unavailable: (message: string) => Error;
  rejected: (code: string, message: string, status: number) => Error;
}

export interface JsonRequest {
  method: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
}

/** Why a call had no answer: 'timed out', or the network error's code. */
export function describeFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** The { error: { code, message } } of an answer, if it has one. */
export function errorOf(body: unknown): { code: string; message: string } | undefined {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (!e || typeof e.code !== 'string') return undefined;
  return { code: e.code, message: typeof e.message === 'string' ? e.message : e.code };
}

/** Calls url (what names the call in errors) and answers the JSON object it returned, or throws as failures say. */
export async function callJson(what: string, url: string, req: JsonRequest, failures: CallFailures): Promise<Json> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method: req.method, headers, body: req.body === undefined ? undefined : JSON.stringify(req.body), signal: AbortSignal.timeout(req.timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw failures.unavailable(`${what}: no response (${describeFailure(err)})`);
  }
  return answerOf(what, status, text, failures);
}

/**
 * An answer's JSON object mapped as every client of ours maps it (a 5xx: unavailable; a 4xx: rejected with its code;
 * a 2xx whose body is no JSON object: unavailable, since the call may have taken effect).
 */
export function answerOf(what: string, status: number, text: string, failures: CallFailures): Json {
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (status >= 500) {
    const e = errorOf(parsed);
    throw failures.unavailable(`${what}: ${status}${e ? ` ${e.code}: ${e.message}` : ''}`);
  }
  if (status >= 400) {
    const e = errorOf(parsed) ?? { code: `http_${status}`, message: text.slice(0, 200) || `HTTP ${status}` };
    throw failures.rejected(e.code, `${what}: ${e.message}`, status);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    // (the call may have taken effect: retrying with the same key returns its result)
    throw failures.unavailable(`${what}: ${status} with an unreadable body`);
  }
  return parsed as Json;
}
