// API keys over real HTTP and PostgreSQL: listing without secrets, more keys, read-only keys, rolling with an overlap,
// revoking (not a principal's own last key), last-used times written once a minute, and each key's rate limit. Time
// is the app's injected clock, so an overlap's end, a minute passing and a bucket's refill are steps, not sleeps.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { perCopy, TokenBuckets } from '../../api/rateLimit';
import { LAST_USED_INTERVAL_MS, MAX_ACTIVE_KEYS_PER_PRINCIPAL, MAX_ROLL_OVERLAP_SECONDS } from '../../stores/principals';
import { testApp } from '../support/app';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call, listen } from '../support/http';

const database = testDatabase();
const { db, stores } = database;
let connection: Connection;
let now = Date.parse('2030-01-01T00:00:00Z');
const clock = () => now;
let server: Awaited<ReturnType<typeof listen>>;
let base: string;
let operator: string;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  server = await listen((await testApp(database, new Client({ connection, dataConverter: testDataConverter() }), { clock })).app);
  base = `${server.base}/v1`;
  operator = (await stores.principals.create('operator', 'Keys operator')).apiKey;
});
afterAll(async () => {
  await server.close();
  await connection.close();
  await database.close();
});

const merchant = async () => {
  const { merchant: m, apiKey } = await stores.merchants.create(`Keys ${uid()}`);
  return { id: m.id, key: apiKey, keyId: apiKey.split('_')[1] };
};
const newKey = (key: string, body: object = {}) => call(base, '/api-keys', { key, idem: uid(), body });
const me = async (key: string) => (await call(base, '/me', { key })).status;

describe('listing keys', () => {
  it("shows a principal its own keys, newest first, with a hint and never the secret; operators any principal's", async () => {
    const m = await merchant();
    const second = await newKey(m.key);
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ object: 'api_key', principalId: m.id, mode: 'full', last4: second.body.apiKey.slice(-4),
      expiresAt: null, revokedAt: null });
    const list = await call(base, '/api-keys', { key: m.key });
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: { id: string }) => k.id)).toEqual([second.body.id, m.keyId]);
    expect(list.body.data[1]).toMatchObject({ last4: m.key.slice(-4), mode: 'full' });
    expect(JSON.stringify(list.body)).not.toContain(m.key);
    expect(JSON.stringify(list.body)).not.toContain(second.body.apiKey);
    expect(list.body.data.every((k: object) => !('apiKey' in k))).toBe(true);

    const paged = await call(base, `/api-keys?limit=1&starting_after=${second.body.id}`, { key: m.key });
    expect(paged.body).toMatchObject({ has_more: false, data: [{ id: m.keyId }] });
    expect((await call(base, `/api-keys?principalId=${m.id}`, { key: operator })).body.data).toHaveLength(2);
    const other = await merchant();
    const refused = await call(base, `/api-keys?principalId=${m.id}`, { key: other.key });
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('resource_missing');
    expect((await call(base, '/api-keys?principalId=op_nobody', { key: operator })).status).toBe(404);
  });

  it('lets operators make keys for any principal, others only for themselves', async () => {
    const m = await merchant();
    const other = await merchant();
    const made = await newKey(operator, { principalId: m.id });
    expect(made.status).toBe(201);
    expect((await call(base, '/me', { key: made.body.apiKey })).body.id).toBe(m.id);
    expect((await newKey(other.key, { principalId: m.id })).status).toBe(404);
    expect((await newKey(m.key, { mode: 'admin' })).body.error).toMatchObject({ code: 'parameter_invalid', param: 'mode' });
  });
});

describe('read-only keys', () => {
  it('may GET and HEAD, and anything else is 403 api_key_read_only', async () => {
    const m = await merchant();
    const ro = await newKey(m.key, { mode: 'read_only' });
    expect(ro.body.mode).toBe('read_only');
    const key = ro.body.apiKey;
    expect(await me(key)).toBe(200);
    expect((await fetch(`${base}/me`, { method: 'HEAD', headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    const post = await newKey(key);
    expect(post.status).toBe(403);
    expect(post.body.error).toMatchObject({ type: 'permission_error', code: 'api_key_read_only' });
    const patch = await call(base, `/merchants/${m.id}`, { method: 'PATCH', key, body: { name: 'x' } });
    expect(patch.body.error.code).toBe('api_key_read_only');
    expect(Number((await db('api_keys').where({ principal_id: m.id }).count({ n: '*' }).first())!.n)).toBe(2);
  });
});

describe('rolling a key', () => {
  it('answers a new key once; the old one works until the overlap ends, then is 401', async () => {
    const m = await merchant();
    const rolled = await call(base, `/api-keys/${m.keyId}/roll`, { key: m.key, idem: uid(), body: { overlapSeconds: 3600 } });
    expect(rolled.status).toBe(201);
    expect(rolled.body).toMatchObject({ object: 'api_key', principalId: m.id, mode: 'full', expiresAt: null });
    const fresh = rolled.body.apiKey;
    expect(await me(fresh)).toBe(200);
    expect(await me(m.key)).toBe(200);
    const list = await call(base, '/api-keys', { key: fresh });
    expect(list.body.data.find((k: { id: string }) => k.id === m.keyId).expiresAt).toBe(new Date(now + 3600_000).toISOString());

    now += 3599_000;
    expect(await me(m.key)).toBe(200);
    now += 1000;
    const after = await call(base, '/me', { key: m.key });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_api_key');
    expect(await me(fresh)).toBe(200);
  });

  it('with no overlap stops the old key at once; a rolled or revoked key cannot be rolled', async () => {
    const m = await merchant();
    const rolled = await call(base, `/api-keys/${m.keyId}/roll`, { key: m.key, idem: uid(), method: 'POST' });
    expect(rolled.status).toBe(201);
    expect(await me(m.key)).toBe(401);
    const again = await call(base, `/api-keys/${m.keyId}/roll`, { key: rolled.body.apiKey, idem: uid(), method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('api_key_rolled');
    const spare = await newKey(rolled.body.apiKey);
    await call(base, `/api-keys/${spare.body.id}/revoke`, { key: rolled.body.apiKey, body: {} });
    expect((await call(base, `/api-keys/${spare.body.id}/roll`, { key: rolled.body.apiKey, idem: uid(), method: 'POST' })).body.error.code).toBe('api_key_revoked');
  });

  it(`takes an overlap of 0 to ${MAX_ROLL_OVERLAP_SECONDS} s, and keeps to ${MAX_ACTIVE_KEYS_PER_PRINCIPAL} working keys`, async () => {
    const m = await merchant();
    for (const overlapSeconds of [-1, MAX_ROLL_OVERLAP_SECONDS + 1, 1.5]) {
      const r = await call(base, `/api-keys/${m.keyId}/roll`, { key: m.key, idem: uid(), body: { overlapSeconds } });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'parameter_invalid', param: 'overlapSeconds' });
    }
    for (let i = 1; i < MAX_ACTIVE_KEYS_PER_PRINCIPAL; i++) expect((await newKey(m.key)).status).toBe(201);
    // at the limit: an overlap would make one key too many; without one, the old key stops as the new one starts
    const over = await call(base, `/api-keys/${m.keyId}/roll`, { key: m.key, idem: uid(), body: { overlapSeconds: MAX_ROLL_OVERLAP_SECONDS } });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe('too_many_api_keys');
    expect(await me(m.key)).toBe(200);
    const swap = await call(base, `/api-keys/${m.keyId}/roll`, { key: m.key, idem: uid(), body: { overlapSeconds: 0 } });
    expect(swap.status).toBe(201);
  });
});

describe('revoking a key', () => {
  it("refuses a principal's own last full key, revokes another at once, and a second revoke changes nothing", async () => {
    const m = await merchant();
    const last = await call(base, `/api-keys/${m.keyId}/revoke`, { key: m.key, body: {} });
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('last_api_key');
    expect(await me(m.key)).toBe(200);
    // a read-only key is not a replacement
    const ro = await newKey(m.key, { mode: 'read_only' });
    expect((await call(base, `/api-keys/${m.keyId}/revoke`, { key: m.key, body: {} })).body.error.code).toBe('last_api_key');

    const spare = await newKey(m.key);
    const revoked = await call(base, `/api-keys/${m.keyId}/revoke`, { key: spare.body.apiKey, body: {} });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: m.keyId, revokedAt: expect.any(String) });
    expect(await me(m.key)).toBe(401);
    const again = await call(base, `/api-keys/${m.keyId}/revoke`, { key: spare.body.apiKey, body: {} });
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    expect((await call(base, `/api-keys/${ro.body.id}/revoke`, { key: spare.body.apiKey, body: {} })).status).toBe(200);
  });

  it("lets an operator revoke a principal's last key, and hides other principals' keys (404)", async () => {
    const m = await merchant();
    const other = await merchant();
    expect((await call(base, `/api-keys/${m.keyId}/revoke`, { key: other.key, body: {} })).status).toBe(404);
    expect((await call(base, `/api-keys/${m.keyId}/roll`, { key: other.key, idem: uid(), method: 'POST' })).status).toBe(404);
    expect((await call(base, `/api-keys/${m.keyId}/revoke`, { key: operator, body: {} })).status).toBe(200);
    expect(await me(m.key)).toBe(401);
    expect((await call(base, '/api-keys/nonexistent1/revoke', { key: operator, body: {} })).status).toBe(404);
  });
});

describe('last use', () => {
  it(`is written at most once per ${LAST_USED_INTERVAL_MS / 1000} s per key, not once per request`, async () => {
    const m = await merchant();
    const lastUsed = async () => (await call(base, `/api-keys?principalId=${m.id}`, { key: operator })).body.data[0].lastUsedAt;
    expect(await lastUsed()).toBeNull();
    const first = now;
    expect(await me(m.key)).toBe(200);
    expect(await lastUsed()).toBe(new Date(first).toISOString());
    now += LAST_USED_INTERVAL_MS - 1;
    expect(await me(m.key)).toBe(200);
    expect(await lastUsed()).toBe(new Date(first).toISOString());
    now += 1;
    expect(await me(m.key)).toBe(200);
    expect(await lastUsed()).toBe(new Date(now).toISOString());
  });
});

describe('rate limits', () => {
  it('answers 429 rate_limited with Retry-After and RateLimit headers once the bucket is empty, and serves again after refill', async () => {
    const s = await listen((await testApp(database, new Client({ connection, dataConverter: testDataConverter() }), { clock, rateLimit: { perSecond: 0.5, burst: 2 } })).app);
    try {
      const m = await merchant();
      const other = await merchant();
      const get = () => call(`${s.base}/v1`, '/me', { key: m.key });
      const ok1 = await get();
      expect(ok1.status).toBe(200);
      expect([ok1.headers.get('ratelimit-limit'), ok1.headers.get('ratelimit-remaining'), ok1.headers.get('ratelimit-reset')]).toEqual(['2', '1', '2']);
      expect((await get()).headers.get('ratelimit-remaining')).toBe('0');
      const limited = await get();
      expect(limited.status).toBe(429);
      expect(limited.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
      expect([limited.headers.get('retry-after'), limited.headers.get('ratelimit-limit'), limited.headers.get('ratelimit-remaining'),
        limited.headers.get('ratelimit-reset')]).toEqual(['2', '2', '0', '4']);
      // another key has its own bucket; a refused request takes no token
      expect((await call(`${s.base}/v1`, '/me', { key: other.key })).status).toBe(200);
      now += 1999;
      expect((await get()).status).toBe(429);
      now += 2;
      const again = await get();
      expect(again.status).toBe(200);
      expect(again.headers.get('ratelimit-remaining')).toBe('0');
      // a POST counts the same (before its validation)
      expect((await call(`${s.base}/v1`, '/api-keys', { key: m.key, body: {} })).status).toBe(429);
    } finally {
      await s.close();
    }
  });

  it("divides the configured limit among the API's copies, each bucket at least one request", () => {
    expect(perCopy({ perSecond: 1000, burst: 2000 }, 4)).toEqual({ perSecond: 250, burst: 500 });
    expect(perCopy({ perSecond: 1, burst: 2 }, 4)).toEqual({ perSecond: 0.25, burst: 1 });
  });

  it('drops the buckets of idle keys (refilled: as a new bucket would be)', () => {
    let t = 0;
    const b = new TokenBuckets({ perSecond: 1, burst: 1 }, () => t);
    expect(b.take('a').ok).toBe(true);
    expect(b.take('a').ok).toBe(false);
    t = 60_000;
    expect(b.take('b').ok).toBe(true); // (sweeps 'a', whose bucket is full again)
    expect(b.take('a')).toMatchObject({ ok: true, remaining: 0 });
  });
});
