// Step-up authentication on a customer's registered device: the messages the authenticating server and the device
// exchange, the exact texts each side signs, and the rules both apply to them. The keys and signatures themselves are
// in processors/devices/signatures.ts; this file stays pure (time is passed in).
//
//   server → device   SignedAuthenticationRequest  signed with the server's Ed25519 key over requestSigningInput
//   device → server   SignedDeviceAnswer           signed with the device's key over answerSigningInput
//   device → server   `Authorization: Device <deviceId>:<unixSeconds>:<signature over pollSigningInput>` when it polls
//
// Each signing input is the JSON text of an array whose first element names the message and its version: JSON escapes
// every string, so no choice of field values (quotes, commas, newlines) makes two different messages share a text, and
// a signature over one kind of message is never valid as another.

export type DeviceAlgorithm = 'ed25519' | 'p256';
export const DEVICE_ALGORITHMS: readonly DeviceAlgorithm[] = ['ed25519', 'p256'];

export function isDeviceAlgorithm(value: unknown): value is DeviceAlgorithm {
  return value === 'ed25519' || value === 'p256';
}

/** What the server asks a device to approve: one payment, bound to a fresh challenge and a deadline. */
export interface AuthenticationRequest {
  /** authn_... */
  id: string;
  deviceId: string;
  merchantId: string;
  merchantName: string;
  orderId: string;
  amountMinor: number;
  currency: string;
  /** the processor's transaction reference */
  reference: string;
  /** base64url of 32 random bytes */
  challenge: string;
  /** ISO 8601 */
  issuedAt: string;
  /** ISO 8601 */
  expiresAt: string;
  serverKeyId: string;
}

export type SignedAuthenticationRequest = AuthenticationRequest & { serverSignature: string };

export type DeviceDecision = 'approve' | 'reject';

/** The device's answer; it repeats what the customer saw, so a signature binds the decision to that payment. */
export interface DeviceAnswer {
  authenticationId: string;
  deviceId: string;
  decision: DeviceDecision;
  challenge: string;
  amountMinor: number;
  currency: string;
  merchantId: string;
  reference: string;
  /** ISO 8601 */
  signedAt: string;
}

export type SignedDeviceAnswer = DeviceAnswer & { signature: string };

/** How long a request may wait for its answer unless the caller sets another deadline. */
export const AUTHENTICATION_TIMEOUT_MS = 10 * 60_000;
/** A poll header's time or an answer's signedAt may differ from the server's clock by this much, either way. */
export const DEVICE_CLOCK_TOLERANCE_MS = 5 * 60_000;
export const MAX_DEVICES_PER_CUSTOMER = 5;
export const REGISTRATION_CODE_TTL_MS = 15 * 60_000;

export function requestSigningInput(r: AuthenticationRequest): string {
  return JSON.stringify(['paybroker-authn-request/v1', r.id, r.deviceId, r.merchantId, r.merchantName, r.orderId,
    r.amountMinor, r.currency, r.reference, r.challenge, r.issuedAt, r.expiresAt, r.serverKeyId]);
}

export function answerSigningInput(a: DeviceAnswer): string {
  return JSON.stringify(['paybroker-authn-response/v1', a.authenticationId, a.deviceId, a.decision, a.challenge,
    a.amountMinor, a.currency, a.merchantId, a.reference, a.signedAt]);
}

export function pollSigningInput(deviceId: string, unixSeconds: number): string {
  return JSON.stringify(['paybroker-device-poll/v1', deviceId, unixSeconds]);
}

/** The fields of a stored request that its answer must repeat. */
export type AnswerBinding = Pick<AuthenticationRequest, 'id' | 'challenge' | 'amountMinor' | 'currency' | 'merchantId' | 'reference'>;
export type AnswerBindingField = 'authenticationId' | 'challenge' | 'amountMinor' | 'currency' | 'merchantId' | 'reference';

/**
 * The first field of the answer that differs from the request it answers, or null when it answers exactly that
 * request. (The answer's deviceId is checked by the server against the devices the request was sent to.)
 */
export function answerBindingMismatch(request: AnswerBinding, answer: DeviceAnswer): AnswerBindingField | null {
  if (answer.authenticationId !== request.id) return 'authenticationId';
  if (answer.challenge !== request.challenge) return 'challenge';
  if (answer.amountMinor !== request.amountMinor) return 'amountMinor';
  if (answer.currency !== request.currency) return 'currency';
  if (answer.merchantId !== request.merchantId) return 'merchantId';
  if (answer.reference !== request.reference) return 'reference';
  return null;
}

/**
 * Why a device must not answer this request at nowMs, or null: expired once expiresAt is reached; not yet valid when
 * issued more than DEVICE_CLOCK_TOLERANCE_MS ahead of the device's clock. An unreadable time counts as either.
 */
export function requestTimingProblem(r: Pick<AuthenticationRequest, 'issuedAt' | 'expiresAt'>, nowMs: number): 'expired' | 'not_yet_valid' | null {
  const expiresAtMs = Date.parse(r.expiresAt);
  if (!(expiresAtMs > nowMs)) return 'expired';
  const issuedAtMs = Date.parse(r.issuedAt);
  if (!(issuedAtMs <= nowMs + DEVICE_CLOCK_TOLERANCE_MS)) return 'not_yet_valid';
  return null;
}

/** Base32 without the look-alikes (no I, O, 0, 1), all in the QR code's alphanumeric set. 32 letters: 5 bits each. */
export const REGISTRATION_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const REGISTRATION_CODE_PREFIX = 'PBDEV';
export const REGISTRATION_CODE_GROUPS = 4;
export const REGISTRATION_CODE_GROUP_LENGTH = 5;

const REGISTRATION_CODE = new RegExp(
  `^${REGISTRATION_CODE_PREFIX}(?:-[${REGISTRATION_CODE_ALPHABET}]{${REGISTRATION_CODE_GROUP_LENGTH}}){${REGISTRATION_CODE_GROUPS}}$`);

/** PBDEV-ABCDE-FGH23-JKLMN-PQRST: 20 letters of the alphabet (100 bits) in 4 groups of 5. */
export function registrationCodeValid(code: string): boolean {
  return typeof code === 'string' && REGISTRATION_CODE.test(code);
}
