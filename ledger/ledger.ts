// Posting to the double-entry ledger. Amounts are bigint minor units; a positive amount debits the account,
// a negative one credits it. The database enforces balance and append-only itself (see migrations/001);
// this module validates first so callers get a precise error, and makes posting idempotent per key.
import { isBalanced, isCurrency, sumByCurrency, toMinor } from '../domain/money';
import type { Db } from './db';
import { metrics } from '../runtime/metrics';

export const ACCOUNT_KINDS = ['processor_clearing', 'merchant_payable', 'seller_payable', 'buyer_receivable',
  'broker_fee_revenue', 'refunds', 'payouts', 'suspense', 'merchant_reserve', 'disputes_held', 'processor_fees'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

/** Postings per entry: an entry is a business event, not a batch. */
export const MAX_POSTINGS_PER_ENTRY = 100;
/** Entries per postMany call. */
export const MAX_ENTRIES_PER_CALL = 10_000;
/** Accounts a Ledger remembers as opened before it starts afresh. */
const MAX_REMEMBERED_ACCOUNTS = 100_000;

export interface AccountInput {
  id: string;
  kind: AccountKind;
  currency: string;
  ownerId?: string;
  name?: string;
}

export interface PostingInput {
  accountId: string;
  amountMinor: bigint | number;
  currency: string;
}

export interface EntryInput {
  idempotencyKey: string;
  description: string;
  postings: PostingInput[];
  metadata?: Record<string, unknown>;
}

export interface Posting {
  accountId: string;
  amountMinor: bigint;
  currency: string;
}

export interface Entry {
  id: string;
  idempotencyKey: string;
  description: string;
  metadata: Record<string, unknown>;
  createdAt: Date;
  postings: Posting[];
}

export class LedgerError extends Error {
  constructor(readonly code: 'invalid_entry' | 'unbalanced' | 'unknown_account' | 'idempotency_conflict' | 'account_conflict',
    message: string) {
    super(message);
    this.name = 'LedgerError';
  }
}

export class Ledger {
  constructor(private readonly db: Db) {}

  /** Accounts this instance has opened or found as asked (kind and currency never change; accounts are never deleted). */
  private readonly opened = new Set<string>();

  /** Creates the account, or returns quietly when it exists with the same kind and currency. */
  async openAccount(a: AccountInput): Promise<void> {
    if (!isCurrency(a.currency)) throw new LedgerError('invalid_entry', `invalid currency '${a.currency}'`);
    const key = `${a.id}\n${a.kind}\n${a.currency}`;
    if (this.opened.has(key)) return;
    await this.db('accounts')
      .insert({ id: a.id, kind: a.kind, currency: a.currency, owner_id: a.ownerId ?? null, name: a.name ?? null })
      .onConflict('id').ignore();
    const row = await this.db('accounts').where({ id: a.id }).first();
    if (row.kind !== a.kind || row.currency !== a.currency) {
      throw new LedgerError('account_conflict', `account ${a.id} exists as ${row.kind} ${row.currency}`);
    }
    if (this.opened.size >= MAX_REMEMBERED_ACCOUNTS) this.opened.clear();
    this.opened.add(key);
  }

  /**
   * Writes the entry and its postings in one short transaction. Posting a key that already exists writes
   * nothing and returns the first entry (created: false), provided the postings are the same; different
   * postings under a used key are an idempotency_conflict. Two connections posting one key at once: the
   * second waits on the unique index, then sees the first's entry.
   */
  async post(input: EntryInput): Promise<{ entry: Entry; created: boolean }> {
    const postings = validate(input);
    const metadata = JSON.stringify(input.metadata ?? {});
    // One statement (so one transaction): the entry, and its postings only if the entry is new.
    const { rows } = await this.db.raw(`
      WITH e AS (
        INSERT INTO journal_entries (idempotency_key, description, metadata) VALUES (?, ?, ?)
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, created_at),
      p AS (
        INSERT INTO postings (entry_id, account_id, currency, amount_minor)
        SELECT e.id, x.account_id, x.currency, x.amount_minor
        FROM e, unnest(?::text[], ?::char(3)[], ?::bigint[]) WITH ORDINALITY AS x(account_id, currency, amount_minor, n)
        ORDER BY x.n)
      SELECT id, created_at FROM e`, [
      input.idempotencyKey, input.description, metadata,
      postings.map((p) => p.accountId), postings.map((p) => p.currency), postings.map((p) => p.amountMinor.toString()),
    ]).catch((err: { code?: string; detail?: string }) => {
      if (err.code === '23503') throw new LedgerError('unknown_account', `unknown account or currency mismatch: ${err.detail}`);
      throw err;
    }) as { rows: Array<{ id: string; created_at: Date }> };
    if (rows.length === 1) {
      const entry = { id: String(rows[0].id), idempotencyKey: input.idempotencyKey, description: input.description,
        metadata: JSON.parse(metadata) as Record<string, unknown>, createdAt: rows[0].created_at, postings };
      metrics.ledgerEntries.inc();
      return { entry, created: true };
    }
    const entry = await this.entry(input.idempotencyKey);
    if (!entry) throw new Error(`journal entry ${input.idempotencyKey} vanished after posting`);
    if (!samePostings(entry.postings, postings)) {
      throw new LedgerError('idempotency_conflict',
        `idempotency key '${input.idempotencyKey}' was already used for an entry with different postings`);
    }
    return { entry, created: false };
  }

  /**
   * Many entries in one short transaction, set-based (for settlement runs that post one entry per buyer or
   * seller). Keys already used are skipped: the caller's keys are derived from what the entry is about, so a
   * repeat carries the same postings. Returns how many entries were written now.
   */
  async postMany(inputs: EntryInput[]): Promise<number> {
    if (inputs.length === 0) return 0;
    if (inputs.length > MAX_ENTRIES_PER_CALL) throw new LedgerError('invalid_entry', `at most ${MAX_ENTRIES_PER_CALL} entries per call`);
    const checked = inputs.map((i) => ({ input: i, postings: validate(i) }));
    const written = await this.db.transaction(async (trx) => {
      const { rows } = await trx.raw(`
        INSERT INTO journal_entries (idempotency_key, description, metadata)
        SELECT * FROM unnest(?::text[], ?::text[], ?::jsonb[])
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key`, [
        checked.map((c) => c.input.idempotencyKey), checked.map((c) => c.input.description),
        checked.map((c) => JSON.stringify(c.input.metadata ?? {})),
      ]) as { rows: Array<{ id: string; idempotency_key: string }> };
      if (rows.length === 0) return 0;
      const ids = new Map(rows.map((r) => [r.idempotency_key, r.id]));
      const entryIds: string[] = []; const accountIds: string[] = []; const currencies: string[] = []; const amounts: string[] = [];
      for (const c of checked) {
        const id = ids.get(c.input.idempotencyKey);
        if (id === undefined) continue;
        ids.delete(c.input.idempotencyKey); // a key twice in one call is posted once
        for (const p of c.postings) {
          entryIds.push(id); accountIds.push(p.accountId); currencies.push(p.currency); amounts.push(p.amountMinor.toString());
        }
      }
      await trx.raw(`INSERT INTO postings (entry_id, account_id, currency, amount_minor)
        SELECT * FROM unnest(?::bigint[], ?::text[], ?::char(3)[], ?::bigint[])`, [entryIds, accountIds, currencies, amounts]);
      return rows.length;
    }).catch((err: { code?: string; detail?: string }) => {
      if (err.code === '23503') throw new LedgerError('unknown_account', `unknown account or currency mismatch: ${err.detail}`);
      throw err;
    });
    metrics.ledgerEntries.inc(written);
    return written;
  }

  async entry(idempotencyKey: string): Promise<Entry | undefined> {
    const e = await this.db('journal_entries').where({ idempotency_key: idempotencyKey }).first();
    if (!e) return undefined;
    const rows = await this.db('postings').where({ entry_id: e.id }).orderBy('id');
    return {
      id: String(e.id), idempotencyKey: e.idempotency_key, description: e.description, metadata: e.metadata,
      createdAt: e.created_at,
      postings: rows.map((r) => ({ accountId: r.account_id, currency: r.currency, amountMinor: BigInt(r.amount_minor) })),
    };
  }

  /** Debits minus credits of the account, in its currency (with the postings micro-payments imply). */
  async balance(accountId: string): Promise<{ amountMinor: bigint; currency: string }> {
    const account = await this.db('accounts').where({ id: accountId }).first();
    if (!account) throw new LedgerError('unknown_account', `unknown account ${accountId}`);
    // A buyer's or seller's account: its postings plus those its own micro-payment and refund rows imply (as the
    // ledger_postings view defines them), the payments read by the party's indexes rather than through the view,
    // which would read every micro-payment (refunds, few, have no party index).
    const implied = account.kind === 'buyer_receivable'
      ? `(SELECT coalesce(sum(amount_minor), 0) FROM micro_payments WHERE buyer_id = :owner AND currency = :currency)
         - (SELECT coalesce(sum(amount_minor), 0) FROM micro_refunds WHERE buyer_id = :owner AND currency = :currency)`
      : account.kind === 'seller_payable'
        ? `(SELECT coalesce(sum(fee_minor - amount_minor), 0) FROM micro_payments WHERE seller_id = :owner AND currency = :currency)
           + (SELECT coalesce(sum(amount_minor - fee_minor), 0) FROM micro_refunds WHERE seller_id = :owner AND currency = :currency)`
        : null;
    if (implied === null || account.owner_id === null) {
      const { total } = await this.db('ledger_postings').where({ account_id: accountId })
        .sum({ total: 'amount_minor' }).first() as { total: string | null };
      return { amountMinor: BigInt(total ?? 0), currency: account.currency };
    }
    const { rows: [r] } = await this.db.raw(`SELECT (SELECT coalesce(sum(amount_minor), 0) FROM postings WHERE account_id = :accountId)
      + ${implied} AS total`, { accountId, owner: account.owner_id, currency: account.currency });
    return { amountMinor: BigInt(r.total), currency: account.currency };
  }

  /** Sum of every posting per currency: zero for each currency when the whole journal balances. */
  async trialBalance(): Promise<Map<string, bigint>> {
    const rows: Array<{ currency: string; total: string }> =
      await this.db('ledger_postings').select('currency').sum({ total: 'amount_minor' }).groupBy('currency');
    return new Map(rows.map((r) => [r.currency, BigInt(r.total)]));
  }
}

function validate(input: EntryInput): Posting[] {
  const bad = (msg: string) => new LedgerError('invalid_entry', msg);
  if (typeof input.idempotencyKey !== 'string' || input.idempotencyKey.length < 1 || input.idempotencyKey.length > 255) {
    throw bad('idempotencyKey must be 1 to 255 characters');
  }
  if (!Array.isArray(input.postings) || input.postings.length < 2) throw bad('an entry needs at least 2 postings');
  if (input.postings.length > MAX_POSTINGS_PER_ENTRY) throw bad(`an entry takes at most ${MAX_POSTINGS_PER_ENTRY} postings`);
  const postings = input.postings.map((p) => {
    if (!isCurrency(p.currency)) throw bad(`invalid currency '${p.currency}'`);
    let amountMinor: bigint;
    try {
      amountMinor = toMinor(p.amountMinor);
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (amountMinor === 0n) throw bad(`posting to ${p.accountId} has a zero amount`);
    return { accountId: p.accountId, currency: p.currency, amountMinor };
  });
  if (!isBalanced(postings)) {
    const sums = [...sumByCurrency(postings)].filter(([, s]) => s !== 0n).map(([c, s]) => `${c} ${s}`).join(', ');
    throw new LedgerError('unbalanced', `postings do not sum to zero per currency (${sums})`);
  }
  return postings;
}

function samePostings(a: Posting[], b: Posting[]): boolean {
  const key = (p: Posting) => `${p.accountId}|${p.currency}|${p.amountMinor}`;
  const sa = a.map(key).sort();
  const sb = b.map(key).sort();
  return sa.length === sb.length && sa.every((k, i) => k === sb[i]);
}
