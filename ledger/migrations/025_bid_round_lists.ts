// Bid rounds, after 024 ran here: which bids count toward a round's enough_bids (sell first: only those that could
// win), and the indexes of a buyer app's purchases and quotes and of the rounds open now (what a merchant's list of
// rounds to bid on starts from).
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`
    -- sell first: the highest unit bid that can win (only those count toward enough_bids); quote first: null, any
    ALTER TABLE bid_rounds ADD COLUMN acceptable_max_minor bigint;
    CREATE INDEX bid_rounds_requester_idx ON bid_rounds (requester_id, created_at, id);
    CREATE INDEX bid_rounds_open_idx ON bid_rounds (created_at, id) WHERE closed_at IS NULL;
  `);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`
    DROP INDEX bid_rounds_open_idx; DROP INDEX bid_rounds_requester_idx;
    ALTER TABLE bid_rounds DROP COLUMN acceptable_max_minor;
  `);
}
