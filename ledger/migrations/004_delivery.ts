// Ordered delivery: destinations (merchants' webhook endpoints) and the messages queued to them. The group
// workflows order and retry; these rows hold each message's body, its state, and the dead letters operators
// work from.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE delivery_destinations (
      id                 text PRIMARY KEY,
      merchant_id        text REFERENCES merchants (id),
      url                text NOT NULL CHECK (length(url) <= 2048),
      description        text,
      -- Standard Webhooks signing secret (whsec_...)
      secret             text NOT NULL,
      events             text[],
      on_dead_letter     text NOT NULL DEFAULT 'hold' CHECK (on_dead_letter IN ('hold', 'skip')),
      give_up_seconds    integer NOT NULL CHECK (give_up_seconds > 0),
      created_at         timestamptz NOT NULL DEFAULT now(),
      disabled_at        timestamptz
    );
    CREATE INDEX delivery_destinations_merchant_idx ON delivery_destinations (merchant_id) WHERE disabled_at IS NULL;

    CREATE TABLE delivery_messages (
      id              text PRIMARY KEY,
      destination_id  text NOT NULL REFERENCES delivery_destinations (id),
      group_key       text NOT NULL,
      event_type      text,
      body            text NOT NULL,
      state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'dead', 'dropped')),
      attempts        integer NOT NULL DEFAULT 0,
      last_status     integer,
      last_error      text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      delivered_at    timestamptz,
      dead_at         timestamptz
    );
    CREATE INDEX delivery_messages_group_queued_idx ON delivery_messages (destination_id, group_key) WHERE state = 'queued';
    CREATE INDEX delivery_messages_dead_idx ON delivery_messages (dead_at DESC) WHERE state = 'dead';
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP TABLE delivery_messages, delivery_destinations');
}
