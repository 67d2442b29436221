// A private PostgreSQL, Temporal (the dev server, or the four-process cluster with PAYBROKER_TEMPORAL=cluster),
// processor simulator and messaging gateway simulator on free ports in a temporary directory, with the schema
// migrated and the workflows bundled, with fast non-durable settings: the stack of the tests' global setup, the
// benchmarks and `npm run histories:record`.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig, WORKFLOW_INTERCEPTORS_PATH, WORKFLOWS_PATH } from '../config';
import { createDb, migrate } from '../ledger/db';
import { newPayloadKey } from '../runtime/payloadCodec';
import { startPrivateCluster } from './postgres';
import { freePort } from './ports';
import { ensureTemporalCli, startTemporalDevServer } from './temporal-cli';
import { startScratchTemporalCluster } from './temporal-cluster';

import { startMessagingGateway } from '../processors/messaging/server';
import { startSimulator } from '../processors/simulator/server';

/** The account of the messaging gateway the run shares (tests that set faults start their own). */
export const SCRATCH_MESSAGING_API_KEY = 'msgk_test_scratch';
export const SCRATCH_MESSAGING_WEBHOOK_SECRET = 'gwsec_test_scratch';

export interface ScratchStack {
  dir: string;
  databaseUrl: string;
  temporalAddress: string;
  workflowBundlePath: string;
  temporalCliPath: string;
  /** The Temporal that runs: the dev server, or the four-process cluster on the run's PostgreSQL. */
  temporalMode: 'dev' | 'cluster';
  /** A processor simulator shared by the run: tests that set faults start their own instead. */
  simulatorUrl: string;
  simulatorAdminUrl: string;
  /** A messaging gateway simulator shared by the run, serving the account of SCRATCH_MESSAGING_API_KEY. */
  messagingUrl: string;
  messagingAdminUrl: string;
  /**
   * The run's payload key, made for it (PAYBROKER_PAYLOAD_KEYS's form), also set in this process's environment so
   * the processes it starts seal with it too; empty when started with { encryption: false } (payloads plain).
   */
  payloadKeys: string;
  stop: () => Promise<void>;
}

const quietLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {},
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};

export async function startScratchStack(log: (msg: string) => void, opts: {
  encryption?: boolean;
  /** The Temporal to run; default PAYBROKER_TEMPORAL's. */
  temporal?: 'dev' | 'cluster';
} = {}): Promise<ScratchStack> {
  const payloadKeys = opts.encryption === false ? '' : newPayloadKey('run');
  process.env.PAYBROKER_PAYLOAD_KEYS = payloadKeys;
  const base = join(loadConfig().dataDir, 'tests');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'run-'));
  chmodSync(dir, 0o755); // PostgreSQL runs as its own user when we are root, and must reach its directory

  const cli = await ensureTemporalCli(log);
  const temporalMode = opts.temporal ?? loadConfig().temporalMode;
  const pgStarting = freePort().then((port) => startPrivateCluster({ dataDir: join(dir, 'postgres'), port, fast: true, log }));
  const [pgStart, temporalStart] = await Promise.allSettled([
    pgStarting,
    temporalMode === 'cluster'
      ? pgStarting.then((pgCluster) => startScratchTemporalCluster({ adminUrl: pgCluster.url, dir: join(dir, 'temporal'), log }))
      : freePort().then((port) => startTemporalDevServer({ cli, port, fast: true, logFile: join(dir, 'temporal.log') })),
  ]);
  if (pgStart.status === 'rejected' || temporalStart.status === 'rejected') {
    if (pgStart.status === 'fulfilled') pgStart.value.stop();
    if (temporalStart.status === 'fulfilled') await temporalStart.value.stop();
    throw pgStart.status === 'rejected' ? pgStart.reason : (temporalStart as PromiseRejectedResult).reason;
  }
  const cluster = pgStart.value;
  const temporal = temporalStart.value;
  const db = createDb(cluster.url);
  await migrate(db);
  await db.destroy();
  const simulator = await startSimulator({ databaseUrl: cluster.url, port: 0 });
  const messaging = await startMessagingGateway({
    databaseUrl: cluster.url, port: 0, apiKey: SCRATCH_MESSAGING_API_KEY, webhookSecret: SCRATCH_MESSAGING_WEBHOOK_SECRET,
  });
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH], logger: quietLogger });
  const workflowBundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  return {
    dir, databaseUrl: cluster.url, temporalAddress: temporal.address, workflowBundlePath, temporalCliPath: cli, temporalMode,
    simulatorUrl: simulator.url, simulatorAdminUrl: simulator.adminUrl,
    messagingUrl: messaging.url, messagingAdminUrl: messaging.adminUrl, payloadKeys,
    async stop() {
      await messaging.stop();
      await simulator.stop();
      await temporal.stop();
      cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
