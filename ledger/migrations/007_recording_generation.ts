// The generation of what recording reads through its caches: rule sets, buyers, sellers and items. A change
// that could alter a recording decision moves it on: a revocation, a suspension, a buyer's class, a seller's
// fee or new rule set, an item's price, category or access length. New buyers, buyer rule sets and items need
// not: a key a cache does not hold is read at once.
//
// An API process reads the generation before it fills its caches, and its recording INSERT names that
// generation; PostgreSQL refuses the INSERT (SQLSTATE PBR01) when the generation has moved on since, and the
// process reads afresh and tries again. So a cached value is never used after a change has committed, and the
// INSERT no longer looks up the rule set, the buyer and the price of every row.
//
// The generation is a row, not a sequence: its new value becomes visible when the change commits, never
// before the changed rows. It is moved on by a deferred trigger, so the row is locked only while the changing
// transaction commits.
import type { Knex } from 'knex';

// PBR01: the SQLSTATE of an INSERT refused because the caller's generation is behind (STALE_GENERATION_SQLSTATE in
// ledger/micropayments.ts; test/ledger/schema.test.ts checks the two agree).

const WATCHED = [
  ['rule_sets', 'UPDATE OR DELETE', ''],
  ['rule_sets', 'INSERT', "WHEN (NEW.party = 'seller')"],
  ['buyers', 'UPDATE OR DELETE', ''],
  ['sellers', 'UPDATE OR DELETE', ''],
  ['items', 'UPDATE OR DELETE', ''],
] as const;
const triggerName = (table: string, events: string) => `${table}_${events.startsWith('INSERT') ? 'added' : 'changed'}_recording`;

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE recording_generation (
      only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
      generation  bigint NOT NULL
    );
    INSERT INTO recording_generation VALUES (true, 1);

    CREATE FUNCTION next_recording_generation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE recording_generation SET generation = generation + 1;
      RETURN NULL;
    END $$;

    -- true when the generation is the expected one; else raises PBR01 (used as a once-per-statement filter)
    CREATE FUNCTION recording_generation_is(expected bigint) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
    DECLARE current bigint;
    BEGIN
      SELECT generation INTO current FROM recording_generation;
      IF current IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'recording read generation %, and it is now %', expected, current
          USING ERRCODE = 'PBR01';
      END IF;
      RETURN true;
    END $$;

    ${WATCHED.map(([table, events, when]) => `
    CREATE CONSTRAINT TRIGGER ${triggerName(table, events)} AFTER ${events} ON ${table}
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW ${when} EXECUTE FUNCTION next_recording_generation();`).join('')}
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    ${WATCHED.map(([table, events]) => `DROP TRIGGER ${triggerName(table, events)} ON ${table};`).join('\n    ')}
    DROP FUNCTION recording_generation_is(bigint);
    DROP FUNCTION next_recording_generation();
    DROP TABLE recording_generation;
  `);
}
