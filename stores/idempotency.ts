// Stored responses of creating POSTs, by (principal, Idempotency-Key). The first request with a key claims it
// (in progress); its response is stored before it is sent; a 5xx releases the key. A claim left by a crashed
// process is taken over after IDEMPOTENCY_LOCK_TIMEOUT_SECONDS.
import type { Db } from '../ledger/db';

export const IDEMPOTENCY_LOCK_TIMEOUT_SECONDS = 60;

export type Claim =
  | { kind: 'fresh' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in_progress' }
  | { kind: 'reused' };

export class IdempotencyStore {
  constructor(private readonly db: Db) {}

  /** Claims the key for this request (its method, path and body hash), or says what the key holds already. */
  async claim(principalId: string, key: string, request: { method: string; path: string; sha256: Buffer }): Promise<Claim> {
    const fresh = await this.db('idempotency_keys')
      .insert({ principal_id: principalId, key, method: request.method, path: request.path, request_sha256: request.sha256 })
      .onConflict(['principal_id', 'key']).ignore().returning('key');
    if (fresh.length) return { kind: 'fresh' };
    const row = await this.db('idempotency_keys').where({ principal_id: principalId, key }).first();
    if (!(row.request_sha256 as Buffer).equals(request.sha256)) return { kind: 'reused' };
    if (row.response_status !== null) return { kind: 'replay', status: row.response_status, body: row.response_body };
    const takenOver = await this.db('idempotency_keys')
      .where({ principal_id: principalId, key }).whereNull('response_status')
      .where('created_at', '<', this.db.raw(`now() - make_interval(secs => ?)`, [IDEMPOTENCY_LOCK_TIMEOUT_SECONDS]))
      .update({ created_at: this.db.fn.now() }).returning('key');
    return takenOver.length ? { kind: 'fresh' } : { kind: 'in_progress' };
  }

  async complete(principalId: string, key: string, status: number, body: unknown): Promise<void> {
    await this.db('idempotency_keys').where({ principal_id: principalId, key })
      .update({ response_status: status, response_body: JSON.stringify(body), completed_at: this.db.fn.now() });
  }

  /** The request failed on our side: the client may retry with the same key. */
  async release(principalId: string, key: string): Promise<void> {
    await this.db('idempotency_keys').where({ principal_id: principalId, key }).del();
  }
}
