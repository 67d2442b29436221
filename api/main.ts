// API process: the express app on PORT, with PostgreSQL and a Temporal client; stops cleanly on SIGTERM/SIGINT.
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { createDb, migrate } from '../ledger/db';
import { createApp } from './app';
import { GrantSigner } from './grants';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
  const db = createDb(config.databaseUrl, { applicationName: 'paybroker-api', poolMax: 20 });
  await migrate(db);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const app = createApp({
    db, temporal: new Client({ connection, namespace: config.temporalNamespace }), taskQueue: config.taskQueue,
    timing: { processorDeadlineMs: config.processorDeadlineMs, processorMaxBackoffMs: config.processorMaxBackoffMs,
      reauthLeadMs: config.reauthLeadMs, refundWindowMs: config.refundWindowMs },
    webhooks: { allowPrivate: config.delivery.allowPrivate, giveUpMs: config.delivery.giveUpMs },
    grants: await GrantSigner.load(db), periods: { graceMs: config.periodGraceMs },
  });
  const server = app.listen(config.apiPort, config.bindHost, () => {
    console.log(`API listening on http://${config.bindHost}:${config.apiPort}/v1`);
  });
  server.keepAliveTimeout = 65_000;
  const stop = () => {
    server.close(async () => {
      await connection.close();
      await db.destroy();
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
