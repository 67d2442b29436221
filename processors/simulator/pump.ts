// The simulator's background work, one tick at a time in every simulator process. Processes sharing one database
// divide it (each batch is taken FOR UPDATE SKIP LOCKED): the sweep that expires due reservations, the issuer's
// decisions on due disputes, and the delivery of the webhook outbox (events.ts) with retries. No transaction spans an
// HTTP call: due events are leased in one short transaction, posted outside it, and each outcome recorded in another.
import type { Knex } from 'knex';
import { postSigned, signProcessorWebhook } from '../webhookSignature';
import { T, type EffectName } from './common';
import { decideDueDisputes } from './disputes';
import { expiries, sweepExpiredReservations } from './reservations';

/** Pause between ticks unless configured otherwise. */
export const DEFAULT_PUMP_INTERVAL_MS = 500;
/** Webhook events leased per tick. */
export const WEBHOOK_BATCH = 100;
/** Attempts of one event before the simulator gives up on it. */
export const MAX_WEBHOOK_ATTEMPTS = 20;
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Pause after a failed attempt: doubling from the initial one up to the longest. */
export const DEFAULT_WEBHOOK_INITIAL_BACKOFF_MS = 1_000;
export const DEFAULT_WEBHOOK_MAX_BACKOFF_MS = 60_000;

export interface PumpSettings {
  /** Pause between the end of a tick and the next. */
  intervalMs: number;
  /** One delivery attempt, including the answer. */
  webhookTimeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export class Pump {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  /** count: the effects a tick applied (GET /admin/stats). */
  constructor(private readonly db: Knex, private readonly s: PumpSettings, private readonly count: (effects: EffectName[]) => void) {}

  start(): void {
    this.schedule();
  }

  /** Stops ticking and waits for the tick under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().catch((err: unknown) => {
        if (!this.stopped) console.error('processor simulator: pump tick failed:', err);
      }).finally(() => this.schedule());
    }, this.s.intervalMs);
  }

  async tick(): Promise<void> {
    this.count(expiries(await sweepExpiredReservations(this.db)));
    this.count(await decideDueDisputes(this.db));
    await this.deliverDue();
  }

  /** Leases the due events (one short transaction), posts them signed with their endpoint's secret, records each outcome. */
  private async deliverDue(): Promise<void> {
    const leaseSeconds = (this.s.webhookTimeoutMs + 5_000) / 1000;
    const { rows } = await this.db.raw(`
      UPDATE ${T('webhook_events')} w SET next_attempt_at = clock_timestamp() + make_interval(secs => ?), attempts = w.attempts + 1
      FROM ${T('webhook_endpoints')} e
      WHERE e.url = w.url
        AND w.id IN (SELECT id FROM ${T('webhook_events')}
                     WHERE delivered_at IS NULL AND failed_at IS NULL AND url IS NOT NULL AND next_attempt_at <= clock_timestamp()
                     ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
      RETURNING w.id, w.payload, w.attempts, e.url, e.secret`,
    [leaseSeconds, WEBHOOK_BATCH]) as { rows: Array<{ id: string; payload: unknown; attempts: number; url: string; secret: string }> };
    await Promise.all(rows.map(async (w) => {
      const body = JSON.stringify(w.payload);
      const error = await postSigned(w.url, body, signProcessorWebhook(w.secret, w.id, body, Date.now()), this.s.webhookTimeoutMs);
      if (error === null) {
        await this.db(T('webhook_events')).where({ id: w.id }).update({ delivered_at: this.db.raw('clock_timestamp()'), last_error: null });
        this.count(['webhooksDelivered']);
        return;
      }
      this.count(['webhookAttemptsFailed']);
      if (w.attempts >= MAX_WEBHOOK_ATTEMPTS) {
        await this.db(T('webhook_events')).where({ id: w.id }).update({ failed_at: this.db.raw('clock_timestamp()'), last_error: error });
        this.count(['webhooksGivenUp']);
        return;
      }
      const backoffMs = Math.min(this.s.maxBackoffMs, this.s.initialBackoffMs * 2 ** (w.attempts - 1));
      await this.db(T('webhook_events')).where({ id: w.id })
        .update({ next_attempt_at: this.db.raw('clock_timestamp() + make_interval(secs => ?)', [backoffMs / 1000]), last_error: error });
    }));
  }
}
