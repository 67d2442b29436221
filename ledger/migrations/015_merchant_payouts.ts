// Merchant payouts (issue 14, part 1): each merchant's payout settings; a payout per merchant, currency and period
// (its key: the day of a scheduled run, or a manual run's own key) with the captures and card refunds it pays
// out (their payout_id), the reserve it holds back (reserves; released by a later payout) and what an earlier
// payout carried into it (below the minimum, negative, or failed). The ledger gains the merchants' reserve account.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE merchants
      ADD COLUMN payout_destination text CHECK (length(payout_destination) BETWEEN 1 AND 200),
      ADD COLUMN payout_interval text NOT NULL DEFAULT 'daily' CHECK (payout_interval IN ('daily', 'weekly', 'manual')),
      ADD COLUMN payout_weekly_anchor smallint NOT NULL DEFAULT 1 CHECK (payout_weekly_anchor BETWEEN 0 AND 6),
      ADD COLUMN payout_minimum_minor bigint NOT NULL DEFAULT 0 CHECK (payout_minimum_minor >= 0),
      ADD COLUMN reserve_bps integer NOT NULL DEFAULT 0 CHECK (reserve_bps BETWEEN 0 AND 10000),
      ADD COLUMN reserve_days integer NOT NULL DEFAULT 0 CHECK (reserve_days BETWEEN 0 AND 365);

    ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check,
      ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
        'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense', 'merchant_reserve'));

    CREATE TABLE payouts (
      id                   text PRIMARY KEY,
      merchant_id          text NOT NULL REFERENCES merchants (id),
      currency             char(3) NOT NULL,
      period_key           text NOT NULL,
      cutoff               timestamptz NOT NULL,
      captures_minor       bigint NOT NULL,
      fees_minor           bigint NOT NULL,
      refunds_minor        bigint NOT NULL,
      reserve_held_minor   bigint NOT NULL,
      reserve_released_minor bigint NOT NULL,
      carried_minor        bigint NOT NULL,
      amount_minor         bigint NOT NULL,
      state                text NOT NULL CHECK (state IN ('pending', 'paid', 'failed', 'carried')),
      attempts             integer NOT NULL DEFAULT 0,
      destination          text,
      processor_payout_id  text,
      failure_code         text,
      carried_into         text REFERENCES payouts (id),
      created_at           timestamptz NOT NULL DEFAULT now(),
      paid_at              timestamptz,
      failed_at            timestamptz,
      UNIQUE (merchant_id, currency, period_key)
    );
    CREATE INDEX payouts_created_id_idx ON payouts (created_at, id);
    CREATE INDEX payouts_merchant_created_id_idx ON payouts (merchant_id, created_at, id);
    CREATE INDEX payouts_to_carry_idx ON payouts (merchant_id, currency) WHERE state IN ('carried', 'failed') AND carried_into IS NULL;

    CREATE TABLE reserves (
      payout_id    text PRIMARY KEY REFERENCES payouts (id),
      merchant_id  text NOT NULL,
      currency     char(3) NOT NULL,
      amount_minor bigint NOT NULL CHECK (amount_minor > 0),
      release_on   timestamptz NOT NULL,
      released_by  text REFERENCES payouts (id)
    );
    CREATE INDEX reserves_held_idx ON reserves (merchant_id, release_on) WHERE released_by IS NULL;

    ALTER TABLE captures ADD COLUMN payout_id text REFERENCES payouts (id);
    ALTER TABLE card_refunds ADD COLUMN payout_id text REFERENCES payouts (id);
    CREATE INDEX captures_unpaid_idx ON captures (merchant_id, created_at) WHERE payout_id IS NULL AND period_seq IS NULL;
    CREATE INDEX card_refunds_unpaid_idx ON card_refunds (merchant_id, created_at) WHERE payout_id IS NULL AND period_seq IS NULL;
    CREATE INDEX captures_payout_idx ON captures (payout_id) WHERE payout_id IS NOT NULL;
    CREATE INDEX card_refunds_payout_idx ON card_refunds (payout_id) WHERE payout_id IS NOT NULL;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE captures DROP COLUMN payout_id;
    ALTER TABLE card_refunds DROP COLUMN payout_id;
    DROP TABLE reserves, payouts;
    ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check,
      ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
        'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense'));
    ALTER TABLE merchants DROP COLUMN payout_destination, DROP COLUMN payout_interval, DROP COLUMN payout_weekly_anchor,
      DROP COLUMN payout_minimum_minor, DROP COLUMN reserve_bps, DROP COLUMN reserve_days;
  `);
}
