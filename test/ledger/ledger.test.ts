import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../../ledger/ledger';
import { arrayLiteral, createDb, type Db, type Statements } from '../../ledger/db';
import { testDatabase, uid } from '../support/env';
import { inject } from 'vitest';

let db: Db;
let statements: Statements;
let closeDb: () => Promise<void>;
let ledger: Ledger;
const acct = { clearing: '', merchant: '', fee: '', eur: '' };

beforeAll(async () => {
  ({ db, statements, close: closeDb } = testDatabase());
  ledger = new Ledger(db);
  const s = uid();
  acct.clearing = `clearing-${s}`;
  acct.merchant = `merchant-${s}`;
  acct.fee = `fee-${s}`;
  acct.eur = `eur-${s}`;
  await ledger.openAccount({ id: acct.clearing, kind: 'processor_clearing', currency: 'USD' });
  await ledger.openAccount({ id: acct.merchant, kind: 'merchant_payable', currency: 'USD' });
  await ledger.openAccount({ id: acct.fee, kind: 'broker_fee_revenue', currency: 'USD' });
  await ledger.openAccount({ id: acct.eur, kind: 'merchant_payable', currency: 'EUR' });
});
afterAll(() => closeDb());

const capture = (key: string, total = 10_000, fee = 250) => ({
  idempotencyKey: key,
  description: 'capture',
  postings: [
    { accountId: acct.clearing, amountMinor: total, currency: 'USD' },
    { accountId: acct.merchant, amountMinor: -(total - fee), currency: 'USD' },
    { accountId: acct.fee, amountMinor: -fee, currency: 'USD' },
  ],
});

describe('posting', () => {
  it('writes a balanced entry and moves balances by exactly its postings', async () => {
    const before = await ledger.balance(acct.merchant);
    const { entry, created } = await ledger.post(capture(uid('cap-')));
    expect(created).toBe(true);
    expect(entry.postings).toHaveLength(3);
    const after = await ledger.balance(acct.merchant);
    expect(after.amountMinor - before.amountMinor).toBe(-9_750n);
    expect(after.currency).toBe('USD');
  });

  it('keeps amounts beyond 2^53 exact as bigint', async () => {
    const big = 2n ** 60n + 7n;
    const { entry } = await ledger.post({
      idempotencyKey: uid('big-'), description: 'big',
      postings: [{ accountId: acct.eur, amountMinor: big, currency: 'EUR' }, { accountId: acct.eur, amountMinor: -big, currency: 'EUR' }],
    });
    expect(entry.postings.map((p) => p.amountMinor)).toEqual([big, -big]);
    expect((await ledger.entry(entry.idempotencyKey))!.postings.map((p) => p.amountMinor)).toEqual([big, -big]);
  });

  it('returns a new entry as it reads back from the database (postings in order, metadata, time)', async () => {
    const key = uid('rb-');
    const { entry, created } = await ledger.post({ ...capture(key), metadata: { orderId: 'o-1', n: 2, skip: undefined } });
    expect(created).toBe(true);
    expect(await ledger.entry(key)).toEqual(entry);
    expect(entry.metadata).toEqual({ orderId: 'o-1', n: 2 });
  });

  it('rejects an unbalanced entry in code and writes nothing', async () => {
    const key = uid('unb-');
    const bad = capture(key);
    bad.postings[2].amountMinor = -249;
    await expect(ledger.post(bad)).rejects.toMatchObject({ code: 'unbalanced' });
    expect(await ledger.entry(key)).toBeUndefined();
  });

  it('rejects floats, zero amounts, bad currencies and single-posting entries', async () => {
    const base = capture(uid('inv-'));
    for (const mutate of [
      (e: typeof base) => { e.postings[0].amountMinor = 100.5; },
      (e: typeof base) => { e.postings[0].amountMinor = 0; },
      (e: typeof base) => { e.postings[0].currency = 'usd'; },
      (e: typeof base) => { e.postings = e.postings.slice(0, 1); },
    ]) {
      const e = structuredClone(base);
      mutate(e);
      await expect(ledger.post(e)).rejects.toBeInstanceOf(LedgerError);
    }
    expect(await ledger.entry(base.idempotencyKey)).toBeUndefined();
  });

  it('rejects a posting in a currency other than its account', async () => {
    await expect(ledger.post({
      idempotencyKey: uid('cur-'), description: 'x',
      postings: [{ accountId: acct.merchant, amountMinor: 5, currency: 'EUR' }, { accountId: acct.eur, amountMinor: -5, currency: 'EUR' }],
    })).rejects.toMatchObject({ code: 'unknown_account' });
  });
});

describe('the database enforces the rules itself', () => {
  it('refuses unbalanced postings written with raw SQL', async () => {
    const key = uid('raw-');
    await expect(db.transaction(async (trx) => {
      const [{ id }] = await trx('journal_entries').insert({ idempotency_key: key, description: 'raw' }).returning('id');
      await trx('postings').insert([
        { entry_id: id, account_id: acct.clearing, currency: 'USD', amount_minor: 100 },
        { entry_id: id, account_id: acct.merchant, currency: 'USD', amount_minor: -99 },
      ]);
    })).rejects.toThrow(/does not balance/);
    expect(await db('journal_entries').where({ idempotency_key: key }).first()).toBeUndefined();
  });

  it('refuses an entry without postings at commit', async () => {
    const key = uid('empty-');
    await expect(db('journal_entries').insert({ idempotency_key: key, description: 'empty' }))
      .rejects.toThrow(/at least 2 are required/);
    expect(await db('journal_entries').where({ idempotency_key: key }).first()).toBeUndefined();
  });

  it('refuses postings added to an entry committed earlier', async () => {
    const { entry } = await ledger.post(capture(uid('late-')));
    await expect(db('postings').insert({ entry_id: entry.id, account_id: acct.fee, currency: 'USD', amount_minor: 1 }))
      .rejects.toThrow(/does not balance/);
  });

  it('makes entries and postings append-only: no update, delete or truncate', async () => {
    const { entry } = await ledger.post(capture(uid('edit-')));
    await expect(db('postings').where({ entry_id: entry.id }).update({ amount_minor: 1 })).rejects.toThrow(/append-only/);
    await expect(db('postings').where({ entry_id: entry.id }).del()).rejects.toThrow(/append-only/);
    await expect(db('journal_entries').where({ id: entry.id }).del()).rejects.toThrow(/append-only/);
    await expect(db.raw('TRUNCATE postings CASCADE')).rejects.toThrow(/append-only/);
  });

  it('refuses a duplicate idempotency key at the database', async () => {
    const { entry } = await ledger.post(capture(uid('dup-')));
    await expect(db('journal_entries').insert({ idempotency_key: entry.idempotencyKey, description: 'again' }))
      .rejects.toThrow(/duplicate key/);
  });
});

describe('idempotency', () => {
  it('returns the first entry for a repeated key without writing', async () => {
    const key = uid('idem-');
    const first = await ledger.post(capture(key));
    const count = async () => Number((await db('postings').count({ n: '*' }).first())!.n);
    const before = await count();
    const again = await ledger.post(capture(key));
    expect(again.created).toBe(false);
    expect(again.entry.id).toBe(first.entry.id);
    expect(await count()).toBe(before);
  });

  it('refuses the same key with different postings', async () => {
    const key = uid('idem-');
    await ledger.post(capture(key));
    await expect(ledger.post(capture(key, 20_000))).rejects.toMatchObject({ code: 'idempotency_conflict' });
  });

  it('posts once when two connections post the same key at the same moment', async () => {
    const other = createDb(inject('databaseUrl'), { poolMax: 4 });
    try {
      const key = uid('race-');
      const before = await ledger.balance(acct.merchant);
      const results = await Promise.all([
        new Ledger(db).post(capture(key)),
        new Ledger(other).post(capture(key)),
        new Ledger(other).post(capture(key)),
      ]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.entry.id)).size).toBe(1);
      const after = await ledger.balance(acct.merchant);
      expect(after.amountMinor - before.amountMinor).toBe(-9_750n);
    } finally {
      await other.destroy();
    }
  });

  it('a second connection waits for the first writer of a key, then gets its entry', async () => {
    const waiter = uid('ledger-waiter-');
    const other = createDb(inject('databaseUrl'), { poolMax: 2, applicationName: waiter });
    const key = uid('wait-');
    const trx = await db.transaction();
    try {
      // Connection A has written the key but not committed.
      const [{ id }] = await trx('journal_entries').insert({ idempotency_key: key, description: 'capture' }).returning('id');
      await trx('postings').insert(capture(key).postings.map((p) => ({
        entry_id: id, account_id: p.accountId, currency: p.currency, amount_minor: p.amountMinor,
      })));
      // Connection B posts the same key: it must block on the unique index, not write a second entry.
      let settled = false;
      const second = new Ledger(other).post(capture(key)).finally(() => { settled = true; });
      // PostgreSQL shows B waiting for A's lock on the key (not merely not done yet)
      await expect.poll(async () => (await db.raw(`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = ? AND wait_event_type = 'Lock'`, [waiter])).rows[0].n, { timeout: 10_000 }).toBe(1);
      expect(settled).toBe(false);
      await trx.commit();
      const result = await second;
      expect(result.created).toBe(false);
      expect(result.entry.id).toBe(String(id));
      expect(await db('journal_entries').where({ idempotency_key: key }).count({ n: '*' }).first()).toEqual({ n: '1' });
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
      await other.destroy();
    }
  });
});

describe('balances', () => {
  it('the whole journal sums to zero per currency', async () => {
    const trial = await ledger.trialBalance();
    for (const total of trial.values()) expect(total).toBe(0n);
    expect(trial.size).toBeGreaterThan(0);
  });

  it('refuses to reopen an account with another kind or currency', async () => {
    await expect(ledger.openAccount({ id: acct.merchant, kind: 'merchant_payable', currency: 'EUR' }))
      .rejects.toMatchObject({ code: 'account_conflict' });
    await expect(ledger.openAccount({ id: acct.merchant, kind: 'merchant_payable', currency: 'USD' })).resolves.toBeUndefined();
  });

  it('opens an account with one query pair, then remembers it; a Ledger of its own still checks', async () => {
    const queries: string[] = [];
    const count = (q: { sql: string }) => queries.push(q.sql);
    const a = { id: uid('remembered-'), kind: 'merchant_payable', currency: 'USD' } as const;
    db.on('query', count);
    try {
      await ledger.openAccount(a);
      expect(queries).toHaveLength(2);
      await ledger.openAccount(a);
      expect(queries).toHaveLength(2);
    } finally {
      db.off('query', count);
    }
    await expect(ledger.openAccount({ ...a, currency: 'EUR' })).rejects.toMatchObject({ code: 'account_conflict' });
    await expect(new Ledger(db).openAccount({ ...a, kind: 'seller_payable' })).rejects.toMatchObject({ code: 'account_conflict' });
  });
});

describe('arrayLiteral', () => {
  const roundTrip = async (values: string[]) =>
    (await statements.query<{ a: string[] }>('test-array-literal', 'SELECT $1::text[] AS a', [arrayLiteral(values)]))[0].a;

  it('sends plain values as one literal that PostgreSQL reads back unchanged', async () => {
    const values = ['mp_1', 'a b', 'x,y', '{z}', 'NULL', '', 'é€', '7'];
    expect(arrayLiteral(values)).toBe('{"mp_1","a b","x,y","{z}","NULL","","é€","7"}');
    expect(await roundTrip(values)).toEqual(values);
    expect(await roundTrip([])).toEqual([]);
    expect(arrayLiteral([1, -2, 3.5])).toBe('{1,-2,3.5}');
    expect((await statements.query<{ a: number[] }>('test-array-literal-numbers', 'SELECT $1::float8[] AS a', [arrayLiteral([1, -2, 3.5])]))[0].a)
      .toEqual([1, -2, 3.5]);
  });

  it('leaves values holding a quote or a backslash to the driver, still unchanged in PostgreSQL', async () => {
    for (const values of [['a"b', 'c'], ['a\\b'], ['ok', '"']]) {
      expect(arrayLiteral(values)).toBe(values);
      expect(await roundTrip(values)).toEqual(values);
    }
  });
});
