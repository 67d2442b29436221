// Bid rounds. Operators define item classes; merchants opt in to bid on a class (with an optional auto-bid rule) and
// carry a rating. A round's row is written before its workflow starts (a repeated request under the same
// Idempotency-Key finds it); its workflow writes when it closes and its view. A round's bids are rows, one per merchant
// (replaced until the close), taken only while the round's row says it is open: the database, not a race, decides
// whether a bid was in time. Buyer apps (which ask for purchases and quotes) may have webhook endpoints too.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE merchants ADD COLUMN rating integer NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 500);

    ALTER TABLE delivery_destinations DROP CONSTRAINT delivery_destinations_merchant_id_fkey;
    ALTER TABLE delivery_destinations ADD CONSTRAINT delivery_destinations_owner_fkey FOREIGN KEY (merchant_id) REFERENCES principals (id);

    CREATE TABLE item_classes (
      id          text PRIMARY KEY,
      terms       jsonb NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX item_classes_list_idx ON item_classes (created_at, id);

    CREATE TABLE item_class_bidders (
      item_class_id  text NOT NULL REFERENCES item_classes (id),
      merchant_id    text NOT NULL REFERENCES merchants (id),
      auto_bid       jsonb,
      created_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (item_class_id, merchant_id)
    );
    CREATE INDEX item_class_bidders_merchant_idx ON item_class_bidders (merchant_id);

    CREATE TABLE bid_rounds (
      id                    text PRIMARY KEY,
      mode                  text NOT NULL CHECK (mode IN ('sell_first', 'quote_first')),
      item_class_id         text NOT NULL REFERENCES item_classes (id),
      currency              char(3) NOT NULL,
      quantity              integer NOT NULL CHECK (quantity >= 1),
      requester_id          text NOT NULL REFERENCES principals (id),
      idempotency_key       text NOT NULL,
      request_sha256        bytea NOT NULL,
      input                 jsonb NOT NULL,
      state                 text NOT NULL,
      -- open for bids while closed_at IS NULL and the clock is before closes_at (null: not open yet)
      closes_at             timestamptz,
      closed_at             timestamptz,
      max_unit_price_minor  bigint NOT NULL CHECK (max_unit_price_minor >= 1),
      enough_bids           integer,
      -- the winning bid (a unit price) once the winner fulfils: what recent_bids pricing reads
      won_unit_minor        bigint,
      won_at                timestamptz,
      view                  jsonb,
      created_at            timestamptz NOT NULL DEFAULT now(),
      UNIQUE (requester_id, idempotency_key)
    );
    CREATE INDEX bid_rounds_list_idx ON bid_rounds (created_at, id);
    CREATE INDEX bid_rounds_won_idx ON bid_rounds (item_class_id, won_at DESC) WHERE won_unit_minor IS NOT NULL;

    -- the merchants a round was opened to (told by webhook; the only ones whose bids it takes)
    CREATE TABLE bid_round_merchants (
      round_id     text NOT NULL REFERENCES bid_rounds (id),
      merchant_id  text NOT NULL REFERENCES merchants (id),
      PRIMARY KEY (merchant_id, round_id)
    );

    CREATE TABLE bids (
      round_id          text NOT NULL REFERENCES bid_rounds (id),
      merchant_id       text NOT NULL REFERENCES merchants (id),
      unit_price_minor  bigint NOT NULL CHECK (unit_price_minor >= 1),
      delivery_days     integer NOT NULL CHECK (delivery_days BETWEEN 0 AND 365),
      conditions        text CHECK (length(conditions) <= 500),
      -- the latest placement's key and request (a repeat of it answers it again), and every placement's key (an earlier
      -- one repeated is refused: its bid was replaced)
      idempotency_key   text NOT NULL,
      request_sha256    bytea NOT NULL,
      idempotency_keys  text[] NOT NULL,
      -- bids placed by the merchant in this round: its first and its replacements
      placed            integer NOT NULL DEFAULT 1,
      -- the order bids arrived in (a replacement keeps its place)
      seq               bigserial NOT NULL,
      placed_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
      -- the merchant's rating when the round closed: a close repeated (its worker killed before the workflow recorded
      -- it) ranks by the same ratings, so it picks the same winner
      rating_at_close   integer,
      updated_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (round_id, merchant_id)
    );

    -- Closes a round (once: a repeat finds it closed) and answers its bids with the ratings they are ranked by, in one
    -- call. Each statement of a function takes its own snapshot: the close waits for the bids holding the round's row,
    -- and the statements after it read them.
    CREATE FUNCTION close_bid_round(round text)
    RETURNS TABLE (merchant_id text, unit_price_minor bigint, delivery_days integer, conditions text, seq bigint, rating integer)
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      UPDATE bid_rounds SET closed_at = clock_timestamp() WHERE id = round AND closed_at IS NULL;
      IF FOUND THEN
        UPDATE bids b SET rating_at_close = m.rating FROM merchants m WHERE m.id = b.merchant_id AND b.round_id = round;
      END IF;
      RETURN QUERY SELECT b.merchant_id, b.unit_price_minor, b.delivery_days, b.conditions, b.seq, b.rating_at_close
        FROM bids b WHERE b.round_id = round;
    END $$;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP FUNCTION close_bid_round(text); DROP TABLE bids; DROP TABLE bid_round_merchants; DROP TABLE bid_rounds; DROP TABLE item_class_bidders; DROP TABLE item_classes;
    ALTER TABLE delivery_destinations DROP CONSTRAINT delivery_destinations_owner_fkey;
    ALTER TABLE delivery_destinations ADD CONSTRAINT delivery_destinations_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
    ALTER TABLE merchants DROP COLUMN rating;
  `);
}
