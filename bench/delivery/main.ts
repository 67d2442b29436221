// npm run bench:delivery — ordered webhook delivery end to end (DeliveryService.enqueue → group workflow → deliver activity →
// HTTP POST), against the real worker process and a receiver in its own process, compared with the ceiling
// measured in the same run:
//
//   1. ceiling   the same message bodies and headers POSTed by this process straight to the same receiver, one
//                sequence per group, BENCH_GROUPS in flight (node:http, keep-alive): messages/s
//   2. delivery  BENCH_MESSAGES messages over BENCH_GROUPS groups through DeliveryService.enqueue (sequential within a group,
//                groups concurrent), timed from the first enqueue to the last message's first arrival: messages/s
//
// Then checks that every message arrived, in order per group (first arrival of each webhook-id), with a valid
// signature, and that every row is 'delivered'; duplicates are counted and printed. Exits non-zero on an error or a
// failed check, not on a low ratio. PostgreSQL and Temporal are those of the tests (startScratchStack): non-durable
// fast settings. The worker is workers/main.ts as `npm start` runs it; worker settings come from the environment
// (e.g. PAYBROKER_DELIVERY_PER_DESTINATION) as for `npm start`.
//
// Before both, without load: BENCH_PROBES single messages one after another (enqueue → arrival), and one group with
// BENCH_BACKLOG messages queued at once (the time per message of one group), to show where the time goes. After
// them, the group workflows' histories are read: events, workflow/activity tasks and their hand-off times per message.
//
// Other knobs: BENCH_WARMUP (untimed messages first), BENCH_VERIFY=0 (the receiver skips signature checks),
// BENCH_ENQUEUE_POOL (the enqueuer's PostgreSQL connections), BENCH_STALL_SECONDS (give up when nothing arrives
// for this long), BENCH_WORKFLOWS=path/index.ts (the worker runs that workflows entry instead of workflows/index.ts:
// to measure a proposed change, e.g. bench/delivery/proposals/local-activity/index.ts).
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { DeliveryService } from '../../services/delivery';
import { DeliveryStore } from '../../stores/delivery';
import { deliverySettings, loadConfig } from '../../config';
import { createDb, type Db } from '../../ledger/db';
import { startScratchStack } from '../../scripts/scratch-stack';
import { newWebhookSecret, webhookHeaders } from '../../webhooks/signature';
import { CONTINUE_AS_NEW_AFTER, deliveryGroupWorkflowId } from '../../workflows/deliveryGroup.contract';
import { CpuMeter, describeCpu, findPid } from '../support/cpu';
import { JsonClient } from '../support/http';
import { spawnService, type ServiceProcess } from '../support/processes';
import { benchProcess, bundleProposal, Cleanups } from '../support/stack';
import { intEnv } from '../support/env';
import { fmtSummary, ms, summarize } from '../support/stats';
import { machineLine } from '../support/report';
import { dataConverterOf } from '../../runtime/payloadCodec';

// --- settings ----------------------------------------------------------------------------------------------

const S = {
  messages: intEnv('BENCH_MESSAGES', 3000, 1, 1_000_000),
  groups: intEnv('BENCH_GROUPS', 100, 1, 10_000),
  warmup: intEnv('BENCH_WARMUP', 200, 0, 100_000),
  probes: intEnv('BENCH_PROBES', 10, 0, 1_000),
  backlog: intEnv('BENCH_BACKLOG', 50, 0, 1_000),
  enqueuePool: intEnv('BENCH_ENQUEUE_POOL', 20, 1, 500),
  stallSeconds: intEnv('BENCH_STALL_SECONDS', 60, 5, 3600),
  verify: process.env.BENCH_VERIFY !== '0',
  workflows: process.env.BENCH_WORKFLOWS || undefined,
};
if (S.groups > S.messages) throw new Error(`BENCH_GROUPS (${S.groups}) must not exceed BENCH_MESSAGES (${S.messages})`);
const worker = deliverySettings(loadConfig());

/** Bytes of padding in each body, so a message is the size of a small order event (~300 bytes). */
const PAD_BYTES = 240;
/** How long the rows may lag the receiver (the deliver activity records after the POST has answered). */
const SETTLE_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

const log = (msg: string) => console.log(`[bench] ${msg}`);

interface Message { id: string; group: string; seq: number; body: string }

/** `count` messages over `groups` groups (as even as it goes), each group's in sequence; ids are unique per run. */
function makeMessages(tag: string, count: number, groups: number): Message[][] {
  const run = randomBytes(4).toString('hex');
  const pad = 'x'.repeat(PAD_BYTES);
  return Array.from({ length: groups }, (_, g) => {
    const n = Math.floor(count / groups) + (g < count % groups ? 1 : 0);
    const group = `${tag}-g${g}-${run}`;
    return Array.from({ length: n }, (_, seq) => ({
      id: `msg_${tag}_${run}_${g}_${seq}`, group, seq,
      body: JSON.stringify({ type: 'bench.event', group, seq, data: { pad } }),
    }));
  });
}

interface ReceiverStats {
  received: number; unique: number; duplicates: number; badSignatures: number; badBodies: number;
  groups: number; firstAt: number; lastAt: number; maxConnections: number;
}

class ReceiverControl {
  private readonly http: JsonClient;
  constructor(readonly base: string) {
    this.http = new JsonClient(base, 2);
  }
  async stats(): Promise<ReceiverStats> {
    return (await this.http.get('/stats')).body as ReceiverStats;
  }
  async groups(): Promise<Record<string, number[]>> {
    return (await this.http.get('/groups')).body as Record<string, number[]>;
  }
  async reset(): Promise<void> {
    const r = await this.http.post('/reset', {});
    if (r.status !== 204) throw new Error(`receiver reset: ${r.status}`);
  }
  close(): void {
    this.http.close();
  }
}

/** Waits until the receiver has `count` distinct messages; fails when none arrives for BENCH_STALL_SECONDS. */
async function awaitArrivals(rx: ReceiverControl, count: number, alive: () => void): Promise<ReceiverStats> {
  let last = -1;
  let lastProgress = Date.now();
  for (;;) {
    const st = await rx.stats();
    if (st.unique >= count) return st;
    if (st.unique !== last) {
      last = st.unique;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > S.stallSeconds * 1000) {
      throw new Error(`delivery stalled: ${st.unique} of ${count} messages arrived, none in the last ${S.stallSeconds} s`);
    }
    alive();
    if (aborting) throw new Error('stopped');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Per-group order check: each group's first arrivals must be 0, 1, 2, ... n-1. */
function checkOrder(plan: Message[][], got: Record<string, number[]>): { missing: number; outOfOrder: string[] } {
  let missing = 0;
  const outOfOrder: string[] = [];
  for (const msgs of plan) {
    const seqs = got[msgs[0].group] ?? [];
    missing += Math.max(0, msgs.length - seqs.length);
    if (seqs.some((s, i) => s !== i)) outOfOrder.push(`${msgs[0].group}: ${seqs.slice(0, 20).join(',')}${seqs.length > 20 ? ',...' : ''}`);
  }
  return { missing, outOfOrder };
}

// --- where the time goes: the group workflows' histories ----------------------------------------------------
interface HistoryBreakdown {
  events: Record<string, number>;
  outcomes: Record<string, number>;
  /** ms: activity scheduled → started, started → completed; completed → next activity scheduled (not after busy). */
  actQueue: number[]; actRun: number[]; between: number[];
  /** ms: workflow task scheduled → started, started → completed; signal → next workflow task started. */
  wfQueue: number[]; wfRun: number[];
  /** ms: message enqueued (signal in history) → its activity scheduled. */
  signalToActivity: number[];
}

async function analyseHistories(client: Client, destinationId: string, plan: Message[][]): Promise<HistoryBreakdown> {
  const b: HistoryBreakdown = { events: {}, outcomes: {}, actQueue: [], actRun: [], between: [], wfQueue: [], wfRun: [], signalToActivity: [] };
  const decoder = new TextDecoder();
  for (const msgs of plan) {
    const history = await client.workflow.getHandle(deliveryGroupWorkflowId(destinationId, msgs[0].group)).fetchHistory();
    let wfSched = 0; let wfStart = 0; let actSched = 0; let actStart = 0;
    /** When the last message's final attempt completed; undefined while a message is in progress. */
    let lastDone: number | undefined;
    /** The next activity scheduled is a message's first attempt (not a retry after 'busy'). */
    let firstAttempt = true;
    const signalled: number[] = [];
    const firstAttempts: number[] = [];
    for (const e of history.events ?? []) {
      const t = tsToMs(e.eventTime);
      const kind = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k] != null) ?? 'unknown';
      const name = kind.replace(/EventAttributes$/, '');
      b.events[name] = (b.events[name] ?? 0) + 1;
      switch (name) {
        case 'workflowExecutionSignaled': signalled.push(t); break;
        case 'workflowTaskScheduled': wfSched = t; break;
        case 'workflowTaskStarted': b.wfQueue.push(t - wfSched); wfStart = t; break;
        case 'workflowTaskCompleted': b.wfRun.push(t - wfStart); break;
        case 'activityTaskScheduled':
          actSched = t;
          if (firstAttempt) firstAttempts.push(t);
          firstAttempt = false;
          if (lastDone !== undefined) b.between.push(t - lastDone);
          lastDone = undefined;
          break;
        case 'activityTaskStarted': b.actQueue.push(t - actSched); actStart = t; break;
        case 'activityTaskCompleted': {
          b.actRun.push(t - actStart);
          const data = e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
          let outcome = 'none';
          try {
            if (data) outcome = String(JSON.parse(decoder.decode(data))?.outcome ?? 'none');
          } catch { /* not JSON */ }
          b.outcomes[outcome] = (b.outcomes[outcome] ?? 0) + 1;
          // A busy attempt is retried after a timer: the message is still in progress.
          if (outcome !== 'busy') {
            lastDone = t;
            firstAttempt = true;
          }
          break;
        }
      }
    }
    // The n-th signal carries the n-th message (each group's messages are enqueued in sequence).
    for (let i = 0; i < Math.min(signalled.length, firstAttempts.length); i++) b.signalToActivity.push(firstAttempts[i] - signalled[i]);
  }
  return b;
}

/** "temporal 10.1, worker 8.5, ... = 22.7 ms" of CPU per message between two samples (absent without /proc). */
function cpuPerMessage(before: Record<string, number>, after: Record<string, number>, messages: number): string {
  const parts = Object.keys(after).filter((k) => !k.startsWith('(')).map((k) => [k, (after[k] - (before[k] ?? 0)) / messages] as const);
  if (parts.length === 0) return 'n/a';
  return `${parts.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} = ${parts.reduce((t, [, v]) => t + v, 0).toFixed(2)} ms`;
}

// --- the run -----------------------------------------------------------------------------------------------
/** Set when the run stops early (an error or a signal): the load generators stop at their next message. */
let aborting = false;
const cleanups = new Cleanups();
function stopAll(): Promise<void> {
  aborting = true;
  return cleanups.stop();
}

async function pgCounters(db: Db): Promise<{ commits: number; inserted: number; updated: number; fetched: number }> {
  // Counters are flushed by each backend at the end of a transaction (at most once a second while busy): wait for it.
  await new Promise((r) => setTimeout(r, 1100));
  const { rows } = await db.raw(
    'SELECT xact_commit, tup_inserted, tup_updated, tup_fetched FROM pg_stat_database WHERE datname = current_database()');
  return { commits: Number(rows[0].xact_commit), inserted: Number(rows[0].tup_inserted), updated: Number(rows[0].tup_updated), fetched: Number(rows[0].tup_fetched) };
}

async function run(): Promise<boolean> {
  const tStack = performance.now();
  log('starting PostgreSQL and the Temporal dev server (NON-DURABLE fast settings of the tests), bundling workflows ...');
  const stack = await startScratchStack(log);
  cleanups.push({ what: 'PostgreSQL and Temporal', run: () => stack.stop() });

  if (S.workflows) log(`bundling BENCH_WORKFLOWS=${S.workflows} ...`);
  const workflowBundlePath = S.workflows ? await bundleProposal(S.workflows, stack.dir) : stack.workflowBundlePath;

  const secret = newWebhookSecret();
  const procs: ServiceProcess[] = [];
  const receiverProc = spawnService('receiver', 'bench/delivery/receiver.ts', { BENCH_RECEIVER_SECRET: S.verify ? secret : '' });
  procs.push(receiverProc);
  cleanups.push({ what: 'receiver', run: () => receiverProc.stop() });
  await receiverProc.waitForOutput(/receiver listening on http:\/\/[\d.:]+/);
  const receiverBase = /receiver listening on (http:\/\/[\d.:]+)/.exec(receiverProc.output())![1];
  const rx = new ReceiverControl(receiverBase);
  cleanups.push({ what: 'receiver client', run: () => rx.close() });

  const db = createDb(stack.databaseUrl, { poolMax: S.enqueuePool, applicationName: 'paybroker-bench' });
  cleanups.push({ what: 'bench database pool', run: () => db.destroy() });
  const destinationId = `we_bench_${randomBytes(6).toString('hex')}`;
  await db('delivery_destinations').insert({ id: destinationId, url: `${receiverBase}/hooks`, secret, on_dead_letter: 'hold', give_up_seconds: 3600 });

  const taskQueue = `bench-delivery-${randomBytes(4).toString('hex')}`;
  log('starting the worker process ...');
  // PORT is not used by the worker; PROCESSOR_URL is the test stack's simulator (orders only, idle here).
  const workerProc = spawnService('worker', 'workers/main.ts', {
    DATABASE_URL: stack.databaseUrl, TEMPORAL_ADDRESS: stack.temporalAddress, PAYBROKER_WORKFLOW_BUNDLE: workflowBundlePath,
    PAYBROKER_TASK_QUEUE: taskQueue, PROCESSOR_URL: stack.simulatorUrl, PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true',
  });
  procs.push(workerProc);
  cleanups.push({ what: 'worker', run: () => workerProc.stop() }); // SIGTERM: the worker drains, then exits
  await workerProc.waitForOutput(/worker polling/);

  const connection = await Connection.connect({ address: stack.temporalAddress });
  cleanups.push({ what: 'Temporal client', run: () => connection.close() });
  const client = new Client({ connection, namespace: 'default', dataConverter: dataConverterOf(stack.payloadKeys) });
  // DeliveryService.enqueue's own Temporal call, timed: the rest of an enqueue is its PostgreSQL transaction.
  const swsMs = new Map<string, number>(); // by message id
  const timedClient = {
    withDeadline: client.withDeadline.bind(client), // (the service bounds each call by it)
    workflow: {
      async signalWithStart(...args: Parameters<Client['workflow']['signalWithStart']>) {
        const t = performance.now();
        try {
          return await client.workflow.signalWithStart(...args);
        } finally {
          swsMs.set((args[1].signalArgs as [{ id: string }])[0].id, performance.now() - t);
        }
      },
    },
  } as unknown as Client;
  const delivery = new DeliveryService(new DeliveryStore(db), timedClient, taskQueue);
  const alive = () => {
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}):\n${dead.output()}`);
  };

  const cpu = new CpuMeter({
    postgres: findPid(`${stack.dir}/postgres`), temporal: findPid('start-dev', `--port ${stack.temporalAddress.split(':')[1]} `),
    worker: workerProc.child.pid, receiver: receiverProc.child.pid, bench: process.pid,
  });
  const poster = new JsonClient(receiverBase, S.groups);
  cleanups.push({ what: 'ceiling HTTP client', run: () => poster.close() });
  log(`stack ready in ${((performance.now() - tStack) / 1000).toFixed(1)} s`);

  // The two loads: plain POSTs (signed here, in advance) and DeliveryService.enqueue; each group in sequence, groups at once.
  async function post(plan: Message[][]): Promise<void> {
    const headers = plan.map((msgs) => msgs.map((m) => webhookHeaders(secret, m.id, m.body, Date.now() / 1000)));
    const parsed = plan.map((msgs) => msgs.map((m) => JSON.parse(m.body) as unknown)); // JsonClient serializes it back identically
    await Promise.all(plan.map(async (msgs, g) => {
      for (let i = 0; i < msgs.length; i++) {
        if (aborting) throw new Error('stopped');
        const r = await poster.post('/hooks', parsed[g][i], headers[g][i]);
        if (r.status !== 200) throw new Error(`ceiling POST ${msgs[i].id}: ${r.status}`);
      }
    }));
  }
  const enqueueMs = new Map<string, number>(); // by message id
  // Every enqueuing group, so that a stop waits for them before closing the pool and the client they use.
  const enqueuers = new Set<Promise<void>>();
  cleanups.push({ what: 'enqueuers', run: () => Promise.allSettled([...enqueuers]) });
  async function enqueue(plan: Message[][]): Promise<void> {
    await Promise.all(plan.map(async (msgs) => {
      const self = enqueueGroup(msgs);
      enqueuers.add(self);
      try {
        await self;
      } finally {
        enqueuers.delete(self);
      }
    }));
  }
  async function enqueueGroup(msgs: Message[]): Promise<void> {
    for (const m of msgs) {
      if (aborting) throw new Error('stopped');
      const t = performance.now();
      await delivery.enqueue({ id: m.id, destinationId, groupKey: m.group, eventType: 'bench.event', body: m.body });
      enqueueMs.set(m.id, performance.now() - t);
    }
  }

  if (S.warmup > 0) {
    const warmGroups = Math.min(S.groups, S.warmup);
    log(`warming up: ${S.warmup} POSTs and ${S.warmup} messages through the worker over ${warmGroups} groups (untimed) ...`);
    await post(makeMessages('warmpost', S.warmup, warmGroups));
    const warm = makeMessages('warm', S.warmup, warmGroups);
    await rx.reset();
    await enqueue(warm);
    await awaitArrivals(rx, S.warmup, alive);
  }

  // 0. Without load: single messages, then one group's backlog.
  const probeMs: number[] = [];
  const probeEnqueueMs: number[] = [];
  const probeSwsMs: number[] = [];
  let backlogMs = NaN;
  let backlogPlan: Message[][] = [];
  if (S.probes > 0 || S.backlog > 0) {
    log(`phase 0: ${S.probes} single messages one after another, then one group of ${S.backlog} queued at once (no other load) ...`);
    await rx.reset();
    const singles = makeMessages('probe', S.probes, Math.max(1, S.probes));
    for (let i = 0; i < S.probes; i++) {
      const t = performance.now();
      await enqueue([singles[i]]);
      probeEnqueueMs.push(enqueueMs.get(singles[i][0].id)!);
      probeSwsMs.push(swsMs.get(singles[i][0].id)!);
      for (;;) {
        if ((await rx.stats()).unique > i) break;
        alive();
        await new Promise((r) => setTimeout(r, 2));
      }
      probeMs.push(performance.now() - t);
    }
    if (S.backlog > 0) {
      await rx.reset();
      const startedAt = Date.now();
      backlogPlan = makeMessages('backlog', S.backlog, 1);
      await enqueue(backlogPlan);
      const st = await awaitArrivals(rx, S.backlog, alive);
      backlogMs = st.lastAt - startedAt;
    }
  }
  enqueueMs.clear();
  swsMs.clear();

  // 1. Ceiling.
  log(`phase 1/2 ceiling: ${S.messages} plain POSTs over ${S.groups} groups, ${S.groups} in flight ...`);
  const ceilPlan = makeMessages('ceil', S.messages, S.groups);
  await rx.reset();
  const c0 = cpu.sample();
  const tc0 = performance.now();
  await post(ceilPlan);
  const ceilWallMs = performance.now() - tc0;
  const c1 = cpu.sample();
  poster.close(); // its idle keep-alive sockets would count in the delivery phase's connections
  const ceilStats = await rx.stats();
  const ceilOrder = checkOrder(ceilPlan, await rx.groups());
  const ceiling = S.messages / (ceilWallMs / 1000);
  if (ceilStats.unique !== S.messages || ceilOrder.missing || ceilOrder.outOfOrder.length || ceilStats.badSignatures) {
    throw new Error(`ceiling run lost messages or order: ${JSON.stringify(ceilStats)} ${ceilOrder.outOfOrder.slice(0, 3).join('; ')}`);
  }

  // 2. Delivery.
  log(`phase 2/2 delivery: ${S.messages} messages over ${S.groups} groups through DeliveryService.enqueue → worker → receiver ...`);
  const plan = makeMessages('d', S.messages, S.groups);
  const pg0 = await pgCounters(db); // waits a second: the ceiling's sockets close meanwhile
  await rx.reset();
  const loadBefore = loadavg()[0];
  const d0 = cpu.sample();
  const startedAt = Date.now();
  const td0 = performance.now();
  const enqueued = enqueue(plan).then(() => performance.now() - td0);
  const arrived = awaitArrivals(rx, S.messages, alive);
  const [enqueueWallMs, st] = await Promise.all([enqueued, arrived]);
  const detectWallMs = performance.now() - td0;
  const d1 = cpu.sample();
  const enqueueTotalMs = [...enqueueMs.values()];
  const enqueueSwsMs = [...swsMs.values()];
  const enqueuePgMs = [...enqueueMs].map(([id, total]) => total - (swsMs.get(id) ?? 0));
  const deliveryWallMs = st.lastAt - startedAt;
  const rate = S.messages / (deliveryWallMs / 1000);
  alive();

  // Correctness.
  log('verifying arrivals, order and rows ...');
  const order = checkOrder(plan, await rx.groups());
  const ids = plan.flat().map((m) => m.id);
  let states: Record<string, number>;
  for (const deadline = Date.now() + SETTLE_TIMEOUT_MS; ;) {
    states = {};
    for (let i = 0; i < ids.length; i += 5000) {
      const rows = await db('delivery_messages').whereIn('id', ids.slice(i, i + 5000)).groupBy('state')
        .select('state').count({ n: '*' }) as Array<{ state: string; n: string }>;
      for (const r of rows) states[r.state] = (states[r.state] ?? 0) + Number(r.n);
    }
    if (states.delivered === ids.length || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const pg1 = await pgCounters(db);
  const final = await rx.stats();

  log('reading the group workflows\' histories ...');
  const h = await analyseHistories(client, destinationId, plan);
  const hb = backlogPlan.length ? await analyseHistories(client, destinationId, backlogPlan) : undefined;
  const ev = (k: string) => (h.events[k] ?? 0) / S.messages;
  const p50 = (xs: number[]) => summarize(xs).p50;
  const cycle = (x: HistoryBreakdown) => `workflow task scheduled→started ${ms(p50(x.wfQueue))}, started→completed ${ms(p50(x.wfRun))}; `
    + `activity scheduled→started ${ms(p50(x.actQueue))}, started→completed ${ms(p50(x.actRun))}; completed→next scheduled ${ms(p50(x.between))}`;

  // --- report --------------------------------------------------------------------------------------------------
  const ratio = rate / ceiling;
  const ok = final.unique === S.messages && order.missing === 0 && order.outOfOrder.length === 0 && final.badSignatures === 0
    && final.badBodies === 0 && states.delivered === ids.length;
  const perGroup = Math.ceil(S.messages / S.groups);
  const rule = '-'.repeat(112);
  console.log(`
${rule}
Paybroker ordered-delivery benchmark
  machine     ${machineLine()}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and the Temporal dev server (SQLite in
              memory, synchronous=OFF): NON-DURABLE fast settings of the tests, so the figures are upper bounds. The worker
              (workers/main.ts, options in workers/options.ts) and the receiver are separate processes; the enqueuer, its
              Temporal client, the ceiling's HTTP client (node:http; the worker posts with fetch) and the test stack's
              processor simulator (idle) run in this process; all on this one machine.
  workflows   ${S.workflows ? `BENCH_WORKFLOWS=${S.workflows} (NOT workflows/index.ts)` : 'workflows/index.ts'}
  settings    BENCH_MESSAGES=${S.messages} BENCH_GROUPS=${S.groups} (≤${perGroup} per group) BENCH_WARMUP=${S.warmup} BENCH_ENQUEUE_POOL=${S.enqueuePool}
              BENCH_VERIFY=${S.verify ? '1' : '0'}: the receiver ${S.verify ? 'verifies every Standard Webhooks signature' : 'does NOT verify signatures (headers only)'}
              worker delivery: ${worker.perDestinationInFlight} in flight per destination (PAYBROKER_DELIVERY_PER_DESTINATION), HTTP timeout ${worker.timeoutMs} ms
              one destination, bodies ~${Buffer.byteLength(plan[0][0].body)} bytes, all answered 200

0. unloaded  ${S.probes} single messages, one after another: enqueue → arrival ${fmtSummary(summarize(probeMs))}
              DeliveryService.enqueue p50 ${ms(p50(probeEnqueueMs))} (PostgreSQL ${ms(p50(probeEnqueueMs.map((t, i) => t - probeSwsMs[i])))}, signalWithStart ${ms(p50(probeSwsMs))})
${hb ? `              one group of ${S.backlog} queued at once: ${(backlogMs / 1000).toFixed(2)} s = ${ms(backlogMs / S.backlog)} per message = at most ${(S.backlog / (backlogMs / 1000)).toFixed(1)} messages/s per group
              its history, p50: ${cycle(hb)}
` : ''}1. ceiling    plain POSTs of the same bodies and signed headers from this process, ${S.groups} in flight (one per group,
              keep-alive): ${S.messages} in ${(ceilWallMs / 1000).toFixed(2)} s = ${ceiling.toFixed(0)} messages/s
              cpu: ${describeCpu(c0, c1, ceilWallMs)}
              cpu per message: ${cpuPerMessage(c0, c1, S.messages)}
2. delivery   DeliveryService.enqueue → group workflow → deliver → receiver: ${S.messages} in ${(deliveryWallMs / 1000).toFixed(2)} s (first enqueue → last arrival)
              = ${rate.toFixed(1)} messages/s = ${(ratio * 100).toFixed(2)}% of the ceiling (1 : ${(1 / ratio).toFixed(0)}); load average before ${loadBefore.toFixed(2)}
              enqueueing took ${(enqueueWallMs / 1000).toFixed(2)} s (${(S.messages / (enqueueWallMs / 1000)).toFixed(0)}/s); DeliveryService.enqueue ${fmtSummary(summarize(enqueueTotalMs))}
              of which its PostgreSQL transaction ${fmtSummary(summarize(enqueuePgMs))}
              and its signalWithStart ${fmtSummary(summarize(enqueueSwsMs))}
              receiver: at most ${final.maxConnections} connections open at once
              cpu (${(detectWallMs / 1000).toFixed(1)} s): ${describeCpu(d0, d1, detectWallMs)}
              cpu per message: ${cpuPerMessage(d0, d1, S.messages)}

correctness
  arrivals    ${final.unique} of ${S.messages} distinct webhook-ids; ${order.missing} missing; ${order.outOfOrder.length} groups out of order
  duplicates  ${final.duplicates} (the same webhook-id received again)
  signatures  ${final.badSignatures} bad${S.verify ? '' : ' (headers checked only)'}; ${final.badBodies} unreadable bodies
  rows        ${Object.entries(states).map(([k, n]) => `${k} ${n}`).join(', ') || '(none)'} of ${ids.length}: ${states.delivered === ids.length ? 'all delivered' : 'NOT all delivered'}
  verdict     ${ok ? 'OK' : 'FAILED'}

where the time goes (group workflows' histories, per message; p50 in ms)
  events      ${Object.entries(h.events).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${(n / S.messages).toFixed(2)}`).join(', ')}
              = ${(Object.values(h.events).reduce((s, n) => s + n, 0) / S.messages).toFixed(1)} history events per message (runs continue as new after ${CONTINUE_AS_NEW_AFTER})
  attempts    deliver outcomes (activity tasks): ${Object.entries(h.outcomes).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; per message ${ev('activityTaskScheduled').toFixed(2)} activity tasks, ${ev('markerRecorded').toFixed(2)} local activity markers, ${ev('timerStarted').toFixed(2)} timers
  workflow    ${ev('workflowTaskCompleted').toFixed(2)} workflow tasks per message; task scheduled→started ${ms(p50(h.wfQueue))}, started→completed ${ms(p50(h.wfRun))}
  activity    scheduled→started ${ms(p50(h.actQueue))}, started→completed (read row, sign, POST, update row) ${ms(p50(h.actRun))}
  between     one message's delivery completed → the next one's activity scheduled ${ms(p50(h.between))}
  queueing    message signalled → its first attempt scheduled ${fmtSummary(summarize(h.signalToActivity))}
  PostgreSQL  ${((pg1.commits - pg0.commits) / S.messages).toFixed(1)} commits, ${((pg1.inserted - pg0.inserted) / S.messages).toFixed(1)} rows inserted, ${((pg1.updated - pg0.updated) / S.messages).toFixed(1)} updated, ${((pg1.fetched - pg0.fetched) / S.messages).toFixed(1)} fetched per message (enqueue + deliver)
${rule}`);
  for (const o of order.outOfOrder.slice(0, 10)) console.log(`  out of order: ${o}`);
  return ok;
}

// --- main --------------------------------------------------------------------------------------------------
await benchProcess(log, stopAll, run);
