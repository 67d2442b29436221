// Worker process: connects to Temporal and PostgreSQL, runs every workflow and activity on the task queue, keeps
// the Schedules in place, and starts the orders whose workflow never started (the repair loop); on SIGTERM/SIGINT
// stops polling, drains in-flight work (shutdownGraceTime), then closes connections.
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { deliverySettings, loadConfig } from '../config';
import { HttpProcessorClient } from '../processors/http-client';
import { ensurePayoutSchedule, ensureReconciliationSchedule, ensureSettlementPeriodSchedule, ensureSettlementSchedule } from './schedules';
import { createActivities } from '../activities';
import { openDatabase } from '../ledger/db';
import { OrderService, REPAIR_EVERY_MS } from '../services/orders';
import { createStores } from '../stores';
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
    await ensurePayoutSchedule(client, config.taskQueue, config.payoutIntervalMs, { retryDelaysMs: config.payoutRetryDelaysMs });
    await ensureReconciliationSchedule(client, config.taskQueue, config.reconciliationIntervalMs);
    logger.info(`worker polling task queue '${config.taskQueue}' on ${config.temporalAddress}`);
    const stopRepair = repairLoop(new OrderService({ ...createStores(database), temporal: client, taskQueue: config.taskQueue,
      timing: { processorDeadlineMs: config.processorDeadlineMs, processorMaxBackoffMs: config.processorMaxBackoffMs,
        reauthLeadMs: config.reauthLeadMs, refundWindowMs: config.refundWindowMs } }));
    try {
      await worker.run();
    } finally {
      await stopRepair();
    }
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await database.close();
  }
}

/** Every REPAIR_EVERY_MS, the orders accepted whose workflow never started are started (a tick while a pass runs is skipped). */
function repairLoop(orders: OrderService): () => Promise<void> {
  let pass: Promise<void> | undefined;
  const timer = setInterval(() => {
    pass ??= orders.startStranded(undefined, undefined, (orderId, err) => logger.error({ err, orderId }, 'the repair loop cannot start this order'))
      .then((started) => { if (started) logger.info({ started }, 'started the workflows of orders accepted while it could not be'); })
      .catch((err: unknown) => logger.warn({ err }, 'the order repair pass failed; the next one tries again'))
      .finally(() => { pass = undefined; });
  }, REPAIR_EVERY_MS);
  return async () => {
    clearInterval(timer);
    await pass;
  };
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'the worker stopped');
  process.exit(1);
});
