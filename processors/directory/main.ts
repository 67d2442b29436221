// Gateway directory process (started by `npm run federation:demo` and by the tests).
// PAYBROKER_DIRECTORY_PORT: public API; PAYBROKER_DIRECTORY_ADMIN_PORT: operator API (default public port + 1);
// PAYBROKER_DIRECTORY_ADMIN_TOKEN: the operator's token; PAYBROKER_FEDERATION_DIR: where the CA's certificate
// (ca.pem) is, made by `npm run federation:ca`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config';
import { startDirectory } from './server';

const config = loadConfig();
if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
const caFile = join(config.federation.dir, 'ca.pem');
let caPem: string;
try {
  caPem = readFileSync(caFile, 'utf8');
} catch (err) {
  console.error(`directory: cannot read the federation CA certificate ${caFile} (${(err as { code?: string }).code ?? String(err)}); ` +
    'make it with `npm run federation:ca` (or set PAYBROKER_FEDERATION_DIR)');
  process.exit(1);
}
const directory = await startDirectory({
  databaseUrl: config.databaseUrl,
  port: config.directory.port,
  adminPort: config.directory.adminPort,
  host: config.bindHost,
  adminToken: config.directory.adminToken,
  caPem,
});
console.log(`directory listening on ${directory.url} (admin ${directory.adminUrl})`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  directory.stop().then(() => process.exit(0), (err: unknown) => {
    console.error('directory: stopping failed:', err);
    process.exit(1);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
