// Settlement corrections:
// - an invoice or credit that came out negative (refunds of earlier periods' purchases) is carried into the
//   party's next invoice or credit instead of being dropped (carried_minor);
// - card-order refunds are kept per refund, so a seller's credit for card orders is captures less refunds;
//   captures and refunds booked before this are filled in from their journal entries;
// - a dunning attempt pins the card it charges (a retried attempt charges the same card);
// - sellers' payments are indexed by seller, for statements.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE invoices ADD COLUMN carried_minor bigint NOT NULL DEFAULT 0,
      ADD COLUMN retry_attempt integer, ADD COLUMN retry_token text;
    ALTER TABLE seller_credits ADD COLUMN carried_minor bigint NOT NULL DEFAULT 0;

    CREATE TABLE card_refunds (
      id            text PRIMARY KEY,
      capture_id    text NOT NULL,
      merchant_id   text NOT NULL,
      currency      char(3) NOT NULL,
      amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
      fee_minor     bigint NOT NULL CHECK (fee_minor >= 0),
      period_seq    integer,
      created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX card_refunds_unperiodized_idx ON card_refunds (merchant_id) WHERE period_seq IS NULL;

    -- the fee of captures booked before captures kept it: the broker-fee posting of their entry
    UPDATE captures c SET fee_minor = coalesce((
      SELECT -sum(p.amount_minor) FROM journal_entries e JOIN postings p ON p.entry_id = e.id
      WHERE e.idempotency_key = 'capture:' || c.id AND p.account_id LIKE 'broker-fees:%'), 0)
    WHERE c.fee_minor IS NULL;

    -- refunds booked before: their entries (clearing -amount, broker fees +fee)
    INSERT INTO card_refunds (id, capture_id, merchant_id, currency, amount_minor, fee_minor, created_at)
    SELECT e.metadata->>'refundId', e.metadata->>'captureId', c.merchant_id, c.currency,
      -sum(p.amount_minor) FILTER (WHERE p.account_id LIKE 'processor-clearing:%'),
      coalesce(sum(p.amount_minor) FILTER (WHERE p.account_id LIKE 'broker-fees:%'), 0), e.created_at
    FROM journal_entries e JOIN postings p ON p.entry_id = e.id JOIN captures c ON c.id = e.metadata->>'captureId'
    WHERE e.idempotency_key LIKE 'refund:%' AND e.metadata->>'refundId' IS NOT NULL
    GROUP BY e.id, c.merchant_id, c.currency
    ON CONFLICT (id) DO NOTHING;

    CREATE INDEX micro_payments_seller_idx ON micro_payments (seller_id, period_seq);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP INDEX micro_payments_seller_idx;
    DROP TABLE card_refunds;
    ALTER TABLE seller_credits DROP COLUMN carried_minor;
    ALTER TABLE invoices DROP COLUMN carried_minor, DROP COLUMN retry_attempt, DROP COLUMN retry_token;
  `);
}
