// `npm run seed`: makes API keys for local use against the configured database (the private cluster is
// started for the moment when it is not running): an operator, a demo merchant and a demo buyer app.
import { loadConfig } from '../config';
import { migrate, openDatabase } from '../ledger/db';
import { createStores } from '../stores';
import { startPrivateCluster } from './postgres';

const config = loadConfig();
const cluster = config.databaseUrl ? undefined : await startPrivateCluster({ dataDir: config.dataDir, port: config.pgPort });
const database = openDatabase(config.databaseUrl ?? cluster!.url, { poolMax: 2 });
try {
  await migrate(database.db);
  const { principals, merchants } = createStores(database);
  const operator = await principals.create('operator', 'Seeded operator');
  const merchant = await merchants.create('Demo merchant');
  const app = await principals.create('buyer_app', 'Demo buyer app');
  console.log(`Seeded API keys (shown once; only their hashes are stored):
  operator   ${operator.principal.id}  ${operator.apiKey}
  merchant   ${merchant.merchant.id}  ${merchant.apiKey}
  buyer app  ${app.principal.id}  ${app.apiKey}`);
} finally {
  await database.close();
  if (cluster && !cluster.reused) cluster.stop();
}
