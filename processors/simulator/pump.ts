// The simulator's background work, one tick at a time in every simulator process (several processes sharing one
// database divide it: each batch is taken FOR UPDATE SKIP LOCKED): the sweep that expires due reservations.
import type { Knex } from 'knex';
import type { EffectName } from './common';
import { sweepExpiredReservations } from './reservations';

/** Pause between ticks unless configured otherwise. */
export const DEFAULT_PUMP_INTERVAL_MS = 500;

export interface PumpSettings {
  /** Pause between the end of a tick and the next. */
  intervalMs: number;
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
    const expired = await sweepExpiredReservations(this.db);
    this.count(expired.map(() => 'reservationExpiries'));
  }
}
