// `npm run histories:record`: runs each scenario below on a private stack (PostgreSQL, Temporal, processor
// simulator) with the real activities and writes its event history to test/histories/<name>.json;
// test/replay replays them all against today's code on every test run.
// Re-record only when a workflow change is meant to be incompatible (and patch the workflow; see README).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { ROOT_DIR } from '../config';
import { createActivities } from '../activities';
import { settingsColumns } from '../api/merchants';
import { createPrincipal } from '../api/principals';
import { createDb } from '../ledger/db';
import { HttpProcessorClient } from '../processors/http-client';
import { workerOptions } from '../workers/options';
import { cancelUpdate, refundUpdate, reviewUpdate, shipUpdate, submitUpdate } from '../workflows/order';
import { buildOrderInput, insertOrderRow, MERCHANT_SETTINGS, type OrderSpec } from '../test/support/order-input';
import { startTestStack } from '../test/support/stack';

interface Scenario {
  name: string;
  /** Starts the workflow; returns its handle. */
  start(ctx: Ctx): Promise<WorkflowHandle>;
  /** Drives the running workflow (updates) before its result is awaited. */
  drive?(h: WorkflowHandle): Promise<void>;
}

interface Ctx {
  client: Client;
  taskQueue: string;
  order(name: string, spec?: Partial<OrderSpec> & { card?: string }): Promise<WorkflowHandle>;
}

const ship = (h: WorkflowHandle, shipmentId: string, items: Array<{ sku: string; quantity: number }>) =>
  h.executeUpdate(shipUpdate, { args: [{ shipmentId, items, trackingNumber: `TRK-${shipmentId}` }] });

const scenarios: Scenario[] = [
  { name: 'ping-echo', start: (c) => c.client.workflow.start('pingWorkflow', { taskQueue: c.taskQueue, workflowId: 'history-ping-echo', args: [{ message: 'hello' }] }) },
  { name: 'ping-with-ledger-check', start: (c) => c.client.workflow.start('pingWorkflow', { taskQueue: c.taskQueue, workflowId: 'history-ping-ledger', args: [{ message: 'hello', checkLedger: true }] }) },
  {
    name: 'order-shipped-in-two-then-refunded', start: (c) => c.order('two-shipments'),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await ship(h, 's1', [{ sku: 'book', quantity: 2 }]);
      await ship(h, 's2', [{ sku: 'lamp', quantity: 1 }]);
      await h.executeUpdate(refundUpdate, { args: [{ refundId: 'r1', kind: 'refund', amountMinor: 1000 }] });
      await h.executeUpdate(refundUpdate, { args: [{ refundId: 'r2', kind: 'return', items: [{ sku: 'lamp', quantity: 1 }] }] });
    },
  },
  {
    name: 'order-soft-goods', start: (c) => c.order('soft', { items: [{ sku: 'song', quantity: 2, unitPriceMinor: 129, kind: 'soft' }] }),
    async drive(h) { await h.executeUpdate(submitUpdate); },
  },
  { name: 'order-declined', start: (c) => c.order('declined', { card: '4000000000000002' }) },
  { name: 'order-avs-rejected', start: (c) => c.order('avs-rejected', { postalCode: '00000' }) },
  {
    name: 'order-avs-review-approved', start: (c) => c.order('review', { postalCode: '11111' }),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await h.executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] });
      await ship(h, 'all', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
    },
  },
  {
    name: 'order-cancelled', start: (c) => c.order('cancelled'),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await h.executeUpdate(cancelUpdate, { args: [{ cancelId: 'c1' }] });
    },
  },
  {
    name: 'settlementBatch-two-per-batch', start: (c) => c.client.workflow.start('settlementBatchWorkflow', {
      taskQueue: c.taskQueue, workflowId: 'history-settlement-batch', args: [{ capturesPerBatch: 2 }],
    }),
  },
];

const say = (msg: string) => console.log(`[histories] ${msg}`);
Runtime.install({ logger: new DefaultLogger('WARN') });
const stack = await startTestStack(say);
const db = createDb(stack.databaseUrl);
const processor = new HttpProcessorClient({ baseUrl: stack.simulatorUrl });
const workerConnection = await NativeConnection.connect({ address: stack.temporalAddress });
const connection = await Connection.connect({ address: stack.temporalAddress });
try {
  const client = new Client({ connection });
  const taskQueue = 'record-histories';
  const { principal } = await createPrincipal(db, 'merchant', 'History merchant', settingsColumns(MERCHANT_SETTINGS));
  const ctx: Ctx = {
    client, taskQueue,
    async order(name, spec = {}) {
      const token = (await processor.tokenize({ cardNumber: spec.card ?? '4242424242424242', expMonth: 12, expYear: 2099 }, `tok-${name}`)).token;
      const input = buildOrderInput({ ...spec, merchantId: principal.id, clientOrderId: `history-${name}`, token, policy: { refundWindowMs: 1000, ...spec.policy } });
      await insertOrderRow(db, input);
      return client.workflow.start('orderWorkflow', { taskQueue, workflowId: input.orderId, args: [input] });
    },
  };
  const worker = await Worker.create(workerOptions({
    connection: workerConnection, namespace: 'default', taskQueue,
    activities: createActivities({ db, processor, temporal: client, taskQueue,
      delivery: { allowPrivate: true, timeoutMs: 2_000, perDestinationInFlight: 8, backoff: { initialMs: 100, maxMs: 1_000 } } }),
    workflowBundlePath: stack.workflowBundlePath,
  }));
  await worker.runUntil(async () => {
    for (const s of scenarios) {
      const handle = await s.start(ctx);
      await s.drive?.(handle);
      await handle.result();
      const file = join(ROOT_DIR, 'test', 'histories', `${s.name}.json`);
      writeFileSync(file, historyToJSON(await handle.fetchHistory()) + '\n');
      say(`recorded ${file}`);
    }
  });
} finally {
  await connection.close();
  await workerConnection.close();
  await db.destroy();
  await stack.stop();
}
