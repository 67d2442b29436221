// Signed webhooks of the outside systems we simulate (the messaging gateway's receipts and replies, the card
// processor's disputes and reservations), one scheme with each system's own header names. Every delivery carries:
//   <prefix>-webhook-id         the event id, the same on every retry: a receiver refuses one it has seen (replay);
//   <prefix>-webhook-timestamp  integer seconds since the epoch when this attempt was signed;
//   <prefix>-webhook-signature  `v1=<hex HMAC-SHA256(secret, "<timestamp>.<id>.<body>")>`.
// A receiver verifies the raw body exactly as it arrived, which refuses a forged, stale (outside the tolerance,
// default 5 minutes, either way) or replayed delivery, and only then records the id as seen.
// processors/messaging/signature.ts keeps the gateway's names over this; the processor's are below.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The three header names of a system's webhooks. */
export interface WebhookHeaderNames {
  id: string;
  timestamp: string;
  signature: string;
}

/** Accepted clock difference between the sender and the receiver, either way. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
/** Longest webhook id a receiver accepts (ours are about 30 characters). */
export const MAX_WEBHOOK_ID_LENGTH = 128;

export type WebhookSignatureErrorCode = 'missing_header' | 'invalid_timestamp' | 'stale' | 'invalid_signature' | 'replayed';

/** The ids a receiver has accepted (a Set works; a receiver with many processes backs it with its database). */
export interface SeenIds {
  has(id: string): boolean;
  add(id: string): unknown;
}

export type Headers = Record<string, string | string[] | undefined>;

export interface VerifiedWebhook {
  id: string;
  timestampSeconds: number;
  payload: unknown;
}

const signatureOf = (secret: string, timestampSeconds: number, id: string, body: string): string =>
  createHmac('sha256', secret).update(`${timestampSeconds}.${id}.${body}`).digest('hex');

/** One system's scheme: its header names, and the error it throws when a delivery does not verify. */
export interface WebhookScheme {
  readonly headers: WebhookHeaderNames;
  /** The headers of one delivery attempt of webhook `id` with this exact body. */
  sign(secret: string, id: string, body: string, nowMs: number): Record<string, string>;
  /**
   * Verifies one delivery: the signature over the raw body, the timestamp within toleranceSeconds of nowMs, and an id
   * not in `seen`; then adds the id to `seen` and returns the parsed payload. Throws the scheme's error otherwise (the
   * id is not recorded, so a genuine retry of a refused delivery can still land).
   */
  verify(secret: string, headers: Headers, rawBody: string | Buffer, nowMs: number, seen: SeenIds, toleranceSeconds?: number): VerifiedWebhook;
}

export function webhookScheme(names: WebhookHeaderNames,
  error: (code: WebhookSignatureErrorCode, message: string) => Error): WebhookScheme {
  const header = (headers: Headers, name: string): string => {
    const direct = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
    const v = Array.isArray(direct) ? direct[0] : direct;
    if (v === undefined || v === '') throw error('missing_header', `missing header ${name}`);
    return v;
  };
  return {
    headers: names,
    sign(secret, id, body, nowMs) {
      if (secret.length === 0) throw new RangeError('the webhook secret must not be empty');
      const timestampSeconds = Math.floor(nowMs / 1000);
      return {
        [names.id]: id,
        [names.timestamp]: String(timestampSeconds),
        [names.signature]: `v1=${signatureOf(secret, timestampSeconds, id, body)}`,
      };
    },
    verify(secret, headers, rawBody, nowMs, seen, toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS) {
      const id = header(headers, names.id);
      const ts = header(headers, names.timestamp);
      const sig = header(headers, names.signature);
      if (id.length > MAX_WEBHOOK_ID_LENGTH) throw error('invalid_signature', 'webhook id too long');
      if (!/^\d{1,12}$/.test(ts)) throw error('invalid_timestamp', 'the timestamp is not integer seconds');
      const timestampSeconds = Number(ts);
      if (Math.abs(nowMs / 1000 - timestampSeconds) > toleranceSeconds) {
        throw error('stale', `the timestamp is more than ${toleranceSeconds} s from now`);
      }
      const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
      const expected = Buffer.from(signatureOf(secret, timestampSeconds, id, body), 'hex');
      const m = /^v1=([0-9a-f]{64})$/.exec(sig);
      if (!m || !timingSafeEqual(Buffer.from(m[1], 'hex'), expected)) throw error('invalid_signature', 'the signature does not match');
      if (seen.has(id)) throw error('replayed', `webhook ${id} was already received`);
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        throw error('invalid_signature', 'the signed body is not JSON');
      }
      seen.add(id);
      return { id, timestampSeconds, payload };
    },
  };
}

// ---- the card processor's webhooks (processors/simulator: dispute.created, dispute.closed, reservation.expired) ----

export const PROCESSOR_WEBHOOK_HEADERS = {
  id: 'processor-webhook-id',
  timestamp: 'processor-webhook-timestamp',
  signature: 'processor-webhook-signature',
} as const;

export class ProcessorWebhookError extends Error {
  constructor(readonly code: WebhookSignatureErrorCode, message: string) {
    super(message);
    this.name = 'ProcessorWebhookError';
  }
}

const processorScheme = webhookScheme(PROCESSOR_WEBHOOK_HEADERS, (code, message) => new ProcessorWebhookError(code, message));

/** The headers of one delivery attempt of the processor's webhook `id` with this exact body. */
export function signProcessorWebhook(secret: string, id: string, body: string, nowMs: number): Record<string, string> {
  return processorScheme.sign(secret, id, body, nowMs);
}

/**
 * Verifies one delivery of the processor's webhooks (see webhookScheme's verify); the payload is a
 * ProcessorWebhookEvent (processors/client.ts). Throws ProcessorWebhookError.
 */
export function verifyProcessorWebhook(secret: string, headers: Headers, rawBody: string | Buffer, nowMs: number, seen: SeenIds,
  toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS): VerifiedWebhook {
  return processorScheme.verify(secret, headers, rawBody, nowMs, seen, toleranceSeconds);
}

/**
 * Posts one signed delivery (a simulator's pump): null when the receiver took it (2xx), else why not (its status, a
 * timeout, the connection's error code).
 */
export async function postSigned(url: string, body: string, signed: Record<string, string>, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs), headers: { 'content-type': 'application/json', ...signed } });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`;
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string }; message?: string };
    return e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message ?? String(err));
  }
}
