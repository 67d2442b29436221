// Micro-payments page like every list (stores/settlementLists.ts): a buyer's, a seller's and everyone's by
// (created_at, id). Three more indexes on the busiest table: bench/micropayments measured recording with and without
// them (the figures are in the commit that added this).
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX micro_payments_buyer_created_id_idx ON micro_payments (buyer_id, created_at, id);
    CREATE INDEX micro_payments_seller_created_id_idx ON micro_payments (seller_id, created_at, id);
    CREATE INDEX micro_payments_created_id_idx ON micro_payments (created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX micro_payments_buyer_created_id_idx, micro_payments_seller_created_id_idx, micro_payments_created_id_idx');
}
