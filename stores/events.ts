// Events as objects: each business event once (idempotent on its id), listed and read by the API for
// EVENT_RETENTION_DAYS, then purged together with the delivery attempts of that age.
import type { Db } from '../ledger/db';
import { given, type Page, pageOf, type PageRequest } from './page';

/** How long events (and delivery attempts) are kept. */
export const EVENT_RETENTION_DAYS = 30;
/** Rows deleted per statement by a purge, so no statement holds its locks long. */
const PURGE_BATCH = 5000;

export interface StoredEvent {
  id: string;
  merchantId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

const eventOf = (e: Record<string, any>): StoredEvent => ({ id: e.id, merchantId: e.merchant_id, type: e.type, data: e.data, createdAt: e.created_at });

export class EventStore {
  constructor(private readonly db: Db) {}

  /** Writes the event once: a repeat with its id returns the event as first written (its time and data). */
  async record(e: { id: string; merchantId: string; type: string; data: Record<string, unknown> }): Promise<StoredEvent> {
    const [row] = await this.db('events').insert({ id: e.id, merchant_id: e.merchantId, type: e.type, data: JSON.stringify(e.data) })
      .onConflict('id').merge(['id']).returning('*');
    return eventOf(row);
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const row = await this.db('events').where({ id }).first();
    return row && eventOf(row);
  }

  /** A page of events, newest first: one merchant's, or everyone's (undefined); of one type. */
  async list(req: PageRequest & { merchantId?: string; type?: string }): Promise<Page<StoredEvent>> {
    return pageOf(() => this.db('events').where(given({ merchant_id: req.merchantId, type: req.type })), req, eventOf);
  }

  /** Deletes the events and delivery attempts older than EVENT_RETENTION_DAYS; returns how many of each. */
  async purgeExpired(): Promise<{ events: number; attempts: number }> {
    const purge = async (table: string) => {
      let total = 0;
      for (;;) {
        const n = await this.db(table).whereIn('id', this.db(table).select('id')
          .where('created_at', '<', this.db.raw('now() - make_interval(days => ?)', [EVENT_RETENTION_DAYS])).limit(PURGE_BATCH)).del();
        total += n;
        if (n < PURGE_BATCH) return total;
      }
    };
    // the attempts first: once an event is gone (GET /v1/events/:id is 404), so are the attempts of its age
    const attempts = await purge('delivery_attempts');
    return { events: await purge('events'), attempts };
  }
}
