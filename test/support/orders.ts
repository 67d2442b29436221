// Order tests' harness: a worker with the real activities (real processor simulator over HTTP, real ledger),
// a Temporal client, a merchant, and helpers to tokenize cards and start orders as the API does.
import { inject } from 'vitest';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../activities';
import type { OrderInput, OrderPolicy } from '../../domain/order';
import type { LineItemInput } from '../../domain/pricing';
import type { Database, Db } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { startSimulator, type RunningSimulator } from '../../processors/simulator/server';
import type { Stores } from '../../stores';
import type { OrderWorkflow } from '../../workflows/order.contract';
import { buildOrderInput, insertOrderRow, MERCHANT_SETTINGS } from './order-input';

export { HARD_ITEMS } from './order-input';
import { startWorker, temporalClient, testDatabase, testMessaging, uid } from './env';
import { tokenizeCard } from './processor-calls';

export const POSTAL = { Y: '94107', N: '00000', A: '11111', Z: '22222' };

/** Delivery settings for tests: loopback receivers allowed, quick retries. */
export const TEST_DELIVERY = { allowPrivate: true, timeoutMs: 2_000, perDestinationInFlight: 8, backoff: { initialMs: 100, maxMs: 1_000 } };

export interface OrderHarness {
  db: Db;
  database: Database;
  stores: Stores;
  ledger: Ledger;
  client: Client;
  processor: HttpProcessorClient;
  admin: SimulatorAdmin;
  taskQueue: string;
  merchantId: string;
  simulator?: RunningSimulator;
  tokenize(card?: string): Promise<string>;
  start(o: StartOrder): Promise<{ id: string; input: OrderInput }>;
  close(): Promise<void>;
}

export interface StartOrder {
  items?: LineItemInput[];
  card?: string;
  /** A token made earlier (e.g. before the processor is cut off). */
  token?: string;
  postalCode?: string;
  policy?: Partial<OrderPolicy>;
  shipping?: string | null;
  /** Fields of the input to set (a customer, a confirmation) over what is built. */
  input?: Partial<OrderInput>;
}

/** A private simulator (own ports, same database) when the test sets faults or its clock. */
export async function orderHarness(opts: { privateSimulator?: boolean; authValiditySeconds?: number; perDestinationInFlight?: number } = {}): Promise<OrderHarness> {
  const database = testDatabase(5);
  const { db, stores } = database;
  const simulator = opts.privateSimulator
    ? await startSimulator({ databaseUrl: inject('databaseUrl'), port: 0, authValiditySeconds: opts.authValiditySeconds })
    : undefined;
  const url = simulator?.url ?? inject('simulatorUrl');
  const processor = new HttpProcessorClient({ baseUrl: url, timeoutMs: 5_000 });
  const admin = new SimulatorAdmin({ adminUrl: simulator?.adminUrl ?? inject('simulatorAdminUrl') });
  const temporal = await temporalClient();
  const taskQueue = uid('tq-');
  const worker = await startWorker(createActivities({ database, processor, messaging: testMessaging(), temporal: temporal.client, taskQueue,
    delivery: { ...TEST_DELIVERY, perDestinationInFlight: opts.perDestinationInFlight ?? TEST_DELIVERY.perDestinationInFlight } }), taskQueue);
  const merchantId = (await stores.merchants.create('Order test merchant', MERCHANT_SETTINGS)).merchant.id;
  const tokenize = (card?: string) => tokenizeCard(processor, card);

  return {
    db, database, stores, ledger: new Ledger(db), client: temporal.client, processor, admin, taskQueue: worker.taskQueue, merchantId, simulator,
    tokenize,
    async start(o: StartOrder) {
      const input = { ...buildOrderInput({ ...o, merchantId, clientOrderId: uid('co-'), token: o.token ?? await tokenize(o.card) }), ...o.input };
      await insertOrderRow(db, input);
      await temporal.client.workflow.start<OrderWorkflow>('orderWorkflow', { workflowId: input.orderId, taskQueue: worker.taskQueue, args: [input] });
      return { id: input.orderId, input };
    },
    async close() {
      await worker.stop();
      await temporal.close();
      await simulator?.stop();
      await database.close();
    },
  };
}

/**
 * What one order moved on each ledger account (by the entries it posted), and whether those entries balance: cash at
 * the processor (clearing, net of the processor's fees), the merchant's and the broker's shares, the processor's fees,
 * and what was captured (clearing before those fees).
 */
export async function orderLedger(db: Db, orderId: string) {
  const rows: Array<{ account_id: string; total: string }> = await db('postings as p')
    .join('journal_entries as e', 'e.id', 'p.entry_id')
    .whereRaw(`e.metadata->>'orderId' = ?`, [orderId])
    .groupBy('p.account_id').select('p.account_id').sum({ total: 'p.amount_minor' });
  const by = (prefix: string) => rows.filter((r) => r.account_id.startsWith(prefix)).reduce((s, r) => s + BigInt(r.total), 0n);
  const clearing = by('processor-clearing:');
  const processorFees = by('processor-fees:');
  return {
    clearing, merchant: by('merchant-payable:'), fees: by('broker-fees:'), processorFees, captured: clearing + processorFees,
    sum: rows.reduce((s, r) => s + BigInt(r.total), 0n),
  };
}
