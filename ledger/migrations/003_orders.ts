// Card orders: merchants' order settings, the orders read model (the workflow is the source of truth while it
// runs; this row outlives the dev server's retention), captures and their settlement batches, and the
// problems log operators work from.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE merchants
      ADD COLUMN currency char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
      ADD COLUMN fee_bps integer NOT NULL DEFAULT 250 CHECK (fee_bps BETWEEN 0 AND 5000),
      ADD COLUMN avs_policy jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN shipping_options jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN tax_rates_bps jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN review_timeout_seconds integer NOT NULL DEFAULT 86400 CHECK (review_timeout_seconds > 0);

    CREATE TABLE orders (
      id               text PRIMARY KEY,
      merchant_id      text NOT NULL REFERENCES merchants (id),
      client_order_id  text NOT NULL,
      customer_id      text NOT NULL,
      request_sha256   bytea NOT NULL,
      currency         char(3) NOT NULL,
      total_minor      bigint NOT NULL CHECK (total_minor > 0),
      state            text NOT NULL,
      needs_attention  boolean NOT NULL DEFAULT false,
      view             jsonb,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (merchant_id, client_order_id)
    );
    CREATE INDEX orders_merchant_created_idx ON orders (merchant_id, created_at DESC);

    CREATE TABLE settlement_batches (
      id             text PRIMARY KEY,
      workflow_id    text NOT NULL,
      capture_count  integer NOT NULL,
      totals         jsonb NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE captures (
      id            text PRIMARY KEY,
      order_id      text NOT NULL REFERENCES orders (id),
      merchant_id   text NOT NULL,
      currency      char(3) NOT NULL,
      amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
      batch_id      text REFERENCES settlement_batches (id),
      -- the settlement run (and its batch number) that claimed the capture; one claim per capture
      batch_claim   text,
      created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX captures_unclaimed_idx ON captures (created_at, id) WHERE batch_claim IS NULL;
    CREATE INDEX captures_claim_idx ON captures (batch_claim) WHERE batch_claim IS NOT NULL;
    CREATE INDEX captures_order_idx ON captures (order_id);

    CREATE TABLE problems (
      id           bigserial PRIMARY KEY,
      key          text NOT NULL UNIQUE,
      workflow_id  text NOT NULL,
      merchant_id  text,
      kind         text NOT NULL,
      message      text NOT NULL,
      details      jsonb NOT NULL DEFAULT '{}',
      created_at   timestamptz NOT NULL DEFAULT now(),
      resolved_at  timestamptz
    );
    CREATE INDEX problems_open_idx ON problems (created_at DESC) WHERE resolved_at IS NULL;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP TABLE problems, captures, settlement_batches, orders;
    ALTER TABLE merchants DROP COLUMN currency, DROP COLUMN fee_bps, DROP COLUMN avs_policy,
      DROP COLUMN shipping_options, DROP COLUMN tax_rates_bps, DROP COLUMN review_timeout_seconds;
  `);
}
