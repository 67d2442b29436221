// Every worker option Paybroker sets, written out in one place (used by workers/main.ts and the tests).
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTORS_PATH, WORKFLOWS_PATH } from '../config';
import { requestIdActivityInterceptor } from '../runtime/requestContext';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  /** A prebuilt workflow bundle (tests build one for the whole run); otherwise built from WORKFLOWS_PATH. */
  workflowBundlePath?: string;
  identity?: string;
  /** The payload codec's (runtime/payloadCodec.ts dataConverterOf): none, payloads plain. */
  dataConverter?: WorkerOptions['dataConverter'];
}

export function workerOptions(s: WorkerSetup): WorkerOptions {
  return {
    connection: s.connection,
    namespace: s.namespace,
    taskQueue: s.taskQueue,
    activities: s.activities,
    ...(s.workflowBundlePath ? { workflowBundle: { codePath: s.workflowBundlePath } } : { workflowsPath: WORKFLOWS_PATH }),
    identity: s.identity ?? `paybroker-worker-${process.pid}`,
    dataConverter: s.dataConverter,
    // (a prebuilt bundle has the workflow interceptors bundled in: scripts/scratch-stack.ts)
    interceptors: { workflowModules: [WORKFLOW_INTERCEPTORS_PATH], activity: [requestIdActivityInterceptor] },
    // Two cores: a few workflow tasks at a time keep latency low; activities wait on I/O, so more of them.
    maxConcurrentWorkflowTaskExecutions: 40,
    maxConcurrentActivityTaskExecutions: 100,
    maxConcurrentLocalActivityExecutions: 100,
    maxCachedWorkflows: 2000,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 4 },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 4 },
    stickyQueueScheduleToStartTimeout: '10s',
    // On SIGTERM/SIGINT: stop polling, let running activities finish for up to this long, then cancel them.
    shutdownGraceTime: '10s',
    shutdownForceTime: '30s',
  };
}
