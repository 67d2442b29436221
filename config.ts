// Runtime configuration, read from the environment once. Every variable and its default is listed in
// README.md ("Configuration"); entry points (api/main.ts, workers/main.ts, scripts/stack.ts) call loadConfig().
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { msToNumber } from '@temporalio/common/lib/time';

export const ROOT_DIR = fileURLToPath(new URL('.', import.meta.url));
/** The worker bundle's entry point: every workflow the worker runs. */
export const WORKFLOWS_PATH = join(ROOT_DIR, 'workflows', 'index.ts');
/** The workflow interceptors bundled with them (request-id propagation). */
export const WORKFLOW_INTERCEPTORS_PATH = join(ROOT_DIR, 'workflows', 'interceptors.ts');

export interface Config {
  /** PostgreSQL connection string; when unset the launcher starts a private cluster under dataDir. */
  databaseUrl: string | undefined;
  /** Port of the private PostgreSQL cluster. */
  pgPort: number;
  temporalAddress: string;
  temporalNamespace: string;
  temporalPort: number;
  temporalUiPort: number;
  taskQueue: string;
  apiPort: number;
  /** Copies of the API process sharing its port (node:cluster): one per core by default, at most 8. */
  apiProcesses: number;
  /** Interface the API and the simulator listen on (127.0.0.1; 0.0.0.0 in containers). */
  bindHost: string;
  simulatorPort: number;
  /** The simulator's admin API (fault controls; loopback only). */
  simulatorAdminPort: number;
  simulatorUrl: string;
  dataDir: string;
  /** How often captures are submitted in settlement batches (a Temporal Schedule). */
  settlementIntervalMs: number;
  /** Micro-payments: length of a settlement period (a Temporal Schedule ticks once per period), the grace a
   *  close waits before freezing the period, and the dunning retries after a failed period charge. */
  periodMs: number;
  periodGraceMs: number;
  dunningDelaysMs: number[];
  /** Orders: how long to wait out an unreachable processor, and the longest pause between tries. */
  processorDeadlineMs: number;
  processorMaxBackoffMs: number;
  /** Orders: reauthorize this long before an authorization expires. */
  reauthLeadMs: number;
  /** Orders stay open for refunds this long after their last capture. */
  refundWindowMs: number;
  delivery: {
    /** Webhook endpoints on private or loopback addresses are refused unless this is true. */
    allowPrivate: boolean;
    timeoutMs: number;
    giveUpMs: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    perDestinationInFlight: number;
  };
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be true or false, got '${raw}'`);
}

function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] || fallback;
  let ms: number;
  try {
    ms = msToNumber(raw as Parameters<typeof msToNumber>[0]);
  } catch {
    throw new Error(`${name} must be a duration such as '30s', '5 minutes' or '1 day', got '${raw}'`);
  }
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`${name} must be a positive duration, got '${raw}'`);
  return ms;
}

/** A comma-separated list of durations, each as duration() takes it. */
function durations(env: NodeJS.ProcessEnv, name: string, fallback: string): number[] {
  const raw = env[name] || fallback;
  return raw.split(',').map((part, i) => duration({ [`${name}[${i}]`]: part.trim() }, `${name}[${i}]`, part.trim()));
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, what = 'integer'): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an ${what} from ${min} to ${max}, got '${raw}'`);
  return n;
}
const port = (env: NodeJS.ProcessEnv, name: string, fallback: number) => int(env, name, fallback, 0, 65535, 'integer port');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const temporalPort = port(env, 'PAYBROKER_TEMPORAL_PORT', 7233);
  const simulatorPort = port(env, 'PAYBROKER_SIMULATOR_PORT', 3100);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    pgPort: port(env, 'PAYBROKER_PG_PORT', 55432),
    temporalAddress: env.TEMPORAL_ADDRESS || `127.0.0.1:${temporalPort}`,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalPort,
    temporalUiPort: port(env, 'PAYBROKER_TEMPORAL_UI_PORT', 8233),
    taskQueue: env.PAYBROKER_TASK_QUEUE || 'paybroker',
    apiPort: port(env, 'PORT', 3000),
    apiProcesses: int(env, 'PAYBROKER_API_PROCESSES', Math.min(availableParallelism(), 8), 1, 64),
    bindHost: env.PAYBROKER_BIND_HOST || '127.0.0.1',
    simulatorPort,
    simulatorAdminPort: port(env, 'PAYBROKER_SIMULATOR_ADMIN_PORT', simulatorPort + 1),
    simulatorUrl: env.PROCESSOR_URL || `http://127.0.0.1:${simulatorPort}`,
    dataDir: env.PAYBROKER_DATA_DIR || join(ROOT_DIR, '.data'),
    settlementIntervalMs: duration(env, 'PAYBROKER_SETTLEMENT_INTERVAL', '1 day'),
    periodMs: duration(env, 'PAYBROKER_SETTLEMENT_PERIOD', '1 day'),
    periodGraceMs: duration(env, 'PAYBROKER_SETTLEMENT_GRACE', '5 minutes'),
    dunningDelaysMs: durations(env, 'PAYBROKER_DUNNING_DELAYS', '1 hour, 1 day, 3 days'),
    processorDeadlineMs: duration(env, 'PAYBROKER_PROCESSOR_DEADLINE', '24 hours'),
    processorMaxBackoffMs: duration(env, 'PAYBROKER_PROCESSOR_MAX_BACKOFF', '5 minutes'),
    reauthLeadMs: duration(env, 'PAYBROKER_REAUTH_LEAD', '1 day'),
    refundWindowMs: duration(env, 'PAYBROKER_REFUND_WINDOW', '90 days'),
    delivery: {
      allowPrivate: bool(env, 'PAYBROKER_WEBHOOK_ALLOW_PRIVATE', false),
      timeoutMs: duration(env, 'PAYBROKER_DELIVERY_TIMEOUT', '10s'),
      giveUpMs: duration(env, 'PAYBROKER_DELIVERY_GIVE_UP', '3 days'),
      initialBackoffMs: duration(env, 'PAYBROKER_DELIVERY_INITIAL_BACKOFF', '1s'),
      maxBackoffMs: duration(env, 'PAYBROKER_DELIVERY_MAX_BACKOFF', '10 minutes'),
      perDestinationInFlight: int(env, 'PAYBROKER_DELIVERY_PER_DESTINATION', 8, 0, 65535),
    },
  };
}

/** The delivery activities' settings, from the configuration. */
export function deliverySettings(c: Config) {
  return {
    allowPrivate: c.delivery.allowPrivate, timeoutMs: c.delivery.timeoutMs, perDestinationInFlight: c.delivery.perDestinationInFlight,
    backoff: { initialMs: c.delivery.initialBackoffMs, maxMs: c.delivery.maxBackoffMs },
  };
}
