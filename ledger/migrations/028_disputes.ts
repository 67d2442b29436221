// Disputes (chargebacks), of a capture (its merchant's) or of a period charge of micro-payments (the broker's, as the
// merchant of record of buyers' invoices). A dispute's row is written when the processor's notice arrives (its id the
// processor's; the evidence drafted is kept on it until submitted, when the database freezes it) and keeps the view the
// dispute's workflow saves. What a dispute moves on the merchant's balance (withdrawn when it opens, returned when it
// is won or refunded) is a row too, which the merchant's next payout (or, a seller's, its next period credit) takes like a
// refund: a payout already paid is recovered from the next one, never lost. Disputes held is a ledger account of its own.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check,
      ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
        'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense', 'merchant_reserve', 'disputes_held'));

    CREATE TABLE disputes (
      id                     text PRIMARY KEY,
      -- a capture's dispute is its merchant's; a period charge's (a buyer's invoice of micro-payments) is the broker's,
      -- as the merchant of record: its operators answer it
      merchant_id            text REFERENCES merchants (id),
      capture_id             text REFERENCES captures (id),
      charge_id              text,
      period_seq             integer,
      buyer_id               text REFERENCES buyers (id),
      reason                 text NOT NULL,
      currency               char(3) NOT NULL,
      amount_minor           bigint NOT NULL CHECK (amount_minor > 0),
      fee_minor              bigint NOT NULL CHECK (fee_minor >= 0),
      state                  text NOT NULL DEFAULT 'needs_response'
        CHECK (state IN ('needs_response', 'under_review', 'won', 'lost', 'refunded')),
      evidence               jsonb NOT NULL DEFAULT '{}',
      evidence_submitted_at  timestamptz,
      evidence_due_by        timestamptz NOT NULL,
      view                   jsonb,
      created_at             timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT disputes_submitted_check CHECK (state <> 'under_review' OR evidence_submitted_at IS NOT NULL),
      CONSTRAINT disputes_of_one_check CHECK ((capture_id IS NULL) <> (charge_id IS NULL)),
      CONSTRAINT disputes_capture_check CHECK ((capture_id IS NULL) = (merchant_id IS NULL)),
      CONSTRAINT disputes_charge_check CHECK ((charge_id IS NULL) = (buyer_id IS NULL) AND (charge_id IS NULL) = (period_seq IS NULL))
    );
    CREATE INDEX disputes_list_idx ON disputes (merchant_id, created_at DESC, id DESC);
    CREATE INDEX disputes_capture_idx ON disputes (capture_id);
    CREATE INDEX disputes_list_all_idx ON disputes (created_at DESC, id DESC);

    CREATE TABLE dispute_movements (
      id            text PRIMARY KEY,              -- <dispute id>:<step>
      dispute_id    text NOT NULL REFERENCES disputes (id),
      merchant_id   text NOT NULL,
      currency      char(3) NOT NULL,
      -- on the merchant's balance: negative withdrawn (opened), positive returned (won, refunded)
      amount_minor  bigint NOT NULL CHECK (amount_minor <> 0),
      payout_id     text REFERENCES payouts (id),
      -- a merchant that is also a micro-payment seller is paid by period credits: the period that took it
      period_seq    integer REFERENCES settlement_periods (seq),
      created_at    timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT dispute_movements_taken_once_check CHECK (payout_id IS NULL OR period_seq IS NULL)
    );
    CREATE INDEX dispute_movements_unpaid_idx ON dispute_movements (merchant_id, created_at) WHERE payout_id IS NULL AND period_seq IS NULL;

    ALTER TABLE payouts ADD COLUMN disputes_minor bigint NOT NULL DEFAULT 0;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE payouts DROP COLUMN disputes_minor;
    DROP TABLE dispute_movements, disputes;
    DELETE FROM accounts WHERE kind = 'disputes_held';
    ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check,
      ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('processor_clearing', 'merchant_payable', 'seller_payable',
        'buyer_receivable', 'broker_fee_revenue', 'refunds', 'payouts', 'suspense', 'merchant_reserve'));
  `);
}
