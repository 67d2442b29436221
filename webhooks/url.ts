// Webhook endpoint URLs are chosen by merchants, and Paybroker then POSTs to them from inside its network:
// without checks a merchant could point it at the metadata service, a database port or an admin page on
// localhost (SSRF). validateWebhookUrl refuses anything but plain http(s) URLs whose host is, and resolves
// only to, public addresses.
//
// This checks the addresses at the time of the call. A name can resolve differently a moment later (DNS
// rebinding), so the sender also connects through guardedLookup, which checks the addresses it is about to
// connect to.
import { lookup as dnsCallbackLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Longest accepted endpoint URL, in characters. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type WebhookUrlErrorCode =
  | 'url_invalid'
  | 'url_scheme'
  | 'url_credentials'
  | 'url_too_long'
  | 'url_private_address'
  | 'url_unresolvable';

export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
  constructor(readonly code: WebhookUrlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ValidateWebhookUrlOptions {
  /** Accept loopback, private and other non-public addresses (tests, local development). */
  allowPrivate: boolean;
  /** Every address the host resolves to; default dns.promises.lookup(host, { all: true }). */
  lookup?: (host: string) => Promise<string[]>;
}

/** Checks an endpoint URL and returns it parsed, or throws a WebhookUrlError. */
export async function validateWebhookUrl(raw: string, opts: ValidateWebhookUrlOptions): Promise<URL> {
  if (typeof raw !== 'string') throw new WebhookUrlError('url_invalid', 'the URL is not a string');
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new WebhookUrlError('url_too_long', `the URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new WebhookUrlError('url_invalid', 'the URL cannot be parsed', { cause: err });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WebhookUrlError('url_scheme', `scheme ${url.protocol} is not allowed; use https: or http:`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new WebhookUrlError('url_credentials', 'the URL must not contain a username or password');
  }
  // The URL parser already lowercases names and turns IPv4 numbers in any form (0x7f.1, 2130706433) into dotted decimal.
  const host = url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw new WebhookUrlError('url_invalid', 'the URL has no host');

  if (isIP(host) !== 0) {
    if (!opts.allowPrivate && isPrivateAddress(host)) {
      throw new WebhookUrlError('url_private_address', `${host} is not a public address`);
    }
    return url;
  }

  const name = host.replace(/\.+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    if (!opts.allowPrivate) throw new WebhookUrlError('url_private_address', `${host} is a loopback name`);
    return url;
  }

  const lookup = opts.lookup ?? defaultLookup;
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch (err) {
    throw new WebhookUrlError('url_unresolvable', `${host} does not resolve`, { cause: err });
  }
  if (addresses.length === 0) throw new WebhookUrlError('url_unresolvable', `${host} resolves to no address`);
  if (!opts.allowPrivate) {
    const refused = addresses.find((a) => isPrivateAddress(a));
    if (refused !== undefined) {
      throw new WebhookUrlError('url_private_address', `${host} resolves to ${refused}, which is not a public address`);
    }
  }
  return url;
}

/**
 * A dns.lookup replacement for the HTTP client's connect: it refuses (with url_private_address) a host that
 * resolves to any address isPrivateAddress refuses, at the moment of connecting, so a name cannot pass
 * validateWebhookUrl and then rebind to an internal address.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsCallbackLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses;
      const refused = allowPrivate ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (refused) {
        return callback(Object.assign(new WebhookUrlError('url_private_address',
          `${hostname} resolves to ${refused.address}, which is not a public address`), { code: 'url_private_address' }), '');
      }
      if (options.all) return callback(null, list);
      return callback(null, list[0].address, list[0].family);
    });
  };
}

async function defaultLookup(host: string): Promise<string[]> {
  return (await dnsLookup(host, { all: true })).map((a) => a.address);
}

/**
 * True when `ip` must not be a webhook destination: loopback, unspecified, private, shared (CGNAT),
 * link-local, unique-local, multicast, broadcast and reserved, benchmarking and documentation ranges, and
 * IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4), judged by that address.
 * IPv6 outside global unicast 2000::/3 is refused. Anything that is not an IP address is refused too.
 */
export function isPrivateAddress(ip: string): boolean {
  let address = ip.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  switch (isIP(address)) {
    case 4:
      return isPrivateIPv4(parseIPv4(address));
    case 6:
      return isPrivateIPv6(parseIPv6(address));
    default:
      return true;
  }
}

/** [first address as a 32-bit number, prefix length] of the IPv4 ranges that are not public. */
const PRIVATE_IPV4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];
const PRIVATE_IPV4_MASKS = PRIVATE_IPV4.map(([base, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { network: (parseIPv4(base) & mask) >>> 0, mask };
});

function isPrivateIPv4(value: number): boolean {
  return PRIVATE_IPV4_MASKS.some(({ network, mask }) => ((value & mask) >>> 0) === network);
}

/** A dotted-decimal IPv4 address (already validated by isIP) as an unsigned 32-bit number. */
function parseIPv4(address: string): number {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Error(`not a dotted-decimal IPv4 address: ${address}`);
  }
  return ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
}

/** An IPv6 address (already validated by isIP, zone removed) as its eight 16-bit groups, `::` expanded. */
function parseIPv6(address: string): number[] {
  let text = address.toLowerCase();
  // A trailing dotted IPv4 part stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IPv6 address: ${address}`);
  const groupsOf = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = groupsOf(halves[0]);
  const rest = halves.length === 2 ? groupsOf(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) throw new Error(`not an IPv6 address: ${address}`);
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  if (groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new Error(`not an IPv6 address: ${address}`);
  return groups;
}

function isPrivateIPv6(g: number[]): boolean {
  const embeddedIPv4 = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);

  // ::/96 (IPv4-compatible, also :: and ::1), ::ffff:0:0/96 (mapped), ::ffff:0:0:0/96 (translated):
  // judged by the IPv4 address in the last 32 bits. ::1 and :: land in 0.0.0.0/8 and so are refused.
  if (zeros(0, 5) && (g[5] === 0 || g[5] === 0xffff)) return isPrivateIPv4(embeddedIPv4(g[6], g[7]));
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return isPrivateIPv4(embeddedIPv4(g[6], g[7]));
  // 64:ff9b::/96, the well-known NAT64 prefix: the gateway connects to the IPv4 address in the last 32 bits.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return isPrivateIPv4(embeddedIPv4(g[6], g[7]));
  // 2002::/16, 6to4: the relay connects to the IPv4 address in bits 16..47.
  if (g[0] === 0x2002) return isPrivateIPv4(embeddedIPv4(g[1], g[2]));

  // Only global unicast 2000::/3 is public; this excludes fc00::/7, fe80::/10, ff00::/8, 64:ff9b:1::/48, 100::/64...
  if ((g[0] & 0xe000) !== 0x2000) return true;
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation 2001:db8::/32
  if (g[0] === 0x2001 && g[1] === 0x0000) return true; // Teredo 2001::/32 (hides an IPv4 address)
  if (g[0] === 0x3fff && g[1] <= 0x0fff) return true; // documentation 3fff::/20
  return false;
}
