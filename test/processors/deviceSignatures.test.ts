// The keys and signatures of step-up authentication for both device algorithms (Ed25519, P-256 in P1363 form), the
// server's seeded key and its signed requests, codes, challenges and poll headers; and the device simulator's own
// checks (which requests it refuses to answer), over a small fake of the broker's API.
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerBindingMismatch, answerSigningInput, pollSigningInput, registrationCodeValid, requestSigningInput, type AuthenticationRequest,
  type DeviceAlgorithm, type DeviceAnswer, type SignedAuthenticationRequest,
} from '../../domain/stepUp';
import {
  DeviceKeyError, devicePollHeader, generateDeviceKeys, importPublicKey, newChallenge, newRegistrationCode, parseDevicePollHeader,
  serverKeyFromSeed, serverKeyIdOf, signAnswer, signRequest, signWith, verifyAnswer, verifyRequest, verifyWith,
} from '../../processors/devices/signatures';
import { DeviceApiError, DeviceCheckError, DeviceSimulator, type DeviceState } from '../../processors/devices/simulator';

const ALGORITHMS: DeviceAlgorithm[] = ['ed25519', 'p256'];
const SEED = Buffer.alloc(32, 7);
const NOW = Date.parse('2025-01-01T00:01:00.000Z');

/** The signature with one of its bytes changed. */
function flipped(signature: string, index = 10): string {
  const bytes = Buffer.from(signature, 'base64url');
  bytes[index] ^= 0x01;
  return bytes.toString('base64url');
}

function requestFor(deviceId: string, serverKeyId: string, over: Partial<AuthenticationRequest> = {}): AuthenticationRequest {
  return {
    id: 'authn_1', deviceId, merchantId: 'mer_1', merchantName: 'Demo "shop"', orderId: 'ord_1', amountMinor: 1234, currency: 'USD',
    reference: 'auth_ref_1', challenge: newChallenge(), issuedAt: new Date(NOW - 60_000).toISOString(),
    expiresAt: new Date(NOW + 9 * 60_000).toISOString(), serverKeyId, ...over,
  };
}

describe.each(ALGORITHMS)('%s device signatures', (alg) => {
  const keys = generateDeviceKeys(alg);
  const publicKey = importPublicKey(alg, keys.publicKey);
  const input = answerSigningInput({
    authenticationId: 'authn_1', deviceId: 'dev_1', decision: 'approve', challenge: 'abc', amountMinor: 1, currency: 'USD',
    merchantId: 'mer_1', reference: 'ref', signedAt: new Date(NOW).toISOString(),
  });

  it('verifies what its private key signed, as a 64-byte base64url signature', () => {
    const signature = signWith(alg, keys.privateKey, input);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    expect(verifyWith(alg, publicKey, input, signature)).toBe(true);
  });

  it('signs as the protocol says, so any other implementation verifies it (node:crypto verify by hand)', () => {
    const signature = Buffer.from(signWith(alg, keys.privateKey, input), 'base64url');
    const ok = alg === 'ed25519'
      ? verify(null, Buffer.from(input), publicKey, signature)
      : verify('sha256', Buffer.from(input), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    expect(ok).toBe(true);
  });

  it('refuses a signature with any one byte changed', () => {
    const signature = signWith(alg, keys.privateKey, input);
    for (const i of [0, 31, 32, 63]) expect(verifyWith(alg, publicKey, input, flipped(signature, i))).toBe(false);
  });

  it('refuses a signature made by another key of the same algorithm', () => {
    const other = generateDeviceKeys(alg);
    expect(verifyWith(alg, publicKey, input, signWith(alg, other.privateKey, input))).toBe(false);
  });

  it('refuses a signature over another input (one character changed)', () => {
    const signature = signWith(alg, keys.privateKey, input.replace('approve', 'reject'));
    expect(verifyWith(alg, publicKey, input, signature)).toBe(false);
  });

  it('answers false, never throws, for malformed signatures', () => {
    const signature = signWith(alg, keys.privateKey, input);
    const bad = ['', 'not base64!', `${signature}==`, `${signature}A`, signature.slice(0, -1), Buffer.alloc(63).toString('base64url'),
      Buffer.alloc(65).toString('base64url'), Buffer.alloc(64).toString('base64url'), `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`,
      Buffer.from(signature, 'base64url').toString('base64'), 'A'.repeat(10_000), undefined, null, 42];
    for (const s of bad) expect(verifyWith(alg, publicKey, input, s as string)).toBe(false);
  });

  it('refuses a signature checked as the other algorithm or with a key of the other algorithm', () => {
    const signature = signWith(alg, keys.privateKey, input);
    const otherAlg: DeviceAlgorithm = alg === 'ed25519' ? 'p256' : 'ed25519';
    expect(verifyWith(otherAlg, publicKey, input, signature)).toBe(false);
    const otherKey = importPublicKey(otherAlg, generateDeviceKeys(otherAlg).publicKey);
    expect(verifyWith(alg, otherKey, input, signature)).toBe(false);
    expect(() => signWith(otherAlg, keys.privateKey, input)).toThrow(TypeError);
  });

  it('round-trips a signed answer and refuses it once any signed field is changed', () => {
    const answer: DeviceAnswer = {
      authenticationId: 'authn_1', deviceId: 'dev_1', decision: 'approve', challenge: newChallenge(), amountMinor: 1234, currency: 'USD',
      merchantId: 'mer_1', reference: 'auth_ref_1', signedAt: new Date(NOW).toISOString(),
    };
    const signed = signAnswer(alg, keys.privateKey, { ...answer, extra: 'dropped' } as DeviceAnswer);
    expect(Object.keys(signed).sort()).toEqual([...Object.keys(answer), 'signature'].sort());
    expect(verifyAnswer(alg, publicKey, signed)).toBe(true);
    const changes: Array<Partial<DeviceAnswer>> = [{ authenticationId: 'authn_2' }, { deviceId: 'dev_2' }, { decision: 'reject' },
      { challenge: newChallenge() }, { amountMinor: 1235 }, { currency: 'EUR' }, { merchantId: 'mer_2' }, { reference: 'x' },
      { signedAt: new Date(NOW + 1).toISOString() }];
    for (const change of changes) expect(verifyAnswer(alg, publicKey, { ...signed, ...change })).toBe(false);
  });

  it('makes a poll header that parses back and verifies over the poll input', () => {
    const header = devicePollHeader('dev_1', alg, keys.privateKey, NOW + 999);
    const parsed = parseDevicePollHeader(header)!;
    expect(parsed).toMatchObject({ deviceId: 'dev_1', unixSeconds: Math.floor(NOW / 1000) });
    expect(header).toBe(`Device dev_1:${parsed.unixSeconds}:${parsed.signature}`);
    expect(verifyWith(alg, publicKey, pollSigningInput('dev_1', parsed.unixSeconds), parsed.signature)).toBe(true);
    expect(verifyWith(alg, publicKey, pollSigningInput('dev_2', parsed.unixSeconds), parsed.signature)).toBe(false);
    expect(verifyWith(alg, publicKey, pollSigningInput('dev_1', parsed.unixSeconds + 1), parsed.signature)).toBe(false);
  });
});

describe('importPublicKey', () => {
  const refused = (alg: DeviceAlgorithm, b64: unknown) => {
    try {
      importPublicKey(alg, b64 as string);
    } catch (err) {
      return err instanceof DeviceKeyError && err.code === 'invalid_public_key';
    }
    return false;
  };

  it('accepts each algorithm\'s own keys', () => {
    for (const alg of ALGORITHMS) expect(importPublicKey(alg, generateDeviceKeys(alg).publicKey).type).toBe('public');
  });

  it('refuses garbage, an empty or over-long text and padded or standard base64', () => {
    const good = generateDeviceKeys('ed25519').publicKey;
    for (const bad of ['', 'garbage', 'not base64!', randomBytes(44).toString('base64url'), 'A'.repeat(10_000), `${good}=`,
      Buffer.from(good, 'base64url').toString('base64'), undefined, 42]) {
      expect(refused('ed25519', bad)).toBe(true);
    }
  });

  it('refuses a P-256 key given as ed25519, and an Ed25519 key given as p256', () => {
    expect(refused('ed25519', generateDeviceKeys('p256').publicKey)).toBe(true);
    expect(refused('p256', generateDeviceKeys('ed25519').publicKey)).toBe(true);
  });

  it('refuses an RSA key, another curve and an X25519 key', () => {
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' }).toString('base64url');
    const rsa = spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    const p384 = spki(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey);
    const x25519 = spki(generateKeyPairSync('x25519').publicKey);
    for (const alg of ALGORITHMS) for (const key of [rsa, p384, x25519]) expect(refused(alg, key)).toBe(true);
  });

  it('refuses a key with bytes after its DER (what parses is all key)', () => {
    for (const alg of ALGORITHMS) {
      const der = Buffer.from(generateDeviceKeys(alg).publicKey, 'base64url');
      expect(refused(alg, Buffer.concat([der, Buffer.from([0])]).toString('base64url'))).toBe(true);
    }
  });

  it('accepts a P-256 key with a compressed point, which verifies that key\'s signatures', () => {
    const keys = generateDeviceKeys('p256');
    const jwk = importPublicKey('p256', keys.publicKey).export({ format: 'jwk' });
    const y = Buffer.from(jwk.y!, 'base64url');
    // SPKI of a compressed P-256 point: the same algorithm header with the shorter lengths, then 02/03 ‖ x
    const header = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
    const compressed = Buffer.concat([header, Buffer.from([2 + (y[31] & 1)]), Buffer.from(jwk.x!, 'base64url')]).toString('base64url');
    expect(verifyWith('p256', importPublicKey('p256', compressed), 'x', signWith('p256', keys.privateKey, 'x'))).toBe(true);
    expect(refused('ed25519', compressed)).toBe(true);
  });
});

describe('the server key', () => {
  it('is the same key and key id for the same seed, and another for another seed', () => {
    const a = serverKeyFromSeed(Buffer.from(SEED));
    const b = serverKeyFromSeed(Buffer.from(SEED));
    expect(a.publicKey).toBe(b.publicKey);
    expect(a.keyId).toBe(b.keyId);
    expect(a.keyId).toMatch(/^authn-[0-9a-f]{16}$/);
    expect(serverKeyIdOf(a.publicKey)).toBe(a.keyId);
    const c = serverKeyFromSeed(Buffer.alloc(32, 8));
    expect(c.publicKey).not.toBe(a.publicKey);
    expect(c.keyId).not.toBe(a.keyId);
  });

  it('is the RFC 8032 key of its seed (test vector 1)', () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const spki = Buffer.from(serverKeyFromSeed(seed).publicKey, 'base64url');
    expect(spki.subarray(-32).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  });

  it('needs a 32-byte seed', () => {
    for (const n of [0, 31, 33]) expect(() => serverKeyFromSeed(Buffer.alloc(n))).toThrow(RangeError);
  });

  it('signs a request that verifies with its public key, carrying exactly the request\'s fields', () => {
    const server = serverKeyFromSeed(SEED);
    const request = requestFor('dev_1', server.keyId);
    const signed = signRequest(server, { ...request, status: 'pending', createdAt: 'x' } as AuthenticationRequest);
    expect(Object.keys(signed).sort()).toEqual([...Object.keys(request), 'serverSignature'].sort());
    expect(verifyRequest(server.publicKey, signed)).toBe(true);
    expect(verifyWith('ed25519', importPublicKey('ed25519', server.publicKey), requestSigningInput(request), signed.serverSignature)).toBe(true);
  });

  it('refuses a request with a changed field, a flipped signature, another server\'s key or another key id', () => {
    const server = serverKeyFromSeed(SEED);
    const signed = signRequest(server, requestFor('dev_1', server.keyId));
    for (const change of [{ amountMinor: 1 }, { merchantName: 'Other' }, { deviceId: 'dev_2' }, { expiresAt: '2099-01-01T00:00:00.000Z' }]) {
      expect(verifyRequest(server.publicKey, { ...signed, ...change })).toBe(false);
    }
    expect(verifyRequest(server.publicKey, { ...signed, serverSignature: flipped(signed.serverSignature) })).toBe(false);
    const other = serverKeyFromSeed(Buffer.alloc(32, 9));
    expect(verifyRequest(other.publicKey, signed)).toBe(false);
    expect(verifyRequest(server.publicKey, { ...signed, serverKeyId: other.keyId })).toBe(false);
    expect(verifyRequest('garbage', signed)).toBe(false);
    expect(() => signRequest(server, requestFor('dev_1', other.keyId))).toThrow(RangeError);
  });
});

describe('codes, challenges and poll headers', () => {
  it('makes registration codes of the protocol\'s shape, each new', () => {
    const codes = Array.from({ length: 200 }, newRegistrationCode);
    for (const code of codes) expect(registrationCodeValid(code)).toBe(true);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('makes challenges of 32 random bytes in base64url', () => {
    const a = newChallenge();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(newChallenge()).not.toBe(a);
  });

  it('parses only well-formed poll headers', () => {
    const sig = 'A'.repeat(86);
    expect(parseDevicePollHeader(`Device dev_1:1735689600:${sig}`)).toEqual({ deviceId: 'dev_1', unixSeconds: 1735689600, signature: sig });
    for (const bad of [`Bearer dev_1:1735689600:${sig}`, `device dev_1:1735689600:${sig}`, `Device dev_1:-5:${sig}`, `Device dev_1:1.5:${sig}`,
      `Device dev_1:1735689600:`, `Device :1735689600:${sig}`, `Device dev:1:1735689600:${sig}`, `Device dev_1:1735689600:${sig}=`,
      `Device dev 1:1735689600:${sig}`, `Device dev_1:1735689600:${sig} `, `Device dev_1:1735689600:${'A'.repeat(300)}`,
      `Device dev_1:${'9'.repeat(13)}:${sig}`, '', undefined]) {
      expect(parseDevicePollHeader(bad as string)).toBeNull();
    }
  });
});

// --- the device simulator -------------------------------------------------------------------------------------------

function deviceState(alg: DeviceAlgorithm, apiUrl = 'http://127.0.0.1:9'): { state: DeviceState; publicKey: KeyObject } {
  const keys = generateDeviceKeys(alg);
  const server = serverKeyFromSeed(SEED);
  return {
    publicKey: importPublicKey(alg, keys.publicKey),
    state: {
      apiUrl, id: `dev_${alg}`, customerId: 'cus_1', merchantId: 'mer_1', algorithm: alg, name: 'Test phone', createdAt: new Date(NOW).toISOString(),
      publicKey: keys.publicKey, privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64url'),
      serverKey: { id: server.keyId, algorithm: 'ed25519', publicKey: server.publicKey },
    },
  };
}

const checkCode = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    if (err instanceof DeviceCheckError) return err.code;
    throw err;
  }
  return undefined;
};

describe.each(ALGORITHMS)('DeviceSimulator (%s) checks what it is asked', (alg) => {
  const server = serverKeyFromSeed(SEED);
  const { state, publicKey } = deviceState(alg);
  const device = DeviceSimulator.fromJSON(state);
  const signed = (over: Partial<AuthenticationRequest> = {}) => signRequest(server, requestFor(device.id, server.keyId, over));

  it('answers a request for it, signed by its server and not expired, with an answer bound to that request', () => {
    const request = signed();
    expect(checkCode(() => device.check(request, NOW))).toBeUndefined();
    const answer = device.answer(request, 'approve', NOW);
    expect(verifyAnswer(alg, publicKey, answer)).toBe(true);
    expect(answerBindingMismatch(request, answer)).toBeNull();
    expect(answer).toMatchObject({ deviceId: device.id, decision: 'approve', signedAt: new Date(NOW).toISOString() });
  });

  it('refuses a request for another device', () => {
    expect(checkCode(() => device.check(signed({ deviceId: 'dev_other' }), NOW))).toBe('not_for_this_device');
  });

  it('refuses a request with a bad server signature: tampered, flipped, or signed by another server key', () => {
    const request = signed();
    expect(checkCode(() => device.check({ ...request, amountMinor: 1 }, NOW))).toBe('bad_server_signature');
    expect(checkCode(() => device.check({ ...request, serverSignature: flipped(request.serverSignature) }, NOW))).toBe('bad_server_signature');
    expect(checkCode(() => device.check({ ...request, serverSignature: 'nonsense' }, NOW))).toBe('bad_server_signature');
    const other = serverKeyFromSeed(Buffer.alloc(32, 3));
    expect(checkCode(() => device.check(signRequest(other, requestFor(device.id, other.keyId)), NOW))).toBe('bad_server_signature');
  });

  it('refuses an expired request from its expiresAt on, and no answer is made for it', () => {
    const request = signed();
    const expires = Date.parse(request.expiresAt);
    expect(checkCode(() => device.check(request, expires - 1))).toBeUndefined();
    expect(checkCode(() => device.check(request, expires))).toBe('expired');
    expect(checkCode(() => device.answer(request, 'approve', expires + 60_000))).toBe('expired');
  });

  it('refuses a request issued further ahead of its clock than the tolerance', () => {
    const request = signed({ issuedAt: new Date(NOW + 5 * 60_000 + 1).toISOString(), expiresAt: new Date(NOW + 20 * 60_000).toISOString() });
    expect(checkCode(() => device.check(request, NOW))).toBe('not_yet_valid');
    expect(checkCode(() => device.check(request, NOW + 1))).toBeUndefined();
  });

  it('makes a forged answer that its own key does not verify', () => {
    const forged = device.forgedAnswer(signed(), 'approve', NOW);
    expect(verifyAnswer(alg, publicKey, forged)).toBe(false);
    expect(verifyAnswer(alg, publicKey, device.answer(signed(), 'approve', NOW))).toBe(true);
  });

  it('keeps its state through toJSON/fromJSON, and refuses a state whose keys do not match', () => {
    const again = DeviceSimulator.fromJSON(JSON.parse(JSON.stringify(device)));
    expect(again.toJSON()).toEqual(state);
    expect(verifyAnswer(alg, publicKey, again.answer(signed(), 'reject', NOW))).toBe(true);
    expect(() => DeviceSimulator.fromJSON({ ...state, publicKey: generateDeviceKeys(alg).publicKey })).toThrow();
    expect(() => DeviceSimulator.fromJSON({ ...state, serverKey: { ...state.serverKey, id: 'authn-0000000000000000' } })).toThrow();
    expect(() => DeviceSimulator.fromJSON({ ...state, algorithm: alg === 'ed25519' ? 'p256' : 'ed25519' })).toThrow();
  });
});

describe('DeviceSimulator over HTTP (a fake of the broker\'s device API)', () => {
  const server = serverKeyFromSeed(SEED);
  const registered = new Map<string, { alg: DeviceAlgorithm; key: KeyObject }>();
  const queued: SignedAuthenticationRequest[] = [];
  const received: any[] = [];
  let http: Server;
  let apiUrl = '';

  const reply = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const error = (code: string) => ({ error: { type: 'invalid_request_error', code, message: `refused: ${code}`, param: null } });

  beforeAll(async () => {
    http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
        const poll = /^\/v1\/devices\/([^/]+)\/authentications$/.exec(req.url ?? '');
        const response = /^\/v1\/authentications\/([^/]+)\/response$/.exec(req.url ?? '');
        if (req.method === 'POST' && req.url === '/v1/devices') {
          if (req.headers.authorization !== undefined || body.registrationCode !== 'PBDEV-ABCDE-FGH23-JKLMN-PQRST') {
            return reply(res, 400, error('invalid_registration_code'));
          }
          const id = `dev_${registered.size + 1}`;
          registered.set(id, { alg: body.algorithm, key: importPublicKey(body.algorithm, body.publicKey) });
          return reply(res, 201, {
            object: 'device', id, customerId: 'cus_1', merchantId: 'mer_1', algorithm: body.algorithm, name: body.name,
            createdAt: new Date().toISOString(), serverKey: { id: server.keyId, algorithm: 'ed25519', publicKey: server.publicKey },
          });
        }
        if (req.method === 'GET' && poll) {
          const parsed = parseDevicePollHeader(req.headers.authorization ?? '');
          const device = registered.get(poll[1]);
          if (!parsed || !device || parsed.deviceId !== poll[1]
            || !verifyWith(device.alg, device.key, pollSigningInput(parsed.deviceId, parsed.unixSeconds), parsed.signature)) {
            return reply(res, 401, error('invalid_device_signature'));
          }
          return reply(res, 200, { object: 'list', data: queued.filter((r) => r.deviceId === poll[1]) });
        }
        if (req.method === 'POST' && response) {
          received.push(body);
          const device = registered.get(body.deviceId);
          if (!device || body.authenticationId !== decodeURIComponent(response[1]) || !verifyAnswer(device.alg, device.key, body)) {
            return reply(res, 401, error('invalid_device_signature'));
          }
          return reply(res, 200, { object: 'authentication', id: body.authenticationId, status: body.decision === 'approve' ? 'approved' : 'rejected' });
        }
        return reply(res, 404, error('not_found'));
      });
    });
    await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
    apiUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  });

  afterAll(() => new Promise<void>((done) => http.close(() => done())));

  it('registers with a code, polls with a signed header, and posts a whole signed answer the API accepts', async () => {
    const device = await DeviceSimulator.register(apiUrl, 'PBDEV-ABCDE-FGH23-JKLMN-PQRST', { algorithm: 'p256', name: 'Phone' });
    expect(device.toJSON()).toMatchObject({ algorithm: 'p256', name: 'Phone', serverKey: { id: server.keyId, publicKey: server.publicKey } });
    queued.push(signRequest(server, requestFor(device.id, server.keyId, {
      id: 'authn_http', issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString(),
    })));
    const pending = await device.pending();
    expect(pending.map((r) => r.id)).toEqual(['authn_http']);
    const answered = await device.respond(pending[0], 'approve');
    expect(answered).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(Object.keys(received.at(-1)).sort()).toEqual(['amountMinor', 'authenticationId', 'challenge', 'currency', 'decision', 'deviceId',
      'merchantId', 'reference', 'signature', 'signedAt']);
  });

  it('throws the API\'s error, with its status and body, when registration is refused', async () => {
    const err = await DeviceSimulator.register(apiUrl, 'PBDEV-WRONG-WRONG-WRONG-WRONG').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_registration_code', body: error('invalid_registration_code') });
  });

  it('sends a forged answer as it is, and returns the refusal without throwing', async () => {
    const device = await DeviceSimulator.register(apiUrl, 'PBDEV-ABCDE-FGH23-JKLMN-PQRST');
    const request = signRequest(server, requestFor(device.id, server.keyId, {
      id: 'authn_forged', issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString(),
    }));
    const { status, body } = await device.send(device.forgedAnswer(request));
    expect(status).toBe(401);
    expect(body.error.code).toBe('invalid_device_signature');
  });

  it('refuses a server key whose id is not its public key\'s at registration', async () => {
    const liar = createServer((_req, res) => reply(res, 201, {
      object: 'device', id: 'dev_x', customerId: 'cus_1', merchantId: 'mer_1', algorithm: 'ed25519', name: 'x', createdAt: '',
      serverKey: { id: 'authn-0000000000000000', algorithm: 'ed25519', publicKey: server.publicKey },
    }));
    await new Promise<void>((done) => liar.listen(0, '127.0.0.1', done));
    try {
      const err = await DeviceSimulator.register(`http://127.0.0.1:${(liar.address() as AddressInfo).port}`, 'PBDEV-ABCDE-FGH23-JKLMN-PQRST')
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'DeviceApiError', code: 'unexpected_response' });
    } finally {
      await new Promise<void>((done) => liar.close(() => done()));
    }
  });
});
