import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  newWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
  webhookHeaders,
  type WebhookVerificationCode,
} from '../../webhooks/signature';

const NOW = 1_700_000_000;
const BODY = '{"type":"order.captured","data":{"orderId":"ord_1","amountMinor":1250,"currency":"USD"}}';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function codeOf(fn: () => unknown): WebhookVerificationCode | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.code;
    throw err;
  }
  return undefined;
}

describe('newWebhookSecret', () => {
  it('makes whsec_ plus the base64 of 32 random bytes, different each time', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});

describe('signWebhook', () => {
  it('matches an HMAC-SHA256 computed independently over "id.timestamp.body" with the base64-decoded key', () => {
    const id = 'msg_2Lh9KZ3Xq';
    const timestamp = 1_712_345_678;
    const body = '{"amountMinor":500,"currency":"USD","note":"café ✓"}';
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
    expect(signWebhook(SECRET, id, timestamp, body)).toBe(`v1,${expected}`);
  });

  it('reproduces the published Standard Webhooks test vector', () => {
    expect(signWebhook(SECRET, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'))
      .toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('gives the same signature for a secret with or without the whsec_ prefix', () => {
    const bare = SECRET.slice('whsec_'.length);
    expect(signWebhook(bare, 'msg_1', NOW, BODY)).toBe(signWebhook(SECRET, 'msg_1', NOW, BODY));
  });

  it('refuses a secret that is not base64 and a timestamp that is not whole seconds', () => {
    expect(() => signWebhook('whsec_', 'msg_1', NOW, BODY)).toThrow(TypeError);
    expect(() => signWebhook('whsec_not*base64', 'msg_1', NOW, BODY)).toThrow(TypeError);
    expect(() => signWebhook(SECRET, 'msg_1', NOW + 0.5, BODY)).toThrow(RangeError);
    expect(() => signWebhook(SECRET, 'msg_1', -1, BODY)).toThrow(RangeError);
  });
});

describe('webhookHeaders', () => {
  it('sets webhook-id, webhook-timestamp in whole seconds and a v1 signature over them', () => {
    const h = webhookHeaders(SECRET, 'msg_1', BODY, NOW + 0.9);
    expect(h).toEqual({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(NOW),
      'webhook-signature': signWebhook(SECRET, 'msg_1', NOW, BODY),
    });
  });

  it('signs once per secret during a rotation, space-separated, and each secret verifies on its own', () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const h = webhookHeaders([current, previous], 'msg_1', BODY, NOW);
    expect(h['webhook-signature']).toBe(`${signWebhook(current, 'msg_1', NOW, BODY)} ${signWebhook(previous, 'msg_1', NOW, BODY)}`);
    for (const secret of [current, previous]) expect(verifyWebhook(secret, h, BODY, { nowSeconds: NOW }).id).toBe('msg_1');
    expect(codeOf(() => verifyWebhook(newWebhookSecret(), h, BODY, { nowSeconds: NOW }))).toBe('invalid_signature');
  });
});

describe('verifyWebhook', () => {
  const secret = newWebhookSecret();
  const headers = (at = NOW, body = BODY) => webhookHeaders(secret, 'msg_42', body, at);

  it('accepts what webhookHeaders signed and returns id, timestamp and the parsed payload', () => {
    const got = verifyWebhook(secret, headers(), BODY, { nowSeconds: NOW });
    expect(got).toEqual({ id: 'msg_42', timestamp: NOW, payload: JSON.parse(BODY) });
  });

  it('accepts the raw body as a Buffer, as express.raw gives it', () => {
    const got = verifyWebhook(secret, headers(), Buffer.from(BODY), { nowSeconds: NOW });
    expect(got.payload).toEqual(JSON.parse(BODY));
  });

  it('accepts a secret given with or without the whsec_ prefix', () => {
    const bare = secret.slice('whsec_'.length);
    expect(verifyWebhook(bare, headers(), BODY, { nowSeconds: NOW }).id).toBe('msg_42');
    const signedWithBare = webhookHeaders(bare, 'msg_42', BODY, NOW);
    expect(verifyWebhook(secret, signedWithBare, BODY, { nowSeconds: NOW }).id).toBe('msg_42');
  });

  it('matches header names case-insensitively, in a plain object and in a fetch Headers', () => {
    const h = headers();
    const shouting = { 'Webhook-Id': h['webhook-id'], 'WEBHOOK-TIMESTAMP': h['webhook-timestamp'], 'Webhook-Signature': h['webhook-signature'] };
    expect(verifyWebhook(secret, shouting, BODY, { nowSeconds: NOW }).id).toBe('msg_42');
    expect(verifyWebhook(secret, new Headers(shouting), BODY, { nowSeconds: NOW }).id).toBe('msg_42');
  });

  it('refuses a signature made with another secret', () => {
    const forged = webhookHeaders(newWebhookSecret(), 'msg_42', BODY, NOW);
    expect(codeOf(() => verifyWebhook(secret, forged, BODY, { nowSeconds: NOW }))).toBe('invalid_signature');
  });

  it('refuses a body altered by one byte, as a string and as a Buffer', () => {
    const altered = Buffer.from(BODY);
    altered[altered.length - 3] ^= 0x01;
    expect(altered.toString()).not.toBe(BODY);
    expect(codeOf(() => verifyWebhook(secret, headers(), altered, { nowSeconds: NOW }))).toBe('invalid_signature');
    expect(codeOf(() => verifyWebhook(secret, headers(), altered.toString(), { nowSeconds: NOW }))).toBe('invalid_signature');
  });

  it('refuses the same JSON re-serialized differently, since the raw body is what is signed', () => {
    const reserialized = JSON.stringify(JSON.parse(BODY), null, 2);
    expect(codeOf(() => verifyWebhook(secret, headers(), reserialized, { nowSeconds: NOW }))).toBe('invalid_signature');
  });

  it('refuses a changed webhook-id or webhook-timestamp, both being signed', () => {
    const h = headers();
    expect(codeOf(() => verifyWebhook(secret, { ...h, 'webhook-id': 'msg_43' }, BODY, { nowSeconds: NOW }))).toBe('invalid_signature');
    expect(codeOf(() => verifyWebhook(secret, { ...h, 'webhook-timestamp': String(NOW + 1) }, BODY, { nowSeconds: NOW })))
      .toBe('invalid_signature');
  });

  it('accepts a timestamp exactly at the tolerance in the past and refuses one second past it', () => {
    const t = DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
    expect(verifyWebhook(secret, headers(NOW - t), BODY, { nowSeconds: NOW }).timestamp).toBe(NOW - t);
    expect(codeOf(() => verifyWebhook(secret, headers(NOW - t - 1), BODY, { nowSeconds: NOW }))).toBe('timestamp_too_old');
  });

  it('accepts a timestamp exactly at the tolerance in the future and refuses one second past it', () => {
    const t = DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
    expect(verifyWebhook(secret, headers(NOW + t), BODY, { nowSeconds: NOW }).timestamp).toBe(NOW + t);
    expect(codeOf(() => verifyWebhook(secret, headers(NOW + t + 1), BODY, { nowSeconds: NOW }))).toBe('timestamp_too_new');
  });

  it('applies a custom tolerance and uses the real clock when nowSeconds is not given', () => {
    expect(codeOf(() => verifyWebhook(secret, headers(NOW - 11), BODY, { nowSeconds: NOW, toleranceSeconds: 10 }))).toBe('timestamp_too_old');
    expect(verifyWebhook(secret, headers(NOW - 10), BODY, { nowSeconds: NOW, toleranceSeconds: 10 }).id).toBe('msg_42');
    const fresh = Math.floor(Date.now() / 1000);
    expect(verifyWebhook(secret, headers(fresh), BODY).timestamp).toBe(fresh);
    expect(codeOf(() => verifyWebhook(secret, headers(NOW), BODY))).toBe('timestamp_too_old');
  });

  it('refuses a webhook-timestamp that is not an integer number of seconds', () => {
    for (const bad of ['abc', '1700000000.5', '-1700000000', '1e9', '0x10', '']) {
      const h = { ...headers(), 'webhook-timestamp': bad };
      expect(codeOf(() => verifyWebhook(secret, h, BODY, { nowSeconds: NOW })), bad).toBe(bad === '' ? 'missing_header' : 'invalid_timestamp');
    }
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const)('refuses a request without the %s header', (name) => {
    const h: Record<string, string | undefined> = { ...headers() };
    delete h[name];
    expect(codeOf(() => verifyWebhook(secret, h, BODY, { nowSeconds: NOW }))).toBe('missing_header');
    expect(codeOf(() => verifyWebhook(secret, { ...headers(), [name]: undefined }, BODY, { nowSeconds: NOW }))).toBe('missing_header');
    expect(codeOf(() => verifyWebhook(secret, { ...headers(), [name]: '  ' }, BODY, { nowSeconds: NOW }))).toBe('missing_header');
  });

  it('accepts several space-separated signatures when only the second matches (key rotation)', () => {
    const h = headers();
    const old = signWebhook(newWebhookSecret(), 'msg_42', NOW, BODY);
    const rotated = { ...h, 'webhook-signature': `${old} ${h['webhook-signature']}` };
    expect(verifyWebhook(secret, rotated, BODY, { nowSeconds: NOW }).id).toBe('msg_42');
    // The same list where no entry matches is refused.
    const noneMatch = { ...h, 'webhook-signature': `${old} ${signWebhook(newWebhookSecret(), 'msg_42', NOW, BODY)}` };
    expect(codeOf(() => verifyWebhook(secret, noneMatch, BODY, { nowSeconds: NOW }))).toBe('invalid_signature');
  });

  it('accepts the matching signature from repeated signature headers, as an array or joined by Headers', () => {
    const h = headers();
    const old = signWebhook(newWebhookSecret(), 'msg_42', NOW, BODY);
    const asArray = { ...h, 'webhook-signature': [old, h['webhook-signature']] };
    expect(verifyWebhook(secret, asArray, BODY, { nowSeconds: NOW }).id).toBe('msg_42');
    const fetchHeaders = new Headers({ 'webhook-id': h['webhook-id'], 'webhook-timestamp': h['webhook-timestamp'] });
    fetchHeaders.append('webhook-signature', old);
    fetchHeaders.append('webhook-signature', h['webhook-signature']);
    expect(verifyWebhook(secret, fetchHeaders, BODY, { nowSeconds: NOW }).id).toBe('msg_42');
  });

  it('ignores entries of other versions, even when they carry the right signature value', () => {
    const h = headers();
    const value = h['webhook-signature'].slice('v1,'.length);
    const v2Only = { ...h, 'webhook-signature': `v1a,${value} v2,${value} ${value}` };
    expect(codeOf(() => verifyWebhook(secret, v2Only, BODY, { nowSeconds: NOW }))).toBe('invalid_signature');
    const withV1 = { ...h, 'webhook-signature': `v2,${value} v1,${value}` };
    expect(verifyWebhook(secret, withV1, BODY, { nowSeconds: NOW }).id).toBe('msg_42');
  });

  it('refuses a truncated or padded signature value of the wrong length', () => {
    const h = headers();
    const sig = h['webhook-signature'];
    for (const bad of [sig.slice(0, -1), `${sig}A`, 'v1,', 'v1']) {
      expect(codeOf(() => verifyWebhook(secret, { ...h, 'webhook-signature': bad }, BODY, { nowSeconds: NOW })), bad).toBe('invalid_signature');
    }
  });

  it('throws a TypeError, not a verification error, when given a parsed body instead of the raw one', () => {
    expect(() => verifyWebhook(secret, headers(), JSON.parse(BODY) as unknown as string, { nowSeconds: NOW })).toThrow(TypeError);
  });
});
