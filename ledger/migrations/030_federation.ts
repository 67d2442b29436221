// Federation between payment services. At the buyer's service (B): aliases, the temporary identifiers a buyer hands
// sellers of other services, each bound to one of the buyer's rule sets; and the authorization requests other
// services' gateways sent, one row per (gateway, transaction id), which decides each request once. At the seller's
// service (A): the federated payments its sellers asked for, one per (seller, clientId), holding only the alias, the
// gateways and the amounts (and the workflow's input, should the buyer's service not decide at once). Both: the nonces of signed gateway requests seen (a replay is refused).
//
// An authorized federated payment is recorded as a micro-payment on both sides, so each side's own periods invoice
// its buyers and credit its sellers as usual: at B from the buyer to the payee service (`federation:<gateway>`, a
// party with no seller row: it is settled by netting, not credited), at A from the payer service
// (`federation:<gateway>`, with no buyer row: netted, not invoiced) to the seller.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE federation_aliases (
      alias            text PRIMARY KEY,
      buyer_id         text NOT NULL REFERENCES buyers (id),
      rule_set_id      text NOT NULL REFERENCES rule_sets (id),
      expires_at       timestamptz NOT NULL,
      max_uses         integer CHECK (max_uses > 0),
      uses             integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
      ask_above_minor  bigint CHECK (ask_above_minor >= 0),
      revoked_at       timestamptz,
      created_at       timestamptz NOT NULL DEFAULT now(),
      CHECK (max_uses IS NULL OR uses <= max_uses)
    );
    CREATE INDEX federation_aliases_buyer_idx ON federation_aliases (buyer_id, created_at);

    CREATE TABLE federated_authorizations (
      from_gateway     text NOT NULL,
      transaction_id   text NOT NULL,
      request_sha256   text NOT NULL,
      alias            text NOT NULL,
      buyer_id         text,
      counterparty     text NOT NULL,
      category         text NOT NULL,
      currency         char(3) NOT NULL,
      amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
      state            text NOT NULL CHECK (state IN ('approving', 'approved', 'declined', 'pending', 'cancelled')),
      code             text,
      message          text,
      payment_id       bigint,
      expires_at       timestamptz,
      decided_at       timestamptz,
      created_at       timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (from_gateway, transaction_id)
    );
    CREATE INDEX federated_authorizations_buyer_idx ON federated_authorizations (buyer_id, state, created_at);

    CREATE TABLE federated_payments (
      id               text PRIMARY KEY,
      seller_id        text NOT NULL,
      client_id        text NOT NULL,
      request_sha256   text NOT NULL,
      alias            text NOT NULL,
      payee_gateway    text NOT NULL,
      payer_gateway    text NOT NULL,
      item_id          text NOT NULL,
      category         text NOT NULL,
      currency         char(3) NOT NULL,
      amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
      fee_minor        bigint NOT NULL CHECK (fee_minor >= 0),
      state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'authorized', 'declined')),
      code             text,
      message          text,
      payment_id       bigint,
      input            jsonb NOT NULL,
      workflow_started boolean NOT NULL DEFAULT false,
      decided_at       timestamptz,
      created_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (seller_id, client_id)
    );
    CREATE INDEX federated_payments_seller_idx ON federated_payments (seller_id, created_at);
    -- (the repair loop's: payments neither decided at once nor handed to their workflow)
    CREATE INDEX federated_payments_stranded_idx ON federated_payments (created_at) WHERE state = 'pending' AND NOT workflow_started;

    CREATE TABLE federation_nonces (
      gateway_id       text NOT NULL,
      nonce            text NOT NULL,
      seen_at          timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (gateway_id, nonce)
    );
    CREATE INDEX federation_nonces_seen_idx ON federation_nonces (seen_at);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP TABLE federation_nonces, federated_payments, federated_authorizations, federation_aliases');
}
