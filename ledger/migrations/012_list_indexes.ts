// Lists page by (created_at, id) (stores/page.ts): orders, all of them (operators) and a merchant's, by that key.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX orders_created_id_idx ON orders (created_at, id);
    CREATE INDEX orders_merchant_created_id_idx ON orders (merchant_id, created_at, id);
    DROP INDEX orders_merchant_created_idx;
    CREATE INDEX problems_created_id_idx ON problems (created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX orders_merchant_created_idx ON orders (merchant_id, created_at DESC);
    DROP INDEX orders_created_id_idx, orders_merchant_created_id_idx, problems_created_id_idx;
  `);
}
