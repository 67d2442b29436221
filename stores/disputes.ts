// Disputes as PostgreSQL keeps them (migration 028): a dispute's row from the processor's notice, the evidence the
// merchant drafts on it (the database decides whether it may still change: open, not submitted, before the deadline,
// by its own clock), the view its workflow saves, and what it moves on the merchant's balance for the next payout.
import { type DisputeInput, type DisputeReason, type DisputeState, DisputeError, type DisputeView, type Evidence, mergeEvidence } from '../domain/disputes';
import type { Db } from '../ledger/db';
import { given, type Page, pageOf, type PageRequest } from './page';

export interface DisputeRow {
  id: string;
  /** Null: a period charge's dispute (the broker's). */
  merchantId: string | null;
  captureId: string | null;
  chargeId: string | null;
  reason: DisputeReason;
  state: DisputeState;
  amountMinor: number;
  feeMinor: number;
  currency: string;
  evidence: Evidence;
  evidenceSubmittedAt: Date | null;
  evidenceDueBy: Date;
  view: DisputeView | null;
  createdAt: Date;
}

/** A capture as a dispute needs it: whose it is (an order's or a hold's) and what the broker took as its fee. */
export interface CaptureOwner {
  id: string;
  merchantId: string;
  orderId: string | null;
  holdId: string | null;
  currency: string;
  amountMinor: number;
  feeMinor: number;
}

const disputeOf = (r: Record<string, any>): DisputeRow => ({
  id: r.id, merchantId: r.merchant_id, captureId: r.capture_id, chargeId: r.charge_id, reason: r.reason, state: r.state,
  amountMinor: Number(r.amount_minor), feeMinor: Number(r.fee_minor), currency: r.currency.trim(), evidence: r.evidence,
  evidenceSubmittedAt: r.evidence_submitted_at, evidenceDueBy: r.evidence_due_by, view: r.view, createdAt: r.created_at,
});

export class DisputeStore {
  constructor(private readonly db: Db) {}

  async capture(id: string): Promise<CaptureOwner | undefined> {
    const r = await this.db('captures').where({ id }).first();
    return r && { id: r.id, merchantId: r.merchant_id, orderId: r.order_id, holdId: r.hold_id, currency: r.currency.trim(),
      amountMinor: Number(r.amount_minor), feeMinor: Number(r.fee_minor ?? 0) };
  }

  /** The dispute's row (made once: a repeated notice finds it). */
  async open(i: DisputeInput): Promise<DisputeRow> {
    await this.db('disputes').insert({
      id: i.disputeId, merchant_id: i.merchantId, capture_id: i.captureId, charge_id: i.chargeId, period_seq: i.invoice?.periodSeq ?? null,
      buyer_id: i.invoice?.buyerId ?? null, reason: i.reason, currency: i.currency,
      amount_minor: i.amountMinor, fee_minor: i.feeMinor, evidence_due_by: i.evidenceDueBy,
    }).onConflict('id').ignore();
    return (await this.dispute(i.disputeId))!;
  }

  async dispute(id: string): Promise<DisputeRow | undefined> {
    const r = await this.db('disputes').where({ id }).first();
    return r && disputeOf(r);
  }

  /** The disputes of these orders (an order's GET shows them). */
  async ofOrders(orderIds: string[]): Promise<DisputeView[]> {
    if (orderIds.length === 0) return [];
    const rows = await this.db('disputes as d').join('captures as c', 'c.id', 'd.capture_id').whereIn('c.order_id', orderIds)
      .whereNotNull('d.view').orderBy('d.created_at').select('d.view');
    return rows.map((r) => r.view as DisputeView);
  }

  /** A merchant's disputes (or, no merchant given, every dispute), newest first. */
  list(req: PageRequest & { merchantId?: string; state?: string }): Promise<Page<DisputeRow>> {
    return pageOf(() => this.db('disputes').where(given({ merchant_id: req.merchantId, state: req.state })), req, disputeOf);
  }

  /** The paid invoice a period charge paid (a buyer's, of a period), if the broker made that charge. */
  async invoiceOfCharge(chargeId: string): Promise<{ periodSeq: number; buyerId: string } | undefined> {
    const r = await this.db('invoices').where({ charge_id: chargeId }).first('period_seq', 'buyer_id');
    return r && { periodSeq: r.period_seq, buyerId: r.buyer_id };
  }

  async save(view: DisputeView): Promise<void> {
    await this.db('disputes').where({ id: view.id }).update({ view: JSON.stringify(view), state: view.state });
  }

  /** Changes the draft evidence while the dispute takes it; refused (DisputeError) otherwise. */
  async draft(id: string, change: Evidence): Promise<DisputeRow> {
    return this.db.transaction(async (trx) => {
      const r = await trx('disputes').where({ id }).forUpdate().first(trx.raw('*, now() AS db_now'));
      if (!r) throw new Error(`no dispute ${id}`);
      if (r.state !== 'needs_response' || r.evidence_submitted_at) {
        throw new DisputeError('dispute_not_open', `The dispute is ${r.evidence_submitted_at ? 'submitted' : r.state}: its evidence can no longer change`);
      }
      if (r.db_now >= r.evidence_due_by) throw new DisputeError('evidence_past_due', 'The evidence deadline has passed');
      const evidence = mergeEvidence(r.evidence, change);
      const [row] = await trx('disputes').where({ id }).update({ evidence: JSON.stringify(evidence) }).returning('*');
      return disputeOf(row);
    });
  }

  /**
   * Freezes the draft for submission (once; before the deadline by the database's clock) and returns it; the same on a
   * repeat after it was frozen. Undefined when the deadline passed first, or nothing was drafted.
   */
  async freeze(id: string): Promise<Evidence | undefined> {
    const [row] = await this.db('disputes').where({ id }).whereNull('evidence_submitted_at').whereRaw('now() < evidence_due_by')
      .whereRaw("evidence <> '{}'::jsonb").update({ evidence_submitted_at: this.db.fn.now() }).returning('evidence');
    if (row) return row.evidence as Evidence;
    const r = await this.db('disputes').where({ id }).first('evidence', 'evidence_submitted_at');
    return r?.evidence_submitted_at ? r.evidence as Evidence : undefined;
  }

  /** What a dispute's step moved on the merchant's balance (once per step), for the next payout. */
  async move(m: { disputeId: string; step: string; merchantId: string; currency: string; amountMinor: number }): Promise<void> {
    if (m.amountMinor === 0) return;
    await this.db('dispute_movements').insert({ id: `${m.disputeId}:${m.step}`, dispute_id: m.disputeId, merchant_id: m.merchantId,
      currency: m.currency, amount_minor: m.amountMinor }).onConflict('id').ignore();
  }
}
