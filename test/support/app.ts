// The API app in-process over a test database and Temporal client, as api/main.ts builds it (with test timing).
import { inject } from 'vitest';
import type { Client } from '@temporalio/client';
import { createApp } from '../../api/app';
import type { RateLimit } from '../../api/rateLimit';
import { loadConfig } from '../../config';
import type { Database } from '../../ledger/db';
import { createLogger } from '../../runtime/log';
import { SCRATCH_MESSAGING_API_KEY, SCRATCH_MESSAGING_WEBHOOK_SECRET } from '../../scripts/scratch-stack';
import { createServices, type Services } from '../../services';
import { type HealthChecks, healthChecks } from '../../services/health';

export const TEST_TIMING = { processorDeadlineMs: 60_000, processorMaxBackoffMs: 5_000, reauthLeadMs: 60_000, refundWindowMs: 60_000 };

export interface TestAppOptions {
  taskQueue?: string;
  allowPrivateWebhooks?: boolean;
  graceMs?: number;
  dunningDelaysMs?: number[];
  payoutRetryDelaysMs?: number[];
  health?: HealthChecks;
  /** Each key's rate limit (default: the configuration's default, as one API copy has it). */
  rateLimit?: RateLimit;
  /** Milliseconds since the epoch as the app sees them (API keys' expiry and use, rate limits). */
  clock?: () => number;
  /** How often an undecided dispute asks the processor (the shared simulator's webhooks reach no API here): default 500 ms. */
  disputeDecisionPollMs?: number;
  /** Where the hosted pages are reached, and the processor's tokenization (for the pages' links and policy). */
  pages?: { publicUrl: string; processorPublicUrl: string };
}

export async function testApp(database: Database, temporal: Client, o: TestAppOptions = {}): Promise<{ app: ReturnType<typeof createApp>; services: Services }> {
  const services = await createServices(database, temporal, {
    taskQueue: o.taskQueue ?? 'api-test', orders: TEST_TIMING,
    periods: { graceMs: o.graceMs ?? 0, dunningDelaysMs: o.dunningDelaysMs ?? [50, 50, 50] },
    payoutRetryDelaysMs: o.payoutRetryDelaysMs ?? [50, 50],
    webhooks: { allowPrivate: o.allowPrivateWebhooks ?? false, giveUpMs: 60_000 }, clock: o.clock,
    pages: o.pages ?? { publicUrl: 'http://127.0.0.1', processorPublicUrl: 'http://127.0.0.1' },
    messaging: { url: inject('messagingUrl'), apiKey: SCRATCH_MESSAGING_API_KEY, webhookSecret: SCRATCH_MESSAGING_WEBHOOK_SECRET },
    processorWebhooks: { secret: loadConfig({}).processorWebhooks.secret, decisionPollMs: o.disputeDecisionPollMs ?? 500 },
    processor: { url: inject('simulatorUrl') },
  });
  const app = createApp({
    services,
    health: o.health ?? healthChecks(database, temporal, o.taskQueue ?? 'api-test'), logger: createLogger('api', 'silent'),
    rateLimit: o.rateLimit ?? loadConfig({}).rateLimit,
  });
  return { app, services };
}
