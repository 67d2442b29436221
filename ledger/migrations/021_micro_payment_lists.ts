// Micro-payments page like every list (stores/settlementLists.ts), a buyer's or a seller's by (created_at, id).
// The busiest table: each index costs every recording (bench/micropayments' batch path lost about 29% with three
// new ones), so the seller's index takes the place of its (seller_id, period_seq) one (a seller's period statement
// reads the seller's rows by it as well), the buyer gains one, and operators list by buyer or by seller.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX micro_payments_buyer_created_id_idx ON micro_payments (buyer_id, created_at, id);
    CREATE INDEX micro_payments_seller_created_id_idx ON micro_payments (seller_id, created_at, id);
    DROP INDEX micro_payments_seller_idx;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    CREATE INDEX micro_payments_seller_idx ON micro_payments (seller_id, period_seq);
    DROP INDEX micro_payments_buyer_created_id_idx, micro_payments_seller_created_id_idx;
  `);
}
