import knex, { type Knex } from 'knex';
import { migrationSource } from './migrations';

export type Db = Knex;

export function createDb(url: string, opts: { poolMax?: number; applicationName?: string } = {}): Db {
  return knex({
    client: 'pg',
    connection: { connectionString: url, application_name: opts.applicationName ?? 'paybroker' },
    pool: { min: 0, max: opts.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
}

/** Applies every pending migration; safe to run from several processes at once (knex takes a lock). */
export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource });
  return applied as string[];
}

/**
 * A named prepared statement on a pooled connection (parsed and planned once per connection): for the few
 * statements on hot paths, where knex's per-query work and PostgreSQL's parse and plan would dominate.
 * `name` must be unique per statement text.
 */
export async function prepared<R>(db: Db, name: string, text: string, values: unknown[]): Promise<R[]> {
  const client = db.client as { acquireConnection(): Promise<PgConnection>; releaseConnection(c: PgConnection): Promise<void> };
  const conn = await client.acquireConnection();
  try {
    return (await conn.query({ name, text, values })).rows as R[];
  } finally {
    await client.releaseConnection(conn);
  }
}

/**
 * Values as a PostgreSQL array literal ('{"a","b"}'), for a prepared statement's array parameter: one string
 * instead of the driver's per-element escaping. Inside double quotes only `"` and `\` are special, so values
 * holding either are left to the driver (returned as they are).
 */
export function arrayLiteral(values: Array<string | number>): string | Array<string | number> {
  if (values.length === 0) return '{}';
  if (values.every((v) => typeof v === 'number')) return `{${values.join(',')}}`;
  return /["\\]/.test(values.join('')) ? values : `{"${values.join('","')}"}`;
}

interface PgConnection {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}
