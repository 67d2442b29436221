// Processor simulator process (npm run simulator; started by npm start and by the tests).
// PAYBROKER_SIMULATOR_PORT: public API; PAYBROKER_SIMULATOR_ADMIN_PORT: admin API (default public port + 1);
// PAYBROKER_SIM_AUTH_VALIDITY_SECONDS: how long an authorization can be captured (default 7 days).
import { loadConfig } from '../../config';
import { DEFAULT_AUTH_VALIDITY_SECONDS, MAX_AUTH_VALIDITY_SECONDS, startSimulator } from './server';

function intEnv(name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

const config = loadConfig();
if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
const sim = await startSimulator({
  databaseUrl: config.databaseUrl,
  port: config.simulatorPort,
  adminPort: config.simulatorAdminPort,
  host: config.bindHost,
  authValiditySeconds: intEnv('PAYBROKER_SIM_AUTH_VALIDITY_SECONDS', DEFAULT_AUTH_VALIDITY_SECONDS, 1, MAX_AUTH_VALIDITY_SECONDS),
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
