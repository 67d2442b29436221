// The customer confirms on another channel before money moves. Confirmation by message: phone numbers are kept
// encrypted, found by a keyed hash, and shown masked (orders and workflow histories carry only the token); each
// order asking its customer has one confirmation row, whose state the database decides (a reply and the deadline race
// on the row). Step-up authentication: merchants issue one-time registration codes, customers' devices register a
// public key with one, and each order the processor asks to authenticate has one authentication request, answered
// once by a device's signature. Signed webhooks of the messaging gateway are remembered by id (replays refused), and
// every refused input is counted by kind and reason.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE phone_numbers (
      token       text PRIMARY KEY,
      lookup      bytea NOT NULL UNIQUE,      -- HMAC-SHA256 of the E.164 number (key in signing_keys)
      ciphertext  bytea NOT NULL,             -- AES-256-GCM: iv (12) | tag (16) | data
      masked      text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    ALTER TABLE merchants ADD COLUMN sms_sender_id text UNIQUE,
      ADD COLUMN confirm_above_minor bigint CHECK (confirm_above_minor >= 0),
      ADD COLUMN confirm_first_orders boolean NOT NULL DEFAULT false;
    CREATE INDEX orders_customer_idx ON orders (merchant_id, customer_id);  -- is this the customer's first order?

    CREATE TABLE confirmations (
      order_id      text PRIMARY KEY,
      merchant_id   text NOT NULL REFERENCES merchants (id),
      phone_token   text NOT NULL REFERENCES phone_numbers (token),
      code          text NOT NULL CHECK (code ~ '^[0-9]{6}$'),
      sender        text NOT NULL,
      body          text NOT NULL,
      state         text NOT NULL DEFAULT 'sending'
                    CHECK (state IN ('sending', 'pending', 'accepted', 'rejected', 'failed', 'expired', 'cancelled', 'not_sent')),
      wrong_codes   integer NOT NULL DEFAULT 0,
      message_id    text UNIQUE,
      sent_at       timestamptz,
      delivered_at  timestamptz,
      deadline_at   timestamptz,
      decided_at    timestamptz,
      created_at    timestamptz NOT NULL DEFAULT now()
    );
    -- the code decides which order a reply is for: unique among a phone's open confirmations
    CREATE UNIQUE INDEX confirmations_open_code_idx ON confirmations (phone_token, code) WHERE state IN ('sending', 'pending');
    CREATE INDEX confirmations_phone_idx ON confirmations (phone_token, created_at DESC);

    CREATE TABLE gateway_webhooks (
      id           text PRIMARY KEY,
      type         text NOT NULL,
      received_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX gateway_webhooks_received_idx ON gateway_webhooks (received_at);

    CREATE TABLE refusals (
      kind     text NOT NULL,
      reason   text NOT NULL,
      count    bigint NOT NULL DEFAULT 0,
      last_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (kind, reason)
    );

    CREATE TABLE device_registrations (
      id           text PRIMARY KEY,
      merchant_id  text NOT NULL REFERENCES merchants (id),
      customer_id  text NOT NULL,
      code_sha256  bytea NOT NULL UNIQUE,
      expires_at   timestamptz NOT NULL,
      used_at      timestamptz,
      device_id    text,
      created_at   timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE devices (
      id           text PRIMARY KEY,
      merchant_id  text NOT NULL REFERENCES merchants (id),
      customer_id  text NOT NULL,
      algorithm    text NOT NULL CHECK (algorithm IN ('ed25519', 'p256')),
      public_key   text NOT NULL,
      name         text,
      created_at   timestamptz NOT NULL DEFAULT now(),
      revoked_at   timestamptz
    );
    CREATE INDEX devices_customer_idx ON devices (merchant_id, customer_id) WHERE revoked_at IS NULL;

    CREATE TABLE authentications (
      id                text PRIMARY KEY,
      order_id          text NOT NULL UNIQUE,
      merchant_id       text NOT NULL REFERENCES merchants (id),
      customer_id       text NOT NULL,
      device_ids        text[] NOT NULL,
      request           jsonb NOT NULL,       -- what the devices are sent, less the device id: the binding and the challenge
      server_signatures jsonb NOT NULL,       -- per device id
      state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
      expires_at        timestamptz NOT NULL,
      answered_by       text,
      decided_at        timestamptz,
      created_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX authentications_pending_idx ON authentications USING gin (device_ids) WHERE state = 'pending';
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP TABLE authentications; DROP TABLE devices; DROP TABLE device_registrations; DROP TABLE refusals; DROP TABLE gateway_webhooks;
    DROP TABLE confirmations;
    ALTER TABLE merchants DROP COLUMN sms_sender_id, DROP COLUMN confirm_above_minor, DROP COLUMN confirm_first_orders;
    DROP INDEX orders_customer_idx;
    DROP TABLE phone_numbers;
  `);
}
