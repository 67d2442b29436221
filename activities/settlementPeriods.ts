// Activities of a settlement period's close and of dunning. Every step is idempotent per period, buyer and
// seller: rows are keyed (period, buyer) and (period, seller), processor lines carry keys derived from them,
// ledger entries likewise, so a step repeated after a crash charges, credits and posts nothing twice.
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { PERIOD_LOCK_KEY } from '../ledger/migrations/005_micropayments';
import type { Db } from '../ledger/db';
import type { EntryInput, Ledger } from '../ledger/ledger';
import { openPeriodSeq } from '../ledger/micropayments';
import { MAX_BATCH_FILE_LINES, type ProcessorClient } from '../processors/client';
import { DEFAULT_DUNNING_DELAYS_MS, periodId } from '../domain/micropayments';
import { dunningWorkflow, dunningWorkflowId } from '../workflows/dunning';
import { accounts, buyerReceivable, sellerPayable } from './accounts';
import { recordProblem } from './problems';
import { processorCall } from './processorCall';

export interface SettlementPeriodDeps {
  db: Db;
  ledger: Ledger;
  processor: ProcessorClient;
  temporal: Client;
  taskQueue: string;
  /** Delays of the dunning retries after a failed charge (DEFAULT_DUNNING_DELAYS_MS when unset). */
  dunningDelaysMs?: number[];
}

export interface PeriodTotals {
  paymentCount: number;
  buyers: number;
  sellers: number;
  /** per currency */
  grossMinor: Record<string, number>;
  feeMinor: Record<string, number>;
  refundedMinor: Record<string, number>;
  invoicedMinor: Record<string, number>;
  creditedMinor: Record<string, number>;
}

export interface StepResult {
  /** The last buyer (or seller) id this step covered; null when there was nothing after the cursor. */
  last: string | null;
  submitted: number;
  succeeded: number;
  failed: number;
}

const fileKey = (kind: string, seq: number, lineKeys: string[]) =>
  `${kind}:${periodId(seq)}:${createHash('sha256').update(lineKeys.join('\n')).digest('hex').slice(0, 32)}`;
const chargeKey = (seq: number, buyerId: string) => `period-charge:${periodId(seq)}:${buyerId}`;
const payoutKey = (seq: number, sellerId: string) => `period-payout:${periodId(seq)}:${sellerId}`;

/** How often a close's long steps heartbeat while they run (the workflow's heartbeatTimeout is a few of these). */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Runs the step heartbeating, so a worker that dies in the middle of it is noticed within the heartbeat
 * timeout (seconds), not the step's start-to-close timeout (minutes, for large files).
 */
async function heartbeating<T>(step: () => Promise<T>): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return step(); // called outside an activity (a test, a script)
  }
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await step();
  } finally {
    clearInterval(timer);
  }
}

export function createSettlementPeriodActivities(deps: SettlementPeriodDeps) {
  const { db, ledger, processor } = deps;

  const chargeEntry = (seq: number, buyerId: string, currency: string, amountMinor: number, chargeId: string): EntryInput => ({
    idempotencyKey: `charge:${periodId(seq)}:${buyerId}`,
    description: `charge of ${buyerId}'s invoice for ${periodId(seq)}`,
    metadata: { periodId: periodId(seq), buyerId, chargeId },
    postings: [
      { accountId: accounts(currency, '').clearing.id, amountMinor, currency },
      { accountId: buyerReceivable(buyerId, currency).id, amountMinor: -amountMinor, currency },
    ],
  });

  const openClearing = (lines: Array<{ currency: string }>) =>
    Promise.all([...new Set(lines.map((l) => l.currency))].map((c) => ledger.openAccount(accounts(c, '').clearing)));

  async function startDunning(seq: number, buyerIds: string[]): Promise<void> {
    for (const buyerId of buyerIds) {
      try {
        await deps.temporal.workflow.start(dunningWorkflow, {
          workflowId: dunningWorkflowId(periodId(seq), buyerId), taskQueue: deps.taskQueue,
          workflowIdReusePolicy: 'REJECT_DUPLICATE', // one dunning per invoice, even after it has ended
          args: [{ periodSeq: seq, buyerId, delaysMs: deps.dunningDelaysMs ?? DEFAULT_DUNNING_DELAYS_MS }],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
  }

  const steps = {
    /** The period open now (for the scheduled tick). */
    openPeriodSeq: (): Promise<number> => openPeriodSeq(db),

    /**
     * Freezes the period and opens the next: waits for payments being written into it (they hold the period
     * lock shared), after which every payment lands in the next period. The sellers' card-order captures and
     * refunds made before the freeze are assigned to it in the same transaction. Repeating it changes nothing.
     */
    async freezePeriod(seq: number, workflowId: string): Promise<{ frozenAt: string }> {
      const frozenAt: Date = await db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(?)', [PERIOD_LOCK_KEY]);
        const [row] = await trx('settlement_periods').where({ seq, state: 'open' })
          // the moment the lock was granted: every payment of the period was begun before it
          .update({ state: 'frozen', frozen_at: trx.raw('clock_timestamp()'), workflow_id: workflowId }).returning('frozen_at');
        if (!row) {
          const p = await trx('settlement_periods').where({ seq }).first();
          if (!p || p.state === 'open') throw new Error(`settlement period ${periodId(seq)} does not exist`);
          return p.frozen_at;
        }
        await trx('settlement_periods').insert({ seq: seq + 1, state: 'open' });
        for (const table of ['captures', 'card_refunds']) {
          await trx.raw(`UPDATE ${table} SET period_seq = ? WHERE period_seq IS NULL AND created_at < ?
            AND merchant_id IN (SELECT id FROM sellers)`, [seq, row.frozen_at]);
        }
        return row.frozen_at;
      });
      return { frozenAt: frozenAt.toISOString() };
    },

    /**
     * One invoice per buyer (purchases less refunds of the period) and one credit per seller (sales less fees,
     * less refunds net of their fees, plus card-order captures less card refunds, net of fees), written once in
     * one transaction. A party's previous invoice or credit that came out negative is carried into this one.
     */
    async aggregatePeriod(seq: number): Promise<PeriodTotals> {
      await db.transaction(async (trx) => {
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
                       SELECT merchant_id, -(amount_minor - fee_minor) FROM card_refunds WHERE period_seq = :seq) x GROUP BY merchant_id),
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
      return periodTotals(db, seq);
    },

    /**
     * Charges the next `limit` invoices after the cursor (by buyer id) in one processor file. Lines of invoices
     * charged before are left out; a line repeated after a crash returns its first result. Failed charges
     * start a dunning workflow each.
     */
    async chargeInvoices(seq: number, after: string | null, limit: number): Promise<StepResult> {
      const rows: Array<{ buyer_id: string; currency: string; amount_minor: string; state: string; charge_token: string }> =
        await db('invoices').where({ period_seq: seq }).whereNot({ state: 'nothing_due' })
          .modify((q) => { if (after !== null) q.where('buyer_id', '>', after); })
          .orderBy('buyer_id').limit(Math.min(limit, MAX_BATCH_FILE_LINES))
          .select('buyer_id', 'currency', 'amount_minor', 'state', 'charge_token');
      const last = rows.at(-1)?.buyer_id ?? null;
      const pending = rows.filter((r) => r.state === 'pending');
      // a step repeated after a crash: the dunning of invoices it marked failed may not have started yet
      const failedBefore = rows.filter((r) => r.state === 'failed').map((r) => r.buyer_id);
      const result: StepResult = { last, submitted: pending.length, succeeded: 0, failed: 0 };
      if (pending.length === 0) {
        await startDunning(seq, failedBefore);
        return result;
      }
      const lines = pending.map((r) => ({
        idempotencyKey: chargeKey(seq, r.buyer_id), token: r.charge_token, amountMinor: Number(r.amount_minor),
        currency: r.currency.trim(), reference: `invoice:${periodId(seq)}:${r.buyer_id}`,
      }));
      const file = await processorCall(() => processor.submitChargeBatch(lines, fileKey('charges', seq, lines.map((l) => l.idempotencyKey))));
      const entries: EntryInput[] = [];
      const failed: string[] = [];
      file.results.forEach((res, i) => {
        const r = pending[i];
        if (res.status === 'succeeded') entries.push(chargeEntry(seq, r.buyer_id, lines[i].currency, lines[i].amountMinor, res.chargeId!));
        else failed.push(r.buyer_id);
      });
      // the books first: an invoice is marked paid only once its entry exists
      await openClearing(lines);
      for (let i = 0; i < entries.length; i += 5000) await ledger.postMany(entries.slice(i, i + 5000));
      await db.raw(`
        UPDATE invoices i SET state = CASE WHEN u.ok THEN 'paid' ELSE 'failed' END, charge_id = u.charge_id,
          decline_code = u.decline_code, attempts = 1, paid_at = CASE WHEN u.ok THEN now() END
        FROM unnest(?::text[], ?::boolean[], ?::text[], ?::text[]) AS u (buyer_id, ok, charge_id, decline_code)
        WHERE i.period_seq = ? AND i.buyer_id = u.buyer_id AND i.state = 'pending'`, [
        pending.map((r) => r.buyer_id), file.results.map((x) => x.status === 'succeeded'),
        file.results.map((x) => x.chargeId ?? null), file.results.map((x) => x.declineCode ?? null), seq] as never);
      await startDunning(seq, [...failedBefore, ...failed]);
      result.succeeded = entries.length;
      result.failed = failed.length;
      return result;
    },

    /** Pays the next `limit` sellers' credits after the cursor in one processor payout file. */
    async creditSellers(seq: number, after: string | null, limit: number): Promise<StepResult> {
      const rows: Array<{ seller_id: string; currency: string; amount_minor: string; state: string; card_minor: string;
        payout_destination: string }> =
        await db('seller_credits as c').join('sellers as s', 's.id', 'c.seller_id')
          .where({ 'c.period_seq': seq }).whereNot({ 'c.state': 'nothing_due' })
          .modify((q) => { if (after !== null) q.where('c.seller_id', '>', after); })
          .orderBy('c.seller_id').limit(Math.min(limit, MAX_BATCH_FILE_LINES))
          .select('c.seller_id', 'c.currency', 'c.amount_minor', 'c.state', 'c.card_minor', 's.payout_destination');
      const last = rows.at(-1)?.seller_id ?? null;
      const pending = rows.filter((r) => r.state === 'pending');
      const result: StepResult = { last, submitted: pending.length, succeeded: 0, failed: 0 };
      if (pending.length === 0) return result;
      const lines = pending.map((r) => ({
        idempotencyKey: payoutKey(seq, r.seller_id), destination: r.payout_destination, amountMinor: Number(r.amount_minor),
        currency: r.currency.trim(), reference: `credit:${periodId(seq)}:${r.seller_id}`,
      }));
      const file = await processorCall(() => processor.submitPayoutBatch(lines, fileKey('payouts', seq, lines.map((l) => l.idempotencyKey))));
      const entries: EntryInput[] = [];
      const failed: Array<{ sellerId: string; code: string }> = [];
      file.results.forEach((res, i) => {
        const r = pending[i];
        const cur = lines[i].currency;
        if (res.status !== 'paid') { failed.push({ sellerId: r.seller_id, code: res.failureCode ?? 'payout_failed' }); return; }
        // the credit less its card part is the micro-payment part (a negative credit carried from before included),
        // settled on the seller-payable account
        const card = Number(r.card_minor);
        const micro = lines[i].amountMinor - card;
        entries.push({
          idempotencyKey: `payout:${periodId(seq)}:${r.seller_id}`,
          description: `payout of ${r.seller_id}'s credit for ${periodId(seq)}`,
          metadata: { periodId: periodId(seq), sellerId: r.seller_id, payoutId: res.payoutId },
          postings: [
            { accountId: sellerPayable(r.seller_id, cur).id, amountMinor: micro, currency: cur },
            { accountId: accounts(cur, r.seller_id).merchant.id, amountMinor: card, currency: cur },
            { accountId: accounts(cur, '').clearing.id, amountMinor: -lines[i].amountMinor, currency: cur },
          ].filter((p) => p.amountMinor !== 0),
        });
      });
      // (a seller's merchant-payable account exists when it has card captures: the capture opened it)
      await openClearing(lines);
      await ledger.postMany(entries);
      // the problems first: a crash before the UPDATE repeats the step, which finds them written
      for (const f of failed) {
        await recordProblem(db, {
          workflowId: `settlement-period-${periodId(seq)}`, merchantId: f.sellerId, kind: 'payout_failed',
          message: `The payout of ${f.sellerId}'s credit for ${periodId(seq)} failed: ${f.code}`,
          details: { key: f.sellerId, periodId: periodId(seq), sellerId: f.sellerId, code: f.code },
        });
      }
      await db.raw(`
        UPDATE seller_credits c SET state = CASE WHEN u.ok THEN 'paid' ELSE 'failed' END, payout_id = u.payout_id,
          failure_code = u.failure_code, paid_at = CASE WHEN u.ok THEN now() END
        FROM unnest(?::text[], ?::boolean[], ?::text[], ?::text[]) AS u (seller_id, ok, payout_id, failure_code)
        WHERE c.period_seq = ? AND c.seller_id = u.seller_id AND c.state = 'pending'`, [
        pending.map((r) => r.seller_id), file.results.map((x) => x.status === 'paid'),
        file.results.map((x) => x.payoutId ?? null), file.results.map((x) => x.failureCode ?? null), seq] as never);
      result.succeeded = entries.length;
      result.failed = failed.length;
      return result;
    },

    /** Marks the period closed with its totals. */
    async closePeriod(seq: number): Promise<PeriodTotals> {
      const totals = await periodTotals(db, seq);
      await db('settlement_periods').where({ seq }).whereNot({ state: 'closed' })
        .update({ state: 'closed', closed_at: db.fn.now(), totals: JSON.stringify(totals) });
      return totals;
    },

    /** A dunning retry of a failed invoice, with the buyer's card on file when the attempt first runs. */
    async retryCharge(seq: number, buyerId: string, attempt: number): Promise<'paid' | 'failed' | 'settled'> {
      // the attempt's card is pinned when it first runs: a retried attempt charges the same card, whatever the
      // buyer has put on file since (the next attempt takes the new one)
      await db.raw(`UPDATE invoices i SET retry_attempt = ?, retry_token = b.payment_token FROM buyers b
        WHERE b.id = i.buyer_id AND i.period_seq = ? AND i.buyer_id = ? AND i.retry_attempt IS DISTINCT FROM ?`, [attempt, seq, buyerId, attempt]);
      const inv = await db('invoices').where({ period_seq: seq, buyer_id: buyerId }).first('state', 'amount_minor', 'currency', 'retry_token');
      if (!inv || inv.state === 'paid') return 'settled';
      const line = {
        idempotencyKey: `${chargeKey(seq, buyerId)}:retry-${attempt}`, token: inv.retry_token, amountMinor: Number(inv.amount_minor),
        currency: inv.currency.trim(), reference: `invoice:${periodId(seq)}:${buyerId}`,
      };
      const file = await processorCall(() => processor.submitChargeBatch([line], `dunning:${line.idempotencyKey}`));
      const res = file.results[0];
      if (res.status === 'succeeded') {
        await openClearing([line]);
        await ledger.postMany([chargeEntry(seq, buyerId, line.currency, line.amountMinor, res.chargeId!)]);
        await db('invoices').where({ period_seq: seq, buyer_id: buyerId }).whereNot({ state: 'paid' })
          .update({ state: 'paid', charge_id: res.chargeId, decline_code: null, attempts: attempt + 1, paid_at: db.fn.now() });
        return 'paid';
      }
      await db('invoices').where({ period_seq: seq, buyer_id: buyerId }).whereNot({ state: 'paid' })
        .update({ decline_code: res.declineCode ?? 'charge_failed', attempts: attempt + 1 });
      return 'failed';
    },

    /** After the last retry: the buyer is suspended and the debt stays on the books (problems log). */
    async suspendBuyer(seq: number, buyerId: string): Promise<void> {
      await db.transaction(async (trx) => {
        await trx('invoices').where({ period_seq: seq, buyer_id: buyerId, state: 'failed' }).update({ state: 'unpaid' });
        await trx('buyers').where({ id: buyerId }).whereNull('suspended_at')
          .update({ suspended_at: trx.fn.now(), suspended_reason: `invoice for ${periodId(seq)} unpaid` });
        await recordProblem(trx, {
          workflowId: dunningWorkflowId(periodId(seq), buyerId), merchantId: null, kind: 'buyer_suspended',
          message: `Buyer ${buyerId} was suspended: the invoice for ${periodId(seq)} stayed unpaid after every retry`,
          details: { periodId: periodId(seq), buyerId },
        });
      });
    },
  };
  // every step heartbeats (the settlement workflow gives its steps a heartbeat timeout of seconds)
  return Object.fromEntries(Object.entries(steps).map(([name, step]) =>
    [name, (...args: unknown[]) => heartbeating(() => (step as (...a: unknown[]) => Promise<unknown>)(...args))])) as typeof steps;
}

/** What the period's invoices and credits add up to, per currency. */
export async function periodTotals(db: Db, seq: number): Promise<PeriodTotals> {
  const [{ rows: inv }, { rows: cred }] = await Promise.all([
    db.raw(`SELECT currency, count(*) AS parties, sum(payment_count) AS payments, sum(gross_minor) AS gross,
      sum(refunded_minor) AS refunded, coalesce(sum(amount_minor) FILTER (WHERE state <> 'nothing_due'), 0) AS due
      FROM invoices WHERE period_seq = ? GROUP BY currency`, [seq]),
    db.raw(`SELECT currency, count(*) AS parties, sum(fee_minor) AS fee,
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

export type SettlementPeriodActivities = ReturnType<typeof createSettlementPeriodActivities>;
