// Messaging gateway simulator process (npm run messaging; started by npm start and by the tests).
// PAYBROKER_MESSAGING_PORT: public API; PAYBROKER_MESSAGING_ADMIN_PORT: admin API (default public port + 1);
// PAYBROKER_MESSAGING_API_KEY / _WEBHOOK_SECRET / _WEBHOOK_URL: the account it serves and where its webhooks go.
import { loadConfig } from '../../config';
import { startMessagingGateway } from './server';

const config = loadConfig();
if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
const gateway = await startMessagingGateway({
  databaseUrl: config.databaseUrl,
  port: config.messaging.port,
  adminPort: config.messaging.adminPort,
  host: config.bindHost,
  apiKey: config.messaging.apiKey,
  webhookSecret: config.messaging.webhookSecret,
  webhookUrl: config.messaging.webhookUrl,
});
console.log(`messaging gateway listening on ${gateway.url} (admin ${gateway.adminUrl})`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  gateway.stop().then(() => process.exit(0), (err: unknown) => {
    console.error('messaging gateway: stopping failed:', err);
    process.exit(1);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
