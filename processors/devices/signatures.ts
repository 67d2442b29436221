// The keys and signatures of step-up authentication (the messages and signing inputs are in domain/stepUp.ts).
//
// Devices sign with Ed25519 or with ECDSA on P-256 over SHA-256 (IEEE P1363 form: r ‖ s, 64 bytes), as phone key
// stores make them. Public keys travel as base64url (no padding) of their SPKI DER, signatures as base64url. The
// authenticating server signs with an Ed25519 key made from a 32-byte seed that it keeps in its database; its key id
// is 'authn-' + the first 16 hex digits of sha256(SPKI DER).
//
// Verification answers false, never throws, on anything malformed: a signature is accepted only as the canonical
// base64url of exactly 64 bytes, and a public key only as exactly the DER it re-exports to (nothing after it, no
// non-minimal lengths: a text that parses is all key).
import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject,
} from 'node:crypto';
import {
  answerSigningInput, pollSigningInput, REGISTRATION_CODE_ALPHABET, REGISTRATION_CODE_GROUP_LENGTH, REGISTRATION_CODE_GROUPS,
  REGISTRATION_CODE_PREFIX, requestSigningInput, type AuthenticationRequest, type DeviceAlgorithm, type DeviceAnswer,
  type SignedAuthenticationRequest, type SignedDeviceAnswer,
} from '../../domain/stepUp';

/** Both algorithms' signatures are 64 bytes: Ed25519's R ‖ S, and P-256's r ‖ s in P1363 form. */
export const SIGNATURE_BYTES = 64;
/** A P-256 SPKI is 91 bytes (122 characters), an Ed25519 one 44: anything longer than this is not a device key. */
export const MAX_PUBLIC_KEY_CHARS = 256;
/** The longest poll header parsed (a device id of up to 64 characters, seconds and a signature fit well within). */
export const MAX_POLL_HEADER_CHARS = 256;

export type DeviceKeyErrorCode = 'invalid_public_key';

export class DeviceKeyError extends Error {
  constructor(readonly code: DeviceKeyErrorCode, message: string) {
    super(message);
    this.name = 'DeviceKeyError';
  }
}

export interface DeviceKeys {
  algorithm: DeviceAlgorithm;
  /** base64url of the SPKI DER */
  publicKey: string;
  privateKey: KeyObject;
}

export interface ServerKey {
  keyId: string;
  privateKey: KeyObject;
  /** base64url of the SPKI DER */
  publicKey: string;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The bytes of a canonical base64url text (no padding, no stray bits), or null. */
function fromBase64Url(text: unknown, maxChars: number): Buffer | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > maxChars || !BASE64URL.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

const spkiOf = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });

function keyMatches(alg: DeviceAlgorithm, key: KeyObject): boolean {
  if (alg === 'ed25519') return key.asymmetricKeyType === 'ed25519';
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

export function generateDeviceKeys(algorithm: DeviceAlgorithm): DeviceKeys {
  const { publicKey, privateKey } = algorithm === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { algorithm, publicKey: spkiOf(publicKey).toString('base64url'), privateKey };
}

/**
 * A device's public key from its base64url SPKI; DeviceKeyError unless it is exactly an SPKI DER of a key of that
 * algorithm. (A P-256 point may be compressed or not: both are P-256 keys, and each re-exports as it came.)
 */
export function importPublicKey(alg: DeviceAlgorithm, b64url: string): KeyObject {
  const der = fromBase64Url(b64url, MAX_PUBLIC_KEY_CHARS);
  if (!der) throw new DeviceKeyError('invalid_public_key', 'the public key is not base64url of an SPKI DER');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new DeviceKeyError('invalid_public_key', 'the public key is not an SPKI DER');
  }
  if (!keyMatches(alg, key)) {
    throw new DeviceKeyError('invalid_public_key', `the public key is not ${alg === 'ed25519' ? 'an Ed25519' : 'a P-256'} key`);
  }
  if (!spkiOf(key).equals(der)) {
    throw new DeviceKeyError('invalid_public_key', 'the public key is not exactly an SPKI DER (bytes after it, or a non-minimal encoding)');
  }
  return key;
}

/** base64url signature of the text's UTF-8 bytes. A key of another algorithm is a programming error (TypeError). */
export function signWith(alg: DeviceAlgorithm, privateKey: KeyObject, input: string): string {
  if (privateKey.type !== 'private' || !keyMatches(alg, privateKey)) throw new TypeError(`not a private ${alg} key`);
  const data = Buffer.from(input, 'utf8');
  const signature = alg === 'ed25519'
    ? sign(null, data, privateKey)
    : sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return signature.toString('base64url');
}

/** Whether signature is this key's over the text; false (never a throw) for a malformed signature or a key of another algorithm. */
export function verifyWith(alg: DeviceAlgorithm, publicKey: KeyObject, input: string, signature: string): boolean {
  const sig = fromBase64Url(signature, Math.ceil((SIGNATURE_BYTES * 4) / 3));
  if (!sig || sig.length !== SIGNATURE_BYTES || typeof input !== 'string' || !keyMatches(alg, publicKey)) return false;
  const data = Buffer.from(input, 'utf8');
  try {
    return alg === 'ed25519'
      ? verify(null, data, publicKey, sig)
      : verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

// --- the server's key ---------------------------------------------------------------------------------------------

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
export const SERVER_KEY_SEED_BYTES = 32;

const keyIdOf = (spkiDer: Buffer): string => `authn-${createHash('sha256').update(spkiDer).digest('hex').slice(0, 16)}`;

/** The server's Ed25519 key made from its 32-byte seed: the same seed always makes the same key and key id. */
export function serverKeyFromSeed(seed: Buffer): ServerKey {
  if (!Buffer.isBuffer(seed) || seed.length !== SERVER_KEY_SEED_BYTES) {
    throw new RangeError(`the server key seed must be ${SERVER_KEY_SEED_BYTES} bytes`);
  }
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = spkiOf(createPublicKey(privateKey));
  return { keyId: keyIdOf(spki), privateKey, publicKey: spki.toString('base64url') };
}

/** The key id of a server public key (base64url SPKI), or null when it is not an Ed25519 key. */
export function serverKeyIdOf(publicKey: string): string | null {
  try {
    return keyIdOf(spkiOf(importPublicKey('ed25519', publicKey)));
  } catch {
    return null;
  }
}

/** The request as sent: exactly its signed fields (nothing else a stored row may carry) and the server's signature. */
export function signRequest(serverKey: ServerKey, r: AuthenticationRequest): SignedAuthenticationRequest {
  if (r.serverKeyId !== serverKey.keyId) throw new RangeError(`request ${r.id} names key ${r.serverKeyId}, not ${serverKey.keyId}`);
  const request: AuthenticationRequest = {
    id: r.id, deviceId: r.deviceId, merchantId: r.merchantId, merchantName: r.merchantName, orderId: r.orderId,
    amountMinor: r.amountMinor, currency: r.currency, reference: r.reference, challenge: r.challenge, issuedAt: r.issuedAt,
    expiresAt: r.expiresAt, serverKeyId: r.serverKeyId,
  };
  return { ...request, serverSignature: signWith('ed25519', serverKey.privateKey, requestSigningInput(request)) };
}

/** Whether the request was signed by the server key given (base64url SPKI) and names that key's id. */
export function verifyRequest(serverPublicKeyB64: string, r: SignedAuthenticationRequest): boolean {
  let key: KeyObject;
  try {
    key = importPublicKey('ed25519', serverPublicKeyB64);
  } catch {
    return false;
  }
  if (r.serverKeyId !== keyIdOf(spkiOf(key))) return false;
  return verifyWith('ed25519', key, requestSigningInput(r), r.serverSignature);
}

// --- the device's answers and polls -------------------------------------------------------------------------------

export function signAnswer(alg: DeviceAlgorithm, privateKey: KeyObject, a: DeviceAnswer): SignedDeviceAnswer {
  const answer: DeviceAnswer = {
    authenticationId: a.authenticationId, deviceId: a.deviceId, decision: a.decision, challenge: a.challenge,
    amountMinor: a.amountMinor, currency: a.currency, merchantId: a.merchantId, reference: a.reference, signedAt: a.signedAt,
  };
  return { ...answer, signature: signWith(alg, privateKey, answerSigningInput(answer)) };
}

export function verifyAnswer(alg: DeviceAlgorithm, publicKey: KeyObject, a: SignedDeviceAnswer): boolean {
  return verifyWith(alg, publicKey, answerSigningInput(a), a.signature);
}

/** A one-time code that registers a device: PBDEV- and 4 groups of 5 letters of the alphabet (100 random bits). */
export function newRegistrationCode(): string {
  // 32 letters divide 256: each byte's low 5 bits pick a letter without bias
  const bytes = randomBytes(REGISTRATION_CODE_GROUPS * REGISTRATION_CODE_GROUP_LENGTH);
  const letters = [...bytes].map((b) => REGISTRATION_CODE_ALPHABET[b & 31]).join('');
  const groups: string[] = [];
  for (let i = 0; i < letters.length; i += REGISTRATION_CODE_GROUP_LENGTH) groups.push(letters.slice(i, i + REGISTRATION_CODE_GROUP_LENGTH));
  return [REGISTRATION_CODE_PREFIX, ...groups].join('-');
}

/** base64url of 32 random bytes. */
export function newChallenge(): string {
  return randomBytes(32).toString('base64url');
}

/** `Device <deviceId>:<unixSeconds>:<signature over pollSigningInput>`, the Authorization of a device's poll. */
export function devicePollHeader(deviceId: string, alg: DeviceAlgorithm, privateKey: KeyObject, nowMs: number): string {
  const unixSeconds = Math.floor(nowMs / 1000);
  return `Device ${deviceId}:${unixSeconds}:${signWith(alg, privateKey, pollSigningInput(deviceId, unixSeconds))}`;
}

// the device id: 1 to 64 printable ASCII characters but ':' (an id like dev_… fits)
const POLL_HEADER = /^Device ([\x21-\x39\x3b-\x7e]{1,64}):(\d{1,12}):([A-Za-z0-9_-]{1,128})$/;

/** The parts of a poll header, or null when it is not one (the signature is not checked here). */
export function parseDevicePollHeader(header: string): { deviceId: string; unixSeconds: number; signature: string } | null {
  if (typeof header !== 'string' || header.length > MAX_POLL_HEADER_CHARS) return null;
  const m = POLL_HEADER.exec(header);
  return m ? { deviceId: m[1], unixSeconds: Number(m[2]), signature: m[3] } : null;
}
