// Recording micro-payments: set-based, one short statement or transaction per request (uncapped requests that
// arrive together share one statement: see insertCoalesced). Each recorded payment is a compact journal entry
// (see migrations/005) in the period open at the time. Spending caps are counted in rule_set_spend rows that the
// transaction locks, so parallel payments cannot together pass a cap.
import { dayKey, MAX_BATCH_PAYMENTS } from '../domain/micropayments';
import { withinCap } from '../domain/rules';
import { Coalescer } from './coalescer';
import { arrayLiteral, type Db, prepared } from './db';
import { STALE_GENERATION_SQLSTATE } from './migrations/007_recording_generation';
import { ID_BLOCK } from './migrations/008_micro_payment_id_blocks';

export interface PaymentToRecord {
  buyerId: string;
  sellerId: string;
  itemId: string;
  clientId: string;
  ruleSetId: string;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  grantSeconds: number;
  caps: { perDayMinor: number | null; perPeriodMinor: number | null };
}

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

export type CapRefusal = 'daily_cap_exceeded' | 'period_cap_exceeded';
export type RecordOutcome =
  | { status: 'recorded' | 'replayed'; payment: RecordedPayment }
  | { status: 'refused'; code: CapRefusal | 'client_id_reused'; message: string };

/** The settlement period open now (one always is). */
export async function openPeriodSeq(db: Db): Promise<number> {
  const row = await db('settlement_periods').where({ state: 'open' }).first('seq');
  if (!row) throw new Error('no settlement period is open');
  return row.seq;
}

/**
 * The recording generation (migrations/007) as PostgreSQL has it now. Read it before reading what payments are
 * resolved from, and record them under it: if it has moved on meanwhile, recordPayments throws StaleGeneration.
 */
export async function recordingGeneration(db: Db): Promise<number> {
  const [row] = await prepared<{ generation: string }>(db, 'recording-generation', 'SELECT generation FROM recording_generation', []);
  return Number(row.generation);
}

/** Throws StaleGeneration if the generation has moved on (for decisions made without recording anything). */
export async function confirmGeneration(db: Db, generation: number): Promise<void> {
  if (await recordingGeneration(db) !== generation) throw new StaleGeneration(generation);
}

/** Parties or terms changed after the caller read them: nothing was written; read them afresh and try again. */
export class StaleGeneration extends Error {
  constructor(readonly generation: number) {
    super(`parties or terms changed after generation ${generation} was read`);
    this.name = 'StaleGeneration';
  }
}
const isStale = (err: unknown) => (err as { code?: string }).code === STALE_GENERATION_SQLSTATE;

interface PaymentRow {
  id: string; period_seq: number; buyer_id: string; seller_id: string; item_id: string; client_id: string;
  currency: string; amount_minor: string; fee_minor: string; grant_seconds: number; created_at: Date;
}

const COLUMNS = 'id, period_seq, buyer_id, seller_id, item_id, client_id, currency, amount_minor, fee_minor, grant_seconds, created_at';

function fromRow(r: PaymentRow): RecordedPayment {
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

/**
 * Records the payments in order, resolved from what was read under `generation`. A payment whose (buyer,
 * clientId) exists is a replay (same content) or client_id_reused; one that would take its rule set past a
 * per-day or per-period cap is refused and later ones are still tried. Everything else is written in the period
 * open now. Throws StaleGeneration, having written nothing, if the generation has moved on.
 */
export async function recordPayments(db: Db, payments: PaymentToRecord[], nowMs: number, generation: number): Promise<RecordOutcome[]> {
  try {
    return await record(db, payments, nowMs, generation);
  } catch (err) {
    throw isStale(err) ? new StaleGeneration(generation) : err;
  }
}

async function record(db: Db, payments: PaymentToRecord[], nowMs: number, generation: number): Promise<RecordOutcome[]> {
  const outcomes: Array<RecordOutcome | undefined> = new Array(payments.length);
  // within the request, a repeated (buyer, clientId) answers like a repeat of the first
  const firstOf = new Map<string, number>();
  const repeatOf = new Map<number, number>();
  payments.forEach((p, i) => {
    const k = pairKey(p.buyerId, p.clientId);
    const first = firstOf.get(k);
    if (first === undefined) firstOf.set(k, i); else repeatOf.set(i, first);
  });
  const capped = payments.some((p, i) => !repeatOf.has(i) && (p.caps.perDayMinor !== null || p.caps.perPeriodMinor !== null));

  const candidates = payments.map((_, i) => i).filter((i) => !repeatOf.has(i));
  if (!capped) {
    // one statement, shared with concurrent requests: the period lock is held shared just while it runs
    const inserted = await insertCoalesced(db, candidates.map((i) => ({ p: payments[i], generation })));
    await settleInserted(db, payments, candidates, inserted, outcomes, () => {});
  } else await db.transaction(async (trx) => {
    const { rows: [{ seq }] } = await trx.raw('SELECT open_period_for_recording() AS seq') as { rows: Array<{ seq: number }> };
    if (seq === null) throw new Error('no settlement period is open');

    // the counters of the payments' capped windows, { spent (locked), cap, added }; dailyOf/periodOf: a payment's
    const counters = new Map<string, { ruleSetId: string; kind: 'd' | 'p'; key: number; spent: number; cap: number; added: number }>();
    const counterKey = (ruleSetId: string, kind: 'd' | 'p', key: number) => `${ruleSetId}|${kind}|${key}`;
    const day = dayKey(nowMs);
    const dailyOf = (p: PaymentToRecord) => (p.caps.perDayMinor !== null ? counters.get(counterKey(p.ruleSetId, 'd', day)) : undefined);
    const periodOf = (p: PaymentToRecord) => (p.caps.perPeriodMinor !== null ? counters.get(counterKey(p.ruleSetId, 'p', seq)) : undefined);
    for (const i of candidates) {
      const p = payments[i];
      if (p.caps.perDayMinor !== null) counters.set(counterKey(p.ruleSetId, 'd', day), { ruleSetId: p.ruleSetId, kind: 'd', key: day, spent: 0, cap: p.caps.perDayMinor, added: 0 });
      if (p.caps.perPeriodMinor !== null) counters.set(counterKey(p.ruleSetId, 'p', seq), { ruleSetId: p.ruleSetId, kind: 'p', key: seq, spent: 0, cap: p.caps.perPeriodMinor, added: 0 });
    }
    const list = [...counters.entries()].sort(([a], [b]) => (a < b ? -1 : 1)); // one lock order for everyone
    if (list.length > 0) {
      // creates missing counters and locks them all; a no-op update returns the current value
      const { rows } = await trx.raw(`
        INSERT INTO rule_set_spend (rule_set_id, window_kind, window_key)
        SELECT * FROM unnest(?::text[], ?::char(1)[], ?::integer[]) ORDER BY 1, 2, 3
        ON CONFLICT (rule_set_id, window_kind, window_key) DO UPDATE SET spent_minor = rule_set_spend.spent_minor
        RETURNING rule_set_id, window_kind, window_key, spent_minor`,
      [list.map(([, c]) => c.ruleSetId), list.map(([, c]) => c.kind), list.map(([, c]) => c.key)]) as {
        rows: Array<{ rule_set_id: string; window_kind: 'd' | 'p'; window_key: number; spent_minor: string }> };
      for (const r of rows) counters.get(counterKey(r.rule_set_id, r.window_kind, r.window_key))!.spent = Number(r.spent_minor);
    }
    // payments that exist already do not count again: looked for once the counters are locked, so a concurrent
    // request with the same clientId has either committed (and is seen here) or waits for us
    const existing = await existingPayments(trx, candidates.map((i) => payments[i]));
    const admitted: number[] = [];
    for (const i of candidates) {
      const p = payments[i];
      const e = existing.get(pairKey(p.buyerId, p.clientId));
      const [d, per] = [dailyOf(p), periodOf(p)];
      if (e) {
        outcomes[i] = replayOrReuse(p, e);
      } else if (d && !withinCap(d.spent + d.added, p.amountMinor, d.cap)) {
        outcomes[i] = { status: 'refused', code: 'daily_cap_exceeded',
          message: `${p.amountMinor} would take the rule set past its daily cap of ${d.cap} (${d.spent + d.added} spent today)` };
      } else if (per && !withinCap(per.spent + per.added, p.amountMinor, per.cap)) {
        outcomes[i] = { status: 'refused', code: 'period_cap_exceeded',
          message: `${p.amountMinor} would take the rule set past its period cap of ${per.cap} (${per.spent + per.added} spent this period)` };
      } else {
        if (d) d.added += p.amountMinor;
        if (per) per.added += p.amountMinor;
        admitted.push(i);
      }
    }

    const inserted = await insertPayments(trx, admitted.map((i) => payments[i]), seq, generation);
    await settleInserted(trx, payments, admitted, inserted, outcomes, (p) => {
      // (written meanwhile by a concurrent request with the same clientId: ours did not count)
      const [d, per] = [dailyOf(p), periodOf(p)];
      if (d) d.added -= p.amountMinor;
      if (per) per.added -= p.amountMinor;
    });
    const changed = [...counters.values()].filter((c) => c.added !== 0);
    if (changed.length > 0) {
      await trx.raw(`
        UPDATE rule_set_spend s SET spent_minor = s.spent_minor + u.added
        FROM unnest(?::text[], ?::char(1)[], ?::integer[], ?::bigint[]) AS u (rule_set_id, window_kind, window_key, added)
        WHERE s.rule_set_id = u.rule_set_id AND s.window_kind = u.window_kind AND s.window_key = u.window_key`,
      [changed.map((c) => c.ruleSetId), changed.map((c) => c.kind), changed.map((c) => c.key), changed.map((c) => c.added)]);
    }
  });

  for (const [i, first] of repeatOf) {
    const o = outcomes[first]!;
    outcomes[i] = o.status === 'refused' ? o : replayOrReuse(payments[i], o.payment);
  }
  return outcomes as RecordOutcome[];
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
/** What was written for each payment, in order (undefined: its (buyer, clientId) was taken). */
async function insertPayments(db: Db, ps: PaymentToRecord[], periodSeq: number, generation: number): Promise<Array<RecordedPayment | undefined>> {
  if (ps.length === 0) return [];
  const { rows } = await db.raw(INSERT_IN_PERIOD, [periodSeq, ...columnsOf(ps), generation]) as { rows: PaymentRow[] };
  const byPair = new Map(rows.map((r) => [pairKey(r.buyer_id, r.client_id), fromRow(r)]));
  return ps.map((p) => byPair.get(pairKey(p.buyerId, p.clientId)));
}

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

/**
 * Payments without caps, in the period open now, in one statement with those of concurrent requests (at most
 * MAX_BATCH_PAYMENTS rows; a (buyer, clientId) appears once per statement, so each row answers one request).
 * The statement checks the oldest generation its requests read under, so it fails for all of them if any
 * request's reads are stale. It is written for the common case, all payments new: no conflict handling and
 * nothing back per row (ids are given). A payment that exists (a replay) makes PostgreSQL refuse the whole
 * statement; it then runs again, skipping those.
 */
type Pending = { p: PaymentToRecord; generation: number };
const inserters = new WeakMap<Db, Coalescer<Pending, RecordedPayment | undefined>>();
/** What was written for each payment, in order (undefined: its (buyer, clientId) was taken). */
async function insertCoalesced(db: Db, pending: Pending[]): Promise<Array<RecordedPayment | undefined>> {
  let c = inserters.get(db);
  if (!c) {
    const ids = new IdBlocks(db);
    c = new Coalescer(async (items) => {
      const ps = items.map((i) => i.p);
      const given = await ids.take(ps.length);
      const params = [arrayLiteral(given), ...columnsOf(ps).map(arrayLiteral), Math.min(...items.map((i) => i.generation))];
      const recorded = (p: PaymentToRecord, id: number, periodSeq: number, createdAt: Date): RecordedPayment => ({
        id: String(id), periodSeq, buyerId: p.buyerId, sellerId: p.sellerId, itemId: p.itemId, clientId: p.clientId,
        currency: p.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor, grantSeconds: p.grantSeconds, createdAt,
      });
      try {
        const [s] = await prepared<{ period_seq: number; created_ms: number }>(db, 'record-micropayments', RECORD_NEW, params);
        const createdAt = new Date(s.created_ms);
        return ps.map((p, k) => recorded(p, given[k], s.period_seq, createdAt));
      } catch (err) {
        if ((err as { constraint?: string }).constraint !== 'micro_payments_buyer_id_client_id_key') throw err;
      }
      const rows = await prepared<{ id: string; buyer_id: string; client_id: string; period_seq: number; created_ms: number }>(
        db, 'record-micropayments-skipping', RECORD_SKIPPING, params);
      const byPair = new Map(rows.map((r) => [pairKey(r.buyer_id, r.client_id), r]));
      const createdAt = rows.length ? new Date(rows[0].created_ms) : undefined; // one statement, one now()
      return ps.map((p) => {
        const r = byPair.get(pairKey(p.buyerId, p.clientId));
        return r && recorded(p, Number(r.id), r.period_seq, createdAt!);
      });
    }, { maxInFlight: 2, maxItems: MAX_BATCH_PAYMENTS, key: (i) => pairKey(i.p.buyerId, i.p.clientId) });
    inserters.set(db, c);
  }
  return c.submit(pending);
}

/**
 * Ids for new payments, from the table's own sequence, which steps by ID_BLOCK (migrations/008): each nextval
 * reserves the block of ID_BLOCK ids that starts there, so a process takes thousands of ids per query and never
 * one another's (a row written with the column's default uses the first id of its block).
 */
class IdBlocks {
  private readonly blocks: Array<{ next: number; end: number }> = [];
  private available = 0;
  private fetching: Promise<void> | undefined;

  constructor(private readonly db: Db, private readonly spareBlocks = 8) {}

  async take(n: number): Promise<number[]> {
    while (this.available < n) {
      this.fetching ??= this.fetch(Math.ceil((n - this.available) / ID_BLOCK) + this.spareBlocks)
        .finally(() => { this.fetching = undefined; });
      await this.fetching;
    }
    const out = new Array<number>(n);
    for (let k = 0; k < n;) {
      const b = this.blocks[0];
      while (k < n && b.next < b.end) out[k++] = b.next++;
      if (b.next === b.end) this.blocks.shift();
    }
    this.available -= n;
    return out;
  }

  private async fetch(count: number): Promise<void> {
    const rows = await prepared<{ start: string }>(this.db, 'micro-payment-id-blocks',
      "SELECT nextval('micro_payments_id_seq') AS start FROM generate_series(1, $1::integer)", [count]);
    for (const r of rows) this.blocks.push({ next: Number(r.start), end: Number(r.start) + ID_BLOCK });
    this.available += rows.length * ID_BLOCK;
  }
}

/**
 * Outcomes of the payments an INSERT was given (`inserted[k]` is what was written for `given[k]`, if anything):
 * recorded; or, not written because the (buyer, clientId) was taken (before, or meanwhile by a concurrent
 * request), a replay or a reuse.
 */
async function settleInserted(db: Db, payments: PaymentToRecord[], given: number[], inserted: Array<RecordedPayment | undefined>,
  outcomes: Array<RecordOutcome | undefined>, onTaken: (p: PaymentToRecord) => void): Promise<void> {
  const taken: number[] = [];
  given.forEach((i, k) => {
    const r = inserted[k];
    if (r) outcomes[i] = { status: 'recorded', payment: r }; else taken.push(i);
  });
  if (taken.length === 0) return;
  const existing = await existingPayments(db, taken.map((i) => payments[i]));
  for (const i of taken) {
    const e = existing.get(pairKey(payments[i].buyerId, payments[i].clientId));
    // ON CONFLICT skipped the row, so the conflicting one has committed and is seen by this later statement
    if (!e) throw new Error(`payment (${payments[i].buyerId}, ${payments[i].clientId}) neither written nor found`);
    outcomes[i] = replayOrReuse(payments[i], e);
    onTaken(payments[i]);
  }
}

async function existingPayments(db: Db, ps: PaymentToRecord[]): Promise<Map<string, RecordedPayment>> {
  if (ps.length === 0) return new Map();
  const { rows } = await db.raw(`
    SELECT ${COLUMNS} FROM micro_payments
    WHERE (buyer_id, client_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))`,
  [ps.map((p) => p.buyerId), ps.map((p) => p.clientId)]) as { rows: PaymentRow[] };
  return new Map(rows.map((r) => [pairKey(r.buyer_id, r.client_id), fromRow(r)]));
}

export async function getPayment(db: Db, id: string): Promise<(RecordedPayment & { refundedAt: Date | null }) | undefined> {
  const { rows } = await db.raw(`
    SELECT ${COLUMNS.split(', ').map((c) => `p.${c}`).join(', ')}, r.created_at AS refunded_at
    FROM micro_payments p LEFT JOIN micro_refunds r ON r.payment_id = p.id WHERE p.id = ?`, [id]) as {
    rows: Array<PaymentRow & { refunded_at: Date | null }> };
  return rows[0] && { ...fromRow(rows[0]), refundedAt: rows[0].refunded_at };
}

/**
 * Refunds a payment in full, in the period open now (a compact reversing entry). A second refund of the same
 * payment writes nothing and returns the first (created: false).
 */
export async function refundPayment(db: Db, p: RecordedPayment, reason: string | undefined):
  Promise<{ created: boolean; periodSeq: number; createdAt: Date }> {
  return db.transaction(async (trx) => {
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
