// `npm start` (through scripts/start.mjs): PostgreSQL, the Temporal dev server (durable SQLite under .data/, Web UI),
// the processor simulator, the worker and the API, each in its own process, kept running by a supervisor
// (scripts/supervisor.ts: a part that stops on its own is started again). Prints every URL. SIGINT (Ctrl-C),
// SIGTERM or SIGHUP stops them all, the API first and PostgreSQL last, and leaves nothing running.
// Its parts (processPart, temporalPart, postgresPart), the supervisor and the stop are exported for the other
// launcher, `npm run federation:demo` (scripts/federation-demo.ts); the stack itself starts only when this file is the
// process's entry (scripts/start.mjs, or `node --import tsx scripts/stack.ts`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, ROOT_DIR } from '../config';
import { type PingWorkflow, pingWorkflowId } from '../workflows/ping.contract';
import { migrate, openDatabase } from '../ledger/db';
import { createStores } from '../stores';
import { ensureDevOperatorKey } from './dev-key';
import { followFile, PartLog, terminalPrefix } from './logs';
import { clusterLogFile, startPrivateCluster } from './postgres';
import { requirePortFree, waitFor } from './ports';
import { Supervisor, type Part, type Run, type RunEnd } from './supervisor';
import { ensureTemporalCli, startTemporalDevServer } from './temporal-cli';
import {
  awaitClusterMetadata, awaitClusterReady, CLUSTER_BINARIES, CLUSTER_SERVICES, clusterPortsFrom, ensureClusterBinaries, serviceCommand,
  setUpClusterDatabases, uiServerCommand, writeClusterConfig,
} from './temporal-cluster';
import { serveMetrics } from '../runtime/metrics';
import { dataConverterOf, newPayloadKey } from '../runtime/payloadCodec';

/** How long a process may take to stop when asked (the worker drains its in-flight tasks) before it is killed. */
export const STOP_TIMEOUT_MS = 20_000;
/** How often PostgreSQL's postmaster is checked for life: it is not our child, so no exit event tells us. */
export const PG_LIVENESS_INTERVAL_MS = 1_000;
/** How long what a stopped process left in its process group may take to die once killed. */
const GROUP_GONE_TIMEOUT_MS = 5_000;

export const config = loadConfig();
export const say = (msg: string) => console.log(`[paybroker] ${msg}`);
/** Each part's log: <data dir>/logs/<part>.log. */
export const logDir = join(config.dataDir, 'logs');
export const supervisor = new Supervisor({ log: say });
const partLogs: PartLog[] = [];
let stopFollowingPostgres: (() => void) | undefined;

/** Sends a signal to every process of a group; false when the group is empty. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Kills what is left of a process group and waits (briefly) until it is gone. */
async function killGroup(pgid: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGKILL')) return;
  const deadline = Date.now() + GROUP_GONE_TIMEOUT_MS;
  while (signalGroup(pgid, 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** A Node entry point (API, worker, simulator) as a part (commandPart's). */
export const processPart = (name: string, entry: string, env: NodeJS.ProcessEnv): Part =>
  commandPart(name, [process.execPath, ['--import', 'tsx', join(ROOT_DIR, entry)]], env);

/**
 * A command as a part, its output in logs/<name>.log (and the terminal unless terminal is false). Each runs in its
 * own process group: a Ctrl-C in the terminal reaches only the launcher, which stops the parts in order, and whatever
 * a process started (API copies, tsx's esbuild service) is killed with it.
 */
export function commandPart(name: string, [command, args]: [string, string[]], env: NodeJS.ProcessEnv, o: { terminal?: boolean } = {}): Part {
  const log = new PartLog(name, join(logDir, `${name}.log`), o.terminal);
  partLogs.push(log);
  return {
    name,
    async start(): Promise<Run> {
      const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
      child.on('error', (err) => say(`${name}: ${err.message}`));
      log.capture(child);
      const ended = new Promise<RunEnd>((resolve) => child.once('exit', (code, signal) => {
        void killGroup(child.pid!).then(() => resolve({ code, signal }));
      }));
      return { ended, stop: () => stopProcess(name, child, ended) };
    },
  };
}

async function stopProcess(name: string, child: ChildProcess, ended: Promise<RunEnd>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    await ended;
    return;
  }
  const timer = setTimeout(() => {
    say(`${name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`);
    signalGroup(child.pid!, 'SIGKILL');
  }, STOP_TIMEOUT_MS);
  child.kill('SIGTERM');
  await ended;
  clearTimeout(timer);
}

/** The Temporal dev server as a part: a restart reuses its SQLite file and its ports. */
export function temporalPart(cli: string): Part {
  const prefix = terminalPrefix('temporal');
  return {
    name: 'temporal',
    async start(): Promise<Run> {
      // Once asked to stop, its lines go to temporal.log only: its own internal workers warn a dozen times that
      // their connections closed, which is the stop we asked for.
      let stopping = false;
      const dev = await startTemporalDevServer({
        cli, port: config.temporalPort, uiPort: config.temporalUiPort,
        dbFile: join(config.dataDir, 'temporal', 'temporal.db'), logFile: join(logDir, 'temporal.log'),
        namespace: config.temporalNamespace, detached: true, uiCodecEndpoint: codecEndpoint(), metricsPort: config.metricsPorts.temporal,
        echo: (line) => { if (!stopping) console.log(`${prefix} ${line}`); },
      });
      return { ended: dev.exited, stop: () => { stopping = true; return dev.stop(); } };
    },
  };
}

/**
 * The payload keys and the codec server's token: PAYBROKER_PAYLOAD_KEYS and PAYBROKER_CODEC_TOKEN when set, else
 * made on the first start and kept under the data directory (mode 600). Set in this process's environment (every
 * part inherits it) and its config.
 */
export function ensurePayloadSecrets(): void {
  const kept = (file: string, make: () => string) => {
    const path = join(config.dataDir, file);
    if (!existsSync(path)) writeFileSync(path, `${make()}\n`, { mode: 0o600 });
    return readFileSync(path, 'utf8').trim();
  };
  config.payloadKeys ??= kept('payload-keys', () => newPayloadKey(`k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`));
  config.codecToken ??= kept('codec-token', () => `codec_${randomBytes(18).toString('base64url')}`);
  process.env.PAYBROKER_PAYLOAD_KEYS = config.payloadKeys;
  process.env.PAYBROKER_CODEC_TOKEN = config.codecToken;
}

/** The metrics ports `npm start` serves when their PAYBROKER_*_METRICS_PORT is unset. */
export const METRICS_PORTS = { api: 9464, worker: 9465, workerSdk: 9466, temporal: 9467, launcher: 9468 } as const;
const METRICS_VARIABLES = { api: 'PAYBROKER_API_METRICS_PORT', worker: 'PAYBROKER_WORKER_METRICS_PORT', workerSdk: 'PAYBROKER_WORKER_SDK_METRICS_PORT',
  temporal: 'PAYBROKER_TEMPORAL_METRICS_PORT', launcher: 'PAYBROKER_LAUNCHER_METRICS_PORT' } as const;

/** Every metrics port set (the configured one, else METRICS_PORTS's), in config and in the environment the parts inherit; each checked free. */
export async function ensureMetricsPorts(): Promise<void> {
  for (const [part, variable] of Object.entries(METRICS_VARIABLES) as Array<[keyof typeof METRICS_PORTS, string]>) {
    const port = config.metricsPorts[part] ??= METRICS_PORTS[part];
    process.env[variable] = String(port);
    await requirePortFree(`The ${part} metrics endpoint`, port, variable);
  }
}

/** The /metrics endpoints, one per line, for the start banner. */
export const metricsLines = (indent: string) => [
  `API (every copy) http://127.0.0.1:${config.metricsPorts.api}/metrics`, `worker http://127.0.0.1:${config.metricsPorts.worker}/metrics`,
  `worker's Temporal SDK http://127.0.0.1:${config.metricsPorts.workerSdk}/metrics`,
  ...(config.temporalMode === 'cluster' && !config.temporalExternal
    ? CLUSTER_SERVICES.map((s) => `Temporal ${s} http://127.0.0.1:${clusterPorts().metrics![s]}/metrics`)
    : [`Temporal server http://127.0.0.1:${config.metricsPorts.temporal}/metrics`]),
  `launcher (restarts) http://127.0.0.1:${config.metricsPorts.launcher}/metrics`,
].join(`\n${indent}`);

/** Where the Web UI reaches the codec server (its token as the first path segment: the UI sends none of its own). */
export const codecEndpoint = () => `http://127.0.0.1:${config.codecPort}/${config.codecToken}`;

/** Running: its /proc entry exists and is not a zombie (a dead process its parent has not yet reaped). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The private PostgreSQL cluster as a part: started (and restarted) with pg_ctl on the same data directory.
 * A cluster that was already running when we started is watched and restarted like ours, but left running at the
 * end: it is not ours to stop.
 */
export function postgresPart(onUrl: (url: string) => void): Part {
  return {
    name: 'postgres',
    async start(): Promise<Run> {
      const cluster = await startPrivateCluster({ dataDir: config.dataDir, port: config.pgPort, log: say });
      onUrl(cluster.url);
      let stopWatching = () => {};
      const ended = new Promise<RunEnd>((resolve) => {
        const timer = setInterval(() => {
          if (cluster.pid !== undefined && isAlive(cluster.pid)) return;
          clearInterval(timer);
          resolve({ code: null, signal: null }); // (its exit status is its parent's, not ours)
        }, PG_LIVENESS_INTERVAL_MS);
        stopWatching = () => { clearInterval(timer); resolve({ code: 0, signal: null }); };
      });
      return {
        ended,
        async stop() {
          stopWatching();
          if (cluster.reused) say('PostgreSQL was running before this start: left running');
          else cluster.stop();
        },
      };
    },
  };
}

let stopping: Promise<void> | undefined;
/** Stops every part (in reverse order of their start), closes the logs and exits; a second call waits for the first. */
export function shutdown(exitCode: number): void {
  if (!stopping) {
    process.exitCode = exitCode;
    say('stopping ...');
    stopping = supervisor.stopAll().then(async () => {
      stopFollowingPostgres?.();
      await Promise.all(partLogs.map((l) => l.close()));
      say(`stopped; data kept in ${config.dataDir}`);
    });
  }
  void stopping.then(() => process.exit());
}

/** A 2xx from url within 2 s (waitFor's probe). */
export async function ok(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/**
 * Runs a launcher's main: SIGINT, SIGTERM or SIGHUP stops everything (exit 0); a failed start is reported (unless it
 * was the stop itself) and stops everything (exit 1).
 */
export function launch(main: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(0));
  mkdirSync(logDir, { recursive: true });
  main().catch((err) => {
    // (once stopping, a start refused or a wait cut short is the stop itself, not a failure to report)
    if (!stopping) console.error(`[paybroker] ${(err as Error).message}`);
    shutdown(1);
  });
}

/** PostgreSQL: DATABASE_URL when set, else the private cluster started as a part (its log followed). Its URL. */
export async function startDatabase(): Promise<string> {
  if (config.databaseUrl) {
    say('PostgreSQL: using DATABASE_URL');
    return config.databaseUrl;
  }
  say(`starting PostgreSQL (data in ${join(config.dataDir, 'pg')}) ...`);
  stopFollowingPostgres = followFile('postgres', clusterLogFile(config.dataDir));
  let databaseUrl: string | undefined;
  await supervisor.start(postgresPart((url) => { databaseUrl = url; }));
  return databaseUrl!;
}

/**
 * Temporal: TEMPORAL_ADDRESS when set, else the dev server or (PAYBROKER_TEMPORAL=cluster) the cluster's services,
 * each started as a part. Its address, and whether it is external.
 */
export async function startTemporal(cli: string, databaseUrl: string): Promise<{ address: string; external: boolean }> {
  if (config.temporalExternal) {
    say(`Temporal: using TEMPORAL_ADDRESS=${config.temporalAddress}`);
  } else if (config.temporalMode === 'cluster') {
    await startClusterParts(databaseUrl);
  } else {
    say('starting the Temporal dev server ...');
    await supervisor.start(temporalPart(cli));
  }
  return { address: config.temporalAddress, external: config.temporalExternal };
}

/** Cluster mode's ports: Temporal's defaults around PAYBROKER_TEMPORAL_PORT, metrics around PAYBROKER_TEMPORAL_METRICS_PORT. */
const clusterPorts = () => {
  const m = config.metricsPorts.temporal;
  return clusterPortsFrom(config.temporalPort, m === undefined ? undefined : { frontend: m, history: m + 2, matching: m + 3, worker: m + 4 });
};

/**
 * The cluster's databases set up (created and migrated by the schema tool), its four services and the Web UI server
 * started as parts: one that dies is started again like any other part, on the same databases.
 */
async function startClusterParts(adminUrl: string): Promise<void> {
  const ports = clusterPorts();
  for (const s of CLUSTER_SERVICES) {
    await requirePortFree(`Temporal's ${s} service`, ports.grpc[s], 'PAYBROKER_TEMPORAL_PORT');
    await requirePortFree(`Temporal's ${s} service (membership)`, ports.membership[s], 'PAYBROKER_TEMPORAL_PORT');
    const metrics = ports.metrics?.[s];
    if (metrics !== undefined && s !== 'frontend') await requirePortFree(`Temporal's ${s} service (metrics)`, metrics, 'PAYBROKER_TEMPORAL_METRICS_PORT');
  }
  await requirePortFree('The Temporal Web UI', config.temporalUiPort, 'PAYBROKER_TEMPORAL_UI_PORT');
  const binaries = await ensureClusterBinaries(say);
  say(`setting up the Temporal cluster's databases (temporal, temporal_visibility) with ${CLUSTER_BINARIES.sqlTool.name} ...`);
  await setUpClusterDatabases({ binaries, adminUrl });
  const plan = writeClusterConfig({ binaries, adminUrl, dir: join(config.dataDir, 'temporal-cluster'), ports,
    historyShards: config.temporalHistoryShards, namespace: config.temporalNamespace, logDir });
  say(`starting the Temporal cluster: ${CLUSTER_SERVICES.join(', ')} (${config.temporalHistoryShards} history shards; logs in ${join(logDir, 'temporal-*.log')}) ...`);
  const [first, ...rest] = CLUSTER_SERVICES;
  await supervisor.start(commandPart(`temporal-${first}`, serviceCommand(plan, first), {}, { terminal: false }));
  await awaitClusterMetadata(plan);
  for (const s of rest) await supervisor.start(commandPart(`temporal-${s}`, serviceCommand(plan, s), {}, { terminal: false }));
  await awaitClusterReady(plan);
  say(`the Temporal cluster serves namespace ${plan.namespace} with Paybroker's search attributes`);
  await supervisor.start(commandPart('temporal-ui', uiServerCommand(plan, { port: config.temporalUiPort, codecEndpoint: codecEndpoint() }), {}, { terminal: false }));
}

async function main(): Promise<void> {
  const cli = await ensureTemporalCli(say);
  await requirePortFree('The API', config.apiPort, 'PORT');
  await requirePortFree('The processor simulator', config.simulatorPort, 'PAYBROKER_SIMULATOR_PORT');
  await requirePortFree("The processor simulator's admin API", config.simulatorAdminPort, 'PAYBROKER_SIMULATOR_ADMIN_PORT');
  await requirePortFree('The messaging gateway', config.messaging.port, 'PAYBROKER_MESSAGING_PORT');
  await requirePortFree("The messaging gateway's admin API", config.messaging.adminPort, 'PAYBROKER_MESSAGING_ADMIN_PORT');

  await requirePortFree('The codec server', config.codecPort, 'PAYBROKER_CODEC_PORT');
  ensurePayloadSecrets();
  await ensureMetricsPorts();
  await serveMetrics('launcher', config.metricsPorts.launcher!, '127.0.0.1');

  const databaseUrl = await startDatabase();
  const database = openDatabase(databaseUrl, { poolMax: 2 });
  const applied = await migrate(database.db);
  say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
  const operatorKey = await ensureDevOperatorKey(createStores(database).principals, config.dataDir);
  await database.close();

  const { address: temporalAddress, external: externalTemporal } = await startTemporal(cli, databaseUrl);

  const env = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress };
  await supervisor.start(processPart('simulator', 'processors/simulator/main.ts', env));
  await supervisor.start(processPart('messaging', 'processors/messaging/main.ts', env));
  await supervisor.start(processPart('worker', 'workers/main.ts', env));
  await supervisor.start(processPart('api', 'api/main.ts', env));
  await supervisor.start(processPart('codec', 'workers/codec.ts', env));

  const api = `http://127.0.0.1:${config.apiPort}/v1`;
  const ui = `http://127.0.0.1:${config.temporalUiPort}`;
  await waitFor('the processor simulator', () => ok(`${config.simulatorUrl}/health`), 60_000, 200);
  await waitFor('the messaging gateway', () => ok(`http://127.0.0.1:${config.messaging.port}/health`), 60_000, 200);
  await waitFor('the API (health green)', () => ok(`${api}/health`), 120_000, 250);
  await waitFor('the codec server', () => ok(`http://127.0.0.1:${config.codecPort}/health`), 60_000, 200);
  if (!externalTemporal) await waitFor('the Temporal Web UI', () => ok(ui), 30_000, 250);
  await pingThroughWorker(temporalAddress, config.taskQueue);

  console.log(`
  Paybroker is running.
    API            ${api}              (health: ${api}/health)
    OpenAPI        ${api}/openapi.json
    Hosted pages   ${config.publicUrl}/checkout/<session id>, ${config.publicUrl}/carts/<cart id>   (a session's url, an offer's addUrl)
    Temporal UI    ${externalTemporal ? '(external Temporal: ' + temporalAddress + ')' : ui}
    Temporal gRPC  ${temporalAddress}${temporalKind()}
    Metrics        ${metricsLines('                   ')}
    Codec server   http://127.0.0.1:${config.codecPort}         (decodes payloads for the Web UI; token in ${join(config.dataDir, 'codec-token')} unless PAYBROKER_CODEC_TOKEN is set)
    Simulator      ${config.simulatorUrl}         (admin, fault controls: http://127.0.0.1:${config.simulatorAdminPort}/admin/faults)
    Messaging      http://127.0.0.1:${config.messaging.port}         (admin, phones and faults: http://127.0.0.1:${config.messaging.adminPort}/admin/phones/<E.164>/messages)
    PostgreSQL     ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}
    Logs           ${logDir}

  Local operator API key (kept in ${join(config.dataDir, 'dev-operator-key')}):
    ${operatorKey}

  Try:  curl -s ${api}/me -H "Authorization: Bearer ${operatorKey}"
  A part that stops on its own is started again. Ctrl-C stops everything; data is kept for the next start.
`);
}

/** What the banner says of the Temporal that runs (cluster mode: its services and shards). */
export function temporalKind(): string {
  if (config.temporalExternal) return '';
  if (config.temporalMode === 'dev') return '   (dev server)';
  const { grpc } = clusterPorts();
  return `   (cluster: frontend; history :${grpc.history}, matching :${grpc.matching}, worker :${grpc.worker}; ` +
    `${config.temporalHistoryShards} history shards on PostgreSQL)`;
}

/** One workflow through the worker of taskQueue and its ledger database: the stack really runs work before we say so. */
export async function pingThroughWorker(address: string, taskQueue: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter: dataConverterOf(config.payloadKeys) });
    const result = await client.workflow.execute<PingWorkflow>('pingWorkflow', {
      taskQueue, workflowId: pingWorkflowId(`startup-${Date.now()}`),
      args: [{ message: 'startup', checkLedger: true }], workflowExecutionTimeout: '2 minutes',
    });
    if (result.echoed !== 'startup' || !result.ledgerReachable) throw new Error(`startup ping failed: ${JSON.stringify(result)}`);
    say(`a ping workflow ran through the worker${taskQueue === config.taskQueue ? '' : ` of ${taskQueue}`} and the ledger database`);
  } finally {
    await connection.close();
  }
}

/** The process's entry script, symbolic links resolved (as Node resolves the modules it loads). */
function entryScript(): string {
  try {
    return realpathSync(process.argv[1] ?? '');
  } catch {
    return '';
  }
}
if ([fileURLToPath(import.meta.url), fileURLToPath(new URL('./start.mjs', import.meta.url))].includes(entryScript())) launch(main);
