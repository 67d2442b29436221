// The simulator's own schema, processor_sim, beside (never inside) the broker's public schema. Migrations are
// listed here explicitly, like ledger/migrations/index.ts; append new ones, never edit applied ones.
// The tables enforce the money rules themselves: what is captured and released together never exceeds the
// authorized amount, a refund total never exceeds its capture, a capture is in at most one settlement batch, a batch file line's idempotency
// key is applied at most once, a card's available balance is never negative, and what a reservation captured and
// gave back never exceeds what it reserved (all of it once it has ended).
import knex, { type Knex } from 'knex';
import type { Db } from '../../ledger/db';

export const SIM_SCHEMA = 'processor_sim';

type Migration = { up(db: Knex): Promise<void>; down(db: Knex): Promise<void> };

const m001: Migration = {
  async up(db) {
    await db.raw(`
      CREATE TABLE processor_sim.card_tokens (
        token         text PRIMARY KEY,
        last4         text NOT NULL,
        brand         text NOT NULL,
        exp_month     integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        exp_year      integer NOT NULL,
        -- the test card's decision (null approves); the card number itself is not kept
        decline_code  text,
        created_at    timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE processor_sim.authorizations (
        id                 text PRIMARY KEY,
        token              text NOT NULL,  -- no foreign key: an unknown token is recorded as a decline
        amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
        currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        postal_code        text NOT NULL,
        reference          text NOT NULL,
        status             text NOT NULL CHECK (status IN ('approved', 'declined')),
        decline_code       text,
        avs_code           text NOT NULL CHECK (avs_code IN ('Y', 'A', 'Z', 'N', 'U', 'S', 'R')),
        expires_at         timestamptz,
        captured_minor     bigint NOT NULL DEFAULT 0 CHECK (captured_minor BETWEEN 0 AND amount_minor),
        voided_at          timestamptz,
        released_minor     bigint CHECK (released_minor >= 0),
        reauthorized_from  text REFERENCES processor_sim.authorizations (id),
        created_at         timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'approved') = (decline_code IS NULL)),
        CHECK ((status = 'approved') = (expires_at IS NOT NULL)),
        CHECK (status = 'approved' OR (captured_minor = 0 AND voided_at IS NULL)),
        CHECK ((voided_at IS NULL) = (released_minor IS NULL))
      );
      CREATE INDEX authorizations_reference_idx ON processor_sim.authorizations (reference);

      CREATE TABLE processor_sim.settlement_batches (
        id           text PRIMARY KEY,
        capture_ids  text[] NOT NULL CHECK (cardinality(capture_ids) > 0),
        totals       jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE processor_sim.captures (
        id                text PRIMARY KEY,
        authorization_id  text NOT NULL REFERENCES processor_sim.authorizations (id),
        amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
        currency          text NOT NULL,
        refunded_minor    bigint NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND amount_minor),
        batch_id          text REFERENCES processor_sim.settlement_batches (id),
        created_at        timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX captures_authorization_idx ON processor_sim.captures (authorization_id);

      CREATE TABLE processor_sim.refunds (
        id            text PRIMARY KEY,
        capture_id    text NOT NULL REFERENCES processor_sim.captures (id),
        amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
        currency      text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX refunds_capture_idx ON processor_sim.refunds (capture_id);

      CREATE TABLE processor_sim.payouts (
        id            text PRIMARY KEY,
        destination   text NOT NULL,
        amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
        currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        created_at    timestamptz NOT NULL DEFAULT now()
      );

      -- One row per Idempotency-Key, written in the same transaction as the effect and its response.
      CREATE TABLE processor_sim.idempotency_keys (
        key              text PRIMARY KEY,
        operation        text NOT NULL,
        request_sha256   bytea NOT NULL,
        response_status  integer,
        response_body    json,  -- json, not jsonb: a replay sends the body with its keys in the first response's order
        created_at       timestamptz NOT NULL DEFAULT now()
      );
    `);
  },
  async down(db) {
    await db.raw(`DROP TABLE processor_sim.idempotency_keys, processor_sim.payouts, processor_sim.refunds,
      processor_sim.captures, processor_sim.settlement_batches, processor_sim.authorizations, processor_sim.card_tokens`);
  },
};

// Batch files of charges (direct sales) and of payouts. A line's own idempotency key is the primary key of its
// row, so a key is applied once across every file; a failed line is kept too (its first result is final).
const m002: Migration = {
  async up(db) {
    await db.raw(`
      CREATE TABLE processor_sim.batch_files (
        id          text PRIMARY KEY,
        kind        text NOT NULL CHECK (kind IN ('charge', 'payout')),
        line_count  integer NOT NULL CHECK (line_count > 0),
        created_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE processor_sim.charges (
        idempotency_key  text PRIMARY KEY,  -- the line's key, global across files
        id               text UNIQUE,       -- set when succeeded
        file_id          text NOT NULL REFERENCES processor_sim.batch_files (id),
        token            text NOT NULL,     -- no foreign key: an unknown token is recorded as a failed line
        amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
        currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        reference        text NOT NULL,
        status           text NOT NULL CHECK (status IN ('succeeded', 'failed')),
        decline_code     text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'succeeded') = (id IS NOT NULL)),
        CHECK ((status = 'succeeded') = (decline_code IS NULL))
      );
      CREATE INDEX charges_reference_idx ON processor_sim.charges (reference);

      CREATE TABLE processor_sim.batch_payouts (
        idempotency_key  text PRIMARY KEY,  -- the line's key, global across files
        id               text UNIQUE,       -- set when paid
        file_id          text NOT NULL REFERENCES processor_sim.batch_files (id),
        destination      text NOT NULL,
        amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
        currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        reference        text NOT NULL,
        status           text NOT NULL CHECK (status IN ('paid', 'failed')),
        failure_code     text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'paid') = (id IS NOT NULL)),
        CHECK ((status = 'paid') = (failure_code IS NULL))
      );
      CREATE INDEX batch_payouts_reference_idx ON processor_sim.batch_payouts (reference);
    `);
  },
  async down(db) {
    await db.raw('DROP TABLE processor_sim.batch_payouts, processor_sim.charges, processor_sim.batch_files');
  },
};

// Partial voids (reversals): a void may release part of what is left uncaptured and leave the authorization open.
// released_minor becomes the total released so far (null while nothing is), voided_at is set once nothing is
// left; every void call is a row of voids (those before this migration, one per voided authorization).
const m003: Migration = {
  async up(db) {
    // the check written unnamed in 001, found by its definition
    const { rows } = await db.raw(`SELECT conname FROM pg_constraint
      WHERE conrelid = 'processor_sim.authorizations'::regclass AND contype = 'c'
        AND pg_get_constraintdef(oid) LIKE '%(voided_at IS NULL) = (released_minor IS NULL)%'`) as { rows: Array<{ conname: string }> };
    if (rows.length !== 1) throw new Error(`003_partial_voids: expected one voided_at/released_minor check, found ${rows.length}`);
    await db.raw(`
      ALTER TABLE processor_sim.authorizations
        DROP CONSTRAINT ${rows[0].conname},
        ADD CONSTRAINT authorizations_voided_released_check CHECK (voided_at IS NULL OR released_minor IS NOT NULL),
        ADD CONSTRAINT authorizations_within_amount_check CHECK (captured_minor + coalesce(released_minor, 0) <= amount_minor);

      CREATE TABLE processor_sim.voids (
        id                text PRIMARY KEY,
        authorization_id  text NOT NULL REFERENCES processor_sim.authorizations (id),
        released_minor    bigint NOT NULL CHECK (released_minor >= 0),
        created_at        timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX voids_authorization_idx ON processor_sim.voids (authorization_id);
      INSERT INTO processor_sim.voids (id, authorization_id, released_minor, created_at)
        SELECT 'vd_' || id, id, released_minor, voided_at FROM processor_sim.authorizations WHERE voided_at IS NOT NULL;
    `);
  },
  async down(db) {
    await db.raw(`
      DROP TABLE processor_sim.voids;
      ALTER TABLE processor_sim.authorizations
        DROP CONSTRAINT authorizations_voided_released_check,
        DROP CONSTRAINT authorizations_within_amount_check,
        ADD CHECK ((voided_at IS NULL) = (released_minor IS NULL));
    `);
  },
};

// Step-up authentication (3-D Secure test cards): a token remembers that its card asks for authentication, an
// authorization may await it (status authentication_required, decline code authentication_required, no expiry), and
// keeps the id of the authentication that completed it. Existing rows keep their meaning: their cards ask for none.
const m004: Migration = {
  async up(db) {
    // the status check written unnamed in 001, found by its definition
    const { rows } = await db.raw(`SELECT conname FROM pg_constraint
      WHERE conrelid = 'processor_sim.authorizations'::regclass AND contype = 'c'
        AND pg_get_constraintdef(oid) LIKE '%status = ANY%'`) as { rows: Array<{ conname: string }> };
    if (rows.length !== 1) throw new Error(`004_step_up_authentication: expected one status check, found ${rows.length}`);
    await db.raw(`
      ALTER TABLE processor_sim.card_tokens ADD COLUMN requires_authentication boolean NOT NULL DEFAULT false;

      ALTER TABLE processor_sim.authorizations
        ADD COLUMN authentication_id text CHECK (authentication_id ~ '^[A-Za-z0-9_-]{1,100}$'),
        DROP CONSTRAINT ${rows[0].conname},
        ADD CONSTRAINT authorizations_status_check CHECK (status IN ('approved', 'declined', 'authentication_required')),
        ADD CONSTRAINT authorizations_awaiting_authentication_check
          CHECK ((status = 'authentication_required') = (decline_code IS NOT DISTINCT FROM 'authentication_required')),
        ADD CONSTRAINT authorizations_authenticated_once_check
          CHECK (authentication_id IS NULL OR status <> 'authentication_required');
    `);
  },
  async down(db) {
    // (refused while an authorization awaits authentication: its status has no meaning before 004)
    await db.raw(`
      ALTER TABLE processor_sim.authorizations
        DROP CONSTRAINT authorizations_authenticated_once_check,
        DROP CONSTRAINT authorizations_awaiting_authentication_check,
        DROP CONSTRAINT authorizations_status_check,
        ADD CHECK (status IN ('approved', 'declined')),
        DROP COLUMN authentication_id;
      ALTER TABLE processor_sim.card_tokens DROP COLUMN requires_authentication;
    `);
  },
};

// The issuer's side of debit and prepaid cards: a token of such a card has a balance (its kind, what is available,
// its currency; a credit card's token has none), and reservations (holds of funds) are taken from it. A capture of a
// reservation is a capture like any other (refunds, settlement batches and reports take it as they take an
// authorization's), made of exactly one of an authorization or a reservation, with the line items it was sent. Every
// capture made from now on carries the processor's fee.
const m005: Migration = {
  async up(db) {
    await db.raw(`
      ALTER TABLE processor_sim.card_tokens
        ADD COLUMN funds_kind text CHECK (funds_kind IN ('debit', 'prepaid')),
        ADD COLUMN available_minor bigint CHECK (available_minor >= 0),
        ADD COLUMN balance_currency text CHECK (balance_currency ~ '^[A-Z]{3}$'),
        ADD CONSTRAINT card_tokens_balance_check
          CHECK ((funds_kind IS NULL) = (available_minor IS NULL) AND (funds_kind IS NULL) = (balance_currency IS NULL));

      CREATE TABLE processor_sim.reservations (
        id              text PRIMARY KEY,
        token           text NOT NULL,  -- no foreign key: an unknown token is recorded as a decline
        amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
        currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        reference       text NOT NULL,
        status          text NOT NULL CHECK (status IN ('active', 'declined', 'captured', 'released', 'expired')),
        decline_code    text,
        -- taken from the card's balance (debit, prepaid): what it does not capture goes back there when it ends
        from_balance    boolean NOT NULL,
        captured_minor  bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
        -- given back by a release or an expiry: all that was not captured
        released_minor  bigint NOT NULL DEFAULT 0 CHECK (released_minor >= 0),
        extensions      integer NOT NULL DEFAULT 0 CHECK (extensions >= 0),
        expires_at      timestamptz,
        -- when it stopped being active (fully captured, released, expired)
        ended_at        timestamptz,
        created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT reservations_declined_check CHECK ((status = 'declined') = (decline_code IS NOT NULL)),
        CONSTRAINT reservations_expiry_check CHECK ((status = 'declined') = (expires_at IS NULL)),
        CONSTRAINT reservations_declined_empty_check
          CHECK (status <> 'declined' OR (NOT from_balance AND captured_minor = 0 AND extensions = 0)),
        CONSTRAINT reservations_within_amount_check CHECK (captured_minor + released_minor <= amount_minor),
        CONSTRAINT reservations_ended_check CHECK ((status IN ('active', 'declined')) = (ended_at IS NULL)),
        CONSTRAINT reservations_settled_check
          CHECK (status IN ('active', 'declined') OR captured_minor + released_minor = amount_minor),
        CONSTRAINT reservations_nothing_released_check CHECK (status IN ('released', 'expired') OR released_minor = 0),
        -- MAX_RESERVATION_SECONDS: placed or extended, a hold lasts at most 7 days from its placement
        CONSTRAINT reservations_max_hold_check CHECK (expires_at <= created_at + interval '7 days')
      );
      CREATE INDEX reservations_reference_idx ON processor_sim.reservations (reference);
      -- the active ones of a card that are due (each call on the card), and every due one (the periodic sweep)
      CREATE INDEX reservations_active_token_idx ON processor_sim.reservations (token, expires_at) WHERE status = 'active';
      CREATE INDEX reservations_active_expiry_idx ON processor_sim.reservations (expires_at) WHERE status = 'active';

      ALTER TABLE processor_sim.captures
        ALTER COLUMN authorization_id DROP NOT NULL,
        ADD COLUMN reservation_id text REFERENCES processor_sim.reservations (id),
        ADD COLUMN line_items jsonb CHECK (jsonb_typeof(line_items) = 'array' AND jsonb_array_length(line_items) > 0),
        -- the processor's fee (fees.ts); null on a capture made before fees were kept
        ADD COLUMN fee_minor bigint CHECK (fee_minor >= 0),
        ADD CONSTRAINT captures_of_one_check CHECK ((authorization_id IS NULL) <> (reservation_id IS NULL));
      CREATE INDEX captures_reservation_idx ON processor_sim.captures (reservation_id) WHERE reservation_id IS NOT NULL;
    `);
  },
  async down(db) {
    // (refused while a capture of a reservation exists: its authorization_id is null)
    await db.raw(`
      DROP INDEX processor_sim.captures_reservation_idx;
      ALTER TABLE processor_sim.captures
        DROP CONSTRAINT captures_of_one_check,
        DROP COLUMN fee_minor,
        DROP COLUMN line_items,
        DROP COLUMN reservation_id,
        ALTER COLUMN authorization_id SET NOT NULL;
      DROP TABLE processor_sim.reservations;
      ALTER TABLE processor_sim.card_tokens
        DROP CONSTRAINT card_tokens_balance_check,
        DROP COLUMN balance_currency,
        DROP COLUMN available_minor,
        DROP COLUMN funds_kind;
    `);
  },
};

/** The dispute reasons, as SQL literals (DISPUTE_REASONS at the time of 006: a new reason is a new migration). */
const REASONS = "'fraudulent', 'product_not_received', 'product_unacceptable', 'provisioning_failed', 'duplicate', 'credit_not_processed', 'general'";

// Disputes (chargebacks) on captures, what the merchant tells the issuer about a capture (provisioning failures,
// loyalty rewards), and the outbox of signed webhooks to the broker: each simulator process upserts its endpoint
// (URL and secret) at start, and a dispute or reservation remembers the endpoint of the process that made it, so that
// processes sharing the database each reach their own broker. A test card may dispute each capture on it. At most one
// dispute of a capture is open at once; a dispute resolved by a refund costs no fee.
const m006: Migration = {
  async up(db) {
    await db.raw(`
      CREATE TABLE processor_sim.webhook_endpoints (
        url         text PRIMARY KEY CHECK (url ~ '^https{0,1}://'),
        secret      text NOT NULL CHECK (secret <> ''),
        updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
      );

      ALTER TABLE processor_sim.card_tokens
        ADD COLUMN dispute_reason text CHECK (dispute_reason IN (${REASONS}));
      ALTER TABLE processor_sim.reservations
        ADD COLUMN webhook_url text REFERENCES processor_sim.webhook_endpoints (url);

      CREATE TABLE processor_sim.disputes (
        id                     text PRIMARY KEY,
        capture_id             text NOT NULL REFERENCES processor_sim.captures (id),
        amount_minor           bigint NOT NULL CHECK (amount_minor > 0),
        currency               text NOT NULL,
        reason                 text NOT NULL CHECK (reason IN (${REASONS})),
        fee_minor              bigint NOT NULL CHECK (fee_minor >= 0),
        status                 text NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost', 'refunded')),
        evidence_due_by        timestamptz NOT NULL,
        evidence               jsonb CHECK (jsonb_typeof(evidence) = 'object'),
        evidence_submitted_at  timestamptz,
        -- the outcome the test planned (admin); null: decided by the evidence
        planned_outcome        text CHECK (planned_outcome IN ('won', 'lost')),
        decide_at              timestamptz,
        closed_at              timestamptz,
        webhook_url            text REFERENCES processor_sim.webhook_endpoints (url),
        created_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT disputes_evidence_submitted_check CHECK ((evidence IS NULL) = (evidence_submitted_at IS NULL)),
        CONSTRAINT disputes_review_check CHECK ((evidence IS NULL) = (decide_at IS NULL)),
        CONSTRAINT disputes_under_review_check CHECK (status <> 'under_review' OR evidence IS NOT NULL),
        CONSTRAINT disputes_unanswered_check CHECK (status <> 'needs_response' OR evidence IS NULL),
        CONSTRAINT disputes_closed_check CHECK ((status IN ('needs_response', 'under_review')) = (closed_at IS NULL)),
        CONSTRAINT disputes_refunded_free_check CHECK (status <> 'refunded' OR fee_minor = 0)
      );
      CREATE UNIQUE INDEX disputes_one_open_per_capture ON processor_sim.disputes (capture_id)
        WHERE status IN ('needs_response', 'under_review');
      CREATE INDEX disputes_capture_idx ON processor_sim.disputes (capture_id);
      -- what the pump decides: reviews due, and disputes left unanswered past their due date (lost)
      CREATE INDEX disputes_review_due_idx ON processor_sim.disputes (decide_at) WHERE status = 'under_review';
      CREATE INDEX disputes_unanswered_idx ON processor_sim.disputes (evidence_due_by) WHERE status = 'needs_response';

      CREATE TABLE processor_sim.provisioning_failures (
        capture_id   text PRIMARY KEY REFERENCES processor_sim.captures (id),
        reported_at  timestamptz NOT NULL DEFAULT clock_timestamp()
      );

      CREATE TABLE processor_sim.loyalty_signals (
        id          text PRIMARY KEY,
        capture_id  text NOT NULL REFERENCES processor_sim.captures (id),
        program     text NOT NULL CHECK (char_length(program) BETWEEN 1 AND 64),
        points      bigint NOT NULL CHECK (points BETWEEN 1 AND 10000000),
        created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX loyalty_signals_capture_idx ON processor_sim.loyalty_signals (capture_id);

      -- the outbox: one row per event, delivered (or given up) by the pump of any process, to its endpoint
      CREATE TABLE processor_sim.webhook_events (
        id               text PRIMARY KEY,
        type             text NOT NULL CHECK (type IN ('dispute.created', 'dispute.closed', 'reservation.expired')),
        object_id        text NOT NULL,
        payload          jsonb NOT NULL,
        -- null: made by a process without an endpoint; kept, never sent
        url              text REFERENCES processor_sim.webhook_endpoints (url),
        attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
        delivered_at     timestamptz,
        failed_at        timestamptz,
        last_error       text,
        created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT webhook_events_one_end_check CHECK (delivered_at IS NULL OR failed_at IS NULL)
      );
      CREATE INDEX webhook_events_due_idx ON processor_sim.webhook_events (next_attempt_at)
        WHERE delivered_at IS NULL AND failed_at IS NULL AND url IS NOT NULL;
      CREATE INDEX webhook_events_object_idx ON processor_sim.webhook_events (object_id);
    `);
  },
  async down(db) {
    await db.raw(`
      DROP TABLE processor_sim.webhook_events, processor_sim.loyalty_signals, processor_sim.provisioning_failures, processor_sim.disputes;
      ALTER TABLE processor_sim.reservations DROP COLUMN webhook_url;
      ALTER TABLE processor_sim.card_tokens DROP COLUMN dispute_reason;
      DROP TABLE processor_sim.webhook_endpoints;
    `);
  },
};

// Disputes of charge lines: a dispute belongs to exactly one of a capture or a succeeded charge of a batch file (a
// charge line's id is set only when it succeeded), with at most one open per charge as per capture. A refund resolves
// only a capture's dispute ('refunded'): a charge has no refunds. Existing disputes are all of captures.
const m007: Migration = {
  async up(db) {
    await db.raw(`
      ALTER TABLE processor_sim.disputes
        ALTER COLUMN capture_id DROP NOT NULL,
        ADD COLUMN charge_id text REFERENCES processor_sim.charges (id),
        ADD CONSTRAINT disputes_of_one_check CHECK ((capture_id IS NULL) <> (charge_id IS NULL)),
        ADD CONSTRAINT disputes_refunded_capture_check CHECK (status <> 'refunded' OR capture_id IS NOT NULL);
      CREATE UNIQUE INDEX disputes_one_open_per_charge ON processor_sim.disputes (charge_id)
        WHERE status IN ('needs_response', 'under_review');
      CREATE INDEX disputes_charge_idx ON processor_sim.disputes (charge_id) WHERE charge_id IS NOT NULL;
    `);
  },
  async down(db) {
    // (refused while a dispute of a charge exists: its capture_id is null)
    await db.raw(`
      DROP INDEX processor_sim.disputes_charge_idx, processor_sim.disputes_one_open_per_charge;
      ALTER TABLE processor_sim.disputes
        DROP CONSTRAINT disputes_refunded_capture_check,
        DROP CONSTRAINT disputes_of_one_check,
        DROP COLUMN charge_id,
        ALTER COLUMN capture_id SET NOT NULL;
    `);
  },
};

const migrations: Array<[string, Migration]> = [
  ['001_processor_sim', m001],
  ['002_batch_files', m002],
  ['003_partial_voids', m003],
  ['004_step_up_authentication', m004],
  ['005_balances_and_reservations', m005],
  ['006_disputes_and_webhooks', m006],
  ['007_charge_disputes', m007],
];

export const simulatorMigrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};

/** An arbitrary constant for pg_advisory_lock: serializes simulators that start at the same moment. */
const MIGRATION_LOCK_ID = 0x70725f73696d; // "pr_sim"

/**
 * Creates the schema and applies pending migrations. Two simulators starting at once on a fresh database would
 * race knex's creation of its migration tables, so the whole step runs under a session advisory lock, on a
 * one-connection knex of its own (the lock and the migrations share that session).
 */
export async function migrateSimulator(db: Db): Promise<string[]> {
  const own = knex({ ...(db.client.config as Knex.Config), pool: { min: 0, max: 1 } });
  try {
    await own.raw('SELECT pg_advisory_lock(?)', [MIGRATION_LOCK_ID]);
    try {
      await own.raw(`CREATE SCHEMA IF NOT EXISTS ${SIM_SCHEMA}`);
      const [, applied] = await own.migrate.latest({
        migrationSource: simulatorMigrationSource,
        tableName: 'processor_sim_migrations',
        schemaName: SIM_SCHEMA,
      });
      return applied as string[];
    } finally {
      await own.raw('SELECT pg_advisory_unlock(?)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await own.destroy();
  }
}
