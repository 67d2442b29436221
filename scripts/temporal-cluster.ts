// The production topology of Temporal on this machine (PAYBROKER_TEMPORAL=cluster): the official server's frontend,
// history, matching and worker services as four processes on PostgreSQL (default and visibility stores, each its own
// database in the private cluster, set up and updated by the server's schema tool), and the Web UI server against
// the frontend. docker-compose.yml describes the same services. The binaries are built once with `go install`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import pg from 'pg';
import { loadConfig } from '../config';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { ensureDatabase } from './postgres';
import { freePort, waitFor } from './ports';
import {
  DEV_SERVER_DYNAMIC_CONFIG, findGo, goInstall, registerSearchAttributes, type ServiceProcess, startLogged, TOOLS_BIN,
} from './temporal-cli';

export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_SERVER_VERSION = 'v2.42.1';

/** What cluster mode runs, each built with `go install` into .tools/bin under the name the official images use. */
export const CLUSTER_BINARIES = {
  server: { name: 'temporal-server', target: `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`, what: 'the Temporal server' },
  sqlTool: { name: 'temporal-sql-tool', target: `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`, what: "the Temporal server's schema tool" },
  uiServer: { name: 'temporal-ui-server', target: `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_SERVER_VERSION}`, what: 'the Temporal Web UI server' },
} as const;
export type ClusterBinaries = Record<keyof typeof CLUSTER_BINARIES, string>;

/** Each binary from PATH or .tools/bin, else built there (the first time; a few minutes, most modules being the CLI's too). */
export async function ensureClusterBinaries(log: (msg: string) => void): Promise<ClusterBinaries> {
  const found: Partial<ClusterBinaries> = {};
  for (const [key, b] of Object.entries(CLUSTER_BINARIES) as Array<[keyof ClusterBinaries, (typeof CLUSTER_BINARIES)[keyof ClusterBinaries]]>) {
    const onPath = spawnSync('sh', ['-c', `command -v ${b.name}`], { encoding: 'utf8' }).stdout.trim();
    const cached = join(TOOLS_BIN, b.name);
    if (onPath || existsSync(cached)) {
      found[key] = onPath || cached;
      continue;
    }
    const go = findGo(`${b.name} was not found (PATH, .tools/bin) and Go is not installed to build it: install Go >= 1.23.`);
    log(`building ${b.what} ${b.target.split('@')[1]} with 'go install' into .tools/bin (first run only; several minutes) ...`);
    found[key] = await goInstall({ go, target: b.target, what: b.what, name: b.name, binDir: TOOLS_BIN, log });
  }
  return found as ClusterBinaries;
}

/** The services, in the order they are started: the first alone on new databases (awaitClusterMetadata). */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

export interface ClusterPorts {
  /** gRPC: the frontend's is the address clients use. */
  grpc: Record<ClusterService, number>;
  /** Ringpop membership, one per service. */
  membership: Record<ClusterService, number>;
  /** Prometheus, per service; none → no metrics endpoint. */
  metrics?: Partial<Record<ClusterService, number>>;
}

/** The ports `npm start` uses in cluster mode: Temporal's own defaults, the frontend's from PAYBROKER_TEMPORAL_PORT. */
export const clusterPortsFrom = (frontend: number, metrics?: Partial<Record<ClusterService, number>>): ClusterPorts => ({
  grpc: { frontend, history: frontend + 1, matching: frontend + 2, worker: frontend + 6 },
  membership: { frontend: frontend - 300, history: frontend - 299, matching: frontend - 298, worker: frontend - 294 },
  metrics,
});

export interface ClusterPlan {
  binaries: ClusterBinaries;
  adminUrl: string;
  /** The default store's database. */
  database: string;
  /** The directory of the generated configuration (config/<service>.yaml, dynamicconfig.yaml). */
  dir: string;
  ports: ClusterPorts;
  address: string;
  namespace: string;
  logFile: (service: ClusterService) => string;
}

export interface ClusterSetup {
  binaries: ClusterBinaries;
  /** A superuser URL of the PostgreSQL server the databases are made in. */
  adminUrl: string;
  /** Database names: `${databasePrefix}` (default store) and `${databasePrefix}_visibility`. */
  databasePrefix?: string;
  dir: string;
  ports: ClusterPorts;
  historyShards: number;
  namespace?: string;
  logDir: string;
  log?: (msg: string) => void;
}

const PG_PLUGIN = 'postgres12';

/** Runs the schema tool; a failure's error carries the end of its output. */
function sqlTool(tool: string, adminUrl: string, database: string, args: string[]): void {
  const url = new URL(adminUrl);
  const r = spawnSync(tool, ['--plugin', PG_PLUGIN, '--endpoint', url.hostname, '--port', url.port || '5432',
    '--user', decodeURIComponent(url.username), '--password', decodeURIComponent(url.password), '--database', database, ...args],
  { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed (exit ${r.status ?? r.signal}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n')}`);
}

/** True when the table exists in the database and has a row. */
async function hasRow(adminUrl: string, database: string, table: string): Promise<boolean> {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
    return rows[0].present && ((await client.query(`SELECT 1 FROM ${table} LIMIT 1`)).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/**
 * The two databases made if missing, versioned by the schema tool the first time, and updated to the server's
 * schema every time (a no-op when current): what the official auto-setup image does, with the schemas embedded in
 * the tool.
 */
export async function setUpClusterDatabases(o: Pick<ClusterSetup, 'binaries' | 'adminUrl' | 'databasePrefix'>): Promise<void> {
  const prefix = o.databasePrefix ?? 'temporal';
  for (const [database, schema] of [[prefix, 'temporal'], [`${prefix}_visibility`, 'visibility']] as const) {
    await ensureDatabase(o.adminUrl, database);
    if (!(await hasRow(o.adminUrl, database, 'schema_version'))) sqlTool(o.binaries.sqlTool, o.adminUrl, database, ['setup-schema', '--version', '0.0']);
    sqlTool(o.binaries.sqlTool, o.adminUrl, database, ['update-schema', '--schema-name', `postgresql/v12/${schema}`]);
  }
}

/** Dynamic config values in the file form (`key: [{value}]`), typed: the dev server's are command-line strings. */
const dynamicConfigFile = () => Object.fromEntries(Object.entries(DEV_SERVER_DYNAMIC_CONFIG)
  .map(([key, value]) => [key, [{ value: JSON.parse(value) as unknown }]]));

/**
 * The server's configuration: base.yaml (persistence with `historyShards` shards, membership, every service's ports,
 * no archival) and one <service>.yaml per service with its metrics endpoint; each process starts with
 * `--env <service>`. Written as JSON, which is YAML.
 */
export function writeClusterConfig(o: ClusterSetup): ClusterPlan {
  const url = new URL(o.adminUrl);
  const prefix = o.databasePrefix ?? 'temporal';
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: PG_PLUGIN, databaseName, connectAddr: `${url.hostname}:${url.port || 5432}`, connectProtocol: 'tcp',
      user: decodeURIComponent(url.username), password: decodeURIComponent(url.password),
      maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h',
    },
  });
  const configDir = join(o.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  const dynamicConfig = join(o.dir, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfig, JSON.stringify(dynamicConfigFile(), null, 2));
  const disabled = { state: 'disabled' };
  const base = {
    log: { stdout: true, level: 'warn', format: 'console' },
    persistence: {
      defaultStore: 'default', visibilityStore: 'visibility', numHistoryShards: o.historyShards,
      datastores: { default: store(prefix, 10), visibility: store(`${prefix}_visibility`, 4) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: Object.fromEntries(CLUSTER_SERVICES.map((s) => [s, {
      rpc: { grpcPort: o.ports.grpc[s], membershipPort: o.ports.membership[s], bindOnLocalHost: true },
    }])),
    clusterMetadata: {
      enableGlobalNamespace: false, failoverVersionIncrement: 10, masterClusterName: 'active', currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${o.ports.grpc.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: disabled, visibility: disabled },
    namespaceDefaults: { archival: { history: disabled, visibility: disabled } },
    dynamicConfigClient: { filepath: dynamicConfig, pollInterval: '10s' },
  };
  writeFileSync(join(configDir, 'base.yaml'), JSON.stringify(base, null, 2));
  for (const s of CLUSTER_SERVICES) {
    const port = o.ports.metrics?.[s];
    const metrics = port === undefined ? {} : { global: { metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${port}` } } } };
    writeFileSync(join(configDir, `${s}.yaml`), JSON.stringify(metrics, null, 2));
  }
  mkdirSync(o.logDir, { recursive: true });
  return {
    binaries: o.binaries, adminUrl: o.adminUrl, database: prefix, dir: o.dir, ports: o.ports, address: `127.0.0.1:${o.ports.grpc.frontend}`,
    namespace: o.namespace ?? 'default', logFile: (s) => join(o.logDir, `temporal-${s}.log`),
  };
}

/** One service's command line. */
export const serviceCommand = (plan: ClusterPlan, s: ClusterService): [string, string[]] =>
  [plan.binaries.server, ['--root', plan.dir, '--config', 'config', '--env', s, '--allow-no-auth', 'start', '--service', s]];

/** The Web UI server's configuration (config/ui/base.yaml) and command line. */
export function uiServerCommand(plan: ClusterPlan, o: { port: number; codecEndpoint?: string }): [string, string[]] {
  const dir = join(plan.dir, 'ui');
  mkdirSync(join(dir, 'config'), { recursive: true });
  writeFileSync(join(dir, 'config', 'base.yaml'), JSON.stringify({
    temporalGrpcAddress: plan.address, host: '127.0.0.1', port: o.port, enableUi: true, defaultNamespace: plan.namespace,
    notifyOnNewVersion: false,
    codec: o.codecEndpoint ? { endpoint: o.codecEndpoint } : {},
  }, null, 2));
  writeFileSync(join(dir, 'config', 'paybroker.yaml'), '{}');
  return [plan.binaries.uiServer, ['--root', dir, '--config', 'config', '--env', 'paybroker', 'start']];
}

/**
 * Resolves once the cluster's metadata record exists. Every service writes it when it starts on a new database, and
 * two writing at once make one of them fail and exit: the first service is started alone until it has.
 */
export async function awaitClusterMetadata(plan: ClusterPlan, died?: Promise<unknown>): Promise<void> {
  const written = waitFor("the Temporal cluster's metadata", () => hasRow(plan.adminUrl, plan.database, 'cluster_metadata_info'), CLUSTER_READY_TIMEOUT_MS, 100);
  written.catch(() => {}); // (when died wins the race, this one's later timeout is not an unhandled rejection)
  await (died ? Promise.race([written, died.then(() => {
    throw new Error(`Temporal's ${CLUSTER_SERVICES[0]} service stopped at start; see ${plan.logFile(CLUSTER_SERVICES[0])}`);
  })]) : written);
}

/** gRPC status codes. */
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

/** How long a started cluster may take to serve the namespace with every search attribute (first start included). */
export const CLUSTER_READY_TIMEOUT_MS = 120_000;

/**
 * Waits until the frontend answers, registers the namespace (3 days' retention) when it is missing, adds Paybroker's
 * search attributes, and proves them usable: a probe workflow started with every one of them (then terminated).
 * The history service learns a new namespace or attribute from its cache a moment after the frontend.
 */
export async function awaitClusterReady(plan: ClusterPlan, died?: Promise<unknown>): Promise<void> {
  const ready = (async () => {
    await waitFor('the Temporal frontend', async () => {
      const conn = await Connection.connect({ address: plan.address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return true;
      } finally {
        await conn.close();
      }
    }, CLUSTER_READY_TIMEOUT_MS, 250);
    const conn = await Connection.connect({ address: plan.address });
    try {
      await conn.workflowService.describeNamespace({ namespace: plan.namespace }).catch(async (err: { code?: number }) => {
        if (err.code !== GRPC_NOT_FOUND) throw err;
        await conn.workflowService.registerNamespace({ namespace: plan.namespace, workflowExecutionRetentionPeriod: msToTs('3 days') })
          .catch((e: { code?: number }) => { if (e.code !== GRPC_ALREADY_EXISTS) throw e; });
      });
      await waitFor(`the namespace ${plan.namespace} and its search attributes`, async () => {
        await registerSearchAttributes(plan.address, plan.namespace);
        await probeSearchAttributes(conn, plan.namespace);
        return true;
      }, CLUSTER_READY_TIMEOUT_MS, 500);
    } finally {
      await conn.close();
    }
  })();
  ready.catch(() => {}); // (as awaitClusterMetadata's)
  await (died ? Promise.race([ready, died.then(() => { throw new Error(`a Temporal service stopped at start; see the temporal-*.log files in ${dirname(plan.logFile('frontend'))}`); })]) : ready);
}

/** Starts a workflow carrying every search attribute on a queue nobody polls, then terminates it. */
async function probeSearchAttributes(conn: Connection, namespace: string): Promise<void> {
  const sample = { Keyword: '"probe"', Int: '0', Bool: 'false' } as const;
  const indexedFields = Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, {
    metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(sample[type]),
  }]));
  const workflowId = `paybroker-cluster-probe-${Date.now()}`;
  await conn.workflowService.startWorkflowExecution({
    namespace, workflowId, workflowType: { name: 'clusterProbe' }, taskQueue: { name: 'paybroker-cluster-probe' },
    requestId: workflowId, searchAttributes: { indexedFields }, workflowRunTimeout: msToTs('1 minute'),
  });
  await conn.workflowService.terminateWorkflowExecution({ namespace, workflowExecution: { workflowId }, reason: 'cluster readiness probe' });
}

export interface TemporalCluster {
  address: string;
  plan: ClusterPlan;
  services: Record<ClusterService, ServiceProcess>;
  /** Starts a service again (after it died or was killed) on the same ports and databases. */
  restart(service: ClusterService): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A whole cluster for the tests and benchmarks: databases set up, the four services started, the namespace ready.
 * (`npm start` starts each service as a supervised part instead: scripts/stack.ts.)
 */
export async function startTemporalCluster(o: ClusterSetup): Promise<TemporalCluster> {
  await setUpClusterDatabases(o);
  const plan = writeClusterConfig(o);
  const services = {} as Record<ClusterService, ServiceProcess>;
  const start = (s: ClusterService) => { services[s] = startLogged(serviceCommand(plan, s), plan.logFile(s)); };
  const stop = async () => { await Promise.all(Object.values(services).map((p) => p.stop())); };
  try {
    const [first, ...rest] = CLUSTER_SERVICES;
    start(first);
    await awaitClusterMetadata(plan, services[first].exited);
    for (const s of rest) start(s);
    await awaitClusterReady(plan, Promise.race(CLUSTER_SERVICES.map((s) => services[s].exited)));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address: plan.address, plan, services, stop,
    async restart(s) {
      await services[s].stop();
      start(s);
    },
  };
}

/** A cluster on free ports (no metrics endpoints), for the tests and the benchmarks. */
export async function startScratchTemporalCluster(o: {
  adminUrl: string; dir: string; databasePrefix?: string; log: (msg: string) => void;
}): Promise<TemporalCluster> {
  const binaries = await ensureClusterBinaries(o.log);
  const ports = async () => Object.fromEntries(await Promise.all(CLUSTER_SERVICES.map(async (s) => [s, await freePort()]))) as Record<ClusterService, number>;
  return startTemporalCluster({
    binaries, adminUrl: o.adminUrl, databasePrefix: o.databasePrefix, dir: o.dir, logDir: o.dir,
    ports: { grpc: await ports(), membership: await ports() }, historyShards: loadConfig().temporalHistoryShards,
  });
}
