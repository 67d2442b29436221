// The messaging gateway simulator's own schema, messaging_sim, beside (never inside) the broker's public schema.
// Migrations are listed here explicitly, like processors/simulator/migrations.ts; append new ones, never edit
// applied ones. The tables hold the rules themselves: a sender id is booked by one account, an Idempotency-Key
// names one message per account, a message's timestamps follow its status.
import knex, { type Knex } from 'knex';
import type { Db } from '../../ledger/db';

export const MESSAGING_SCHEMA = 'messaging_sim';

type Migration = { up(db: Knex): Promise<void>; down(db: Knex): Promise<void> };

const m001: Migration = {
  async up(db) {
    await db.raw(`
      CREATE TABLE messaging_sim.accounts (
        id              text PRIMARY KEY,
        api_key_sha256  bytea NOT NULL UNIQUE,
        webhook_url     text,
        webhook_secret  text NOT NULL CHECK (webhook_secret <> ''),
        created_at      timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE messaging_sim.senders (
        id          text PRIMARY KEY,  -- booked by one account across the gateway
        account_id  text NOT NULL REFERENCES messaging_sim.accounts (id),
        created_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE messaging_sim.messages (
        id               text PRIMARY KEY,
        account_id       text NOT NULL REFERENCES messaging_sim.accounts (id),
        direction        text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
        sender           text NOT NULL,  -- outbound: the booked sender id; inbound: the phone number
        recipient        text NOT NULL,  -- outbound: the phone number; inbound: the booked sender id
        body             text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 1600),
        status           text NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'received')),
        idempotency_key  text,
        request_sha256   bytea,
        receipt_lost     boolean NOT NULL DEFAULT false,  -- accepted while receipts were being lost
        created_at       timestamptz NOT NULL DEFAULT now(),
        sent_at          timestamptz,
        delivered_at     timestamptz,
        UNIQUE (account_id, idempotency_key),
        CHECK ((direction = 'inbound') = (status = 'received')),
        CHECK ((direction = 'outbound') = (idempotency_key IS NOT NULL AND request_sha256 IS NOT NULL)),
        CHECK ((status IN ('sent', 'delivered')) = (sent_at IS NOT NULL)),
        CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
      );
      CREATE INDEX messages_pending_idx ON messaging_sim.messages (account_id, status) WHERE status IN ('queued', 'sent');
      CREATE INDEX messages_phone_idx ON messaging_sim.messages (recipient, created_at DESC) WHERE direction = 'outbound';

      -- The webhooks to deliver (an outbox): the id is the webhook id, stable across retries.
      CREATE TABLE messaging_sim.webhooks (
        id               text PRIMARY KEY,
        account_id       text NOT NULL REFERENCES messaging_sim.accounts (id),
        message_id       text NOT NULL REFERENCES messaging_sim.messages (id),
        type             text NOT NULL CHECK (type IN ('message.delivered', 'message.inbound')),
        payload          json NOT NULL,
        attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        delivered_at     timestamptz,
        failed_at        timestamptz,  -- gave up after the last attempt
        last_error       text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        CHECK (delivered_at IS NULL OR failed_at IS NULL)
      );
      CREATE INDEX webhooks_due_idx ON messaging_sim.webhooks (account_id, next_attempt_at)
        WHERE delivered_at IS NULL AND failed_at IS NULL;
    `);
  },
  async down(db) {
    await db.raw(`DROP TABLE messaging_sim.webhooks, messaging_sim.messages, messaging_sim.senders, messaging_sim.accounts`);
  },
};

const migrations: Array<[string, Migration]> = [['001_messaging_sim', m001]];

const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};

/** An arbitrary constant for pg_advisory_lock: serializes gateways that start at the same moment. */
const MIGRATION_LOCK_ID = 0x6d675f73696d; // "mg_sim"

/** Creates the schema and applies pending migrations, under a session advisory lock (as migrateSimulator does). */
export async function migrateMessaging(db: Db): Promise<string[]> {
  const own = knex({ ...(db.client.config as Knex.Config), pool: { min: 0, max: 1 } });
  try {
    await own.raw('SELECT pg_advisory_lock(?)', [MIGRATION_LOCK_ID]);
    try {
      await own.raw(`CREATE SCHEMA IF NOT EXISTS ${MESSAGING_SCHEMA}`);
      const [, applied] = await own.migrate.latest({
        migrationSource, tableName: 'messaging_sim_migrations', schemaName: MESSAGING_SCHEMA,
      });
      return applied as string[];
    } finally {
      await own.raw('SELECT pg_advisory_unlock(?)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await own.destroy();
  }
}
