// Fund holds: a hold's row is written before its workflow starts (a repeated request under the same Idempotency-Key
// finds it) and keeps its view as the workflow saves it. A capture of a hold is a capture like an order's (settled,
// paid out, reconciled alike): a capture row belongs to exactly one order or one hold.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE holds (
      id               text PRIMARY KEY,
      merchant_id      text NOT NULL REFERENCES merchants (id),
      idempotency_key  text NOT NULL,
      request_sha256   bytea NOT NULL,
      input            jsonb NOT NULL,
      view             jsonb,
      -- the issuer's reservation, once placed (its webhooks name it)
      reservation_id   text UNIQUE,
      state            text NOT NULL DEFAULT 'placing'
        CHECK (state IN ('placing', 'active', 'declined', 'failed', 'captured', 'released', 'expired')),
      created_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (merchant_id, idempotency_key)
    );
    CREATE INDEX holds_list_idx ON holds (merchant_id, created_at DESC, id DESC);

    ALTER TABLE captures
      ALTER COLUMN order_id DROP NOT NULL,
      ADD COLUMN hold_id text REFERENCES holds (id),
      ADD CONSTRAINT captures_of_one_check CHECK ((order_id IS NULL) <> (hold_id IS NULL));
    CREATE INDEX captures_hold_idx ON captures (hold_id) WHERE hold_id IS NOT NULL;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DELETE FROM captures WHERE hold_id IS NOT NULL;
    DROP INDEX captures_hold_idx;
    ALTER TABLE captures DROP CONSTRAINT captures_of_one_check, DROP COLUMN hold_id, ALTER COLUMN order_id SET NOT NULL;
    DROP TABLE holds;
  `);
}
