// Two Paybroker deployments and the gateway directory, as the federation tests run them: each deployment its own
// database, task queue, API port, gateway port and keys (a CA of the run's own), the directory a process of its own
// on the run's database (its schema). Both gateways register at their API's start and are approved here.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { DirectoryAdmin } from '../../processors/directory/client';
import { ensureFederationCredentials } from '../../scripts/federation-ca';
import { freePort } from '../../scripts/ports';
import { uid } from './env';
import { call } from './http';
import { tokenizeCard } from './processor-calls';
import { freshDatabase } from './micro';
import { spawnService, type ServiceProcess } from './processes';
import { startServices, type Services } from './services';

export const DIRECTORY_ADMIN_TOKEN = 'dirop_test';

export interface Deployment extends Services {
  gatewayId: string;
  gatewayUrl: string;
  databaseUrl: string;
}

export interface Federation {
  dir: string;
  directoryUrl: string;
  directory: ServiceProcess;
  admin: DirectoryAdmin;
  a: Deployment;
  b: Deployment;
  startDirectory(): Promise<void>;
  stop(): Promise<void>;
}

export interface FederationOptions {
  /**
   * Called once the credentials are made (the CA, each gateway's key and certificate in dir), before any process
   * starts: a test may replace a gateway's certificate here (one that expires soon, say).
   */
  prepare?: (dir: string, ids: { a: string; b: string }) => void;
}

/**
 * Deployment A (sellers) on the run's database, B (buyers) on one of its own; extraEnv reaches both. logDir (or
 * FEDERATION_LOG_DIR): each process's output is also appended to `<logDir>/<a|b>-<name>.log`.
 */
export async function startFederation(extraEnv: Record<string, string> = {}, logDir = process.env.FEDERATION_LOG_DIR,
  opts: FederationOptions = {}): Promise<Federation> {
  const dir = mkdtempSync(join(tmpdir(), 'paybroker-fed-'));
  const run = uid().toLowerCase();
  const ids = { a: `a-${run}`, b: `b-${run}` };
  ensureFederationCredentials(dir, [ids.a, ids.b]);
  opts.prepare?.(dir, ids);
  const [dirPort, dirAdminPort] = [await freePort(), await freePort()];
  const directoryEnv = { PAYBROKER_DIRECTORY_PORT: String(dirPort), PAYBROKER_DIRECTORY_ADMIN_PORT: String(dirAdminPort),
    PAYBROKER_DIRECTORY_ADMIN_TOKEN: DIRECTORY_ADMIN_TOKEN, PAYBROKER_FEDERATION_DIR: dir };
  const directoryUrl = `http://127.0.0.1:${dirPort}`;
  const f = {
    dir, directoryUrl,
    admin: new DirectoryAdmin({ adminUrl: `http://127.0.0.1:${dirAdminPort}`, token: DIRECTORY_ADMIN_TOKEN }),
    async startDirectory() {
      f.directory = spawnService('processors/directory/main.ts', directoryEnv);
      await f.directory.waitForOutput(/directory listening/);
    },
  } as Federation;
  await f.startDirectory();
  const bDatabase = await freshDatabase();
  if (logDir) for (const d of ['a', 'b']) mkdirSync(join(logDir, d), { recursive: true });
  const deployment = async (gatewayId: string, databaseUrl: string | undefined, name: string): Promise<Deployment> => {
    const gatewayPort = await freePort();
    const gatewayUrl = `https://127.0.0.1:${gatewayPort}`;
    const svc = await startServices({
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), PAYBROKER_GATEWAY_ID: gatewayId, PAYBROKER_GATEWAY_PORT: String(gatewayPort),
      PAYBROKER_GATEWAY_URL: gatewayUrl, PAYBROKER_DIRECTORY_URL: directoryUrl, PAYBROKER_FEDERATION_DIR: dir, PAYBROKER_SERVICE_NAME: name,
      PAYBROKER_API_PROCESSES: '1', ...extraEnv,
    }, { logDir: logDir && join(logDir, name.slice(-1).toLowerCase()), only: ['simulator', 'worker', 'api'] }); // (no messaging: nothing federated sends a message)
    return Object.assign(svc, { gatewayId, gatewayUrl, databaseUrl: databaseUrl ?? '' });
  };
  [f.a, f.b] = await Promise.all([deployment(ids.a, undefined, 'Service A'), deployment(ids.b, bDatabase.url, 'Service B')]);
  await f.admin.approve(ids.a);
  await f.admin.approve(ids.b);
  f.stop = async () => {
    await Promise.all([f.a.stopAll(), f.b.stopAll(), f.directory.stop('SIGKILL')]);
    await bDatabase.drop();
  };
  return f;
}

/** A seller of the deployment, made by its operator, with one item `article` in category news at priceMinor (no fee). */
export interface Party { id: string; key: string }
export async function seller(d: Deployment, op: string, name: string, priceMinor: number): Promise<Party> {
  const s = await call(d.base, '/sellers', { key: op, idem: uid('s-'), body: { name, currency: 'USD', payoutDestination: `acct_${uid()}`, feeBps: 0 } });
  expect(s.status).toBe(201);
  const it = await call(d.base, `/sellers/${s.body.id}/items/article`, { method: 'PUT', key: s.body.apiKey,
    body: { title: 'Article', category: 'news', priceMinor, currency: 'USD', grantSeconds: 3600 } });
  expect(it.status).toBeLessThan(300);
  return { id: s.body.id, key: s.body.apiKey };
}

/** A buyer of the deployment with an alias bound to a rule set allowing news up to 1000 a payment: the alias. */
export async function buyerAlias(d: Deployment, op: string): Promise<string> {
  const b = await call(d.base, '/buyers', { key: op, idem: uid('b-'), body: { name: `Buyer ${uid()}`, currency: 'USD', paymentToken: await tokenizeCard(d.processor) } });
  expect(b.status).toBe(201);
  const rs = await call(d.base, '/rule-sets', { key: b.body.apiKey, idem: uid('rs-'), body: { rules: { maxPerPaymentMinor: 1000, allowedCategories: ['news'] } } });
  const al = await call(d.base, '/federation/aliases', { key: b.body.apiKey, idem: uid('al-'), body: { ruleSetId: rs.body.id } });
  expect(al.status, JSON.stringify(al.body)).toBe(201);
  return al.body.alias;
}
