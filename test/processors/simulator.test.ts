// The processor simulator over real HTTP and PostgreSQL, driven through HttpProcessorClient and SimulatorAdmin:
// card decisions, AVS, step-up authentication, capture/void/refund/reauthorize limits, expiry, settlement,
// idempotency under concurrency, every fault mode, state that outlives the process, and a schema upgraded in place.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb } from '../../ledger/db';
import type { Authorization, AvsCode } from '../../processors/client';
import { HttpProcessorClient, type SimulatorAdmin } from '../../processors/http-client';
import { SIM_SCHEMA, simulatorMigrationSource } from '../../processors/simulator/migrations';
import {
  AVS_BY_POSTAL_CODE, MAX_BATCH_CAPTURES, MAX_BODY_BYTES, startSimulator, TEST_CARDS, type RunningSimulator,
} from '../../processors/simulator/server';
import { testDb, uid } from '../support/env';
import {
  effectsOf as effectsAt, key, openSimulator, postRaw, rejected, startPrivateSimulator as start, testCard as card, unavailable,
} from '../support/processor-calls';

let sim: RunningSimulator;
let client: HttpProcessorClient;
let admin: SimulatorAdmin;

beforeAll(async () => {
  ({ sim, client, admin } = await openSimulator(5_000));
});
afterEach(async () => {
  await admin.clearFaults();
});
afterAll(async () => {
  await sim?.stop();
});

const VISA = '4242424242424242';

async function authorizeCard(cardNumber = VISA, amountMinor = 1_000, postalCode = '12345', reference = uid('order-')): Promise<Authorization> {
  const { token } = await client.tokenize(card(cardNumber), key());
  return client.authorize({ token, amountMinor, currency: 'USD', postalCode, reference }, key());
}

const effectsOf = (fn: () => Promise<unknown>) => effectsAt(admin, fn);
const raw = (path: string, init: Parameters<typeof postRaw>[2] = {}) => postRaw(sim.url, path, init);

describe('tokens', () => {
  it('tokenizes valid cards into tok_ tokens carrying last4 and brand, never the card number', async () => {
    const visa = await client.tokenize(card(VISA), key());
    expect(visa).toMatchObject({ last4: '4242', brand: 'visa' });
    expect(visa.token).toMatch(/^tok_/);
    expect(JSON.stringify(visa)).not.toContain(VISA);
    expect(await client.tokenize(card('5555555555554444'), key())).toMatchObject({ last4: '4444', brand: 'mastercard' });
  });

  it('refuses a card failing the Luhn check, and an expired card, with 400 invalid_card', async () => {
    await rejected(client.tokenize(card('4242424242424241'), key()), 'invalid_card', 400);
    await rejected(client.tokenize({ cardNumber: VISA, expMonth: 1, expYear: 2020 }, key()), 'invalid_card', 400);
  });
});

describe('CORS on the tokenization endpoint (a hosted page posts the card from the browser)', () => {
  const CORS = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': 'Content-Type, Idempotency-Key',
    'access-control-max-age': '600',
    'access-control-expose-headers': 'Idempotent-Replayed',
  };
  const corsOf = (r: globalThis.Response) =>
    Object.fromEntries([...r.headers].filter(([name]) => name.startsWith('access-control-')));
  const preflight = () => fetch(`${sim.url}/v1/tokens`, {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' },
  });
  const postToken = (body: unknown, idem = key()) => fetch(`${sim.url}/v1/tokens`, {
    method: 'POST', headers: { origin: 'https://shop.example', 'content-type': 'application/json', 'idempotency-key': idem }, body: JSON.stringify(body),
  });

  it('answers the preflight 204 with the CORS headers, without counting a call or applying a fault', async () => {
    await admin.setFaults({ mode: 'down', downStyle: '503', operations: ['tokenize'] });
    const before = (await admin.stats()).requests.tokenize;
    const r = await preflight();
    expect(r.status).toBe(204);
    expect(corsOf(r)).toEqual(CORS);
    expect(await r.text()).toBe('');
    expect((await admin.stats()).requests.tokenize).toBe(before);
  });

  it('puts the CORS headers on a token, its replay, a 400 invalid_card and a faulted 503; no other endpoint has them', async () => {
    const idem = key();
    const first = await postToken(card(VISA), idem);
    expect(first.status).toBe(201);
    expect(corsOf(first)).toEqual(CORS);
    const replay = await postToken(card(VISA), idem);
    expect([replay.status, replay.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(corsOf(replay)).toEqual(CORS);
    expect(await replay.json()).toEqual(await first.json());

    const invalid = await postToken(card('4242424242424241'));
    expect([invalid.status, ((await invalid.json()) as { error: { code: string } }).error.code]).toEqual([400, 'invalid_card']);
    expect(corsOf(invalid)).toEqual(CORS);

    await admin.setFaults({ mode: 'down', downStyle: '503', operations: ['tokenize'] });
    const faulted = await postToken(card(VISA));
    expect(faulted.status).toBe(503);
    expect(corsOf(faulted)).toEqual(CORS);
    await admin.clearFaults();

    const a = await authorizeCard();
    const capture = await fetch(`${sim.url}/v1/authorizations/${a.id}/captures`, {
      method: 'POST', headers: { origin: 'https://shop.example', 'content-type': 'application/json', 'idempotency-key': key() },
      body: JSON.stringify({ amountMinor: 100 }),
    });
    expect(capture.status).toBe(201);
    expect(corsOf(capture)).toEqual({});
    const other = await fetch(`${sim.url}/v1/authorizations/${a.id}/captures`, {
      method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    });
    expect(corsOf(other)).toEqual({});
    expect(corsOf(await fetch(`${sim.url}/v1/transactions/${a.id}`))).toEqual({});
  });
});

describe('authorization decisions', () => {
  it('approves the approving test cards, with an expiry about 7 days out by default', async () => {
    for (const number of ['4242424242424242', '5555555555554444']) {
      const a = await authorizeCard(number, 2_500);
      expect(a).toMatchObject({ status: 'approved', amountMinor: 2_500, currency: 'USD', avsCode: 'Y' });
      expect(a.id).toMatch(/^auth_/);
      expect(a.declineCode).toBeUndefined();
      const days = (Date.parse(a.expiresAt!) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(6.9);
      expect(days).toBeLessThanOrEqual(7);
    }
  });

  it('declines the declining test cards with their codes (201, not an error) and no expiry', async () => {
    const declining = Object.entries(TEST_CARDS).filter(([, c]) => c.declineCode && !c.requiresAuthentication);
    expect(declining.map(([, c]) => c.declineCode).sort()).toEqual(['card_declined', 'expired_card', 'insufficient_funds']);
    for (const [number, c] of declining) {
      const a = await authorizeCard(number);
      expect(a).toMatchObject({ status: 'declined', declineCode: c.declineCode });
      expect(a.expiresAt).toBeUndefined();
    }
  });

  it('declines an unknown token as invalid_token with AVS U', async () => {
    const a = await client.authorize({ token: 'tok_doesnotexist', amountMinor: 100, currency: 'USD', postalCode: '12345', reference: uid() }, key());
    expect(a).toMatchObject({ status: 'declined', declineCode: 'invalid_token', avsCode: 'U' });
  });

  it('returns every AVS code by billing postal code, and Y for any other code', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const cases: Array<[string, AvsCode]> = [...Object.entries(AVS_BY_POSTAL_CODE), ['94107', 'Y']];
    expect(new Set(cases.map(([, c]) => c))).toEqual(new Set(['N', 'A', 'Z', 'U', 'S', 'R', 'Y']));
    for (const [postalCode, avs] of cases) {
      const a = await client.authorize({ token, amountMinor: 100, currency: 'USD', postalCode, reference: uid() }, key());
      expect(a.avsCode, postalCode).toBe(avs);
    }
  });
});

describe('step-up authentication (3-D Secure test cards)', () => {
  const STEP_UP = '4000002760003184';
  const STEP_UP_INSUFFICIENT = '4000008260003178';
  const authenticated = (authenticationId = uid('3ds_')) => ({ authenticated: true, authenticationId });
  const failed = (authenticationId = uid('3ds_')) => ({ authenticated: false, authenticationId });

  it('answers authentication_required on both step-up cards: its declineCode, no expiry, an id to authenticate against', async () => {
    expect(Object.entries(TEST_CARDS).filter(([, c]) => c.requiresAuthentication).map(([n]) => n).sort()).toEqual([STEP_UP, STEP_UP_INSUFFICIENT]);
    for (const number of [STEP_UP, STEP_UP_INSUFFICIENT]) {
      let a!: Authorization;
      const d = await effectsOf(async () => { a = await authorizeCard(number, 1_000, '22222'); });
      expect(a).toMatchObject({ status: 'authentication_required', declineCode: 'authentication_required', avsCode: 'Z', amountMinor: 1_000 });
      expect(a.id).toMatch(/^auth_/);
      expect(a.expiresAt).toBeUndefined();
      expect(a.authenticationId).toBeUndefined();
      expect(d).toMatchObject({ authorizations: 1, approvedAuthorizations: 0, authentications: 0 });
      expect(await client.getTransaction(a.id)).toMatchObject({ object: 'authorization', status: 'authentication_required' });
    }
  });

  it('approves 4000002760003184 once authenticated: expiresAt as for an approval, AVS by postal code, the authentication id kept, capturable', async () => {
    const a = await authorizeCard(STEP_UP, 1_000, '22222');
    let done!: Authorization;
    const d = await effectsOf(async () => { done = await client.completeAuthentication(a.id, authenticated('3ds_abc-123'), key()); });
    expect(done).toMatchObject({ id: a.id, status: 'approved', avsCode: 'Z', amountMinor: 1_000, authenticationId: '3ds_abc-123' });
    expect(done.declineCode).toBeUndefined();
    const days = (Date.parse(done.expiresAt!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    expect(d).toMatchObject({ authentications: 1, approvedAuthorizations: 1, authorizations: 0 });
    expect(await client.getTransaction(a.id)).toMatchObject({ status: 'approved', authenticationId: '3ds_abc-123' });
    expect((await client.capture(a.id, 1_000, key())).amountMinor).toBe(1_000);
  });

  it('declines 4000008260003178 insufficient_funds once authenticated, and either card authentication_failed when not authenticated', async () => {
    const insufficient = await authorizeCard(STEP_UP_INSUFFICIENT);
    const done = await client.completeAuthentication(insufficient.id, authenticated(), key());
    expect(done).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
    expect(done.expiresAt).toBeUndefined();
    for (const number of [STEP_UP, STEP_UP_INSUFFICIENT]) {
      const a = await authorizeCard(number);
      const d = await effectsOf(async () => {
        const f = await client.completeAuthentication(a.id, failed('3ds_failed'), key());
        expect(f).toMatchObject({ status: 'declined', declineCode: 'authentication_failed', authenticationId: '3ds_failed' });
        expect(f.expiresAt).toBeUndefined();
      });
      expect(d).toMatchObject({ authentications: 1, approvedAuthorizations: 0 });
      await rejected(client.capture(a.id, 100, key()), 'authorization_declined', 409);
    }
  });

  it('replays a completion repeated with its key, refuses the key with another outcome, and answers a completed one as it stands under a new key', async () => {
    const a = await authorizeCard(STEP_UP);
    const k = key();
    const path = `/v1/authorizations/${a.id}/authentication`;
    const body = JSON.stringify({ authenticated: true, authenticationId: '3ds_once' });
    let first!: Authorization;
    const d = await effectsOf(async () => {
      first = await client.completeAuthentication(a.id, authenticated('3ds_once'), k);
      expect(await client.completeAuthentication(a.id, authenticated('3ds_once'), k)).toEqual(first);
      const again = await raw(path, { body, idem: k });
      expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
      // a new key, even with the opposite outcome, changes nothing: the first completion stands
      expect(await client.completeAuthentication(a.id, failed('3ds_other'), key())).toEqual(first);
    });
    expect(first).toMatchObject({ status: 'approved', authenticationId: '3ds_once' });
    expect(d).toMatchObject({ authentications: 1, approvedAuthorizations: 1 });
    await rejected(client.completeAuthentication(a.id, failed('3ds_once'), k), 'idempotency_key_reused', 422);
    expect(await client.getTransaction(a.id)).toMatchObject({ status: 'approved', authenticationId: '3ds_once' });
  });

  it('refuses an unknown authorization (404 resource_missing) and one that never awaited authentication (409 authentication_not_required)', async () => {
    await rejected(client.completeAuthentication('auth_doesnotexist', authenticated(), key()), 'resource_missing', 404);
    const approved = await authorizeCard(VISA);
    const declined = await authorizeCard('4000000000000002');
    for (const a of [approved, declined]) {
      await rejected(client.completeAuthentication(a.id, authenticated(), key()), 'authentication_not_required', 409);
      expect(await client.getTransaction(a.id)).toMatchObject({ status: a.status });
      expect(await client.getTransaction(a.id)).not.toHaveProperty('authenticationId');
    }
  });

  it('refuses to capture or void an authorization that awaits authentication (409 authorization_declined)', async () => {
    const a = await authorizeCard(STEP_UP);
    await rejected(client.capture(a.id, 100, key()), 'authorization_declined', 409);
    await rejected(client.void(a.id, key()), 'authorization_declined', 409);
    expect(await admin.capturesByAuthorization(a.id)).toEqual([]);
  });

  it('fails a charge batch line on either step-up card with authentication_required (a batch charge cannot step up)', async () => {
    const tokens = await Promise.all([STEP_UP, STEP_UP_INSUFFICIENT, VISA].map(async (n) => (await client.tokenize(card(n), key())).token));
    const reference = uid('micro-');
    const lines = tokens.map((token) => ({ idempotencyKey: key(), token, amountMinor: 50, currency: 'USD', reference }));
    const file = await client.submitChargeBatch(lines, key());
    expect(file.results.map((r) => [r.status, r.declineCode])).toEqual([
      ['failed', 'authentication_required'], ['failed', 'authentication_required'], ['succeeded', undefined],
    ]);
  });

  it('reauthorizes an authenticated authorization without asking again (merchant-initiated), and refuses one not authenticated (409 authorization_not_authenticated)', async () => {
    const a = await authorizeCard(STEP_UP, 1_000, '11111');
    await client.completeAuthentication(a.id, authenticated(), key());
    const fresh = await client.reauthorize(a.id, 1_500, key());
    expect(fresh).toMatchObject({ status: 'approved', amountMinor: 1_500, avsCode: 'A' });
    expect(fresh.expiresAt).toBeDefined();
    expect(fresh.authenticationId).toBeUndefined();
    // a reauthorization of a reauthorization stays merchant-initiated; it never awaits authentication
    expect(await client.reauthorize(fresh.id, 500, key())).toMatchObject({ status: 'approved' });
    await rejected(client.completeAuthentication(fresh.id, authenticated(), key()), 'authentication_not_required', 409);

    const insufficient = await authorizeCard(STEP_UP_INSUFFICIENT);
    await client.completeAuthentication(insufficient.id, authenticated(), key());
    expect(await client.reauthorize(insufficient.id, 100, key())).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });

    const awaiting = await authorizeCard(STEP_UP);
    await rejected(client.reauthorize(awaiting.id, 1_000, key()), 'authorization_not_authenticated', 409);
    await client.completeAuthentication(awaiting.id, failed(), key());
    await rejected(client.reauthorize(awaiting.id, 1_000, key()), 'authorization_not_authenticated', 409);
  });

  it('validates the completion: authenticated a boolean, authenticationId 1 to 100 of [A-Za-z0-9_-], no other field, an Idempotency-Key', async () => {
    const a = await authorizeCard(STEP_UP);
    const path = `/v1/authorizations/${a.id}/authentication`;
    const cases: Array<[Parameters<typeof raw>[1], number, string]> = [
      [{ body: '{"authenticated":true}', idem: key() }, 400, 'parameter_missing'],
      [{ body: '{"authenticationId":"3ds_1"}', idem: key() }, 400, 'parameter_missing'],
      [{ body: '{"authenticated":"true","authenticationId":"3ds_1"}', idem: key() }, 400, 'parameter_invalid'],
      [{ body: '{"authenticated":true,"authenticationId":""}', idem: key() }, 400, 'parameter_invalid'],
      [{ body: '{"authenticated":true,"authenticationId":"3ds 1"}', idem: key() }, 400, 'parameter_invalid'],
      [{ body: JSON.stringify({ authenticated: true, authenticationId: 'x'.repeat(101) }), idem: key() }, 400, 'parameter_invalid'],
      [{ body: '{"authenticated":true,"authenticationId":"3ds_1","eci":"05"}', idem: key() }, 400, 'unknown_parameter'],
      [{ body: '{"authenticated":true,"authenticationId":"3ds_1"}' }, 400, 'idempotency_key_missing'],
    ];
    for (const [init, status, code] of cases) {
      const r = await raw(path, init);
      expect([r.status, r.body.error?.code], init?.body?.slice(0, 60)).toEqual([status, code]);
    }
    expect(await client.getTransaction(a.id)).toMatchObject({ status: 'authentication_required' });
    const longest = 'x'.repeat(100);
    expect(await client.completeAuthentication(a.id, authenticated(longest), key())).toMatchObject({ status: 'approved', authenticationId: longest });
  });
});

describe('captures, voids and expiry', () => {
  it('captures partially and repeatedly up to the authorized amount, and refuses one minor unit more (409 over_capture)', async () => {
    const a = await authorizeCard(VISA, 1_000);
    const c1 = await client.capture(a.id, 300, key());
    const c2 = await client.capture(a.id, 700, key());
    expect(c1).toMatchObject({ authorizationId: a.id, amountMinor: 300, currency: 'USD' });
    expect(c2.id).not.toBe(c1.id);
    await rejected(client.capture(a.id, 1, key()), 'over_capture', 409);
    const captures = await admin.capturesByAuthorization(a.id);
    expect(captures.map((c) => c.amountMinor)).toEqual([300, 700]);

    const b = await authorizeCard(VISA, 1_000);
    await rejected(client.capture(b.id, 1_001, key()), 'over_capture', 409);
    expect((await client.capture(b.id, 1_000, key())).amountMinor).toBe(1_000);
  });

  it('refuses to capture a declined authorization (409 authorization_declined) or an unknown one (404)', async () => {
    const declined = await authorizeCard('4000000000000002');
    await rejected(client.capture(declined.id, 100, key()), 'authorization_declined', 409);
    await rejected(client.capture('auth_doesnotexist', 100, key()), 'resource_missing', 404);
  });

  it('voids the uncaptured remainder, then refuses capture (authorization_voided) and a second void (already_voided)', async () => {
    const a = await authorizeCard(VISA, 1_000);
    await client.capture(a.id, 400, key());
    expect(await client.void(a.id, key())).toEqual({ authorizationId: a.id, releasedMinor: 600, remainingMinor: 0 });
    await rejected(client.capture(a.id, 1, key()), 'authorization_voided', 409);
    await rejected(client.void(a.id, key()), 'already_voided', 409);
    expect(await client.getTransaction(a.id)).toMatchObject({ object: 'authorization', capturedMinor: 400, voided: true, releasedMinor: 600 });
  });

  it('releases part of an authorization (a partial void): the rest stays capturable, one unit more is over_capture', async () => {
    const a = await authorizeCard(VISA, 1_000);
    await client.capture(a.id, 200, key());
    expect(await client.void(a.id, key(), 300)).toEqual({ authorizationId: a.id, releasedMinor: 300, remainingMinor: 500 });
    expect(await client.getTransaction(a.id)).toMatchObject({ capturedMinor: 200, releasedMinor: 300, voided: false });
    await rejected(client.capture(a.id, 501, key()), 'over_capture', 409);
    expect((await client.capture(a.id, 500, key())).amountMinor).toBe(500);
    await rejected(client.capture(a.id, 1, key()), 'over_capture', 409);
    // nothing left: a full void releases 0 and voids it
    expect(await client.void(a.id, key())).toEqual({ authorizationId: a.id, releasedMinor: 0, remainingMinor: 0 });
    expect(await client.getTransaction(a.id)).toMatchObject({ capturedMinor: 700, releasedMinor: 300, voided: true });
  });

  it('refuses to release more than is left uncaptured (409 over_release) and changes nothing', async () => {
    const a = await authorizeCard(VISA, 1_000);
    await client.capture(a.id, 400, key());
    await client.void(a.id, key(), 100);
    await rejected(client.void(a.id, key(), 501), 'over_release', 409);
    expect(await client.getTransaction(a.id)).toMatchObject({ capturedMinor: 400, releasedMinor: 100, voided: false });
    const r = await raw(`/v1/authorizations/${a.id}/void`, { body: '{"amountMinor":0}', idem: key() });
    expect([r.status, r.body.error?.code]).toEqual([400, 'parameter_invalid']);
    expect((await client.capture(a.id, 500, key())).amountMinor).toBe(500);
  });

  it('voids the authorization when partial releases leave nothing: capture, a further void and reauthorization are refused', async () => {
    const a = await authorizeCard(VISA, 1_000);
    const d = await effectsOf(async () => {
      expect(await client.void(a.id, key(), 600)).toMatchObject({ releasedMinor: 600, remainingMinor: 400 });
      expect(await client.void(a.id, key(), 400)).toMatchObject({ releasedMinor: 400, remainingMinor: 0 });
    });
    expect(d).toMatchObject({ voids: 2 });
    expect(await client.getTransaction(a.id)).toMatchObject({ capturedMinor: 0, releasedMinor: 1_000, voided: true });
    await rejected(client.capture(a.id, 1, key()), 'authorization_voided', 409);
    await rejected(client.void(a.id, key(), 1), 'already_voided', 409);
    await rejected(client.reauthorize(a.id, 1_000, key()), 'authorization_voided', 409);
  });

  it('replays a partial void repeated with its key (Idempotent-Replayed, one release) and refuses the key with another amount', async () => {
    const a = await authorizeCard(VISA, 1_000);
    const k = key();
    const path = `/v1/authorizations/${a.id}/void`;
    const d = await effectsOf(async () => {
      const first = await raw(path, { body: '{"amountMinor":250}', idem: k });
      const again = await raw(path, { body: '{"amountMinor":250}', idem: k });
      expect(first).toMatchObject({ status: 200, body: { object: 'void', authorizationId: a.id, releasedMinor: 250, remainingMinor: 750 } });
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await client.void(a.id, k, 250)).toEqual({ authorizationId: a.id, releasedMinor: 250, remainingMinor: 750 });
    });
    expect(d).toMatchObject({ voids: 1 });
    await rejected(client.void(a.id, k, 300), 'idempotency_key_reused', 422);
    expect(await client.getTransaction(a.id)).toMatchObject({ releasedMinor: 250, voided: false });
  });

  it('refuses to capture an authorization past its validity (set to 1 s at run time): 409 authorization_expired', async () => {
    expect(await admin.setConfig({ authValiditySeconds: 1 })).toMatchObject({ authValiditySeconds: 1 });
    try {
      const a = await authorizeCard(VISA, 1_000);
      expect(Date.parse(a.expiresAt!) - Date.now()).toBeLessThanOrEqual(1_000);
      await expect.poll(() => Date.now() > Date.parse(a.expiresAt!), { timeout: 5_000, interval: 50 }).toBe(true); // the authorization's own expiry
      await rejected(client.capture(a.id, 100, key()), 'authorization_expired', 409);
      expect((await admin.capturesByAuthorization(a.id))).toEqual([]);
    } finally {
      await admin.setConfig({ authValiditySeconds: 7 * 24 * 3600 });
    }
  });
});

describe('refunds and reauthorization', () => {
  it('refunds partially up to the captured amount, and refuses one minor unit more (409 over_refund)', async () => {
    const a = await authorizeCard(VISA, 1_000);
    const c = await client.capture(a.id, 800, key());
    const r1 = await client.refund(c.id, 500, key());
    expect(r1).toMatchObject({ captureId: c.id, amountMinor: 500, currency: 'USD' });
    expect(r1.id).toMatch(/^re_/);
    await rejected(client.refund(c.id, 301, key()), 'over_refund', 409);
    await client.refund(c.id, 300, key());
    await rejected(client.refund(c.id, 1, key()), 'over_refund', 409);
    expect(await client.getTransaction(c.id)).toMatchObject({ object: 'capture', amountMinor: 800, refundedMinor: 800 });
  });

  it('reauthorizes as a new authorization on the same card and leaves the old one as it was', async () => {
    const reference = uid('order-');
    const old = await authorizeCard(VISA, 1_000, '11111', reference);
    await client.capture(old.id, 200, key());
    const fresh = await client.reauthorize(old.id, 1_500, key());
    expect(fresh.id).not.toBe(old.id);
    expect(fresh).toMatchObject({ status: 'approved', amountMinor: 1_500, currency: 'USD', avsCode: 'A', reference });
    expect(await client.getTransaction(old.id)).toMatchObject({ capturedMinor: 200, voided: false, amountMinor: 1_000 });
    expect(await client.getTransaction(fresh.id)).toMatchObject({ reauthorizedFrom: old.id, capturedMinor: 0 });
    expect((await admin.authorizationsByReference(reference)).map((a) => a.id)).toEqual([old.id, fresh.id]);

    // the card decides again: a declining card stays declined
    const declined = await authorizeCard('4000000000009995');
    expect(await client.reauthorize(declined.id, 100, key())).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
  });

  it('refuses to reauthorize a voided authorization (409 authorization_voided)', async () => {
    const a = await authorizeCard();
    await client.void(a.id, key());
    await rejected(client.reauthorize(a.id, 1_000, key()), 'authorization_voided', 409);
  });
});

describe('settlement, payouts and queries', () => {
  it('settles captures in one batch with totals per currency, and refuses a capture in a second batch (409 capture_already_settled)', async () => {
    const usd = await authorizeCard(VISA, 1_000);
    const { token } = await client.tokenize(card(VISA), key());
    const eur = await client.authorize({ token, amountMinor: 900, currency: 'EUR', postalCode: '12345', reference: uid() }, key());
    const c1 = await client.capture(usd.id, 600, key());
    const c2 = await client.capture(usd.id, 400, key());
    const c3 = await client.capture(eur.id, 900, key());
    const batch = await client.settleBatch([c1.id, c2.id, c3.id], key());
    expect(batch).toMatchObject({ captureIds: [c1.id, c2.id, c3.id], totals: { USD: 1_000, EUR: 900 } });
    const c4 = await client.capture((await authorizeCard()).id, 100, key());
    await rejected(client.settleBatch([c4.id, c2.id], key()), 'capture_already_settled', 409);
    expect(await client.getTransaction(c4.id)).not.toHaveProperty('batchId');
    await rejected(client.settleBatch([c4.id, 'cap_doesnotexist'], key()), 'resource_missing', 404);
  });

  it(`takes ${MAX_BATCH_CAPTURES} capture ids in a batch and refuses ${MAX_BATCH_CAPTURES + 1}, none, or a repeated id (400)`, async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `cap_unknown${i}`);
    // at the limit the request is valid and reaches the lookup (the ids are unknown: 404)
    await rejected(client.settleBatch(ids(MAX_BATCH_CAPTURES), key()), 'resource_missing', 404);
    await rejected(client.settleBatch(ids(MAX_BATCH_CAPTURES + 1), key()), 'parameter_invalid', 400);
    await rejected(client.settleBatch([], key()), 'parameter_invalid', 400);
    await rejected(client.settleBatch(['cap_a', 'cap_a'], key()), 'parameter_invalid', 400);
  });

  it('pays out, finds every kind of transaction by id with its object kind, and returns undefined for an unknown id', async () => {
    const po = await client.payout('acct_seller_1', 12_345, 'GBP', key());
    expect(po).toMatchObject({ destination: 'acct_seller_1', amountMinor: 12_345, currency: 'GBP' });
    const a = await authorizeCard();
    const c = await client.capture(a.id, 100, key());
    const r = await client.refund(c.id, 50, key());
    const b = await client.settleBatch([c.id], key());
    const kinds = await Promise.all([a.id, c.id, r.id, b.id, po.id].map(async (id) => (await client.getTransaction(id))?.object));
    expect(kinds).toEqual(['authorization', 'capture', 'refund', 'settlement_batch', 'payout']);
    expect(await client.getTransaction('auth_doesnotexist')).toBeUndefined();
    expect(await client.getTransaction('nothing')).toBeUndefined();
  });
});

describe('request validation', () => {
  it('refuses unknown fields, bad amounts and currencies, a missing Idempotency-Key, non-JSON and oversized bodies', async () => {
    const a = await authorizeCard();
    const capture = `/v1/authorizations/${a.id}/captures`;
    const cases: Array<[string, Parameters<typeof raw>[1], number, string]> = [
      [capture, { body: '{"amountMinor":100,"extra":1}', idem: key() }, 400, 'unknown_parameter'],
      [capture, { body: '{"amountMinor":1.5}', idem: key() }, 400, 'parameter_invalid'],
      [capture, { body: '{"amountMinor":0}', idem: key() }, 400, 'parameter_invalid'],
      [capture, { body: `{"amountMinor":${Number.MAX_SAFE_INTEGER + 1}}`, idem: key() }, 400, 'parameter_invalid'],
      [capture, { body: '{"amountMinor":"100"}', idem: key() }, 400, 'parameter_invalid'],
      [capture, { body: '{}', idem: key() }, 400, 'parameter_missing'],
      [capture, { body: '{"amountMinor":100}' }, 400, 'idempotency_key_missing'],
      [capture, { body: '{"amountMinor":', idem: key() }, 400, 'invalid_json'],
      [capture, { body: 'amountMinor=100', idem: key(), contentType: 'text/plain' }, 415, 'unsupported_media_type'],
      ['/v1/payouts', { body: '{"destination":"d","amountMinor":1,"currency":"usd"}', idem: key() }, 400, 'parameter_invalid'],
      ['/v1/payouts', { body: JSON.stringify({ destination: 'x'.repeat(MAX_BODY_BYTES), amountMinor: 1, currency: 'USD' }), idem: key() }, 413, 'body_too_large'],
    ];
    for (const [path, init, status, code] of cases) {
      const r = await raw(path, init);
      expect([r.status, r.body.error?.code], init?.body?.slice(0, 60)).toEqual([status, code]);
    }
    expect(await admin.capturesByAuthorization(a.id)).toEqual([]);
  });
});

describe('idempotency', () => {
  it('answers a repeated call with the same key with the first result and applies one effect', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const req = { token, amountMinor: 700, currency: 'USD', postalCode: '12345', reference: uid() };
    const k = key();
    let first!: Authorization;
    let second!: Authorization;
    const d = await effectsOf(async () => {
      first = await client.authorize(req, k);
      second = await client.authorize(req, k);
    });
    expect(second).toEqual(first);
    expect(d).toMatchObject({ authorizations: 1, approvedAuthorizations: 1 });

    // a stored refusal replays too, with no capture made
    const ck = key();
    await rejected(client.capture(first.id, 701, ck), 'over_capture', 409);
    await rejected(client.capture(first.id, 701, ck), 'over_capture', 409);
    const replay = await raw(`/v1/authorizations/${first.id}/captures`, { body: '{"amountMinor":701}', idem: ck });
    expect(replay).toMatchObject({ status: 409, body: { error: { code: 'over_capture' } } });
  });

  it('refuses the same key with a different body, or on another operation, with 422 idempotency_key_reused', async () => {
    const a = await authorizeCard(VISA, 1_000);
    const k = key();
    await client.capture(a.id, 100, k);
    await rejected(client.capture(a.id, 200, k), 'idempotency_key_reused', 422);
    await rejected(client.refund('cap_x', 100, k), 'idempotency_key_reused', 422);
    expect((await admin.capturesByAuthorization(a.id)).map((c) => c.amountMinor)).toEqual([100]);
  });

  it('makes exactly one authorization from 10 concurrent calls with the same key', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const reference = uid('order-');
    const k = key();
    let results: Authorization[] = [];
    const d = await effectsOf(async () => {
      results = await Promise.all(Array.from({ length: 10 }, () =>
        client.authorize({ token, amountMinor: 5_000, currency: 'USD', postalCode: '12345', reference }, k)));
    });
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(d).toMatchObject({ authorizations: 1 });
    expect(await admin.authorizationsByReference(reference)).toHaveLength(1);
  });

  it('makes exactly the captures that fit when different keys capture one authorization concurrently', async () => {
    const a = await authorizeCard(VISA, 1_000);
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => client.capture(a.id, 300, key())));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'over_capture' });
    expect(await client.getTransaction(a.id)).toMatchObject({ capturedMinor: 900 });
  });
});

describe('faults', () => {
  it('down+refuse closes the public listener (connection refused) while admin answers, and mode none reopens it', async () => {
    await client.tokenize(card(VISA), key()); // a kept-alive connection exists before the listener closes
    expect(await admin.setFaults({ mode: 'down', downStyle: 'refuse' })).toMatchObject({ mode: 'down', downStyle: 'refuse' });
    const err = await unavailable(client.tokenize(card(VISA), key()));
    expect(err.message).toMatch(/ECONNREFUSED/);
    await expect(fetch(`${sim.url}/health`)).rejects.toThrow(/fetch failed/);
    expect(await admin.faults()).toMatchObject({ mode: 'down' });
    await admin.setFaults({ mode: 'none' });
    expect((await client.tokenize(card(VISA), key())).token).toMatch(/^tok_/);
  });

  it('down+503 answers 503 processor_unavailable with no effect', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const reference = uid('order-');
    await admin.setFaults({ mode: 'down', downStyle: '503' });
    const d = await effectsOf(async () => {
      const err = await unavailable(client.authorize({ token, amountMinor: 100, currency: 'USD', postalCode: '1', reference }, key()));
      expect(err.message).toMatch(/503 processor_unavailable/);
    });
    expect(d).toMatchObject({ authorizations: 0 });
    expect(await admin.authorizationsByReference(reference)).toEqual([]);
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
  });

  it('flaky at rate 1.0 on authorize fails every authorization and nothing else', async () => {
    const a = await authorizeCard(VISA, 1_000);
    await admin.setFaults({ mode: 'flaky', failureRate: 1, operations: ['authorize'] });
    const { token } = await client.tokenize(card(VISA), key());
    for (let i = 0; i < 3; i++) {
      await unavailable(client.authorize({ token, amountMinor: 100, currency: 'USD', postalCode: '1', reference: uid() }, key()));
    }
    expect((await client.capture(a.id, 100, key())).amountMinor).toBe(100);
    expect((await client.reauthorize(a.id, 100, key())).status).toBe('approved');
  });

  it('flaky with a seed fails the same calls on every run, and some but not all of them', async () => {
    const pattern = async () => {
      await admin.setFaults({ mode: 'flaky', failureRate: 0.5, seed: 42 });
      const out: boolean[] = [];
      for (let i = 0; i < 12; i++) out.push(await client.tokenize(card(VISA), key()).then(() => true, () => false));
      return out;
    };
    const first = await pattern();
    expect(await pattern()).toEqual(first);
    expect(first).toContain(true);
    expect(first).toContain(false);
  });

  it('count limits a fault to the next N matching calls, then it reverts to none', async () => {
    await admin.setFaults({ mode: 'down', downStyle: '503', operations: ['tokenize'], count: 2 });
    await unavailable(client.tokenize(card(VISA), key()));
    await unavailable(client.tokenize(card(VISA), key()));
    expect((await client.tokenize(card(VISA), key())).token).toMatch(/^tok_/);
    expect(await admin.faults()).toMatchObject({ mode: 'none' });
    // refuse closes the listener for every call, so it takes neither count nor operations
    await expect(admin.setFaults({ mode: 'down', downStyle: 'refuse', count: 1 })).rejects.toThrow(/400/);
  });

  it('slow past the client timeout: ProcessorUnavailableError, the effect still lands once, and a retry with the key returns it', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const reference = uid('order-');
    const req = { token, amountMinor: 100, currency: 'USD', postalCode: '1', reference };
    const k = key();
    await admin.setFaults({ mode: 'slow', latencyMs: 500, operations: ['authorize'] });
    const impatient = new HttpProcessorClient({ baseUrl: sim.url, timeoutMs: 100 });
    expect((await unavailable(impatient.authorize(req, k))).message).toMatch(/timed out/);
    await admin.clearFaults();
    // the retry waits for the slow call's transaction (same key) or replays its stored result
    let found: Authorization[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = await admin.authorizationsByReference(reference);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    const retried = await client.authorize(req, k);
    expect(found).toHaveLength(1);
    expect(retried.id).toBe(found[0].id);
    expect(await admin.authorizationsByReference(reference)).toHaveLength(1);
  });

  it('lost_response commits the effect, then drops the connection: the client sees ProcessorUnavailableError, the effect happened once, and a retry with the key returns it', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const reference = uid('order-');
    const req = { token, amountMinor: 4_200, currency: 'USD', postalCode: '1', reference };
    const k = key();
    await admin.setFaults({ mode: 'lost_response', operations: ['authorize'], count: 1 });
    let retried!: Authorization;
    const d = await effectsOf(async () => {
      await unavailable(client.authorize(req, k));
      retried = await client.authorize(req, k);
    });
    expect(d).toMatchObject({ authorizations: 1, approvedAuthorizations: 1 });
    const atProcessor = await admin.authorizationsByReference(reference);
    expect(atProcessor.map((a) => a.id)).toEqual([retried.id]);
    expect(retried).toMatchObject({ status: 'approved', amountMinor: 4_200 });
    const stats = await admin.stats();
    expect(stats.requests.authorize).toBeGreaterThanOrEqual(2);
  });
});

describe('schema upgrade', () => {
  it('upgrades a database at 003 in place: its authorizations and tokens keep working, and step-up cards work on it', async () => {
    const main = testDb(1);
    const name = uid('simupgrade_');
    await main.raw(`CREATE DATABASE ${name}`);
    const url = inject('databaseUrl').replace(/\/[^/]*$/, `/${name}`);
    try {
      // the schema as it was before step-up authentication, with a token and an approved authorization on it
      const old = createDb(url);
      let authId: string;
      try {
        await old.raw(`CREATE SCHEMA ${SIM_SCHEMA}`);
        const config = { migrationSource: simulatorMigrationSource, tableName: 'processor_sim_migrations', schemaName: SIM_SCHEMA };
        for (let i = 0; i < 3; i++) await old.migrate.up(config);
        const [completed] = await old.migrate.list(config) as [Array<{ name: string }>, unknown[]];
        expect(completed.map((m) => m.name)).toEqual(['001_processor_sim', '002_batch_files', '003_partial_voids']);
        await old.raw(`INSERT INTO ${SIM_SCHEMA}.card_tokens (token, last4, brand, exp_month, exp_year) VALUES ('tok_old', '4242', 'visa', 12, 2099)`);
        const [row] = await old(`${SIM_SCHEMA}.authorizations`).insert({
          id: 'auth_old', token: 'tok_old', amount_minor: 1_000, currency: 'USD', postal_code: '12345', reference: 'order-old',
          status: 'approved', avs_code: 'Y', expires_at: old.raw("now() + interval '1 day'"),
        }).returning('id');
        authId = row.id as string;
      } finally {
        await old.destroy();
      }

      const upgraded = await startSimulator({ databaseUrl: url, port: 0, adminPort: 0 });
      try {
        const c = new HttpProcessorClient({ baseUrl: upgraded.url });
        expect(await c.getTransaction(authId)).toMatchObject({ status: 'approved', capturedMinor: 0 });
        expect(await c.getTransaction(authId)).not.toHaveProperty('authenticationId');
        expect((await c.capture(authId, 400, key())).amountMinor).toBe(400);
        await rejected(c.completeAuthentication(authId, { authenticated: true, authenticationId: '3ds_1' }, key()), 'authentication_not_required', 409);
        expect(await c.authorize({ token: 'tok_old', amountMinor: 100, currency: 'USD', postalCode: '1', reference: uid() }, key()))
          .toMatchObject({ status: 'approved' });
        const { token } = await c.tokenize(card('4000002760003184'), key());
        const a = await c.authorize({ token, amountMinor: 100, currency: 'USD', postalCode: '1', reference: uid() }, key());
        expect(a.status).toBe('authentication_required');
        expect(await c.completeAuthentication(a.id, { authenticated: true, authenticationId: '3ds_1' }, key())).toMatchObject({ status: 'approved' });
      } finally {
        await upgraded.stop();
      }
    } finally {
      await main.raw(`DROP DATABASE ${name} WITH (FORCE)`);
      await main.destroy();
    }
  });
});

describe('persistence', () => {
  it('keeps state across a stop and a new simulator on the same database', async () => {
    const first = await start();
    const c1 = new HttpProcessorClient({ baseUrl: first.url });
    const { token } = await c1.tokenize(card(VISA), key());
    const authKey = key();
    const req = { token, amountMinor: 1_000, currency: 'USD', postalCode: '1', reference: uid() };
    const a = await c1.authorize(req, authKey);
    await c1.capture(a.id, 400, key());
    await first.stop();
    await unavailable(c1.getTransaction(a.id));

    const second = await start();
    try {
      const c2 = new HttpProcessorClient({ baseUrl: second.url });
      expect(await c2.getTransaction(a.id)).toMatchObject({ capturedMinor: 400, status: 'approved' });
      expect((await c2.authorize(req, authKey)).id).toBe(a.id);
      await c2.capture(a.id, 600, key());
      await rejected(c2.capture(a.id, 1, key()), 'over_capture', 409);
      expect((await c2.authorize({ ...req, reference: uid() }, key())).status).toBe('approved');
    } finally {
      await second.stop();
    }
  });
});
