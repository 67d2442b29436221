// Signed webhooks of the messaging gateway (delivery receipts, inbound replies), as SMS gateways sign theirs.
// Every delivery carries three headers:
//   gateway-webhook-id         the event id, the same on every retry: a receiver refuses one it has seen (replay);
//   gateway-webhook-timestamp  integer seconds since the epoch when this attempt was signed;
//   gateway-webhook-signature  `v1=<hex HMAC-SHA256(secret, "<timestamp>.<id>.<body>")>`.
// A receiver verifies the raw body exactly as it arrived with verifyGatewayWebhook, which refuses a forged, stale
// (outside the tolerance, default 5 minutes, either way) or replayed delivery, and only then records the id as seen.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const GATEWAY_WEBHOOK_HEADERS = {
  id: 'gateway-webhook-id',
  timestamp: 'gateway-webhook-timestamp',
  signature: 'gateway-webhook-signature',
} as const;

/** Accepted clock difference between the gateway and the receiver, either way. */
export const DEFAULT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS = 300;
/** Longest webhook id a receiver accepts (ours are about 30 characters). */
export const MAX_GATEWAY_WEBHOOK_ID_LENGTH = 128;

export type GatewayWebhookErrorCode = 'missing_header' | 'invalid_timestamp' | 'stale' | 'invalid_signature' | 'replayed';

export class GatewayWebhookError extends Error {
  constructor(readonly code: GatewayWebhookErrorCode, message: string) {
    super(message);
    this.name = 'GatewayWebhookError';
  }
}

/** The ids a receiver has accepted (a Set works; a receiver with many processes backs it with its database). */
export interface SeenIds {
  has(id: string): boolean;
  add(id: string): unknown;
}

const signatureOf = (secret: string, timestampSeconds: number, id: string, body: string): string =>
  createHmac('sha256', secret).update(`${timestampSeconds}.${id}.${body}`).digest('hex');

/** The headers of one delivery attempt of webhook `id` with this exact body. */
export function signGatewayWebhook(secret: string, id: string, body: string, nowMs: number): Record<string, string> {
  if (secret.length === 0) throw new RangeError('the webhook secret must not be empty');
  const timestampSeconds = Math.floor(nowMs / 1000);
  return {
    [GATEWAY_WEBHOOK_HEADERS.id]: id,
    [GATEWAY_WEBHOOK_HEADERS.timestamp]: String(timestampSeconds),
    [GATEWAY_WEBHOOK_HEADERS.signature]: `v1=${signatureOf(secret, timestampSeconds, id, body)}`,
  };
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string {
  const direct = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const v = Array.isArray(direct) ? direct[0] : direct;
  if (v === undefined || v === '') throw new GatewayWebhookError('missing_header', `missing header ${name}`);
  return v;
}

export interface VerifiedGatewayWebhook {
  id: string;
  timestampSeconds: number;
  payload: unknown;
}

/**
 * Verifies one delivery: the signature over the raw body, the timestamp within toleranceSeconds of nowMs, and an id
 * not in `seen`; then adds the id to `seen` and returns the parsed payload. Throws GatewayWebhookError otherwise
 * (the id is not recorded, so a genuine retry of a refused delivery can still land).
 */
export function verifyGatewayWebhook(secret: string, headers: Headers, rawBody: string | Buffer, nowMs: number, seen: SeenIds,
  toleranceSeconds = DEFAULT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS): VerifiedGatewayWebhook {
  const id = header(headers, GATEWAY_WEBHOOK_HEADERS.id);
  const ts = header(headers, GATEWAY_WEBHOOK_HEADERS.timestamp);
  const sig = header(headers, GATEWAY_WEBHOOK_HEADERS.signature);
  if (id.length > MAX_GATEWAY_WEBHOOK_ID_LENGTH) throw new GatewayWebhookError('invalid_signature', 'webhook id too long');
  if (!/^\d{1,12}$/.test(ts)) throw new GatewayWebhookError('invalid_timestamp', 'the timestamp is not integer seconds');
  const timestampSeconds = Number(ts);
  if (Math.abs(nowMs / 1000 - timestampSeconds) > toleranceSeconds) {
    throw new GatewayWebhookError('stale', `the timestamp is more than ${toleranceSeconds} s from now`);
  }
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  const expected = Buffer.from(signatureOf(secret, timestampSeconds, id, body), 'hex');
  const m = /^v1=([0-9a-f]{64})$/.exec(sig);
  if (!m || !timingSafeEqual(Buffer.from(m[1], 'hex'), expected)) {
    throw new GatewayWebhookError('invalid_signature', 'the signature does not match');
  }
  if (seen.has(id)) throw new GatewayWebhookError('replayed', `webhook ${id} was already received`);
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    throw new GatewayWebhookError('invalid_signature', 'the signed body is not JSON');
  }
  seen.add(id);
  return { id, timestampSeconds, payload };
}
