// npm run bench:orders — card orders end to end over HTTP against the real API, worker and simulator processes,
// compared with the ceiling measured in the same run (pingWorkflow: one no-op activity, same server, same worker).
//
//   1. ceiling     pingWorkflow started and awaited by a Temporal client, BENCH_CONCURRENCY in flight
//   2. throughput  BENCH_ORDERS orders (create → authorized → one shipment of everything → captured),
//                  BENCH_CONCURRENCY in flight; orders/s and its ratio to the ceiling (target ≥ 40%)
//   3. latency     open loop: one order started every 1000/BENCH_RATE ms for BENCH_SECONDS (each also shipped),
//                  p50/p99 of create-to-authorized, the POST /v1/orders round trip (target p50 < 25 ms)
//
// Then checks every order captured its total and the ledger's trial balance is zero per currency. Exits non-zero
// on an error or a failed check, not on a missed target. PostgreSQL and Temporal come from startTestStack: free
// ports, non-durable settings (fsync off, SQLite synchronous=OFF), so the figures are upper bounds.
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createPrincipal } from '../../api/principals';
import { createDb, type Db } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import { HttpProcessorClient } from '../../processors/http-client';
import { freePort } from '../../scripts/ports';
import { MERCHANT_SETTINGS } from '../../test/support/order-input';
import { startTestStack, type TestStack } from '../../test/support/stack';
import type { pingWorkflow } from '../../workflows/ping';
import { JsonClient } from '../support/http';
import { spawnService, type ServiceProcess } from '../support/processes';
import { closedLoop, fmtSummary, ms, openLoop, summarize } from '../support/stats';

// --- settings ----------------------------------------------------------------------------------------------
function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

const S = {
  orders: intEnv('BENCH_ORDERS', 300, 1, 100_000),
  concurrency: intEnv('BENCH_CONCURRENCY', 16, 1, 1_000),
  rate: intEnv('BENCH_RATE', 50, 1, 1_000),
  seconds: intEnv('BENCH_SECONDS', 10, 1, 600),
  /** Ping workflows in the ceiling phase. */
  pings: intEnv('BENCH_PINGS', 600, 1, 100_000),
  /** Untimed pings and orders run first, so JIT, caches and pools are warm. */
  warmup: intEnv('BENCH_WARMUP', 32, 0, 10_000),
};
const latencyOrders = S.rate * S.seconds;
const intervalMs = 1000 / S.rate;

const TARGET_RATIO = 0.4;
const TARGET_CREATE_P50_MS = 25;
/** How long the books may lag an update's reply (saveOrder runs after the ship update answers). */
const SETTLE_TIMEOUT_MS = 30_000;

// Order body as test/e2e/orders.test.ts: 2 × 19.99 + 45.00, standard shipping 5.00, CA tax 7.25% → 96.50 USD.
const ITEMS = [{ sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' }, { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' }];
const ADDRESS = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
const SHIP_ALL = ITEMS.map((i) => ({ sku: i.sku, quantity: i.quantity }));

const log = (msg: string) => console.log(`[bench] ${msg}`);

// --- teardown ----------------------------------------------------------------------------------------------
const cleanups: Array<{ what: string; run: () => Promise<unknown> | unknown }> = [];
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    while (cleanups.length) {
      const c = cleanups.pop()!;
      try {
        await c.run();
      } catch (err) {
        console.error(`[bench] stopping ${c.what} failed:`, err);
      }
    }
  })();
  return stopping;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`[bench] ${sig}: stopping everything`);
    void stopAll().finally(() => process.exit(130));
  });
}

// --- the run -----------------------------------------------------------------------------------------------
interface OrderRecord { id: string; totalMinor: number; captured: boolean; failure?: string }

async function main(): Promise<boolean> {
  const started = performance.now();
  log(`starting PostgreSQL and the Temporal dev server (non-durable fast settings), bundling workflows ...`);
  const stack: TestStack = await startTestStack((m) => log(m));
  cleanups.push({ what: 'PostgreSQL and Temporal', run: () => stack.stop() });

  const [apiPort, simPort, simAdminPort] = [await freePort(), await freePort(), await freePort()];
  const taskQueue = `bench-orders-${randomUUID().slice(0, 8)}`;
  const env = {
    DATABASE_URL: stack.databaseUrl, TEMPORAL_ADDRESS: stack.temporalAddress, PAYBROKER_WORKFLOW_BUNDLE: stack.workflowBundlePath,
    PORT: String(apiPort), PROCESSOR_URL: `http://127.0.0.1:${simPort}`, PAYBROKER_SIMULATOR_PORT: String(simPort),
    PAYBROKER_SIMULATOR_ADMIN_PORT: String(simAdminPort), PAYBROKER_TASK_QUEUE: taskQueue,
  };
  log('starting the simulator, worker and API processes ...');
  const procs: ServiceProcess[] = [];
  const spawnReady = async (name: string, entry: string, ready: RegExp) => {
    const p = spawnService(name, entry, env);
    procs.push(p);
    await p.waitForOutput(ready);
  };
  // Stopped in reverse: API first, then the worker (drains), then the simulator.
  cleanups.push({ what: 'simulator', run: () => procs.find((p) => p.name === 'simulator')?.stop() });
  cleanups.push({ what: 'worker', run: () => procs.find((p) => p.name === 'worker')?.stop() });
  cleanups.push({ what: 'API', run: () => procs.find((p) => p.name === 'api')?.stop() });
  try {
    await Promise.all([
      spawnReady('simulator', 'processors/simulator/main.ts', /simulator listening/),
      spawnReady('worker', 'workers/main.ts', /worker polling/),
      spawnReady('api', 'api/main.ts', /API listening/),
    ]);
  } catch (err) {
    for (const p of procs) if (!(err as Error).message.includes(p.output())) console.error(`--- ${p.name} output ---\n${p.output()}`);
    throw err;
  }
  const crashed = () => procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);

  const db: Db = createDb(stack.databaseUrl, { poolMax: 2, applicationName: 'paybroker-bench' });
  cleanups.push({ what: 'bench database pool', run: () => db.destroy() });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  cleanups.push({ what: 'Temporal client', run: () => connection.close() });
  const temporal = new Client({ connection, namespace: 'default' });
  const api = new JsonClient(`http://127.0.0.1:${apiPort}/v1`, S.concurrency + latencyOrders);
  cleanups.push({ what: 'HTTP client', run: () => api.close() });

  // Principals: an operator in the database, a merchant over the API.
  const operatorKey = (await createPrincipal(db, 'operator', 'bench operator')).apiKey;
  const m = await api.post('/merchants', { name: 'Bench shop', ...MERCHANT_SETTINGS },
    { authorization: `Bearer ${operatorKey}`, 'idempotency-key': `bench-merchant-${taskQueue}` });
  if (m.status !== 201) throw new Error(`POST /v1/merchants: ${m.status} ${JSON.stringify(m.body)}`);
  const auth = { authorization: `Bearer ${m.body.apiKey as string}` };

  // Card tokens, made in advance (not timed).
  const tokensNeeded = S.warmup + S.orders + latencyOrders;
  log(`tokenizing ${tokensNeeded} cards at the simulator ...`);
  const sim = new HttpProcessorClient({ baseUrl: `http://127.0.0.1:${simPort}` });
  const tokens: string[] = new Array(tokensNeeded);
  await closedLoop(tokensNeeded, 16, async (i) => {
    tokens[i] = (await sim.tokenize({ cardNumber: '4242424242424242', expMonth: 12, expYear: 2099 }, `bench-tok-${taskQueue}-${i}`)).token;
  });
  let nextToken = 0;

  // One order over HTTP: create (must be authorized_plus_avs), then ship everything (must capture the total).
  const orders: OrderRecord[] = [];
  async function runOrder(tag: string, i: number, timed: { create?: number[]; ship?: number[]; order?: number[] },
    scheduledAt?: number): Promise<void> {
    const clientOrderId = `${tag}-${i}`;
    const rec: OrderRecord = { id: '', totalMinor: 0, captured: false };
    orders.push(rec);
    const t0 = scheduledAt ?? performance.now();
    try {
      const created = await api.post('/orders', {
        clientOrderId, customerId: 'bench-customer', items: ITEMS,
        shipping: { optionId: 'standard', address: ADDRESS },
        payment: { token: tokens[nextToken++], billingPostalCode: '94107' },
      }, auth);
      const t1 = performance.now();
      if (created.status !== 201 || created.body?.state !== 'authorized_plus_avs') {
        throw new Error(`create: ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
      }
      timed.create?.push(t1 - t0);
      rec.id = created.body.id;
      rec.totalMinor = created.body.totalMinor;
      const shipped = await api.post(`/orders/${rec.id}/shipments`,
        { shipmentId: 'all', items: SHIP_ALL, trackingNumber: `TRK-${clientOrderId}` }, auth);
      const t2 = performance.now();
      if (shipped.status !== 200 || shipped.body?.state !== 'shipped' || shipped.body?.capturedMinor !== rec.totalMinor) {
        throw new Error(`ship: ${shipped.status} ${JSON.stringify(shipped.body).slice(0, 300)}`);
      }
      timed.ship?.push(t2 - t1);
      timed.order?.push(t2 - t0);
      rec.captured = true;
    } catch (err) {
      rec.failure = `${clientOrderId}: ${(err as Error).message}`;
    }
  }

  const runPing = async (id: string) => {
    const r = await temporal.workflow.execute<typeof pingWorkflow>('pingWorkflow', {
      taskQueue, workflowId: id, args: [{ message: 'bench' }], workflowExecutionTimeout: '1 minute',
    });
    if (r.echoed !== 'bench') throw new Error(`ping ${id} echoed ${JSON.stringify(r)}`);
  };

  if (S.warmup > 0) {
    log(`warming up: ${S.warmup} pings and ${S.warmup} orders (untimed) ...`);
    await closedLoop(S.warmup, S.concurrency, (i) => runPing(`ping-bench-warm-${i}`));
    await closedLoop(S.warmup, S.concurrency, (i) => runOrder('warm', i, {}));
  }

  // 1. Ceiling.
  log(`phase 1/3 ceiling: ${S.pings} ping workflows, ${S.concurrency} in flight ...`);
  const pingMs: number[] = [];
  const pingWallMs = await closedLoop(S.pings, S.concurrency, async (i) => {
    const t0 = performance.now();
    await runPing(`ping-bench-${i}`);
    pingMs.push(performance.now() - t0);
  });
  const ceiling = S.pings / (pingWallMs / 1000);

  // 2. Throughput.
  log(`phase 2/3 throughput: ${S.orders} orders, ${S.concurrency} in flight ...`);
  const tpFirst = orders.length;
  const tp = { create: [] as number[], ship: [] as number[], order: [] as number[] };
  const tpWallMs = await closedLoop(S.orders, S.concurrency, (i) => runOrder('tp', i, tp));
  const tpFailed = orders.slice(tpFirst).filter((o) => o.failure).length;
  const throughput = (S.orders - tpFailed) / (tpWallMs / 1000);

  // 3. Latency at a steady rate.
  log(`phase 3/3 latency: ${S.rate} orders/s for ${S.seconds} s (open loop, ${latencyOrders} orders) ...`);
  const latFirst = orders.length;
  const lat = { create: [] as number[], ship: [] as number[], order: [] as number[] };
  const latSent: number[] = [];
  const loadBefore = loadavg()[0];
  const { maxStartLagMs } = await openLoop(latencyOrders, intervalMs, async (i, scheduledAt) => {
    const sentAt = performance.now();
    const own = { create: [] as number[], ship: [] as number[], order: [] as number[] };
    await runOrder('lat', i, own, scheduledAt);
    lat.create.push(...own.create);
    lat.ship.push(...own.ship);
    lat.order.push(...own.order);
    if (own.create.length) latSent.push(own.create[0] - (sentAt - scheduledAt));
  });
  const latFailed = orders.slice(latFirst).filter((o) => o.failure).length;

  if (crashed()) throw new Error(`${crashed()!.name} exited during the run:\n${crashed()!.output()}`);

  // Correctness: every order captured its total, the read model agrees, the ledger balances.
  log('verifying captures and the ledger ...');
  const failures = orders.filter((o) => o.failure);
  const ok = orders.filter((o) => !o.failure);
  const ids = ok.map((o) => o.id);
  let rows: Array<{ id: string; total_minor: string; state: string; captured: string | null }> = [];
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    rows = [];
    for (let i = 0; i < ids.length; i += 1000) {
      rows.push(...await db('orders as o').leftJoin('captures as c', 'c.order_id', 'o.id').whereIn('o.id', ids.slice(i, i + 1000))
        .groupBy('o.id', 'o.total_minor', 'o.state').select('o.id', 'o.total_minor', 'o.state').sum({ captured: 'c.amount_minor' }) as typeof rows);
    }
    const settled = rows.length === ids.length && rows.every((r) => r.state === 'shipped');
    if (settled || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  const badBooks = ok.filter((o) => {
    const r = byId.get(o.id);
    return !r || r.state !== 'shipped' || Number(r.total_minor) !== o.totalMinor || Number(r.captured ?? 0) !== o.totalMinor;
  });
  const balance = await new Ledger(db).trialBalance();
  const unbalanced = [...balance].filter(([, total]) => total !== 0n);
  const capturedTotal = rows.reduce((s, r) => s + Number(r.captured ?? 0), 0);

  // --- report ------------------------------------------------------------------------------------------------
  const cpu = cpus()[0]?.model ?? 'unknown';
  const createLat = summarize(lat.create);
  const createSent = summarize(latSent);
  const ratio = throughput / ceiling;
  const met = (b: boolean) => (b ? 'MET' : 'MISSED');
  const line = '-'.repeat(100);
  console.log(`
${line}
Paybroker order benchmark
  machine      ${availableParallelism()} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load avg before phase 3 ${loadBefore.toFixed(2)}
  stack        PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and Temporal dev server
               (SQLite in memory, synchronous=OFF): NON-DURABLE fast settings, so figures are upper bounds.
               API, worker and simulator are separate processes (workers/options.ts as in production);
               the load generator and Temporal client run in this process, on the same machine.
  settings     BENCH_ORDERS=${S.orders} BENCH_CONCURRENCY=${S.concurrency} BENCH_RATE=${S.rate}/s BENCH_SECONDS=${S.seconds} BENCH_PINGS=${S.pings} BENCH_WARMUP=${S.warmup}
  order        2 hard items + standard shipping, CA tax: 96.50 USD; create → authorized_plus_avs → one shipment → captured

1. ceiling     pingWorkflow (1 no-op activity), ${S.concurrency} in flight: ${S.pings} in ${(pingWallMs / 1000).toFixed(2)} s
               ${ceiling.toFixed(1)} workflows/s; start→result ${fmtSummary(summarize(pingMs))}
2. throughput  ${S.orders} orders, ${S.concurrency} in flight: ${(tpWallMs / 1000).toFixed(2)} s, ${tpFailed} failed
               ${throughput.toFixed(1)} orders/s = ${(ratio * 100).toFixed(1)}% of the ceiling
               create ${fmtSummary(summarize(tp.create))}
               ship   ${fmtSummary(summarize(tp.ship))}
               order  ${fmtSummary(summarize(tp.order))}
3. latency     open loop ${S.rate} orders/s for ${S.seconds} s (${latencyOrders} orders, each shipped too), ${latFailed} failed, max start lag ${ms(maxStartLagMs)}
               create-to-authorized (from scheduled start) ${fmtSummary(createLat)}
               create-to-authorized (from send)            ${fmtSummary(createSent)}
               ship                                         ${fmtSummary(summarize(lat.ship))}

targets
  throughput ≥ ${TARGET_RATIO * 100}% of the ceiling             ${(ratio * 100).toFixed(1)}%  ${met(ratio >= TARGET_RATIO)}
  create-to-authorized p50 < ${TARGET_CREATE_P50_MS} ms at ${S.rate}/s  ${ms(createLat.p50)}  ${met(createLat.p50 < TARGET_CREATE_P50_MS)}  (p99 ${ms(createLat.p99)})

correctness
  orders       ${orders.length} (warm-up included), ${failures.length} failed over HTTP, ${badBooks.length} with books not matching (captured ${(capturedTotal / 100).toFixed(2)} USD in all)
  ledger       trial balance ${[...balance].map(([c, t]) => `${c} ${t}`).join(', ') || '(no postings)'}: ${unbalanced.length ? 'NOT ZERO' : 'zero per currency'}
  total time   ${((performance.now() - started) / 1000).toFixed(1)} s
${line}`);
  for (const f of failures.slice(0, 10)) console.log(`  failed: ${f.failure}`);
  for (const o of badBooks.slice(0, 10)) console.log(`  books: ${o.id} ${JSON.stringify(byId.get(o.id) ?? null)} (expected ${o.totalMinor})`);
  return failures.length === 0 && badBooks.length === 0 && unbalanced.length === 0 && balance.size > 0;
}

let exitCode = 0;
try {
  const correct = await main();
  if (!correct) {
    console.error('[bench] correctness check FAILED');
    exitCode = 1;
  }
} catch (err) {
  console.error('[bench] error:', err);
  exitCode = 1;
}
log('stopping everything ...');
await stopAll();
process.exit(exitCode);
