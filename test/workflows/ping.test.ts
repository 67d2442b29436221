// The harness runs a workflow on the real dev server with a real worker, and activities' retry policy holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatformActivities } from '../../activities/platform';
import type { Database } from '../../ledger/db';
import { pingWorkflow } from '../../workflows/ping';
import { pingWorkflowId } from '../../workflows/ping.contract';
import { startWorker, temporalClient, testDatabase, uid } from '../support/env';

let database: Database;
let temporal: Awaited<ReturnType<typeof temporalClient>>;

beforeAll(async () => {
  database = testDatabase(2);
  temporal = await temporalClient();
});
afterAll(async () => {
  await temporal.close();
  await database.close();
});

describe('pingWorkflow on the real server', () => {
  it('runs its activities through a worker and returns their results', async () => {
    const w = await startWorker(createPlatformActivities({ database }));
    try {
      const result = await temporal.client.workflow.execute(pingWorkflow, {
        taskQueue: w.taskQueue, workflowId: pingWorkflowId(uid()), args: [{ message: 'hi', checkLedger: true }],
      });
      expect(result).toEqual({ echoed: 'hi', ledgerReachable: true });
    } finally {
      await w.stop();
    }
  });

  it('retries a failing activity by its written-out policy, then succeeds', async () => {
    let calls = 0;
    const w = await startWorker({
      ...createPlatformActivities({ database }),
      async echo(message: string) {
        calls++;
        if (calls < 3) throw new Error('transient');
        return message;
      },
    });
    try {
      const result = await temporal.client.workflow.execute(pingWorkflow, {
        taskQueue: w.taskQueue, workflowId: pingWorkflowId(uid()), args: [{ message: 'again' }],
      });
      expect(result.echoed).toBe('again');
      expect(calls).toBe(3);
    } finally {
      await w.stop();
    }
  });

  it('fails the workflow once the activity exhausts its attempts', async () => {
    let calls = 0;
    const w = await startWorker({
      ...createPlatformActivities({ database }),
      async echo() {
        calls++;
        throw new Error('always');
      },
    });
    try {
      await expect(temporal.client.workflow.execute(pingWorkflow, {
        taskQueue: w.taskQueue, workflowId: pingWorkflowId(uid()), args: [{ message: 'x' }],
      })).rejects.toThrow(/Workflow execution failed/);
      expect(calls).toBe(5);
    } finally {
      await w.stop();
    }
  });
});
