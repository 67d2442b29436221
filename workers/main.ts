// Worker process: connects to Temporal and PostgreSQL, runs every workflow and activity on the task queue,
// and on SIGTERM/SIGINT stops polling, drains in-flight work (shutdownGraceTime), then closes connections.
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { deliverySettings, loadConfig } from '../config';
import { HttpProcessorClient } from '../processors/http-client';
import { ensureSettlementPeriodSchedule, ensureSettlementSchedule } from './schedules';
import { createActivities } from '../activities';
import { openDatabase } from '../ledger/db';
import { workerOptions } from './options';
import { createLogger, TemporalLogger } from '../runtime/log';
import { requestIdClientInterceptor } from '../runtime/requestContext';

const logger = createLogger('worker', loadConfig().logLevel);

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
  // the SDK's own lines (activities' included, each with its request id) at PAYBROKER_WORKER_LOG_LEVEL, warn by default
  const sdkLevel = config.workerLogLevel;
  Runtime.install({ logger: new TemporalLogger(logger.child({ component: 'temporal-sdk' }, { level: sdkLevel })), shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const database = openDatabase(config.databaseUrl, { applicationName: 'paybroker-worker', poolMax: 20 });
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace, interceptors: { workflow: [requestIdClientInterceptor] } });
  try {
    const worker = await Worker.create(workerOptions({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      activities: createActivities({
        database, processor: new HttpProcessorClient({ baseUrl: config.simulatorUrl }), temporal: client, taskQueue: config.taskQueue,
        delivery: deliverySettings(config),
      }),
      workflowBundlePath: config.workflowBundlePath,
    }));
    await ensureSettlementSchedule(client, config.taskQueue, config.settlementIntervalMs);
    await ensureSettlementPeriodSchedule(client, config.taskQueue, config.periodMs, { graceMs: config.periodGraceMs, dunningDelaysMs: config.dunningDelaysMs });
    logger.info(`worker polling task queue '${config.taskQueue}' on ${config.temporalAddress}`);
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await database.close();
  }
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'the worker stopped');
  process.exit(1);
});
