// Settlement periods and statements. An operator may close the open period now (test mode, or an early
// close): the same workflow the Schedule starts. A buyer or seller sees only its own figures.
import { Router } from 'express';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { z } from 'zod';
import { periodTotals } from '../../activities/settlementPeriods';
import { periodId, periodSeq } from '../../domain/micropayments';
import { MAX_BATCH_FILE_LINES } from '../../processors/client';
import type { Db } from '../../ledger/db';
import { Ledger, LedgerError } from '../../ledger/ledger';
import { openPeriodSeq } from '../../ledger/micropayments';
import { buyerReceivable, sellerPayable, accounts } from '../../activities/accounts';
import { settlementPeriodWorkflow, settlementPeriodWorkflowId } from '../../workflows/settlementPeriod';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, badRequest, notFound } from '../errors';
import { getBuyer, getSeller } from '../parties';
import { parseBody, pathId } from '../validation';

const closeBody = z.strictObject({
  graceSeconds: z.number().int().min(0).max(24 * 3600).optional(),
  /** Lines per processor charge/payout file (default and most: the processor's limit). */
  fileLines: z.number().int().min(1).max(MAX_BATCH_FILE_LINES).optional(),
  /** A frozen period whose close failed: resume it. */
  periodId: z.string().refine((v) => periodSeq(v) !== undefined, 'a period id such as sp_12').optional(),
});
/** Invoices and credits listed on a statement. */
export const STATEMENT_HISTORY = 12;

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const invoiceView = (r: Record<string, any>) => ({
  periodId: periodId(r.period_seq), object: 'invoice', buyerId: r.buyer_id, currency: r.currency.trim(), paymentCount: r.payment_count,
  grossMinor: Number(r.gross_minor), refundedMinor: Number(r.refunded_minor), amountMinor: Number(r.amount_minor), state: r.state,
  chargeId: r.charge_id, declineCode: r.decline_code, attempts: r.attempts, paidAt: iso(r.paid_at),
});
const creditView = (r: Record<string, any>) => ({
  periodId: periodId(r.period_seq), object: 'seller_credit', sellerId: r.seller_id, currency: r.currency.trim(), paymentCount: r.payment_count,
  salesMinor: Number(r.sales_minor), feeMinor: Number(r.fee_minor), refundedMinor: Number(r.refunded_minor), cardMinor: Number(r.card_minor),
  amountMinor: Number(r.amount_minor), state: r.state, payoutId: r.payout_id, failureCode: r.failure_code, paidAt: iso(r.paid_at),
});

export function settlementRoutes(deps: { db: Db; temporal: Client; taskQueue: string; graceMs: number }): Router {
  const { db } = deps;
  const ledger = new Ledger(db);
  const r = Router();

  async function periodParam(req: { query: Record<string, unknown> }): Promise<number> {
    const q = req.query.periodId;
    if (q === undefined) return (await db('settlement_periods').max({ seq: 'seq' }).first())!.seq;
    const seq = typeof q === 'string' ? periodSeq(q) : undefined;
    if (seq === undefined) throw badRequest('parameter_invalid', 'periodId must look like sp_12', 'periodId');
    return seq;
  }

  /**
   * Closes the open period now: freeze after graceSeconds (default: the configured grace), invoice, credit.
   * With periodId, resumes the close of a frozen period whose close failed (every step is idempotent); a
   * close that is running or has finished is not started again.
   */
  r.post('/settlement-periods/close', allow('operator'), async (req, res) => {
    const { graceSeconds, fileLines, periodId: wanted } = parseBody(closeBody, req);
    let seq: number;
    if (wanted !== undefined) {
      const p = await db('settlement_periods').where({ seq: periodSeq(wanted)! }).first('seq', 'state');
      if (!p) throw new ApiError(422, 'unprocessable_error', 'unknown_period', `No settlement period ${wanted}`, 'periodId');
      if (p.state !== 'frozen') {
        throw new ApiError(409, 'conflict_error', 'period_not_frozen', `${wanted} is ${p.state}: only a frozen period's close is resumed`, 'periodId');
      }
      seq = p.seq;
    } else {
      seq = await openPeriodSeq(db);
    }
    const workflowId = settlementPeriodWorkflowId(deps.taskQueue, seq);
    let started = true;
    try {
      await deps.temporal.workflow.start(settlementPeriodWorkflow, {
        workflowId, taskQueue: deps.taskQueue, workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        args: [{ periodSeq: seq, graceMs: graceSeconds !== undefined ? graceSeconds * 1000 : deps.graceMs, fileLines }],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      started = false;
    }
    res.status(202).location(`/v1/settlement-periods/${periodId(seq)}`)
      .json({ object: 'settlement_period_close', periodId: periodId(seq), workflowId, started });
  });

  r.get('/settlement-periods/:id', async (req, res) => {
    const seq = periodSeq(pathId(req, 'id'));
    const p = seq === undefined ? undefined : await db('settlement_periods').where({ seq }).first();
    if (!p) throw notFound('settlement period');
    const who = principalOf(res);
    const base = {
      id: periodId(p.seq), object: 'settlement_period', state: p.state, openedAt: iso(p.opened_at), frozenAt: iso(p.frozen_at),
      closedAt: iso(p.closed_at),
    };
    if (who.kind !== 'operator') {
      // a party sees the period's state and its own invoice or credit
      const [invoice, credit] = await Promise.all([
        db('invoices').where({ period_seq: p.seq, buyer_id: who.id }).first(),
        db('seller_credits').where({ period_seq: p.seq, seller_id: who.id }).first(),
      ]);
      res.json({ ...base, invoice: invoice ? invoiceView(invoice) : null, credit: credit ? creditView(credit) : null });
      return;
    }
    const progress = async (table: 'invoices' | 'seller_credits') => {
      const rows: Array<{ state: string; n: string }> = await db(table).where({ period_seq: p.seq }).select('state').count({ n: '*' }).groupBy('state');
      return Object.fromEntries(rows.map((x) => [x.state, Number(x.n)]));
    };
    const live = p.state === 'open'
      ? (await db.raw(`SELECT currency, count(*) AS n, sum(amount_minor) AS gross, sum(fee_minor) AS fee FROM micro_payments
          WHERE period_seq = ? GROUP BY currency`, [p.seq])).rows as Array<Record<string, string>>
      : [];
    res.json({
      ...base, workflowId: p.workflow_id,
      totals: p.state === 'open'
        ? { paymentCount: live.reduce((a, x) => a + Number(x.n), 0),
            grossMinor: Object.fromEntries(live.map((x) => [x.currency.trim(), Number(x.gross)])),
            feeMinor: Object.fromEntries(live.map((x) => [x.currency.trim(), Number(x.fee)])) }
        : p.totals ?? await periodTotals(db, p.seq),
      progress: { invoices: await progress('invoices'), credits: await progress('seller_credits') },
    });
  });

  /**
   * A buyer's or seller's statement for one period (?periodId=sp_N, default the latest): the period's totals,
   * the recent invoices or credits, and the account balances.
   */
  r.get('/accounts/:id/statement', allow('buyer', 'merchant', 'operator'), async (req, res) => {
    const id = pathId(req, 'id');
    const [buyer, seller] = await Promise.all([getBuyer(db, id), getSeller(db, id)]);
    assertCanSee(principalOf(res), (buyer ?? seller)?.id, 'account');
    const seq = await periodParam(req);
    const period = await db('settlement_periods').where({ seq }).first('seq', 'state');
    if (!period) throw notFound('settlement period');
    const head = { object: 'statement', accountId: id, periodId: periodId(seq), periodState: period.state };
    if (buyer) {
      const { rows: [t] } = await db.raw(`
        SELECT (SELECT count(*) FROM micro_payments WHERE buyer_id = :id AND period_seq = :seq) AS n,
               (SELECT coalesce(sum(amount_minor), 0) FROM micro_payments WHERE buyer_id = :id AND period_seq = :seq) AS gross,
               (SELECT coalesce(sum(amount_minor), 0) FROM micro_refunds WHERE buyer_id = :id AND period_seq = :seq) AS refunded`, { id, seq });
      const invoices = await db('invoices').where({ buyer_id: id }).orderBy('period_seq', 'desc').limit(STATEMENT_HISTORY);
      const receivable = await ledger.balance(buyerReceivable(id, buyer.currency).id);
      res.json({
        ...head, party: 'buyer', currency: buyer.currency, suspended: buyer.suspendedAt !== null,
        period: { paymentCount: Number(t.n), grossMinor: Number(t.gross), refundedMinor: Number(t.refunded), netMinor: Number(t.gross) - Number(t.refunded) },
        invoices: invoices.map(invoiceView),
        // what the buyer owes the broker (purchases not yet charged, and unpaid invoices)
        balances: { owedMinor: Number(receivable.amountMinor) },
      });
      return;
    }
    const s = seller!;
    const { rows: [t] } = await db.raw(`
      SELECT (SELECT count(*) FROM micro_payments WHERE seller_id = :id AND period_seq = :seq) AS n,
             (SELECT coalesce(sum(amount_minor), 0) FROM micro_payments WHERE seller_id = :id AND period_seq = :seq) AS sales,
             (SELECT coalesce(sum(fee_minor), 0) FROM micro_payments WHERE seller_id = :id AND period_seq = :seq) AS fee,
             (SELECT coalesce(sum(amount_minor - fee_minor), 0) FROM micro_refunds WHERE seller_id = :id AND period_seq = :seq) AS refunded`, { id, seq });
    const credits = await db('seller_credits').where({ seller_id: id }).orderBy('period_seq', 'desc').limit(STATEMENT_HISTORY);
    const [micro, card] = await Promise.all([
      ledger.balance(sellerPayable(id, s.currency).id),
      // (a seller that never had card orders has no merchant-payable account)
      ledger.balance(accounts(s.currency, id).merchant.id).catch((err: unknown) => {
        if (err instanceof LedgerError && err.code === 'unknown_account') return { amountMinor: 0n };
        throw err;
      }),
    ]);
    res.json({
      ...head, party: 'seller', currency: s.currency,
      period: { paymentCount: Number(t.n), salesMinor: Number(t.sales), feeMinor: Number(t.fee), refundedMinor: Number(t.refunded),
        netMinor: Number(t.sales) - Number(t.fee) - Number(t.refunded) },
      credits: credits.map(creditView),
      // what the broker owes the seller (credit balances are negative in the ledger's sign convention)
      balances: { owedToSellerMinor: -Number(micro.amountMinor), owedToSellerForCardOrdersMinor: -Number(card.amountMinor) },
    });
  });

  return r;
}
