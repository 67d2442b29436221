// Micro-payments: buyers and sellers with accounts at the broker, sellers' items (terms), rule sets referenced
// by tokens, spending counters for the rule sets' caps, settlement periods, and the payments themselves.
//
// A micro-payment row is a compact journal entry. Its three postings are implied by the row and balanced by
// construction (a CHECK keeps the fee within the amount):
//   buyer-receivable:<buyer>:<cur>   +amount     seller-payable:<seller>:<cur>  -(amount - fee)
//   broker-fees:<cur>                -fee
// A refund row reverses its payment's postings. Like journal entries, both are append-only. The view
// ledger_postings shows ordinary postings and the implied ones together; balances are read from it. Writing
// one narrow row per payment instead of an entry and three postings is what lets recording keep pace with
// tens of thousands of payments a second.
import type { Knex } from 'knex';

// 1346523218: the advisory lock between recording (shared) and freezing a period (exclusive); the freeze names it
// as PERIOD_LOCK_KEY (ledger/periods.ts), and test/ledger/schema.test.ts checks the two agree.

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE principals DROP CONSTRAINT principals_kind_check,
      ADD CONSTRAINT principals_kind_check CHECK (kind IN ('merchant', 'buyer_app', 'operator', 'buyer'));

    CREATE TABLE buyers (
      id             text PRIMARY KEY REFERENCES principals (id),
      currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      payment_token  text NOT NULL CHECK (length(payment_token) BETWEEN 1 AND 200),
      buyer_class    text NOT NULL CHECK (buyer_class ~ '^[a-z0-9_-]{1,40}$'),
      suspended_at   timestamptz,
      suspended_reason text,
      created_at     timestamptz NOT NULL DEFAULT now()
    );

    -- a seller is a merchant (its card-order captures are credited with its micro-payment sales)
    CREATE TABLE sellers (
      id                  text PRIMARY KEY REFERENCES merchants (id),
      currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      payout_destination  text NOT NULL CHECK (length(payout_destination) BETWEEN 1 AND 200),
      fee_bps             integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 5000),
      created_at          timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE items (
      seller_id      text NOT NULL REFERENCES sellers (id),
      id             text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,100}$'),
      title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      category       text NOT NULL CHECK (category ~ '^[a-z0-9_-]{1,40}$'),
      price_minor    bigint NOT NULL CHECK (price_minor > 0),
      currency       char(3) NOT NULL,
      grant_seconds  integer NOT NULL CHECK (grant_seconds > 0),
      updated_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (seller_id, id)
    );

    CREATE TABLE rule_sets (
      id            text PRIMARY KEY,
      owner_id      text NOT NULL REFERENCES principals (id),
      party         text NOT NULL CHECK (party IN ('buyer', 'seller')),
      token_sha256  bytea NOT NULL UNIQUE,
      rules         jsonb NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      revoked_at    timestamptz
    );
    CREATE INDEX rule_sets_owner_idx ON rule_sets (owner_id) WHERE revoked_at IS NULL;

    -- what a rule set has spent per UTC day ('d', days since the epoch) and per period ('p', the period's seq)
    CREATE TABLE rule_set_spend (
      rule_set_id  text NOT NULL,
      window_kind  char(1) NOT NULL CHECK (window_kind IN ('d', 'p')),
      window_key   integer NOT NULL,
      spent_minor  bigint NOT NULL DEFAULT 0 CHECK (spent_minor >= 0),
      PRIMARY KEY (rule_set_id, window_kind, window_key)
    );

    CREATE TABLE settlement_periods (
      seq          integer PRIMARY KEY CHECK (seq > 0),
      state        text NOT NULL CHECK (state IN ('open', 'frozen', 'closed')),
      opened_at    timestamptz NOT NULL DEFAULT now(),
      frozen_at    timestamptz,
      closed_at    timestamptz,
      workflow_id  text,
      totals       jsonb
    );
    -- exactly one period takes new payments
    CREATE UNIQUE INDEX settlement_periods_one_open ON settlement_periods ((true)) WHERE state = 'open';
    INSERT INTO settlement_periods (seq, state) VALUES (1, 'open');

    -- Recording takes this lock shared and freezing takes it exclusively, so a freeze waits for the payments
    -- being written into the period and every later payment sees the next period.
    CREATE FUNCTION open_period_for_recording() RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE s integer;
    BEGIN
      PERFORM pg_advisory_xact_lock_shared(1346523218);
      SELECT seq INTO s FROM settlement_periods WHERE state = 'open';
      RETURN s;
    END $$;

    CREATE TABLE micro_payments (
      id            bigserial PRIMARY KEY,
      period_seq    integer NOT NULL,
      buyer_id      text NOT NULL,
      seller_id     text NOT NULL,
      item_id       text NOT NULL,
      client_id     text NOT NULL,
      rule_set_id   text NOT NULL,
      currency      char(3) NOT NULL,
      amount_minor  bigint NOT NULL,
      fee_minor     bigint NOT NULL,
      grant_seconds integer NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      CHECK (amount_minor > 0 AND fee_minor >= 0 AND fee_minor <= amount_minor),
      UNIQUE (buyer_id, client_id)
    );
    CREATE INDEX micro_payments_period_idx ON micro_payments (period_seq);

    CREATE TABLE micro_refunds (
      payment_id    bigint PRIMARY KEY REFERENCES micro_payments (id),
      period_seq    integer NOT NULL,
      buyer_id      text NOT NULL,
      seller_id     text NOT NULL,
      currency      char(3) NOT NULL,
      amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
      fee_minor     bigint NOT NULL CHECK (fee_minor >= 0),
      reason        text,
      created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX micro_refunds_period_idx ON micro_refunds (period_seq);

    CREATE TRIGGER micro_payments_append_only BEFORE UPDATE OR DELETE ON micro_payments
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER micro_payments_no_truncate BEFORE TRUNCATE ON micro_payments
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER micro_refunds_append_only BEFORE UPDATE OR DELETE ON micro_refunds
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER micro_refunds_no_truncate BEFORE TRUNCATE ON micro_refunds
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

    -- single use of access grants
    CREATE TABLE grant_redemptions (
      payment_id   bigint PRIMARY KEY,
      redeemed_at  timestamptz NOT NULL DEFAULT now()
    );

    -- secrets the API signs grants with (made at first start; shared by every API process)
    CREATE TABLE signing_keys (
      id          text PRIMARY KEY,
      secret      bytea NOT NULL CHECK (length(secret) >= 32),
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE invoices (
      period_seq      integer NOT NULL REFERENCES settlement_periods (seq),
      buyer_id        text NOT NULL REFERENCES buyers (id),
      currency        char(3) NOT NULL,
      payment_count   integer NOT NULL,
      gross_minor     bigint NOT NULL,
      refunded_minor  bigint NOT NULL,
      amount_minor    bigint NOT NULL,
      state           text NOT NULL CHECK (state IN ('nothing_due', 'pending', 'paid', 'failed', 'unpaid')),
      -- the card the period's charge goes to (fixed at invoicing, so a repeated charge file is the same file)
      charge_token    text NOT NULL,
      charge_id       text,
      decline_code    text,
      attempts        integer NOT NULL DEFAULT 0,
      paid_at         timestamptz,
      created_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (period_seq, buyer_id)
    );
    CREATE INDEX invoices_buyer_idx ON invoices (buyer_id, period_seq DESC);

    CREATE TABLE seller_credits (
      period_seq      integer NOT NULL REFERENCES settlement_periods (seq),
      seller_id       text NOT NULL REFERENCES sellers (id),
      currency        char(3) NOT NULL,
      payment_count   integer NOT NULL,
      sales_minor     bigint NOT NULL,
      fee_minor       bigint NOT NULL,
      refunded_minor  bigint NOT NULL,
      card_minor      bigint NOT NULL,
      amount_minor    bigint NOT NULL,
      state           text NOT NULL CHECK (state IN ('nothing_due', 'pending', 'paid', 'failed')),
      payout_id       text,
      failure_code    text,
      paid_at         timestamptz,
      created_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (period_seq, seller_id)
    );
    CREATE INDEX seller_credits_seller_idx ON seller_credits (seller_id, period_seq DESC);

    -- card-order captures are credited to sellers in the period they fall in; the capture's fee is kept for that
    ALTER TABLE captures ADD COLUMN fee_minor bigint, ADD COLUMN period_seq integer;
    CREATE INDEX captures_unperiodized_idx ON captures (merchant_id) WHERE period_seq IS NULL;

    CREATE VIEW ledger_postings (account_id, currency, amount_minor) AS
      SELECT account_id, currency, amount_minor FROM postings
      UNION ALL
      SELECT a.account_id, p.currency, a.amount_minor FROM micro_payments p CROSS JOIN LATERAL (VALUES
        ('buyer-receivable:' || p.buyer_id || ':' || p.currency, p.amount_minor),
        ('seller-payable:' || p.seller_id || ':' || p.currency, -(p.amount_minor - p.fee_minor)),
        ('broker-fees:' || p.currency, -p.fee_minor)) AS a (account_id, amount_minor)
      WHERE a.amount_minor <> 0
      UNION ALL
      SELECT a.account_id, r.currency, a.amount_minor FROM micro_refunds r CROSS JOIN LATERAL (VALUES
        ('buyer-receivable:' || r.buyer_id || ':' || r.currency, -r.amount_minor),
        ('seller-payable:' || r.seller_id || ':' || r.currency, r.amount_minor - r.fee_minor),
        ('broker-fees:' || r.currency, r.fee_minor)) AS a (account_id, amount_minor)
      WHERE a.amount_minor <> 0;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP VIEW ledger_postings;
    DROP INDEX captures_unperiodized_idx;
    ALTER TABLE captures DROP COLUMN fee_minor, DROP COLUMN period_seq;
    DROP TABLE seller_credits, invoices, signing_keys, grant_redemptions, micro_refunds, micro_payments,
      settlement_periods, rule_set_spend, rule_sets, items, sellers, buyers;
    DROP FUNCTION open_period_for_recording();
    ALTER TABLE principals DROP CONSTRAINT principals_kind_check,
      ADD CONSTRAINT principals_kind_check CHECK (kind IN ('merchant', 'buyer_app', 'operator'));
  `);
}
