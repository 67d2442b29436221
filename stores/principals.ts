// Principals (merchants, buyer apps, buyers, operators) and their API keys. A key is shown once, when it is
// made; only its SHA-256 is stored. Key format: pb_<key id>_<secret>.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Coalescer } from '../ledger/coalescer';
import type { Db, Statements } from '../ledger/db';
import { StoreRefusal } from './refusal';

export type PrincipalKind = 'merchant' | 'buyer_app' | 'operator' | 'buyer';

export interface Principal {
  id: string;
  kind: PrincipalKind;
  name: string;
}

const PREFIX: Record<PrincipalKind, string> = { merchant: 'mer', buyer_app: 'app', operator: 'op', buyer: 'buy' };
/** Keys per principal that are not revoked. */
export const MAX_ACTIVE_KEYS_PER_PRINCIPAL = 10;

const token = (bytes: number) => randomBytes(bytes).toString('base64url');
export const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** A new principal's id: its kind's prefix and 16 random characters. */
export const newPrincipalId = (kind: PrincipalKind) => `${PREFIX[kind]}_${token(12).replace(/[-_]/g, 'x')}`;

/** A new key and its id (the key is shown once; only its SHA-256 is stored). */
export function newApiKey(): { keyId: string; apiKey: string } {
  const keyId = token(9).replace(/[-_]/g, 'x');
  return { keyId, apiKey: `pb_${keyId}_${token(24)}` };
}

async function insertKey(db: Db, principalId: string): Promise<string> {
  const { keyId, apiKey } = newApiKey();
  await db('api_keys').insert({ id: keyId, principal_id: principalId, secret_sha256: sha256(apiKey) });
  return apiKey;
}

/**
 * Writes a principal and its first key inside the caller's transaction, which writes the rows that belong with
 * it (a merchant's, a buyer's, a seller's).
 */
export async function insertPrincipal(trx: Db, kind: PrincipalKind, name: string): Promise<{ principal: Principal; apiKey: string }> {
  const id = newPrincipalId(kind);
  await trx('principals').insert({ id, kind, name });
  return { principal: { id, kind, name }, apiKey: await insertKey(trx, id) };
}

interface KeyRow { key_id: string; id: string; kind: PrincipalKind; name: string; secret_sha256: Buffer }

export class PrincipalStore {
  /** Every request looks its key up: concurrent requests' lookups share one prepared statement. */
  private readonly keyLookup: Coalescer<string, KeyRow | undefined>;

  constructor(private readonly db: Db, statements: Statements) {
    this.keyLookup = new Coalescer(async (keyIds) => {
      const rows = await statements.query<KeyRow>('principals-for-keys', `
        SELECT k.id AS key_id, p.id, p.kind, p.name, k.secret_sha256 FROM api_keys k JOIN principals p ON p.id = k.principal_id
        WHERE k.id = ANY($1::text[]) AND k.revoked_at IS NULL`, [keyIds]);
      const byId = new Map(rows.map((r) => [r.key_id, r]));
      return keyIds.map((k) => byId.get(k));
    }, { maxInFlight: 4, maxItems: 500 });
  }

  /** An operator or a buyer app, with its first API key. */
  create(kind: 'operator' | 'buyer_app', name: string): Promise<{ principal: Principal; apiKey: string }> {
    return this.db.transaction((trx) => insertPrincipal(trx, kind, name));
  }

  /** The principal an API key belongs to, or undefined for an unknown, malformed or revoked key. */
  async forKey(apiKey: string): Promise<Principal | undefined> {
    const m = /^pb_([A-Za-z0-9]{12})_[A-Za-z0-9_-]{32}$/.exec(apiKey);
    if (!m) return undefined;
    const [row] = await this.keyLookup.submit([m[1]]);
    if (!row || !timingSafeEqual(row.secret_sha256, sha256(apiKey))) return undefined;
    return { id: row.id, kind: row.kind, name: row.name };
  }

  async get(id: string): Promise<(Principal & { createdAt: Date }) | undefined> {
    const row = await this.db('principals').where({ id }).first();
    return row && { id: row.id, kind: row.kind, name: row.name, createdAt: row.created_at };
  }

  /** A further API key, within MAX_ACTIVE_KEYS_PER_PRINCIPAL (one key operation at a time per principal). */
  issueKey(principalId: string): Promise<string> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`api-keys\n${principalId}`]);
      const row = await trx('api_keys').where({ principal_id: principalId }).whereNull('revoked_at').count({ n: '*' }).first();
      if (Number(row?.n ?? 0) >= MAX_ACTIVE_KEYS_PER_PRINCIPAL) {
        throw new StoreRefusal('too_many_api_keys', `A principal may hold at most ${MAX_ACTIVE_KEYS_PER_PRINCIPAL} active API keys`, 'principalId');
      }
      return insertKey(trx, principalId);
    });
  }
}
