// The double-entry ledger. Sign convention: a posting's amount_minor is positive for a debit and negative
// for a credit. The database itself guarantees what the code also checks:
// - every journal entry has at least two postings (checked at commit by a deferred constraint trigger) and
//   they sum to zero per currency (checked after every INSERT into postings, and again at commit): the
//   postings of one entry are written by one INSERT statement;
// - a posting's currency is its account's currency (composite foreign key);
// - entries and postings are append-only (corrections are new, reversing entries);
// - idempotency keys are unique.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE accounts (
      id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
      kind        text NOT NULL CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
                    'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense')),
      currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      owner_id    text,
      name        text,
      created_at  timestamptz NOT NULL DEFAULT now(),
      UNIQUE (id, currency)
    );

    CREATE TABLE journal_entries (
      id               bigserial PRIMARY KEY,
      idempotency_key  text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 255),
      description      text NOT NULL CHECK (length(description) <= 1000),
      metadata         jsonb NOT NULL DEFAULT '{}',
      created_at       timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE postings (
      id            bigserial PRIMARY KEY,
      entry_id      bigint NOT NULL REFERENCES journal_entries (id),
      account_id    text NOT NULL,
      currency      char(3) NOT NULL,
      amount_minor  bigint NOT NULL CHECK (amount_minor <> 0),
      FOREIGN KEY (account_id, currency) REFERENCES accounts (id, currency)
    );
    CREATE INDEX postings_entry_idx ON postings (entry_id);
    CREATE INDEX postings_account_idx ON postings (account_id) INCLUDE (amount_minor);

    CREATE FUNCTION ledger_check_entry(eid bigint) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      n integer;
      unbalanced text;
    BEGIN
      SELECT count(*) INTO n FROM postings WHERE entry_id = eid;
      IF n < 2 THEN
        RAISE EXCEPTION 'journal entry % has % posting(s); at least 2 are required', eid, n
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_has_postings';
      END IF;
      SELECT string_agg(currency || ' ' || total, ', ') INTO unbalanced FROM (
        SELECT currency, sum(amount_minor) AS total FROM postings WHERE entry_id = eid
        GROUP BY currency HAVING sum(amount_minor) <> 0) AS t;
      IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % does not balance (sum per currency: %)', eid, unbalanced
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_balanced';
      END IF;
    END $$;

    CREATE FUNCTION ledger_entry_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM ledger_check_entry(NEW.id);
      RETURN NULL;
    END $$;

    -- Every INSERT into postings must leave each entry it touches balanced: the postings of one entry are
    -- written in one statement, and nothing can be added later to an entry committed earlier.
    CREATE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad record;
    BEGIN
      SELECT p.entry_id, p.currency, sum(p.amount_minor) AS total INTO bad
        FROM postings p WHERE p.entry_id IN (SELECT DISTINCT entry_id FROM new_postings)
        GROUP BY p.entry_id, p.currency HAVING sum(p.amount_minor) <> 0 LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance (% sums to %)', bad.entry_id, bad.currency, bad.total
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_balanced';
      END IF;
      RETURN NULL;
    END $$;

    CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: post a reversing entry instead of % ', TG_TABLE_NAME, lower(TG_OP)
        USING ERRCODE = 'restrict_violation';
    END $$;

    CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON journal_entries
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_inserted();
    CREATE TRIGGER postings_balanced AFTER INSERT ON postings
      REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_inserted();
    CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP TABLE postings; DROP TABLE journal_entries; DROP TABLE accounts;
    DROP FUNCTION ledger_check_entry(bigint), ledger_entry_inserted(), ledger_postings_inserted(), ledger_append_only();
  `);
}
