// Finding, building and running the official Temporal CLI and its dev server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { loadConfig, ROOT_DIR } from '../config';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { onLines } from './logs';
import { isPortFree, PortInUseError, waitFor } from './ports';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** The newest release that `go install` can build (later tags use replace directives). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TOOLS_BIN = join(ROOT_DIR, '.tools', 'bin');

/** TEMPORAL_CLI_PATH, then `temporal` on PATH, then .tools/bin/temporal. */
export function findTemporalCli(): string | undefined {
  const fromEnv = loadConfig().temporalCliPath;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const onPath = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const cached = join(TOOLS_BIN, 'temporal');
  return existsSync(cached) ? cached : undefined;
}

/** How often a `go install` that is still running says so (without -v it prints nothing until it ends). */
export const BUILD_PROGRESS_INTERVAL_MS = 15_000;
/** Lines of a failed build's output shown (its last ones: go prints the errors there). */
export const FAILED_BUILD_OUTPUT_LINES = 100;

/** Returns the CLI's path, building it with `go install` into .tools/bin when it is nowhere to be found. */
export async function ensureTemporalCli(log: (msg: string) => void): Promise<string> {
  const found = findTemporalCli();
  if (found) return found;
  const go = findGo(`The Temporal CLI was not found (TEMPORAL_CLI_PATH, PATH, .tools/bin/temporal) and Go is not ` +
    `installed to build it. Install Go >= 1.23 or put a temporal ${TEMPORAL_CLI_VERSION} binary on PATH.`);
  log(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with 'go install' into .tools/bin (first run only; several minutes) ...`);
  return buildTemporalCli({ go, binDir: TOOLS_BIN, log });
}

/** The `go` on PATH, else an error that says what it was needed for. */
export function findGo(missing: string): string {
  const go = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).stdout.trim();
  if (!go) throw new Error(missing);
  return go;
}

/** `go install` of the CLI into binDir (goInstall's). */
export const buildTemporalCli = (o: { go: string; binDir: string; log: (msg: string) => void; progressIntervalMs?: number }) =>
  goInstall({ ...o, target: `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`, what: 'the Temporal CLI', name: 'temporal' });

/**
 * `go install target` into binDir as `name` (go names a binary after its package's directory: two are called
 * `server`, so each is built into a directory of its own and moved). It prints a line every progressIntervalMs while
 * it builds and keeps go's own output (about 1,450 package lines with -v for the CLI, which is why there is no -v) to
 * show only when the build fails.
 */
export async function goInstall(o: {
  go: string; target: string; what: string; name: string; binDir: string; log: (msg: string) => void; progressIntervalMs?: number;
}): Promise<string> {
  const gobin = join(o.binDir, `.build-${o.name}`);
  rmSync(gobin, { recursive: true, force: true });
  mkdirSync(gobin, { recursive: true });
  const startedMs = Date.now();
  const elapsed = () => `${Math.round((Date.now() - startedMs) / 1000)} s`;
  const child = spawn(o.go, ['install', o.target], {
    env: { ...process.env, GOBIN: gobin, GOFLAGS: [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const progress = setInterval(() => o.log(`still building ${o.what} (${elapsed()}) ...`), o.progressIntervalMs ?? BUILD_PROGRESS_INTERVAL_MS);
  const ended = await new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('close', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
  }).finally(() => clearInterval(progress));
  const [binary] = existsSync(gobin) ? readdirSync(gobin) : [];
  const built = join(o.binDir, o.name);
  if (ended !== 'exit code 0' || !binary) {
    rmSync(gobin, { recursive: true, force: true });
    const tail = output.trimEnd().split('\n').slice(-FAILED_BUILD_OUTPUT_LINES).join('\n');
    throw new Error(`'go install ${o.target}' failed (${ended}) after ${elapsed()}; its output:\n${tail}`);
  }
  renameSync(join(gobin, binary), built);
  rmSync(gobin, { recursive: true, force: true });
  o.log(`${o.what[0]!.toUpperCase()}${o.what.slice(1)} built in ${elapsed()}: ${built}`);
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
  /** The codec server the Web UI decodes payloads with (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** The server's own Prometheus metrics (`--metrics-port`); else a random port. */
  metricsPort?: number;
  /** SQLite file; omitted → in memory. */
  dbFile?: string;
  /** SQLite pragmas that trade durability for speed (tests only). */
  fast?: boolean;
  logFile: string;
  namespace?: string;
  /** Its own process group (the launcher's): a Ctrl-C in the terminal reaches only the launcher, which stops
   *  the parts in order, Temporal after the worker. */
  detached?: boolean;
  /** Also receives each line the server prints (the launcher shows them in the terminal). */
  echo?: (line: string) => void;
}

export interface DevServer extends ServiceProcess {
  address: string;
}

const INDEXED_TYPES = { Keyword: 2, Int: 3, Bool: 5 } as const; // (temporal.api.enums.v1.IndexedValueType)

/**
 * Adds the search attributes the server lacks. The dev server registers --search-attribute only when it creates its
 * database: one kept under .data from before a new attribute came would refuse every workflow that sets it.
 */
export async function registerSearchAttributes(address: string, namespace: string): Promise<void> {
  const conn = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    const { customAttributes } = await conn.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !customAttributes?.[name]);
    if (missing.length === 0) return;
    await conn.operatorService.addSearchAttributes({ namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_TYPES[type]])) });
  } finally {
    await conn.close();
  }
}

export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  if (!(await isPortFree(opts.port))) throw new PortInUseError('The Temporal dev server', opts.port, 'PAYBROKER_TEMPORAL_PORT');
  if (opts.uiPort !== undefined && !(await isPortFree(opts.uiPort))) {
    throw new PortInUseError('The Temporal Web UI', opts.uiPort, 'PAYBROKER_TEMPORAL_UI_PORT');
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port),
    '--namespace', opts.namespace ?? 'default', '--log-level', 'warn', '--log-format', 'text'];
  args.push(...(opts.uiPort !== undefined ? ['--ui-port', String(opts.uiPort)] : ['--headless']));
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.metricsPort !== undefined) args.push('--metrics-port', String(opts.metricsPort));
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.fast) args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${key}=${value}`);

  const server = startLogged([opts.cli, args], opts.logFile, { detached: opts.detached, echo: opts.echo });
  const child = server.process;
  const diedAtStart = server.exited.then(({ code, signal }) => {
    throw new Error(`the Temporal dev server stopped at start (exit ${code ?? signal}); see ${opts.logFile}`);
  });
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
  await registerSearchAttributes(address, opts.namespace ?? 'default').catch((err) => { child.kill('SIGKILL'); throw err; });

  return { address, ...server };
}

export interface ServiceProcess {
  process: ChildProcess;
  /** Resolves when the process has ended, asked to or not (or could not be started). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, SIGKILL after STOP_GRACE_MS; resolves once it has exited. */
  stop(): Promise<void>;
}

/** How long a Temporal server process may take to stop on SIGTERM (a history service hands its shards over). */
const STOP_GRACE_MS = 10_000;

/**
 * A Temporal server process (the dev server, a cluster service) with its output appended to logFile (and each line
 * to echo). Its own process group when detached.
 */
export function startLogged([command, args]: [string, string[]], logFile: string, o: { detached?: boolean; echo?: (line: string) => void } = {}): ServiceProcess {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: o.detached });
  // (end: false: two sources share the file, which is closed once both are)
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  child.once('close', () => out.end());
  if (o.echo) for (const stream of [child.stdout!, child.stderr!]) onLines(stream, o.echo);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  return {
    process: child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
