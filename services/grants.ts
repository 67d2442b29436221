// Access grants: what a recorded micro-payment hands the buyer for the seller's site. A grant is signed
// (HMAC-SHA256 with a secret kept in PostgreSQL, shared by every API process), expires GRANT_REDEEM_SECONDS
// after the purchase, and is redeemed once (POST /v1/grants/verify). The same payment always yields the same
// grant, so a replayed recording returns the grant of the first.
import { hash, timingSafeEqual } from 'node:crypto';
import { GRANT_REDEEM_SECONDS } from '../domain/micropayments';
import type { Micropayments, RecordedPayment } from '../ledger/micropayments';
import type { GrantStore } from '../stores/grants';

export interface GrantClaims {
  /** payment number (without mp_) */
  p: string;
  /** seller and item */
  s: string;
  i: string;
  /** redeem before (unix seconds) */
  e: number;
  /** access the purchase gives, until (unix seconds) */
  a: number;
}

const PREFIX = 'grt_';

/**
 * ISO 8601 of an instant (epoch milliseconds), remembered: a batch's answers share a handful of instants (one
 * purchase time per statement, one access length per item), and formatting a date is not cheap.
 */
const isoCache = new Map<number, string>();
export function isoOf(ms: number): string {
  let s = isoCache.get(ms);
  if (s === undefined) {
    if (isoCache.size >= 256) isoCache.clear();
    s = new Date(ms).toISOString();
    isoCache.set(ms, s);
  }
  return s;
}
const KEY_ID = 'grant-v1';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The longest grant open() looks at (POST /v1/grants/verify takes no longer), and so the longest body it signs. */
export const MAX_GRANT_LENGTH = 1000;
const MAX_BODY = MAX_GRANT_LENGTH;

export class GrantSigner {
  /**
   * HMAC (RFC 2104) as two one-shot hashes over buffers that hold the key's pads: the inner pad followed by room
   * for a body, the outer pad followed by the inner digest. Written in place per signature (one thread).
   */
  private readonly inner = Buffer.alloc(64 + MAX_BODY);
  private readonly outer = Buffer.alloc(64 + 32);
  /** Where a grant's claims are written as JSON (at most MAX_BODY characters) before they are encoded. */
  private readonly claims = Buffer.alloc(3 * MAX_BODY);

  private constructor(secret: Buffer) {
    if (secret.length > 64) throw new Error('a grant secret is at most 64 bytes (one SHA-256 block)');
    for (let i = 0; i < 64; i++) {
      this.inner[i] = (secret[i] ?? 0) ^ 0x36;
      this.outer[i] = (secret[i] ?? 0) ^ 0x5c;
    }
  }

  /** Loads the signing secret, made on first use (concurrent first uses agree on one). */
  static async load(store: GrantStore): Promise<GrantSigner> {
    return new GrantSigner(await store.secret(KEY_ID));
  }

  /** The grant of a payment (token), and when it must be redeemed by and the access ends (ISO 8601). */
  issue(p: { id: string; sellerId: string; itemId: string; createdAt: Date; grantSeconds: number }): { token: string; expiresAt: string; accessUntil: string } {
    const created = Math.floor(p.createdAt.getTime() / 1000);
    const claims: GrantClaims = { p: p.id, s: p.sellerId, i: p.itemId, e: created + GRANT_REDEEM_SECONDS, a: created + p.grantSeconds };
    const json = JSON.stringify(claims);
    if (json.length > MAX_BODY) throw new Error(`grant claims of ${json.length} characters`); // ids are at most 100
    const body = this.claims.toString('base64url', 0, this.claims.write(json));
    return { token: `${PREFIX}${body}.${this.sign(body)}`, expiresAt: isoOf(claims.e * 1000), accessUntil: isoOf(claims.a * 1000) };
  }

  /** The claims of a well-formed grant with a valid signature, else undefined (expiry is the caller's). */
  open(grant: string): GrantClaims | undefined {
    if (typeof grant !== 'string' || grant.length > MAX_GRANT_LENGTH || !grant.startsWith(PREFIX)) return undefined;
    const [body, sig, ...rest] = grant.slice(PREFIX.length).split('.');
    if (!body || !sig || rest.length > 0 || !BASE64URL.test(body)) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as GrantClaims;
      if (typeof c.p !== 'string' || typeof c.s !== 'string' || typeof c.i !== 'string' ||
        !Number.isInteger(c.e) || !Number.isInteger(c.a)) return undefined;
      return c;
    } catch {
      return undefined;
    }
  }

  /**
   * HMAC-SHA256 of a base64url body, base64url: the same as createHmac's (tested), at about two thirds of its
   * cost per call, which counts at tens of thousands of grants a second.
   */
  private sign(body: string): string {
    if (body.length > MAX_BODY) throw new Error(`a grant body of ${body.length} characters`);
    const n = this.inner.write(body, 64, 'latin1'); // base64url: one byte per character
    hash('sha256', this.inner.subarray(0, 64 + n), 'buffer').copy(this.outer, 64);
    return hash('sha256', this.outer, 'base64url');
  }
}

export type Redemption =
  | { ok: true; payment: RecordedPayment; accessUntil: Date; redeemedAt: Date }
  | { ok: false; code: 'grant_invalid' | 'grant_expired' | 'grant_revoked' | 'grant_already_used'; message: string };

/**
 * The seller's site redeems a grant once before showing the content. Refused: forged or malformed (grant_invalid),
 * another seller's (grant_invalid), expired (grant_expired), refunded (grant_revoked), redeemed before
 * (grant_already_used). An operator may redeem any seller's grant.
 */
export async function redeemGrant(deps: { signer: GrantSigner; grants: GrantStore; micropayments: Micropayments },
  who: { kind: string; id: string }, grant: string, nowMs: number): Promise<Redemption> {
  const claims = deps.signer.open(grant);
  const invalid = { ok: false, code: 'grant_invalid', message: 'The grant is not valid' } as const;
  if (!claims || (who.kind !== 'operator' && claims.s !== who.id)) return invalid;
  if (nowMs >= claims.e * 1000) return { ok: false, code: 'grant_expired', message: 'The grant has expired' };
  const p = await deps.micropayments.get(claims.p);
  if (!p || p.sellerId !== claims.s || p.itemId !== claims.i) return invalid;
  if (p.refundedAt) return { ok: false, code: 'grant_revoked', message: 'The payment was refunded' };
  const redeemedAt = await deps.grants.redeem(p.id);
  if (!redeemedAt) return { ok: false, code: 'grant_already_used', message: 'The grant was redeemed before' };
  return { ok: true, payment: p, accessUntil: new Date(claims.a * 1000), redeemedAt };
}
