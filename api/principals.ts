// Principals (merchants, buyer apps, operators) and their API keys. A key is shown once, when it is made;
// only its SHA-256 is stored. Key format: pb_<key id>_<secret>.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Coalescer } from '../ledger/coalescer';
import { type Db, prepared } from '../ledger/db';

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

export function newPrincipalId(kind: PrincipalKind): string {
  return `${PREFIX[kind]}_${token(12).replace(/[-_]/g, 'x')}`;
}

/**
 * Makes the principal and its first key; a merchant also gets its settings row (columns of `merchants`).
 * `more` writes the rows that belong with it (a buyer's, a seller's) in the same transaction.
 */
export async function createPrincipal(db: Db, kind: PrincipalKind, name: string,
  merchantColumns: Record<string, unknown> = {}, more?: (trx: Db, id: string) => Promise<void>): Promise<{ principal: Principal; apiKey: string }> {
  const id = newPrincipalId(kind);
  return db.transaction(async (trx) => {
    await trx('principals').insert({ id, kind, name });
    if (kind === 'merchant') await trx('merchants').insert({ id, name, ...merchantColumns });
    await more?.(trx, id);
    const apiKey = await issueKey(trx, id);
    return { principal: { id, kind, name }, apiKey };
  });
}

/** A new key and its id (the key is shown once; only its SHA-256 is stored). */
export function newApiKey(): { keyId: string; apiKey: string } {
  const keyId = token(9).replace(/[-_]/g, 'x');
  return { keyId, apiKey: `pb_${keyId}_${token(24)}` };
}

export async function issueKey(db: Db, principalId: string): Promise<string> {
  const { keyId, apiKey } = newApiKey();
  await db('api_keys').insert({ id: keyId, principal_id: principalId, secret_sha256: sha256(apiKey) });
  return apiKey;
}

export async function activeKeyCount(db: Db, principalId: string): Promise<number> {
  const row = await db('api_keys').where({ principal_id: principalId }).whereNull('revoked_at').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

interface KeyRow { key_id: string; id: string; kind: PrincipalKind; name: string; secret_sha256: Buffer }

/** Every request looks its key up: concurrent requests' lookups share one prepared statement. */
const keyLookups = new WeakMap<Db, Coalescer<string, KeyRow | undefined>>();
function keyLookup(db: Db): Coalescer<string, KeyRow | undefined> {
  let c = keyLookups.get(db);
  if (!c) {
    c = new Coalescer(async (keyIds) => {
      const rows = await prepared<KeyRow>(db, 'principals-for-keys', `
        SELECT k.id AS key_id, p.id, p.kind, p.name, k.secret_sha256 FROM api_keys k JOIN principals p ON p.id = k.principal_id
        WHERE k.id = ANY($1::text[]) AND k.revoked_at IS NULL`, [keyIds]);
      const byId = new Map(rows.map((r) => [r.key_id, r]));
      return keyIds.map((k) => byId.get(k));
    }, { maxInFlight: 4, maxItems: 500 });
    keyLookups.set(db, c);
  }
  return c;
}

/** The principal an API key belongs to, or undefined for an unknown, malformed or revoked key. */
export async function principalForKey(db: Db, apiKey: string): Promise<Principal | undefined> {
  const m = /^pb_([A-Za-z0-9]{12})_[A-Za-z0-9_-]{32}$/.exec(apiKey);
  if (!m) return undefined;
  const [row] = await keyLookup(db).submit([m[1]]);
  if (!row || !timingSafeEqual(row.secret_sha256, sha256(apiKey))) return undefined;
  return { id: row.id, kind: row.kind, name: row.name };
}

export async function getPrincipal(db: Db, id: string): Promise<(Principal & { createdAt: Date }) | undefined> {
  const row = await db('principals').where({ id }).first();
  return row && { id: row.id, kind: row.kind, name: row.name, createdAt: row.created_at };
}
