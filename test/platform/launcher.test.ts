// The real launcher as a newcomer runs it: `npm start`, on free ports, with a temporary data directory. A part
// that is SIGKILLed is started again and the stack serves again (health green, a ping workflow through the worker
// and the ledger); while Temporal is down, /v1/health says so. SIGTERM or SIGINT sent to the npm process alone
// stops every part and leaves no process and no port behind. Each part's log is in <data dir>/logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { dataConverterOf, EncryptionCodec, parsePayloadKeys } from '../../runtime/payloadCodec';
import { freePort, isPortFree, waitFor } from '../../scripts/ports';
import { CLUSTER_SERVICES } from '../../scripts/temporal-cluster';
import { type PingWorkflow, pingWorkflowId } from '../../workflows/ping.contract';
import { uid } from '../support/env';
import { allPids, alive, cmdlineOf, statOf } from '../support/proc';
import { payloadsToJson } from '../../runtime/codecServer';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A fresh data directory: PostgreSQL's initdb, the Temporal database, migrations, then every part. */
const READY_TIMEOUT_MS = 120_000;
/** Each test: a start, two crashes and their recoveries, a stop. */
const TEST_TIMEOUT_MS = 180_000;
/** A restarted part (a Node process loads its code again; the dev server opens its database) serves again. */
const RECOVERY_TIMEOUT_MS = 60_000;

// ---- processes, from /proc -------------------------------------------------------------------------------------

/** Every living process below `root`, however deep (the parts run in their own process groups, not apart). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = statOf(pid);
    if (s && s.state !== 'Z') children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const visit = (pid: number) => { for (const c of children.get(pid) ?? []) { found.push(c); visit(c); } };
  visit(root);
  return found;
}

/** The running cluster's postmaster (line 1 of postmaster.pid), if one runs. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// ---- one `npm start` -------------------------------------------------------------------------------------------

interface Launch {
  npm: ChildProcess;
  dataDir: string;
  ports: { api: number; simulator: number; simulatorAdmin: number; temporal: number; temporalUi: number; postgres: number; codec: number;
    apiMetrics: number; workerMetrics: number; sdkMetrics: number; temporalMetrics: number; launcherMetrics: number };
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | string>;
  /** Every process seen below npm, and the postmaster (pg_ctl starts it in its own session): none may outlive a stop. */
  seen: Set<number>;
  /** Records the processes running now into `seen`. */
  observe(): void;
  /** The one running process below npm whose command line contains `marker`. */
  part(marker: string): number;
}

async function launch(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Launch> {
  const ports = {
    api: await freePort(), simulator: await freePort(), simulatorAdmin: await freePort(),
    temporal: await freePort(), temporalUi: await freePort(), postgres: await freePort(), codec: await freePort(),
    apiMetrics: await freePort(), workerMetrics: await freePort(), sdkMetrics: await freePort(), temporalMetrics: await freePort(), launcherMetrics: await freePort(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(ports.api), PAYBROKER_SIMULATOR_PORT: String(ports.simulator),
    PAYBROKER_SIMULATOR_ADMIN_PORT: String(ports.simulatorAdmin), PAYBROKER_TEMPORAL_PORT: String(ports.temporal),
    PAYBROKER_TEMPORAL_UI_PORT: String(ports.temporalUi), PAYBROKER_PG_PORT: String(ports.postgres),
    PAYBROKER_DATA_DIR: dataDir, PAYBROKER_API_PROCESSES: '1', PAYBROKER_CODEC_PORT: String(ports.codec),
    PAYBROKER_API_METRICS_PORT: String(ports.apiMetrics), PAYBROKER_WORKER_METRICS_PORT: String(ports.workerMetrics),
    PAYBROKER_WORKER_SDK_METRICS_PORT: String(ports.sdkMetrics), PAYBROKER_TEMPORAL_METRICS_PORT: String(ports.temporalMetrics),
    PAYBROKER_LAUNCHER_METRICS_PORT: String(ports.launcherMetrics),
    TEMPORAL_CLI_PATH: inject('temporalCliPath'),
    // the run's bundle of the same workflow code: the worker skips bundling at each (re)start
    PAYBROKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    ...extraEnv,
  };
  // (the payload key and the codec token: npm start makes its own, as on a first start)
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'PROCESSOR_URL', 'PAYBROKER_TASK_QUEUE', 'PAYBROKER_PAYLOAD_KEYS', 'PAYBROKER_CODEC_TOKEN']) delete env[name];
  // detached: npm in a process group of its own, so the test's signals go to npm alone, as the brief's user sends them
  const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  npm.stdout!.on('data', (d) => { out += d; });
  npm.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | string>((resolve) => npm.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const seen = new Set<number>();
  const l: Launch = {
    npm, dataDir, ports, exited, seen,
    output: () => out,
    async waitForOutput(pattern, timeoutMs = RECOVERY_TIMEOUT_MS) {
      await waitFor(`output ${pattern}`, async () => {
        if (npm.exitCode !== null) throw new Error(`npm start exited (${npm.exitCode}) before printing ${pattern}:\n${out}`);
        return pattern.test(out);
      }, timeoutMs, 50).catch((err: Error) => { throw new Error(`${err.message}\n--- npm start printed:\n${out}`); });
    },
    observe() {
      for (const pid of descendants(npm.pid!)) seen.add(pid);
      const postmaster = postmasterPid(dataDir);
      if (postmaster) seen.add(postmaster);
    },
    part(marker) {
      const pids = descendants(npm.pid!).filter((pid) => cmdlineOf(pid).includes(marker));
      if (pids.length !== 1) throw new Error(`expected one process running ${marker}, found ${pids.length}`);
      return pids[0];
    },
  };
  await l.waitForOutput(/Paybroker is running/, READY_TIMEOUT_MS);
  l.observe();
  return l;
}

interface Probe { ok: boolean; latencyMs: number; error?: string }
async function health(l: Launch): Promise<{ status: number; body: Record<'postgres' | 'temporal' | 'worker', Probe> & { status: string } }> {
  const res = await fetch(`http://127.0.0.1:${l.ports.api}/v1/health`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json() as never };
}

/** The payload keys npm start made and keeps in its data directory. */
const payloadKeys = (l: Launch) => readFileSync(join(l.dataDir, 'payload-keys'), 'utf8').trim();

/** A workflow through the worker and the ledger database, the launcher's own readiness check (sealed with its key). */
async function ping(l: Launch): Promise<void> {
  const connection = await Connection.connect({ address: `127.0.0.1:${l.ports.temporal}` });
  try {
    const result = await new Client({ connection, dataConverter: dataConverterOf(payloadKeys(l)) }).workflow.execute<PingWorkflow>('pingWorkflow', {
      taskQueue: 'paybroker', workflowId: pingWorkflowId(uid('launcher-')),
      args: [{ message: 'again', checkLedger: true }], workflowExecutionTimeout: '1 minute',
    });
    expect(result).toEqual({ echoed: 'again', ledgerReachable: true });
  } finally {
    await connection.close();
  }
}

const waitUntilGreen = (l: Launch) =>
  waitFor('health green', async () => (await health(l)).status === 200, RECOVERY_TIMEOUT_MS, 250);

/** A restart of `marker`'s process: a new process has replaced `old`. */
async function replaced(l: Launch, marker: string, old: number): Promise<number> {
  let now = old;
  await waitFor(`${marker} restarted`, async () => { try { now = l.part(marker); } catch { return false; } return now !== old; },
    RECOVERY_TIMEOUT_MS, 100);
  return now;
}

/** Stops the stack with `signal` to npm alone; then nothing it ran is alive and no port it used is taken. */
async function expectCleanStop(l: Launch, signal: NodeJS.Signals): Promise<void> {
  l.observe();
  process.kill(l.npm.pid!, signal);
  expect(await l.exited).toBe(0);
  expect(l.output()).toMatch(/\[paybroker\] stopped; data kept in /);
  expect([...l.seen].filter(alive).map((pid) => `${pid} ${cmdlineOf(pid)}`)).toEqual([]);
  const taken: string[] = [];
  for (const [name, port] of Object.entries(l.ports)) if (!(await isPortFree(port))) taken.push(`${name} ${port}`);
  expect(taken).toEqual([]);
}

// ---- the tests -------------------------------------------------------------------------------------------------

let dataDir: string;
let current: Launch | undefined;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'pb-launcher-'));
  chmodSync(dataDir, 0o755); // PostgreSQL runs as its own user when we are root, and must reach its directory
});
afterEach((ctx) => {
  if (!current) return;
  if (ctx.task.result?.state === 'fail') console.log(`--- npm start printed:\n${current.output()}`);
  // a failed test leaves nothing running: whatever the launcher has not stopped is killed
  current.observe();
  if (current.npm.exitCode === null) try { process.kill(-current.npm.pid!, 'SIGKILL'); } catch { /* gone */ }
  for (const pid of current.seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
  current = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('restarts a SIGKILLed worker and Temporal dev server, says Temporal is down meanwhile, and stops on SIGTERM to npm', async () => {
    const l = current = await launch(dataDir);
    expect((await health(l)).body).toMatchObject({ status: 'ok', postgres: { ok: true }, temporal: { ok: true }, worker: { ok: true } });
    // the codec server runs with the key and the token npm start made (mode 600): it opens what the key seals, for the token only
    for (const f of ['payload-keys', 'codec-token']) expect(statSync(join(l.dataDir, f)).mode & 0o777, f).toBe(0o600);
    const token = readFileSync(join(l.dataDir, 'codec-token'), 'utf8').trim();
    const [sealed] = await new EncryptionCodec(parsePayloadKeys(payloadKeys(l))).encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"hello"') }]);
    const body = JSON.stringify(payloadsToJson([sealed]));
    const decode = (path: string) => fetch(`http://127.0.0.1:${l.ports.codec}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await decode('/decode')).status).toBe(401);
    const opened = await (await decode(`/${token}/decode`)).json() as { payloads: Array<{ data: string }> };
    expect(Buffer.from(opened.payloads[0].data, 'base64').toString()).toBe('"hello"');
    expect(l.output()).toContain(`Codec server   http://127.0.0.1:${l.ports.codec}`);

    // every /metrics endpoint npm start lists answers, each with its own figures
    const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const [port, name] of [[l.ports.apiMetrics, 'paybroker_http_requests_total'], [l.ports.workerMetrics, 'paybroker_up'],
      [l.ports.sdkMetrics, 'temporal_'], [l.ports.temporalMetrics, 'persistence_requests'], [l.ports.launcherMetrics, 'paybroker_supervisor_restarts_total']] as const) {
      expect(l.output(), `port ${port} listed`).toContain(`http://127.0.0.1:${port}/metrics`);
      expect(await scrape(port), `port ${port}`).toContain(name);
    }

    const worker = l.part('workers/main.ts');
    process.kill(worker, 'SIGKILL');
    await l.waitForOutput(/\[paybroker\] worker stopped unexpectedly \(signal SIGKILL\) after [\d.]+ s; restarting in 1 s/);
    await replaced(l, 'workers/main.ts', worker);
    await l.waitForOutput(/\[paybroker\] worker restarted/);
    await ping(l);
    expect(await scrape(l.ports.launcherMetrics)).toMatch(/^paybroker_supervisor_restarts_total\{part="worker"\} 1$/m);

    // A restarted dev server is back in about 2 s, too soon to be sure of catching health red. So the test holds
    // its port: the launcher is frozen (SIGSTOP) from the kill until the port is held, so its restart surely finds
    // the port taken and waits out a longer pause, and health can be asked while Temporal is surely down.
    const temporal = l.part('server start-dev');
    const launcher = l.part('scripts/start.mjs');
    const holder: Server = createServer((socket) => socket.destroy());
    process.kill(launcher, 'SIGSTOP');
    try {
      process.kill(temporal, 'SIGKILL');
      // (its main thread is a zombie before its other threads have exited and released the port: try until it is free)
      await waitFor('the dev server\'s port free', () => new Promise<boolean>((resolve) => {
        holder.once('error', () => resolve(false));
        holder.listen(l.ports.temporal, '127.0.0.1', () => { holder.removeAllListeners('error'); resolve(true); });
      }), 10_000, 20);
    } finally {
      process.kill(launcher, 'SIGCONT');
    }
    try {
      await l.waitForOutput(/\[paybroker\] temporal stopped unexpectedly \(signal SIGKILL\) after [\d.]+ s; restarting in 1 s/);
      await l.waitForOutput(/\[paybroker\] temporal did not start \(The Temporal dev server cannot start: port \d+ on 127\.0\.0\.1 is already in use.*\); retrying in 2 s/);
      const down = await health(l);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'degraded', postgres: { ok: true }, temporal: { ok: false } });
      expect(down.body.temporal.error).toBeTruthy();
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    await l.waitForOutput(/\[paybroker\] temporal restarted/);
    await replaced(l, 'server start-dev', temporal);
    await waitUntilGreen(l);
    await ping(l);

    await expectCleanStop(l, 'SIGTERM');
    // each part's log in its own file (a restarted part appends to it)
    const log = (name: string) => readFileSync(join(dataDir, 'logs', `${name}.log`), 'utf8');
    expect(log('worker').match(/worker polling task queue 'paybroker'/g)!.length).toBeGreaterThanOrEqual(2);
    expect(log('api')).toMatch(/API listening on/);
    expect(log('simulator')).toMatch(/processor simulator listening on/);
    expect(log('temporal').match(/Server: +localhost:\d+/g)!.length).toBeGreaterThanOrEqual(2);
    expect(log('postgres')).toMatch(/database system is ready to accept connections/);
  }, TEST_TIMEOUT_MS);

  it('in cluster mode runs Temporal as four services and the Web UI server, restarts a SIGKILLed history service, and stops on SIGTERM', async () => {
    const l = current = await launch(dataDir, { PAYBROKER_TEMPORAL: 'cluster', PAYBROKER_TEMPORAL_HISTORY_SHARDS: '4' });
    const p = l.ports.temporal;
    expect(l.output()).toContain(`Temporal gRPC  127.0.0.1:${p}   (cluster: frontend; history :${p + 1}, matching :${p + 2}, worker :${p + 6}; 4 history shards on PostgreSQL)`);
    for (const service of CLUSTER_SERVICES) l.part(`--service ${service}`);
    expect(l.output()).not.toContain('start-dev');
    // each service's metrics, listed and answering (the frontend's on PAYBROKER_TEMPORAL_METRICS_PORT, the others at +2, +3, +4)
    const m = l.ports.temporalMetrics;
    for (const [service, port] of [['frontend', m], ['history', m + 2], ['matching', m + 3], ['worker', m + 4]] as const) {
      expect(l.output()).toContain(`Temporal ${service} http://127.0.0.1:${port}/metrics`);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), service).toMatch(new RegExp(`^build_information\\{.*service_name="${service}"\\} 1$`, 'm'));
    }
    // the Web UI server runs against the cluster, decoding through the codec server
    const ui = `http://127.0.0.1:${l.ports.temporalUi}`;
    const settings = await (await fetch(`${ui}/api/v1/settings`)).json() as { Codec: { Endpoint: string } };
    expect(settings.Codec.Endpoint).toBe(`http://127.0.0.1:${l.ports.codec}/${readFileSync(join(l.dataDir, 'codec-token'), 'utf8').trim()}`);
    const listed = await (await fetch(`${ui}/api/v1/namespaces/default/workflows?query=${encodeURIComponent("WorkflowType='pingWorkflow'")}`)).json() as
      { executions: Array<{ execution: { workflowId: string } }> };
    expect(listed.executions.map((e) => e.execution.workflowId)).toContainEqual(expect.stringMatching(/^ping-startup-/));

    const history = l.part('--service history');
    process.kill(history, 'SIGKILL');
    await l.waitForOutput(/\[paybroker\] temporal-history stopped unexpectedly \(signal SIGKILL\) after [\d.]+ s; restarting in 1 s/);
    await l.waitForOutput(/\[paybroker\] temporal-history restarted/);
    await replaced(l, '--service history', history);
    await waitUntilGreen(l);
    await ping(l);

    await expectCleanStop(l, 'SIGTERM');
    expect(readFileSync(join(dataDir, 'logs', 'temporal-frontend.log'), 'utf8')).toMatch(/Loading config files=.*frontend\.yaml/);
  }, TEST_TIMEOUT_MS);

  it('restarts PostgreSQL, the API and the simulator after a SIGKILL, and stops on SIGINT to npm', async () => {
    const l = current = await launch(dataDir);

    const api = l.part('api/main.ts');
    const simulator = l.part('processors/simulator/main.ts');
    for (const pid of [postmasterPid(dataDir)!, api, simulator]) process.kill(pid, 'SIGKILL');
    await l.waitForOutput(/\[paybroker\] postgres stopped unexpectedly \(exit status unknown\) after [\d.]+ s; restarting in 1 s/);
    for (const name of ['postgres', 'api', 'simulator']) await l.waitForOutput(new RegExp(`\\[paybroker\\] ${name} restarted`));
    await replaced(l, 'api/main.ts', api);
    await replaced(l, 'processors/simulator/main.ts', simulator);
    await waitUntilGreen(l);
    // (a simulator restarted before PostgreSQL was back exits and is restarted once more: it may still be starting)
    await waitFor('the simulator healthy', async () => (await fetch(`http://127.0.0.1:${l.ports.simulator}/health`)).status === 200,
      RECOVERY_TIMEOUT_MS, 250);
    await ping(l);

    await expectCleanStop(l, 'SIGINT');
  }, TEST_TIMEOUT_MS);
});
