// Worker process: connects to Temporal and PostgreSQL, runs every workflow and activity on the task queue, keeps
// the Schedules in place, starts the orders whose workflow never started (the repair loop) and purges the events
// and delivery attempts past their retention (the purge loop); on SIGTERM/SIGINT stops polling, drains in-flight
// work (shutdownGraceTime), then closes connections.
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { deliverySettings, loadConfig } from '../config';
import { HttpProcessorClient } from '../processors/http-client';
import { FederationGatewayClient } from '../processors/federation/gateway';
import { loadGatewayCredentials } from '../processors/federation/pki';
import { DirectoryClient } from '../processors/directory/client';
import { CachedDirectory, settlementAccountOf, startStrandedPayments } from '../services/federation';
import { NettingService } from '../services/netting';
import { HttpMessagingGateway } from '../processors/messaging/client';
import { ensurePayoutSchedule, ensureReconciliationSchedule, ensureSettlementPeriodSchedule, ensureSettlementSchedule } from './schedules';
import { createActivities } from '../activities';
import { openDatabase } from '../ledger/db';
import { OrderService, REPAIR_EVERY_MS } from '../services/orders';
import { createStores } from '../stores';
import { workerOptions } from './options';
import { createLogger, TemporalLogger } from '../runtime/log';
import { serveMetrics } from '../runtime/metrics';
import { dataConverterOf } from '../runtime/payloadCodec';
import { requestIdClientInterceptor } from '../runtime/requestContext';

const logger = createLogger('worker', loadConfig().logLevel);
/** How often the worker purges old events. */
const PURGE_EVERY_MS = 3600_000;

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
  // the SDK's own lines (activities' included, each with its request id) at PAYBROKER_WORKER_LOG_LEVEL, warn by default
  const sdkLevel = config.workerLogLevel;
  const sdkMetrics = config.metricsPorts.workerSdk;
  Runtime.install({ logger: new TemporalLogger(logger.child({ component: 'temporal-sdk' }, { level: sdkLevel })), shutdownSignals: ['SIGINT', 'SIGTERM'],
    // the SDK's own metrics (task slots, poll and schedule-to-start latencies, workflow and activity outcomes)
    ...(sdkMetrics !== undefined ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `${config.bindHost}:${sdkMetrics}` } } } } : {}) });
  const metricsServer = config.metricsPorts.worker === undefined ? undefined : await serveMetrics('worker', config.metricsPorts.worker, config.bindHost);
  if (metricsServer) {
    logger.info(`worker metrics on http://${config.bindHost}:${config.metricsPorts.worker}/metrics`
      + (sdkMetrics !== undefined ? `, the SDK's on http://${config.bindHost}:${sdkMetrics}/metrics` : ''));
  }
  const database = openDatabase(config.databaseUrl, { applicationName: 'paybroker-worker', poolMax: 20 });
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const dataConverter = dataConverterOf(config.payloadKeys);
  const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter, interceptors: { workflow: [requestIdClientInterceptor] } });
  const federation = federationOf(config);
  try {
    const worker = await Worker.create(workerOptions({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      activities: createActivities({
        database, processor: new HttpProcessorClient({ baseUrl: config.simulatorUrl }), temporal: client, taskQueue: config.taskQueue,
        messaging: new HttpMessagingGateway({ baseUrl: config.messaging.url, apiKey: config.messaging.apiKey }), messagingSender: config.messaging.senderId,
        delivery: deliverySettings(config),
        federation,
      }),
      workflowBundlePath: config.workflowBundlePath,
      dataConverter,
    }));
    await ensureSettlementSchedule(client, config.taskQueue, config.settlementIntervalMs);
    await ensureSettlementPeriodSchedule(client, config.taskQueue, config.periodMs, { graceMs: config.periodGraceMs, dunningDelaysMs: config.dunningDelaysMs });
    await ensurePayoutSchedule(client, config.taskQueue, config.payoutIntervalMs, { retryDelaysMs: config.payoutRetryDelaysMs });
    await ensureReconciliationSchedule(client, config.taskQueue, config.reconciliationIntervalMs);
    logger.info(`worker polling task queue '${config.taskQueue}' on ${config.temporalAddress}`);
    const stores = createStores(database);
    const orders = new OrderService({ ...stores, temporal: client, taskQueue: config.taskQueue,
      timing: { processorDeadlineMs: config.processorDeadlineMs, processorMaxBackoffMs: config.processorMaxBackoffMs,
        reauthLeadMs: config.reauthLeadMs, refundWindowMs: config.refundWindowMs } });
    // the orders accepted whose workflow never started are started
    const stopRepair = every(REPAIR_EVERY_MS, () => orders
      .startStranded(undefined, undefined, (orderId, err) => logger.error({ err, orderId }, 'the repair loop cannot start this order'))
      .then((started) => { if (started) logger.info({ started }, 'started the workflows of orders accepted while it could not be'); })
      .catch((err: unknown) => logger.warn({ err }, 'the order repair pass failed; the next one tries again')));
    // Events and delivery attempts past their retention are deleted at start and every PURGE_EVERY_MS: a loop here, not
    // a Schedule, since the DELETE is idempotent (any number of workers may run it at any time, a missed pass is caught
    // up by the next) and needs no workflow, nor its histories.
    const stopPurge = every(PURGE_EVERY_MS, () => stores.events.purgeExpired()
      .then((purged) => { if (purged.events || purged.attempts) logger.info(purged, 'purged the events and delivery attempts past their retention'); })
      .catch((err: unknown) => logger.warn({ err }, 'the purge of old events failed; the next one tries again')), true);
    // federated payments whose API stopped before handing them to their workflow, and netting windows whose start was lost
    const processor = new HttpProcessorClient({ baseUrl: config.simulatorUrl });
    const netting = federation && new NettingService({ netting: stores.netting, ledger: stores.ledger, problems: stores.problems, processor,
      temporal: client, taskQueue: config.taskQueue, gatewayId: federation.gatewayId, settings: federation.netting,
      settlementAccountOf: settlementAccountOf(federation.directory) });
    const stopFederationRepair = netting ? every(REPAIR_EVERY_MS, () => startStrandedPayments({ federation: stores.federation, temporal: client, taskQueue: config.taskQueue })
      .then(async (started) => {
        if (started) logger.info({ started }, 'handed federated payments to their workflows');
        const woken = await netting.wakeWindows();
        if (woken) logger.info({ woken }, 'started netting windows whose start was lost');
      })
      .catch((err: unknown) => logger.warn({ err }, 'the federation repair pass failed; the next one tries again'))) : async () => {};
    try {
      await worker.run();
    } finally {
      await stopFederationRepair();
      await stopRepair();
      await stopPurge();
      metricsServer?.close();
    }
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await database.close();
  }
}

/** This deployment's federation gateway as its workflows' activities use it (undefined: federation is off). */
function federationOf(config: ReturnType<typeof loadConfig>) {
  const f = config.federation;
  if (!f.gatewayId) return undefined;
  const credentials = loadGatewayCredentials(f.dir, f.gatewayId);
  return {
    gatewayId: f.gatewayId, gateways: new FederationGatewayClient(credentials),
    directory: new CachedDirectory(new DirectoryClient({ baseUrl: config.directory.url, gatewayId: f.gatewayId, keyPem: credentials.keyPem }),
      config.directory.cacheTtlMs),
    netting: { maxTransactions: f.nettingMaxTransactions, periodMs: f.nettingPeriodMs },
  };
}

/** Runs `pass` (which handles its own errors) every `everyMs`, and at once when `now`; a tick while a pass runs is skipped. */
function every(everyMs: number, pass: () => Promise<void>, now = false): () => Promise<void> {
  let running: Promise<void> | undefined;
  const run = () => { running ??= pass().finally(() => { running = undefined; }); };
  if (now) run();
  const timer = setInterval(run, everyMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'the worker stopped');
  process.exit(1);
});
