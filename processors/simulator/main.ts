// Processor simulator process (npm run simulator; started by npm start and by the tests).
// PAYBROKER_SIMULATOR_PORT: public API; PAYBROKER_SIMULATOR_ADMIN_PORT: admin API (default public port + 1);
// PAYBROKER_SIM_AUTH_VALIDITY_SECONDS: how long an authorization can be captured (default 7 days);
// PAYBROKER_PROCESSOR_WEBHOOK_URL and PAYBROKER_PROCESSOR_WEBHOOK_SECRET: where this simulator's webhooks (disputes,
// expired reservations) go, and their signing secret (default the API's /v1/processor/webhooks, whsec_dev_processor).
import { loadConfig } from '../../config';
import { startSimulator } from './server';

const config = loadConfig();
if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
const sim = await startSimulator({
  databaseUrl: config.databaseUrl,
  port: config.simulatorPort,
  adminPort: config.simulatorAdminPort,
  host: config.bindHost,
  authValiditySeconds: config.simulatorAuthValiditySeconds,
  webhook: config.processorWebhooks,
});
console.log(`processor simulator listening on ${sim.url} (admin ${sim.adminUrl})`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  sim.stop().then(() => process.exit(0), (err: unknown) => {
    console.error('processor simulator: stopping failed:', err);
    process.exit(1);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
