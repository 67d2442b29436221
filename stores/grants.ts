// What access grants need of PostgreSQL: the signing secret shared by every API process (made at first use), and
// the single redemption of each grant. signingSecret keeps the other secrets of the broker the same way.
import { randomBytes } from 'node:crypto';
import type { Db } from '../ledger/db';

export class GrantStore {
  constructor(private readonly db: Db) {}

  /** The secret of a signing key, made on first use (concurrent first uses agree on one). */
  secret(keyId: string): Promise<Buffer> {
    return signingSecret(this.db, keyId);
  }

  /** Redeems the payment's grant: when, or undefined if it was redeemed before. */
  async redeem(paymentId: string): Promise<Date | undefined> {
    const { rows } = await this.db.raw('INSERT INTO grant_redemptions (payment_id) VALUES (?) ON CONFLICT DO NOTHING RETURNING redeemed_at', [paymentId]);
    return rows[0]?.redeemed_at as Date | undefined;
  }
}

/** 32 random bytes kept in PostgreSQL under keyId, made on first use (concurrent first uses agree on one). */
export async function signingSecret(db: Db, keyId: string): Promise<Buffer> {
  await db('signing_keys').insert({ id: keyId, secret: randomBytes(32) }).onConflict('id').ignore();
  return (await db('signing_keys').where({ id: keyId }).first('secret')).secret as Buffer;
}
