// Lookups that grew with this tables: the open problems about one thing (a dead letter's, resolved when it
// is redelivered), a merchant's payouts still to send and its payouts of one run.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX problems_about_idx ON problems (kind, (details->>'key')) WHERE resolved_at IS NULL;
    CREATE INDEX payouts_pending_idx ON payouts (merchant_id) WHERE state = 'pending';
    CREATE INDEX payouts_run_idx ON payouts (merchant_id, period_key);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX problems_about_idx, payouts_pending_idx, payouts_run_idx');
}
