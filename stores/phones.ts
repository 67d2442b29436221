// Customers' phone numbers are personal data: kept here encrypted (AES-256-GCM), found by a keyed hash (HMAC-SHA256,
// so the table cannot be searched by number without the key), and known everywhere else by a token (orders, workflow
// histories, logs) or masked (the API). Both keys are made on first use and kept in signing_keys.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { maskPhone } from '../domain/confirmation';
import type { Db } from '../ledger/db';
import { signingSecret } from './grants';

const ENCRYPTION_KEY = 'phone-encryption-v1';
const LOOKUP_KEY = 'phone-lookup-v1';

export interface PhoneRef {
  token: string;
  masked: string;
}

export class PhoneStore {
  private keys?: Promise<{ encryption: Buffer; lookup: Buffer }>;

  constructor(private readonly db: Db) {}

  /** The number's token (the same number always has the same one). */
  async tokenize(e164: string): Promise<PhoneRef> {
    const { encryption, lookup } = await this.secrets();
    const hash = createHmac('sha256', lookup).update(e164).digest();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', encryption, iv);
    const data = Buffer.concat([cipher.update(e164, 'utf8'), cipher.final()]);
    const row = { token: `ph_${randomBytes(12).toString('hex')}`, lookup: hash, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), data]),
      masked: maskPhone(e164) };
    await this.db('phone_numbers').insert(row).onConflict('lookup').ignore();
    const found = await this.db('phone_numbers').where({ lookup: hash }).first('token', 'masked');
    return { token: found.token, masked: found.masked };
  }

  /** The token of a number seen before, or undefined. */
  async find(e164: string): Promise<string | undefined> {
    const { lookup } = await this.secrets();
    const row = await this.db('phone_numbers').where({ lookup: createHmac('sha256', lookup).update(e164).digest() }).first('token');
    return row?.token;
  }

  /** The number behind a token (to send a message to it). */
  async reveal(token: string): Promise<string> {
    const row = await this.db('phone_numbers').where({ token }).first('ciphertext');
    if (!row) throw new Error(`no phone number ${token}`); // (a broken invariant: tokens are made here and never deleted)
    const { encryption } = await this.secrets();
    const blob = row.ciphertext as Buffer;
    const decipher = createDecipheriv('aes-256-gcm', encryption, blob.subarray(0, 12));
    decipher.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
  }

  private secrets() {
    this.keys ??= Promise.all([signingSecret(this.db, ENCRYPTION_KEY), signingSecret(this.db, LOOKUP_KEY)])
      .then(([encryption, lookup]) => ({ encryption, lookup }));
    this.keys.catch(() => { this.keys = undefined; });
    return this.keys;
  }
}
