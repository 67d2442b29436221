// `npm run seed`: makes API keys for local use against the configured database (the private cluster is
// started for the moment when it is not running): an operator, a demo merchant and a demo buyer app.
import { loadConfig } from '../config';
import { createPrincipal } from '../api/principals';
import { createDb, migrate } from '../ledger/db';
import { startPrivateCluster } from './postgres';

const config = loadConfig();
const cluster = config.databaseUrl ? undefined : await startPrivateCluster({ dataDir: config.dataDir, port: config.pgPort });
const db = createDb(config.databaseUrl ?? cluster!.url, { poolMax: 2 });
try {
  await migrate(db);
  const operator = await createPrincipal(db, 'operator', 'Seeded operator');
  const merchant = await createPrincipal(db, 'merchant', 'Demo merchant');
  const app = await createPrincipal(db, 'buyer_app', 'Demo buyer app');
  console.log(`Seeded API keys (shown once; only their hashes are stored):
  operator   ${operator.principal.id}  ${operator.apiKey}
  merchant   ${merchant.principal.id}  ${merchant.apiKey}
  buyer app  ${app.principal.id}  ${app.apiKey}`);
} finally {
  await db.destroy();
  if (cluster && !cluster.reused) cluster.stop();
}
