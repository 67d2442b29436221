// Reconciliation (issue 14, part 2): one row per day compared with the processor's records, and the indexes that
// find the ledger's side of a day (by when each record was made or paid) and of a processor id.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE reconciliations (
      id                 text PRIMARY KEY CHECK (id ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
      workflow_id        text NOT NULL,
      state              text NOT NULL CHECK (state IN ('running', 'done')),
      processor_records  integer NOT NULL DEFAULT 0,
      ledger_records     integer NOT NULL DEFAULT 0,
      mismatches         integer NOT NULL DEFAULT 0,
      created_at         timestamptz NOT NULL DEFAULT now(),
      finished_at        timestamptz
    );
    CREATE INDEX reconciliations_created_id_idx ON reconciliations (created_at, id);

    CREATE INDEX captures_created_id_idx ON captures (created_at, id);
    CREATE INDEX card_refunds_created_id_idx ON card_refunds (created_at, id);
    CREATE INDEX invoices_charge_idx ON invoices (charge_id) WHERE charge_id IS NOT NULL;
    CREATE INDEX invoices_paid_idx ON invoices (paid_at) WHERE charge_id IS NOT NULL;
    CREATE INDEX seller_credits_payout_idx ON seller_credits (payout_id) WHERE payout_id IS NOT NULL;
    CREATE INDEX seller_credits_paid_idx ON seller_credits (paid_at) WHERE payout_id IS NOT NULL;
    CREATE INDEX payouts_processor_idx ON payouts (processor_payout_id) WHERE processor_payout_id IS NOT NULL;
    CREATE INDEX payouts_paid_idx ON payouts (paid_at) WHERE processor_payout_id IS NOT NULL;
    CREATE INDEX settlement_batches_created_idx ON settlement_batches (created_at);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP TABLE reconciliations;
    DROP INDEX captures_created_id_idx, card_refunds_created_id_idx, invoices_charge_idx, invoices_paid_idx, seller_credits_payout_idx,
      seller_credits_paid_idx, payouts_processor_idx, payouts_paid_idx, settlement_batches_created_idx;
  `);
}
