// Events as objects (GET /v1/events), kept 30 days: each business event once, whether or not anyone receives it.
// Every delivery attempt of a message, listed per endpoint. An endpoint's previous signing secret, which also signs
// until its overlap ends after a rotation. Lists page by (created_at, id) (stores/page.ts).
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE events (
      id           text PRIMARY KEY,
      -- the merchant (or seller) it is about; no foreign key: a seller's credit events have it too
      merchant_id  text NOT NULL,
      type         text NOT NULL,
      -- json, not jsonb: the data as it was written, key order included, so every delivery's body is the same
      data         json NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX events_created_id_idx ON events (created_at, id);
    CREATE INDEX events_merchant_created_id_idx ON events (merchant_id, created_at, id);

    ALTER TABLE delivery_messages ADD COLUMN event_id text;

    CREATE TABLE delivery_attempts (
      id              bigserial PRIMARY KEY,
      destination_id  text NOT NULL,
      message_id      text NOT NULL REFERENCES delivery_messages (id),
      event_id        text,
      attempt         integer NOT NULL,
      outcome         text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'permanent')),
      status          integer,
      error           text,
      latency_ms      integer,
      created_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX delivery_attempts_destination_created_id_idx ON delivery_attempts (destination_id, created_at, id);
    CREATE INDEX delivery_attempts_created_id_idx ON delivery_attempts (created_at, id);

    ALTER TABLE delivery_destinations ADD COLUMN previous_secret text, ADD COLUMN previous_secret_expires_at timestamptz;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE delivery_destinations DROP COLUMN previous_secret, DROP COLUMN previous_secret_expires_at;
    DROP TABLE delivery_attempts, events;
    ALTER TABLE delivery_messages DROP COLUMN event_id;
  `);
}
