// The ledger's PostgreSQL stopped with `pg_ctl stop -m immediate` mid-load and started again (issue 13, 5b). The test
// runs a cluster of its own (free port, temporary directory) for the broker; the API and worker run against it as
// real processes, and the processor simulator, playing an outside processor, keeps its state in the run's shared
// cluster, so only the broker's database goes away. Card orders and micro-payments are in flight when it stops; while
// it is down the API answers 503 database_unavailable with Retry-After within 5 s; clients retry a 503 with the same
// clientOrderId / clientId, as the API tells them to. Afterwards nothing is lost (every order accepted authorizes
// and captures once, every micro-payment answered 2xx is recorded once, under the id it was answered with) and
// nothing is posted twice; the processor, the API and the ledger agree to the cent.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config';
import { paymentNumber } from '../../domain/micropayments';
import { type Database, migrate, openDatabase } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import { freePort } from '../../scripts/ports';
import { type Cluster, type ClusterOptions, startPrivateCluster } from '../../scripts/postgres';
import { createStores } from '../../stores';
import { orderWorkflowId } from '../../workflows/order.contract';
import { cardOrderBody, expectCapturedOnceToTheCent, shipInFull } from '../support/card-orders';
import { uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

/** Orders launched LAUNCH_GAP_MS apart, each authorization held AUTHORIZE_LATENCY_MS: the stop lands among them. */
const ORDERS = 24;
const LAUNCH_GAP_MS = 100;
const AUTHORIZE_LATENCY_MS = 500;
/** Buyers each recording one payment after another, and one client recording batches of BATCH payments. */
const BUYERS = 6;
const BATCH = 10;
const PRICES = [7, 11, 13];
/** A client's pause before it repeats a request answered 503 (the API's Retry-After says 5 s; the test is impatient). */
const RETRY_PAUSE_MS = 200;
/** The outage lasts at least this long, so the workflows' writes of their books are retried a few times. */
const OUTAGE_MS = 3000;
/** The bound issue 13 sets on an answer while a dependency is away. */
const UNAVAILABLE_BOUND_MS = 5000;

let dir: string | undefined;
let cluster: Cluster | undefined;
let database: Database | undefined;
let svc: Services | undefined;
afterAll(async () => {
  await svc?.stopAll();
  await database?.close();
  cluster?.stop('immediate');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timed = async <T>(f: () => Promise<T>) => { const t = Date.now(); const r = await f(); return { r, ms: Date.now() - t }; };
const unavailable = (code: string) => ({ status: 503, body: { error: { type: 'service_unavailable_error', code } } });
type Answer = Awaited<ReturnType<typeof call>>;

describe("the ledger's PostgreSQL stopped (immediate) mid-load and started again", () => {
  it('answers 503 database_unavailable within 5 s while it is down; afterwards nothing is lost, nothing posted twice, and the books agree to the cent', async () => {
    const base = join(loadConfig().dataDir, 'tests');
    mkdirSync(base, { recursive: true });
    const tmp = dir = mkdtempSync(join(base, 'fault-postgres-'));
    chmodSync(tmp, 0o755); // the cluster runs as the postgres user when we are root
    // Durable settings (not the test stack's `fast`): with synchronous_commit off a commit already answered could be
    // lost by an immediate stop, which would be the test's doing, not the broker's.
    const clusterOptions: ClusterOptions = { dataDir: join(tmp, 'postgres'), port: await freePort() };
    cluster = await startPrivateCluster(clusterOptions);
    // the test's own connections, closed while the cluster is stopped (knex would warn of each dead one it finds)
    const open = () => openDatabase(cluster!.url, { poolMax: 4, applicationName: 'paybroker-test' });
    let { db } = database = open();
    await migrate(db);
    const stores = createStores(database);
    const s = svc = await startServices({ DATABASE_URL: cluster.url, PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' },
      { perService: { simulator: { DATABASE_URL: inject('databaseUrl') } } });

    // parties: a merchant, sellers with one item each, buyers with their rule-set tokens
    const operator = (await stores.principals.create('operator', 'PostgreSQL fault operator')).apiKey;
    const { merchant, apiKey: key } = await stores.merchants.create('PostgreSQL fault shop', MERCHANT_SETTINGS);
    const must = async (path: string, body: unknown, as = operator, method?: string) => {
      const r = await call(s.base, path, { key: as, body, idem: uid('idem-'), method });
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(201);
      return r.body;
    };
    const sellers: Array<{ id: string; priceMinor: number }> = [];
    for (const priceMinor of PRICES) {
      const seller = await must('/sellers', { name: `Seller ${priceMinor}`, currency: 'USD', payoutDestination: `acct_${uid()}`, feeBps: 500 });
      await must(`/sellers/${seller.id}/items/a`, { title: 'A', category: 'news', priceMinor, currency: 'USD', grantSeconds: 60 }, seller.apiKey, 'PUT');
      sellers.push({ id: seller.id, priceMinor });
    }
    const buyers: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < BUYERS + 1; i++) {
      const buyer = await must('/buyers', { name: `Buyer ${i}`, currency: 'USD', paymentToken: await tokenizeCard(s.processor) });
      buyers.push({ id: buyer.id, token: (await must('/rule-sets', { rules: {} }, buyer.apiKey)).token });
    }
    const tokens = await Promise.all(Array.from({ length: ORDERS }, () => tokenizeCard(s.processor)));
    const bodies = tokens.map((token, i) => cardOrderBody(uid('co-'), token, i));
    const ids = bodies.map((b) => orderWorkflowId(merchant.id, b.clientOrderId));
    const inState = async (state: string, of = ids) =>
      Number((await db('orders').whereIn('id', of).where({ state }).count({ n: '*' }).first())!.n);

    // A client: repeats a request answered 503 database_unavailable (and only that) with the same body and names.
    const refusals = { '/orders': 0, '/micropayments': 0, '/micropayments/batch': 0 };
    const untilAccepted = async (path: string, c: Parameters<typeof call>[2]): Promise<{ r: Answer; attempts: number }> => {
      for (let attempts = 1; ; attempts++) {
        const r = await call(s.base, path, c);
        if (r.status < 300) return { r, attempts };
        expect(r, `${path}: ${JSON.stringify(r.body)}`).toMatchObject(unavailable('database_unavailable'));
        expect(r.headers.get('retry-after')).toBe('5');
        refusals[path as keyof typeof refusals]++;
        await pause(RETRY_PAUSE_MS);
      }
    };
    type Recorded = { buyerId: string; clientId: string; id: string; amountMinor: number; attempts: number; replayed: boolean; atMs: number };
    const recorded: Recorded[] = [];
    const payment = (buyer: { token: string }, clientId: string, k: number) =>
      ({ clientId, buyerToken: buyer.token, sellerId: sellers[k % sellers.length].id, itemId: 'a', currency: 'USD' });
    let loadOn = true;
    const payer = async (b: number) => { // one buyer's program, one payment after another
      for (let k = 0; loadOn; k++) {
        const body = payment(buyers[b], `p${k}`, k + b);
        const { r, attempts } = await untilAccepted('/micropayments', { key: operator, body });
        recorded.push({ buyerId: buyers[b].id, clientId: body.clientId, id: r.body.id, amountMinor: r.body.amountMinor, attempts,
          replayed: r.status === 200, atMs: Date.now() });
        await pause(20);
      }
    };
    const batcher = async () => { // a buyer app recording batches of payments for every buyer
      for (let n = 0; loadOn; n++) {
        const payments = Array.from({ length: BATCH }, (_, j) => payment(buyers[j % BUYERS], `b${n}-${j}`, n + j));
        const { r, attempts } = await untilAccepted('/micropayments/batch', { key: operator, body: { payments } });
        expect(r.body.refused).toBe(0);
        for (const x of r.body.results) {
          recorded.push({ buyerId: x.payment.buyerId, clientId: x.clientId, id: x.payment.id, amountMinor: x.payment.amountMinor, attempts,
            replayed: x.status === 'replayed', atMs: Date.now() });
        }
        await pause(50);
      }
    };

    // the load: orders one after another, payments all along
    await s.admin.setFaults({ mode: 'slow', latencyMs: AUTHORIZE_LATENCY_MS, operations: ['authorize'] });
    const loadStarted = Date.now();
    const payers = [...Array.from({ length: BUYERS }, (_, b) => payer(b)), batcher()];
    const orders = bodies.map((body, i) => pause(i * LAUNCH_GAP_MS)
      .then(() => untilAccepted('/orders', { key, idem: `idem-${body.clientOrderId}`, body })));
    await expect.poll(async () => (await inState('authorized_plus_avs')) >= ORDERS / 3 && recorded.length >= 100,
      { timeout: 60_000, interval: 50 }).toBe(true);

    const authorizedAtStop = await inState('authorized_plus_avs');
    await database.close();
    database = undefined;
    cluster.stop('immediate');
    const stoppedAt = Date.now();
    const recordedAtStop = recorded.length;

    // while it is down: reading an order, recording a payment
    const read = await timed(() => call(s.base, `/orders/${ids[0]}`, { key }));
    expect(read.r).toMatchObject(unavailable('database_unavailable'));
    expect(read.r.headers.get('retry-after')).toBe('5');
    expect(read.ms).toBeLessThanOrEqual(UNAVAILABLE_BOUND_MS);
    const lone = payment(buyers[BUYERS], 'lone', 0);
    const pay = await timed(() => call(s.base, '/micropayments', { key: operator, body: lone }));
    expect(pay.r).toMatchObject(unavailable('database_unavailable'));
    expect(pay.r.headers.get('retry-after')).toBe('5');
    expect(pay.ms).toBeLessThanOrEqual(UNAVAILABLE_BOUND_MS);
    // down until the payers have met the outage (a refusal for each, and one for the batches, at least), OUTAGE_MS at least
    const before = { ...refusals };
    await expect.poll(() => refusals['/micropayments'] - before['/micropayments'] >= BUYERS && refusals['/micropayments/batch'] > before['/micropayments/batch']
      && Date.now() - stoppedAt >= OUTAGE_MS, { timeout: 20_000, interval: 50 }).toBe(true);

    const restartAt = Date.now();
    cluster = await startPrivateCluster(clusterOptions);
    const upAt = Date.now();
    ({ db } = database = open());
    // the payment refused while it was down, repeated: recorded now, once; a further repeat replays it
    const first = await call(s.base, '/micropayments', { key: operator, body: lone });
    expect(first.status).toBe(201);
    const again = await call(s.base, '/micropayments', { key: operator, body: lone });
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id } });
    recorded.push({ buyerId: buyers[BUYERS].id, clientId: 'lone', id: first.body.id, amountMinor: first.body.amountMinor, attempts: 2,
      replayed: false, atMs: Date.now() });

    // every order the clients sent is accepted and authorizes; the payers record after the restart, then stop
    const accepted = await Promise.all(orders);
    for (const { r } of accepted) expect([200, 201, 202], JSON.stringify(r.body)).toContain(r.status);
    await s.admin.clearFaults();
    await expect.poll(() => inState('authorized_plus_avs'), { timeout: 90_000, interval: 250 }).toBe(ORDERS);
    const recoveredMs = Date.now() - upAt;
    await expect.poll(() => buyers.slice(0, BUYERS).every((b) => recorded.some((p) => p.buyerId === b.id && p.clientId.startsWith('p') && p.atMs > upAt)),
      { timeout: 30_000, interval: 100 }).toBe(true);
    loadOn = false;
    await Promise.all(payers);

    await Promise.all(ids.map((id, i) => shipInFull(s.base, key, id, bodies[i])));
    await expect.poll(() => inState('shipped'), { timeout: 30_000, interval: 250 }).toBe(ORDERS);
    const ordersMinor = await expectCapturedOnceToTheCent({ base: s.base, key, admin: s.admin, db, ids });

    // every payment answered 2xx is recorded once, under the id it was answered with, and nothing else is
    const rows: Array<{ id: string; buyer_id: string; client_id: string; amount_minor: string }> =
      await db('micro_payments').select('id', 'buyer_id', 'client_id', 'amount_minor');
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(new Set(recorded.map((p) => p.id)).size).toBe(recorded.length);
    expect(rows).toHaveLength(recorded.length);
    for (const p of recorded) {
      expect(byId.get(paymentNumber(p.id)!), p.id).toMatchObject({ buyer_id: p.buyerId, client_id: p.clientId, amount_minor: String(p.amountMinor) });
    }
    const paymentsMinor = recorded.reduce((sum, p) => sum + p.amountMinor, 0);
    const ledger = new Ledger(db);
    let receivable = 0n;
    for (const b of buyers) receivable += (await ledger.balance(`buyer-receivable:${b.id}:USD`)).amountMinor;
    expect(receivable).toBe(BigInt(paymentsMinor));
    // nothing posted twice (the books' idempotency keys are unique: each step's entry is written once)
    expect(await db('journal_entries').select('idempotency_key').groupBy('idempotency_key').havingRaw('count(*) > 1')).toEqual([]);
    // the services lived through it (none was restarted by the test)
    for (const name of ['api', 'worker', 'simulator'] as const) expect(s.proc[name].child.exitCode, name).toBeNull();

    const retried = recorded.filter((p) => p.attempts > 1);
    console.log(`[fault: PostgreSQL] ${ORDERS} orders and ${recorded.length} micro-payments; stopped ${stoppedAt - loadStarted} ms into the load `
      + `with ${authorizedAtStop} orders authorized and ${recordedAtStop} payments recorded; while down GET 503 in ${read.ms} ms, POST /micropayments 503 in ${pay.ms} ms; `
      + `503s repeated by the clients: ${JSON.stringify(refusals)} (${retried.length} payments needed a repeat, ${retried.filter((p) => p.replayed).length} `
      + `of them replayed); down ${restartAt - stoppedAt} ms, restart (with recovery) took ${upAt - restartAt} ms, every order authorized `
      + `${recoveredMs} ms after; captured ${ordersMinor} and recorded ${paymentsMinor} minor units, processor = API = ledger`);
  }, 170_000);
});
