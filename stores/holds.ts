// Fund holds as PostgreSQL keeps them (migration 027): a hold's row before its workflow starts, named by the merchant's
// Idempotency-Key, with its view as the workflow saves it.
import type { HoldInput, HoldView } from '../domain/holds';
import type { Db } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';

export interface HoldRow {
  id: string;
  merchantId: string;
  input: HoldInput;
  view: HoldView | null;
  state: string;
  createdAt: Date;
}

const holdOf = (r: Record<string, any>): HoldRow => ({
  id: r.id, merchantId: r.merchant_id, input: r.input, view: r.view, state: r.state, createdAt: r.created_at,
});

export class HoldStore {
  constructor(private readonly db: Db) {}

  /** The hold under the merchant's key: made now, the same request's, or another request's (a reused key). */
  async claim(h: { merchantId: string; idempotencyKey: string; requestSha256: Buffer; input: HoldInput }):
  Promise<{ row: HoldRow; claim: 'created' | 'same' | 'different' }> {
    const [inserted] = await this.db('holds').insert({
      id: h.input.holdId, merchant_id: h.merchantId, idempotency_key: h.idempotencyKey, request_sha256: h.requestSha256,
      input: JSON.stringify(h.input),
    }).onConflict(['merchant_id', 'idempotency_key']).ignore().returning('*');
    if (inserted) return { row: holdOf(inserted), claim: 'created' };
    const existing = await this.db('holds').where({ merchant_id: h.merchantId, idempotency_key: h.idempotencyKey }).first();
    return { row: holdOf(existing), claim: (existing.request_sha256 as Buffer).equals(h.requestSha256) ? 'same' : 'different' };
  }

  async hold(id: string): Promise<HoldRow | undefined> {
    const r = await this.db('holds').where({ id }).first();
    return r && holdOf(r);
  }

  /** The hold behind a processor's reservation (its webhooks name the reservation). */
  async byReservation(reservationId: string): Promise<HoldRow | undefined> {
    const r = await this.db('holds').where({ reservation_id: reservationId }).first();
    return r && holdOf(r);
  }

  async save(view: HoldView): Promise<void> {
    await this.db('holds').where({ id: view.id }).update({ view: JSON.stringify(view), state: view.state, reservation_id: view.reservationId });
  }

  /** A merchant's holds, newest first (of one state when asked). */
  list(req: PageRequest & { merchantId: string; state?: string }): Promise<Page<HoldRow>> {
    return pageOf(() => this.db('holds').where({ merchant_id: req.merchantId, ...(req.state ? { state: req.state } : {}) }), req, holdOf);
  }
}
