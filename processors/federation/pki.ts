// The federation's trust layer: a local certificate authority, each gateway's certificate, and signed requests.
//
// Certificates are made with node-forge (RSA 2048 keys come from node:crypto's generateKeyPairSync: forge's own
// key generation takes seconds) and checked with node:crypto's X509Certificate (OpenSSL), which TLS uses as well.
// A gateway's certificate names it three ways: CN=<gateway id>, and in its subjectAltName IP 127.0.0.1 and DNS
// localhost (so the default server identity check passes on loopback) and the URI urn:paybroker:gateway:<id>,
// which is what identifies the gateway (gatewayIdOf); it may serve (serverAuth) and call (clientAuth).
//
// Signed requests: each call between gateways, and each call to the directory (over plain HTTP), carries
//   fed-gateway    the caller's gateway id
//   fed-timestamp  unix milliseconds when it was signed
//   fed-nonce      16 random bytes, base64url: the receiver refuses one it has seen (its own store)
//   fed-signature  RSA-SHA256 (PKCS#1 v1.5), base64, over `${METHOD}\n${path}\n${timestamp}\n${nonce}\n${sha256hex(body)}`
// verified against the caller's certificate (verifyRequest); the body is the exact text sent ('' when none).
import { createHash, generateKeyPairSync, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

/** A gateway id: lower-case letters, digits and dashes, 1 to 63 characters (a DNS label). */
export const GATEWAY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const GATEWAY_URI_PREFIX = 'urn:paybroker:gateway:';
export const DEFAULT_CA_VALID_DAYS = 3650;
export const DEFAULT_GATEWAY_VALID_DAYS = 365;
/** Accepted clock difference between a signer and the receiver, either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 300_000;
export const FED_HEADERS = { gateway: 'fed-gateway', timestamp: 'fed-timestamp', nonce: 'fed-nonce', signature: 'fed-signature' } as const;
/** A nonce as signRequest makes it (22 characters) or a little longer; nothing else is accepted. */
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 24 * 3600_000;

const newRsaKeyPem = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
    .privateKey;

/** A positive random serial of 16 bytes (hex, first bit clear, never zero). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return b.toString('hex');
}

function keyPair(keyPem: string): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const privateKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

/** A self-signed certificate authority: basicConstraints cA (critical), keyUsage keyCertSign and cRLSign. */
export function createCa(opts: { commonName?: string; validDays?: number; now?: Date } = {}): KeyAndCert {
  const keyPem = newRsaKeyPem();
  const { privateKey, publicKey } = keyPair(keyPem);
  const now = opts.now ?? new Date();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  // a minute back, so a certificate made now verifies at once on a clock a little behind
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + (opts.validDays ?? DEFAULT_CA_VALID_DAYS) * DAY_MS);
  const subject = [{ name: 'commonName', value: opts.commonName ?? 'Paybroker federation CA' }, { name: 'organizationName', value: 'Paybroker' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { keyPem, certPem: forge.pki.certificateToPem(cert) };
}

/**
 * A gateway's certificate issued by the CA: CN=<gatewayId>, SAN IP 127.0.0.1, DNS localhost and URI
 * urn:paybroker:gateway:<gatewayId>; extKeyUsage serverAuth and clientAuth; a random serial. keyPem given: the
 * certificate is for that key (a renewal keeps the key), else a new key is made.
 */
export function issueGatewayCert(ca: KeyAndCert, gatewayId: string,
  opts: { notBefore?: Date; notAfter?: Date; validDays?: number; keyPem?: string } = {}): KeyAndCert {
  if (!GATEWAY_ID.test(gatewayId)) throw new Error(`not a gateway id: '${gatewayId}' (lower-case letters, digits and dashes, at most 63)`);
  const keyPem = opts.keyPem ?? newRsaKeyPem();
  const { publicKey } = keyPair(keyPem);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.validDays ?? DEFAULT_GATEWAY_VALID_DAYS) * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: gatewayId }, { name: 'organizationName', value: 'Paybroker federation' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [
      { type: 7, ip: '127.0.0.1' },
      { type: 2, value: 'localhost' },
      { type: 6, value: `${GATEWAY_URI_PREFIX}${gatewayId}` },
    ] },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { keyPem, certPem: forge.pki.certificateToPem(cert) };
}

function parse(certPem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(certPem);
  } catch {
    return undefined;
  }
}

function gatewayIdOfCert(x: X509Certificate): string | undefined {
  // Node lists the names as `IP Address:127.0.0.1, DNS:localhost, URI:urn:paybroker:gateway:<id>`; a name with a
  // comma or quote would be quoted, which a gateway id never needs
  const ids = (x.subjectAltName ?? '').split(', ')
    .filter((n) => n.startsWith(`URI:${GATEWAY_URI_PREFIX}`))
    .map((n) => n.slice(`URI:${GATEWAY_URI_PREFIX}`.length));
  return ids.length === 1 && GATEWAY_ID.test(ids[0]) ? ids[0] : undefined;
}

/** The gateway id a certificate names (its SAN URI), or undefined (unreadable, none, or several). */
export function gatewayIdOf(certPem: string): string | undefined {
  const x = parse(certPem);
  return x && gatewayIdOfCert(x);
}

export type CertificateCheck =
  | { ok: true; gatewayId: string; fingerprint256: string; notAfter: Date }
  | { ok: false; reason: 'malformed' | 'not_issued_by_ca' | 'expired' | 'not_yet_valid' | 'not_a_gateway' };

/**
 * Checks a gateway's certificate against the CA at nowMs: issued (and signed) by it, within its validity, a gateway
 * certificate (not a CA, serverAuth and clientAuth, exactly one gateway URI). The first failure is the reason.
 */
export function verifyGatewayCert(certPem: string, caPem: string, nowMs: number): CertificateCheck {
  const x = parse(certPem);
  const ca = parse(caPem);
  if (!x || !ca) return { ok: false, reason: 'malformed' };
  let issued: boolean;
  try {
    issued = ca.ca && x.checkIssued(ca) && x.verify(ca.publicKey);
  } catch {
    issued = false;
  }
  if (!issued) return { ok: false, reason: 'not_issued_by_ca' };
  const notAfter = new Date(x.validTo);
  const notBefore = new Date(x.validFrom);
  if (Number.isNaN(notAfter.getTime()) || Number.isNaN(notBefore.getTime())) return { ok: false, reason: 'malformed' };
  if (nowMs > notAfter.getTime()) return { ok: false, reason: 'expired' };
  if (nowMs < notBefore.getTime()) return { ok: false, reason: 'not_yet_valid' };
  const gatewayId = gatewayIdOfCert(x);
  const usages = x.keyUsage ?? []; // (node:crypto's name for the extended key usages)
  if (!gatewayId || x.ca || !usages.includes(SERVER_AUTH) || !usages.includes(CLIENT_AUTH)) return { ok: false, reason: 'not_a_gateway' };
  return { ok: true, gatewayId, fingerprint256: x.fingerprint256, notAfter };
}

const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const signedText = (method: string, path: string, timestamp: string, nonce: string, body: string) =>
  `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${sha256hex(body)}`;

/** The fed-* headers of one request: path is what the request line carries (with its query), body the exact text sent. */
export function signRequest(keyPem: string, gatewayId: string, req: { method: string; path: string; body: string },
  opts: { nowMs?: number; nonce?: string } = {}): Record<string, string> {
  const timestamp = String(opts.nowMs ?? Date.now());
  const nonce = opts.nonce ?? randomBytes(16).toString('base64url');
  const signature = sign('sha256', Buffer.from(signedText(req.method, req.path, timestamp, nonce, req.body), 'utf8'), keyPem).toString('base64');
  return { [FED_HEADERS.gateway]: gatewayId, [FED_HEADERS.timestamp]: timestamp, [FED_HEADERS.nonce]: nonce, [FED_HEADERS.signature]: signature };
}

export type RequestCheck =
  | { ok: true; gatewayId: string; nonce: string; timestampMs: number }
  | { ok: false; reason: 'unsigned' | 'bad_signature' | 'stale' | 'wrong_gateway' };

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Verifies a request's fed-* headers against the signer's certificate (not its validity: verifyGatewayCert does
 * that): every header present (else unsigned), fed-gateway the certificate's gateway id (else wrong_gateway), the
 * signature over this method, path and body (else bad_signature), the timestamp within toleranceMs of nowMs (else
 * stale). Whether the nonce was seen before is the receiver's to check, in its own store.
 */
export function verifyRequest(certPem: string, headers: Record<string, string | string[] | undefined>,
  req: { method: string; path: string; body: string }, nowMs: number, toleranceMs = DEFAULT_SIGNATURE_TOLERANCE_MS): RequestCheck {
  const gatewayId = header(headers, FED_HEADERS.gateway);
  const timestamp = header(headers, FED_HEADERS.timestamp);
  const nonce = header(headers, FED_HEADERS.nonce);
  const signature = header(headers, FED_HEADERS.signature);
  if (!gatewayId || !timestamp || !nonce || !signature) return { ok: false, reason: 'unsigned' };
  const x = parse(certPem);
  if (!x) return { ok: false, reason: 'bad_signature' };
  if (gatewayIdOfCert(x) !== gatewayId) return { ok: false, reason: 'wrong_gateway' };
  if (!NONCE.test(nonce) || !/^[A-Za-z0-9+/]{1,1024}={0,2}$/.test(signature)) return { ok: false, reason: 'bad_signature' };
  let good: boolean;
  try {
    good = verify('sha256', Buffer.from(signedText(req.method, req.path, timestamp, nonce, req.body), 'utf8'), x.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: 'bad_signature' };
  const timestampMs = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isSafeInteger(timestampMs) || Math.abs(nowMs - timestampMs) > toleranceMs) return { ok: false, reason: 'stale' };
  return { ok: true, gatewayId, nonce, timestampMs };
}

export interface TlsCredentials {
  keyPem: string;
  certPem: string;
  caPem: string;
}

/** node:https / node:tls server options: mutual TLS 1.3, only clients with a certificate from the CA. */
export function tlsServerOptions(c: TlsCredentials) {
  return { key: c.keyPem, cert: c.certPem, ca: c.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' as const };
}

/** node:https / undici client options: presents the gateway's certificate, trusts only the CA. */
export function tlsClientOptions(c: TlsCredentials) {
  return { key: c.keyPem, cert: c.certPem, ca: c.caPem, minVersion: 'TLSv1.3' as const };
}

export interface GatewayCredentials extends TlsCredentials {
  gatewayId: string;
}

function readCredential(file: string, what: string, gatewayId: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(`federation: cannot read ${what} ${file} (${code ?? String(err)}); ` +
      `make the federation credentials with \`npm run federation:ca -- ${gatewayId}\``, { cause: err });
  }
}

/** Reads <dir>/<gatewayId>.key, <dir>/<gatewayId>.pem and <dir>/ca.pem (as scripts/federation-ca.ts writes them). */
export function loadGatewayCredentials(dir: string, gatewayId: string): GatewayCredentials {
  if (!GATEWAY_ID.test(gatewayId)) throw new Error(`federation: not a gateway id: '${gatewayId}' (lower-case letters, digits and dashes, at most 63)`);
  return {
    gatewayId,
    keyPem: readCredential(join(dir, `${gatewayId}.key`), "the gateway's key", gatewayId),
    certPem: readCredential(join(dir, `${gatewayId}.pem`), "the gateway's certificate", gatewayId),
    caPem: readCredential(join(dir, 'ca.pem'), 'the CA certificate', gatewayId),
  };
}
