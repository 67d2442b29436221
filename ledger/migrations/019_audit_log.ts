// The audit log (issue 14, part 7): one row per successful non-GET authenticated API operation (micro-payments and
// grant redemptions aside: their own tables record them), with who, which key, the request id, the request and the
// object it acted on (its id, kind and state, and the object before and after where the route has them).
// Operators page through it newest first, over all principals or one.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    CREATE TABLE audit_events (
      id            text PRIMARY KEY,
      created_at    timestamptz NOT NULL DEFAULT now(),
      principal_id  text NOT NULL REFERENCES principals (id),
      api_key_id    text NOT NULL REFERENCES api_keys (id),
      request_id    text NOT NULL,
      method        text NOT NULL,
      path          text NOT NULL,
      status        integer NOT NULL,
      object_type   text,
      object_id     text,
      object_state  text,
      request_body  jsonb,
      before        jsonb,
      after         jsonb
    );
    CREATE INDEX audit_events_created_id_idx ON audit_events (created_at, id);
    CREATE INDEX audit_events_principal_created_id_idx ON audit_events (principal_id, created_at, id);
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP TABLE audit_events');
}
