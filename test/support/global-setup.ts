// One PostgreSQL cluster and one Temporal dev server for the whole test run, both private to it (random free
// ports, a temporary directory), plus one workflow bundle that every test worker loads.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../../config';
import { createDb, migrate } from '../../ledger/db';
import { startPrivateCluster } from '../../scripts/postgres';
import { freePort } from '../../scripts/ports';
import { ensureTemporalCli, startTemporalDevServer } from '../../scripts/temporal-cli';
import { WORKFLOWS_PATH } from '../../workers/options';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCliPath: string;
  }
}

const log = (msg: string) => console.log(`[test setup] ${msg}`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const base = join(loadConfig().dataDir, 'tests');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'run-'));
  chmodSync(dir, 0o755); // PostgreSQL runs as its own user when we are root, and must reach its directory
  const started = Date.now();

  const cli = ensureTemporalCli(log);
  const [pgStart, temporalStart] = await Promise.allSettled([
    freePort().then((port) => startPrivateCluster({ dataDir: join(dir, 'postgres'), port, fast: true, log })),
    freePort().then((port) => startTemporalDevServer({ cli, port, fast: true, logFile: join(dir, 'temporal.log') })),
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
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  log(`PostgreSQL ${cluster.url}, Temporal ${temporal.address}, ready in ${Date.now() - started} ms`);

  project.provide('databaseUrl', cluster.url);
  project.provide('temporalAddress', temporal.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCliPath', cli);

  return async () => {
    await temporal.stop();
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

const quietLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {},
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};
