// A customer's phone app for step-up authentication, over the broker's HTTP API: it registers with a one-time code
// (learning the authenticating server's public key), polls for the requests sent to it, refuses any it cannot trust
// (not its own, not signed by that server key, expired, issued in the future), and signs the customer's decision.
// scripts/device.ts drives one from the command line; the API's and e2e tests drive it directly, and post tampered,
// forged or replayed answers through send().
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import {
  isDeviceAlgorithm, requestTimingProblem, type DeviceAlgorithm, type DeviceAnswer, type DeviceDecision,
  type SignedAuthenticationRequest, type SignedDeviceAnswer,
} from '../../domain/stepUp';
import {
  devicePollHeader, generateDeviceKeys, importPublicKey, serverKeyIdOf, signAnswer, verifyRequest,
} from './signatures';

/** Each call to the API gives up after this long. */
export const DEVICE_HTTP_TIMEOUT_MS = 10_000;

/** What a device keeps between runs (the CLI keeps it in a file); the private key is PKCS#8 DER in base64url. */
export interface DeviceState {
  apiUrl: string;
  id: string;
  customerId: string;
  merchantId: string;
  algorithm: DeviceAlgorithm;
  name: string;
  createdAt: string;
  /** base64url SPKI DER */
  publicKey: string;
  /** base64url PKCS#8 DER */
  privateKey: string;
  serverKey: { id: string; algorithm: 'ed25519'; publicKey: string };
}

/** The API refused a call (status and its { error: { type, code, message, param } } body), or answered nonsense. */
export class DeviceApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly body: unknown) {
    super(message);
    this.name = 'DeviceApiError';
  }
}

export type DeviceCheckErrorCode = 'not_for_this_device' | 'bad_server_signature' | 'expired' | 'not_yet_valid';

/** Why the device will not answer a request. */
export class DeviceCheckError extends Error {
  constructor(readonly code: DeviceCheckErrorCode, message: string) {
    super(message);
    this.name = 'DeviceCheckError';
  }
}

export interface ApiAnswer {
  status: number;
  body: any;
}

async function call(method: 'GET' | 'POST', url: string, init: { body?: unknown; authorization?: string } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  const res = await fetch(url, {
    method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(DEVICE_HTTP_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // (kept as text)
  }
  return { status: res.status, body };
}

/** The answer's body, or a DeviceApiError carrying the API's error when it is not a success. */
function succeeded(what: string, answer: ApiAnswer): any {
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  const e = (answer.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${answer.status}`;
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${answer.status}`;
  throw new DeviceApiError(answer.status, code, `${what}: ${answer.status} ${code}: ${message}`, answer.body);
}

function unexpected(what: string, answer: ApiAnswer, why: string): DeviceApiError {
  return new DeviceApiError(answer.status, 'unexpected_response', `${what}: ${why}`, answer.body);
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export class DeviceSimulator {
  readonly apiUrl: string;
  private readonly privateKey: KeyObject;

  private constructor(private readonly state: DeviceState) {
    this.apiUrl = trimSlash(state.apiUrl);
    this.privateKey = createPrivateKey({ key: Buffer.from(state.privateKey, 'base64url'), format: 'der', type: 'pkcs8' });
  }

  get id(): string { return this.state.id; }
  get algorithm(): DeviceAlgorithm { return this.state.algorithm; }
  get publicKey(): string { return this.state.publicKey; }
  get serverKey(): DeviceState['serverKey'] { return { ...this.state.serverKey }; }

  /** Registers a new device with a one-time code (the code is the credential: no Authorization header). */
  static async register(apiUrl: string, registrationCode: string,
    opts: { algorithm?: DeviceAlgorithm; name?: string } = {}): Promise<DeviceSimulator> {
    const algorithm = opts.algorithm ?? 'ed25519';
    const name = opts.name ?? 'Simulated device';
    const keys = generateDeviceKeys(algorithm);
    const what = 'POST /v1/devices';
    const answer = await call('POST', `${trimSlash(apiUrl)}/v1/devices`, {
      body: { registrationCode, algorithm, publicKey: keys.publicKey, name },
    });
    const body = succeeded(what, answer);
    if (body?.object !== 'device' || typeof body.id !== 'string') throw unexpected(what, answer, 'the answer is not a device');
    const serverKey = body.serverKey;
    if (serverKey?.algorithm !== 'ed25519' || typeof serverKey.publicKey !== 'string') {
      throw unexpected(what, answer, 'the answer has no Ed25519 server key');
    }
    if (serverKeyIdOf(serverKey.publicKey) !== serverKey.id) {
      throw unexpected(what, answer, `server key ${String(serverKey.id)} is not the id of its public key`);
    }
    return new DeviceSimulator({
      apiUrl, id: body.id, customerId: String(body.customerId), merchantId: String(body.merchantId), algorithm,
      name: typeof body.name === 'string' ? body.name : name, createdAt: String(body.createdAt),
      publicKey: keys.publicKey, privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64url'),
      serverKey: { id: serverKey.id, algorithm: 'ed25519', publicKey: serverKey.publicKey },
    });
  }

  toJSON(): DeviceState {
    return { ...this.state, serverKey: { ...this.state.serverKey } };
  }

  /** A device from its kept state; throws when the state is not whole or its keys do not match. */
  static fromJSON(state: DeviceState): DeviceSimulator {
    const s = state as Partial<DeviceState> | undefined;
    for (const field of ['apiUrl', 'id', 'publicKey', 'privateKey'] as const) {
      if (typeof s?.[field] !== 'string' || s[field] === '') throw new TypeError(`device state: ${field} is missing`);
    }
    if (!isDeviceAlgorithm(s!.algorithm)) throw new TypeError('device state: algorithm is not ed25519 or p256');
    if (typeof s!.serverKey?.publicKey !== 'string' || serverKeyIdOf(s!.serverKey.publicKey) !== s!.serverKey.id) {
      throw new TypeError('device state: the server key is missing or its id is not its public key\'s');
    }
    importPublicKey(state.algorithm, state.publicKey); // (a DeviceKeyError when it is not a key of that algorithm)
    const device = new DeviceSimulator(state);
    const derived = createPublicKey(device.privateKey).export({ type: 'spki', format: 'der' }).toString('base64url');
    if (derived !== state.publicKey) throw new TypeError('device state: the private key is not the public key\'s');
    return device;
  }

  /** The requests waiting for this device's answer. */
  async pending(nowMs = Date.now()): Promise<SignedAuthenticationRequest[]> {
    const what = `GET /v1/devices/${this.id}/authentications`;
    const answer = await call('GET', `${this.apiUrl}/v1/devices/${encodeURIComponent(this.id)}/authentications`, {
      authorization: devicePollHeader(this.id, this.algorithm, this.privateKey, nowMs),
    });
    const body = succeeded(what, answer);
    if (!Array.isArray(body?.data)) throw unexpected(what, answer, 'the answer has no data list');
    return body.data;
  }

  /** Throws DeviceCheckError unless this device may answer the request at nowMs. */
  check(request: SignedAuthenticationRequest, nowMs = Date.now()): void {
    if (request.deviceId !== this.id) {
      throw new DeviceCheckError('not_for_this_device', `request ${request.id} is for device ${request.deviceId}, not ${this.id}`);
    }
    if (request.serverKeyId !== this.state.serverKey.id || !verifyRequest(this.state.serverKey.publicKey, request)) {
      throw new DeviceCheckError('bad_server_signature', `request ${request.id} is not signed by server key ${this.state.serverKey.id}`);
    }
    const problem = requestTimingProblem(request, nowMs);
    if (problem === 'expired') throw new DeviceCheckError('expired', `request ${request.id} expired at ${request.expiresAt}`);
    if (problem === 'not_yet_valid') {
      throw new DeviceCheckError('not_yet_valid', `request ${request.id} is issued at ${request.issuedAt}, ahead of this device's clock`);
    }
  }

  /** The customer's decision on a request this device trusts (check first), signed by this device. */
  answer(request: SignedAuthenticationRequest, decision: DeviceDecision, nowMs = Date.now()): SignedDeviceAnswer {
    this.check(request, nowMs);
    return signAnswer(this.algorithm, this.privateKey, this.unsignedAnswer(request, decision, nowMs));
  }

  /**
   * The same answer signed with a freshly made key of this device's algorithm that no server knows: what an attacker
   * who copied the request but not the device's key could send. The API must refuse it.
   */
  forgedAnswer(request: SignedAuthenticationRequest, decision: DeviceDecision = 'approve', nowMs = Date.now()): SignedDeviceAnswer {
    return signAnswer(this.algorithm, generateDeviceKeys(this.algorithm).privateKey, this.unsignedAnswer(request, decision, nowMs));
  }

  /** Answers a request (checked and signed here); throws DeviceApiError when the API refuses the answer. */
  async respond(request: SignedAuthenticationRequest, decision: DeviceDecision): Promise<ApiAnswer> {
    const answer = await this.send(this.answer(request, decision));
    succeeded(`POST /v1/authentications/${request.id}/response`, answer);
    return answer;
  }

  /** Posts any answer, as it is (tampered, forged, replayed), and returns what the API said without judging it. */
  async send(answer: SignedDeviceAnswer): Promise<ApiAnswer> {
    return call('POST', `${this.apiUrl}/v1/authentications/${encodeURIComponent(answer.authenticationId)}/response`, { body: answer });
  }

  private unsignedAnswer(request: SignedAuthenticationRequest, decision: DeviceDecision, nowMs: number): DeviceAnswer {
    return {
      authenticationId: request.id, deviceId: this.id, decision, challenge: request.challenge, amountMinor: request.amountMinor,
      currency: request.currency, merchantId: request.merchantId, reference: request.reference, signedAt: new Date(nowMs).toISOString(),
    };
  }
}
