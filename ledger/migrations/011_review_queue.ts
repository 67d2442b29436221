// The AVS review queue (GET /v1/reviews) reads the orders held for review, oldest first: a small partial index.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`CREATE INDEX orders_review_idx ON orders (created_at, id) WHERE state = 'authorized_minus_avs'`);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX orders_review_idx');
}
