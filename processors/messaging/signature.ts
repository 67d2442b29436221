// Signed webhooks of the messaging gateway (delivery receipts, inbound replies), as SMS gateways sign theirs: the
// scheme of processors/webhookSignature.ts with the gateway's header names.
//   gateway-webhook-id         the event id, the same on every retry: a receiver refuses one it has seen (replay);
//   gateway-webhook-timestamp  integer seconds since the epoch when this attempt was signed;
//   gateway-webhook-signature  `v1=<hex HMAC-SHA256(secret, "<timestamp>.<id>.<body>")>`.
// A receiver verifies the raw body exactly as it arrived with verifyGatewayWebhook, which refuses a forged, stale
// (outside the tolerance, default 5 minutes, either way) or replayed delivery, and only then records the id as seen.
import {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS, type Headers, MAX_WEBHOOK_ID_LENGTH, type SeenIds, type VerifiedWebhook, webhookScheme,
  type WebhookSignatureErrorCode,
} from '../webhookSignature';

export type { SeenIds };

export const GATEWAY_WEBHOOK_HEADERS = {
  id: 'gateway-webhook-id',
  timestamp: 'gateway-webhook-timestamp',
  signature: 'gateway-webhook-signature',
} as const;

/** Accepted clock difference between the gateway and the receiver, either way. */
export const DEFAULT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS = DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
/** Longest webhook id a receiver accepts (ours are about 30 characters). */
export const MAX_GATEWAY_WEBHOOK_ID_LENGTH = MAX_WEBHOOK_ID_LENGTH;

export type GatewayWebhookErrorCode = WebhookSignatureErrorCode;

export class GatewayWebhookError extends Error {
  constructor(readonly code: GatewayWebhookErrorCode, message: string) {
    super(message);
    this.name = 'GatewayWebhookError';
  }
}

export type VerifiedGatewayWebhook = VerifiedWebhook;

const gatewayScheme = webhookScheme(GATEWAY_WEBHOOK_HEADERS, (code, message) => new GatewayWebhookError(code, message));

/** The headers of one delivery attempt of webhook `id` with this exact body. */
export function signGatewayWebhook(secret: string, id: string, body: string, nowMs: number): Record<string, string> {
  return gatewayScheme.sign(secret, id, body, nowMs);
}

/**
 * Verifies one delivery: the signature over the raw body, the timestamp within toleranceSeconds of nowMs, and an id
 * not in `seen`; then adds the id to `seen` and returns the parsed payload. Throws GatewayWebhookError otherwise
 * (the id is not recorded, so a genuine retry of a refused delivery can still land).
 */
export function verifyGatewayWebhook(secret: string, headers: Headers, rawBody: string | Buffer, nowMs: number, seen: SeenIds,
  toleranceSeconds = DEFAULT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS): VerifiedGatewayWebhook {
  return gatewayScheme.verify(secret, headers, rawBody, nowMs, seen, toleranceSeconds);
}
