import { describe, expect, it } from 'vitest';
import {
  guardedLookup,
  isPrivateAddress,
  MAX_WEBHOOK_URL_LENGTH,
  validateWebhookUrl,
  WebhookUrlError,
  type WebhookUrlErrorCode,
} from '../../webhooks/url';

const PUBLIC_V4 = '93.184.215.14';
const PUBLIC_V6 = '2606:4700:4700::1111';

/** A lookup that answers from a table and records what it was asked. */
function fakeLookup(table: Record<string, string[] | Error>) {
  const asked: string[] = [];
  const lookup = async (host: string): Promise<string[]> => {
    asked.push(host);
    const answer = table[host];
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { lookup, asked };
}

const noLookup = async (host: string): Promise<string[]> => {
  throw new Error(`lookup must not be called, got ${host}`);
};

async function codeOf(p: Promise<unknown>): Promise<WebhookUrlErrorCode | 'accepted'> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof WebhookUrlError) return err.code;
    throw err;
  }
}

// One address from each range that is not public, v4 and v6, including IPv6 forms that carry an IPv4 address.
const PRIVATE_ADDRESSES: Array<[string, string]> = [
  ['127.0.0.1', 'IPv4 loopback'],
  ['127.255.255.254', 'IPv4 loopback, end of 127/8'],
  ['0.0.0.0', 'IPv4 unspecified'],
  ['0.1.2.3', 'IPv4 this-network 0/8'],
  ['10.0.0.1', 'private 10/8'],
  ['10.255.255.255', 'private 10/8, last address'],
  ['172.16.0.1', 'private 172.16/12, first block'],
  ['172.31.255.254', 'private 172.16/12, last block'],
  ['192.168.1.1', 'private 192.168/16'],
  ['100.64.0.1', 'CGNAT 100.64/10, start'],
  ['100.127.255.254', 'CGNAT 100.64/10, end'],
  ['169.254.169.254', 'link-local 169.254/16 (cloud metadata)'],
  ['224.0.0.1', 'multicast 224/4'],
  ['239.255.255.250', 'multicast 224/4, end'],
  ['255.255.255.255', 'broadcast'],
  ['198.18.0.1', 'benchmarking 198.18/15, start'],
  ['198.19.255.254', 'benchmarking 198.18/15, end'],
  ['::1', 'IPv6 loopback'],
  ['::', 'IPv6 unspecified'],
  ['0:0:0:0:0:0:0:1', 'IPv6 loopback, written out'],
  ['fe80::1', 'IPv6 link-local fe80::/10'],
  ['febf:ffff::1', 'IPv6 link-local fe80::/10, end'],
  ['fc00::1', 'IPv6 unique-local fc00::/7'],
  ['fd12:3456:789a::1', 'IPv6 unique-local fd00::/8'],
  ['ff02::1', 'IPv6 multicast ff00::/8'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback, dotted'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped link-local metadata address'],
  ['0:0:0:0:0:ffff:10.0.0.1', 'IPv4-mapped private, written out'],
  ['::127.0.0.1', 'IPv4-compatible loopback'],
  ['::a00:1', 'IPv4-compatible private 10.0.0.1'],
  ['64:ff9b::7f00:1', 'NAT64 of loopback'],
  ['2002:c0a8:0101::1', '6to4 of 192.168.1.1'],
];

const PUBLIC_ADDRESSES = [
  '8.8.8.8',
  '1.1.1.1',
  PUBLIC_V4,
  '172.15.255.255', // just below 172.16/12
  '172.32.0.0', // just above 172.16/12
  '100.63.255.255', // just below 100.64/10
  '100.128.0.0', // just above 100.64/10
  '11.0.0.1',
  '198.17.255.255', // just below 198.18/15
  '223.255.255.255', // just below multicast
  PUBLIC_V6,
  '2001:4860:4860::8888',
  '::ffff:8.8.8.8', // mapped, judged by its public IPv4
  '64:ff9b::808:808', // NAT64 of 8.8.8.8
  '2002:0808:0808::1', // 6to4 of 8.8.8.8
];

describe('isPrivateAddress', () => {
  it.each(PRIVATE_ADDRESSES)('is true for %s (%s)', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each(PUBLIC_ADDRESSES)('is false for public %s', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it('accepts bracketed and zoned IPv6 forms and fails closed on anything that is not an IP address', () => {
    expect(isPrivateAddress('[::1]')).toBe(true);
    expect(isPrivateAddress(`[${PUBLIC_V6}]`)).toBe(false);
    expect(isPrivateAddress('fe80::1%eth0')).toBe(true);
    for (const junk of ['', 'example.com', '256.0.0.1', '1.2.3', '::ffff::1', '12345::1']) {
      expect(isPrivateAddress(junk), junk).toBe(true);
    }
  });
});

describe('validateWebhookUrl', () => {
  it('accepts public IPv4 and IPv6 literals without a DNS lookup and returns the parsed URL', async () => {
    const v4 = await validateWebhookUrl(`https://${PUBLIC_V4}:8443/hooks?x=1`, { allowPrivate: false, lookup: noLookup });
    expect(v4).toBeInstanceOf(URL);
    expect(v4.href).toBe(`https://${PUBLIC_V4}:8443/hooks?x=1`);
    const v6 = await validateWebhookUrl(`http://[${PUBLIC_V6}]/hooks`, { allowPrivate: false, lookup: noLookup });
    expect(v6.hostname).toBe(`[${PUBLIC_V6}]`);
  });

  it.each(PRIVATE_ADDRESSES)('refuses the literal %s (%s), and accepts it with allowPrivate', async (ip) => {
    const url = `https://${ip.includes(':') ? `[${ip}]` : ip}/hook`;
    expect(await codeOf(validateWebhookUrl(url, { allowPrivate: false, lookup: noLookup }))).toBe('url_private_address');
    expect(await codeOf(validateWebhookUrl(url, { allowPrivate: true, lookup: noLookup }))).toBe('accepted');
  });

  it('refuses loopback written as a decimal, hex or short IPv4 number, which the URL parser normalizes', async () => {
    for (const url of ['http://2130706433/', 'http://0x7f000001/', 'http://0x7f.1/', 'http://127.1/', 'http://017700000001/']) {
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: false, lookup: noLookup })), url).toBe('url_private_address');
    }
  });

  it('refuses localhost and *.localhost names as private without a DNS lookup, and accepts them with allowPrivate', async () => {
    for (const url of ['http://localhost/', 'http://LOCALHOST:3000/hook', 'http://localhost./', 'https://api.localhost/hook']) {
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: false, lookup: noLookup })), url).toBe('url_private_address');
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: true, lookup: noLookup })), url).toBe('accepted');
    }
  });

  it('accepts a hostname whose addresses are all public, asking the lookup for that host', async () => {
    const { lookup, asked } = fakeLookup({ 'hooks.merchant.example': [PUBLIC_V4, PUBLIC_V6] });
    const url = await validateWebhookUrl('https://hooks.merchant.example/paybroker', { allowPrivate: false, lookup });
    expect(url.pathname).toBe('/paybroker');
    expect(asked).toEqual(['hooks.merchant.example']);
  });

  it('refuses a hostname that resolves to a private address, and accepts it with allowPrivate', async () => {
    const { lookup } = fakeLookup({ 'internal.example': ['10.1.2.3'] });
    expect(await codeOf(validateWebhookUrl('https://internal.example/', { allowPrivate: false, lookup }))).toBe('url_private_address');
    expect(await codeOf(validateWebhookUrl('https://internal.example/', { allowPrivate: true, lookup }))).toBe('accepted');
  });

  it('refuses a hostname when any one of its addresses is private (mixed answer)', async () => {
    const { lookup } = fakeLookup({
      'mixed.example': [PUBLIC_V4, '169.254.169.254'],
      'mixed6.example': [PUBLIC_V4, '::ffff:127.0.0.1'],
    });
    expect(await codeOf(validateWebhookUrl('https://mixed.example/', { allowPrivate: false, lookup }))).toBe('url_private_address');
    expect(await codeOf(validateWebhookUrl('https://mixed6.example/', { allowPrivate: false, lookup }))).toBe('url_private_address');
    expect(await codeOf(validateWebhookUrl('https://mixed.example/', { allowPrivate: true, lookup }))).toBe('accepted');
  });

  it('reports url_unresolvable when the lookup fails or returns no address, even with allowPrivate', async () => {
    const { lookup } = fakeLookup({ 'empty.example': [], 'servfail.example': new Error('queryA ESERVFAIL') });
    for (const host of ['nxdomain.example', 'empty.example', 'servfail.example']) {
      for (const allowPrivate of [false, true]) {
        expect(await codeOf(validateWebhookUrl(`https://${host}/`, { allowPrivate, lookup })), host).toBe('url_unresolvable');
      }
    }
    const err = await validateWebhookUrl('https://nxdomain.example/', { allowPrivate: false, lookup }).catch((e: unknown) => e);
    expect((err as WebhookUrlError).cause).toMatchObject({ code: 'ENOTFOUND' });
  });

  it('uses the system resolver by default: localhost literal and a name that cannot exist', async () => {
    expect(await codeOf(validateWebhookUrl('http://127.0.0.1:9/', { allowPrivate: false }))).toBe('url_private_address');
    // .invalid is reserved (RFC 2606) and never resolves.
    expect(await codeOf(validateWebhookUrl('https://paybroker-test.invalid/', { allowPrivate: false }))).toBe('url_unresolvable');
  });

  it('refuses URLs with a username or password', async () => {
    const { lookup } = fakeLookup({ 'merchant.example': [PUBLIC_V4] });
    for (const url of ['https://user:pass@merchant.example/', 'https://user@merchant.example/', 'https://:pass@merchant.example/']) {
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: false, lookup })), url).toBe('url_credentials');
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: true, lookup })), url).toBe('url_credentials');
    }
  });

  it('refuses schemes other than http and https (ftp:, javascript:, file:, data:, ws:)', async () => {
    const { lookup } = fakeLookup({ 'merchant.example': [PUBLIC_V4] });
    for (const url of ['ftp://merchant.example/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'data:text/plain,hi', 'ws://merchant.example/']) {
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: true, lookup })), url).toBe('url_scheme');
    }
  });

  it('refuses strings that are not absolute URLs as url_invalid', async () => {
    for (const url of ['', 'not a url', '/relative/hook', 'https://', 'http://exa mple.com/', 'https://[::1/']) {
      expect(await codeOf(validateWebhookUrl(url, { allowPrivate: true, lookup: noLookup })), url).toBe('url_invalid');
    }
  });

  it(`accepts a URL of exactly MAX_WEBHOOK_URL_LENGTH (${MAX_WEBHOOK_URL_LENGTH}) characters and refuses one more`, async () => {
    const { lookup } = fakeLookup({ 'merchant.example': [PUBLIC_V4] });
    const prefix = 'https://merchant.example/';
    const atLimit = prefix + 'a'.repeat(MAX_WEBHOOK_URL_LENGTH - prefix.length);
    expect(atLimit).toHaveLength(MAX_WEBHOOK_URL_LENGTH);
    expect(await codeOf(validateWebhookUrl(atLimit, { allowPrivate: false, lookup }))).toBe('accepted');
    expect(await codeOf(validateWebhookUrl(`${atLimit}a`, { allowPrivate: false, lookup }))).toBe('url_too_long');
  });

  it('gives every refusal a WebhookUrlError with its name and a message', async () => {
    const err = await validateWebhookUrl('ftp://x/', { allowPrivate: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookUrlError);
    expect(err).toBeInstanceOf(Error);
    expect((err as WebhookUrlError).name).toBe('WebhookUrlError');
    expect((err as WebhookUrlError).message).toMatch(/ftp:/);
  });
});

describe('guardedLookup (the connect-time check against DNS rebinding)', () => {
  const resolve = (allowPrivate: boolean, host: string) => new Promise<{ err: (Error & { code?: string }) | null; address: unknown }>((done) => {
    guardedLookup(allowPrivate)(host, { all: true }, (err, address) => done({ err, address }));
  });

  it('refuses to connect to a name that resolves to a loopback address', async () => {
    const { err } = await resolve(false, 'localhost');
    expect(err).toBeInstanceOf(WebhookUrlError);
    expect(err?.code).toBe('url_private_address');
  });

  it('connects to it when private addresses are allowed', async () => {
    const { err, address } = await resolve(true, 'localhost');
    expect(err).toBeNull();
    expect((address as Array<{ address: string }>).map((a) => a.address)).toEqual(expect.arrayContaining([expect.stringMatching(/^(127\.0\.0\.1|::1)$/)]));
  });
});
