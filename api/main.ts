// API process: the express app on PORT, with PostgreSQL and a Temporal client; stops cleanly on SIGTERM/SIGINT.
// PAYBROKER_API_PROCESSES copies share the port (runtime/copies.ts; one per core by default): the first applies the
// migrations. Each copy has its own pools, Temporal client and caches; nothing one copy keeps must be seen by
// another (recording's caches are checked against PostgreSQL's generation: services/recorder.ts).
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { createDb, migrate, openDatabase } from '../ledger/db';
import { createServices } from '../services';
import { healthChecks } from '../services/health';
import { TEMPORAL_CHANNEL_ARGS } from '../services/temporal';
import { createApp } from './app';
import { serveGateway } from './gateway';
import { gatewayCredentials, registerGateway as register } from '../services/federation';
import { PAGE_RATE_LIMITS } from './pages/carts';
import { perCopy } from './rateLimit';
import { serveInCopies } from '../runtime/copies';
import { createLogger } from '../runtime/log';
import { recordMetrics, serveMetrics } from '../runtime/metrics';
import { dataConverterOf } from '../runtime/payloadCodec';
import { requestIdClientInterceptor } from '../runtime/requestContext';

const config = loadConfig();
const logger = createLogger('api', config.logLevel);
/** This deployment's federation gateway: its credentials (none: federation is off). */
const gateway = config.federation.gatewayId ? gatewayCredentials(config.federation.dir, config.federation.gatewayId) : undefined;

/** Registers the gateway with the directory (the same registration again changes nothing; an operator approves it). */
async function registerGateway(): Promise<void> {
  if (!gateway) return;
  const f = config.federation;
  try {
    const entry = await register(gateway, { directoryUrl: config.directory.url, serviceName: f.serviceName, endpoint: f.gatewayUrl,
      settlementAccount: f.settlementAccount! });
    logger.info({ gatewayId: entry.gatewayId, status: entry.status }, `federation gateway registered with the directory (${entry.status})`);
  } catch (err) {
    logger.warn({ err }, 'federation gateway: registering with the directory failed; other gateways may not find this one');
  }
}

/** The API's /metrics on PAYBROKER_API_METRICS_PORT (served by the first process, every copy's gathered), when set. */
async function metricsEndpoint(copies: boolean): Promise<void> {
  const port = config.metricsPorts.api;
  if (port === undefined) return;
  await serveMetrics('api', port, config.bindHost, { copies });
  logger.info(`API metrics on http://${config.bindHost}:${port}/metrics`);
}

async function main(): Promise<void> {
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
  const listening = (port: number) => `API listening on http://${config.bindHost}:${port}/v1`;
  await serveInCopies({
    copies: config.apiProcesses,
    prepare: async () => {
      const db = createDb(databaseUrl, { applicationName: 'paybroker-api', poolMax: 1 });
      await migrate(db).finally(() => db.destroy());
      await registerGateway();
      await metricsEndpoint(true);
    },
    announce: (port) => `${listening(port)} (${config.apiProcesses} processes)`,
    port: config.apiPort,
  }, async (alone) => {
    const database = openDatabase(databaseUrl, { applicationName: 'paybroker-api', poolMax: 20 });
    if (alone) {
      await migrate(database.db);
      await registerGateway();
      await metricsEndpoint(false);
    } else {
      recordMetrics('api');
    }
    // lazy: the API serves (and answers 503 temporal_unavailable) while the Temporal server is away, and reconnects
    // within a second of its return
    const connection = Connection.lazy({ address: config.temporalAddress, channelArgs: TEMPORAL_CHANNEL_ARGS });
    const temporal = new Client({ connection, namespace: config.temporalNamespace, dataConverter: dataConverterOf(config.payloadKeys), interceptors: { workflow: [requestIdClientInterceptor] } });
    const services = await createServices(database, temporal, {
      taskQueue: config.taskQueue,
      orders: { processorDeadlineMs: config.processorDeadlineMs, processorMaxBackoffMs: config.processorMaxBackoffMs,
        reauthLeadMs: config.reauthLeadMs, refundWindowMs: config.refundWindowMs, confirmationTimeoutMs: config.confirmationTimeoutMs,
        confirmationSendDeadlineMs: config.confirmationSendDeadlineMs, authenticationTimeoutMs: config.authenticationTimeoutMs },
      messaging: config.messaging,
      processorWebhooks: { secret: config.processorWebhooks.secret },
      processor: { url: config.simulatorUrl },
      periods: { graceMs: config.periodGraceMs, dunningDelaysMs: config.dunningDelaysMs },
      payoutRetryDelaysMs: config.payoutRetryDelaysMs,
      webhooks: { allowPrivate: config.delivery.allowPrivate, giveUpMs: config.delivery.giveUpMs },
      pages: { publicUrl: config.publicUrl, processorPublicUrl: config.processorPublicUrl },
      federation: gateway && { credentials: gateway, directoryUrl: config.directory.url,
        directoryCacheTtlMs: config.directory.cacheTtlMs, deadlineMs: config.federation.deadlineMs,
        confirmationTimeoutMs: config.federation.confirmationTimeoutMs,
        netting: { maxTransactions: config.federation.nettingMaxTransactions, periodMs: config.federation.nettingPeriodMs } },
    });
    const app = createApp({
      services,
      health: healthChecks(database, temporal, config.taskQueue), logger, rateLimit: perCopy(config.rateLimit, config.apiProcesses),
      pageRateLimits: { references: perCopy(PAGE_RATE_LIMITS.references, config.apiProcesses),
        adds: perCopy(PAGE_RATE_LIMITS.adds, config.apiProcesses) },
    });
    const server = app.listen(config.apiPort, config.bindHost, () => {
      if (alone) logger.info(listening(config.apiPort));
    });
    server.keepAliveTimeout = 65_000;
    const gatewayServer = gateway && services.federation && services.netting
      && serveGateway(gateway, services.federation, services.netting, logger, config.federation.gatewayPort, config.bindHost);
    if (gatewayServer && alone) logger.info(`federation gateway ${gateway!.gatewayId} listening on ${config.federation.gatewayUrl}`);
    let stopping = false;
    const stop = () => { // (SIGINT from a terminal reaches every copy, and the first process sends SIGTERM too)
      if (stopping) return;
      stopping = true;
      server.close(async () => {
        await connection.close();
        await database.close();
        process.exit(0);
      });
      server.closeIdleConnections();
      gatewayServer?.close();
      gatewayServer?.closeIdleConnections();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'the API stopped');
  process.exit(1);
});
