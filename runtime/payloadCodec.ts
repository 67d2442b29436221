// Payload encryption. Every payload Paybroker hands Temporal (workflow and activity inputs and results, signals,
// updates, queries, memos, failure details) is sealed with AES-256-GCM before it leaves the process, so the server,
// its database and `temporal workflow show` hold ciphertext; the worker, every client and the codec server (for the
// Web UI) open it. Search attributes are not payloads of ours: they stay plain and hold no personal data.
//
// Keys come from configuration (PAYBROKER_PAYLOAD_KEYS: `id:base64-of-32-bytes`, comma-separated), never from the
// repository. The first key seals; every key listed opens, so a key is rotated by putting a new one first and keeping
// the old one until no history that needs it is kept. The key's id travels in each payload's metadata. A payload that
// is not sealed (written before encryption was turned on) is passed through as it is.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** (a CommonJS package: its namespace is the default export under ESM) */
const PayloadProto = proto.temporal.api.common.v1.Payload;

export interface PayloadKeys {
  /** The id of the key that seals. */
  current: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** Parses `id:base64,id:base64` (the first seals); throws with what is wrong. */
export function parsePayloadKeys(raw: string): PayloadKeys {
  const keys = new Map<string, Buffer>();
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    const id = part.slice(0, colon);
    const key = Buffer.from(part.slice(colon + 1), 'base64');
    if (colon < 1 || !KEY_ID.test(id)) throw new Error(`a payload key is 'id:base64' with an id of letters, digits, '.', '_' or '-' (got '${part.slice(0, 20)}…')`);
    if (key.length !== 32) throw new Error(`payload key '${id}' is ${key.length} bytes, not 32 (AES-256)`);
    if (keys.has(id)) throw new Error(`payload key '${id}' is listed twice`);
    keys.set(id, key);
  }
  const [current] = keys.keys();
  if (!current) throw new Error('no payload key given');
  return { current, keys };
}

/** A new key in the configuration's form. */
export const newPayloadKey = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;

const utf8 = (s: string) => new TextEncoder().encode(s);

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: PayloadKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { current, keys } = this.keys;
    const key = keys.get(current)!;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(current));
      const sealed = Buffer.concat([iv, cipher.update(PayloadProto.encode(p).finish()), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(current) }, data: sealed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return p;
      const id = Buffer.from(p.metadata?.[KEY_ID_METADATA] ?? []).toString();
      const key = this.keys.keys.get(id);
      if (!key) throw new Error(`payload sealed with key '${id}', which is not among PAYBROKER_PAYLOAD_KEYS`);
      const data = Buffer.from(p.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('a sealed payload too short to be one');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plain);
    });
  }
}

/**
 * The data converter of every Temporal client and worker of Paybroker, from a key list as PAYBROKER_PAYLOAD_KEYS
 * gives it: sealed with its keys, or plain when there is none (unset or empty). Throws on a malformed list.
 */
export const dataConverterOf = (keyList: string | undefined) => (keyList ? { payloadCodecs: [new EncryptionCodec(parsePayloadKeys(keyList))] } : {});
