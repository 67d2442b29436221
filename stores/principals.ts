// Principals (merchants, buyer apps, buyers, operators) and their API keys. A key is shown once, when it is
// made; only its SHA-256 (and the secret's last four characters, as a hint) is stored. Key format:
// pb_<key id>_<secret>. A key is full (every operation its principal may call) or read_only (GET and HEAD); a
// rolled key works until its expiry; a revoked one stops at once.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Coalescer } from '../ledger/coalescer';
import type { Db, Statements } from '../ledger/db';
import { type Page, type PageRequest, pageOf } from './page';
import { StoreRefusal } from './refusal';

export type PrincipalKind = 'merchant' | 'buyer_app' | 'operator' | 'buyer';

export interface Principal {
  id: string;
  kind: PrincipalKind;
  name: string;
}

export const KEY_MODES = ['full', 'read_only'] as const;
export type KeyMode = (typeof KEY_MODES)[number];

export interface ApiKey {
  id: string;
  principalId: string;
  mode: KeyMode;
  /** The secret's last four characters (null: a key made before they were kept). */
  last4: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** A rolled key's end. */
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** A request's key: its principal, its id and its mode. */
export interface KeyHolder { principal: Principal; keyId: string; mode: KeyMode }

const PREFIX: Record<PrincipalKind, string> = { merchant: 'mer', buyer_app: 'app', operator: 'op', buyer: 'buy' };
/** Keys per principal that work (neither revoked nor expired; a rolled key counts until its overlap ends). */
export const MAX_ACTIVE_KEYS_PER_PRINCIPAL = 10;
/** A key's last_used_at is written at most once per this interval per API copy (not once per request). */
export const LAST_USED_INTERVAL_MS = 60_000;
/** The longest a rolled key goes on working beside its successor. */
export const MAX_ROLL_OVERLAP_SECONDS = 7 * 24 * 3600;

const token = (bytes: number) => randomBytes(bytes).toString('base64url');
export const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** A new principal's id: its kind's prefix and 16 random characters. */
export const newPrincipalId = (kind: PrincipalKind) => `${PREFIX[kind]}_${token(12).replace(/[-_]/g, 'x')}`;

/** A new key and its id (the key is shown once; only its SHA-256 is stored). */
export function newApiKey(): { keyId: string; apiKey: string } {
  const keyId = token(9).replace(/[-_]/g, 'x');
  return { keyId, apiKey: `pb_${keyId}_${token(24)}` };
}

const keyOf = (r: Record<string, any>): ApiKey => ({
  id: r.id, principalId: r.principal_id, mode: r.mode, last4: r.secret_last4, createdAt: r.created_at, lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at, revokedAt: r.revoked_at,
});

async function insertKey(db: Db, principalId: string, mode: KeyMode = 'full'): Promise<{ key: ApiKey; apiKey: string }> {
  const { keyId, apiKey } = newApiKey();
  const [row] = await db('api_keys').insert({ id: keyId, principal_id: principalId, secret_sha256: sha256(apiKey), mode,
    secret_last4: apiKey.slice(-4) }).returning('*');
  return { key: keyOf(row), apiKey };
}

/**
 * Writes a principal and its first key inside the caller's transaction, which writes the rows that belong with
 * it (a merchant's, a buyer's, a seller's).
 */
export async function insertPrincipal(trx: Db, kind: PrincipalKind, name: string): Promise<{ principal: Principal; apiKey: string }> {
  const id = newPrincipalId(kind);
  await trx('principals').insert({ id, kind, name });
  return { principal: { id, kind, name }, apiKey: (await insertKey(trx, id)).apiKey };
}

const KEY_ID = /^[A-Za-z0-9]{12}$/;

interface KeyRow { key_id: string; id: string; kind: PrincipalKind; name: string; secret_sha256: Buffer; mode: KeyMode }

export class PrincipalStore {
  /** Every request looks its key up: concurrent requests' lookups share one prepared statement. */
  private readonly keyLookup: Coalescer<string, KeyRow | undefined>;
  /** Keys' uses: one statement for what is due at once. */
  private readonly lastUsedWrites: Coalescer<{ keyId: string; at: number }, undefined>;
  /** When this process last wrote each key's last_used_at (entries older than the interval are dropped now and then). */
  private readonly lastUsedWritten = new Map<string, number>();
  private lastUsedPrunedAt = 0;

  /** `clock` (ms since the epoch) decides whether a rolled key has expired, and stamps keys' uses. */
  constructor(private readonly db: Db, statements: Statements, private readonly clock: () => number = Date.now) {
    this.keyLookup = new Coalescer(async (keyIds) => {
      const rows = await statements.query<KeyRow>('principals-for-keys', `
        SELECT k.id AS key_id, p.id, p.kind, p.name, k.secret_sha256, k.mode FROM api_keys k JOIN principals p ON p.id = k.principal_id
        WHERE k.id = ANY($1::text[]) AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)`, [keyIds, new Date(this.clock())]);
      const byId = new Map(rows.map((r) => [r.key_id, r]));
      return keyIds.map((k) => byId.get(k));
    }, { maxInFlight: 4, maxItems: 500 });
    this.lastUsedWrites = new Coalescer(async (uses) => {
      await statements.query('api-keys-last-used', `
        UPDATE api_keys k SET last_used_at = u.at FROM unnest($1::text[], $2::timestamptz[]) AS u (id, at)
        WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
      [uses.map((u) => u.keyId), uses.map((u) => new Date(u.at))]);
      return uses.map(() => undefined);
    }, { maxInFlight: 1, maxItems: 500 });
  }

  /** An operator or a buyer app, with its first API key. */
  create(kind: 'operator' | 'buyer_app', name: string): Promise<{ principal: Principal; apiKey: string }> {
    return this.db.transaction((trx) => insertPrincipal(trx, kind, name));
  }

  /**
   * The principal an API key belongs to, and the key's id and mode; undefined for an unknown, malformed, revoked or
   * expired key. The key's last_used_at is written when this process has not written it for LAST_USED_INTERVAL_MS.
   */
  async forKey(apiKey: string): Promise<KeyHolder | undefined> {
    const m = /^pb_([A-Za-z0-9]{12})_[A-Za-z0-9_-]{32}$/.exec(apiKey);
    if (!m) return undefined;
    const [row] = await this.keyLookup.submit([m[1]]);
    if (!row || !timingSafeEqual(row.secret_sha256, sha256(apiKey))) return undefined;
    await this.used(row.key_id);
    return { principal: { id: row.id, kind: row.kind, name: row.name }, keyId: row.key_id, mode: row.mode };
  }

  private async used(keyId: string): Promise<void> {
    const now = this.clock();
    if (now - (this.lastUsedWritten.get(keyId) ?? -Infinity) < LAST_USED_INTERVAL_MS) return;
    if (now - this.lastUsedPrunedAt >= LAST_USED_INTERVAL_MS) {
      this.lastUsedPrunedAt = now;
      for (const [k, at] of this.lastUsedWritten) if (now - at >= LAST_USED_INTERVAL_MS) this.lastUsedWritten.delete(k);
    }
    this.lastUsedWritten.set(keyId, now);
    // a write that fails does not fail the request it records: the next use tries again
    await this.lastUsedWrites.submit([{ keyId, at: now }]).catch(() => { this.lastUsedWritten.delete(keyId); });
  }

  async get(id: string): Promise<(Principal & { createdAt: Date }) | undefined> {
    const row = await this.db('principals').where({ id }).first();
    return row && { id: row.id, kind: row.kind, name: row.name, createdAt: row.created_at };
  }

  async getKey(id: string): Promise<ApiKey | undefined> {
    if (!KEY_ID.test(id)) return undefined;
    const row = await this.db('api_keys').where({ id }).first();
    return row && keyOf(row);
  }

  /** A principal's keys, newest first, a page at a time. */
  listKeys(principalId: string, req: PageRequest): Promise<Page<ApiKey>> {
    return pageOf(() => this.db('api_keys').where({ principal_id: principalId }), req, keyOf, { validId: (id) => KEY_ID.test(id) });
  }

  /** A further API key, within MAX_ACTIVE_KEYS_PER_PRINCIPAL. */
  issueKey(principalId: string, mode: KeyMode = 'full'): Promise<{ key: ApiKey; apiKey: string }> {
    return this.keyChange(principalId, (trx) => this.insertWithinLimit(trx, principalId, mode));
  }

  /**
   * A new key in place of this one (same principal, same mode); the old one goes on working for overlapSeconds (0:
   * it stops now). Revoked, expired and already rolled keys are refused.
   */
  roll(key: ApiKey, overlapSeconds: number): Promise<{ key: ApiKey; apiKey: string }> {
    return this.keyChange(key.principalId, async (trx) => {
      const row = keyOf(await trx('api_keys').where({ id: key.id }).first());
      if (row.revokedAt) throw new StoreRefusal('api_key_revoked', 'A revoked key cannot be rolled');
      if (row.expiresAt) throw new StoreRefusal('api_key_rolled', 'This key has been rolled already; roll its successor');
      await trx('api_keys').where({ id: key.id }).update({ expires_at: new Date(this.clock() + overlapSeconds * 1000) });
      return this.insertWithinLimit(trx, key.principalId, row.mode);
    });
  }

  /**
   * Revokes a key now (a revoked key stays revoked: its time is kept). With keepOneFull, a key whose revocation would
   * leave its principal without a full, unexpiring key is refused (last_api_key).
   */
  revoke(key: ApiKey, o: { keepOneFull: boolean }): Promise<ApiKey> {
    return this.keyChange(key.principalId, async (trx) => {
      const row = keyOf(await trx('api_keys').where({ id: key.id }).first());
      if (row.revokedAt) return row;
      if (o.keepOneFull && row.mode === 'full' && !row.expiresAt) {
        const other = await trx('api_keys').where({ principal_id: row.principalId, mode: 'full' }).whereNot({ id: key.id })
          .whereNull('revoked_at').whereNull('expires_at').first('id');
        if (!other) {
          throw new StoreRefusal('last_api_key', 'This is your last full API key: create or roll a key before revoking it');
        }
      }
      const [updated] = await trx('api_keys').where({ id: key.id }).update({ revoked_at: trx.fn.now() }).returning('*');
      return keyOf(updated);
    });
  }

  /** One key change at a time per principal. */
  private keyChange<T>(principalId: string, change: (trx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`api-keys\n${principalId}`]);
      return change(trx);
    });
  }

  private async insertWithinLimit(trx: Db, principalId: string, mode: KeyMode): Promise<{ key: ApiKey; apiKey: string }> {
    const row = await trx('api_keys').where({ principal_id: principalId }).whereNull('revoked_at')
      .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date(this.clock()))).count({ n: '*' }).first();
    if (Number(row?.n ?? 0) >= MAX_ACTIVE_KEYS_PER_PRINCIPAL) {
      throw new StoreRefusal('too_many_api_keys', `A principal may hold at most ${MAX_ACTIVE_KEYS_PER_PRINCIPAL} working API keys`, 'principalId');
    }
    return insertKey(trx, principalId, mode);
  }
}
