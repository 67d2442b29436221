// Issuer terms and loyalty. A merchant may opt in to sharing its orders' line items with the card's issuer (level 2/3
// data), which lowers the processor's fee on those captures; the ledger records every capture's processor fee (a cost
// of the broker's, out of cash at the processor) on an account of its own. Loyalty rewards a merchant signals for a
// purchase are kept with the order (and forwarded through the processor once per request).
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE merchants ADD COLUMN share_line_items boolean NOT NULL DEFAULT false;

    ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check,
      ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
        'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense', 'merchant_reserve', 'disputes_held', 'processor_fees'));

    CREATE TABLE loyalty_rewards (
      id               text PRIMARY KEY,            -- the processor's loyalty signal
      order_id         text NOT NULL REFERENCES orders (id),
      merchant_id      text NOT NULL,
      capture_id       text NOT NULL REFERENCES captures (id),
      program          text NOT NULL CHECK (char_length(program) BETWEEN 1 AND 64),
      points           bigint NOT NULL CHECK (points BETWEEN 1 AND 10000000),
      idempotency_key  text NOT NULL,
      created_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (merchant_id, idempotency_key)
    );
    CREATE INDEX loyalty_rewards_order_idx ON loyalty_rewards (order_id, created_at);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP TABLE loyalty_rewards;
    DELETE FROM postings WHERE account_id IN (SELECT id FROM accounts WHERE kind = 'processor_fees');
    DELETE FROM accounts WHERE kind = 'processor_fees';
    ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check,
      ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
        'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense', 'merchant_reserve', 'disputes_held'));
    ALTER TABLE merchants DROP COLUMN share_line_items;
  `);
}
