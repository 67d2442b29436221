// Helpers every layer's tests share: the run's database, Temporal client and a worker on a private task queue.
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { HttpMessagingGateway } from '../../processors/messaging/client';
import { SCRATCH_MESSAGING_API_KEY } from '../../scripts/scratch-stack';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { createDb, type Database, type Db, openDatabase } from '../../ledger/db';
import { createStores, type Stores } from '../../stores';
import { dataConverterOf, EncryptionCodec, parsePayloadKeys } from '../../runtime/payloadCodec';
import { workerOptions } from '../../workers/options';
import { payloadFromJson } from '../../runtime/codecServer';

let runtimeInstalled = false;
/**
 * The SDK logs errors only, its Rust core included (the core prints to the console itself, WARN and up by
 * default): tests plant the failures the core warns about (a replay's nondeterminism, a task completed after
 * the server dropped it), and assert their outcomes instead.
 */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('ERROR'), shutdownSignals: [],
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, console: {} } },
  });
}

/** The messaging gateway the run shares, as Paybroker calls it (the scratch account). */
export const testMessaging = () => new HttpMessagingGateway({ baseUrl: inject('messagingUrl'), apiKey: SCRATCH_MESSAGING_API_KEY });

export const uid = (prefix = '') => `${prefix}${randomUUID().replace(/-/g, '').slice(0, 12)}`;

export function testDb(poolMax = 5): Db {
  return createDb(inject('databaseUrl'), { poolMax, applicationName: 'paybroker-test' });
}

/** The run's database with both pools, and its stores. */
export function testDatabase(poolMax = 5): Database & { stores: Stores } {
  const database = openDatabase(inject('databaseUrl'), { poolMax, applicationName: 'paybroker-test' });
  return { ...database, stores: createStores(database) };
}

/** The data converter of the run's clients and workers: sealed with the run's payload key (scripts/scratch-stack.ts). */
export const testDataConverter = () => dataConverterOf(inject('payloadKeys'));

export async function temporalClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return { client: new Client({ connection, namespace: 'default', dataConverter: testDataConverter() }), close: () => connection.close() };
}

/** Starts a worker with the run's workflow bundle on a fresh task queue; stop() shuts it down and waits. */
/** What the Web UI shows of a workflow at a glance: its summary (sealed like any payload) and its current details. */
export async function webUiLines(workflowId: string): Promise<{ summary: string | undefined; details: string }> {
  const { client, close } = await temporalClient();
  try {
    const handle = client.workflow.getHandle(workflowId);
    const [summary, metadata] = await Promise.all([handle.describe().then((d) => d.staticSummary()),
      handle.query<{ currentDetails: string }>('__temporal_workflow_metadata')]);
    return { summary, details: metadata.currentDetails };
  } finally {
    await close();
  }
}

export async function startWorker(activities: object, taskQueue = uid('tq-')) {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create(workerOptions({
    connection, namespace: 'default', taskQueue, activities, workflowBundlePath: inject('workflowBundlePath'), dataConverter: testDataConverter(),
  }));
  const running = worker.run();
  return {
    taskQueue,
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** Every payload of a history (historyToJSON's), opened with the run's key: their texts, one per line. */
export async function openedPayloads(historyJson: string): Promise<string> {
  const codec = new EncryptionCodec(parsePayloadKeys(inject('payloadKeys')));
  const found: Array<{ metadata: Record<string, string>; data: string }> = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.data === 'string' && o.metadata && typeof o.metadata === 'object') found.push(o as never);
      else Object.values(o).forEach(walk);
    }
  };
  walk(JSON.parse(historyJson));
  const opened = await codec.decode(found.map(payloadFromJson));
  return opened.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
}
