// The audit log over real HTTP and PostgreSQL (a database of its own, so every event in it is this file's): each
// successful change through the API is recorded once with who, which key, the request id, the request and the
// object before and after; reads, refusals, idempotent replays, micro-payments and grant redemptions are not; operators
// page through it and filter by principal and time.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testApp } from '../support/app';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call, listen } from '../support/http';
import { microHarness, type MicroHarness } from '../support/micro';

let h: MicroHarness;
beforeAll(async () => { h = await microHarness({ worker: false }); });
afterAll(async () => { await h.close(); });

const events = async (query = '') => {
  const r = await h.api(`/audit-events${query}`, { key: h.operator });
  expect(r.status).toBe(200);
  return r.body.data as Array<Record<string, any>>;
};
const count = async () => Number((await h.db('audit_events').count({ n: '*' }).first())!.n);

describe('the audit log', () => {
  it('records a settings change with principal, key, request id, request, and the object before and after', async () => {
    const idem = uid();
    const made = await h.api('/merchants', { key: h.operator, idem, body: { name: 'Before', feeBps: 100 } });
    expect(made.status).toBe(201);
    const patched = await h.api(`/merchants/${made.body.id}`, { method: 'PATCH', key: h.operator, body: { name: 'After', feeBps: 250 },
      headers: { 'x-request-id': 'audit-test-1' } });
    expect(patched.status).toBe(200);

    const [patch, create] = await events();
    const operatorKeyId = h.operator.split('_')[1];
    const operatorId = (await h.api('/me', { key: h.operator })).body.id;
    expect(patch).toMatchObject({
      object: 'audit_event', principalId: operatorId, apiKeyId: operatorKeyId, requestId: 'audit-test-1', method: 'PATCH',
      path: `/v1/merchants/${made.body.id}`, status: 200, objectType: 'merchant', objectId: made.body.id, objectState: null,
      requestBody: { name: 'After', feeBps: 250 }, before: { name: 'Before', feeBps: 100 }, after: { name: 'After', feeBps: 250 },
    });
    // a creation: its answer is the object after, without the secret it showed once
    expect(create).toMatchObject({ method: 'POST', path: '/v1/merchants', status: 201, objectId: made.body.id, before: null,
      requestBody: { name: 'Before', feeBps: 100 }, after: { name: 'Before', apiKey: null } });
    expect(JSON.stringify(create)).not.toContain(made.body.apiKey);
    expect(create.requestId).toBe(made.headers.get('x-request-id'));

    // an idempotent replay changed nothing: not recorded again
    const before = await count();
    expect((await h.api('/merchants', { key: h.operator, idem, body: { name: 'Before', feeBps: 100 } })).headers.get('idempotent-replayed')).toBe('true');
    expect(await count()).toBe(before);
  });

  it('records key changes, without the new secret', async () => {
    const s = await h.seller();
    const keyId = s.key.split('_')[1];
    const rolled = await h.api(`/api-keys/${keyId}/roll`, { key: s.key, idem: uid(), body: { overlapSeconds: 60 } });
    expect(rolled.status).toBe(201);
    const [roll] = await events(`?principalId=${s.id}`);
    expect(roll).toMatchObject({ principalId: s.id, apiKeyId: keyId, path: `/v1/api-keys/${keyId}/roll`, objectType: 'api_key',
      objectId: rolled.body.id, requestBody: { overlapSeconds: 60 }, before: { id: keyId, expiresAt: null },
      after: { id: rolled.body.id, apiKey: null } });
    expect(JSON.stringify(roll)).not.toContain(rolled.body.apiKey);
  });

  it('leaves out reads, refused requests, micro-payments and grant redemptions', async () => {
    const seller = await h.seller();
    const buyer = await h.buyer();
    const before = await count();
    const paid = await h.api('/micropayments', { key: buyer.key, body: {
      clientId: uid('c-'), buyerToken: buyer.token, sellerId: seller.id, itemId: 'article', currency: 'USD' } });
    expect(paid.status).toBe(201);
    const batch = await h.api('/micropayments/batch', { key: buyer.key, body: { payments: [
      { clientId: uid('c-'), buyerToken: buyer.token, sellerId: seller.id, itemId: 'article', currency: 'USD' }] } });
    expect(batch.body.recorded).toBe(1);
    expect((await h.api('/grants/verify', { key: seller.key, body: { grant: paid.body.grant.token } })).status).toBe(200);
    expect((await h.api(`/sellers/${seller.id}`, { key: seller.key })).status).toBe(200);
    expect((await h.api('/merchants', { key: seller.key, idem: uid(), body: { name: 'No' } })).status).toBe(403);
    expect((await h.api(`/merchants/${seller.id}`, { method: 'PATCH', key: h.operator, body: { feeBps: -1 } })).status).toBe(400);
    expect(await count()).toBe(before);
    // a refund is a money movement an operator or merchant makes: recorded
    const refund = await h.api(`/micropayments/${paid.body.id}/refund`, { key: seller.key, body: {} });
    expect(refund.status).toBe(201);
    const [e] = await events(`?principalId=${seller.id}`);
    expect(e).toMatchObject({ path: `/v1/micropayments/${paid.body.id}/refund`, objectType: 'micropayment_refund', objectId: paid.body.id });
  });

  it('is for operators, a page at a time, by principal and created range', async () => {
    const forbidden = await h.api('/audit-events', { key: (await h.buyer()).key });
    expect(forbidden.status).toBe(403);
    const all = await events('?limit=100');
    const times = all.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const [newest, second] = await events('?limit=2');
    expect((await events(`?limit=1&starting_after=${newest.id}`))[0].id).toBe(second.id);
    expect(await events(`?created_gte=${encodeURIComponent(new Date(Date.parse(newest.createdAt) + 1).toISOString())}`)).toEqual([]);
    // (times are shown to the millisecond: the one after the second-newest event's, which the newest came after)
    const afterSecond = encodeURIComponent(new Date(Date.parse(second.createdAt) + 1).toISOString());
    expect((await events(`?created_lte=${afterSecond}&limit=1`))[0].id).toBe(second.id);
    const s = await h.seller();
    expect((await events(`?principalId=${s.id}`)).map((e) => e.method)).toEqual(['PUT']); // (its item, by its own key)
    expect((await h.api('/audit-events?starting_after=ae_nothing', { key: h.operator })).body.error.code).toBe('cursor_unknown');
  });
});

describe('an audit event that cannot be written', () => {
  it('does not hold back the answer of an operation that took effect', async () => {
    const database = testDatabase();
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const { app, services } = await testApp(database, new Client({ connection, dataConverter: testDataConverter() }));
    services.stores.audit.record = () => Promise.reject(new Error('audit store down'));
    const s = await listen(app);
    try {
      const operator = (await services.stores.principals.create('operator', 'Audit down')).apiKey;
      const r = await call(`${s.base}/v1`, '/merchants', { key: operator, idem: uid(), body: { name: 'Made anyway' } });
      expect(r.status).toBe(201);
      expect((await database.db('merchants').where({ id: r.body.id }).first())?.name).toBe('Made anyway');
    } finally {
      await s.close();
      await connection.close();
      await database.close();
    }
  });
});
