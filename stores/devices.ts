// Customers' devices and the authentication requests sent to them, in PostgreSQL. A registration code is kept as its
// hash and used once (under a row lock); a device is a public key. An order has at most one authentication request;
// the row decides how it ends: a device's answer is taken only while it is pending and before its expiry, and the
// order's deadline (or a merchant's cancel) closes only a request still pending (close returns what won).
import { createHash, randomBytes } from 'node:crypto';
import type { AuthenticationState } from '../domain/order';
import { type AuthenticationRequest, type DeviceAlgorithm, MAX_DEVICES_PER_CUSTOMER, type SignedAuthenticationRequest } from '../domain/stepUp';
import type { Db } from '../ledger/db';
import { signingSecret } from './grants';

export interface DeviceRow {
  id: string;
  merchantId: string;
  customerId: string;
  algorithm: DeviceAlgorithm;
  publicKey: string;
  name: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

/** How an authentication request stands in the database. */
export type RequestState = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

export interface AuthenticationRow {
  id: string;
  orderId: string;
  merchantId: string;
  customerId: string;
  deviceIds: string[];
  /** The request as each device is sent it, less the device id. */
  request: Omit<AuthenticationRequest, 'deviceId'>;
  serverSignatures: Record<string, string>;
  state: RequestState;
  expiresAt: Date;
  answeredBy: string | null;
  decidedAt: Date | null;
}

const deviceOf = (r: Record<string, any>): DeviceRow => ({
  id: r.id, merchantId: r.merchant_id, customerId: r.customer_id, algorithm: r.algorithm, publicKey: r.public_key, name: r.name,
  createdAt: r.created_at, revokedAt: r.revoked_at,
});

const authenticationOf = (r: Record<string, any>): AuthenticationRow => ({
  id: r.id, orderId: r.order_id, merchantId: r.merchant_id, customerId: r.customer_id, deviceIds: r.device_ids, request: r.request,
  serverSignatures: r.server_signatures, state: r.state, expiresAt: r.expires_at, answeredBy: r.answered_by, decidedAt: r.decided_at,
});

/** The request as the device `deviceId` is sent it. */
export function requestFor(a: AuthenticationRow, deviceId: string): SignedAuthenticationRequest {
  return { ...a.request, deviceId, serverSignature: a.serverSignatures[deviceId] };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** Why a registration code registers no device. */
export type RegistrationRefusal = 'registration_code_invalid' | 'registration_code_used' | 'registration_code_expired' | 'too_many_devices';

export class DeviceStore {
  constructor(private readonly db: Db) {}

  /** The seed of the authenticating server's signing key (made on first use, shared by every process). */
  serverSeed(): Promise<Buffer> {
    return signingSecret(this.db, 'authn-server-v1');
  }

  /** A registration code for the merchant's customer, kept as its hash; valid once, for ttlMs. */
  async createRegistration(merchantId: string, customerId: string, code: string, ttlMs: number): Promise<{ id: string; expiresAt: Date }> {
    const [row] = await this.db('device_registrations').insert({
      id: newId('dreg'), merchant_id: merchantId, customer_id: customerId, code_sha256: sha256(code),
      expires_at: this.db.raw('now() + make_interval(secs => ?)', [ttlMs / 1000]),
    }).returning(['id', 'expires_at']);
    return { id: row.id, expiresAt: row.expires_at };
  }

  /**
   * Registers the device the code was issued for (one transaction, the code's row locked): the code is used up, and the
   * customer's devices stay within MAX_DEVICES_PER_CUSTOMER. Returns the device, or why not.
   */
  async register(code: string, d: { algorithm: DeviceAlgorithm; publicKey: string; name: string | null }): Promise<DeviceRow | RegistrationRefusal> {
    return this.db.transaction(async (trx) => {
      const reg = await trx('device_registrations').where({ code_sha256: sha256(code) }).forUpdate()
        .first('id', 'merchant_id', 'customer_id', 'used_at', trx.raw('expires_at <= now() AS expired'));
      if (!reg) return 'registration_code_invalid';
      if (reg.used_at) return 'registration_code_used';
      if (reg.expired) return 'registration_code_expired';
      const [{ n }] = await trx('devices').where({ merchant_id: reg.merchant_id, customer_id: reg.customer_id }).whereNull('revoked_at').count({ n: '*' });
      if (Number(n) >= MAX_DEVICES_PER_CUSTOMER) return 'too_many_devices';
      const [row] = await trx('devices').insert({ id: newId('dev'), merchant_id: reg.merchant_id, customer_id: reg.customer_id,
        algorithm: d.algorithm, public_key: d.publicKey, name: d.name }).returning('*');
      await trx('device_registrations').where({ id: reg.id }).update({ used_at: trx.fn.now(), device_id: row.id });
      return deviceOf(row);
    });
  }

  async device(id: string): Promise<DeviceRow | undefined> {
    const row = await this.db('devices').where({ id }).first();
    return row && deviceOf(row);
  }

  /** The customer's devices (not revoked), oldest first. */
  async devicesOf(merchantId: string, customerId: string): Promise<DeviceRow[]> {
    const rows = await this.db('devices').where({ merchant_id: merchantId, customer_id: customerId }).whereNull('revoked_at').orderBy('created_at');
    return rows.map(deviceOf);
  }

  /** Revokes the device: it is sent no more requests, and its answers are refused. False when it was not active. */
  async revoke(id: string): Promise<boolean> {
    return (await this.db('devices').where({ id }).whereNull('revoked_at').update({ revoked_at: this.db.fn.now() })) > 0;
  }

  /** The order's authentication request, written unless it exists: a repeat (a retried activity) returns the first. */
  async openAuthentication(a: Omit<AuthenticationRow, 'state' | 'answeredBy' | 'decidedAt'>): Promise<AuthenticationRow> {
    const [row] = await this.db('authentications').insert({
      id: a.id, order_id: a.orderId, merchant_id: a.merchantId, customer_id: a.customerId, device_ids: a.deviceIds,
      request: JSON.stringify(a.request), server_signatures: JSON.stringify(a.serverSignatures), expires_at: a.expiresAt,
    }).onConflict('order_id').ignore().returning('*');
    return row ? authenticationOf(row) : (await this.authenticationOfOrder(a.orderId))!;
  }

  async authentication(id: string): Promise<AuthenticationRow | undefined> {
    const row = await this.db('authentications').where({ id }).first();
    return row && authenticationOf(row);
  }

  async authenticationOfOrder(orderId: string): Promise<AuthenticationRow | undefined> {
    const row = await this.db('authentications').where({ order_id: orderId }).first();
    return row && authenticationOf(row);
  }

  /** Requests waiting for the device's answer and not expired, oldest first (at most `limit`). */
  async pendingFor(deviceId: string, limit: number): Promise<AuthenticationRow[]> {
    const rows = await this.db('authentications').where({ state: 'pending' }).whereRaw('device_ids @> ARRAY[?]::text[]', [deviceId])
      .where('expires_at', '>', this.db.fn.now()).orderBy('created_at').limit(limit);
    return rows.map(authenticationOf);
  }

  /**
   * Records the device's answer if the request is still pending and not expired: the new state, or undefined when
   * something ended it first (the caller reads the row to say what).
   */
  async answer(id: string, deviceId: string, decision: 'approved' | 'rejected'): Promise<RequestState | undefined> {
    const [row] = await this.db('authentications').where({ id, state: 'pending' }).where('expires_at', '>', this.db.fn.now())
      .update({ state: decision, answered_by: deviceId, decided_at: this.db.fn.now() }).returning('state');
    return row?.state;
  }

  /** Ends the order's request as `outcome` if it is still pending; returns how it ended (an answer may have come first). */
  async close(orderId: string, outcome: 'expired' | 'cancelled'): Promise<Exclude<AuthenticationState, 'starting' | 'pending' | 'no_device'>> {
    const [row] = await this.db('authentications').where({ order_id: orderId, state: 'pending' })
      .update({ state: outcome, decided_at: this.db.fn.now() }).returning('state');
    if (row) return row.state;
    const found = await this.authenticationOfOrder(orderId);
    return (found?.state ?? outcome) as Exclude<AuthenticationState, 'starting' | 'pending' | 'no_device'>;
  }
}
