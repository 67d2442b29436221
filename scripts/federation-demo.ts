// `npm run federation:demo`: two Paybroker deployments that pay each other through the federation, on one machine,
// supervised as `npm start` runs its stack (scripts/stack.ts: the same parts, supervisor and stop; each part's log in
// <data dir>/logs/<part>.log):
//   postgres, temporal       as npm start (the private cluster, the dev server), shared by both deployments
//   simulator, messaging     ONE processor simulator and ONE messaging gateway (both deployments use them)
//   directory                the gateway directory (processors/directory/main.ts) on PAYBROKER_DIRECTORY_PORT (3300),
//                            its operator API on PAYBROKER_DIRECTORY_ADMIN_PORT (3301), its schema in A's database
//   worker-a, api-a          "Service A": database as npm start (paybroker), PORT (3000), gateway `service-a` on
//                            PAYBROKER_GATEWAY_PORT (3400), task queue PAYBROKER_TASK_QUEUE (paybroker)
//   worker-b, api-b          "Service B": its own database <A's>_b (paybroker_b, made and migrated when missing) in the
//                            same cluster, API on PORT + 10 (3010), gateway `service-b` on PAYBROKER_GATEWAY_PORT + 10
//                            (3410), task queue <A's>-b (paybroker-b)
// The gateways' keys and certificates are made in PAYBROKER_FEDERATION_DIR (.data/federation) when missing; each API
// registers its gateway with the directory at its start, and the demo approves both as the directory's operator.
// Operator keys: A's in <data dir>/dev-operator-key (as npm start), B's in <data dir>/dev-operator-key-b. Prints the
// URLs, the keys and a walk-through with curl. SIGINT (Ctrl-C), SIGTERM or SIGHUP stops everything, as npm start.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDb, migrate, openDatabase } from '../ledger/db';
import { DirectoryAdmin, DirectoryRefusal } from '../processors/directory/client';
import { createStores } from '../stores';
import type { PrincipalStore } from '../stores/principals';
import { ensureDevOperatorKey } from './dev-key';
import { ensureFederationCredentials } from './federation-ca';
import { requirePortFree, waitFor } from './ports';
import { config, ensurePayloadSecrets, launch, logDir, ok, pingThroughWorker, processPart, say, startDatabase, startTemporal, supervisor } from './stack';
import { ensureTemporalCli } from './temporal-cli';

/** Service B's ports are Service A's plus this (3000 → 3010, 3400 → 3410). */
export const B_PORT_OFFSET = 10;

interface Deployment {
  label: 'a' | 'b';
  serviceName: string;
  gatewayId: string;
  apiPort: number;
  gatewayPort: number;
  gatewayUrl: string;
  taskQueue: string;
  databaseUrl: string;
  /** Where its operator key is kept. */
  keyFile: string;
}

/** A database beside databaseUrl's, in the same cluster: the same URL with another database name. */
function siblingDatabaseUrl(databaseUrl: string, suffix: string): { url: string; name: string } {
  const url = new URL(databaseUrl);
  const name = `${decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres'}${suffix}`;
  url.pathname = `/${encodeURIComponent(name)}`;
  return { url: url.toString(), name };
}

/** Makes the database when missing (through the cluster's other database) and applies the migrations. */
async function ensureDatabase(adminUrl: string, name: string, url: string): Promise<void> {
  const admin = createDb(adminUrl, { poolMax: 1 });
  try {
    const { rows } = await admin.raw('SELECT 1 FROM pg_database WHERE datname = ?', [name]) as { rows: unknown[] };
    if (rows.length === 0) {
      await admin.raw('CREATE DATABASE ??', [name]);
      say(`made the database ${name}`);
    }
  } finally {
    await admin.destroy();
  }
  const db = createDb(url, { poolMax: 1 });
  try {
    const applied = await migrate(db);
    say(applied.length ? `${name}: applied migrations: ${applied.join(', ')}` : `${name}: database schema is up to date`);
  } finally {
    await db.destroy();
  }
}

/**
 * An operator key of the deployment kept in file (mode 600), made when missing or no longer an operator's; A's is
 * npm start's own (scripts/dev-key.ts), B's the same kept in another file.
 */
async function operatorKey(d: Deployment): Promise<string> {
  const database = openDatabase(d.databaseUrl, { poolMax: 1 });
  try {
    const { principals } = createStores(database);
    return d.label === 'a' ? await ensureDevOperatorKey(principals, config.dataDir) : await ensureKeyFile(principals, d.keyFile);
  } finally {
    await database.close();
  }
}

async function ensureKeyFile(principals: PrincipalStore, file: string): Promise<string> {
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if ((await principals.forKey(key))?.principal.kind === 'operator') return key;
  }
  const { apiKey } = await principals.create('operator', 'Local operator (Service B)');
  writeFileSync(file, `${apiKey}\n`, { mode: 0o600 });
  return apiKey;
}

/** Approves the gateway once its API has registered it (approving an approved one changes nothing). */
async function approve(admin: DirectoryAdmin, gatewayId: string): Promise<void> {
  await waitFor(`the gateway ${gatewayId} in the directory`, async () => {
    try {
      return (await admin.approve(gatewayId)).status === 'approved';
    } catch (err) {
      if (err instanceof DirectoryRefusal && err.code === 'unknown_gateway') return false;
      throw err;
    }
  }, 30_000, 250);
}

async function main(): Promise<void> {
  const cli = await ensureTemporalCli(say);
  const federationDir = resolve(config.federation.dir);
  const a: Deployment = {
    label: 'a', serviceName: 'Service A', gatewayId: 'service-a', apiPort: config.apiPort, gatewayPort: config.federation.gatewayPort,
    gatewayUrl: config.federation.gatewayUrl, taskQueue: config.taskQueue, databaseUrl: '', keyFile: join(config.dataDir, 'dev-operator-key'),
  };
  const bGatewayPort = config.federation.gatewayPort + B_PORT_OFFSET;
  const b: Deployment = {
    label: 'b', serviceName: 'Service B', gatewayId: 'service-b', apiPort: config.apiPort + B_PORT_OFFSET, gatewayPort: bGatewayPort,
    gatewayUrl: `https://127.0.0.1:${bGatewayPort}`, taskQueue: `${config.taskQueue}-b`, databaseUrl: '', keyFile: join(config.dataDir, 'dev-operator-key-b'),
  };
  await requirePortFree('Service A\'s API', a.apiPort, 'PORT');
  await requirePortFree('Service B\'s API (PORT + 10)', b.apiPort, 'PORT');
  await requirePortFree('Service A\'s federation gateway', a.gatewayPort, 'PAYBROKER_GATEWAY_PORT');
  await requirePortFree('Service B\'s federation gateway (PAYBROKER_GATEWAY_PORT + 10)', b.gatewayPort, 'PAYBROKER_GATEWAY_PORT');
  await requirePortFree('The gateway directory', config.directory.port, 'PAYBROKER_DIRECTORY_PORT');
  await requirePortFree("The gateway directory's operator API", config.directory.adminPort, 'PAYBROKER_DIRECTORY_ADMIN_PORT');
  await requirePortFree('The processor simulator', config.simulatorPort, 'PAYBROKER_SIMULATOR_PORT');
  await requirePortFree("The processor simulator's admin API", config.simulatorAdminPort, 'PAYBROKER_SIMULATOR_ADMIN_PORT');
  await requirePortFree('The messaging gateway', config.messaging.port, 'PAYBROKER_MESSAGING_PORT');
  await requirePortFree("The messaging gateway's admin API", config.messaging.adminPort, 'PAYBROKER_MESSAGING_ADMIN_PORT');

  ensureFederationCredentials(federationDir, [a.gatewayId, b.gatewayId], say);
  await requirePortFree('The codec server', config.codecPort, 'PAYBROKER_CODEC_PORT');
  ensurePayloadSecrets();

  a.databaseUrl = await startDatabase();
  const bDatabase = siblingDatabaseUrl(a.databaseUrl, '_b');
  b.databaseUrl = bDatabase.url;
  await ensureDatabase(a.databaseUrl, siblingDatabaseUrl(a.databaseUrl, '').name, a.databaseUrl);
  await ensureDatabase(a.databaseUrl, bDatabase.name, b.databaseUrl);

  const { address: temporalAddress, external: externalTemporal } = await startTemporal(cli, a.databaseUrl);

  const shared = {
    TEMPORAL_ADDRESS: temporalAddress, PROCESSOR_URL: config.simulatorUrl, PAYBROKER_MESSAGING_URL: config.messaging.url,
    PAYBROKER_DIRECTORY_URL: config.directory.url, PAYBROKER_FEDERATION_DIR: federationDir,
  };
  await supervisor.start(processPart('simulator', 'processors/simulator/main.ts', { ...shared, DATABASE_URL: a.databaseUrl }));
  await supervisor.start(processPart('messaging', 'processors/messaging/main.ts', { ...shared, DATABASE_URL: a.databaseUrl }));
  await supervisor.start(processPart('directory', 'processors/directory/main.ts', { ...shared, DATABASE_URL: a.databaseUrl }));
  await supervisor.start(processPart('codec', 'workers/codec.ts', shared));
  // the APIs register their gateways at their start: the directory answers first
  await waitFor('the gateway directory', () => ok(`${config.directory.url}/health`), 60_000, 200);
  const envOf = (d: Deployment) => ({
    ...shared, DATABASE_URL: d.databaseUrl, PORT: String(d.apiPort), PAYBROKER_TASK_QUEUE: d.taskQueue,
    PAYBROKER_GATEWAY_ID: d.gatewayId, PAYBROKER_GATEWAY_PORT: String(d.gatewayPort), PAYBROKER_GATEWAY_URL: d.gatewayUrl,
    PAYBROKER_SERVICE_NAME: d.serviceName,
    // (each API's own addresses, whatever the environment says of A's)
    PAYBROKER_PUBLIC_URL: d.label === 'a' ? config.publicUrl : `http://127.0.0.1:${d.apiPort}`,
    PAYBROKER_PROCESSOR_WEBHOOK_URL: d.label === 'a' ? config.processorWebhooks.url : `http://127.0.0.1:${d.apiPort}/v1/processor/webhooks`,
  });
  for (const d of [a, b]) {
    await supervisor.start(processPart(`worker-${d.label}`, 'workers/main.ts', envOf(d)));
    await supervisor.start(processPart(`api-${d.label}`, 'api/main.ts', envOf(d)));
  }

  const apiOf = (d: Deployment) => `http://127.0.0.1:${d.apiPort}/v1`;
  const ui = `http://127.0.0.1:${config.temporalUiPort}`;
  await waitFor('the processor simulator', () => ok(`${config.simulatorUrl}/health`), 60_000, 200);
  await waitFor('the messaging gateway', () => ok(`http://127.0.0.1:${config.messaging.port}/health`), 60_000, 200);
  for (const d of [a, b]) await waitFor(`${d.serviceName}'s API (health green)`, () => ok(`${apiOf(d)}/health`), 120_000, 250);
  if (!externalTemporal) await waitFor('the Temporal Web UI', () => ok(ui), 30_000, 250);
  for (const d of [a, b]) await pingThroughWorker(temporalAddress, d.taskQueue);

  const admin = new DirectoryAdmin({ adminUrl: `http://127.0.0.1:${config.directory.adminPort}`, token: config.directory.adminToken });
  for (const d of [a, b]) await approve(admin, d.gatewayId);
  say(`gateways ${a.gatewayId} and ${b.gatewayId} approved in the directory`);
  const [keyA, keyB] = [await operatorKey(a), await operatorKey(b)];

  const [A, B] = [apiOf(a), apiOf(b)];
  const json = "-H 'Content-Type: application/json'";
  console.log(`
  Paybroker federation demo is running: two payment services and the gateway directory.
    Service A      ${A}   (sellers)   gateway service-a  ${a.gatewayUrl}   task queue ${a.taskQueue}   database ${siblingDatabaseUrl(a.databaseUrl, '').name}
    Service B      ${B}   (buyers)    gateway service-b  ${b.gatewayUrl}   task queue ${b.taskQueue}   database ${bDatabase.name}
    Directory      ${config.directory.url}         (operator API: http://127.0.0.1:${config.directory.adminPort}/admin/gateways, Bearer ${config.directory.adminToken})
    Temporal UI    ${externalTemporal ? '(external Temporal: ' + temporalAddress + ')' : ui}
    Simulator      ${config.simulatorUrl}         (both services; admin: http://127.0.0.1:${config.simulatorAdminPort}/admin/faults)
    Messaging      http://127.0.0.1:${config.messaging.port}         (Service A's account)
    Credentials    ${federationDir}   (the federation CA, each gateway's key and certificate)
    Logs           ${logDir}   (api-a, worker-a, api-b, worker-b, directory, ...)

  Operator keys:
    Service A      ${keyA}   (kept in ${a.keyFile})
    Service B      ${keyB}   (kept in ${b.keyFile})

  Try: a buyer of Service B pays a seller of Service A by an alias (the buyer's rules at B decide; A learns only the alias)
    A=${A} B=${B} KA=${keyA} KB=${keyB}
    j() { node -pe "JSON.parse(require('fs').readFileSync(0, 'utf8'))$1"; }
    # B: an operator makes a buyer with a card token from the simulator; the buyer makes a rule set and an alias of it
    TOKEN=$(curl -s -X POST ${config.simulatorUrl}/v1/tokens -H 'Idempotency-Key: demo-card-1' ${json} \\
      -d '{"cardNumber":"4242424242424242","expMonth":12,"expYear":2030}' | j .token)
    BK=$(curl -s -X POST $B/buyers -H "Authorization: Bearer $KB" -H 'Idempotency-Key: demo-buyer-1' ${json} \\
      -d '{"name":"Bea","currency":"USD","paymentToken":"'$TOKEN'"}' | j .apiKey)
    RS=$(curl -s -X POST $B/rule-sets -H "Authorization: Bearer $BK" -H 'Idempotency-Key: demo-rules-1' ${json} \\
      -d '{"rules":{"maxPerPaymentMinor":100,"allowedCategories":["news"]}}' | j .id)
    ALIAS=$(curl -s -X POST $B/federation/aliases -H "Authorization: Bearer $BK" -H 'Idempotency-Key: demo-alias-1' ${json} \\
      -d '{"ruleSetId":"'$RS'"}' | j .alias)
    # A: an operator makes a seller; the seller prices an item
    SELLER=$(curl -s -X POST $A/sellers -H "Authorization: Bearer $KA" -H 'Idempotency-Key: demo-seller-1' ${json} \\
      -d '{"name":"A News","currency":"USD","payoutDestination":"acct_a_news","feeBps":500}')
    SID=$(echo "$SELLER" | j .id); SK=$(echo "$SELLER" | j .apiKey)
    curl -s -X PUT $A/sellers/$SID/items/article -H "Authorization: Bearer $SK" ${json} \\
      -d '{"title":"Today","category":"news","priceMinor":25,"currency":"USD","grantSeconds":3600}'
    # the seller is paid by the alias: 201, state authorized (an item over the rule set's 100 would be declined)
    curl -s -X POST $A/federation/payments -H "Authorization: Bearer $SK" ${json} \\
      -d '{"clientId":"demo-1","buyerIdentifier":"'$ALIAS'","itemId":"article","currency":"USD"}'
    # the buyer sees it at B
    curl -s $B/federation/transactions -H "Authorization: Bearer $BK"

  A part that stops on its own is started again. Ctrl-C stops everything; data is kept for the next start.
`);
}

launch(main);
