// `npm run histories:record`: runs each scenario below on a private stack with the real activities and writes
// its event history to test/histories/<name>.json; test/replay replays them all against today's code.
// Re-record only when a workflow change is meant to be incompatible (and patch the workflow; see README).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { ROOT_DIR } from '../config';
import { createActivities } from '../activities';
import { createDb } from '../ledger/db';
import { workerOptions } from '../workers/options';
import { startTestStack } from '../test/support/stack';

interface Scenario {
  name: string;
  workflow: string;
  args: unknown[];
  /** Drive the running workflow (signals, updates) before awaiting its result. */
  drive?: (client: Client, workflowId: string) => Promise<void>;
}

const scenarios: Scenario[] = [
  { name: 'ping-echo', workflow: 'pingWorkflow', args: [{ message: 'hello' }] },
  { name: 'ping-with-ledger-check', workflow: 'pingWorkflow', args: [{ message: 'hello', checkLedger: true }] },
];

const say = (msg: string) => console.log(`[histories] ${msg}`);
Runtime.install({ logger: new DefaultLogger('WARN') });
const stack = await startTestStack(say);
const db = createDb(stack.databaseUrl);
const workerConnection = await NativeConnection.connect({ address: stack.temporalAddress });
const connection = await Connection.connect({ address: stack.temporalAddress });
try {
  const client = new Client({ connection });
  const taskQueue = 'record-histories';
  const worker = await Worker.create(workerOptions({
    connection: workerConnection, namespace: 'default', taskQueue, activities: createActivities({ db }),
    workflowBundlePath: stack.workflowBundlePath,
  }));
  await worker.runUntil(async () => {
    for (const s of scenarios) {
      const workflowId = `history-${s.name}`;
      const handle = await client.workflow.start(s.workflow, { taskQueue, workflowId, args: s.args });
      await s.drive?.(client, workflowId);
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
