// The gateway directory's own schema, directory, beside (never inside) the broker's public schema. Migrations are
// listed here explicitly, like processors/messaging/migrations.ts; append new ones, never edit applied ones. The
// tables hold the rules themselves: one entry per gateway id (a revoked one keeps its id for good), an identifier
// bound to one gateway, a signed request's nonce seen once per gateway.
import knex, { type Knex } from 'knex';
import type { Db } from '../../ledger/db';

export const DIRECTORY_SCHEMA = 'directory';

type Migration = { up(db: Knex): Promise<void>; down(db: Knex): Promise<void> };

const m001: Migration = {
  async up(db) {
    await db.raw(`
      CREATE TABLE directory.gateways (
        gateway_id          text PRIMARY KEY CHECK (gateway_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        service_name        text NOT NULL CHECK (char_length(service_name) BETWEEN 1 AND 100),
        endpoint            text NOT NULL CHECK (endpoint LIKE 'https://%'),
        certificate         text NOT NULL,
        fingerprint256      text NOT NULL,
        not_after           timestamptz NOT NULL,
        settlement_account  text NOT NULL CHECK (char_length(settlement_account) BETWEEN 1 AND 128),
        status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'revoked')),
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        approved_at         timestamptz,
        revoked_at          timestamptz,
        CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
        CHECK (status <> 'approved' OR approved_at IS NOT NULL)
      );

      CREATE TABLE directory.identifiers (
        identifier  text PRIMARY KEY CHECK (identifier ~ '^[A-Za-z0-9._@+:-]{3,128}$'),
        gateway_id  text NOT NULL REFERENCES directory.gateways (gateway_id),
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX identifiers_gateway_idx ON directory.identifiers (gateway_id);

      -- Nonces of signed requests, kept while a replay could still pass the timestamp check (then purged).
      CREATE TABLE directory.nonces (
        gateway_id  text NOT NULL,
        nonce       text NOT NULL,
        seen_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (gateway_id, nonce)
      );
      CREATE INDEX nonces_seen_idx ON directory.nonces (seen_at);
    `);
  },
  async down(db) {
    await db.raw(`DROP TABLE directory.nonces, directory.identifiers, directory.gateways`);
  },
};

const migrations: Array<[string, Migration]> = [['001_directory', m001]];

const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};

/** An arbitrary constant for pg_advisory_lock: serializes directories that start at the same moment. */
const MIGRATION_LOCK_ID = 0x6469725f6663; // "dir_fc"

/** Creates the schema and applies pending migrations, under a session advisory lock (as migrateMessaging does). */
export async function migrateDirectory(db: Db): Promise<string[]> {
  const own = knex({ ...(db.client.config as Knex.Config), pool: { min: 0, max: 1 } });
  try {
    await own.raw('SELECT pg_advisory_lock(?)', [MIGRATION_LOCK_ID]);
    try {
      await own.raw(`CREATE SCHEMA IF NOT EXISTS ${DIRECTORY_SCHEMA}`);
      const [, applied] = await own.migrate.latest({
        migrationSource, tableName: 'directory_migrations', schemaName: DIRECTORY_SCHEMA,
      });
      return applied as string[];
    } finally {
      await own.raw('SELECT pg_advisory_unlock(?)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await own.destroy();
  }
}
