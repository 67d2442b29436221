// GET /v1/health: is each dependency reachable right now? 200 when all are, else 503; no authentication.
// The dependencies: PostgreSQL, the Temporal frontend, and a worker polling the task queue (without one, workflows
// started here wait).
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { Router } from 'express';
import type { Db } from '../../ledger/db';

export const HEALTH_CHECK_TIMEOUT_MS = 2000;
/**
 * An idle worker's poll waits on the server up to a minute (its long-poll expiry) before the worker polls again,
 * so a running worker's last poll can be a minute old; none for longer than this means no worker is polling.
 */
export const WORKER_POLL_SEEN_WITHIN_MS = 75_000;

export interface HealthDeps {
  db: Db;
  /** Resolves when the Temporal frontend answers. */
  temporalPing: () => Promise<void>;
  /** Resolves when a worker polls the task queue (workerPolling does this through the Temporal client). */
  workerPing: () => Promise<void>;
}

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

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([check(), new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)), HEALTH_CHECK_TIMEOUT_MS);
    })]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).message.split('\n')[0] };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: HealthDeps): Router {
  const r = Router();
  r.get('/health', async (_req, res) => {
    const [postgres, temporal, worker] = await Promise.all([
      probe(() => deps.db.raw('SELECT 1')), probe(deps.temporalPing), probe(deps.workerPing),
    ]);
    const ok = postgres.ok && temporal.ok && worker.ok;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', postgres, temporal, worker });
  });
  return r;
}
