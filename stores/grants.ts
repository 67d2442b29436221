// What access grants need of PostgreSQL: the signing secret shared by every API process (made at first use), and
// the single redemption of each grant.
import { randomBytes } from 'node:crypto';
import type { Db } from '../ledger/db';

export class GrantStore {
  constructor(private readonly db: Db) {}

  /** The secret of a signing key, made on first use (concurrent first uses agree on one). */
  async secret(keyId: string): Promise<Buffer> {
    await this.db('signing_keys').insert({ id: keyId, secret: randomBytes(32) }).onConflict('id').ignore();
    return (await this.db('signing_keys').where({ id: keyId }).first('secret')).secret as Buffer;
  }

  /** Redeems the payment's grant: when, or undefined if it was redeemed before. */
  async redeem(paymentId: string): Promise<Date | undefined> {
    const { rows } = await this.db.raw('INSERT INTO grant_redemptions (payment_id) VALUES (?) ON CONFLICT DO NOTHING RETURNING redeemed_at', [paymentId]);
    return rows[0]?.redeemed_at as Date | undefined;
  }
}
