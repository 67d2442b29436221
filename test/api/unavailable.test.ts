// When a dependency is away the API answers 503 with a machine-readable code and Retry-After, within a bounded time,
// never 500: the Temporal server (temporal_unavailable) or PostgreSQL (database_unavailable). An order accepted while
// the Temporal server is away is started later by the repair loop, with the input it was accepted with.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';
import { openDatabase } from '../../ledger/db';
import { createLogger } from '../../runtime/log';
import { PrincipalStore } from '../../stores/principals';
import { ORDER_REPLY_WAIT_MS } from '../../services/orders';
import { TEMPORAL_PROBE_DEADLINE_MS } from '../../services/temporal';
import { testApp } from '../support/app';
import { startWorker, testDatabase, testMessaging, uid, testDataConverter } from '../support/env';
import { call, listen } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { createActivities } from '../../activities';
import { HttpProcessorClient } from '../../processors/http-client';
import { TEST_DELIVERY } from '../support/orders';
import { tokenizeCard } from '../support/processor-calls';

const database = testDatabase();
/** A Temporal "server" nobody listens on. */
const deadTemporal = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 });
let server: Awaited<ReturnType<typeof listen>>;
let base: string;
let operator: string;
let merchant: string;
const processor = new HttpProcessorClient({ baseUrl: inject('simulatorUrl') });

beforeAll(async () => {
  server = await listen((await testApp(database, new Client({ connection: deadTemporal, dataConverter: testDataConverter() }), { taskQueue: uid('tq-away-') })).app);
  base = `${server.base}/v1`;
  operator = (await database.stores.principals.create('operator', 'Away operator')).apiKey;
  merchant = (await database.stores.merchants.create('Away shop', MERCHANT_SETTINGS)).apiKey;
});
afterAll(async () => {
  await server.close();
  // (deadTemporal is left open: the calls the API gave up on are still being retried by the SDK against it, and
  // closing the channel under a retry makes grpc-js throw 'Channel has been shut down' from a timer; the file's
  // process ends with it)
  await database.close();
});

const unavailable = (code: string) => ({ status: 503, body: { error: { type: 'service_unavailable_error', code, message: expect.any(String), param: null } } });
/**
 * A bound, not a speed: an answer comes within the reply wait and the reachability probe (4.5 s), here with room for
 * a loaded machine; without the bound the Temporal client's own retries ran on for about 24 s.
 */
const BOUND_MS = ORDER_REPLY_WAIT_MS + TEMPORAL_PROBE_DEADLINE_MS + 3_000;
const timed = async <T>(f: () => Promise<T>) => { const t = performance.now(); const r = await f(); return { r, ms: performance.now() - t }; };
const softOrder = async (clientOrderId: string) => ({
  clientOrderId, customerId: 'c1', items: [{ sku: 'song', quantity: 1, unitPriceMinor: 99, kind: 'soft' }],
  payment: { token: await tokenizeCard(processor), billingPostalCode: '94107', billingCountry: 'US' },
});

describe('the Temporal server away', () => {
  it('a new order: 503 temporal_unavailable with Retry-After within a bounded time, and the order is kept for the repair loop', async () => {
    const clientOrderId = uid('co-');
    const body = await softOrder(clientOrderId);
    const { r, ms } = await timed(() => call(base, '/orders', { key: merchant, body: body }));
    expect(r).toMatchObject(unavailable('temporal_unavailable'));
    expect(r.headers.get('retry-after')).toBe('5');
    expect(ms).toBeLessThan(BOUND_MS);
    const row = await database.db('orders').where({ client_order_id: clientOrderId }).first('state', 'view', 'input');
    expect(row).toMatchObject({ state: 'confirmed', view: null });
    expect(row.input.clientOrderId).toBe(clientOrderId);
  }, 20_000);

  it('reading, changing and closing: 503 temporal_unavailable, never 500', async () => {
    const clientOrderId = uid('co-');
    await call(base, '/orders', { key: merchant, body: await softOrder(clientOrderId) });
    const id = (await database.db('orders').where({ client_order_id: clientOrderId }).first('id')).id as string;
    for (const [path, c] of [[`/orders/${id}`, { key: merchant }], [`/orders/${id}/cancel`, { key: merchant, idem: uid(), method: 'POST' }],
      ['/settlement-periods/close', { key: operator, body: { graceSeconds: 0 } }]] as const) {
      const { r, ms } = await timed(() => call(base, path, c));
      expect(r, path).toMatchObject(unavailable('temporal_unavailable'));
      expect(ms, path).toBeLessThan(BOUND_MS);
    }
  }, 40_000);
});

describe('an order accepted while the Temporal server was away', () => {
  it('is started by the repair loop with the input it was accepted with, once: it authorizes and captures', async () => {
    const clientOrderId = uid('co-');
    expect((await call(base, '/orders', { key: merchant, body: await softOrder(clientOrderId) })).status).toBe(503);
    const id = (await database.db('orders').where({ client_order_id: clientOrderId }).first('id')).id as string;
    // the server back: a worker and a repair pass on a client that reaches it
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const temporal = new Client({ connection, dataConverter: testDataConverter() });
    const taskQueue = uid('tq-repair-');
    const worker = await startWorker(createActivities({ database, processor, messaging: testMessaging(), temporal, taskQueue, delivery: TEST_DELIVERY }), taskQueue);
    try {
      const { services } = await testApp(database, temporal, { taskQueue });
      expect(await services.orders.startStranded(0)).toBeGreaterThanOrEqual(1);
      expect(await services.orders.startStranded(0)).toBe(0); // confirmed: not started again
      await expect.poll(async () => (await database.db('orders').where({ id }).first('state')).state, { timeout: 15_000 }).toBe('shipped');
    } finally {
      await worker.stop();
      await connection.close();
    }
  }, 60_000);
});

describe('PostgreSQL away', () => {
  it('503 database_unavailable with Retry-After, within a few seconds', async () => {
    const dead = openDatabase('postgres://nobody@127.0.0.1:1/none', { poolMax: 2 });
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    // the API's stores, with the keys' store over a database nobody listens on
    const { services } = await testApp(database, new Client({ connection, dataConverter: testDataConverter() }));
    services.stores.principals = new PrincipalStore(dead.db, dead.statements);
    const s = await listen(createApp({ services, health: {}, logger: createLogger('api', 'silent'), rateLimit: loadConfig({}).rateLimit }));
    try {
      const { r, ms } = await timed(() => call(`${s.base}/v1`, '/me', { key: operator }));
      expect(r).toMatchObject(unavailable('database_unavailable'));
      expect(r.headers.get('retry-after')).toBe('5');
      expect(ms).toBeLessThan(5_000);
    } finally {
      await s.close();
      await connection.close();
      await dead.close();
    }
  });
});
