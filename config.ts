// Runtime configuration: one zod schema over the environment. Each variable is declared once here, with its
// default and what it means; loadConfig() parses the environment against it (entry points call it), and the
// README's configuration table is written from it (configTable(); test/platform/config.test.ts keeps the two the
// same). An empty variable counts as unset.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';

export const ROOT_DIR = fileURLToPath(new URL('.', import.meta.url));
/** The worker bundle's entry point: every workflow the worker runs. */
export const WORKFLOWS_PATH = join(ROOT_DIR, 'workflows', 'index.ts');
/** The workflow interceptors bundled with them (request-id propagation). */
export const WORKFLOW_INTERCEPTORS_PATH = join(ROOT_DIR, 'workflows', 'interceptors.ts');

/** A variable: its schema (over the raw string), the default as the README shows it, and what it means. */
interface Variable<S extends z.ZodType> { schema: S; shownDefault: string; meaning: string }
const variable = <S extends z.ZodType>(schema: S, shownDefault: string, meaning: string): Variable<S> => ({ schema, shownDefault, meaning });

const text = () => z.string().optional();
const textOr = (fallback: string) => z.string().default(fallback);
const toInt = (raw: string, min: number, max: number, ctx: z.RefinementCtx): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) ctx.addIssue({ code: 'custom', message: `an integer from ${min} to ${max}` });
  return n;
};
const int = (fallback: number, min: number, max: number) => z.string().default(String(fallback)).transform((raw, ctx) => toInt(raw, min, max, ctx));
const port = (fallback: number) => int(fallback, 0, 65535);
const optionalPort = () => z.string().optional().transform((raw, ctx) => (raw === undefined ? undefined : toInt(raw, 0, 65535, ctx)));
const bool = (fallback: boolean) => z.enum(['true', 'false', '1', '0'], { error: 'true or false' }).default(fallback ? 'true' : 'false')
  .transform((v) => v === 'true' || v === '1');
const toMs = (raw: string, ctx: z.RefinementCtx): number => {
  let ms = NaN;
  try {
    ms = msToNumber(raw as Parameters<typeof msToNumber>[0]);
  } catch { /* reported below */ }
  if (!Number.isFinite(ms) || ms <= 0) ctx.addIssue({ code: 'custom', message: "a positive duration such as '30s', '5 minutes' or '1 day'" });
  return ms;
};
const duration = (fallback: string) => z.string().default(fallback).transform((raw, ctx) => toMs(raw.trim(), ctx));
/** A comma-separated list of durations. */
const durations = (fallback: string) => z.string().default(fallback).transform((raw, ctx) => raw.split(',').map((p) => toMs(p.trim(), ctx)));
const level = (fallback: string, levels: readonly string[]) => z.string().default(fallback).transform((v) => v.toLowerCase())
  .pipe(z.enum(levels as [string, ...string[]], { error: levels.join(', ') }));

const CORES = Math.min(availableParallelism(), 8);

/** Every variable Paybroker reads, in the order the README lists them. */
export const VARIABLES = {
  DATABASE_URL: variable(text(), 'private cluster', 'PostgreSQL for the ledger; when unset `npm start` runs one under `.data/pg`'),
  PAYBROKER_PG_PORT: variable(port(55432), '55432', 'port of the private cluster'),
  PAYBROKER_PG_BIN: variable(text(), 'found', 'directory with `initdb`, `pg_ctl`, `postgres`'),
  TEMPORAL_ADDRESS: variable(text(), 'dev server', 'an existing Temporal frontend; when unset `npm start` runs one (`PAYBROKER_TEMPORAL`)'),
  TEMPORAL_NAMESPACE: variable(textOr('default'), 'default', 'namespace'),
  TEMPORAL_CLI_PATH: variable(text(), 'found', 'the `temporal` binary (else `PATH`, else `.tools/bin`, else built)'),
  PAYBROKER_TEMPORAL: variable(z.enum(['dev', 'cluster'], { error: 'dev or cluster' }).default('dev'), 'dev',
    "the Temporal `npm start`, the tests and the benchmarks run when `TEMPORAL_ADDRESS` is unset: `dev`, the CLI's single-process dev server; `cluster`, the official server's frontend, history, matching and worker services as four processes on PostgreSQL (databases `temporal` and `temporal_visibility` in the same cluster) and the Web UI server (docs/operations.md)"),
  PAYBROKER_TEMPORAL_HISTORY_SHARDS: variable(int(16, 1, 16_384), '16', "cluster mode: history shards (fixed when the cluster's databases are first set up)"),
  PAYBROKER_TEMPORAL_PORT: variable(port(7233), '7233', "the dev server's gRPC port; in cluster mode the frontend's (history +1, matching +2, worker +6, membership -300 to -294, as Temporal's defaults)"),
  PAYBROKER_TEMPORAL_UI_PORT: variable(port(8233), '8233', 'Web UI port'),
  PAYBROKER_TASK_QUEUE: variable(textOr('paybroker'), 'paybroker', "the worker's task queue"),
  PAYBROKER_PAYLOAD_KEYS: variable(text(), 'made by `npm start` (`.data/payload-keys`)',
    'payload encryption keys (AES-256-GCM), `id:base64-of-32-bytes`, comma-separated: the first seals, every one opens (rotate by putting a new key first); unset: payloads are plain'),
  PAYBROKER_CODEC_PORT: variable(port(3500), '3500', "the codec server's port (decodes payloads for the Web UI)"),
  PAYBROKER_CODEC_TOKEN: variable(text(), 'made by `npm start` (`.data/codec-token`)',
    "the codec server's credential: `Authorization: Bearer <token>`, or the first path segment (`/<token>/decode`, how the Web UI is given it)"),
  PORT: variable(port(3000), '3000', 'API port'),
  PAYBROKER_API_PROCESSES: variable(int(CORES, 1, 64), 'one per core, at most 8', 'copies of the API process sharing its port (node:cluster)'),
  PAYBROKER_RATE_LIMIT: variable(int(1000, 1, 1_000_000), '1000',
    'requests per second each API key may make, sustained (a token bucket; each API copy allows its share: this divided by `PAYBROKER_API_PROCESSES`)'),
  PAYBROKER_RATE_LIMIT_BURST: variable(int(2000, 1, 10_000_000), '2000',
    "requests an API key may make at once after a quiet spell (the bucket's size; each copy's share likewise)"),
  PAYBROKER_SIMULATOR_PORT: variable(port(3100), '3100', 'processor simulator port'),
  PAYBROKER_SIMULATOR_ADMIN_PORT: variable(optionalPort(), 'simulator port + 1', "the simulator's admin API (fault controls)"),
  PAYBROKER_SIM_AUTH_VALIDITY_SECONDS: variable(int(7 * 24 * 3600, 1, 366 * 24 * 3600), '604800 (7 days)',
    "how long the simulator's authorizations can be captured"),
  PROCESSOR_URL: variable(text(), 'http://127.0.0.1:3100', 'where the worker reaches the processor'),
  PAYBROKER_PROCESSOR_WEBHOOK_URL: variable(text(), "the API's `/v1/processor/webhooks`",
    "where the processor simulator delivers its webhooks (disputes, expired reservations) to this broker"),
  PAYBROKER_PROCESSOR_WEBHOOK_SECRET: variable(textOr('whsec_dev_processor'), '`whsec_dev_processor`',
    "shared secret of the processor's signed webhooks (HMAC-SHA256)"),
  PAYBROKER_MESSAGING_PORT: variable(port(3200), '3200', 'messaging gateway simulator port'),
  PAYBROKER_MESSAGING_ADMIN_PORT: variable(optionalPort(), 'messaging port + 1', "the messaging gateway's admin API (the customer's phone, fault controls)"),
  PAYBROKER_MESSAGING_URL: variable(text(), 'http://127.0.0.1:3200', 'where Paybroker reaches the messaging gateway'),
  PAYBROKER_MESSAGING_API_KEY: variable(textOr('msgk_dev_paybroker'), '`msgk_dev_paybroker`', "Paybroker's API key at the messaging gateway (the simulator serves the account of this key)"),
  PAYBROKER_MESSAGING_SENDER_ID: variable(textOr('PAYBROKER'), '`PAYBROKER`', "the sender id offers come from when a merchant has not booked its own"),
  PAYBROKER_MESSAGING_WEBHOOK_SECRET: variable(textOr('gwsec_dev_paybroker'), '`gwsec_dev_paybroker`', "shared secret of the messaging gateway's signed webhooks (HMAC-SHA256)"),
  PAYBROKER_MESSAGING_WEBHOOK_URL: variable(text(), 'the API\'s `/v1/messaging/webhooks`', "where the messaging gateway delivers receipts and replies (also settable per account: `PUT /v1/account`)"),
  PAYBROKER_DIRECTORY_PORT: variable(port(3300), '3300', 'federation gateway directory port (`npm run federation:demo` starts it)'),
  PAYBROKER_DIRECTORY_ADMIN_PORT: variable(optionalPort(), 'directory port + 1', "the directory's operator API (approve and revoke gateways; fault controls)"),
  PAYBROKER_DIRECTORY_URL: variable(text(), 'http://127.0.0.1:3300', 'where the federation gateway reaches the gateway directory'),
  PAYBROKER_DIRECTORY_ADMIN_TOKEN: variable(textOr('dirop_dev'), '`dirop_dev`', "the directory operator's bearer token (its operator API)"),
  PAYBROKER_FEDERATION_DIR: variable(text(), '`.data/federation`', 'the federation CA certificate (`ca.pem`) and each gateway\'s key and certificate (`<gateway id>.key`, `.pem`), made by `npm run federation:ca`'),
  PAYBROKER_GATEWAY_ID: variable(text(), 'none (federation off)', "this deployment's federation gateway id; when set the API also serves the gateway (mutual TLS) and federated payments"),
  PAYBROKER_GATEWAY_PORT: variable(port(3400), '3400', "the federation gateway's port (HTTPS, mutual TLS)"),
  PAYBROKER_GATEWAY_URL: variable(text(), 'https://127.0.0.1:PAYBROKER_GATEWAY_PORT', 'where other gateways reach this one (registered in the directory)'),
  PAYBROKER_SERVICE_NAME: variable(textOr('Paybroker'), '`Paybroker`', "this payment service's name in the directory"),
  PAYBROKER_SETTLEMENT_ACCOUNT: variable(text(), '`settlement-<gateway id>`', "this service's settlement account at the processor (where net transfers from other services arrive)"),
  PAYBROKER_FEDERATION_DEADLINE: variable(duration('2 minutes'), '2 minutes', "how long a federated payment waits for the buyer's service (retrying while it is unreachable) before it is declined"),
  PAYBROKER_FEDERATION_CONFIRMATION_TIMEOUT: variable(duration('10 minutes'), '10 minutes', 'how long a buyer has to approve a federated payment their rules do not cover'),
  PAYBROKER_DIRECTORY_CACHE_TTL: variable(duration('30s'), '30s', 'how long a directory answer (a lookup, a gateway entry) may serve while the directory is unreachable'),
  PAYBROKER_NETTING_MAX_TRANSACTIONS: variable(int(100, 1, 1_000_000), '100', 'a netting window closes after this many authorized transactions between two services ...'),
  PAYBROKER_NETTING_PERIOD: variable(duration('1 hour'), '1 hour', '... or after this long, whichever comes first'),
  PAYBROKER_PUBLIC_URL: variable(text(), 'http://127.0.0.1:PORT', 'where customers reach the hosted checkout and cart pages (links in sessions and offers)'),
  PAYBROKER_PROCESSOR_PUBLIC_URL: variable(text(), 'PROCESSOR_URL', "where customers' browsers reach the processor's card tokenization (the hosted pages send card numbers there)"),
  PAYBROKER_SETTLEMENT_INTERVAL: variable(duration('1 day'), '1 day', 'how often captures are submitted in settlement batches'),
  PAYBROKER_SETTLEMENT_PERIOD: variable(duration('1 day'), '1 day', 'length of a micro-payment settlement period (the Schedule closes one per period)'),
  PAYBROKER_SETTLEMENT_GRACE: variable(duration('5 minutes'), '5 minutes', 'how long a close waits before freezing the period (late payments still count)'),
  PAYBROKER_DUNNING_DELAYS: variable(durations('1 hour, 1 day, 3 days'), '1 hour, 1 day, 3 days',
    'retries of a failed period charge, then the buyer is suspended'),
  PAYBROKER_PAYOUT_INTERVAL: variable(duration('1 day'), '1 day', "how often merchants' payouts run (a Schedule; each merchant's own schedule says whether a run pays it)"),
  PAYBROKER_PAYOUT_RETRY_DELAYS: variable(durations('1 minute, 10 minutes, 1 hour'), '1 minute, 10 minutes, 1 hour',
    'tries of a payout the processor refused, then it fails (problems log) and is carried into the next one'),
  PAYBROKER_RECONCILIATION_INTERVAL: variable(duration('1 day'), '1 day', "how often the ledger is reconciled with the processor's records (each run: the UTC day before)"),
  PAYBROKER_PROCESSOR_DEADLINE: variable(duration('24 hours'), '24 hours', 'how long an order waits out an unreachable processor before it fails'),
  PAYBROKER_PROCESSOR_MAX_BACKOFF: variable(duration('5 minutes'), '5 minutes', 'the longest pause between tries while it waits'),
  PAYBROKER_REAUTH_LEAD: variable(duration('1 day'), '1 day', 'reauthorize unshipped orders this long before the authorization expires'),
  PAYBROKER_REFUND_WINDOW: variable(duration('90 days'), '90 days', 'an order stays open for refunds this long after its last capture'),
  PAYBROKER_CONFIRMATION_TIMEOUT: variable(duration('15 minutes'), '15 minutes', "how long a customer has to reply to an order's offer by message (from when the gateway accepted it)"),
  PAYBROKER_CONFIRMATION_SEND_DEADLINE: variable(duration('1 hour'), '1 hour', 'how long an offer is tried while the messaging gateway is unreachable; then the order is cancelled'),
  PAYBROKER_AUTHENTICATION_TIMEOUT: variable(duration('10 minutes'), '10 minutes', 'how long a customer has to answer a step-up authentication on their device'),
  PAYBROKER_WEBHOOK_ALLOW_PRIVATE: variable(bool(false), 'false', 'accept webhook endpoints on private and loopback addresses'),
  PAYBROKER_DELIVERY_TIMEOUT: variable(duration('10s'), '10s', 'HTTP timeout of one delivery attempt'),
  PAYBROKER_DELIVERY_GIVE_UP: variable(duration('3 days'), '3 days', 'default give-up time of new endpoints (then a message is a dead letter)'),
  PAYBROKER_DELIVERY_INITIAL_BACKOFF: variable(duration('1s'), '1s', 'first pause between delivery attempts (doubling)'),
  PAYBROKER_DELIVERY_MAX_BACKOFF: variable(duration('10 minutes'), '10 minutes', 'longest pause between delivery attempts'),
  PAYBROKER_DELIVERY_PER_DESTINATION: variable(int(8, 0, 65535), '8', 'deliveries in flight per endpoint per worker'),
  PAYBROKER_BIND_HOST: variable(textOr('127.0.0.1'), '127.0.0.1', 'interface the API and simulator listen on'),
  PAYBROKER_DATA_DIR: variable(text(), '`.data`', 'everything `npm start` keeps'),
  PAYBROKER_LOG_LEVEL: variable(level('info', ['trace', 'debug', 'info', 'warn', 'error', 'silent']), 'info',
    "level of every process's JSON log lines (one per API request)"),
  PAYBROKER_API_METRICS_PORT: variable(optionalPort(), 'off (`npm start`: 9464)', "the API's Prometheus metrics (`GET /metrics`, every copy's gathered)"),
  PAYBROKER_WORKER_METRICS_PORT: variable(optionalPort(), 'off (`npm start`: 9465)', "the worker's application metrics (`GET /metrics`)"),
  PAYBROKER_WORKER_SDK_METRICS_PORT: variable(optionalPort(), 'off (`npm start`: 9466)', "the Temporal SDK's runtime metrics of the worker (`GET /metrics`)"),
  PAYBROKER_TEMPORAL_METRICS_PORT: variable(optionalPort(), 'off (`npm start`: 9467)', "the Temporal server's own metrics (`GET /metrics`): the dev server's (`--metrics-port`); in cluster mode the frontend's, and history's, matching's and the worker service's at +2, +3 and +4"),
  PAYBROKER_LAUNCHER_METRICS_PORT: variable(optionalPort(), 'off (`npm start`: 9468)', "the launcher's metrics (restarts of the parts it supervises)"),
  PAYBROKER_WORKER_LOG_LEVEL: variable(level('warn', ['trace', 'debug', 'info', 'warn', 'error']), 'WARN',
    "level of the Temporal SDK's own lines in the worker's log (`DEBUG` shows each activity, with its request id)"),
  PAYBROKER_WORKFLOW_BUNDLE: variable(text(), 'none', 'a prebuilt workflow bundle for the worker (the tests build one per run)'),
  PAYBROKER_PYTHON: variable(text(), 'found', 'Python >= 3.11 for the API fuzzer of the tests (else `python3` on `PATH`)'),
  PAYBROKER_CHROMIUM: variable(text(), '/usr/bin/chromium', "Chromium for the tests of the hosted pages (Debian's `chromium`)"),
} satisfies Record<string, Variable<z.ZodType>>;

type Parsed = { [K in keyof typeof VARIABLES]: z.output<(typeof VARIABLES)[K]['schema']> };
const ENV = z.object(Object.fromEntries(Object.entries(VARIABLES).map(([k, v]) => [k, v.schema])) as { [K in keyof typeof VARIABLES]: (typeof VARIABLES)[K]['schema'] });

export interface Config {
  /** PostgreSQL connection string; when unset the launcher starts a private cluster under dataDir. */
  databaseUrl: string | undefined;
  /** Port of the private PostgreSQL cluster, and the directory of its binaries when not found. */
  pgPort: number;
  pgBin: string | undefined;
  temporalAddress: string;
  /** An existing Temporal frontend was named (else `npm start` runs the dev server). */
  temporalExternal: boolean;
  temporalNamespace: string;
  temporalCliPath: string | undefined;
  temporalPort: number;
  /** What `npm start`, the tests and the benchmarks run: the dev server or the four-process cluster. */
  temporalMode: 'dev' | 'cluster';
  temporalHistoryShards: number;
  temporalUiPort: number;
  taskQueue: string;
  /** PAYBROKER_PAYLOAD_KEYS as given (runtime/payloadCodec.ts parses it); undefined: payloads are plain. */
  payloadKeys: string | undefined;
  codecPort: number;
  codecToken: string | undefined;
  apiPort: number;
  /** Where customers reach the hosted pages, and where their browsers reach the processor's tokenization. */
  publicUrl: string;
  processorPublicUrl: string;
  /** Copies of the API process sharing its port (node:cluster): one per core by default, at most 8. */
  apiProcesses: number;
  /** Each API key's rate limit over all API copies: sustained requests per second and the burst (a token bucket). */
  rateLimit: { perSecond: number; burst: number };
  /** Interface the API and the simulator listen on (127.0.0.1; 0.0.0.0 in containers). */
  bindHost: string;
  simulatorPort: number;
  /** The simulator's admin API (fault controls; loopback only). */
  simulatorAdminPort: number;
  simulatorAuthValiditySeconds: number;
  simulatorUrl: string;
  /** Where the processor (simulator) delivers its signed webhooks to this broker, and their secret. */
  processorWebhooks: { url: string; secret: string };
  /** The messaging gateway (simulator): its ports, where Paybroker reaches it, the account's key and webhooks. */
  messaging: { port: number; adminPort: number; url: string; apiKey: string; senderId: string; webhookSecret: string; webhookUrl: string };
  /** The federation gateway directory (simulator) and its operator token. */
  directory: { port: number; adminPort: number; url: string; adminToken: string; cacheTtlMs: number };
  /** Federation: this deployment's gateway (undefined: federation off), its credentials' folder, deadlines, netting. */
  federation: {
    dir: string;
    gatewayId: string | undefined;
    gatewayPort: number;
    gatewayUrl: string;
    serviceName: string;
    settlementAccount: string | undefined;
    deadlineMs: number;
    confirmationTimeoutMs: number;
    nettingMaxTransactions: number;
    nettingPeriodMs: number;
  };
  dataDir: string;
  /** How often captures are submitted in settlement batches (a Temporal Schedule). */
  settlementIntervalMs: number;
  /** Micro-payments: length of a settlement period (a Temporal Schedule ticks once per period), the grace a
   *  close waits before freezing the period, and the dunning retries after a failed period charge. */
  periodMs: number;
  periodGraceMs: number;
  dunningDelaysMs: number[];
  /** Merchant payouts: how often a run starts (a Temporal Schedule), and the retries of a refused payout. */
  payoutIntervalMs: number;
  payoutRetryDelaysMs: number[];
  /** How often a Temporal Schedule starts the reconciliation of the day before. */
  reconciliationIntervalMs: number;
  /** Orders: how long to wait out an unreachable processor, and the longest pause between tries. */
  processorDeadlineMs: number;
  processorMaxBackoffMs: number;
  /** Orders: reauthorize this long before an authorization expires. */
  reauthLeadMs: number;
  /** Orders stay open for refunds this long after their last capture. */
  refundWindowMs: number;
  /** Orders asking their customer: the reply's deadline, how long an offer is tried, the device answer's deadline. */
  confirmationTimeoutMs: number;
  confirmationSendDeadlineMs: number;
  authenticationTimeoutMs: number;
  delivery: {
    /** Webhook endpoints on private or loopback addresses are refused unless this is true. */
    allowPrivate: boolean;
    timeoutMs: number;
    giveUpMs: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    perDestinationInFlight: number;
  };
  logLevel: string;
  workerLogLevel: string;
  /** Metrics ports (undefined: not served); `npm start` sets each (scripts/stack.ts METRICS_PORTS). */
  metricsPorts: { api?: number; worker?: number; workerSdk?: number; temporal?: number; launcher?: number };
  workflowBundlePath: string | undefined;
  python: string | undefined;
  /** Chromium for the browser tests (else /usr/bin/chromium). */
  chromium: string | undefined;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; a variable with a value it cannot take is named in the error, with what it takes. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(Object.keys(VARIABLES).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = ENV.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0]);
    throw new ConfigError(`${name} must be ${issue.message}, got '${raw[name]}'`);
  }
  const v = parsed.data as Parsed;
  return {
    databaseUrl: v.DATABASE_URL,
    pgPort: v.PAYBROKER_PG_PORT,
    pgBin: v.PAYBROKER_PG_BIN,
    temporalAddress: v.TEMPORAL_ADDRESS ?? `127.0.0.1:${v.PAYBROKER_TEMPORAL_PORT}`,
    temporalExternal: v.TEMPORAL_ADDRESS !== undefined,
    temporalNamespace: v.TEMPORAL_NAMESPACE,
    temporalCliPath: v.TEMPORAL_CLI_PATH,
    temporalPort: v.PAYBROKER_TEMPORAL_PORT,
    temporalMode: v.PAYBROKER_TEMPORAL,
    temporalHistoryShards: v.PAYBROKER_TEMPORAL_HISTORY_SHARDS,
    temporalUiPort: v.PAYBROKER_TEMPORAL_UI_PORT,
    taskQueue: v.PAYBROKER_TASK_QUEUE,
    payloadKeys: v.PAYBROKER_PAYLOAD_KEYS,
    codecPort: v.PAYBROKER_CODEC_PORT,
    codecToken: v.PAYBROKER_CODEC_TOKEN,
    apiPort: v.PORT,
    publicUrl: (v.PAYBROKER_PUBLIC_URL ?? `http://127.0.0.1:${v.PORT}`).replace(/\/+$/, ''),
    processorPublicUrl: (v.PAYBROKER_PROCESSOR_PUBLIC_URL ?? v.PROCESSOR_URL ?? `http://127.0.0.1:${v.PAYBROKER_SIMULATOR_PORT}`).replace(/\/+$/, ''),
    apiProcesses: v.PAYBROKER_API_PROCESSES,
    rateLimit: { perSecond: v.PAYBROKER_RATE_LIMIT, burst: v.PAYBROKER_RATE_LIMIT_BURST },
    bindHost: v.PAYBROKER_BIND_HOST,
    simulatorPort: v.PAYBROKER_SIMULATOR_PORT,
    simulatorAdminPort: v.PAYBROKER_SIMULATOR_ADMIN_PORT ?? v.PAYBROKER_SIMULATOR_PORT + 1,
    simulatorAuthValiditySeconds: v.PAYBROKER_SIM_AUTH_VALIDITY_SECONDS,
    simulatorUrl: v.PROCESSOR_URL ?? `http://127.0.0.1:${v.PAYBROKER_SIMULATOR_PORT}`,
    processorWebhooks: {
      url: v.PAYBROKER_PROCESSOR_WEBHOOK_URL ?? `http://127.0.0.1:${v.PORT}/v1/processor/webhooks`,
      secret: v.PAYBROKER_PROCESSOR_WEBHOOK_SECRET,
    },
    messaging: {
      port: v.PAYBROKER_MESSAGING_PORT,
      adminPort: v.PAYBROKER_MESSAGING_ADMIN_PORT ?? v.PAYBROKER_MESSAGING_PORT + 1,
      url: (v.PAYBROKER_MESSAGING_URL ?? `http://127.0.0.1:${v.PAYBROKER_MESSAGING_PORT}`).replace(/\/+$/, ''),
      apiKey: v.PAYBROKER_MESSAGING_API_KEY,
      senderId: v.PAYBROKER_MESSAGING_SENDER_ID,
      webhookSecret: v.PAYBROKER_MESSAGING_WEBHOOK_SECRET,
      webhookUrl: v.PAYBROKER_MESSAGING_WEBHOOK_URL ?? `http://127.0.0.1:${v.PORT}/v1/messaging/webhooks`,
    },
    directory: {
      port: v.PAYBROKER_DIRECTORY_PORT,
      adminPort: v.PAYBROKER_DIRECTORY_ADMIN_PORT ?? v.PAYBROKER_DIRECTORY_PORT + 1,
      url: (v.PAYBROKER_DIRECTORY_URL ?? `http://127.0.0.1:${v.PAYBROKER_DIRECTORY_PORT}`).replace(/\/+$/, ''),
      adminToken: v.PAYBROKER_DIRECTORY_ADMIN_TOKEN,
      cacheTtlMs: v.PAYBROKER_DIRECTORY_CACHE_TTL,
    },
    federation: {
      dir: v.PAYBROKER_FEDERATION_DIR ?? join(v.PAYBROKER_DATA_DIR ?? join(ROOT_DIR, '.data'), 'federation'),
      gatewayId: v.PAYBROKER_GATEWAY_ID,
      gatewayPort: v.PAYBROKER_GATEWAY_PORT,
      gatewayUrl: (v.PAYBROKER_GATEWAY_URL ?? `https://127.0.0.1:${v.PAYBROKER_GATEWAY_PORT}`).replace(/\/+$/, ''),
      serviceName: v.PAYBROKER_SERVICE_NAME,
      settlementAccount: v.PAYBROKER_SETTLEMENT_ACCOUNT ?? (v.PAYBROKER_GATEWAY_ID && `settlement-${v.PAYBROKER_GATEWAY_ID}`),
      deadlineMs: v.PAYBROKER_FEDERATION_DEADLINE,
      confirmationTimeoutMs: v.PAYBROKER_FEDERATION_CONFIRMATION_TIMEOUT,
      nettingMaxTransactions: v.PAYBROKER_NETTING_MAX_TRANSACTIONS,
      nettingPeriodMs: v.PAYBROKER_NETTING_PERIOD,
    },
    dataDir: v.PAYBROKER_DATA_DIR ?? join(ROOT_DIR, '.data'),
    settlementIntervalMs: v.PAYBROKER_SETTLEMENT_INTERVAL,
    periodMs: v.PAYBROKER_SETTLEMENT_PERIOD,
    periodGraceMs: v.PAYBROKER_SETTLEMENT_GRACE,
    dunningDelaysMs: v.PAYBROKER_DUNNING_DELAYS,
    payoutIntervalMs: v.PAYBROKER_PAYOUT_INTERVAL,
    payoutRetryDelaysMs: v.PAYBROKER_PAYOUT_RETRY_DELAYS,
    reconciliationIntervalMs: v.PAYBROKER_RECONCILIATION_INTERVAL,
    processorDeadlineMs: v.PAYBROKER_PROCESSOR_DEADLINE,
    processorMaxBackoffMs: v.PAYBROKER_PROCESSOR_MAX_BACKOFF,
    reauthLeadMs: v.PAYBROKER_REAUTH_LEAD,
    refundWindowMs: v.PAYBROKER_REFUND_WINDOW,
    confirmationTimeoutMs: v.PAYBROKER_CONFIRMATION_TIMEOUT,
    confirmationSendDeadlineMs: v.PAYBROKER_CONFIRMATION_SEND_DEADLINE,
    authenticationTimeoutMs: v.PAYBROKER_AUTHENTICATION_TIMEOUT,
    delivery: {
      allowPrivate: v.PAYBROKER_WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: v.PAYBROKER_DELIVERY_TIMEOUT,
      giveUpMs: v.PAYBROKER_DELIVERY_GIVE_UP,
      initialBackoffMs: v.PAYBROKER_DELIVERY_INITIAL_BACKOFF,
      maxBackoffMs: v.PAYBROKER_DELIVERY_MAX_BACKOFF,
      perDestinationInFlight: v.PAYBROKER_DELIVERY_PER_DESTINATION,
    },
    logLevel: v.PAYBROKER_LOG_LEVEL,
    workerLogLevel: v.PAYBROKER_WORKER_LOG_LEVEL,
    metricsPorts: { api: v.PAYBROKER_API_METRICS_PORT, worker: v.PAYBROKER_WORKER_METRICS_PORT, workerSdk: v.PAYBROKER_WORKER_SDK_METRICS_PORT,
      temporal: v.PAYBROKER_TEMPORAL_METRICS_PORT, launcher: v.PAYBROKER_LAUNCHER_METRICS_PORT },
    workflowBundlePath: v.PAYBROKER_WORKFLOW_BUNDLE,
    python: v.PAYBROKER_PYTHON,
    chromium: v.PAYBROKER_CHROMIUM,
  };
}

/** The README's configuration table, written from VARIABLES. */
export function configTable(): string {
  return ['| variable | default | meaning |', '| --- | --- | --- |',
    ...Object.entries(VARIABLES).map(([name, v]) => `| \`${name}\` | ${v.shownDefault} | ${v.meaning} |`)].join('\n');
}

/** The delivery activities' settings, from the configuration. */
export function deliverySettings(c: Config) {
  return {
    allowPrivate: c.delivery.allowPrivate, timeoutMs: c.delivery.timeoutMs, perDestinationInFlight: c.delivery.perDestinationInFlight,
    backoff: { initialMs: c.delivery.initialBackoffMs, maxMs: c.delivery.maxBackoffMs },
  };
}
