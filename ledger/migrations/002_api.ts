// API principals, their keys (only hashes are stored), merchants, and stored responses of creating POSTs.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE principals (
      id          text PRIMARY KEY,
      kind        text NOT NULL CHECK (kind IN ('merchant', 'buyer_app', 'operator')),
      name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE api_keys (
      id            text PRIMARY KEY,
      principal_id  text NOT NULL REFERENCES principals (id),
      secret_sha256 bytea NOT NULL UNIQUE,
      created_at    timestamptz NOT NULL DEFAULT now(),
      revoked_at    timestamptz
    );

    CREATE TABLE merchants (
      id          text PRIMARY KEY REFERENCES principals (id),
      name        text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE idempotency_keys (
      principal_id     text NOT NULL REFERENCES principals (id),
      key              text NOT NULL,
      method           text NOT NULL,
      path             text NOT NULL,
      request_sha256   bytea NOT NULL,
      response_status  integer,
      response_body    jsonb,
      created_at       timestamptz NOT NULL DEFAULT now(),
      completed_at     timestamptz,
      PRIMARY KEY (principal_id, key)
    );
    CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP TABLE idempotency_keys, merchants, api_keys, principals');
}
