// The PostgreSQL connection of a process: knex (query building, transactions) for the stores, and a small pg Pool
// of its own for the named prepared statements of the hot paths (API key lookups, micro-payment recording).
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from './migrations';

export type Db = Knex;

/**
 * How long a query may wait for a pooled connection (or a new one) before PostgreSQL counts as unavailable: the API
 * then answers 503 database_unavailable within a few seconds instead of hanging.
 */
export const CONNECT_TIMEOUT_MS = 3000;

export interface DatabaseOptions {
  /** Connections of the knex pool. */
  poolMax?: number;
  /** Connections of the prepared statements' pool (opened when first used). */
  statementPoolMax?: number;
  applicationName?: string;
}

export interface Database {
  db: Db;
  statements: Statements;
  close: () => Promise<void>;
}

export function createDb(url: string, opts: Pick<DatabaseOptions, 'poolMax' | 'applicationName'> = {}): Db {
  return knex({
    client: 'pg',
    connection: { connectionString: url, application_name: opts.applicationName ?? 'paybroker' },
    pool: { min: 0, max: opts.poolMax ?? 10 },
    acquireConnectionTimeout: CONNECT_TIMEOUT_MS,
  });
}

/** Both pools of a process over one database. */
export function openDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const db = createDb(url, opts);
  const statements = new Statements(url, { max: opts.statementPoolMax ?? 4, applicationName: opts.applicationName ?? 'paybroker' });
  return { db, statements, close: async () => { await Promise.all([db.destroy(), statements.end()]); } };
}

/** Resolves when PostgreSQL answers a query. */
export async function reachable(db: Db): Promise<void> {
  await db.raw('SELECT 1');
}

/** Applies every pending migration; safe to run from several processes at once (knex takes a lock). */
export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource });
  return applied as string[];
}

/**
 * Named prepared statements (parsed and planned once per connection), for the few statements on hot paths, where
 * knex's per-query work and PostgreSQL's parse and plan would dominate. A statement's `name` must be unique per
 * statement text.
 */
export class Statements {
  private readonly pool: pg.Pool;

  constructor(url: string, opts: { max: number; applicationName: string }) {
    this.pool = new pg.Pool({ connectionString: url, application_name: opts.applicationName, max: opts.max,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // an idle connection that dies (a restarted server) is dropped by the pool; without a listener it would end the process
    this.pool.on('error', () => {});
  }

  async query<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    return (await this.pool.query({ name, text, values })).rows as R[];
  }

  end(): Promise<void> {
    return this.pool.end();
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
