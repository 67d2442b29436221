// Orders keep the workflow input they were accepted with, so an order whose workflow did not start (the Temporal
// server was unreachable when the request came) is started later with exactly that input, by the repair loop
// (services/orders.ts startStranded); workflow_confirmed_at records that its workflow exists.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE orders ADD COLUMN input jsonb, ADD COLUMN workflow_confirmed_at timestamptz;
    -- the repair loop's candidates: no view written by a workflow yet, no workflow confirmed
    CREATE INDEX orders_unconfirmed_idx ON orders (created_at) WHERE view IS NULL AND workflow_confirmed_at IS NULL;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX orders_unconfirmed_idx; ALTER TABLE orders DROP COLUMN input, DROP COLUMN workflow_confirmed_at');
}
