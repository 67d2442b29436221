// Two Paybroker deployments and the gateway directory for a benchmark, as the federation tests run them
// (test/support/federation.ts), each service its own process as `npm start` runs it: PostgreSQL and the Temporal dev
// server of scripts/scratch-stack.ts (free ports, non-durable fast settings), one processor simulator and the directory
// (its schema in A's database), and per deployment a worker and an API with its federation gateway (mutual TLS):
// A on the scratch database, B on a database of its own in the same cluster, each its own task queue, ports and
// gateway id, keys and certificates from a CA of the run's own. Both gateways register at their API's start and are
// approved here. Everything started is stopped by stop(), in reverse order, also after a failed start.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createDb, type Db, migrate, openDatabase } from '../../ledger/db';
import { DirectoryAdmin, DirectoryRefusal } from '../../processors/directory/client';
import { ensureFederationCredentials } from '../../scripts/federation-ca';
import { freePort, waitFor } from '../../scripts/ports';
import { startScratchStack, type ScratchStack } from '../../scripts/scratch-stack';
import { createStores, type Stores } from '../../stores';
import { CpuMeter, findPid } from './cpu';
import { spawnService, type ServiceProcess } from './processes';
import { Cleanups } from './stack';

const DIRECTORY_ADMIN_TOKEN = 'dirop_bench';

export interface BenchDeployment {
  label: 'a' | 'b';
  gatewayId: string;
  apiBase: string;
  /** Its federation gateway (HTTPS, mutual TLS). */
  gatewayUrl: string;
  taskQueue: string;
  databaseUrl: string;
  db: Db;
  stores: Stores;
  procs: { worker: ServiceProcess; api: ServiceProcess };
}

export interface FederationBench {
  test: ScratchStack;
  simulatorUrl: string;
  directoryUrl: string;
  /** The federation credentials (the CA, each gateway's key and certificate). */
  credentialsDir: string;
  a: BenchDeployment;
  b: BenchDeployment;
  /** Every process started (simulator, directory, each deployment's worker and API). */
  procs: ServiceProcess[];
  cpu: CpuMeter;
  /** A process that has exited since the start, if any. */
  crashed(): ServiceProcess | undefined;
  /** Registers something to stop before the stack itself (stopped in reverse order of registration). */
  onStop(what: string, run: () => unknown): void;
  stop(): Promise<void>;
}

/** Spawns a service and stops it with the rest; waits for its ready line (its output shown if it never comes). */
async function started(cleanups: Cleanups, name: string, entry: string, ready: RegExp, env: Record<string, string>): Promise<ServiceProcess> {
  const p = spawnService(name, entry, env);
  cleanups.push({ what: name, run: () => p.stop() });
  await p.waitForOutput(ready);
  return p;
}

export async function startFederationBench(log: (msg: string) => void, onStopReady: (stop: () => Promise<void>) => void): Promise<FederationBench> {
  const cleanups = new Cleanups();
  const stop = () => cleanups.stop();
  onStopReady(stop);
  try {
    log('starting PostgreSQL and the Temporal dev server (non-durable fast settings), bundling workflows ...');
    const test = await startScratchStack(log);
    cleanups.push({ what: 'PostgreSQL and Temporal', run: () => test.stop() });

    const run = randomUUID().slice(0, 8);
    const ids = { a: `bench-a-${run}`, b: `bench-b-${run}` };
    const credentials = join(test.dir, 'federation');
    ensureFederationCredentials(credentials, [ids.a, ids.b]);

    // B's database beside A's, in the same cluster
    const bName = `bench_b_${run}`;
    const admin = createDb(test.databaseUrl, { poolMax: 1 });
    try {
      await admin.raw('CREATE DATABASE ??', [bName]);
    } finally {
      await admin.destroy();
    }
    const bUrl = new URL(test.databaseUrl);
    bUrl.pathname = `/${bName}`;
    const bDb = createDb(bUrl.toString(), { poolMax: 1 });
    await migrate(bDb).finally(() => bDb.destroy());

    const [simPort, simAdminPort, dirPort, dirAdminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const simulatorUrl = `http://127.0.0.1:${simPort}`;
    const directoryUrl = `http://127.0.0.1:${dirPort}`;
    const shared = {
      TEMPORAL_ADDRESS: test.temporalAddress, PAYBROKER_WORKFLOW_BUNDLE: test.workflowBundlePath, PROCESSOR_URL: simulatorUrl,
      PAYBROKER_SIMULATOR_PORT: String(simPort), PAYBROKER_SIMULATOR_ADMIN_PORT: String(simAdminPort),
      PAYBROKER_DIRECTORY_PORT: String(dirPort), PAYBROKER_DIRECTORY_ADMIN_PORT: String(dirAdminPort), PAYBROKER_DIRECTORY_URL: directoryUrl,
      PAYBROKER_DIRECTORY_ADMIN_TOKEN: DIRECTORY_ADMIN_TOKEN, PAYBROKER_FEDERATION_DIR: credentials,
    };
    log('starting the simulator and the directory, then each deployment\'s worker and API ...');
    const simulator = await started(cleanups, 'simulator', 'processors/simulator/main.ts', /simulator listening/, { ...shared, DATABASE_URL: test.databaseUrl });
    const directory = await started(cleanups, 'directory', 'processors/directory/main.ts', /directory listening/, { ...shared, DATABASE_URL: test.databaseUrl });

    const deployment = async (label: 'a' | 'b', databaseUrl: string): Promise<BenchDeployment> => {
      const [apiPort, gatewayPort] = [await freePort(), await freePort()];
      const taskQueue = `bench-${label}-${run}`;
      const env = {
        ...shared, DATABASE_URL: databaseUrl, PORT: String(apiPort), PAYBROKER_TASK_QUEUE: taskQueue, PAYBROKER_GATEWAY_ID: ids[label],
        PAYBROKER_GATEWAY_PORT: String(gatewayPort), PAYBROKER_GATEWAY_URL: `https://127.0.0.1:${gatewayPort}`,
        PAYBROKER_SERVICE_NAME: `Bench service ${label.toUpperCase()}`,
      };
      const [worker, api] = await Promise.all([
        started(cleanups, `worker-${label}`, 'workers/main.ts', /worker polling/, env),
        started(cleanups, `api-${label}`, 'api/main.ts', /API listening/, env),
      ]);
      const database = openDatabase(databaseUrl, { poolMax: 2, applicationName: 'paybroker-bench' });
      cleanups.push({ what: `${label}'s database pool`, run: () => database.close() });
      return {
        label, gatewayId: ids[label], apiBase: `http://127.0.0.1:${apiPort}/v1`, gatewayUrl: `https://127.0.0.1:${gatewayPort}`, taskQueue, databaseUrl, db: database.db, stores: createStores(database),
        procs: { worker, api },
      };
    };
    const [a, b] = await Promise.all([deployment('a', test.databaseUrl), deployment('b', bUrl.toString())]);

    const directoryAdmin = new DirectoryAdmin({ adminUrl: `http://127.0.0.1:${dirAdminPort}`, token: DIRECTORY_ADMIN_TOKEN });
    for (const id of [ids.a, ids.b]) {
      await waitFor(`the gateway ${id} registered in the directory`, async () => {
        try {
          return (await directoryAdmin.approve(id)).status === 'approved';
        } catch (err) {
          if (err instanceof DirectoryRefusal && err.code === 'unknown_gateway') return false;
          throw err;
        }
      }, 30_000, 200);
    }

    const procs = [simulator, directory, a.procs.worker, a.procs.api, b.procs.worker, b.procs.api];
    const cpu = new CpuMeter({
      postgres: findPid(`${test.dir}/postgres`), temporal: findPid('start-dev', `--port ${test.temporalAddress.split(':')[1]} `),
      'api-a': a.procs.api.child.pid, 'worker-a': a.procs.worker.child.pid, 'api-b': b.procs.api.child.pid, 'worker-b': b.procs.worker.child.pid,
      simulator: simulator.child.pid, directory: directory.child.pid, bench: process.pid,
    });
    return {
      test, simulatorUrl, directoryUrl, credentialsDir: credentials, a, b, procs, cpu,
      crashed: () => procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null),
      onStop: (what, run) => { cleanups.push({ what, run }); },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
