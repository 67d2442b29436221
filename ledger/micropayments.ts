// Recording micro-payments: set-based, one short statement or transaction per request (uncapped requests that
// arrive together share one statement: see the coalesced insert). Each recorded payment is a compact journal
// entry (see migrations/005) in the period open at the time. Spending caps are counted in rule_set_spend rows
// that the transaction locks, so parallel payments cannot together pass a cap (the verdicts are
// admitWithinCaps's, in domain/rules.ts).
import { MAX_BATCH_PAYMENTS, type PaymentToRecord } from '../domain/micropayments';
import { admitWithinCaps, capWindowKey, capWindows, type CapRefusal, type CapWindow } from '../domain/rules';
import { Coalescer } from './coalescer';
import { arrayLiteral, type Db, type Statements } from './db';
import { IdBlocks } from './idBlocks';
import { metrics } from '../runtime/metrics';

/** SQLSTATE of a recording statement refused because the caller's generation is behind (migrations/007). */
export const STALE_GENERATION_SQLSTATE = 'PBR01';

export interface RecordedPayment {
  id: string;
  periodSeq: number;
  buyerId: string;
  sellerId: string;
  itemId: string;
  clientId: string;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  grantSeconds: number;
  createdAt: Date;
}

export type RecordOutcome =
  | { status: 'recorded' | 'replayed'; payment: RecordedPayment }
  | { status: 'refused'; code: CapRefusal | 'client_id_reused'; message: string };

/** Parties or terms changed after the caller read them: nothing was written; read them afresh and try again. */
export class StaleGeneration extends Error {
  constructor(readonly generation: number) {
    super(`parties or terms changed after generation ${generation} was read`);
    this.name = 'StaleGeneration';
  }
}
const isStale = (err: unknown) => (err as { code?: string }).code === STALE_GENERATION_SQLSTATE;

export interface PaymentRow {
  id: string; period_seq: number; buyer_id: string; seller_id: string; item_id: string; client_id: string;
  currency: string; amount_minor: string; fee_minor: string; grant_seconds: number; created_at: Date;
}

export const COLUMNS = 'id, period_seq, buyer_id, seller_id, item_id, client_id, currency, amount_minor, fee_minor, grant_seconds, created_at';

export function fromRow(r: PaymentRow): RecordedPayment {
  return {
    id: String(r.id), periodSeq: r.period_seq, buyerId: r.buyer_id, sellerId: r.seller_id, itemId: r.item_id,
    clientId: r.client_id, currency: r.currency, amountMinor: Number(r.amount_minor), feeMinor: Number(r.fee_minor),
    grantSeconds: r.grant_seconds, createdAt: r.created_at,
  };
}

const pairKey = (buyerId: string, clientId: string) => `${buyerId}\u0000${clientId}`;
const sameContent = (p: PaymentToRecord, r: RecordedPayment) =>
  p.sellerId === r.sellerId && p.itemId === r.itemId && p.currency === r.currency && p.amountMinor === r.amountMinor;

function replayOrReuse(p: PaymentToRecord, existing: RecordedPayment): RecordOutcome {
  return sameContent(p, existing)
    ? { status: 'replayed', payment: existing }
    : { status: 'refused', code: 'client_id_reused', message: `clientId '${p.clientId}' was already used for a different payment` };
}

/** A payment's fields, its row's columns (u.: as unnestOf names them) and their types. */
const FIELDS = ['buyerId', 'sellerId', 'itemId', 'clientId', 'ruleSetId', 'currency', 'amountMinor', 'feeMinor', 'grantSeconds'] as const;
const FIELD_COLUMNS = 'buyer_id, seller_id, item_id, client_id, rule_set_id, currency, amount_minor, fee_minor, grant_seconds';
const U_FIELD_COLUMNS = FIELD_COLUMNS.split(', ').map((c) => `u.${c}`).join(', ');
const FIELD_TYPES = ['text', 'text', 'text', 'text', 'text', 'char(3)', 'bigint', 'bigint', 'integer'];
const columnsOf = (ps: PaymentToRecord[]) => FIELDS.map((f) => ps.map((p) => p[f]) as string[]);
const ph = (n: number | undefined) => (n === undefined ? '?' : `$${n}`);
/**
 * unnest(...) AS u (...) over array parameters (ids first when withIds), from `first` on: placeholders `$n`, or
 * knex's `?` when `first` is undefined.
 */
const unnestOf = (first: number | undefined, withIds: boolean) => {
  const types = withIds ? ['bigint', ...FIELD_TYPES] : FIELD_TYPES;
  return `unnest(${types.map((t, k) => `${ph(first === undefined ? undefined : first + k)}::${t}[]`).join(', ')}) AS u (${withIds ? 'id, ' : ''}${FIELD_COLUMNS})`;
};
/** Once per statement, not per row: the rule sets, buyers and prices the caller read are still current. */
const CURRENT = (n?: number) => `recording_generation_is(${ph(n)}::bigint)`;
const CREATED_MS = 'floor(extract(epoch FROM created_at) * 1000)::float8 AS created_ms';

/** In a transaction that already holds the period lock (the first binding), with ids from the table's sequence. */
const INSERT_IN_PERIOD = `
  INSERT INTO micro_payments (period_seq, ${FIELD_COLUMNS})
  SELECT ?::integer, u.* FROM ${unnestOf(undefined, false)}
  WHERE ${CURRENT()}
  ON CONFLICT (buyer_id, client_id) DO NOTHING
  RETURNING ${COLUMNS}`;
/**
 * New payments with the ids given ($1), in the period open now (the period lock is held just while the statement
 * runs). Every row is written or, on any conflict, none; one row comes back: the period and the statement's
 * created_at (epoch milliseconds, PostgreSQL's microseconds truncated as the pg driver's dates are).
 */
const RECORD_NEW = `
  WITH s AS MATERIALIZED (SELECT open_period_for_recording() AS period_seq, now() AS created_at WHERE ${CURRENT(11)}),
  ins AS (INSERT INTO micro_payments (id, period_seq, ${FIELD_COLUMNS})
    SELECT u.id, s.period_seq, ${U_FIELD_COLUMNS} FROM s, ${unnestOf(1, true)})
  SELECT period_seq, ${CREATED_MS} FROM s`;
/** The same, skipping each (buyer, clientId) that exists: a row comes back for each payment written. */
const RECORD_SKIPPING = `
  INSERT INTO micro_payments (id, period_seq, ${FIELD_COLUMNS})
  SELECT u.id, (SELECT open_period_for_recording()), ${U_FIELD_COLUMNS}
  FROM ${unnestOf(1, true)}
  WHERE ${CURRENT(11)}
  ON CONFLICT (buyer_id, client_id) DO NOTHING
  RETURNING id, buyer_id, client_id, period_seq, ${CREATED_MS}`;

type Pending = { p: PaymentToRecord; generation: number };

export class Micropayments {
  /**
   * Payments without caps, in the period open now, in one statement with those of concurrent requests (at most
   * MAX_BATCH_PAYMENTS rows; a (buyer, clientId) appears once per statement, so each row answers one request).
   * The statement checks the oldest generation its requests read under, so it fails for all of them if any
   * request's reads are stale. It is written for the common case, all payments new: no conflict handling and
   * nothing back per row (ids are given). A payment that exists (a replay) makes PostgreSQL refuse the whole
   * statement; it then runs again, skipping those.
   */
  private readonly inserter: Coalescer<Pending, RecordedPayment | undefined>;

  constructor(private readonly db: Db, private readonly statements: Statements) {
    const ids = new IdBlocks(statements);
    this.inserter = new Coalescer((items) => { metrics.recordingBatch.observe(items.length); return this.insertNew(items, ids); },
      { maxInFlight: 2, maxItems: MAX_BATCH_PAYMENTS, key: (i) => pairKey(i.p.buyerId, i.p.clientId) });
  }

  /**
   * The recording generation (migrations/007) as PostgreSQL has it now. Read it before reading what payments are
   * resolved from, and record them under it: if it has moved on meanwhile, record() throws StaleGeneration.
   */
  async generation(): Promise<number> {
    const [row] = await this.statements.query<{ generation: string }>('recording-generation', 'SELECT generation FROM recording_generation', []);
    return Number(row.generation);
  }

  /** Throws StaleGeneration if the generation has moved on (for decisions made without recording anything). */
  async confirmGeneration(generation: number): Promise<void> {
    if (await this.generation() !== generation) throw new StaleGeneration(generation);
  }

  /**
   * Records the payments in order, resolved from what was read under `generation`. A payment whose (buyer,
   * clientId) exists is a replay (same content) or client_id_reused; one that would take its rule set past a
   * per-day or per-period cap is refused and later ones are still tried. Everything else is written in the period
   * open now. Throws StaleGeneration, having written nothing, if the generation has moved on.
   */
  async record(payments: PaymentToRecord[], nowMs: number, generation: number): Promise<RecordOutcome[]> {
    try {
      return await this.recordUnder(payments, nowMs, generation);
    } catch (err) {
      throw isStale(err) ? new StaleGeneration(generation) : err;
    }
  }

  private async recordUnder(payments: PaymentToRecord[], nowMs: number, generation: number): Promise<RecordOutcome[]> {
    const outcomes: Array<RecordOutcome | undefined> = new Array(payments.length);
    // within the request, a repeated (buyer, clientId) answers like a repeat of the first
    const firstOf = new Map<string, number>();
    const repeatOf = new Map<number, number>();
    payments.forEach((p, i) => {
      const k = pairKey(p.buyerId, p.clientId);
      const first = firstOf.get(k);
      if (first === undefined) firstOf.set(k, i); else repeatOf.set(i, first);
    });
    const candidates = payments.map((_, i) => i).filter((i) => !repeatOf.has(i));
    const capped = candidates.some((i) => payments[i].caps.perDayMinor !== null || payments[i].caps.perPeriodMinor !== null);

    if (!capped) {
      // one statement, shared with concurrent requests: the period lock is held shared just while it runs
      const inserted = await this.inserter.submit(candidates.map((i) => ({ p: payments[i], generation })));
      await this.settleInserted(this.db, payments, candidates, inserted, outcomes);
    } else {
      await this.db.transaction((trx) => this.recordCapped(trx, payments, candidates, nowMs, generation, outcomes));
    }
    for (const [i, first] of repeatOf) {
      const o = outcomes[first]!;
      outcomes[i] = o.status === 'refused' ? o : replayOrReuse(payments[i], o.payment);
    }
    return outcomes as RecordOutcome[];
  }

  /** In one transaction: lock the caps' counters, admit within them, write, and count what was written. */
  private async recordCapped(trx: Db, payments: PaymentToRecord[], candidates: number[], nowMs: number, generation: number,
    outcomes: Array<RecordOutcome | undefined>): Promise<void> {
    const { rows: [{ seq }] } = await trx.raw('SELECT open_period_for_recording() AS seq') as { rows: Array<{ seq: number }> };
    if (seq === null) throw new Error('no settlement period is open');
    const windows = new Map<string, CapWindow>();
    for (const i of candidates) for (const w of capWindows(payments[i], nowMs, seq)) windows.set(capWindowKey(w), w);
    const spent = await lockCounters(trx, [...windows.values()]);

    // payments that exist already do not count again: looked for once the counters are locked, so a concurrent
    // request with the same clientId has either committed (and is seen here) or waits for us
    const existing = await existingPayments(trx, candidates.map((i) => payments[i]));
    const fresh = candidates.filter((i) => {
      const e = existing.get(pairKey(payments[i].buyerId, payments[i].clientId));
      if (e) outcomes[i] = replayOrReuse(payments[i], e);
      return !e;
    });
    const { verdicts, added } = admitWithinCaps(fresh.map((i) => payments[i]), nowMs, seq, spent);
    const admitted = fresh.filter((i, k) => {
      const v = verdicts[k];
      if (!v.admitted) outcomes[i] = { status: 'refused', code: v.code, message: v.message };
      return v.admitted;
    });

    const ps = admitted.map((i) => payments[i]);
    const { rows } = ps.length === 0 ? { rows: [] as PaymentRow[] }
      : await trx.raw(INSERT_IN_PERIOD, [seq, ...columnsOf(ps), generation]) as { rows: PaymentRow[] };
    const byPair = new Map(rows.map((r) => [pairKey(r.buyer_id, r.client_id), fromRow(r)]));
    const taken = await this.settleInserted(trx, payments, admitted, ps.map((p) => byPair.get(pairKey(p.buyerId, p.clientId))), outcomes);
    // (written meanwhile by a concurrent request with the same clientId: ours did not count)
    for (const i of taken) for (const w of capWindows(payments[i], nowMs, seq)) added.set(capWindowKey(w), added.get(capWindowKey(w))! - payments[i].amountMinor);
    await addToCounters(trx, [...added].filter(([, n]) => n !== 0).map(([k, n]) => ({ ...windows.get(k)!, added: n })));
  }

  /**
   * Outcomes of the payments an INSERT was given (`inserted[k]` is what was written for `given[k]`, if anything):
   * recorded; or, not written because the (buyer, clientId) was taken (before, or meanwhile by a concurrent
   * request), a replay or a reuse. Returns the payments that were taken.
   */
  private async settleInserted(db: Db, payments: PaymentToRecord[], given: number[], inserted: Array<RecordedPayment | undefined>,
    outcomes: Array<RecordOutcome | undefined>): Promise<number[]> {
    const taken: number[] = [];
    given.forEach((i, k) => {
      const r = inserted[k];
      if (r) outcomes[i] = { status: 'recorded', payment: r }; else taken.push(i);
    });
    if (taken.length === 0) return taken;
    const existing = await existingPayments(db, taken.map((i) => payments[i]));
    for (const i of taken) {
      const e = existing.get(pairKey(payments[i].buyerId, payments[i].clientId));
      // ON CONFLICT skipped the row, so the conflicting one has committed and is seen by this later statement
      if (!e) throw new Error(`payment (${payments[i].buyerId}, ${payments[i].clientId}) neither written nor found`);
      outcomes[i] = replayOrReuse(payments[i], e);
    }
    return taken;
  }

  /** One coalesced statement's payments: all written (the usual case), or on a replay among them, each that is new. */
  private async insertNew(items: Pending[], ids: IdBlocks): Promise<Array<RecordedPayment | undefined>> {
    const ps = items.map((i) => i.p);
    const given = await ids.take(ps.length);
    const params = [arrayLiteral(given), ...columnsOf(ps).map(arrayLiteral), Math.min(...items.map((i) => i.generation))];
    const recorded = (p: PaymentToRecord, id: number, periodSeq: number, createdAt: Date): RecordedPayment => ({
      id: String(id), periodSeq, buyerId: p.buyerId, sellerId: p.sellerId, itemId: p.itemId, clientId: p.clientId,
      currency: p.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor, grantSeconds: p.grantSeconds, createdAt,
    });
    try {
      const [s] = await this.statements.query<{ period_seq: number; created_ms: number }>('record-micropayments', RECORD_NEW, params);
      const createdAt = new Date(s.created_ms);
      return ps.map((p, k) => recorded(p, given[k], s.period_seq, createdAt));
    } catch (err) {
      if ((err as { constraint?: string }).constraint !== 'micro_payments_buyer_id_client_id_key') throw err;
    }
    const rows = await this.statements.query<{ id: string; buyer_id: string; client_id: string; period_seq: number; created_ms: number }>(
      'record-micropayments-skipping', RECORD_SKIPPING, params);
    const byPair = new Map(rows.map((r) => [pairKey(r.buyer_id, r.client_id), r]));
    const createdAt = rows.length ? new Date(rows[0].created_ms) : undefined; // one statement, one now()
    return ps.map((p) => {
      const r = byPair.get(pairKey(p.buyerId, p.clientId));
      return r && recorded(p, Number(r.id), r.period_seq, createdAt!);
    });
  }

  async get(id: string): Promise<(RecordedPayment & { refundedAt: Date | null }) | undefined> {
    const { rows } = await this.db.raw(`
      SELECT ${COLUMNS.split(', ').map((c) => `p.${c}`).join(', ')}, r.created_at AS refunded_at
      FROM micro_payments p LEFT JOIN micro_refunds r ON r.payment_id = p.id WHERE p.id = ?`, [id]) as {
      rows: Array<PaymentRow & { refunded_at: Date | null }> };
    return rows[0] && { ...fromRow(rows[0]), refundedAt: rows[0].refunded_at };
  }

  /** The buyer's payment recorded under clientId, if any. */
  async byClient(buyerId: string, clientId: string): Promise<(RecordedPayment & { refundedAt: Date | null }) | undefined> {
    const row = await this.db('micro_payments').where({ buyer_id: buyerId, client_id: clientId }).first('id');
    return row && this.get(String(row.id));
  }

  /**
   * Refunds a payment in full, in the period open now (a compact reversing entry). A second refund of the same
   * payment writes nothing and returns the first (created: false).
   */
  refund(p: RecordedPayment, reason: string | undefined): Promise<{ created: boolean; periodSeq: number; createdAt: Date }> {
    return this.db.transaction(async (trx) => {
      const { rows: [{ seq }] } = await trx.raw('SELECT open_period_for_recording() AS seq') as { rows: Array<{ seq: number }> };
      const { rows } = await trx.raw(`
        INSERT INTO micro_refunds (payment_id, period_seq, buyer_id, seller_id, currency, amount_minor, fee_minor, reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (payment_id) DO NOTHING RETURNING period_seq, created_at`,
      [p.id, seq, p.buyerId, p.sellerId, p.currency, p.amountMinor, p.feeMinor, reason ?? null]) as {
        rows: Array<{ period_seq: number; created_at: Date }> };
      if (rows[0]) return { created: true, periodSeq: rows[0].period_seq, createdAt: rows[0].created_at };
      const first = await trx('micro_refunds').where({ payment_id: p.id }).first('period_seq', 'created_at');
      return { created: false, periodSeq: first.period_seq, createdAt: first.created_at };
    });
  }
}

/** Creates missing counters and locks them all, in one order for everyone; returns what each has spent (by capWindowKey). */
async function lockCounters(trx: Db, windows: CapWindow[]): Promise<Map<string, number>> {
  if (windows.length === 0) return new Map();
  const list = [...windows].sort((a, b) => (capWindowKey(a) < capWindowKey(b) ? -1 : 1));
  // a no-op update returns the current value
  const { rows } = await trx.raw(`
    INSERT INTO rule_set_spend (rule_set_id, window_kind, window_key)
    SELECT * FROM unnest(?::text[], ?::char(1)[], ?::integer[]) ORDER BY 1, 2, 3
    ON CONFLICT (rule_set_id, window_kind, window_key) DO UPDATE SET spent_minor = rule_set_spend.spent_minor
    RETURNING rule_set_id, window_kind, window_key, spent_minor`,
  [list.map((w) => w.ruleSetId), list.map((w) => w.kind), list.map((w) => w.key)]) as {
    rows: Array<{ rule_set_id: string; window_kind: 'd' | 'p'; window_key: number; spent_minor: string }> };
  return new Map(rows.map((r) => [capWindowKey({ ruleSetId: r.rule_set_id, kind: r.window_kind, key: r.window_key }), Number(r.spent_minor)]));
}

async function addToCounters(trx: Db, changes: Array<CapWindow & { added: number }>): Promise<void> {
  if (changes.length === 0) return;
  await trx.raw(`
    UPDATE rule_set_spend s SET spent_minor = s.spent_minor + u.added
    FROM unnest(?::text[], ?::char(1)[], ?::integer[], ?::bigint[]) AS u (rule_set_id, window_kind, window_key, added)
    WHERE s.rule_set_id = u.rule_set_id AND s.window_kind = u.window_kind AND s.window_key = u.window_key`,
  [changes.map((c) => c.ruleSetId), changes.map((c) => c.kind), changes.map((c) => c.key), changes.map((c) => c.added)]);
}

async function existingPayments(db: Db, ps: PaymentToRecord[]): Promise<Map<string, RecordedPayment>> {
  if (ps.length === 0) return new Map();
  const { rows } = await db.raw(`
    SELECT ${COLUMNS} FROM micro_payments
    WHERE (buyer_id, client_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))`,
  [ps.map((p) => p.buyerId), ps.map((p) => p.clientId)]) as { rows: PaymentRow[] };
  return new Map(rows.map((r) => [pairKey(r.buyer_id, r.client_id), fromRow(r)]));
}
