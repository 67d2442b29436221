// The ledger's side of reconciliation: every record of money moved that the processor also keeps (captures,
// card refunds, charged invoices, paid seller credits and merchant payouts, settlement batches), by the
// processor's id, as the processor's reports give them (processors/simulator's reports have the same shape); and
// one row per reconciled day with its figures.
import type { Db } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';

export interface LedgerRecord {
  id: string;
  kind: 'capture' | 'refund' | 'charge' | 'payout' | 'batch';
  amountMinor: number;
  currency: string;
  createdAt: string;
}

export interface Reconciliation {
  day: string;
  workflowId: string;
  state: 'running' | 'done';
  processorRecords: number;
  ledgerRecords: number;
  mismatches: number;
  createdAt: Date;
  finishedAt: Date | null;
}

// (each branch keeps its own index: the planner pushes the time or id condition into every one)
const RECORDS = `
  SELECT id, 'capture' AS kind, amount_minor, currency::text AS currency, created_at FROM captures
  UNION ALL SELECT id, 'refund', amount_minor, currency::text, created_at FROM card_refunds
  UNION ALL SELECT charge_id, 'charge', amount_minor, currency::text, paid_at FROM invoices WHERE charge_id IS NOT NULL AND state = 'paid'
  UNION ALL SELECT payout_id, 'payout', amount_minor, currency::text, paid_at FROM seller_credits WHERE payout_id IS NOT NULL AND state = 'paid'
  UNION ALL SELECT processor_payout_id, 'payout', amount_minor, currency::text, paid_at FROM payouts WHERE processor_payout_id IS NOT NULL
  UNION ALL SELECT b.id, 'batch', t.amount, t.currency, b.created_at FROM settlement_batches b,
    LATERAL (SELECT sum(value::bigint) AS amount, string_agg(key, '+' ORDER BY key) AS currency FROM jsonb_each_text(b.totals)) t`;

/** The kind of problem a mismatch is. */
export const MISMATCH = 'reconciliation_mismatch';

const recordOf = (r: Record<string, any>): LedgerRecord => ({ id: r.id, kind: r.kind, amountMinor: Number(r.amount_minor),
  currency: r.currency, createdAt: (r.created_at as Date).toISOString() });
const reconciliationOf = (r: Record<string, any>): Reconciliation => ({ day: r.id, workflowId: r.workflow_id, state: r.state,
  processorRecords: r.processor_records, ledgerRecords: r.ledger_records, mismatches: r.mismatches, createdAt: r.created_at,
  finishedAt: r.finished_at });

export class ReconciliationStore {
  constructor(private readonly db: Db) {}

  /**
   * A page of the ledger's records made in [from, to), oldest first, after an opaque cursor (the last record's time
   * to the microsecond, and its id) so no record is skipped or repeated between pages.
   */
  async recordsBetween(from: Date, to: Date, cursor: string | null, limit: number): Promise<{ data: LedgerRecord[]; next: string | null }> {
    const [at, id] = cursor === null ? [null, null] : cursor.split('|', 2);
    const { rows } = await this.db.raw(`SELECT r.*, r.created_at::text || '|' || r.id AS cursor FROM (${RECORDS}) r
      WHERE r.created_at >= ? AND r.created_at < ? AND (?::timestamptz IS NULL OR (r.created_at, r.id) > (?::timestamptz, ?::text))
      ORDER BY r.created_at, r.id LIMIT ?`, [from, to, at, at, id, limit + 1]) as { rows: Array<Record<string, any>> };
    const page = rows.slice(0, limit);
    return { data: page.map(recordOf), next: rows.length > limit ? page.at(-1)!.cursor : null };
  }

  /** The ledger's records with these processor ids. */
  async recordsById(ids: string[]): Promise<LedgerRecord[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.db.raw(`SELECT r.* FROM (${RECORDS}) r WHERE r.id = ANY(?::text[])`, [ids]) as { rows: Array<Record<string, any>> };
    return rows.map(recordOf);
  }

  /** The day's reconciliation begins (again: its figures start afresh). */
  async begin(day: string, workflowId: string): Promise<void> {
    await this.db('reconciliations').insert({ id: day, workflow_id: workflowId, state: 'running' }).onConflict('id')
      .merge({ workflow_id: workflowId, state: 'running', processor_records: 0, ledger_records: 0, mismatches: 0, finished_at: null,
        started_at: this.db.fn.now() });
  }

  /**
   * The day's figures; and the mismatches an earlier run of the day reported that this run did not see again (not
   * recorded since it began) are resolved, saying so.
   */
  async finish(day: string, f: { processorRecords: number; ledgerRecords: number; mismatches: number }): Promise<void> {
    await this.db.transaction(async (trx) => {
      const [r] = await trx('reconciliations').where({ id: day }).update({ state: 'done', processor_records: f.processorRecords,
        ledger_records: f.ledgerRecords, mismatches: f.mismatches, finished_at: trx.fn.now() }).returning(['workflow_id', 'started_at']);
      if (!r) return;
      // (started_at compared in SQL: a JavaScript Date would drop its microseconds)
      await trx('problems').where({ workflow_id: r.workflow_id, kind: MISMATCH }).whereNull('resolved_at')
        .whereRaw('seen_at < (SELECT started_at FROM reconciliations WHERE id = ?)', [day])
        .update({ resolved_at: trx.fn.now(), resolved_by: 'reconciliation', resolution_note: `Not found again by the reconciliation of ${day}` });
    });
  }

  async get(day: string): Promise<Reconciliation | undefined> {
    const r = await this.db('reconciliations').where({ id: day }).first();
    return r && reconciliationOf(r);
  }

  /** Reconciled days, newest first. */
  async list(req: PageRequest): Promise<Page<Reconciliation>> {
    return pageOf(() => this.db('reconciliations'), req, reconciliationOf);
  }
}
