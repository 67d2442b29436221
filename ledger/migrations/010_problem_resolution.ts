// An operator resolves a problem with a note (POST /v1/problems/:id/resolve): who and why are kept beside when.
// Finding a workflow's open problems (is any left of this kind?) takes an index.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE problems ADD COLUMN resolved_by text, ADD COLUMN resolution_note text;
    CREATE INDEX problems_workflow_open_idx ON problems (workflow_id, kind) WHERE resolved_at IS NULL;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX problems_workflow_open_idx; ALTER TABLE problems DROP COLUMN resolved_by, DROP COLUMN resolution_note');
}
