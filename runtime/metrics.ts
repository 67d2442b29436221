// Paybroker's application metrics: one home for every name, its labels and what it means (docs/operations.md says
// what each tells an operator and when to alert; docker/grafana/paybroker.json charts them). Each process has its own
// registry (prom-client's default one, with Node's process metrics) and serves it at /metrics on its metrics port;
// the API's copies answer through their first process, which gathers theirs (prom-client's AggregatorRegistry).
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';
import { baseApp } from './http';

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let defaultsCollected = false;
/** Node's own metrics (CPU, memory, event loop lag, GC) in this process's registry, once. */
function collectDefaults(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics();
}

export const metrics = {
  httpRequests: new Counter({ name: 'paybroker_http_requests_total', help: 'API requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const }),
  httpDuration: new Histogram({ name: 'paybroker_http_request_duration_seconds', help: 'API request latency, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const, buckets: SECONDS }),
  idempotentReplays: new Counter({ name: 'paybroker_idempotent_replays_total', help: 'Requests answered from a stored answer of their Idempotency-Key',
    labelNames: ['route'] as const }),
  orderTransitions: new Counter({ name: 'paybroker_order_transitions_total', help: 'Order state transitions saved, by state left and state entered',
    labelNames: ['from', 'to'] as const }),
  processorCalls: new Histogram({ name: 'paybroker_processor_call_duration_seconds', help: "Calls to the card processor's API, by operation and outcome",
    labelNames: ['operation', 'outcome'] as const, buckets: SECONDS }),
  processorErrors: new Counter({ name: 'paybroker_processor_call_errors_total',
    help: 'Processor calls that failed, by operation and kind (unavailable: no answer or 5xx, retried; rejected: a 4xx)', labelNames: ['operation', 'kind'] as const }),
  ledgerEntries: new Counter({ name: 'paybroker_ledger_entries_total', help: 'Journal entries posted (a replayed idempotency key is not counted)' }),
  recordingBatch: new Histogram({ name: 'paybroker_recording_batch_size', help: "Micro-payments per write of the recording coalescer's batches",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] }),
  deliveryLag: new Histogram({ name: 'paybroker_delivery_lag_seconds', help: 'From a message being queued to its delivery to the endpoint',
    labelNames: ['endpoint'] as const, buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600] }),
  deliveryAttempts: new Counter({ name: 'paybroker_delivery_attempts_total', help: 'Delivery attempts to endpoints, by endpoint and outcome (delivered, retry, permanent)',
    labelNames: ['endpoint', 'outcome'] as const }),
  settlementPhase: new Histogram({ name: 'paybroker_settlement_phase_duration_seconds',
    help: 'Durations of the settlement phases (batch submission, period close, payout file), by phase', labelNames: ['phase'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300] }),
  supervisorRestarts: new Counter({ name: 'paybroker_supervisor_restarts_total', help: 'Parts the launcher restarted after they stopped unexpectedly',
    labelNames: ['part'] as const }),
  up: new Gauge({ name: 'paybroker_up', help: 'This process is running (1), by service', labelNames: ['service'] as const }),
};

/** The same activities, each one's duration observed as a settlement phase named after it (failures included). */
export function timedPhases<T extends Record<string, (...args: any[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(Object.entries(activities).map(([phase, f]) => [phase, async (...args: unknown[]) => {
    const end = metrics.settlementPhase.startTimer({ phase });
    try {
      return await f(...args);
    } finally {
      end();
    }
  }])) as T;
}

/**
 * Serves this process's metrics (or, in the first process of the API's copies, all copies' gathered) at
 * GET /metrics on port; resolves once listening.
 */
export async function serveMetrics(service: string, port: number, host: string, o: { copies?: boolean } = {}): Promise<Server> {
  collectDefaults();
  metrics.up.set({ service }, 1);
  const aggregator = o.copies ? new AggregatorRegistry() : undefined;
  const app = baseApp();
  app.get('/metrics', async (_req, res) => {
    try {
      const text = aggregator && cluster.isPrimary ? await aggregator.clusterMetrics() : await register.metrics();
      res.type(register.contentType).send(text);
    } catch (err) {
      res.status(503).type('text/plain').send(`metrics unavailable: ${(err as Error).message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server)).once('error', reject);
  });
}

/**
 * For a process whose metrics another serves (an API copy): Node's own metrics and the up gauge, and the answer to
 * the first process's requests for them (prom-client listens for those once an AggregatorRegistry exists).
 */
export function recordMetrics(service: string): void {
  collectDefaults();
  metrics.up.set({ service }, 1);
  new AggregatorRegistry();
}
