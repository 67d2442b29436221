// What GET /v1/health checks: PostgreSQL, the Temporal frontend, and a worker polling the task queue (without one,
// workflows started here wait). Each check resolves when its part answers.
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { type Database, reachable } from '../ledger/db';

/** Each dependency's check: resolves when it answers. */
export type HealthChecks = Record<string, () => Promise<unknown>>;

/**
 * An idle worker's poll waits on the server up to a minute (its long-poll expiry) before the worker polls again,
 * so a running worker's last poll can be a minute old; none for longer than this means no worker is polling.
 */
export const WORKER_POLL_SEEN_WITHIN_MS = 75_000;

// Temporal's enum values (temporal.api.enums.v1), which @temporalio/client does not export
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/** Resolves when a worker has polled the task queue for workflow tasks within WORKER_POLL_SEEN_WITHIN_MS. */
export async function workerPolling(temporal: Client, taskQueue: string): Promise<void> {
  const { pollers } = await temporal.workflowService.describeTaskQueue({
    namespace: temporal.options.namespace,
    taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL }, taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
  });
  const lastPollMs = Math.max(0, ...pollers.map((p) => tsToMs(p.lastAccessTime)));
  if (Date.now() - lastPollMs > WORKER_POLL_SEEN_WITHIN_MS) {
    throw new Error(`no worker has polled task queue '${taskQueue}' in the last ${WORKER_POLL_SEEN_WITHIN_MS / 1000} s`);
  }
}

export function healthChecks(database: Database, temporal: Client, taskQueue: string): HealthChecks {
  return {
    postgres: () => reachable(database.db),
    temporal: () => temporal.workflowService.getSystemInfo({}),
    worker: () => workerPolling(temporal, taskQueue),
  };
}
