// API keys as objects (issue 14, part 6): a mode (full, or read_only: GET and HEAD only), the last four characters
// of the secret as a hint (null for keys made before this migration: only their hash was kept), an expiry (a rolled
// key works until then) and when it was last used (written at most once a minute per key and API copy). A
// principal's keys page by (created_at, id).
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE api_keys
      ADD COLUMN mode text NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'read_only')),
      ADD COLUMN secret_last4 text CHECK (length(secret_last4) = 4),
      ADD COLUMN expires_at timestamptz,
      ADD COLUMN last_used_at timestamptz;
    CREATE INDEX api_keys_principal_created_id_idx ON api_keys (principal_id, created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP INDEX api_keys_principal_created_id_idx;
    ALTER TABLE api_keys DROP COLUMN mode, DROP COLUMN secret_last4, DROP COLUMN expires_at, DROP COLUMN last_used_at;
  `);
}
