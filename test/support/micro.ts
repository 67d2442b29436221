// Micro-payment tests' harness. Settlement periods are global to a database (one period is open at a time), so
// each harness gets a database of its own on the run's PostgreSQL; the API runs in-process on a real port and a
// worker with the real activities (processor simulator over HTTP, ledger) runs on a private task queue.
import { inject } from 'vitest';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../activities';
import { createDb, type Database, type Db, migrate, openDatabase } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { createStores, type Stores } from '../../stores';
import type { SettlementPeriodResult } from '../../workflows/settlementPeriod.contract';
import { testApp } from './app';
import { startWorker, temporalClient, testMessaging, uid } from './env';
import { call, type Call, listen } from './http';
import { TEST_DELIVERY } from './orders';
import { tokenizeCard } from './processor-calls';

/** A database of its own on the run's cluster, migrated. */
export async function freshDatabase(): Promise<{ url: string; db: Db; database: Database; stores: Stores; drop(): Promise<void> }> {
  const main = inject('databaseUrl');
  const name = uid('micro_');
  const admin = createDb(main, { poolMax: 1 });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(main);
  url.pathname = `/${name}`;
  const database = openDatabase(url.toString(), { poolMax: 10, applicationName: 'paybroker-test' });
  const { db } = database;
  await migrate(db);
  return {
    url: url.toString(), db, database, stores: createStores(database),
    async drop() {
      await database.close();
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.destroy();
    },
  };
}

export interface MicroHarness {
  db: Db;
  database: Database;
  stores: Stores;
  ledger: Ledger;
  operator: string;
  client: Client;
  taskQueue: string;
  processor: HttpProcessorClient;
  admin: SimulatorAdmin;
  api(path: string, c?: Call): ReturnType<typeof call>;
  tokenize(card?: string): Promise<string>;
  buyer(o?: { card?: string; currency?: string; buyerClass?: string; rules?: object }): Promise<{ id: string; key: string; token: string }>;
  seller(o?: { feeBps?: number; currency?: string; payout?: string; rules?: object; items?: ItemSpec[] }):
    Promise<{ id: string; key: string; token?: string }>;
  /** Closes the open period through the API (no grace) and waits for the close to finish. */
  closePeriod(): Promise<Extract<SettlementPeriodResult, { kind: 'closed' }>>;
  close(): Promise<void>;
}

interface ItemSpec { id: string; priceMinor: number; category?: string; grantSeconds?: number }

export async function microHarness(opts: { dunningDelaysMs?: number[]; worker?: boolean } = {}): Promise<MicroHarness> {
  const fresh = await freshDatabase();
  const { db, database, stores } = fresh;
  const processor = new HttpProcessorClient({ baseUrl: inject('simulatorUrl'), timeoutMs: 10_000 });
  const admin = new SimulatorAdmin({ adminUrl: inject('simulatorAdminUrl') });
  const temporal = await temporalClient();
  const taskQueue = uid('tq-micro-');
  const worker = opts.worker === false ? undefined : await startWorker(createActivities({
    database, processor, messaging: testMessaging(), temporal: temporal.client, taskQueue, delivery: TEST_DELIVERY,
  }), taskQueue);
  const { app } = await testApp(database, temporal.client, { taskQueue, allowPrivateWebhooks: true, dunningDelaysMs: opts.dunningDelaysMs });
  const server = await listen(app);
  const base = `${server.base}/v1`;
  const operator = (await stores.principals.create('operator', 'Micro test operator')).apiKey;
  const api = (path: string, c: Call = {}) => call(base, path, c);
  const must = async (path: string, c: Call, status = 201) => {
    const r = await api(path, { idem: uid('idem-'), ...c });
    if (r.status !== status) throw new Error(`${c.method ?? 'POST'} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const tokenize = (card?: string) => tokenizeCard(processor, card);

  return {
    db, database, stores, ledger: new Ledger(db), operator, client: temporal.client, taskQueue, processor, admin, api, tokenize,
    async buyer(o = {}) {
      const b = await must('/buyers', { key: operator, body: {
        name: 'Buyer', currency: o.currency ?? 'USD', paymentToken: await tokenize(o.card), ...(o.buyerClass ? { buyerClass: o.buyerClass } : {}),
      } });
      const rs = await must('/rule-sets', { key: b.apiKey, body: { rules: o.rules ?? {} } });
      return { id: b.id, key: b.apiKey, token: rs.token };
    },
    async seller(o = {}) {
      const s = await must('/sellers', { key: operator, body: {
        name: 'Seller', currency: o.currency ?? 'USD', payoutDestination: o.payout ?? `acct_${uid()}`, feeBps: o.feeBps ?? 1000,
      } });
      for (const it of o.items ?? [{ id: 'article', priceMinor: 5 }]) {
        await must(`/sellers/${s.id}/items/${it.id}`, { method: 'PUT', key: s.apiKey, body: {
          title: `Item ${it.id}`, category: it.category ?? 'news', priceMinor: it.priceMinor, currency: o.currency ?? 'USD',
          grantSeconds: it.grantSeconds ?? 86_400,
        } });
      }
      const token = o.rules ? (await must('/rule-sets', { key: s.apiKey, body: { rules: o.rules } })).token as string : undefined;
      return { id: s.id, key: s.apiKey, token };
    },
    async closePeriod() {
      const r = await must('/settlement-periods/close', { key: operator, body: { graceSeconds: 0 } }, 202);
      const result = await temporal.client.workflow.getHandle(r.workflowId).result() as SettlementPeriodResult;
      if (result.kind !== 'closed') throw new Error('expected a close');
      return result;
    },
    async close() {
      await server.close();
      await worker?.stop();
      await temporal.close();
      await fresh.drop();
    },
  };
}
