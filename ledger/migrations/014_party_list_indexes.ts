// Merchants, buyers and sellers page by (created_at, id) too (stores/page.ts).
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX merchants_created_id_idx ON merchants (created_at, id);
    CREATE INDEX buyers_created_id_idx ON buyers (created_at, id);
    CREATE INDEX sellers_created_id_idx ON sellers (created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX merchants_created_id_idx, buyers_created_id_idx, sellers_created_id_idx');
}
