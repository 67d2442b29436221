// Input the API cannot take is a 400 that names the parameter, checked in one place for every route, never a 5xx:
// NUL characters and unpaired surrogates in any JSON string, key or query value (PostgreSQL stores neither),
// bodies nested past MAX_JSON_DEPTH, malformed %-escapes in a path. A request the OpenAPI document admits but a rule
// across its fields refuses is a 422 with the rule's code. And a method a path does not have is a 405 with an Allow
// header, derived from the router's own routes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { MAX_JSON_DEPTH, unacceptableValue } from '../../api/input';
import { testApp } from '../support/app';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call, listen } from '../support/http';

const database = testDatabase();
const { db, stores } = database;
let connection: Connection;
let openApiDocument: { paths: Record<string, object> };
let server: Awaited<ReturnType<typeof listen>>;
let base: string;
let operator: string;
let merchant: { id: string; key: string };

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  server = await listen((await testApp(database, new Client({ connection, dataConverter: testDataConverter() }), { taskQueue: 'bad-input-test' })).app);
  base = `${server.base}/v1`;
  openApiDocument = (await call(base, '/openapi.json')).body;
  operator = (await stores.principals.create('operator', 'Bad input operator')).apiKey;
  const m = await stores.merchants.create('Bad input merchant');
  merchant = { id: m.merchant.id, key: m.apiKey };
});
afterAll(async () => {
  await server.close();
  await connection.close();
  await database.close();
});

const NUL = '\u0000';
const LONE_HIGH = '\ud800';
const LONE_LOW = '\udc00';
const count = async (table: string) => Number((await db(table).count({ n: '*' }).first())!.n);
const invalid = (param: string) => ({ type: 'invalid_request_error', code: 'parameter_invalid', message: expect.any(String), param });

describe('strings PostgreSQL cannot store', () => {
  it("a merchant's name with NUL or an unpaired surrogate: 400 naming 'name', nothing written; a surrogate pair is kept", async () => {
    const before = await count('merchants');
    for (const name of [`a${NUL}b`, `a${LONE_HIGH}b`, `a${LONE_LOW}b`, `${LONE_HIGH}`, `b${LONE_LOW}${LONE_HIGH}`]) {
      const r = await call(base, '/merchants', { key: operator, idem: uid(), body: { name } });
      expect(r.status, JSON.stringify(name)).toBe(400);
      expect(r.body.error).toEqual(invalid('name'));
    }
    expect(await count('merchants')).toBe(before);
    const ok = await call(base, '/merchants', { key: operator, idem: uid(), body: { name: 'Shop \ud83d\ude00 \u00e9' } });
    expect(ok.status).toBe(201);
    expect(ok.body.name).toBe('Shop \ud83d\ude00 \u00e9');
  });

  it("a buyer app's name with an unpaired surrogate: 400, nothing written; a plain name is created", async () => {
    const before = await count('principals');
    const r = await call(base, '/buyer-apps', { key: operator, idem: uid(), body: { name: `app${LONE_HIGH}` } });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual(invalid('name'));
    expect(await count('principals')).toBe(before);
    expect((await call(base, '/buyer-apps', { key: operator, idem: uid(), body: { name: 'app' } })).status).toBe(201);
  });

  it('names the nested field by its path (items.0.description) and a bad property name by its path too', async () => {
    const order = {
      customerId: 'c1', payment: { token: 'tok_x', billingPostalCode: '94107' },
      items: [{ sku: 'book', description: `a${NUL}`, quantity: 1, unitPriceMinor: 100, kind: 'hard' }],
    };
    const r = await call(base, '/orders', { key: merchant.key, body: order });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual(invalid('items.0.description'));
    const key = await call(base, '/merchants', { key: operator, idem: uid(), body: { name: 'x', taxRatesBps: { [`US${NUL}`]: 1 } } });
    expect(key.status).toBe(400);
    expect(key.body.error).toEqual(invalid('taxRatesBps.US\ufffd'));
  });

  it('is checked before every route, whatever its method, body or key', async () => {
    for (const [path, ops] of Object.entries(openApiDocument.paths)) {
      for (const method of Object.keys(ops).filter((m) => ['post', 'put', 'patch'].includes(m))) {
        const concrete = path.replace('{id}', 'x1').replace('{itemId}', 'i1');
        for (const key of [operator, merchant.key]) {
          const r = await call(base, concrete, { key, method: method.toUpperCase(), idem: uid(), body: { note: `x${NUL}` } });
          expect(r.status, `${method} ${path}`).toBe(400);
          expect(r.body.error, `${method} ${path}`).toEqual(invalid('note'));
        }
      }
    }
  });

  it("query values: GET /problems?workflowId with NUL is 400 naming 'workflowId'; a plain one is 200", async () => {
    const r = await call(base, '/problems?workflowId=a%00b', { key: operator });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual(invalid('workflowId'));
    expect((await call(base, '/problems?workflowId=ab', { key: operator })).status).toBe(200);
  });

  it('finds the first bad value in document order and accepts well-formed text (unit)', () => {
    expect(unacceptableValue({ a: ['ok', { b: `x${NUL}` }], c: LONE_LOW })).toEqual({ param: 'a.1.b', message: expect.any(String) });
    expect(unacceptableValue({ a: 'fine \ud83d\ude00', b: [1, null, true, { c: 'é' }] })).toBeUndefined();
    expect(unacceptableValue({ [`k${LONE_HIGH}`]: 1 })?.param).toBe('k\ufffd');
    expect(unacceptableValue(undefined)).toBeUndefined();
  });
});

describe('nesting', () => {
  /** n arrays, each holding the next; inside the body's object that is n + 1 levels. */
  const arrays = (n: number): unknown => { let v: unknown = 1; for (let i = 0; i < n; i++) v = [v]; return v; };

  it(`a body nested ${MAX_JSON_DEPTH} levels reaches the route; one more is 400 naming where (was a 500 on creating POSTs)`, async () => {
    const at = await call(base, '/merchants', { key: operator, idem: uid(), body: { name: 'x', deep: arrays(MAX_JSON_DEPTH - 1) } });
    expect(at.body.error).toMatchObject({ code: 'unknown_parameter', param: 'deep' });
    const past = await call(base, '/merchants', { key: operator, idem: uid(), body: { name: 'x', deep: arrays(MAX_JSON_DEPTH) } });
    expect(past.status).toBe(400);
    expect(past.body.error).toEqual(invalid(['deep', ...Array(MAX_JSON_DEPTH - 1).fill('0')].join('.')));
    const veryDeep = `{"name":"x","deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const r = await call(base, '/merchants', { key: operator, idem: uid(), raw: veryDeep });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('parameter_invalid');
  });
});

describe('rules across fields: the document admits the request, a rule refuses it (422 with its code, not 400)', () => {
  const refused = (code: string, param: string) =>
    ({ type: 'unprocessable_error', code, message: expect.any(String), param });

  it('repeated shipping option ids, an order named by nothing: 422, nothing written (an empty validity window: micropayments.test.ts)', async () => {
    const before = await count('merchants');
    const option = { id: 'std', label: 'Standard', priceMinor: 500 };
    const dup = await call(base, '/merchants', { key: operator, idem: uid(), body: { name: 'x', shippingOptions: [option, option] } });
    expect(dup.status).toBe(422);
    expect(dup.body.error).toEqual(refused('shipping_option_ids_not_unique', 'shippingOptions'));
    expect(await count('merchants')).toBe(before);

    const ordersBefore = await count('orders');
    const unnamed = await call(base, '/orders', { key: merchant.key, body: {
      customerId: 'c1', payment: { token: 'tok_x', billingPostalCode: '94107' },
      items: [{ sku: 'book', quantity: 1, unitPriceMinor: 100, kind: 'hard' }] } });
    expect(unnamed.status).toBe(422);
    expect(unnamed.body.error).toEqual(refused('parameter_missing', 'clientOrderId'));
    expect(await count('orders')).toBe(ordersBefore);
  });
});

describe('paths', () => {
  it('a malformed %-escape in a path parameter is 400 parameter_invalid (was 500)', async () => {
    for (const path of ['/merchants/%E0%A4%A', '/orders/%ZZ']) {
      const r = await call(base, path, { key: operator });
      expect(r.status, path).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid' });
    }
    expect((await call(base, `/merchants/${merchant.id}`, { key: operator })).status).toBe(200);
  });
});

describe('methods a path does not have', () => {

  it('PUT /merchants and DELETE /merchants/:id: 405 with Allow, in the error shape', async () => {
    const put = await call(base, '/merchants', { key: operator, method: 'PUT', body: { name: 'x' } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(put.body.error).toEqual({ type: 'invalid_request_error', code: 'method_not_allowed', message: expect.any(String), param: null });
    const del = await call(base, `/merchants/${merchant.id}`, { key: operator, method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD, PATCH');
    expect(del.body.error.code).toBe('method_not_allowed');
  });

  it("every documented path: each other method is 405 whose Allow lists exactly the documented methods there", async () => {
    // (a concrete path can match several documented paths: /micropayments/batch is also /micropayments/{id})
    const templates = Object.entries(openApiDocument.paths).map(([path, ops]) =>
      ({ re: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`), methods: Object.keys(ops).map((m) => m.toUpperCase()) }));
    for (const path of Object.keys(openApiDocument.paths)) {
      const concrete = path.replace('{id}', 'x1').replace('{itemId}', 'i1');
      const documented = new Set(templates.filter((t) => t.re.test(concrete)).flatMap((t) => t.methods));
      const expected = [...documented, ...(documented.has('GET') ? ['HEAD'] : [])].sort().join(', ');
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !documented.has(m))) {
        const r = await call(base, concrete, { key: operator, method });
        expect(r.status, `${method} ${concrete}`).toBe(405);
        expect(r.headers.get('allow'), `${method} ${concrete}`).toBe(expected);
        expect(r.body.error.code).toBe('method_not_allowed');
      }
    }
  });

  it('documented methods are still routed; unknown paths stay 404 route_not_found; no key stays 401', async () => {
    expect((await call(base, `/merchants/${merchant.id}`, { key: operator })).status).toBe(200);
    const head = await fetch(`${base}/merchants/${merchant.id}`, { method: 'HEAD', headers: { authorization: `Bearer ${operator}` } });
    expect(head.status).toBe(200);
    const unknown = await call(base, '/nothing-here', { key: operator, method: 'DELETE' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('route_not_found');
    expect((await call(base, '/merchants', { method: 'PUT' })).status).toBe(401);
  });
});
