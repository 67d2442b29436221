// Finding, building and running the official Temporal CLI and its dev server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { ROOT_DIR } from '../config';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { isPortFree, PortInUseError, waitFor } from './ports';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** The newest release that `go install` can build (later tags use replace directives). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const TOOLS_BIN = join(ROOT_DIR, '.tools', 'bin');

/** TEMPORAL_CLI_PATH, then `temporal` on PATH, then .tools/bin/temporal. */
export function findTemporalCli(): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const onPath = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const cached = join(TOOLS_BIN, 'temporal');
  return existsSync(cached) ? cached : undefined;
}

/** Returns the CLI's path, building it with `go install` into .tools/bin when it is nowhere to be found. */
export function ensureTemporalCli(log: (msg: string) => void): string {
  const found = findTemporalCli();
  if (found) return found;
  const go = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).stdout.trim();
  if (!go) {
    throw new Error('The Temporal CLI was not found (TEMPORAL_CLI_PATH, PATH, .tools/bin/temporal) and Go is not ' +
      `installed to build it. Install Go >= 1.23 or put a temporal ${TEMPORAL_CLI_VERSION} binary on PATH.`);
  }
  log(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with 'go install' into .tools/bin (first run only; several minutes) ...`);
  mkdirSync(TOOLS_BIN, { recursive: true });
  const r = spawnSync(go, ['install', '-v', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ') },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const built = join(TOOLS_BIN, 'temporal');
  if (r.status !== 0 || !existsSync(built)) throw new Error(`'go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}' failed`);
  log(`Temporal CLI built: ${built}`);
  return built;
}

/**
 * Server settings Paybroker runs with (also in docker/temporal-dynamicconfig.yaml for production):
 * - eager activity dispatch hands an activity task back in the workflow task's completion when this worker can run
 *   it, saving a trip through matching;
 * - the history service reads its transfer, timer and visibility queues at most 20 times a second by default, so a
 *   task written while the last read is under 50 ms old waits for the next one: every hand-off (a new workflow task
 *   after a start or an activity) took up to 50 ms more. Unloaded pings went from ~99 ms to ~20 ms with 1000;
 * - one task-queue partition: a single matching host gains nothing from four, and with four a task often lands on a
 *   partition no poller waits on (a no-op workflow's ceiling went from ~40/s to ~69/s on two cores, the p99 from
 *   ~2.3 s to ~0.4 s). Production clusters with several matching hosts set their own partitions.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, string> = {
  'system.enableActivityEagerExecution': 'true',
  'history.transferProcessorMaxPollRPS': '1000',
  'history.timerProcessorMaxPollRPS': '1000',
  'history.visibilityProcessorMaxPollRPS': '1000',
  'matching.numTaskqueueReadPartitions': '1',
  'matching.numTaskqueueWritePartitions': '1',
};

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; omitted → headless. */
  uiPort?: number;
  /** SQLite file; omitted → in memory. */
  dbFile?: string;
  /** SQLite pragmas that trade durability for speed (tests only). */
  fast?: boolean;
  logFile: string;
  namespace?: string;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  if (!(await isPortFree(opts.port))) throw new PortInUseError('The Temporal dev server', opts.port, 'PAYBROKER_TEMPORAL_PORT');
  if (opts.uiPort !== undefined && !(await isPortFree(opts.uiPort))) {
    throw new PortInUseError('The Temporal Web UI', opts.uiPort, 'PAYBROKER_TEMPORAL_UI_PORT');
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port),
    '--namespace', opts.namespace ?? 'default', '--log-level', 'warn', '--log-format', 'text'];
  args.push(...(opts.uiPort !== undefined ? ['--ui-port', String(opts.uiPort)] : ['--headless']));
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.fast) args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${key}=${value}`);

  mkdirSync(dirname(opts.logFile), { recursive: true });
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  let exited: string | undefined;
  const diedAtStart = new Promise<never>((_, reject) => child.once('exit', (code, signal) => {
    exited = `exit ${code ?? signal}`;
    reject(new Error(`the Temporal dev server stopped at start (${exited}); see ${opts.logFile}`));
  }));
  diedAtStart.catch(() => {});

  const address = `127.0.0.1:${opts.port}`;
  const ready = waitFor('the Temporal dev server', async () => {
    const conn = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await conn.workflowService.describeNamespace({ namespace: opts.namespace ?? 'default' });
      return true;
    } finally {
      await conn.close();
    }
  }, 120_000, 250);
  await Promise.race([ready, diedAtStart]).catch((err) => { child.kill('SIGKILL'); throw err; });

  return {
    address,
    process: child,
    stop: () => new Promise<void>((resolve) => {
      if (exited) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => { clearTimeout(timer); out.end(); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}
