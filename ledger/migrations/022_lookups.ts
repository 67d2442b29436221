// Lookups that grew with this tables: the open problems about one thing (a dead letter's, resolved when it
// is redelivered), a merchant's payouts still to send and its payouts of one run. And when a problem's failure was
// last seen, and when a day's reconciliation last began: a rerun resolves the mismatches it no longer finds.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX problems_about_idx ON problems (kind, (details->>'key')) WHERE resolved_at IS NULL;
    CREATE INDEX payouts_pending_idx ON payouts (merchant_id) WHERE state = 'pending';
    CREATE INDEX payouts_run_idx ON payouts (merchant_id, period_key);
    ALTER TABLE problems ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();
    ALTER TABLE reconciliations ADD COLUMN started_at timestamptz NOT NULL DEFAULT now();
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`DROP INDEX problems_about_idx, payouts_pending_idx, payouts_run_idx;
    ALTER TABLE problems DROP COLUMN seen_at;
    ALTER TABLE reconciliations DROP COLUMN started_at;`);
}
