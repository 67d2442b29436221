// Netting windows between payment services. Per pair of gateways, the authorized transactions both ways accumulate
// until the coordinator of the pair (domain/federation.ts nettingCoordinator) closes a window: the transactions not
// yet netted are assigned to it (window_seq), the other side agrees to the list (or both record a mismatch), the net
// amount moves once through the processor from the net debtor to the net creditor, and both ledgers post it.
// The coordinator keeps one open window per peer; the other side keeps the windows it agreed to.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    ALTER TABLE federated_payments ADD COLUMN window_seq integer;
    ALTER TABLE federated_authorizations ADD COLUMN window_seq integer;
    CREATE INDEX federated_payments_unnetted_idx ON federated_payments (payer_gateway) WHERE state = 'authorized' AND window_seq IS NULL;
    CREATE INDEX federated_authorizations_unnetted_idx ON federated_authorizations (from_gateway) WHERE state = 'approved' AND window_seq IS NULL;

    CREATE TABLE netting_windows (
      peer_gateway   text NOT NULL,
      seq            integer NOT NULL CHECK (seq > 0),
      role           text NOT NULL CHECK (role IN ('coordinator', 'member')),
      state          text NOT NULL CHECK (state IN ('open', 'closed', 'agreed', 'settled', 'mismatch')),
      transactions   integer NOT NULL DEFAULT 0,
      noted          integer NOT NULL DEFAULT 0,
      positions      jsonb,
      transfers      jsonb NOT NULL DEFAULT '[]',
      mismatches     jsonb,
      opened_at      timestamptz NOT NULL DEFAULT now(),
      closed_at      timestamptz,
      settled_at     timestamptz,
      PRIMARY KEY (peer_gateway, seq)
    );
    CREATE UNIQUE INDEX netting_windows_open_idx ON netting_windows (peer_gateway) WHERE state = 'open';
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP TABLE netting_windows;
    DROP INDEX federated_payments_unnetted_idx, federated_authorizations_unnetted_idx;
    ALTER TABLE federated_payments DROP COLUMN window_seq;
    ALTER TABLE federated_authorizations DROP COLUMN window_seq;
  `);
}
