// `npm start`: PostgreSQL, the Temporal dev server (durable SQLite under .data/, Web UI), the processor
// simulator, the worker and the API, each in its own process; prints every URL; Ctrl-C stops them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, ROOT_DIR } from '../config';
import { type PingWorkflow, pingWorkflowId } from '../workflows/ping.contract';
import { migrate, openDatabase } from '../ledger/db';
import { createStores } from '../stores';
import { ensureDevOperatorKey } from './dev-key';
import { startPrivateCluster, type Cluster } from './postgres';
import { requirePortFree, waitFor } from './ports';
import { ensureTemporalCli, startTemporalDevServer, type DevServer } from './temporal-cli';

const config = loadConfig();
const say = (msg: string) => console.log(`[paybroker] ${msg}`);
const logDir = join(config.dataDir, 'logs');

interface Service { name: string; child: ChildProcess }
const services: Service[] = [];
let cluster: Cluster | undefined;
let temporal: DevServer | undefined;
let stopping = false;

function startService(name: string, entry: string, env: NodeJS.ProcessEnv): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT_DIR, entry)], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${name}]`.padEnd(12);
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) console.log(`${prefix} ${line}`);
    });
  }
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[paybroker] ${name} exited unexpectedly (${code ?? signal}); stopping everything`);
    void shutdown(1);
  });
  const service = { name, child };
  services.push(service);
  return service;
}

function stopService({ name, child }: Service): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => { say(`${name} did not stop in 20 s; killing it`); child.kill('SIGKILL'); }, 20_000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping ...');
    // API first (no new work), then the worker (drains in-flight tasks), then what they depend on.
    for (const name of ['api', 'worker', 'simulator']) {
      const s = services.find((x) => x.name === name);
      if (s) await stopService(s);
    }
    await temporal?.stop();
    if (cluster && !cluster.reused) cluster.stop();
    say('stopped; data kept in ' + config.dataDir);
  }
  process.exit(code);
}

async function ok(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  mkdirSync(logDir, { recursive: true });

  const cli = ensureTemporalCli(say);
  await requirePortFree('The API', config.apiPort, 'PORT');
  await requirePortFree('The processor simulator', config.simulatorPort, 'PAYBROKER_SIMULATOR_PORT');
  await requirePortFree("The processor simulator's admin API", config.simulatorAdminPort, 'PAYBROKER_SIMULATOR_ADMIN_PORT');

  let databaseUrl = config.databaseUrl;
  if (databaseUrl) {
    say('PostgreSQL: using DATABASE_URL');
  } else {
    say(`starting PostgreSQL (data in ${join(config.dataDir, 'pg')}) ...`);
    cluster = await startPrivateCluster({ dataDir: config.dataDir, port: config.pgPort, log: say });
    databaseUrl = cluster.url;
  }
  const database = openDatabase(databaseUrl, { poolMax: 2 });
  const applied = await migrate(database.db);
  say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
  const operatorKey = await ensureDevOperatorKey(createStores(database).principals, config.dataDir);
  await database.close();

  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (temporalAddress) {
    say(`Temporal: using TEMPORAL_ADDRESS=${temporalAddress}`);
  } else {
    say('starting the Temporal dev server ...');
    temporal = await startTemporalDevServer({
      cli, port: config.temporalPort, uiPort: config.temporalUiPort,
      dbFile: join(config.dataDir, 'temporal', 'temporal.db'), logFile: join(logDir, 'temporal.log'),
      namespace: config.temporalNamespace,
    });
  }

  const env = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress ?? temporal!.address };
  startService('simulator', 'processors/simulator/main.ts', env);
  startService('worker', 'workers/main.ts', env);
  startService('api', 'api/main.ts', env);

  const api = `http://127.0.0.1:${config.apiPort}/v1`;
  const ui = `http://127.0.0.1:${config.temporalUiPort}`;
  await waitFor('the processor simulator', () => ok(`${config.simulatorUrl}/health`), 60_000, 200);
  await waitFor('the API (health green)', () => ok(`${api}/health`), 120_000, 250);
  if (temporal) await waitFor('the Temporal Web UI', () => ok(ui), 30_000, 250);
  await pingThroughWorker(env.TEMPORAL_ADDRESS);

  console.log(`
  Paybroker is running.
    API            ${api}              (health: ${api}/health)
    OpenAPI        ${api}/openapi.json
    Temporal UI    ${temporal ? ui : '(external Temporal: ' + temporalAddress + ')'}
    Temporal gRPC  ${env.TEMPORAL_ADDRESS}
    Simulator      ${config.simulatorUrl}         (admin, fault controls: http://127.0.0.1:${config.simulatorAdminPort}/admin/faults)
    PostgreSQL     ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}
    Logs           ${logDir}

  Local operator API key (kept in ${join(config.dataDir, 'dev-operator-key')}):
    ${operatorKey}

  Try:  curl -s ${api}/me -H "Authorization: Bearer ${operatorKey}"
  Ctrl-C stops everything; data is kept for the next start.
`);
}

/** One workflow through the worker and the ledger database: the stack really runs work before we say so. */
async function pingThroughWorker(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: config.temporalNamespace });
    const result = await client.workflow.execute<PingWorkflow>('pingWorkflow', {
      taskQueue: config.taskQueue, workflowId: pingWorkflowId(`startup-${Date.now()}`),
      args: [{ message: 'startup', checkLedger: true }], workflowExecutionTimeout: '2 minutes',
    });
    if (result.echoed !== 'startup' || !result.ledgerReachable) throw new Error(`startup ping failed: ${JSON.stringify(result)}`);
    say('a ping workflow ran through the worker and the ledger database');
  } finally {
    await connection.close();
  }
}

main().catch(async (err) => {
  console.error(`[paybroker] ${(err as Error).message}`);
  await shutdown(1);
});
