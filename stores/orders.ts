// Card orders as PostgreSQL keeps them: the orders row (written before the workflow starts, so a repeated request
// is recognized and a stranded order found; the workflow keeps its view current and it outlives the Temporal
// server's retention), the captures and card refunds the ledger's postings are about, and the settlement
// batches captures are submitted in.
import type { OrderInput, OrderView } from '../domain/order';
import type { Db } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';

export interface OrderRow {
  id: string;
  merchantId: string;
  clientOrderId: string;
  customerId: string;
  state: string;
  view: OrderView | null;
  /** The workflow input it was accepted with (null for orders accepted before inputs were kept). */
  input: OrderInput | null;
  createdAt: Date;
}

export interface NewOrder {
  id: string;
  merchantId: string;
  clientOrderId: string;
  customerId: string;
  /** SHA-256 of the creating request: a repeat must be the same request. */
  requestSha256: Buffer;
  currency: string;
  totalMinor: number;
  input: OrderInput;
}

/** A capture of an order, or of a hold (holdId, with orderId null). */
export interface CaptureRow { id: string; orderId: string | null; holdId?: string; merchantId: string; currency: string; amountMinor: number; feeMinor: number }
/** A loyalty reward a merchant signalled for a purchase (the processor's signal id). */
export interface LoyaltyReward { id: string; orderId: string; merchantId: string; captureId: string; program: string; points: number; idempotencyKey: string; createdAt?: Date }
export interface CardRefundRow { id: string; captureId: string; merchantId: string; currency: string; amountMinor: number; feeMinor: number }
export interface BatchRecord { id: string; captureIds: string[]; totals: Record<string, number> }

const loyaltyOf = (r: Record<string, any>): LoyaltyReward => ({
  id: r.id, orderId: r.order_id, merchantId: r.merchant_id, captureId: r.capture_id, program: r.program, points: Number(r.points),
  idempotencyKey: r.idempotency_key, createdAt: r.created_at,
});

const orderOf = (r: Record<string, any>): OrderRow => ({
  id: r.id, merchantId: r.merchant_id, clientOrderId: r.client_order_id, customerId: r.customer_id, state: r.state, view: r.view,
  input: r.input, createdAt: r.created_at,
});

export class OrderStore {
  constructor(private readonly db: Db) {}

  /** Writes the order's row once: 'created', or for a repeat whether it is the same request. */
  async claim(o: NewOrder): Promise<'created' | 'same' | 'different'> {
    const inserted = await this.db('orders').insert({
      id: o.id, merchant_id: o.merchantId, client_order_id: o.clientOrderId, customer_id: o.customerId, request_sha256: o.requestSha256,
      currency: o.currency, total_minor: o.totalMinor, state: o.input.confirmation ? 'awaiting_confirmation' : 'confirmed', input: JSON.stringify(o.input),
    }).onConflict('id').ignore().returning('id');
    if (inserted.length) return 'created';
    const existing = await this.db('orders').where({ id: o.id }).first('request_sha256');
    return (existing.request_sha256 as Buffer).equals(o.requestSha256) ? 'same' : 'different';
  }

  /** Whether the merchant has an order of the customer other than `exceptId` (is this one its first?). */
  async customerHasOrders(merchantId: string, customerId: string, exceptId: string): Promise<boolean> {
    return (await this.db('orders').where({ merchant_id: merchantId, customer_id: customerId }).whereNot({ id: exceptId }).first('id')) !== undefined;
  }

  async get(id: string): Promise<OrderRow | undefined> {
    const r = await this.db('orders').where({ id }).first();
    return r && orderOf(r);
  }

  /**
   * Orders accepted more than olderThanMs ago whose workflow has neither saved a view nor been confirmed to exist,
   * oldest first (the repair loop starts them).
   */
  async unconfirmed(olderThanMs: number, limit: number): Promise<Array<{ id: string; input: OrderInput }>> {
    const rows = await this.db('orders').whereNull('view').whereNull('workflow_confirmed_at').whereNotNull('input')
      .where('created_at', '<', this.db.raw('now() - make_interval(secs => ?)', [olderThanMs / 1000]))
      .orderBy('created_at').limit(limit).select('id', 'input');
    return rows.map((r) => ({ id: r.id as string, input: r.input as OrderInput }));
  }

  /** A page of orders, newest first: a merchant's (or all), in one state if given. */
  async list(req: PageRequest & { merchantId?: string; state?: string }): Promise<Page<OrderRow>> {
    const visible = () => this.visibleTo(req.merchantId);
    // (a cursor may be an order whose state has changed since its page)
    return pageOf(() => (req.state ? visible().where({ state: req.state }) : visible()), req, orderOf, { cursors: visible });
  }

  /**
   * Orders held for an operator's AVS review and not yet decided, oldest first (of one merchant, when given): the
   * review queue, from the views the workflows save (those saved before views had a review deadline left out).
   */
  async awaitingReview(req: PageRequest & { merchantId?: string }): Promise<Page<OrderRow>> {
    const visible = () => this.visibleTo(req.merchantId);
    return pageOf(() => visible().where({ state: 'authorized_minus_avs' }).whereRaw(`view->'review' = 'null'::jsonb`)
      .whereRaw(`view->>'reviewDeadline' IS NOT NULL`), req, orderOf, { oldestFirst: true, cursors: visible });
  }

  /** A merchant's orders, or every order (undefined: an operator's view). */
  private visibleTo(merchantId: string | undefined) {
    return merchantId === undefined ? this.db('orders') : this.db('orders').where({ merchant_id: merchantId });
  }

  /** The order's workflow exists (started now, or found running or closed). */
  async confirmWorkflow(id: string): Promise<void> {
    await this.db('orders').where({ id }).whereNull('workflow_confirmed_at').update({ workflow_confirmed_at: this.db.fn.now() });
  }

  /** The workflow's view of the order, as the read model. */
  /** Saves the order's view; the state it had before (undefined: no such row). */
  async save(view: OrderView): Promise<string | undefined> {
    const { rows } = await this.db.raw(`
      UPDATE orders o SET state = :state, needs_attention = :attention, view = :view, updated_at = now()
      FROM (SELECT id, state FROM orders WHERE id = :id FOR UPDATE) old WHERE o.id = old.id
      RETURNING old.state AS previous`, { id: view.id, state: view.state, attention: view.needsAttention, view: JSON.stringify(view) });
    return rows[0]?.previous;
  }

  /** The settlement batch of each of the order's captures (null while in none). */
  /** Each capture of these orders with its settlement batch (null: not batched yet). */
  async captureBatches(...orderIds: string[]): Promise<Map<string, string | null>> {
    const rows = await this.db('captures').whereIn('order_id', orderIds).select('id', 'batch_id');
    return new Map(rows.map((x) => [x.id as string, x.batch_id as string | null]));
  }

  // --- captures and card refunds ----------------------------------------------------------------------

  async addCapture(c: CaptureRow): Promise<void> {
    await this.db('captures').insert({
      id: c.id, order_id: c.orderId, hold_id: c.holdId ?? null, merchant_id: c.merchantId, currency: c.currency, amount_minor: c.amountMinor, fee_minor: c.feeMinor,
    }).onConflict('id').ignore();
  }

  async addLoyalty(l: LoyaltyReward): Promise<LoyaltyReward> {
    await this.db('loyalty_rewards').insert({ id: l.id, order_id: l.orderId, merchant_id: l.merchantId, capture_id: l.captureId, program: l.program,
      points: l.points, idempotency_key: l.idempotencyKey }).onConflict(['merchant_id', 'idempotency_key']).ignore();
    return (await this.loyaltyByKey(l.merchantId, l.idempotencyKey))!;
  }

  async loyaltyByKey(merchantId: string, idempotencyKey: string): Promise<LoyaltyReward | undefined> {
    const r = await this.db('loyalty_rewards').where({ merchant_id: merchantId, idempotency_key: idempotencyKey }).first();
    return r && loyaltyOf(r);
  }

  /** The loyalty rewards of these orders, oldest first. */
  async loyaltyOf(orderIds: string[]): Promise<LoyaltyReward[]> {
    if (orderIds.length === 0) return [];
    return (await this.db('loyalty_rewards').whereIn('order_id', orderIds).orderBy([{ column: 'created_at' }, { column: 'id' }])).map(loyaltyOf);
  }

  /** A card refund (a seller's period credit for card orders is its captures less these). */
  async addCardRefund(r: CardRefundRow): Promise<void> {
    await this.db('card_refunds').insert({
      id: r.id, capture_id: r.captureId, merchant_id: r.merchantId, currency: r.currency, amount_minor: r.amountMinor, fee_minor: r.feeMinor,
    }).onConflict('id').ignore();
  }

  // --- settlement batches ----------------------------------------------------------------------------

  /**
   * Claims up to `limit` captures no batch has claimed, oldest first, for this batch. Concurrent runs skip each
   * other's rows, so a capture goes to one batch only; a retry with the same claim gets the same rows.
   */
  claimCaptures(claim: string, limit: number): Promise<string[]> {
    return this.db.transaction(async (trx) => {
      const mine = await trx('captures').where({ batch_claim: claim }).orderBy([{ column: 'created_at' }, { column: 'id' }]).select('id');
      if (mine.length) return mine.map((r) => r.id as string);
      const { rows } = await trx.raw(`
        UPDATE captures SET batch_claim = ? WHERE id IN (
          SELECT id FROM captures WHERE batch_claim IS NULL ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
        RETURNING id, created_at`, [claim, limit]);
      return (rows as Array<{ id: string; created_at: Date }>)
        .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id)).map((r) => r.id);
    });
  }

  /** Marks each capture with its batch; a capture already in a batch keeps its first one. Returns how many were marked. */
  recordBatch(batch: BatchRecord, workflowId: string): Promise<number> {
    return this.db.transaction(async (trx) => {
      await trx('settlement_batches').insert({
        id: batch.id, workflow_id: workflowId, capture_count: batch.captureIds.length, totals: JSON.stringify(batch.totals),
      }).onConflict('id').ignore();
      return Number(await trx('captures').whereIn('id', batch.captureIds).whereNull('batch_id').update({ batch_id: batch.id }));
    });
  }
}
