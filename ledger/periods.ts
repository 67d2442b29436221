// Settlement periods of micro-payments as PostgreSQL keeps them: freezing the open period, the invoices and credits
// a period's payments come to (computed here in SQL over the whole period at once; the arithmetic is domain/
// settlement.ts's, which test/ledger/periods.test.ts checks against this on random periods), their charge and
// payout state, dunning retries, and what statements show. Every write is idempotent per period, buyer and seller.
import { periodId } from '../domain/micropayments';
import type { PeriodTotals } from '../domain/settlement';
import { accounts, buyerReceivable, sellerPayable } from './accounts';
import type { Db } from './db';
import { Ledger, LedgerError } from './ledger';

/** The advisory lock between recording (shared; open_period_for_recording in migrations/005) and a freeze (exclusive). */
export const PERIOD_LOCK_KEY = 1346523218;
/** Invoices and credits listed on a statement. */
export const STATEMENT_HISTORY = 12;

export type PeriodState = 'open' | 'frozen' | 'closed';

export interface Period {
  seq: number;
  state: PeriodState;
  openedAt: Date;
  frozenAt: Date | null;
  closedAt: Date | null;
  workflowId: string | null;
  totals: PeriodTotals | null;
}

export interface Invoice {
  id: string; periodSeq: number; buyerId: string; currency: string; paymentCount: number; grossMinor: number; refundedMinor: number;
  carriedMinor: number; amountMinor: number; state: string; chargeId: string | null; declineCode: string | null; attempts: number;
  paidAt: Date | null;
}

export interface Credit {
  id: string; periodSeq: number; sellerId: string; currency: string; paymentCount: number; salesMinor: number; feeMinor: number;
  refundedMinor: number; cardMinor: number; carriedMinor: number; amountMinor: number; state: string; payoutId: string | null;
  failureCode: string | null; paidAt: Date | null;
}

/** An invoice to charge: its line in a processor charge file. */
export interface InvoiceToCharge { buyerId: string; currency: string; amountMinor: number; state: string; chargeToken: string }
/** A credit to pay out, with the seller's destination; cardMinor is its card-order part. */
export interface CreditToPay { sellerId: string; currency: string; amountMinor: number; state: string; cardMinor: number; payoutDestination: string }

export const invoiceOf = (r: Record<string, any>): Invoice => ({
  id: r.id, periodSeq: r.period_seq, buyerId: r.buyer_id, currency: r.currency.trim(), paymentCount: r.payment_count,
  grossMinor: Number(r.gross_minor), refundedMinor: Number(r.refunded_minor), carriedMinor: Number(r.carried_minor),
  amountMinor: Number(r.amount_minor), state: r.state, chargeId: r.charge_id, declineCode: r.decline_code, attempts: r.attempts,
  paidAt: r.paid_at,
});
export const creditOf = (r: Record<string, any>): Credit => ({
  id: r.id, periodSeq: r.period_seq, sellerId: r.seller_id, currency: r.currency.trim(), paymentCount: r.payment_count,
  salesMinor: Number(r.sales_minor), feeMinor: Number(r.fee_minor), refundedMinor: Number(r.refunded_minor),
  cardMinor: Number(r.card_minor), carriedMinor: Number(r.carried_minor), amountMinor: Number(r.amount_minor), state: r.state,
  payoutId: r.payout_id, failureCode: r.failure_code, paidAt: r.paid_at,
});
export const periodOf = (p: Record<string, any>): Period => ({
  seq: p.seq, state: p.state, openedAt: p.opened_at, frozenAt: p.frozen_at, closedAt: p.closed_at, workflowId: p.workflow_id,
  totals: p.totals,
});

export class Periods {
  private readonly ledger: Ledger;

  constructor(private readonly db: Db) {
    this.ledger = new Ledger(db);
  }

  async get(seq: number): Promise<Period | undefined> {
    const p = await this.db('settlement_periods').where({ seq }).first();
    return p && periodOf(p);
  }

  /** The settlement period open now (one always is). */
  async openSeq(): Promise<number> {
    const row = await this.db('settlement_periods').where({ state: 'open' }).first('seq');
    if (!row) throw new Error('no settlement period is open');
    return row.seq;
  }

  /** The newest period (the open one). */
  async latestSeq(): Promise<number> {
    return (await this.db('settlement_periods').max({ seq: 'seq' }).first())!.seq;
  }

  /**
   * Freezes the period and opens the next: waits for payments being written into it (they hold the period lock
   * shared), after which every payment lands in the next period. The sellers' card-order captures and refunds, and
   * what disputes of those captures moved, made before the freeze are assigned to it in the same transaction. Repeating it changes nothing.
   */
  async freeze(seq: number, workflowId: string): Promise<Date> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [PERIOD_LOCK_KEY]);
      const [row] = await trx('settlement_periods').where({ seq, state: 'open' })
        // the moment the lock was granted: every payment of the period was begun before it
        .update({ state: 'frozen', frozen_at: trx.raw('clock_timestamp()'), workflow_id: workflowId }).returning('frozen_at');
      if (!row) {
        const p = await trx('settlement_periods').where({ seq }).first();
        if (!p || p.state === 'open') throw new Error(`settlement period ${periodId(seq)} does not exist`);
        return p.frozen_at as Date;
      }
      await trx('settlement_periods').insert({ seq: seq + 1, state: 'open' });
      for (const table of ['captures', 'card_refunds', 'dispute_movements']) {
        // (frozen_at compared in SQL: a JavaScript Date holds milliseconds, and a row made in the same millisecond
        // just before the freeze would fall into the next period)
        await trx.raw(`UPDATE ${table} SET period_seq = :seq WHERE period_seq IS NULL
          AND created_at < (SELECT frozen_at FROM settlement_periods WHERE seq = :seq)
          AND payout_id IS NULL AND merchant_id IN (SELECT id FROM sellers)`, { seq });
      }
      return row.frozen_at as Date;
    });
  }

  /**
   * One invoice per buyer and one credit per seller, written once in one transaction (domain/settlement.ts's
   * arithmetic, in SQL): a buyer's purchases less refunds, a seller's sales less fees, less refunds net of their
   * fees, plus card-order captures less card refunds, net of fees, and what disputes of them moved; each plus what the party's latest earlier
   * invoice or credit carries (carriedInto). An invoice or credit is pending when something is due (dueState).
   */
  async aggregate(seq: number): Promise<void> {
    await this.db.transaction(async (trx) => {
      const p = await trx('settlement_periods').where({ seq }).first('state');
      if (p?.state !== 'frozen' && p?.state !== 'closed') throw new Error(`settlement period ${periodId(seq)} is not frozen`);
      if (await trx('invoices').where({ period_seq: seq }).first('buyer_id') || await trx('seller_credits').where({ period_seq: seq }).first('seller_id')) {
        return; // aggregated before
      }
      await trx.raw(`
        WITH t AS (
               SELECT buyer_id, currency, sum(n) AS n, sum(gross) AS gross, sum(refunded) AS refunded FROM (
                 SELECT buyer_id, currency, count(*) AS n, sum(amount_minor) AS gross, 0 AS refunded
                   FROM micro_payments WHERE period_seq = :seq GROUP BY buyer_id, currency
                 UNION ALL
                 SELECT buyer_id, currency, 0, 0, sum(amount_minor) FROM micro_refunds WHERE period_seq = :seq GROUP BY buyer_id, currency
               ) x GROUP BY buyer_id, currency),
             prev AS (SELECT DISTINCT ON (i.buyer_id) i.buyer_id, least(i.amount_minor, 0) AS carried FROM invoices i
                      WHERE i.period_seq < :seq AND i.buyer_id IN (SELECT buyer_id FROM t) ORDER BY i.buyer_id, i.period_seq DESC),
             v AS (SELECT t.*, coalesce(prev.carried, 0) AS carried, t.gross - t.refunded + coalesce(prev.carried, 0) AS due
                   FROM t LEFT JOIN prev ON prev.buyer_id = t.buyer_id)
        INSERT INTO invoices (period_seq, buyer_id, currency, payment_count, gross_minor, refunded_minor, carried_minor, amount_minor,
          state, charge_token)
        SELECT :seq, v.buyer_id, v.currency, v.n, v.gross, v.refunded, v.carried, v.due,
          CASE WHEN v.due > 0 THEN 'pending' ELSE 'nothing_due' END, b.payment_token
        FROM v JOIN buyers b ON b.id = v.buyer_id`, { seq });
      await trx.raw(`
        WITH m AS (SELECT seller_id, count(*) AS n, sum(amount_minor) AS sales, sum(fee_minor) AS fee
                     FROM micro_payments WHERE period_seq = :seq GROUP BY seller_id),
             r AS (SELECT seller_id, sum(amount_minor - fee_minor) AS refunded FROM micro_refunds WHERE period_seq = :seq GROUP BY seller_id),
             c AS (SELECT merchant_id AS seller_id, sum(card) AS card FROM (
                     SELECT merchant_id, amount_minor - coalesce(fee_minor, 0) AS card FROM captures WHERE period_seq = :seq
                     UNION ALL
                     SELECT merchant_id, -(amount_minor - fee_minor) FROM card_refunds WHERE period_seq = :seq
                     UNION ALL
                     -- what disputes of its card captures withdrew (negative) or returned
                     SELECT merchant_id, amount_minor FROM dispute_movements WHERE period_seq = :seq) x GROUP BY merchant_id),
             ids AS (SELECT seller_id FROM m UNION SELECT seller_id FROM r UNION SELECT seller_id FROM c),
             prev AS (SELECT DISTINCT ON (k.seller_id) k.seller_id, least(k.amount_minor, 0) AS carried FROM seller_credits k
                      WHERE k.period_seq < :seq AND k.seller_id IN (SELECT seller_id FROM ids) ORDER BY k.seller_id, k.period_seq DESC),
             t AS (SELECT ids.seller_id, s.currency, coalesce(m.n, 0) AS n, coalesce(m.sales, 0) AS sales, coalesce(m.fee, 0) AS fee,
                     coalesce(r.refunded, 0) AS refunded, coalesce(c.card, 0) AS card, coalesce(prev.carried, 0) AS carried
                   FROM ids JOIN sellers s ON s.id = ids.seller_id
                   LEFT JOIN m ON m.seller_id = ids.seller_id LEFT JOIN r ON r.seller_id = ids.seller_id
                   LEFT JOIN c ON c.seller_id = ids.seller_id LEFT JOIN prev ON prev.seller_id = ids.seller_id)
        INSERT INTO seller_credits (period_seq, seller_id, currency, payment_count, sales_minor, fee_minor, refunded_minor,
          card_minor, carried_minor, amount_minor, state)
        SELECT :seq, seller_id, currency, n, sales, fee, refunded, card, carried, sales - fee - refunded + card + carried,
          CASE WHEN sales - fee - refunded + card + carried > 0 THEN 'pending' ELSE 'nothing_due' END
        FROM t`, { seq });
    });
  }

  /** What the period's invoices and credits add up to, per currency. */
  async totals(seq: number): Promise<PeriodTotals> {
    const [{ rows: inv }, { rows: cred }] = await Promise.all([
      this.db.raw(`SELECT currency, count(*) AS parties, sum(payment_count) AS payments, sum(gross_minor) AS gross,
        sum(refunded_minor) AS refunded, coalesce(sum(amount_minor) FILTER (WHERE state <> 'nothing_due'), 0) AS due
        FROM invoices WHERE period_seq = ? GROUP BY currency`, [seq]),
      this.db.raw(`SELECT currency, count(*) AS parties, sum(fee_minor) AS fee,
        coalesce(sum(amount_minor) FILTER (WHERE state <> 'nothing_due'), 0) AS due
        FROM seller_credits WHERE period_seq = ? GROUP BY currency`, [seq]),
    ]) as Array<{ rows: Array<Record<string, string>> }>;
    const per = (rows: Array<Record<string, string>>, f: string) => Object.fromEntries(rows.map((r) => [r.currency.trim(), Number(r[f])]));
    const total = (rows: Array<Record<string, string>>, f: string) => rows.reduce((a, r) => a + Number(r[f]), 0);
    return {
      paymentCount: total(inv, 'payments'), buyers: total(inv, 'parties'), sellers: total(cred, 'parties'),
      grossMinor: per(inv, 'gross'), feeMinor: per(cred, 'fee'), refundedMinor: per(inv, 'refunded'),
      invoicedMinor: per(inv, 'due'), creditedMinor: per(cred, 'due'),
    };
  }

  /** Marks the period closed with its totals (once). */
  async close(seq: number): Promise<PeriodTotals> {
    const totals = await this.totals(seq);
    await this.db('settlement_periods').where({ seq }).whereNot({ state: 'closed' })
      .update({ state: 'closed', closed_at: this.db.fn.now(), totals: JSON.stringify(totals) });
    return totals;
  }

  // --- charging invoices and paying credits ----------------------------------------------------------------

  /** The next `limit` invoices with something due after the cursor (by buyer id), charged or not. */
  async invoicesAfter(seq: number, after: string | null, limit: number): Promise<InvoiceToCharge[]> {
    const rows = await this.db('invoices').where({ period_seq: seq }).whereNot({ state: 'nothing_due' })
      .modify((q) => { if (after !== null) q.where('buyer_id', '>', after); })
      .orderBy('buyer_id').limit(limit).select('buyer_id', 'currency', 'amount_minor', 'state', 'charge_token');
    return rows.map((r: Record<string, any>) => ({ buyerId: r.buyer_id, currency: r.currency.trim(), amountMinor: Number(r.amount_minor), state: r.state,
      chargeToken: r.charge_token }));
  }

  /** The outcome of each pending invoice's charge (an invoice is marked paid only after its entry is posted). */
  async markCharged(seq: number, results: Array<{ buyerId: string; ok: boolean; chargeId: string | null; declineCode: string | null }>): Promise<void> {
    await this.db.raw(`
      UPDATE invoices i SET state = CASE WHEN u.ok THEN 'paid' ELSE 'failed' END, charge_id = u.charge_id,
        decline_code = u.decline_code, attempts = 1, paid_at = CASE WHEN u.ok THEN now() END
      FROM unnest(?::text[], ?::boolean[], ?::text[], ?::text[]) AS u (buyer_id, ok, charge_id, decline_code)
      WHERE i.period_seq = ? AND i.buyer_id = u.buyer_id AND i.state = 'pending'`, [
      results.map((r) => r.buyerId), results.map((r) => r.ok), results.map((r) => r.chargeId), results.map((r) => r.declineCode), seq] as never);
  }

  /** The next `limit` credits with something due after the cursor (by seller id), with the sellers' destinations. */
  async creditsAfter(seq: number, after: string | null, limit: number): Promise<CreditToPay[]> {
    const rows = await this.db('seller_credits as c').join('sellers as s', 's.id', 'c.seller_id')
      .where({ 'c.period_seq': seq }).whereNot({ 'c.state': 'nothing_due' })
      .modify((q) => { if (after !== null) q.where('c.seller_id', '>', after); })
      .orderBy('c.seller_id').limit(limit)
      .select('c.seller_id', 'c.currency', 'c.amount_minor', 'c.state', 'c.card_minor', 's.payout_destination');
    return rows.map((r: Record<string, any>) => ({ sellerId: r.seller_id, currency: r.currency.trim(), amountMinor: Number(r.amount_minor), state: r.state,
      cardMinor: Number(r.card_minor), payoutDestination: r.payout_destination }));
  }

  /** The outcome of each pending credit's payout. */
  async markPaidOut(seq: number, results: Array<{ sellerId: string; ok: boolean; payoutId: string | null; failureCode: string | null }>): Promise<void> {
    await this.db.raw(`
      UPDATE seller_credits c SET state = CASE WHEN u.ok THEN 'paid' ELSE 'failed' END, payout_id = u.payout_id,
        failure_code = u.failure_code, paid_at = CASE WHEN u.ok THEN now() END
      FROM unnest(?::text[], ?::boolean[], ?::text[], ?::text[]) AS u (seller_id, ok, payout_id, failure_code)
      WHERE c.period_seq = ? AND c.seller_id = u.seller_id AND c.state = 'pending'`, [
      results.map((r) => r.sellerId), results.map((r) => r.ok), results.map((r) => r.payoutId), results.map((r) => r.failureCode), seq] as never);
  }

  // --- dunning ---------------------------------------------------------------------------------------

  /**
   * The invoice for a dunning attempt, with the card the attempt charges: pinned when the attempt first runs, so a
   * retried attempt charges the same card whatever the buyer has put on file since (the next attempt takes the new
   * one). Undefined when there is no such invoice.
   */
  async invoiceForRetry(seq: number, buyerId: string, attempt: number):
    Promise<{ state: string; amountMinor: number; currency: string; token: string } | undefined> {
    await this.db.raw(`UPDATE invoices i SET retry_attempt = ?, retry_token = b.payment_token FROM buyers b
      WHERE b.id = i.buyer_id AND i.period_seq = ? AND i.buyer_id = ? AND i.retry_attempt IS DISTINCT FROM ?`, [attempt, seq, buyerId, attempt]);
    const inv = await this.db('invoices').where({ period_seq: seq, buyer_id: buyerId }).first('state', 'amount_minor', 'currency', 'retry_token');
    return inv && { state: inv.state, amountMinor: Number(inv.amount_minor), currency: inv.currency.trim(), token: inv.retry_token };
  }

  /** A dunning attempt's outcome (attempt n is the invoice's attempt n + 1). */
  async markRetried(seq: number, buyerId: string, attempt: number, r: { chargeId: string } | { declineCode: string }): Promise<void> {
    await this.db('invoices').where({ period_seq: seq, buyer_id: buyerId }).whereNot({ state: 'paid' }).update('chargeId' in r
      ? { state: 'paid', charge_id: r.chargeId, decline_code: null, attempts: attempt + 1, paid_at: this.db.fn.now() }
      : { decline_code: r.declineCode, attempts: attempt + 1 });
  }

  /**
   * After the last retry the invoice is unpaid and the buyer suspended, with `more` (the problem that says so)
   * written in the same transaction; the debt stays on the books.
   */
  async suspendBuyer(seq: number, buyerId: string, more: (trx: Db) => Promise<void>): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx('invoices').where({ period_seq: seq, buyer_id: buyerId, state: 'failed' }).update({ state: 'unpaid' });
      await trx('buyers').where({ id: buyerId }).whereNull('suspended_at')
        .update({ suspended_at: trx.fn.now(), suspended_reason: `invoice for ${periodId(seq)} unpaid` });
      await more(trx);
    });
  }

  // --- what operators and parties read ---------------------------------------------------------------

  /** The open period's figures so far, per currency. */
  async liveTotals(seq: number): Promise<{ paymentCount: number; grossMinor: Record<string, number>; feeMinor: Record<string, number> }> {
    const { rows } = await this.db.raw(`SELECT currency, count(*) AS n, sum(amount_minor) AS gross, sum(fee_minor) AS fee
      FROM micro_payments WHERE period_seq = ? GROUP BY currency`, [seq]) as { rows: Array<Record<string, string>> };
    return {
      paymentCount: rows.reduce((a, x) => a + Number(x.n), 0),
      grossMinor: Object.fromEntries(rows.map((x) => [x.currency.trim(), Number(x.gross)])),
      feeMinor: Object.fromEntries(rows.map((x) => [x.currency.trim(), Number(x.fee)])),
    };
  }

  /** How many of the period's invoices and credits are in each state. */
  async progress(seq: number): Promise<{ invoices: Record<string, number>; credits: Record<string, number> }> {
    const count = async (table: 'invoices' | 'seller_credits') => {
      const rows: Array<{ state: string; n: string }> = await this.db(table).where({ period_seq: seq }).select('state').count({ n: '*' }).groupBy('state');
      return Object.fromEntries(rows.map((x) => [x.state, Number(x.n)]));
    };
    const [invoices, credits] = await Promise.all([count('invoices'), count('seller_credits')]);
    return { invoices, credits };
  }

  async invoice(seq: number, buyerId: string): Promise<Invoice | undefined> {
    const r = await this.db('invoices').where({ period_seq: seq, buyer_id: buyerId }).first();
    return r && invoiceOf(r);
  }

  async credit(seq: number, sellerId: string): Promise<Credit | undefined> {
    const r = await this.db('seller_credits').where({ period_seq: seq, seller_id: sellerId }).first();
    return r && creditOf(r);
  }

  /** A buyer's purchases and refunds in the period, its latest invoices, and what it owes the broker now. */
  async buyerStatement(buyerId: string, currency: string, seq: number) {
    const { rows: [t] } = await this.db.raw(`
      SELECT (SELECT count(*) FROM micro_payments WHERE buyer_id = :id AND period_seq = :seq) AS n,
             (SELECT coalesce(sum(amount_minor), 0) FROM micro_payments WHERE buyer_id = :id AND period_seq = :seq) AS gross,
             (SELECT coalesce(sum(amount_minor), 0) FROM micro_refunds WHERE buyer_id = :id AND period_seq = :seq) AS refunded`,
    { id: buyerId, seq });
    const invoices = await this.db('invoices').where({ buyer_id: buyerId }).orderBy('period_seq', 'desc').limit(STATEMENT_HISTORY);
    // what the buyer owes the broker (purchases not yet charged, and unpaid invoices)
    const receivable = await this.ledger.balance(buyerReceivable(buyerId, currency).id);
    return {
      paymentCount: Number(t.n), grossMinor: BigInt(t.gross), refundedMinor: BigInt(t.refunded),
      invoices: invoices.map(invoiceOf), owedMinor: receivable.amountMinor,
    };
  }

  /** A seller's sales, fees and refunds in the period, its latest credits, and what the broker owes it now. */
  async sellerStatement(sellerId: string, currency: string, seq: number) {
    // (the seller's payments read by its (seller_id, created_at) index, over the period's span: a payment of the
    // period began before the freeze, and at most an hour before the period opened, waiting for the period lock)
    const { rows: [t] } = await this.db.raw(`
      WITH p AS (SELECT count(*) AS n, coalesce(sum(amount_minor), 0) AS sales, coalesce(sum(fee_minor), 0) AS fee
                 FROM micro_payments, settlement_periods sp
                 WHERE sp.seq = :seq AND seller_id = :id AND period_seq = :seq
                   AND created_at >= sp.opened_at - interval '1 hour' AND created_at <= coalesce(sp.frozen_at, 'infinity'))
      SELECT p.n, p.sales, p.fee,
             (SELECT coalesce(sum(amount_minor), 0) FROM micro_refunds WHERE seller_id = :id AND period_seq = :seq) AS refunded,
             (SELECT coalesce(sum(fee_minor), 0) FROM micro_refunds WHERE seller_id = :id AND period_seq = :seq) AS refunded_fee
      FROM p`,
    { id: sellerId, seq });
    const credits = await this.db('seller_credits').where({ seller_id: sellerId }).orderBy('period_seq', 'desc').limit(STATEMENT_HISTORY);
    const [micro, card] = await Promise.all([
      this.ledger.balance(sellerPayable(sellerId, currency).id),
      // (a seller that never had card orders has no merchant-payable account)
      this.ledger.balance(accounts(currency, sellerId).merchant.id).catch((err: unknown) => {
        if (err instanceof LedgerError && err.code === 'unknown_account') return { amountMinor: 0n };
        throw err;
      }),
    ]);
    // what the broker owes the seller (credit balances are negative in the ledger's sign convention)
    return {
      paymentCount: Number(t.n), salesMinor: BigInt(t.sales), feeMinor: BigInt(t.fee), refundedMinor: BigInt(t.refunded),
      refundedFeeMinor: BigInt(t.refunded_fee), credits: credits.map(creditOf),
      owedMinor: -micro.amountMinor, owedForCardOrdersMinor: -card.amountMinor,
    };
  }
}
