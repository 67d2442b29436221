// Paged lists, one shape everywhere ({ object: 'list', data, has_more }, limit, starting_after / ending_before, a
// created range): walked forwards and back over real rows, filtered, kept to what the caller may see, and served
// from an index (the query plan of a page, read with EXPLAIN, not timed).
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Order } from '../../domain/order';
import { testApp } from '../support/app';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call, listen } from '../support/http';
import { freshDatabase } from '../support/micro';
import { buildOrderInput } from '../support/order-input';

const database = testDatabase();
const { db, stores } = database;
let connection: Connection;
let server: Awaited<ReturnType<typeof listen>>;
let base: string;
let operator: string;
const merchants: Array<{ id: string; key: string }> = [];
/** Merchant 0's orders, newest first. */
const expected: string[] = [];
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** An order row as its workflow would have saved it (a view, so no repair loop of a worker in this run takes it). */
async function insertOrder(merchantId: string, i: number): Promise<string> {
  const input = buildOrderInput({ merchantId, clientOrderId: uid(`list-${i}-`), token: 'tok_list' });
  await db('orders').insert({
    id: input.orderId, merchant_id: merchantId, client_order_id: input.clientOrderId, customer_id: input.customerId,
    request_sha256: Buffer.from('list'), currency: 'USD', total_minor: input.priced.totalMinor, state: 'confirmed',
    input: JSON.stringify(input), view: JSON.stringify(new Order(input).view()), created_at: new Date(T0 + i * 1000),
  });
  return input.orderId;
}

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  server = await listen((await testApp(database, new Client({ connection, dataConverter: testDataConverter() }))).app);
  base = `${server.base}/v1`;
  operator = (await stores.principals.create('operator', 'Lists operator')).apiKey;
  for (const name of ['Lists A', 'Lists B']) {
    const m = await stores.merchants.create(name);
    merchants.push({ id: m.merchant.id, key: m.apiKey });
  }
  for (let i = 0; i < 25; i++) expected.unshift(await insertOrder(merchants[0].id, i));
  for (let i = 0; i < 3; i++) await insertOrder(merchants[1].id, 100 + i);
});
afterAll(async () => {
  await server.close();
  await connection.close();
  await database.close();
});

const ids = (body: { data: Array<{ id: string }> }) => body.data.map((o) => o.id);

describe('GET /v1/orders', () => {
  it('pages through a merchant\'s orders newest first, each once, and back again', async () => {
    const key = merchants[0].key;
    const seen: string[] = [];
    const pages: Array<{ data: Array<{ id: string; object: string; state: string }>; has_more: boolean }> = [];
    let after = '';
    for (;;) {
      const r = await call(base, `/orders?limit=10${after}`, { key });
      expect(r.status).toBe(200);
      expect(r.body.object).toBe('list');
      pages.push(r.body);
      seen.push(...ids(r.body));
      if (!r.body.has_more) break;
      after = `&starting_after=${r.body.data.at(-1).id}`;
    }
    expect(pages.map((p) => p.data.length)).toEqual([10, 10, 5]);
    expect(seen).toEqual(expected);
    expect(pages[0].data[0]).toMatchObject({ object: 'order', state: 'confirmed' });
    // back from the second page's first: the first page, with more before it? none (has_more looks backwards)
    const back = await call(base, `/orders?limit=10&ending_before=${pages[1].data[0].id}`, { key });
    expect(ids(back.body)).toEqual(ids(pages[0]));
    expect(back.body.has_more).toBe(false);
    const back2 = await call(base, `/orders?limit=5&ending_before=${pages[2].data[0].id}`, { key });
    expect(ids(back2.body)).toEqual(expected.slice(15, 20));
    expect(back2.body.has_more).toBe(true);
  });

  it('filters by created range and state; a merchant sees its own, an operator any merchant\'s', async () => {
    const key = merchants[0].key;
    const range = await call(base, `/orders?limit=100&created_gte=${new Date(T0 + 5000).toISOString()}&created_lte=${new Date(T0 + 9000).toISOString()}`, { key });
    expect(ids(range.body)).toEqual(expected.slice(15, 20));
    expect((await call(base, '/orders?state=shipped', { key })).body).toEqual({ object: 'list', data: [], has_more: false });
    expect((await call(base, '/orders?limit=100', { key: merchants[1].key })).body.data).toHaveLength(3);
    const theirs = await call(base, `/orders?limit=100&merchantId=${merchants[1].id}`, { key: operator });
    expect(theirs.body.data.map((o: { merchantId: string }) => o.merchantId)).toEqual([merchants[1].id, merchants[1].id, merchants[1].id]);
  });

  it('refuses what a page cannot be: both cursors, a cursor of another list, a merchant filtering by merchant, a limit past 100', async () => {
    const key = merchants[0].key;
    const [mine] = expected;
    const otherOrder = (await call(base, '/orders?limit=1', { key: merchants[1].key })).body.data[0].id;
    const error = async (q: string) => (await call(base, `/orders?${q}`, { key })).body.error;
    expect(await error(`starting_after=${mine}&ending_before=${mine}`)).toMatchObject({ code: 'parameter_not_allowed', param: 'ending_before' });
    expect(await error(`starting_after=${otherOrder}`)).toMatchObject({ code: 'cursor_unknown', param: 'startingAfter' });
    expect(await error('ending_before=nope')).toMatchObject({ code: 'cursor_unknown', param: 'endingBefore' });
    expect(await error(`merchantId=${merchants[1].id}`)).toMatchObject({ code: 'parameter_not_allowed', param: 'merchantId' });
    expect(await error('limit=101')).toMatchObject({ code: 'parameter_invalid', param: 'limit' });
    expect(await error('created_gte=yesterday')).toMatchObject({ code: 'parameter_invalid', param: 'created_gte' });
  });

  it('reads a page of a merchant\'s orders from an index, without a sort, among 40,000 others', async () => {
    const big = await stores.merchants.create('Lists big');
    // (no input and no view: nothing a repair loop or a list would take for an order)
    await db.raw(`
      INSERT INTO orders (id, merchant_id, client_order_id, customer_id, request_sha256, currency, total_minor, state, created_at)
      SELECT 'order-big-' || n || '-' || g, m, 'big-' || g, 'c', '\\x00', 'USD', 100, 'confirmed', now() - g * interval '1 second'
      FROM generate_series(1, 20000) g, (VALUES (1, ?), (2, ?)) AS ms(n, m)`, [big.merchant.id, merchants[1].id]);
    await db.raw('ANALYZE orders');
    // (by the merchant's (created_at, id) index, or by the (created_at, id) one filtering: the planner's choice)
    await expectIndexedPages('orders', /orders_(merchant_)?created_id_idx/, async () => {
      const first = await stores.orders.list({ limit: 100, merchantId: big.merchant.id });
      expect(first.data).toHaveLength(100);
      await stores.orders.list({ limit: 100, merchantId: big.merchant.id, startingAfter: first.data[99].id });
    });
  });
});

describe('GET /v1/problems', () => {
  it('pages the same way', async () => {
    const workflowId = uid('wf-list-');
    for (let i = 0; i < 7; i++) await stores.problems.record({ workflowId, merchantId: null, kind: 'k', message: `m${i}`, details: { key: String(i) } });
    const first = await call(base, `/problems?limit=4&workflowId=${workflowId}`, { key: operator });
    expect(first.body).toMatchObject({ object: 'list', has_more: true });
    const second = await call(base, `/problems?limit=4&workflowId=${workflowId}&starting_after=${first.body.data[3].id}`, { key: operator });
    expect(second.body.has_more).toBe(false);
    expect([...first.body.data, ...second.body.data].map((p: { message: string }) => p.message)).toEqual(['m6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);
    expect((await call(base, '/problems?starting_after=abc', { key: operator })).body.error).toMatchObject({ code: 'cursor_unknown' });
    // the open ones: a page goes on after a problem resolved since it was shown
    const open = await call(base, `/problems?limit=3&open=true&workflowId=${workflowId}`, { key: operator });
    await stores.problems.resolve(open.body.data[2].id, 'op', 'done');
    const rest = await call(base, `/problems?limit=10&open=true&workflowId=${workflowId}&starting_after=${open.body.data[2].id}`, { key: operator });
    expect(rest.body.data.map((p: { message: string }) => p.message)).toEqual(['m3', 'm2', 'm1', 'm0']);
  });
});

describe('GET /v1/dead-letters and /v1/webhook-endpoints', () => {
  it('page the same way: dead letters by when they died, endpoints newest first, each principal its own', async () => {
    const [a, b] = merchants;
    const endpoint = await stores.delivery.createEndpoint(a.id, { url: 'http://127.0.0.1:9/a', onDeadLetter: 'hold', giveUpSeconds: 60, secret: 'whsec_x' });
    const dead: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = uid('msg-');
      dead.unshift(id); // (the latest to die first)
      await db('delivery_messages').insert({ id, destination_id: endpoint.id, group_key: 'g', body: '{}', state: 'dead',
        created_at: new Date(T0), dead_at: new Date(T0 + i * 1000) });
    }
    const first = await call(base, '/dead-letters?limit=4', { key: a.key });
    expect(first.body).toMatchObject({ object: 'list', has_more: true });
    const second = await call(base, `/dead-letters?limit=4&starting_after=${first.body.data[3].id}`, { key: a.key });
    expect([...ids(first.body), ...ids(second.body)]).toEqual(dead);
    expect(second.body.has_more).toBe(false);
    expect((await call(base, '/dead-letters', { key: b.key })).body).toEqual({ object: 'list', data: [], has_more: false });
    expect((await call(base, `/dead-letters?starting_after=${dead[0]}`, { key: b.key })).body.error).toMatchObject({ code: 'cursor_unknown' });
    const died = await call(base, `/dead-letters?limit=100&created_gte=${new Date(T0 + 5000).toISOString()}`, { key: a.key });
    expect(ids(died.body)).toEqual(dead.slice(0, 2));

    for (let i = 0; i < 3; i++) await stores.delivery.createEndpoint(a.id, { url: `http://127.0.0.1:9/a${i}`, onDeadLetter: 'hold', giveUpSeconds: 60, secret: 'whsec_x' });
    const endpoints = await call(base, '/webhook-endpoints?limit=3', { key: a.key });
    expect(endpoints.body).toMatchObject({ object: 'list', has_more: true });
    const rest = await call(base, `/webhook-endpoints?limit=3&starting_after=${endpoints.body.data[2].id}`, { key: a.key });
    expect([...ids(endpoints.body), ...ids(rest.body)].at(-1)).toBe(endpoint.id);
    expect(rest.body.has_more).toBe(false);
  });
});

describe('GET /v1/events and /v1/webhook-endpoints/:id/attempts', () => {
  it('page the same way, newest first, each principal its own; events by type too', async () => {
    const [a, b] = merchants;
    const events: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = uid('evt_list');
      events.unshift(id);
      await db('events').insert({ id, merchant_id: a.id, type: i % 2 ? 'order.captured' : 'order.authorized', data: '{}', created_at: new Date(T0 + i * 1000) });
    }
    const first = await call(base, '/events?limit=4', { key: a.key });
    expect(first.body).toMatchObject({ object: 'list', has_more: true });
    const second = await call(base, `/events?limit=4&starting_after=${first.body.data[3].id}`, { key: a.key });
    expect([...ids(first.body), ...ids(second.body)]).toEqual(events);
    const back = await call(base, `/events?limit=4&ending_before=${second.body.data[0].id}`, { key: a.key });
    expect(ids(back.body)).toEqual(ids(first.body));
    expect(ids((await call(base, '/events?type=order.captured', { key: a.key })).body)).toEqual(events.filter((_, j) => j % 2 === 1));
    const range = `created_gte=${new Date(T0 + 2000).toISOString()}&created_lte=${new Date(T0 + 3000).toISOString()}`;
    expect(ids((await call(base, `/events?${range}`, { key: a.key })).body)).toEqual(events.slice(3, 5));
    expect((await call(base, '/events', { key: b.key })).body).toEqual({ object: 'list', data: [], has_more: false });
    expect((await call(base, `/events?starting_after=${events[0]}`, { key: b.key })).body.error).toMatchObject({ code: 'cursor_unknown' });
    expect(ids((await call(base, `/events?limit=100&merchantId=${a.id}`, { key: operator })).body)).toEqual(events);

    const endpoint = await stores.delivery.createEndpoint(a.id, { url: 'http://127.0.0.1:9/t', onDeadLetter: 'hold', giveUpSeconds: 60, secret: 'whsec_x' });
    const messageId = uid('msg-');
    await db('delivery_messages').insert({ id: messageId, destination_id: endpoint.id, group_key: 'g', body: '{}' });
    for (let i = 1; i <= 5; i++) {
      await db('delivery_attempts').insert({ destination_id: endpoint.id, message_id: messageId, attempt: i, outcome: i < 5 ? 'retry' : 'delivered',
        status: i < 5 ? 500 : 200, latency_ms: 3, created_at: new Date(T0 + i * 1000) });
    }
    const path = `/webhook-endpoints/${endpoint.id}/attempts`;
    const attempts = await call(base, `${path}?limit=3`, { key: a.key });
    const more = await call(base, `${path}?limit=3&starting_after=${attempts.body.data[2].id}`, { key: a.key });
    expect([...attempts.body.data, ...more.body.data].map((x: { attempt: number }) => x.attempt)).toEqual([5, 4, 3, 2, 1]);
    expect([attempts.body.has_more, more.body.has_more]).toEqual([true, false]);
    expect((await call(base, `${path}?starting_after=abc`, { key: a.key })).body.error).toMatchObject({ code: 'cursor_unknown' });
    expect((await call(base, path, { key: b.key })).status).toBe(404);
  });

  it("read a page of a merchant's events and of an endpoint's attempts from an index, without a sort, among 40,000 others", async () => {
    const big = await stores.merchants.create('Events big');
    const endpoint = await stores.delivery.createEndpoint(big.merchant.id, { url: 'http://127.0.0.1:9/big', onDeadLetter: 'hold', giveUpSeconds: 60, secret: 'whsec_x' });
    const other = await stores.delivery.createEndpoint(merchants[1].id, { url: 'http://127.0.0.1:9/big', onDeadLetter: 'hold', giveUpSeconds: 60, secret: 'whsec_x' });
    await db.raw(`
      INSERT INTO events (id, merchant_id, type, data, created_at)
      SELECT 'evt_big_' || n || '_' || g, m, 'order.captured', '{}', now() - g * interval '1 second'
      FROM generate_series(1, 20000) g, (VALUES (1, ?), (2, ?)) AS ms(n, m)`, [big.merchant.id, merchants[1].id]);
    await db.raw(`INSERT INTO delivery_messages (id, destination_id, group_key, body) VALUES ('msg-big-1', ?, 'g', '{}'), ('msg-big-2', ?, 'g', '{}')`,
      [endpoint.id, other.id]);
    await db.raw(`
      INSERT INTO delivery_attempts (destination_id, message_id, attempt, outcome, created_at)
      SELECT d, 'msg-big-' || n, g, 'retry', now() - g * interval '1 second'
      FROM generate_series(1, 20000) g, (VALUES (1, ?), (2, ?)) AS ds(n, d)`, [endpoint.id, other.id]);
    await db.raw('ANALYZE events');
    await db.raw('ANALYZE delivery_attempts');
    const queries: Array<{ sql: string; bindings: unknown[] }> = [];
    const seen = (q: { sql: string; bindings: unknown[] }) => { if (/from "(events|delivery_attempts)"/.test(q.sql) && /order by/.test(q.sql)) queries.push(q); };
    db.on('query', seen);
    try {
      const first = await stores.events.list({ limit: 100, merchantId: big.merchant.id });
      await stores.events.list({ limit: 100, merchantId: big.merchant.id, startingAfter: first.data[99].id });
      const attempts = await stores.delivery.attempts(endpoint.id, { limit: 100 });
      await stores.delivery.attempts(endpoint.id, { limit: 100, startingAfter: attempts.data[99].id });
    } finally {
      db.off('query', seen);
    }
    expect(queries).toHaveLength(4);
    for (const q of queries) {
      const [{ 'QUERY PLAN': plan }] = (await db.raw(`EXPLAIN (FORMAT JSON) ${q.sql.replace(/\$\d+/g, '?')}`, q.bindings as never[])).rows;
      const text = JSON.stringify(plan);
      // (by the merchant's or the endpoint's (created_at, id) index, or by the table's filtering: the planner's choice)
      expect(text, text).toMatch(/"Node Type":"Index Scan","Parent Relationship":"Outer",[^}]*"Index Name":"(events|delivery_attempts)_(merchant_|destination_)?created_id_idx"/);
      expect(text, text).not.toContain('"Node Type":"Sort"');
      expect(text, text).not.toContain('"Node Type":"Seq Scan"');
    }
  });
});

describe('GET /v1/merchants, /v1/buyers, /v1/sellers', () => {
  it('operators page through them newest first, with no object twice; others may not list them', async () => {
    for (let i = 0; i < 3; i++) await stores.merchants.create(`Lists page ${i}`);
    const first = await call(base, '/merchants?limit=2', { key: operator });
    const second = await call(base, `/merchants?limit=2&starting_after=${first.body.data[1].id}`, { key: operator });
    const walked = [...first.body.data, ...second.body.data] as Array<{ id: string; createdAt: string }>;
    expect(new Set(walked.map((m) => m.id)).size).toBe(4);
    expect(walked.map((m) => m.createdAt)).toEqual([...walked.map((m) => m.createdAt)].sort().reverse());
    expect(first.body.has_more).toBe(true);
    for (const path of ['/merchants', '/buyers', '/sellers']) {
      expect((await call(base, path, { key: merchants[0].key })).status).toBe(403);
      expect((await call(base, `${path}?limit=1`, { key: operator })).body).toMatchObject({ object: 'list', has_more: expect.any(Boolean) });
    }
  });
});

/** The plans of the page queries `run` makes on `table`: each an index scan (of one of `indexes`), no sort, no sequential scan. */
async function expectIndexedPages(table: string, indexes: RegExp, run: () => Promise<void>, db = database.db) {
  const queries: Array<{ sql: string; bindings: unknown[] }> = [];
  const seen = (q: { sql: string; bindings: unknown[] }) => { if (q.sql.includes(`from "${table}"`) && /order by/.test(q.sql)) queries.push(q); };
  db.on('query', seen);
  try {
    await run();
  } finally {
    db.off('query', seen);
  }
  expect(queries.length).toBeGreaterThan(0);
  for (const q of queries) {
    const [{ 'QUERY PLAN': plan }] = (await db.raw(`EXPLAIN (FORMAT JSON) ${q.sql.replace(/\$\d+/g, '?')}`, q.bindings as never[])).rows;
    const text = JSON.stringify(plan);
    expect(text, text).toMatch(new RegExp(`"Node Type":"Index Scan","Parent Relationship":"Outer",[^}]*"Index Name":"${indexes.source}"`));
    expect(text, text).not.toContain('"Node Type":"Sort"');
    expect(text, text).not.toContain('"Node Type":"Seq Scan"');
  }
}

describe('GET /v1/payouts, /v1/invoices, /v1/seller-credits, /v1/settlement-periods', () => {
  // (a database of their own: invoices written into the open period would stop its close in another file from invoicing)
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let apart: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    fresh = await freshDatabase();
    apart = await listen((await testApp(fresh.database, new Client({ connection, dataConverter: testDataConverter() }))).app);
  });
  afterAll(async () => {
    await apart?.close();
    await fresh?.drop();
  });

  it('page the same way, each party its own, from an index among 20,000 others', async () => {
    const { db, stores } = fresh;
    const base = `${apart.base}/v1`;
    const operator = (await stores.principals.create('operator', 'Lists operator')).apiKey;
    const [a, b] = await Promise.all(['Lists A', 'Lists B'].map(async (n) => {
      const m = await stores.merchants.create(n);
      return { id: m.merchant.id, key: m.apiKey };
    }));
    // payouts: 5 of merchant a (oldest first made), 20,000 of merchant b
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = uid('po_list');
      mine.unshift(id);
      await db('payouts').insert({ id, merchant_id: a.id, currency: 'USD', period_key: `list-${i}`, cutoff: new Date(T0), captures_minor: 0,
        fees_minor: 0, refunds_minor: 0, reserve_held_minor: 0, reserve_released_minor: 0, carried_minor: 0, amount_minor: 100 + i,
        state: i % 2 ? 'paid' : 'carried', created_at: new Date(T0 + i * 1000) });
    }
    await db.raw(`INSERT INTO payouts (id, merchant_id, currency, period_key, cutoff, captures_minor, fees_minor, refunds_minor,
        reserve_held_minor, reserve_released_minor, carried_minor, amount_minor, state, created_at)
      SELECT 'po_big_' || g || '_' || ?, ?, 'USD', 'big-' || g, now(), 0, 0, 0, 0, 0, 0, 1, 'paid', now() - g * interval '1 second'
      FROM generate_series(1, 20000) g`, [uid(''), b.id]);
    await db.raw('ANALYZE payouts');
    const first = await call(base, '/payouts?limit=3', { key: a.key });
    expect(first.body).toMatchObject({ object: 'list', has_more: true });
    const second = await call(base, `/payouts?limit=3&starting_after=${first.body.data[2].id}`, { key: a.key });
    expect([...ids(first.body), ...ids(second.body)]).toEqual(mine);
    expect(ids((await call(base, `/payouts?state=paid&limit=10&merchantId=${a.id}`, { key: operator })).body)).toEqual([mine[1], mine[3]]);
    expect((await call(base, `/payouts?merchantId=${a.id}`, { key: b.key })).body.error.code).toBe('parameter_not_allowed');
    // (by the merchant's (created_at, id) index, or by the (created_at, id) one filtering: the planner's choice)
    await expectIndexedPages('payouts', /payouts_(merchant_)?created_id_idx/, async () => {
      const page = await stores.payouts.list({ limit: 100, merchantId: b.id });
      await stores.payouts.list({ limit: 100, merchantId: b.id, startingAfter: page.data[99].id });
    }, db);

    // invoices: one per buyer in the open period, each buyer sees its own
    const seq = await stores.periods.openSeq();
    const buyers: Array<{ id: string; key: string }> = [];
    for (let i = 0; i < 3; i++) {
      const { buyer, apiKey } = await stores.parties.createBuyer({ name: `List buyer ${i}`, currency: 'USD', paymentToken: 'tok_list' });
      buyers.push({ id: buyer.id, key: apiKey });
      await db('invoices').insert({ period_seq: seq, buyer_id: buyer.id, currency: 'USD', payment_count: 1, gross_minor: 10, refunded_minor: 0,
        amount_minor: 10, state: 'paid', charge_token: 'tok_list', created_at: new Date(T0 + i * 1000) });
    }
    const own = await call(base, '/invoices', { key: buyers[1].key });
    expect(own.body.data).toMatchObject([{ id: `in_${seq}_${buyers[1].id}`, object: 'invoice', buyerId: buyers[1].id }]);
    const range = `created_gte=${new Date(T0).toISOString()}&created_lte=${new Date(T0 + 2000).toISOString()}`;
    const all1 = await call(base, `/invoices?limit=2&${range}`, { key: operator });
    const all2 = await call(base, `/invoices?limit=2&${range}&starting_after=${all1.body.data[1].id}`, { key: operator });
    expect([...all1.body.data, ...all2.body.data].map((x: { buyerId: string }) => x.buyerId)).toEqual(buyers.map((x) => x.id).reverse());
    expect((await call(base, `/invoices?buyerId=${buyers[0].id}`, { key: buyers[1].key })).body.error.code).toBe('parameter_not_allowed');
    expect((await call(base, '/invoices', { key: a.key })).status).toBe(403);
    await expectIndexedPages('invoices', /invoices_(buyer_)?created_id_idx/, async () => { await stores.settlementLists.invoices({ limit: 10, buyerId: buyers[0].id }); }, db);

    // micro-payments: a buyer's purchases, a seller's sales, from an index among 20,000 of another buyer
    const { seller, apiKey: sellerKey } = await stores.parties.createSeller({ name: 'List seller', currency: 'USD', payoutDestination: 'acct_l', feeBps: 0 });
    const pay = (buyer: string, n: number, at: string) => db.raw(`INSERT INTO micro_payments (period_seq, buyer_id, seller_id, item_id,
        client_id, rule_set_id, currency, amount_minor, fee_minor, grant_seconds, created_at)
      SELECT ?, ?, ?, 'item', 'c-' || g, 'rs', 'USD', 5, 0, 60, ${at} FROM generate_series(1, ?) g RETURNING id`, [seq, buyer, seller.id, n]);
    const bought = (await pay(buyers[0].id, 3, `'2026-01-01'::timestamptz + g * interval '1 second'`)).rows.map((r: { id: string }) => `mp_${r.id}`).reverse();
    await pay(buyers[2].id, 20_000, `now() - g * interval '1 second'`);
    await db.raw('ANALYZE micro_payments');
    const p1 = await call(base, '/micropayments?limit=2', { key: buyers[0].key });
    const p2 = await call(base, `/micropayments?limit=2&starting_after=${p1.body.data[1].id}`, { key: buyers[0].key });
    expect([...ids(p1.body), ...ids(p2.body)]).toEqual(bought);
    expect(p1.body.data[0]).toMatchObject({ object: 'micropayment', buyerId: buyers[0].id, sellerId: seller.id, refunded: false, refundedAt: null });
    expect(ids((await call(base, `/micropayments?limit=3&buyerId=${buyers[0].id}`, { key: operator })).body)).toEqual(bought);
    expect((await call(base, '/micropayments?limit=1', { key: sellerKey })).body).toMatchObject({ has_more: true, data: [{ sellerId: seller.id }] });
    expect((await call(base, '/micropayments?starting_after=123', { key: buyers[0].key })).body.error.code).toBe('cursor_unknown');
    expect((await call(base, `/micropayments?sellerId=${seller.id}`, { key: buyers[0].key })).body.error.code).toBe('parameter_not_allowed');
    expect((await call(base, '/micropayments', { key: operator })).body.error.code).toBe('parameter_missing');
    await expectIndexedPages('micro_payments', /micro_payments_buyer_created_id_idx/, async () => {
      const page = await stores.settlementLists.payments({ limit: 100, buyerId: buyers[2].id });
      await stores.settlementLists.payments({ limit: 100, buyerId: buyers[2].id, startingAfter: `mp_${page.data[99].id}` });
    }, db);

    // seller credits and periods: the shape, and who may list them
    expect((await call(base, '/seller-credits?limit=1', { key: a.key })).body).toEqual({ object: 'list', data: [], has_more: false });
    const periods = await call(base, '/settlement-periods?limit=1&state=open', { key: operator });
    expect(periods.body.data).toMatchObject([{ id: `sp_${seq}`, object: 'settlement_period', state: 'open', totals: null }]);
    expect((await call(base, '/settlement-periods', { key: a.key })).status).toBe(403);
  });
});
