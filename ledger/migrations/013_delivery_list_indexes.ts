// Dead letters and webhook endpoints page by their (time, id) key (stores/page.ts): the indexes that read a page
// in order, without a sort.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX delivery_messages_dead_id_idx ON delivery_messages (dead_at, id) WHERE state = 'dead';
    DROP INDEX delivery_messages_dead_idx;
    CREATE INDEX delivery_destinations_created_id_idx ON delivery_destinations (created_at, id);
    CREATE INDEX delivery_destinations_merchant_created_id_idx ON delivery_destinations (merchant_id, created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX delivery_messages_dead_idx ON delivery_messages (dead_at DESC) WHERE state = 'dead';
    DROP INDEX delivery_messages_dead_id_idx, delivery_destinations_created_id_idx, delivery_destinations_merchant_created_id_idx;
  `);
}
