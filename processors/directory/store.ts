// The gateway directory's state in PostgreSQL (schema directory): gateway entries, identifiers bound to gateways,
// and the nonces of signed requests. The routes (processors/directory/server.ts) call these named functions; the
// SQL lives here. Each function is one short statement or transaction.
import type { Db } from '../../ledger/db';

export type GatewayStatus = 'pending' | 'approved' | 'revoked';

/** A gateway as the directory shows it. */
export interface DirectoryEntry {
  gatewayId: string;
  serviceName: string;
  endpoint: string;
  certificate: string;
  fingerprint256: string;
  settlementAccount: string;
  status: GatewayStatus;
  /** The certificate's end of validity (ISO 8601). */
  notAfter: string;
}

/** What a lookup answers of the gateway holding an identifier (an approved one). */
export type PeerGateway = Omit<DirectoryEntry, 'status' | 'notAfter'>;

export interface IdentifierBinding {
  identifier: string;
  gatewayId: string;
  createdAt: string;
}

export class DirectoryError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'DirectoryError';
  }
}

const T = { gateways: 'directory.gateways', identifiers: 'directory.identifiers', nonces: 'directory.nonces' } as const;

interface GatewayRow {
  gateway_id: string; service_name: string; endpoint: string; certificate: string; fingerprint256: string;
  settlement_account: string; status: GatewayStatus; not_after: Date;
}

const toEntry = (r: GatewayRow): DirectoryEntry => ({
  gatewayId: r.gateway_id, serviceName: r.service_name, endpoint: r.endpoint, certificate: r.certificate,
  fingerprint256: r.fingerprint256, settlementAccount: r.settlement_account, status: r.status, notAfter: r.not_after.toISOString(),
});

export const peerOf = (e: DirectoryEntry): PeerGateway => ({
  gatewayId: e.gatewayId, serviceName: e.serviceName, endpoint: e.endpoint, certificate: e.certificate,
  fingerprint256: e.fingerprint256, settlementAccount: e.settlementAccount,
});

/** A gateway's registration: its entry's fields, the certificate's end of validity as a date. */
export type Registration = PeerGateway & { notAfter: Date };

export type RegisterOutcome =
  | { outcome: 'created' | 'unchanged'; entry: DirectoryEntry }
  | { outcome: 'revoked' | 'differs'; entry: DirectoryEntry };

/**
 * Registers a gateway as pending; the same registration again is unchanged. An entry with other details is left
 * as it is ('differs': a certificate or endpoint changes by renewal), and a revoked id stays revoked.
 */
export async function registerGateway(db: Db, r: Registration): Promise<RegisterOutcome> {
  const inserted = await db(T.gateways).insert({
    gateway_id: r.gatewayId, service_name: r.serviceName, endpoint: r.endpoint, certificate: r.certificate,
    fingerprint256: r.fingerprint256, settlement_account: r.settlementAccount, not_after: r.notAfter,
  }).onConflict('gateway_id').ignore().returning('*') as GatewayRow[];
  if (inserted.length === 1) return { outcome: 'created', entry: toEntry(inserted[0]) };
  const existing = await gatewayEntry(db, r.gatewayId);
  if (!existing) throw new Error(`directory: gateway ${r.gatewayId} neither inserted nor found`);
  if (existing.status === 'revoked') return { outcome: 'revoked', entry: existing };
  const same = existing.serviceName === r.serviceName && existing.endpoint === r.endpoint
    && existing.fingerprint256 === r.fingerprint256 && existing.settlementAccount === r.settlementAccount;
  return { outcome: same ? 'unchanged' : 'differs', entry: existing };
}

/** Replaces a gateway's certificate (and endpoint when given); its status stays. Undefined when unknown or revoked. */
export async function renewGateway(db: Db, gatewayId: string,
  r: { certificate: string; fingerprint256: string; notAfter: Date; endpoint?: string }): Promise<DirectoryEntry | undefined> {
  const changes: Record<string, unknown> = { certificate: r.certificate, fingerprint256: r.fingerprint256, not_after: r.notAfter, updated_at: db.fn.now() };
  if (r.endpoint !== undefined) changes.endpoint = r.endpoint;
  const rows = await db(T.gateways).where({ gateway_id: gatewayId }).whereNot({ status: 'revoked' }).update(changes).returning('*') as GatewayRow[];
  return rows.length === 1 ? toEntry(rows[0]) : undefined;
}

export async function gatewayEntry(db: Db, gatewayId: string): Promise<DirectoryEntry | undefined> {
  const row = await db(T.gateways).where({ gateway_id: gatewayId }).first() as GatewayRow | undefined;
  return row && toEntry(row);
}

/** Every gateway, oldest registration first. */
export async function listGateways(db: Db): Promise<DirectoryEntry[]> {
  return (await db(T.gateways).orderBy([{ column: 'created_at' }, { column: 'gateway_id' }]) as GatewayRow[]).map(toEntry);
}

/** Approves a pending gateway (an approved one stays so). Undefined when unknown; a revoked one is answered as is. */
export async function approveGateway(db: Db, gatewayId: string): Promise<DirectoryEntry | undefined> {
  const rows = await db(T.gateways).where({ gateway_id: gatewayId, status: 'pending' })
    .update({ status: 'approved', approved_at: db.fn.now(), updated_at: db.fn.now() }).returning('*') as GatewayRow[];
  return rows.length === 1 ? toEntry(rows[0]) : gatewayEntry(db, gatewayId);
}

/** Revokes a gateway for good (again: unchanged). Undefined when unknown. */
export async function revokeGateway(db: Db, gatewayId: string): Promise<DirectoryEntry | undefined> {
  const rows = await db(T.gateways).where({ gateway_id: gatewayId }).whereNot({ status: 'revoked' })
    .update({ status: 'revoked', revoked_at: db.fn.now(), updated_at: db.fn.now() }).returning('*') as GatewayRow[];
  return rows.length === 1 ? toEntry(rows[0]) : gatewayEntry(db, gatewayId);
}

interface IdentifierRow { identifier: string; gateway_id: string; created_at: Date }
const toBinding = (r: IdentifierRow): IdentifierBinding => ({ identifier: r.identifier, gatewayId: r.gateway_id, createdAt: r.created_at.toISOString() });

/** Binds an identifier to a gateway: created, already this gateway's, or held by another (taken). */
export async function bindIdentifier(db: Db, identifier: string, gatewayId: string):
  Promise<{ outcome: 'created' | 'unchanged' | 'taken'; binding: IdentifierBinding }> {
  const inserted = await db(T.identifiers).insert({ identifier, gateway_id: gatewayId }).onConflict('identifier').ignore().returning('*') as IdentifierRow[];
  if (inserted.length === 1) return { outcome: 'created', binding: toBinding(inserted[0]) };
  const row = await db(T.identifiers).where({ identifier }).first() as IdentifierRow | undefined;
  // (unbound between the two statements: bind again)
  if (!row) return bindIdentifier(db, identifier, gatewayId);
  return { outcome: row.gateway_id === gatewayId ? 'unchanged' : 'taken', binding: toBinding(row) };
}

/** Removes an identifier's binding if gatewayId holds it. */
export async function unbindIdentifier(db: Db, identifier: string, gatewayId: string): Promise<'deleted' | 'unknown' | 'not_yours'> {
  const deleted = await db(T.identifiers).where({ identifier, gateway_id: gatewayId }).delete();
  if (deleted === 1) return 'deleted';
  return (await db(T.identifiers).where({ identifier }).first('identifier')) ? 'not_yours' : 'unknown';
}

/** The approved gateway holding an identifier, or undefined (unbound, or its gateway pending or revoked). */
export async function lookupIdentifier(db: Db, identifier: string): Promise<DirectoryEntry | undefined> {
  const row = await db(`${T.identifiers} as i`).join(`${T.gateways} as g`, 'g.gateway_id', 'i.gateway_id')
    .where({ 'i.identifier': identifier, 'g.status': 'approved' }).first('g.*') as GatewayRow | undefined;
  return row && toEntry(row);
}

/** Records a signed request's nonce: true the first time, false when the gateway sent it before (a replay). */
export async function rememberNonce(db: Db, gatewayId: string, nonce: string): Promise<boolean> {
  const rows = await db(T.nonces).insert({ gateway_id: gatewayId, nonce }).onConflict(['gateway_id', 'nonce']).ignore().returning('nonce');
  return rows.length === 1;
}

/** Deletes nonces seen more than olderThanMs ago; answers how many. */
export async function purgeNonces(db: Db, olderThanMs: number): Promise<number> {
  return db(T.nonces).where('seen_at', '<', db.raw(`now() - make_interval(secs => ?)`, [olderThanMs / 1000])).delete();
}
