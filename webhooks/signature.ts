// Standard Webhooks (https://www.standardwebhooks.com) signatures: how Paybroker signs what it sends, and a
// helper for receivers to check it. Every delivery carries three headers:
//   webhook-id         the message id, the same on every retry: receivers de-duplicate on it;
//   webhook-timestamp  integer seconds since the epoch when this attempt was signed;
//   webhook-signature  `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, possibly several entries
//                      separated by spaces while a secret is being rotated.
// The key is the base64 part of the destination's secret `whsec_<base64>`.
//
// A receiver (express) must verify the raw body exactly as it arrived, so it takes the body as bytes:
//
//   import express from 'express';
//   import { verifyWebhook, WebhookVerificationError } from './webhooks/signature';
//
//   app.post('/paybroker/webhooks', express.raw({ type: 'application/json' }), (req, res) => {
//     let event;
//     try {
//       event = verifyWebhook(process.env.PAYBROKER_WEBHOOK_SECRET!, req.headers, req.body);
//     } catch (err) {
//       if (err instanceof WebhookVerificationError) return res.status(400).json({ code: err.code });
//       throw err;
//     }
//     // event.id is stable across retries: skip it if already handled, then act on event.payload.
//     res.sendStatus(204);
//   });
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Bytes of randomness in a new secret (the HMAC-SHA256 block size would allow more; 32 is what the spec uses). */
export const WEBHOOK_SECRET_BYTES = 32;
/** Default accepted clock difference between sender and receiver, either way. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

export type WebhookHeaderName = 'webhook-id' | 'webhook-timestamp' | 'webhook-signature';

export type WebhookVerificationCode =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature';

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(readonly code: WebhookVerificationCode, message: string) {
    super(message);
  }
}

export interface VerifiedWebhook {
  id: string;
  /** Seconds since the epoch, as sent in webhook-timestamp. */
  timestamp: number;
  payload: unknown;
}

export interface VerifyOptions {
  /** Maximum distance between webhook-timestamp and now, in seconds; default 300. */
  toleranceSeconds?: number;
  /** The receiver's clock, in seconds; default the current time. */
  nowSeconds?: number;
}

/** A new signing secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(WEBHOOK_SECRET_BYTES).toString('base64');
}

/** `v1,<base64 signature>` of `${id}.${timestampSeconds}.${body}`. The secret may omit the `whsec_` prefix. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`webhook timestamp must be a non-negative integer of seconds, got ${timestampSeconds}`);
  }
  return `v1,${hmac(secretKey(secret), id, String(timestampSeconds), body)}`;
}

/**
 * The three Standard Webhooks headers for one delivery attempt signed at `nowSeconds` (fractions are dropped); with
 * several secrets (during a rotation), one signature per secret, separated by spaces.
 */
export function webhookHeaders(secrets: string | readonly string[], id: string, body: string, nowSeconds: number): Record<WebhookHeaderName, string> {
  const timestamp = Math.floor(nowSeconds);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': (typeof secrets === 'string' ? [secrets] : secrets).map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}

/**
 * Checks a received webhook and returns its id, timestamp and parsed JSON payload, or throws a
 * WebhookVerificationError. `body` must be the raw request body (a Buffer from express.raw, or the exact
 * string): parsed-and-reserialized JSON will not match. Header names are matched case-insensitively.
 * A body that is signed correctly but is not JSON throws the SyntaxError of JSON.parse.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined> | Headers,
  body: string | Buffer,
  opts: VerifyOptions = {},
): VerifiedWebhook {
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
    throw new TypeError('webhook body must be the raw request body (string or Buffer), e.g. from express.raw()');
  }
  const tolerance = opts.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new RangeError(`toleranceSeconds must be >= 0, got ${tolerance}`);
  const key = secretKey(secret);

  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');

  if (!/^[0-9]{1,15}$/.test(timestampText)) {
    throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not an integer number of seconds');
  }
  const timestamp = Number(timestampText);
  const now = opts.nowSeconds ?? Date.now() / 1000;
  if (now - timestamp > tolerance) throw new WebhookVerificationError('timestamp_too_old', 'webhook-timestamp is too old');
  if (timestamp - now > tolerance) throw new WebhookVerificationError('timestamp_too_new', 'webhook-timestamp is in the future');

  // Sign exactly what was received: the timestamp as sent and the body's raw bytes.
  const expected = Buffer.from(hmac(key, id, timestampText, body), 'utf8');
  let matched = false;
  // Entries are separated by spaces; a Headers object joins repeated headers with ", ", so trailing commas
  // (never part of base64) are dropped.
  for (const entry of signatures.split(/\s+/)) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1).replace(/,+$/, ''), 'utf8');
    // Check every entry (no early exit) so the time taken does not tell which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('invalid_signature', 'no webhook-signature entry matches');

  const text = typeof body === 'string' ? body : body.toString('utf8');
  return { id, timestamp, payload: JSON.parse(text) };
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  // Buffer.from(…, 'base64') skips characters it does not know, so check the alphabet first.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new TypeError('webhook secret is not whsec_<base64>');
  return Buffer.from(encoded, 'base64');
}

function hmac(key: Buffer, id: string, timestampText: string, body: string | Buffer): string {
  return createHmac('sha256', key).update(`${id}.${timestampText}.`, 'utf8').update(body).digest('base64');
}

function header(headers: Record<string, string | string[] | undefined> | Headers, name: WebhookHeaderName): string {
  let value: string | null | undefined;
  if (typeof Headers !== 'undefined' && headers instanceof Headers) {
    value = headers.get(name);
  } else {
    const values: string[] = [];
    for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
      if (k.toLowerCase() !== name || v === undefined) continue;
      values.push(...(Array.isArray(v) ? v : [v]));
    }
    // Repeated headers are joined the way Headers and Node's http module do.
    value = values.length ? values.join(', ') : undefined;
  }
  if (value === null || value === undefined || value.trim() === '') {
    throw new WebhookVerificationError('missing_header', `${name} header is missing`);
  }
  return value.trim();
}
