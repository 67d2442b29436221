// Broker checkout and carts. A checkout session's row is written before its workflow starts (a repeated request
// under the same Idempotency-Key finds it) and keeps its view; the hosted page reads it. The catalog holds each
// merchant's current offer of an item (what a cart's lines are re-priced against at purchase). A cart's row names
// its owner (a hash of the customer's cookie, never the cookie) and keeps its view; a published reference keeps
// the items of a cart as they were published, without anything about its owner.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE checkout_sessions (
      id               text PRIMARY KEY,
      merchant_id      text NOT NULL REFERENCES merchants (id),
      idempotency_key  text NOT NULL,
      request_sha256   bytea NOT NULL,
      input            jsonb NOT NULL,
      view             jsonb,
      state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'processing', 'completed', 'expired', 'failed')),
      order_id         text,
      expires_at       timestamptz NOT NULL,
      created_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (merchant_id, idempotency_key)
    );
    CREATE INDEX checkout_sessions_list_idx ON checkout_sessions (merchant_id, created_at DESC, id DESC);

    CREATE TABLE catalog_items (
      merchant_id      text NOT NULL REFERENCES merchants (id),
      sku              text NOT NULL,
      title            text NOT NULL,
      unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
      currency         char(3) NOT NULL,
      kind             text NOT NULL CHECK (kind IN ('hard', 'soft')),
      min_quantity     integer NOT NULL CHECK (min_quantity >= 1),
      max_quantity     integer NOT NULL CHECK (max_quantity >= min_quantity),
      image_url        text,
      available        boolean NOT NULL DEFAULT true,
      updated_at       timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (merchant_id, sku)
    );

    CREATE TABLE carts (
      id             text PRIMARY KEY,
      owner_sha256   bytea NOT NULL,
      state          text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'purchasing', 'purchased', 'expired')),
      view           jsonb,
      created_at     timestamptz NOT NULL DEFAULT now(),
      updated_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX carts_owner_idx ON carts (owner_sha256, updated_at DESC) WHERE state = 'active';

    CREATE TABLE cart_references (
      ref            text PRIMARY KEY,
      cart_id        text NOT NULL REFERENCES carts (id),
      lines          jsonb NOT NULL,
      expires_at     timestamptz,
      unpublished_at timestamptz,
      created_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cart_references_cart_idx ON cart_references (cart_id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP TABLE cart_references, carts, catalog_items, checkout_sessions');
}
