// npm run bench:orders — card orders end to end over HTTP against the real API, worker and simulator processes,
// compared with the ceiling measured in the same run (pingWorkflow: one no-op activity, same server, same worker).
//
//   1. ceiling     pingWorkflow started and awaited by a Temporal client, BENCH_CONCURRENCY in flight
//   2. throughput  BENCH_ORDERS orders (create → authorized → one shipment of everything → captured),
//                  BENCH_CONCURRENCY in flight; orders/s and its ratio to the ceiling (target ≥ 40%).
//                  BENCH_ROUNDS rounds (3) each run 1 then 2, and the verdict is the median of the same-round ratios:
//                  the machine's speed drifts by tens of percent within minutes, which flipped single-shot verdicts
//   3. latency     open loop: one order started every 1000/BENCH_RATE ms for BENCH_SECONDS, each then shipped;
//                  p50/p99 of create-to-authorized, the POST /v1/orders round trip (target p50 < 25 ms)
//
// Then checks that every order captured its total (in the API's replies and in the captures table) and that the
// ledger's trial balance is zero per currency. Exits non-zero on an error or a failed check, not on a missed
// target. PostgreSQL and Temporal are those of the tests (startScratchStack): non-durable fast settings.
//
// Other knobs: BENCH_PINGS (ceiling sample), BENCH_WARMUP (untimed pings and orders first), BENCH_SERIAL (pings
// and orders one at a time first: the latency floor), BENCH_PROFILE=dir (V8 CPU profiles of the API and the
// worker), and for measuring a proposed change: BENCH_WORKFLOWS=path/index.ts (the worker runs that workflows
// entry instead of workflows/index.ts), BENCH_TEMPORAL_DYNAMIC_CONFIG=k=v,k=v (a dev server with that dynamic
// config instead of the tests' one), BENCH_ENCRYPTION=off (payloads plain: what the payload codec costs, by
// comparing the ratio with a run where it is on, the default), BENCH_TEMPORAL=cluster (the four-process Temporal
// cluster on PostgreSQL instead of the dev server, ceiling and throughput both on it: what the production topology
// costs on this machine).
import { loadavg } from 'node:os';
import { loadConfig } from '../../config';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../scripts/temporal-cli';
import type { PingWorkflow } from '../../workflows/ping.contract';
import { describeCpu, otherCpuPercent } from '../support/cpu';
import { JsonClient } from '../support/http';
import { benchMain, type BenchStack } from '../support/stack';
import { intEnv } from '../support/env';
import { closedLoop, fmtSummary, median, ms, openLoop, summarize } from '../support/stats';
import { BenchOrders, createMerchant, settledOrders, type Timings, timings, tokenizeCards } from '../support/orders';
import { machineLine, met, printOutputTail, RULE, runTimeLines, trialBalanceCheck } from '../support/report';

// --- settings ----------------------------------------------------------------------------------------------

const S = {
  orders: intEnv('BENCH_ORDERS', 200, 1, 100_000),
  concurrency: intEnv('BENCH_CONCURRENCY', 16, 1, 1_000),
  rate: intEnv('BENCH_RATE', 50, 1, 1_000),
  seconds: intEnv('BENCH_SECONDS', 10, 1, 600),
  pings: intEnv('BENCH_PINGS', 400, 1, 100_000),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 21),
  warmup: intEnv('BENCH_WARMUP', 32, 0, 10_000),
  /** Orders and pings run one at a time after the warm-up: the latency floor, without queueing. */
  serial: intEnv('BENCH_SERIAL', 20, 0, 10_000),
};
const latencyOrders = S.rate * S.seconds;

const TARGET_RATIO = 0.4;
const ENCRYPTION = process.env.BENCH_ENCRYPTION !== 'off';
const TEMPORAL = process.env.BENCH_TEMPORAL === 'cluster' ? 'cluster' : 'dev';
const TARGET_CREATE_P50_MS = 25;

const log = (msg: string) => console.log(`[bench] ${msg}`);

async function run(b: BenchStack): Promise<boolean> {
  const started = performance.now();
  const api = new JsonClient(b.apiBase, S.concurrency + latencyOrders);
  b.onStop('HTTP client', () => api.close());

  // An operator in the database, a merchant over the API.
  const operatorKey = (await b.stores.principals.create('operator', 'bench operator')).apiKey;
  const m = await createMerchant(api, operatorKey, 'Bench shop', `bench-merchant-${b.taskQueue}`);

  // Card tokens, made in advance (not timed).
  const tokensNeeded = S.warmup + S.serial + S.rounds * S.orders + latencyOrders;
  log(`tokenizing ${tokensNeeded} cards at the simulator (untimed) ...`);
  const tokens = await tokenizeCards(b, tokensNeeded, 'orders');
  let nextToken = 0;

  // One order: create (must reach authorized_plus_avs), then ship everything (must capture the total); see BenchOrders.
  const bench = new BenchOrders(api, m.auth, () => tokens[nextToken++]);
  const orders = bench.records;
  const runOrder = async (tag: string, i: number, t: Timings, scheduledAt?: number) => { await bench.run(`${tag}-${i}`, t, { scheduledAt }); };

  const runPing = async (id: string) => {
    const r = await b.temporal.workflow.execute<PingWorkflow>('pingWorkflow', {
      taskQueue: b.taskQueue, workflowId: id, args: [{ message: 'bench' }], workflowExecutionTimeout: '1 minute',
    });
    if (r.echoed !== 'bench') throw new Error(`ping ${id} echoed ${JSON.stringify(r)}`);
  };

  if (S.warmup > 0) {
    log(`warming up: ${S.warmup} pings and ${S.warmup} orders (untimed) ...`);
    await closedLoop(S.warmup, S.concurrency, (i) => runPing(`ping-bench-warm-${i}`));
    await closedLoop(S.warmup, S.concurrency, (i) => runOrder('warm', i, timings()));
  }

  // 0. One at a time: what a single order and a single ping cost without queueing.
  const serial = timings();
  const serialPingMs: number[] = [];
  if (S.serial > 0) {
    log(`unloaded: ${S.serial} pings and ${S.serial} orders, one at a time ...`);
    await closedLoop(S.serial, 1, async (i) => {
      const t0 = performance.now();
      await runPing(`ping-bench-serial-${i}`);
      serialPingMs.push(performance.now() - t0);
    });
    await closedLoop(S.serial, 1, (i) => runOrder('serial', i, serial));
  }

  // 1 and 2, in rounds: a ceiling and its throughput measured close together.
  const tp = timings();
  let tpFailed = 0;
  const rounds: Array<{ ceiling: number; throughput: number; ratio: number; pingWallMs: number; tpWallMs: number;
    cpu: Array<ReturnType<typeof b.cpu.sample>> }> = [];
  const pingMs: number[] = [];
  for (let r = 1; r <= S.rounds; r++) {
    log(`round ${r}/${S.rounds}: 1. ceiling, ${S.pings} ping workflows; 2. throughput, ${S.orders} orders; ${S.concurrency} in flight ...`);
    const cpu0 = b.cpu.sample();
    const pingWallMs = await closedLoop(S.pings, S.concurrency, async (i) => {
      const t0 = performance.now();
      await runPing(`ping-bench-${r}-${i}`);
      pingMs.push(performance.now() - t0);
    });
    const cpu1 = b.cpu.sample();
    const first = orders.length;
    const tpWallMs = await closedLoop(S.orders, S.concurrency, (i) => runOrder(`tp${r}`, i, tp));
    const cpu2 = b.cpu.sample();
    const failed = orders.slice(first).filter((o) => o.failure).length;
    tpFailed += failed;
    const ceiling = S.pings / (pingWallMs / 1000);
    const throughput = (S.orders - failed) / (tpWallMs / 1000);
    rounds.push({ ceiling, throughput, ratio: throughput / ceiling, pingWallMs, tpWallMs, cpu: [cpu0, cpu1, cpu2] });
  }
  const { pingWallMs, tpWallMs, cpu: [cpu0, cpu1, cpu2] } = rounds[rounds.length - 1];

  // 3. Latency at a steady rate (measured from each order's scheduled start, so a late start counts against it).
  log(`phase 3/3 latency: ${S.rate} orders/s for ${S.seconds} s, open loop (${latencyOrders} orders) ...`);
  const latFirst = orders.length;
  const lat = timings();
  const loadBefore = loadavg()[0];
  const latStart = performance.now();
  const { maxStartLagMs } = await openLoop(latencyOrders, 1000 / S.rate, (i, scheduledAt) => runOrder('lat', i, lat, scheduledAt));
  const latWallMs = performance.now() - latStart;
  const cpu3 = b.cpu.sample();
  const latFailed = orders.slice(latFirst).filter((o) => o.failure).length;

  const crashed = b.crashed();
  if (crashed) throw new Error(`${crashed.name} exited during the run:\n${crashed.output()}`);

  // Correctness: every order captured its total, in the replies and in the tables; the ledger balances.
  log('verifying captures and the ledger ...');
  const failures = orders.filter((o) => o.failure);
  const ok = orders.filter((o) => !o.failure);
  const ids = ok.map((o) => o.id);
  const rows = await settledOrders(b.db, ids, 'shipped');
  const byId = new Map(rows.map((r) => [r.id, r]));
  const badBooks = ok.filter((o) => {
    const r = byId.get(o.id);
    return !r || r.state !== 'shipped' || Number(r.total_minor) !== o.totalMinor || Number(r.captured ?? 0) !== o.totalMinor;
  });
  const capturedMinor = rows.reduce((s, r) => s + Number(r.captured ?? 0), 0);
  const trial = await trialBalanceCheck(b.db);

  // --- report --------------------------------------------------------------------------------------------------
  const createLat = summarize(lat.create);
  const others = Math.max(otherCpuPercent(cpu0, cpu1, pingWallMs), otherCpuPercent(cpu1, cpu2, tpWallMs), otherCpuPercent(cpu2, cpu3, latWallMs));
  const ratio = median(rounds.map((x) => x.ratio));
  const each = (f: (x: typeof rounds[number]) => string) => rounds.map(f).join(', ');
  console.log(`
${RULE}
Paybroker order benchmark
  machine     ${machineLine()}; load average before phase 3: ${loadBefore.toFixed(2)}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and ${TEMPORAL === 'dev'
    ? 'the Temporal dev server (SQLite in\n              memory, synchronous=OFF)' : "the Temporal cluster (its stores in that\n              PostgreSQL)"}: NON-DURABLE fast settings of the tests, so the figures are upper bounds. API, worker
              and simulator are separate processes (worker options: workers/options.ts); load generator and Temporal
              client run in this process, on the same machine.
  temporal    ${TEMPORAL === 'dev' ? 'dev server as the tests run it: 1 history shard'
    : `CLUSTER (BENCH_TEMPORAL=cluster): frontend, history, matching and worker processes on the run's PostgreSQL, ${loadConfig().temporalHistoryShards} history shards`}, dynamic config ${Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}${
  process.env.BENCH_TEMPORAL_DYNAMIC_CONFIG ? `\n              PLUS ${process.env.BENCH_TEMPORAL_DYNAMIC_CONFIG}` : ''}
  payloads    ${ENCRYPTION ? 'sealed (AES-256-GCM, runtime/payloadCodec.ts) by the API, the worker and the bench client' : 'PLAIN (BENCH_ENCRYPTION=off)'}
  workflows   ${process.env.BENCH_WORKFLOWS ? `BENCH_WORKFLOWS=${process.env.BENCH_WORKFLOWS} (NOT workflows/index.ts)` : 'workflows/index.ts'}
  settings    BENCH_ORDERS=${S.orders} BENCH_CONCURRENCY=${S.concurrency} BENCH_RATE=${S.rate} BENCH_SECONDS=${S.seconds} BENCH_PINGS=${S.pings} BENCH_ROUNDS=${S.rounds} BENCH_WARMUP=${S.warmup} BENCH_SERIAL=${S.serial}
  order       2 hard items + standard shipping + CA tax = 96.50 USD: POST /v1/orders (→ authorized_plus_avs),
              POST /v1/orders/:id/shipments with everything (→ shipped, captured 96.50)

0. unloaded   one at a time: ping ${fmtSummary(summarize(serialPingMs))}
              create-to-authorized ${fmtSummary(summarize(serial.create))}; ship ${fmtSummary(summarize(serial.ship))}
1. ceiling    pingWorkflow (one no-op activity) via a Temporal client, ${S.concurrency} in flight, ${S.pings} per round:
              workflows/s by round: ${each((x) => x.ceiling.toFixed(1))}
              start→result ${fmtSummary(summarize(pingMs))}
              cpu (last round): ${describeCpu(cpu0, cpu1, pingWallMs)}
2. throughput orders over HTTP, ${S.concurrency} in flight, ${S.orders} per round: ${tpFailed} failed
              orders/s by round: ${each((x) => `${x.throughput.toFixed(1)} = ${(x.ratio * 100).toFixed(1)}% of its round's ceiling`)}
              create ${fmtSummary(summarize(tp.create))}
              ship   ${fmtSummary(summarize(tp.ship))}
              order  ${fmtSummary(summarize(tp.order))}
              cpu (last round): ${describeCpu(cpu1, cpu2, tpWallMs)}
3. latency    open loop, ${S.rate} orders/s for ${S.seconds} s (${latencyOrders} orders, each then shipped): ${latFailed} failed,
              ${bench.pendingReplies} replies were 202 and ${bench.unavailableReplies} 503 order_unavailable (the request was repeated), took ${(latWallMs / 1000).toFixed(1)} s, latest start ${ms(maxStartLagMs)} behind schedule
              create-to-authorized ${fmtSummary(createLat)}
              ship                 ${fmtSummary(summarize(lat.ship))}
              cpu: ${describeCpu(cpu2, cpu3, latWallMs)}

targets
  throughput ≥ ${TARGET_RATIO * 100}% of the ceiling (median of ${S.rounds} rounds)  ${(ratio * 100).toFixed(1)}%   ${met(ratio >= TARGET_RATIO)}
  create-to-authorized p50 < ${TARGET_CREATE_P50_MS} ms at ${S.rate} orders/s   p50 ${ms(createLat.p50)}   ${met(createLat.p50 < TARGET_CREATE_P50_MS)}   (p99 ${ms(createLat.p99)})

correctness
  orders      ${orders.length} (warm-up included): ${failures.length} failed, ${badBooks.length} whose captures or state in PostgreSQL do not match; ${(capturedMinor / 100).toFixed(2)} USD captured
  ledger      trial balance ${trial.text}
${runTimeLines(started, others)}
${RULE}`);
  for (const f of failures.slice(0, 10)) console.log(`  failed: ${f.failure}`);
  for (const o of badBooks.slice(0, 10)) console.log(`  books: ${o.id} ${JSON.stringify(byId.get(o.id) ?? null)}, expected ${o.totalMinor}`);
  if (failures.length || badBooks.length) {
    // What the services said (errors the API mapped to 500, worker warnings), for the failures above.
    for (const p of [b.procs.api, b.procs.worker]) printOutputTail(p);
  }
  return failures.length === 0 && badBooks.length === 0 && trial.ok;
}

// --- main --------------------------------------------------------------------------------------------------
await benchMain({
  log, workflowsPath: process.env.BENCH_WORKFLOWS || undefined, profileDir: process.env.BENCH_PROFILE || undefined,
  temporalDynamicConfig: process.env.BENCH_TEMPORAL_DYNAMIC_CONFIG?.split(',').filter(Boolean), encryption: ENCRYPTION, temporal: TEMPORAL,
}, run);
