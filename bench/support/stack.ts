// The stack a benchmark runs against: PostgreSQL and the Temporal dev server from scripts/scratch-stack.ts (free
// ports, non-durable fast settings), and the API, worker and processor simulator each as its own process, as
// `npm start` runs them. Everything started is stopped by stop(), in reverse order, also after a failed start.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { WORKFLOW_INTERCEPTORS_PATH } from '../../config';
import { bundleWorkflowCode } from '@temporalio/worker';
import { type Db, openDatabase } from '../../ledger/db';
import { dataConverterOf } from '../../runtime/payloadCodec';
import { createStores, type Stores } from '../../stores';
import { freePort, waitFor } from '../../scripts/ports';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../scripts/temporal-cli';
import { startScratchStack, type ScratchStack } from '../../scripts/scratch-stack';
import { SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';
import { CpuMeter, findPid } from './cpu';
import { CLUSTER_SERVICES } from '../../scripts/temporal-cluster';
import { spawnService, type ServiceProcess } from './processes';

export type ServiceName = 'simulator' | 'worker' | 'api';

const ENTRY: Record<ServiceName, { entry: string; ready: RegExp }> = {
  simulator: { entry: 'processors/simulator/main.ts', ready: /simulator listening/ },
  worker: { entry: 'workers/main.ts', ready: /worker polling/ },
  api: { entry: 'api/main.ts', ready: /API listening/ },
};

export interface BenchStackOptions {
  log: (msg: string) => void;
  /** Another workflows entry (index.ts) for the worker instead of workflows/index.ts: to measure a proposed change. */
  workflowsPath?: string;
  /**
   * Dynamic config for the Temporal dev server (KEY=JSON_VALUE each, e.g. history.transferProcessorMaxPollRPS=2000):
   * when given, the bench runs its own dev server with these values added to the test stack's settings.
   */
  temporalDynamicConfig?: string[];
  /** The API and the worker write V8 CPU profiles (--cpu-prof) into this directory when they stop. */
  profileDir?: string;
  /** Payload encryption (the run's own key, as the tests'): on unless false, to measure what it costs. */
  encryption?: boolean;
  /** The Temporal: the dev server (default) or the four-process cluster on the run's PostgreSQL (scripts/temporal-cluster.ts). */
  temporal?: 'dev' | 'cluster';
  /** Receives stop() at once, so a signal during the start can stop what has started so far. */
  onStopReady?: (stop: () => Promise<void>) => void;
}

export interface BenchStack {
  test: ScratchStack;
  temporalAddress: string;
  apiBase: string;
  simulatorUrl: string;
  taskQueue: string;
  procs: Record<ServiceName, ServiceProcess>;
  db: Db;
  stores: Stores;
  temporal: Client;
  cpu: CpuMeter;
  /** A service that has exited since the start, if any. */
  crashed(): ServiceProcess | undefined;
  /** Registers something to stop before the stack itself (stopped in reverse order of registration). */
  onStop(what: string, run: () => unknown): void;
  stop(): Promise<void>;
}

const quietLogger = {
  log() {}, trace() {}, debug() {}, info() {}, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};

/** What a benchmark started, stopped in reverse order; stop() runs once (a second call waits for the first). */
export class Cleanups {
  private readonly list: Array<{ what: string; run: () => unknown }> = [];
  private stopping?: Promise<void>;

  push(c: { what: string; run: () => unknown }): void {
    this.list.push(c);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      while (this.list.length) {
        const c = this.list.pop()!;
        try {
          await c.run();
        } catch (err) {
          console.error(`[bench] stopping ${c.what} failed:`, err);
        }
      }
    })();
    return this.stopping;
  }
}

/** The workflow bundle of another workflows entry (BENCH_WORKFLOWS: a proposed change), written into dir. */
export async function bundleProposal(workflowsPath: string, dir: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: resolve(workflowsPath), workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH], logger: quietLogger });
  const path = join(dir, 'bench-workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const cleanups = new Cleanups();
  const stop = () => cleanups.stop();
  opts.onStopReady?.(stop);

  try {
    const temporalMode = opts.temporal ?? 'dev';
    opts.log(`starting PostgreSQL and the Temporal ${temporalMode === 'dev' ? 'dev server' : 'cluster'} (non-durable fast settings), bundling workflows ...`);
    const test = await startScratchStack(opts.log, { encryption: opts.encryption, temporal: temporalMode });
    cleanups.push({ what: 'PostgreSQL and Temporal', run: () => test.stop() });

    let temporalAddress = test.temporalAddress;
    if (opts.temporalDynamicConfig?.length) {
      const port = await freePort();
      const dev = await startTunedDevServer(test.temporalCliPath, port, opts.temporalDynamicConfig, join(test.dir, 'temporal-tuned.log'));
      cleanups.push({ what: 'tuned Temporal dev server', run: () => dev.stop() });
      temporalAddress = dev.address;
    }

    const workflowBundlePath = opts.workflowsPath ? await bundleProposal(opts.workflowsPath, test.dir) : test.workflowBundlePath;

    const [apiPort, simPort, simAdminPort] = [await freePort(), await freePort(), await freePort()];
    const taskQueue = `bench-${randomUUID().slice(0, 8)}`;
    const env = {
      DATABASE_URL: test.databaseUrl, TEMPORAL_ADDRESS: temporalAddress, PAYBROKER_WORKFLOW_BUNDLE: workflowBundlePath,
      PORT: String(apiPort), PROCESSOR_URL: `http://127.0.0.1:${simPort}`, PAYBROKER_SIMULATOR_PORT: String(simPort),
      PAYBROKER_SIMULATOR_ADMIN_PORT: String(simAdminPort), PAYBROKER_TASK_QUEUE: taskQueue,
    };
    const profile = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opts.profileDir)}`] : [];
    opts.log('starting the simulator, worker and API processes ...');
    const procs = {} as Record<ServiceName, ServiceProcess>;
    for (const name of ['simulator', 'worker', 'api'] as const) {
      procs[name] = spawnService(name, ENTRY[name].entry, env, name === 'simulator' ? [] : profile);
      // SIGTERM: the API closes, the worker drains in-flight tasks, then the simulator stops.
      cleanups.push({ what: name, run: () => procs[name].stop() });
    }
    try {
      await Promise.all(Object.entries(procs).map(([name, p]) => p.waitForOutput(ENTRY[name as ServiceName].ready)));
    } catch (err) {
      for (const p of Object.values(procs)) if (!(err as Error).message.includes(p.output())) console.error(`--- ${p.name} output ---\n${p.output()}`);
      throw err;
    }

    const database = openDatabase(test.databaseUrl, { poolMax: 2, applicationName: 'paybroker-bench' });
    cleanups.push({ what: 'bench database pools', run: () => database.close() });
    const connection = await Connection.connect({ address: temporalAddress });
    cleanups.push({ what: 'Temporal client', run: () => connection.close() });

    // (the cluster's services are this process's children: each its own group, else they would count as the bench's)
    const temporalGroups = test.temporalMode === 'cluster'
      ? Object.fromEntries(CLUSTER_SERVICES.map((s) => [`temporal-${s}`, findPid(`${test.dir}/temporal`, `--service ${s}`)]))
      : { temporal: findPid('start-dev', `--port ${temporalAddress.split(':')[1]} `) };
    const cpu = new CpuMeter({
      postgres: findPid(`${test.dir}/postgres`), ...temporalGroups,
      api: procs.api.child.pid, worker: procs.worker.child.pid, simulator: procs.simulator.child.pid, bench: process.pid,
    });
    return {
      test, temporalAddress, apiBase: `http://127.0.0.1:${apiPort}/v1`, simulatorUrl: `http://127.0.0.1:${simPort}`, taskQueue, procs, db: database.db, stores: createStores(database),
      temporal: new Client({ connection, namespace: 'default', dataConverter: dataConverterOf(test.payloadKeys) }), cpu,
      crashed: () => Object.values(procs).find((p) => p.child.exitCode !== null || p.child.signalCode !== null),
      onStop: (what, run) => { cleanups.push({ what, run }); },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The dev server as startTemporalDevServer runs it for the tests (in memory, fast pragmas, its dynamic config), plus more. */
async function startTunedDevServer(cli: string, port: number, dynamicConfig: string[], logFile: string) {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', 'default', '--headless',
    '--log-level', 'warn', '--log-format', 'text', '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF'];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${key}=${value}`);
  for (const kv of dynamicConfig) args.push('--dynamic-config-value', kv);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    out.end();
  };
  try {
    await waitFor('the tuned Temporal dev server', async () => {
      if (child.exitCode !== null) throw new Error(`the tuned Temporal dev server exited; see ${logFile}`);
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: 'default' });
        return true;
      } finally {
        await conn.close();
      }
    }, 120_000, 250);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, stop };
}

/**
 * A benchmark's main: starts the stack, runs the benchmark, stops everything (also on SIGINT/SIGTERM) and exits
 * non-zero on an error or a failed correctness check (not on a missed target).
 */
export async function benchMain(options: Omit<BenchStackOptions, 'onStopReady'>, run: (stack: BenchStack) => Promise<boolean>): Promise<never> {
  let stopStack: () => Promise<void> = async () => {};
  return benchProcess(options.log, () => stopStack(), async () => {
    const t0 = performance.now();
    const stack = await startBenchStack({ ...options, onStopReady: (stop) => { stopStack = stop; } });
    options.log(`stack ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return run(stack);
  });
}

/**
 * Runs a benchmark in this process and exits: stops everything it started (also on SIGINT/SIGTERM), exit code
 * non-zero on an error or a failed correctness check.
 */
export async function benchProcess(log: (msg: string) => void, stop: () => Promise<void>, run: () => Promise<boolean>): Promise<never> {
  let exitCode = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`[bench] ${sig}: stopping everything`);
      void stop().finally(() => process.exit(130));
    });
  }
  try {
    if (!(await run())) {
      console.error('[bench] correctness check FAILED');
      exitCode = 1;
    }
  } catch (err) {
    console.error('[bench] error:', err);
    exitCode = 1;
  }
  log('stopping everything ...');
  await stop();
  process.exit(exitCode);
}
