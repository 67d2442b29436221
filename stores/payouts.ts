// Merchant payouts as PostgreSQL keeps them. Preparing a payout, in one transaction per merchant: the captures and
// card refunds not paid out before (and not paid with a seller's period credit) are claimed by it, the reserves due
// are released into it, what earlier payouts carried is taken, its amount decided (domain/payouts.ts), and its
// reserve held back (ledger entries posted in the same transaction). One payout per merchant, currency and period
// key: preparing a period again returns the payouts made. Sending it is the payout workflow's (activities/payouts.ts).
import { randomBytes } from 'node:crypto';
import { payoutAmount, type PayoutSchedule, reserveReleaseOn } from '../domain/payouts';
import { accounts, merchantReserve } from '../ledger/accounts';
import type { Db } from '../ledger/db';
import { type EntryInput, Ledger } from '../ledger/ledger';
import { given, type Page, pageOf, type PageRequest } from './page';

export type PayoutState = 'pending' | 'paid' | 'failed' | 'carried';

export interface Payout {
  id: string;
  merchantId: string;
  currency: string;
  periodKey: string;
  cutoff: Date;
  capturesMinor: number;
  feesMinor: number;
  refundsMinor: number;
  reserveHeldMinor: number;
  reserveReleasedMinor: number;
  carriedMinor: number;
  /** What disputes withdrew from the merchant's balance since its last payout, less what they returned. */
  disputesMinor: number;
  amountMinor: number;
  state: PayoutState;
  attempts: number;
  destination: string | null;
  processorPayoutId: string | null;
  failureCode: string | null;
  carriedInto: string | null;
  createdAt: Date;
  paidAt: Date | null;
  failedAt: Date | null;
}

export type BalanceTransactionType = 'capture' | 'refund' | 'reserve_hold' | 'reserve_release' | 'carried' | 'dispute';

/** What a payout pays out, one line per capture, refund, reserve movement and carried payout (Stripe's balance transactions). */
export interface BalanceTransaction {
  id: string;
  type: BalanceTransactionType;
  /** The order of a capture or refund; the payout a reserve or carried amount came from. */
  sourceId: string;
  amountMinor: number;
  feeMinor: number;
  netMinor: number;
  createdAt: Date;
}

/** Balance transactions listed with a payout; a payout that holds more says so (balanceTransactionCount). */
export const MAX_LISTED_BALANCE_TRANSACTIONS = 1000;

const newPayoutId = () => `po_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
const num = (v: unknown) => Number(v ?? 0);

export const payoutOf = (r: Record<string, any>): Payout => ({
  id: r.id, merchantId: r.merchant_id, currency: r.currency.trim(), periodKey: r.period_key, cutoff: r.cutoff,
  capturesMinor: num(r.captures_minor), feesMinor: num(r.fees_minor), refundsMinor: num(r.refunds_minor),
  reserveHeldMinor: num(r.reserve_held_minor), reserveReleasedMinor: num(r.reserve_released_minor), carriedMinor: num(r.carried_minor),
  disputesMinor: num(r.disputes_minor),
  amountMinor: num(r.amount_minor), state: r.state, attempts: r.attempts, destination: r.destination,
  processorPayoutId: r.processor_payout_id, failureCode: r.failure_code, carriedInto: r.carried_into, createdAt: r.created_at,
  paidAt: r.paid_at, failedAt: r.failed_at,
});

/** The ledger entries of a payout's reserve: held back from the merchant's payable balance, or given back to it. */
const reserveEntry = (p: { id: string; merchantId: string; currency: string }, kind: 'hold' | 'release', amount: bigint): EntryInput => {
  const sign = kind === 'hold' ? 1n : -1n;
  return {
    idempotencyKey: `reserve-${kind}:${p.id}`,
    description: `${kind === 'hold' ? 'reserve held back by' : 'reserves released into'} payout ${p.id}`,
    metadata: { payoutId: p.id, merchantId: p.merchantId },
    postings: [
      { accountId: accounts(p.currency, p.merchantId).merchant.id, amountMinor: sign * amount, currency: p.currency },
      { accountId: merchantReserve(p.merchantId, p.currency).id, amountMinor: -sign * amount, currency: p.currency },
    ],
  };
};

/** What a payout's send needs: the payout and where the merchant is paid now. */
export interface PayoutToSend { payout: Payout; destination: string | null }

export class PayoutStore {
  constructor(private readonly db: Db) {}

  /**
   * The merchant's payouts of the period (one per currency with anything new: captures, refunds or reserves
   * released; with what earlier payouts carried), made now or found made before. The rows a payout claims are
   * locked first and its figures are theirs (a capture committed meanwhile waits for the next payout). A merchant
   * that is a micro-payment seller is paid with its period credits (one payout for both): none.
   */
  async prepare(merchantId: string, cutoff: Date, periodKey: string): Promise<Payout[]> {
    return this.db.transaction(async (trx) => {
      // one preparation per merchant at a time (a manual run beside a scheduled one; a payout failing; the
      // merchant becoming a seller)
      const m = await trx('merchants').where({ id: merchantId }).forUpdate()
        .first('reserve_bps', 'reserve_days', 'payout_minimum_minor');
      if (!m) throw new Error(`no merchant ${merchantId}`);
      const made = await trx('payouts').where({ merchant_id: merchantId, period_key: periodKey }).orderBy('currency');
      if (made.length > 0) return made.map(payoutOf);
      if (await trx('sellers').where({ id: merchantId }).first('id')) return [];
      const at = { m: merchantId, cutoff };
      const unpaid = 'merchant_id = :m AND payout_id IS NULL AND period_seq IS NULL AND created_at < :cutoff';
      const claim = async (sql: string) => ((await trx.raw(`${sql} FOR UPDATE`, at)) as { rows: Array<Record<string, any>> }).rows
        .map((r) => ({ ...r, currency: (r.currency as string).trim() }));
      const captures = await claim(`SELECT id, currency, amount_minor, coalesce(fee_minor, 0) AS fee_minor FROM captures WHERE ${unpaid}`);
      const refunds = await claim(`SELECT id, currency, amount_minor, fee_minor FROM card_refunds WHERE ${unpaid}`);
      const released = await claim(`SELECT payout_id AS id, currency, amount_minor FROM reserves
        WHERE merchant_id = :m AND released_by IS NULL AND release_on <= :cutoff`);
      const carried = await claim(`SELECT id, currency, amount_minor FROM payouts
        WHERE merchant_id = :m AND state IN ('carried', 'failed') AND carried_into IS NULL`);
      const disputed = await claim(`SELECT id, currency, amount_minor FROM dispute_movements WHERE ${unpaid}`);
      const ledger = new Ledger(trx);
      const payouts: Payout[] = [];
      const currencies = [...new Set([...captures, ...refunds, ...released, ...carried, ...disputed].map((r) => r.currency))].sort();
      for (const currency of currencies) {
        const of = (rows: Array<Record<string, any>>) => rows.filter((r) => r.currency === currency);
        const sum = (rows: Array<Record<string, any>>, f: string) => rows.reduce((t, r) => t + BigInt(r[f]), 0n);
        const [c, r, rel, car, dis] = [of(captures), of(refunds), of(released), of(carried), of(disputed)];
        const figures = {
          capturesMinor: sum(c, 'amount_minor'), feesMinor: sum(c, 'fee_minor') - sum(r, 'fee_minor'), refundsMinor: sum(r, 'amount_minor'),
          releasedMinor: sum(rel, 'amount_minor'), carriedMinor: sum(car, 'amount_minor'), disputesMinor: -sum(dis, 'amount_minor'),
        };
        const due = payoutAmount(figures, { reserveBps: m.reserve_bps, reserveDays: m.reserve_days, minimumMinor: BigInt(m.payout_minimum_minor) });
        // only an amount carried before, and carried again: no payout (it waits, uncarried, for something new)
        if (due.state === 'carried' && c.length + r.length + rel.length + dis.length === 0) continue;
        const id = newPayoutId();
        const [row] = await trx('payouts').insert({
          id, merchant_id: merchantId, currency, period_key: periodKey, cutoff,
          captures_minor: figures.capturesMinor.toString(), fees_minor: figures.feesMinor.toString(),
          refunds_minor: figures.refundsMinor.toString(), reserve_held_minor: due.heldMinor.toString(),
          reserve_released_minor: figures.releasedMinor.toString(), carried_minor: figures.carriedMinor.toString(),
          disputes_minor: figures.disputesMinor.toString(),
          amount_minor: due.amountMinor.toString(), state: due.state,
        }).returning('*');
        const ids = (rows: Array<Record<string, any>>) => rows.map((x) => x.id as string);
        await trx('captures').whereIn('id', ids(c)).update({ payout_id: id });
        await trx('card_refunds').whereIn('id', ids(r)).update({ payout_id: id });
        await trx('reserves').whereIn('payout_id', ids(rel)).update({ released_by: id });
        await trx('payouts').whereIn('id', ids(car)).update({ carried_into: id });
        await trx('dispute_movements').whereIn('id', ids(dis)).update({ payout_id: id });
        const entries: EntryInput[] = [];
        const p = { id, merchantId, currency };
        if (due.heldMinor > 0n) {
          await trx('reserves').insert({ payout_id: id, merchant_id: merchantId, currency, amount_minor: due.heldMinor.toString(),
            release_on: reserveReleaseOn(cutoff, m.reserve_days) });
          entries.push(reserveEntry(p, 'hold', due.heldMinor));
        }
        if (figures.releasedMinor > 0n) entries.push(reserveEntry(p, 'release', figures.releasedMinor));
        if (entries.length > 0) {
          await ledger.openAccount(accounts(currency, merchantId).merchant);
          await ledger.openAccount(merchantReserve(merchantId, currency));
          await ledger.postMany(entries);
        }
        payouts.push(payoutOf(row));
      }
      return payouts;
    });
  }

  /** The next `limit` merchants after the cursor (by id) that are paid by payouts (not sellers), with their schedules. */
  async merchantsAfter(after: string | null, limit: number): Promise<Array<{ id: string; schedule: PayoutSchedule }>> {
    const rows = await this.db('merchants as m')
      .whereNotExists((q) => q.select(this.db.raw('1')).from('sellers as s').whereRaw('s.id = m.id'))
      .modify((q) => { if (after !== null) q.where('m.id', '>', after); })
      .orderBy('m.id').limit(limit).select('m.id', 'm.payout_interval', 'm.payout_weekly_anchor');
    return rows.map((r: Record<string, any>) => ({ id: r.id, schedule: { interval: r.payout_interval, weeklyAnchor: r.payout_weekly_anchor } }));
  }

  /** The ids of the merchant's payouts still to send. */
  async pendingOf(merchantId: string): Promise<string[]> {
    const rows = await this.db('payouts').where({ merchant_id: merchantId, state: 'pending' }).orderBy('created_at').select('id');
    return rows.map((r: { id: string }) => r.id);
  }

  async get(id: string): Promise<Payout | undefined> {
    const r = await this.db('payouts').where({ id }).first();
    return r && payoutOf(r);
  }

  /** The payout and the merchant's payout destination now (a send after a change of it pays the new one). */
  async toSend(id: string): Promise<PayoutToSend | undefined> {
    const r = await this.db('payouts as p').join('merchants as m', 'm.id', 'p.merchant_id').where('p.id', id)
      .first('p.*', 'm.payout_destination as merchant_destination');
    return r && { payout: payoutOf(r), destination: r.merchant_destination };
  }

  /** A try of the payout: its destination and attempt number (before the processor is called). */
  async markAttempt(id: string, attempt: number, destination: string | null): Promise<void> {
    await this.db('payouts').where({ id, state: 'pending' }).update({ attempts: attempt, destination });
  }

  /** Paid: only a pending payout becomes paid (its ledger entry is posted first). */
  async markPaid(id: string, processorPayoutId: string): Promise<void> {
    await this.db('payouts').where({ id, state: 'pending' })
      .update({ state: 'paid', processor_payout_id: processorPayoutId, failure_code: null, paid_at: this.db.fn.now() });
  }

  /** A try refused: the code is kept while the payout waits for its next try. */
  async markRefused(id: string, code: string): Promise<void> {
    await this.db('payouts').where({ id, state: 'pending' }).update({ failure_code: code });
  }

  /** Failed after every try (the problem that says so written in the same transaction): carried into the next payout. */
  async markFailed(id: string, code: string, more: (trx: Db) => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      // (after a preparation of the merchant running now: it either carried this payout's amount or it did not see it)
      await trx.raw('SELECT 1 FROM merchants WHERE id = (SELECT merchant_id FROM payouts WHERE id = ?) FOR UPDATE', [id]);
      const n = await trx('payouts').where({ id, state: 'pending' }).update({ state: 'failed', failure_code: code, failed_at: trx.fn.now() });
      if (n > 0) await more(trx);
      return n > 0;
    });
  }

  /** A page of payouts, newest first: all, or one merchant's; of one state. */
  async list(req: PageRequest & { merchantId?: string; state?: PayoutState }): Promise<Page<Payout>> {
    return pageOf(() => this.db('payouts').where(given({ merchant_id: req.merchantId, state: req.state })), req, payoutOf);
  }

  /** What the payout pays out, oldest first (at most MAX_LISTED_BALANCE_TRANSACTIONS), and how many there are. */
  async balanceTransactions(p: Payout): Promise<{ data: BalanceTransaction[]; count: number }> {
    // (the count over every line, before the limit)
    const { rows } = await this.db.raw(`
      SELECT *, count(*) OVER () AS n FROM (
        SELECT id, 'capture' AS type, coalesce(order_id, hold_id) AS source_id, amount_minor AS amount, coalesce(fee_minor, 0) AS fee, created_at
          FROM captures WHERE payout_id = :id
        UNION ALL
        SELECT r.id, 'refund', coalesce(c.order_id, c.hold_id), -r.amount_minor, -r.fee_minor, r.created_at
          FROM card_refunds r JOIN captures c ON c.id = r.capture_id WHERE r.payout_id = :id
        UNION ALL
        SELECT 'rsr_' || payout_id, 'reserve_release', payout_id, amount_minor, 0, release_on FROM reserves WHERE released_by = :id
        UNION ALL
        SELECT 'rsv_' || r.payout_id, 'reserve_hold', r.payout_id, -r.amount_minor, 0, p.created_at
          FROM reserves r JOIN payouts p ON p.id = r.payout_id WHERE r.payout_id = :id
        UNION ALL
        SELECT 'crr_' || id, 'carried', id, amount_minor, 0, created_at FROM payouts WHERE carried_into = :id
        UNION ALL
        SELECT id, 'dispute', dispute_id, amount_minor, 0, created_at FROM dispute_movements WHERE payout_id = :id
      ) t ORDER BY created_at, id LIMIT :limit`, { id: p.id, limit: MAX_LISTED_BALANCE_TRANSACTIONS }) as {
      rows: Array<Record<string, any>> };
    const data: BalanceTransaction[] = rows.map((r) => ({ id: r.id, type: r.type, sourceId: r.source_id, amountMinor: num(r.amount),
      feeMinor: num(r.fee), netMinor: num(r.amount) - num(r.fee), createdAt: r.created_at }));
    return { data, count: num(rows[0]?.n) };
  }

  /**
   * A merchant's statement for [from, to): what its card-order balance was at the start, each kind of movement in
   * the range as the ledger has it (captures net of fees, refunds, payouts, reserves held and released, card sales
   * paid with seller credits, disputes withdrawn and returned), and what it was at the end; the reserve held likewise.
   */
  async statement(merchantId: string, currency: string, from: Date, to: Date) {
    const payable = accounts(currency, merchantId).merchant.id;
    const reserve = merchantReserve(merchantId, currency).id;
    const { rows } = await this.db.raw(`
      SELECT p.account_id, split_part(e.idempotency_key, ':', 1) AS kind,
             coalesce(sum(p.amount_minor) FILTER (WHERE e.created_at < :from), 0) AS before,
             coalesce(sum(p.amount_minor) FILTER (WHERE e.created_at >= :from AND e.created_at < :to), 0) AS during
      FROM postings p JOIN journal_entries e ON e.id = p.entry_id
      WHERE p.account_id IN (:payable, :reserve) AND e.created_at < :to
      GROUP BY 1, 2`, { payable, reserve, from, to }) as { rows: Array<{ account_id: string; kind: string; before: string; during: string }> };
    const { rows: [sales] } = await this.db.raw(`
      SELECT (SELECT count(*) FROM captures WHERE merchant_id = :m AND currency = :c AND created_at >= :from AND created_at < :to) AS captures,
             (SELECT coalesce(sum(amount_minor), 0) FROM captures WHERE merchant_id = :m AND currency = :c AND created_at >= :from AND created_at < :to) AS captured,
             (SELECT coalesce(sum(fee_minor), 0) FROM captures WHERE merchant_id = :m AND currency = :c AND created_at >= :from AND created_at < :to) AS fees,
             (SELECT count(*) FROM card_refunds WHERE merchant_id = :m AND currency = :c AND created_at >= :from AND created_at < :to) AS refunds,
             (SELECT coalesce(sum(amount_minor), 0) FROM card_refunds WHERE merchant_id = :m AND currency = :c AND created_at >= :from AND created_at < :to) AS refunded,
             (SELECT coalesce(sum(fee_minor), 0) FROM card_refunds WHERE merchant_id = :m AND currency = :c AND created_at >= :from AND created_at < :to) AS fees_returned`,
    { m: merchantId, c: currency, from, to });
    // owed to the merchant: credit balances are negative in the ledger's sign convention
    const owed = (account: string, field: 'before' | 'during', kinds?: string[]) => -rows
      .filter((x) => x.account_id === account && (!kinds || kinds.includes(x.kind))).reduce((a, x) => a + BigInt(x[field]), 0n);
    const moved = (kind: string) => owed(payable, 'during', [kind]);
    return {
      openingBalanceMinor: owed(payable, 'before'), closingBalanceMinor: owed(payable, 'before') + owed(payable, 'during'),
      openingReserveMinor: owed(reserve, 'before'), closingReserveMinor: owed(reserve, 'before') + owed(reserve, 'during'),
      captureCount: Number(sales.captures), capturedMinor: BigInt(sales.captured), feesMinor: BigInt(sales.fees) - BigInt(sales.fees_returned),
      refundCount: Number(sales.refunds), refundedMinor: BigInt(sales.refunded),
      capturesNetMinor: moved('capture'), refundsNetMinor: moved('refund'), payoutsMinor: moved('merchant-payout'),
      sellerCreditsMinor: moved('payout'), reserveHeldMinor: moved('reserve-hold'), reserveReleasedMinor: moved('reserve-release'),
      disputesMinor: moved('dispute'),
    };
  }
}
