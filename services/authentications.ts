// The authenticating server of step-up authentication. A merchant issues a one-time registration code for its
// customer; the customer's device registers its public key with it and learns the server's key. When the processor
// asks an order to be authenticated, the server signs a request bound to the payment (amount, merchant, the
// processor's reference, a fresh challenge, an expiry) for each of the customer's devices; a device fetches it (its
// poll signed with its key), checks it, and sends back its signed answer. An answer is taken only if every check
// passes (the device is one asked, its signature, the binding, the time) and the database finds the request still
// pending; then the order hears it (customerAnswerSignal). Every refusal is counted and nothing else changes.
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import {
  answerBindingMismatch, DEVICE_CLOCK_TOLERANCE_MS, type DeviceAlgorithm, pollSigningInput, REGISTRATION_CODE_TTL_MS,
  type SignedAuthenticationRequest, type SignedDeviceAnswer,
} from '../domain/stepUp';
import {
  DeviceKeyError, importPublicKey, newChallenge, newRegistrationCode, parseDevicePollHeader, type ServerKey, serverKeyFromSeed, signRequest,
  verifyAnswer, verifyWith,
} from '../processors/devices/signatures';
import { type AuthenticationRow, type DeviceRow, type DeviceStore, requestFor } from '../stores/devices';
import type { MerchantStore } from '../stores/merchants';
import type { RefusalStore } from '../stores/refusals';
import { tellOrder } from './confirmations';

/** Requests one poll returns at most. */
export const MAX_PENDING_PER_POLL = 20;

/** A refused registration, poll or answer: nothing changed. The status and code are the API's answer. */
export class AuthenticationRefused extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'AuthenticationRefused';
  }
}

export interface StartRequest {
  orderId: string;
  merchantId: string;
  customerId: string;
  amountMinor: number;
  currency: string;
  reference: string;
  timeoutMs: number;
}

/** What the order learns when it asks: the request made (and how it stands), or that the customer has no device. */
export type Started =
  | { state: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled'; id: string; expiresAt: string }
  | { state: 'no_device'; id: null; expiresAt: null };

export class AuthenticationService {
  private key?: Promise<ServerKey>;

  constructor(private readonly deps: { devices: DeviceStore; merchants: MerchantStore; refusals: RefusalStore; temporal: Client }) {}

  /** A one-time code (shown once) with which the merchant's customer registers a device. */
  async createRegistration(merchantId: string, customerId: string) {
    const code = newRegistrationCode();
    const { id, expiresAt } = await this.deps.devices.createRegistration(merchantId, customerId, code, REGISTRATION_CODE_TTL_MS);
    return { id, customerId, code, expiresAt };
  }

  /** Registers a device's public key with a registration code; answers with the device and the server's key. */
  async register(r: { registrationCode: string; algorithm: DeviceAlgorithm; publicKey: string; name?: string }) {
    try {
      importPublicKey(r.algorithm, r.publicKey);
    } catch (err) {
      if (err instanceof DeviceKeyError) throw await this.refused('device_registration', 'invalid_public_key', 422, err.message);
      throw err;
    }
    const device = await this.deps.devices.register(r.registrationCode, { algorithm: r.algorithm, publicKey: r.publicKey, name: r.name ?? null });
    if (typeof device === 'string') {
      const status = device === 'registration_code_invalid' ? 404 : device === 'registration_code_expired' ? 410 : 409;
      throw await this.refused('device_registration', device, status, REGISTRATION_MESSAGES[device]);
    }
    const key = await this.serverKey();
    return { device, serverKey: { id: key.keyId, algorithm: 'ed25519' as const, publicKey: key.publicKey } };
  }

  devices(merchantId: string, customerId: string) {
    return this.deps.devices.devicesOf(merchantId, customerId);
  }

  device(id: string) {
    return this.deps.devices.device(id);
  }

  revoke(id: string) {
    return this.deps.devices.revoke(id);
  }

  /**
   * Asks the order's customer (an activity calls this; a repeat returns the first request): a request signed for each
   * of their devices, expiring after timeoutMs; or no_device.
   */
  async start(r: StartRequest): Promise<Started> {
    const { devices, merchants } = this.deps;
    const existing = await devices.authenticationOfOrder(r.orderId);
    if (existing) return started(existing);
    const customerDevices = await devices.devicesOf(r.merchantId, r.customerId);
    if (customerDevices.length === 0) return { state: 'no_device', id: null, expiresAt: null };
    const key = await this.serverKey();
    const merchant = await merchants.get(r.merchantId);
    const issuedAt = new Date();
    const expiresAt = new Date(issuedAt.getTime() + r.timeoutMs);
    const request = {
      id: `authn_${randomBytes(12).toString('base64url')}`, merchantId: r.merchantId, merchantName: merchant?.name ?? r.merchantId, orderId: r.orderId,
      amountMinor: r.amountMinor, currency: r.currency, reference: r.reference, challenge: newChallenge(), issuedAt: issuedAt.toISOString(),
      expiresAt: expiresAt.toISOString(), serverKeyId: key.keyId,
    };
    const serverSignatures = Object.fromEntries(customerDevices.map((d) => [d.id, signRequest(key, { ...request, deviceId: d.id }).serverSignature]));
    return started(await devices.openAuthentication({ id: request.id, orderId: r.orderId, merchantId: r.merchantId, customerId: r.customerId,
      deviceIds: customerDevices.map((d) => d.id), request, serverSignatures, expiresAt }));
  }

  /** Closes the order's request (its deadline, a merchant's cancel) unless an answer came first; returns how it ended. */
  close(orderId: string, outcome: 'expired' | 'cancelled') {
    return this.deps.devices.close(orderId, outcome);
  }

  authentication(id: string) {
    return this.deps.devices.authentication(id);
  }

  /** The requests waiting for the device (`Authorization: Device <id>:<unix seconds>:<signature>`). */
  async pending(deviceId: string, authorization: string | undefined, nowMs: number): Promise<SignedAuthenticationRequest[]> {
    const poll = authorization ? parseDevicePollHeader(authorization) : null;
    if (!poll) throw await this.refused('device_poll', 'malformed', 401, 'Sign the poll: Authorization: Device <device id>:<unix seconds>:<signature>');
    if (poll.deviceId !== deviceId) throw await this.refused('device_poll', 'other_device', 401, 'The poll is signed for another device');
    const device = await this.activeDevice(deviceId, 'device_poll');
    if (Math.abs(poll.unixSeconds * 1000 - nowMs) > DEVICE_CLOCK_TOLERANCE_MS) {
      throw await this.refused('device_poll', 'stale', 401, "The poll's time is too far from the server's clock");
    }
    if (!verifyWith(device.algorithm, importPublicKey(device.algorithm, device.publicKey), pollSigningInput(deviceId, poll.unixSeconds), poll.signature)) {
      throw await this.refused('device_poll', 'signature_invalid', 401, "The poll's signature is not the device's");
    }
    return (await this.deps.devices.pendingFor(deviceId, MAX_PENDING_PER_POLL)).map((a) => requestFor(a, deviceId));
  }

  /**
   * A device's answer to request `id`: refused unless the device is one the request was sent to and active, the answer
   * is bound to exactly that request, its signature is the device's, it was signed now, and the request is still
   * pending and unexpired (the database decides the last). Then the order hears it.
   */
  async respond(id: string, answer: SignedDeviceAnswer, nowMs: number): Promise<{ authentication: AuthenticationRow; warning?: string }> {
    const a = await this.deps.devices.authentication(id);
    if (!a) throw await this.refused('device_answer', 'unknown_authentication', 404, 'No such authentication request');
    const device = await this.activeDevice(answer.deviceId, 'device_answer');
    if (!a.deviceIds.includes(device.id)) throw await this.refused('device_answer', 'device_not_asked', 403, 'The request was not sent to this device');
    const mismatch = answerBindingMismatch({ ...a.request, id: a.id }, answer);
    if (mismatch) {
      throw await this.refused('device_answer', 'binding_mismatch', 422, `The answer is for another transaction: its ${mismatch} differs from the request's`);
    }
    if (!verifyAnswer(device.algorithm, importPublicKey(device.algorithm, device.publicKey), answer)) {
      throw await this.refused('device_answer', 'signature_invalid', 401, "The answer's signature is not the device's");
    }
    const signedAtMs = Date.parse(answer.signedAt);
    if (!(Math.abs(signedAtMs - nowMs) <= DEVICE_CLOCK_TOLERANCE_MS)) {
      throw await this.refused('device_answer', 'stale', 401, "The answer's signedAt is too far from the server's clock");
    }
    const state = await this.deps.devices.answer(id, device.id, answer.decision === 'approve' ? 'approved' : 'rejected');
    if (!state) {
      const now = (await this.deps.devices.authentication(id))!;
      if (now.state === 'expired' || (now.state === 'pending' && now.expiresAt.getTime() <= nowMs)) {
        throw await this.refused('device_answer', 'expired', 410, 'The authentication request has expired');
      }
      throw await this.refused('device_answer', 'replayed', 409, `The authentication request was already ${now.state === 'pending' ? 'answered' : now.state}`);
    }
    const decided = (await this.deps.devices.authentication(id))!;
    return { authentication: decided, warning: await tellOrder(this.deps.temporal, a.orderId, { outcome: state === 'approved' ? 'approved' : 'rejected' }) };
  }

  private async activeDevice(id: string, kind: string): Promise<DeviceRow> {
    const device = typeof id === 'string' ? await this.deps.devices.device(id) : undefined;
    if (!device || device.revokedAt) throw await this.refused(kind, 'unknown_device', 401, 'No such device (or it was revoked)');
    return device;
  }

  private async refused(kind: string, reason: string, status: number, message: string): Promise<AuthenticationRefused> {
    await this.deps.refusals.count(kind, reason);
    return new AuthenticationRefused(status, REFUSAL_CODES[reason] ?? reason, message);
  }

  private serverKey(): Promise<ServerKey> {
    this.key ??= this.deps.devices.serverSeed().then(serverKeyFromSeed);
    this.key.catch(() => { this.key = undefined; });
    return this.key;
  }
}

const REGISTRATION_MESSAGES: Record<string, string> = {
  registration_code_invalid: 'No such registration code',
  registration_code_used: 'The registration code was used already; ask the merchant for a new one',
  registration_code_expired: 'The registration code has expired; ask the merchant for a new one',
  too_many_devices: 'The customer has as many devices as allowed; revoke one first',
};

/** The API's error code of each refusal reason (where it is not the reason itself). */
const REFUSAL_CODES: Record<string, string> = {
  malformed: 'device_auth_invalid', other_device: 'device_auth_invalid', stale: 'signature_stale', replayed: 'authentication_already_answered',
  expired: 'authentication_expired', unknown_authentication: 'resource_missing', binding_mismatch: 'answer_binding_mismatch',
};

function started(a: AuthenticationRow): Started {
  return { state: a.state, id: a.id, expiresAt: a.expiresAt.toISOString() };
}
