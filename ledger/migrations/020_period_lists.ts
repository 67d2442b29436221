// Settlement periods, invoices and seller credits page like every list (stores/page.ts): each gains the id the API
// names it by (sp_<seq>, in_<seq>_<buyer>, cr_<seq>_<seller>), generated from its key, and (time, id) indexes,
// for everyone's list and for one party's.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE settlement_periods ADD COLUMN id text GENERATED ALWAYS AS ('sp_' || seq) STORED UNIQUE;
    CREATE INDEX settlement_periods_opened_id_idx ON settlement_periods (opened_at, id);
    ALTER TABLE invoices ADD COLUMN id text GENERATED ALWAYS AS ('in_' || period_seq || '_' || buyer_id) STORED UNIQUE;
    CREATE INDEX invoices_created_id_idx ON invoices (created_at, id);
    CREATE INDEX invoices_buyer_created_id_idx ON invoices (buyer_id, created_at, id);
    ALTER TABLE seller_credits ADD COLUMN id text GENERATED ALWAYS AS ('cr_' || period_seq || '_' || seller_id) STORED UNIQUE;
    CREATE INDEX seller_credits_created_id_idx ON seller_credits (created_at, id);
    CREATE INDEX seller_credits_seller_created_id_idx ON seller_credits (seller_id, created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE settlement_periods DROP COLUMN id;
    ALTER TABLE invoices DROP COLUMN id;
    ALTER TABLE seller_credits DROP COLUMN id;
  `);
}
