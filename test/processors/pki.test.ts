// The federation's trust layer (processors/federation/pki.ts): certificates from the local CA verify, others are
// refused with their reason; signed requests verify and refuse tampering, staleness and a borrowed gateway id;
// mutual TLS on loopback accepts a gateway of the CA and refuses a client of another CA.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCa, GATEWAY_ID, gatewayIdOf, issueGatewayCert, type KeyAndCert, loadGatewayCredentials, signRequest, tlsClientOptions,
  tlsServerOptions, verifyGatewayCert, verifyRequest,
} from '../../processors/federation/pki';
import { ensureFederationCredentials } from '../../scripts/federation-ca';

const DAY_MS = 24 * 3600_000;

let ca: KeyAndCert;
let otherCa: KeyAndCert;
let alpha: KeyAndCert;
let beta: KeyAndCert;

beforeAll(() => {
  ca = createCa({ commonName: 'Test federation CA' });
  otherCa = createCa({ commonName: 'Another CA' });
  alpha = issueGatewayCert(ca, 'alpha');
  beta = issueGatewayCert(ca, 'beta');
});

describe('certificates', () => {
  it('makes a CA certificate (cA, keyCertSign) and a gateway certificate naming the gateway for TLS on loopback', () => {
    const c = new X509Certificate(ca.certPem);
    expect(c.ca).toBe(true);
    expect(c.subject).toContain('CN=Test federation CA');
    const g = new X509Certificate(alpha.certPem);
    expect(g.ca).toBe(false);
    expect(g.subject).toContain('CN=alpha');
    expect(g.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost, URI:urn:paybroker:gateway:alpha');
    expect(g.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(g.checkIssued(c)).toBe(true);
    expect(g.serialNumber).not.toBe(new X509Certificate(beta.certPem).serialNumber);
    expect(gatewayIdOf(alpha.certPem)).toBe('alpha');
    expect(gatewayIdOf(ca.certPem)).toBeUndefined();
    expect(gatewayIdOf('not a certificate')).toBeUndefined();
  });

  it('verifies a gateway certificate of the CA: its gateway id, fingerprint and end of validity', () => {
    const v = verifyGatewayCert(alpha.certPem, ca.certPem, Date.now());
    expect(v).toMatchObject({ ok: true, gatewayId: 'alpha', fingerprint256: new X509Certificate(alpha.certPem).fingerprint256 });
    if (!v.ok) throw new Error('unreachable');
    expect(Math.abs(v.notAfter.getTime() - (Date.now() + 365 * DAY_MS))).toBeLessThan(2 * 60_000);
  });

  it("refuses a certificate of another CA, even for the same gateway id, and one whose issuer name is copied", () => {
    const foreign = issueGatewayCert(otherCa, 'alpha');
    expect(verifyGatewayCert(foreign.certPem, ca.certPem, Date.now())).toEqual({ ok: false, reason: 'not_issued_by_ca' });
    // a CA with the same name but another key: the issuer name matches, the signature does not
    const twin = createCa({ commonName: 'Test federation CA' });
    expect(verifyGatewayCert(issueGatewayCert(twin, 'alpha').certPem, ca.certPem, Date.now())).toEqual({ ok: false, reason: 'not_issued_by_ca' });
  });

  it('refuses an expired certificate and one not valid yet, and accepts it within its validity', () => {
    const now = Date.now();
    const expired = issueGatewayCert(ca, 'alpha', { notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS) });
    expect(verifyGatewayCert(expired.certPem, ca.certPem, now)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyGatewayCert(expired.certPem, ca.certPem, now - 5 * DAY_MS)).toMatchObject({ ok: true });
    const future = issueGatewayCert(ca, 'alpha', { notBefore: new Date(now + DAY_MS), validDays: 30 });
    expect(verifyGatewayCert(future.certPem, ca.certPem, now)).toEqual({ ok: false, reason: 'not_yet_valid' });
  });

  it('refuses what is not a gateway certificate (the CA itself) and what is not a certificate', () => {
    expect(verifyGatewayCert(ca.certPem, ca.certPem, Date.now())).toEqual({ ok: false, reason: 'not_a_gateway' });
    expect(verifyGatewayCert('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', ca.certPem, Date.now()))
      .toEqual({ ok: false, reason: 'malformed' });
    expect(verifyGatewayCert(alpha.certPem, 'garbage', Date.now())).toEqual({ ok: false, reason: 'malformed' });
  });

  it('renews a certificate for the same key when the key is given', () => {
    const renewed = issueGatewayCert(ca, 'alpha', { keyPem: alpha.keyPem, validDays: 10 });
    expect(renewed.keyPem).toBe(alpha.keyPem);
    expect(new X509Certificate(renewed.certPem).publicKey.export({ type: 'spki', format: 'pem' }))
      .toBe(new X509Certificate(alpha.certPem).publicKey.export({ type: 'spki', format: 'pem' }));
    expect(verifyGatewayCert(renewed.certPem, ca.certPem, Date.now())).toMatchObject({ ok: true, gatewayId: 'alpha' });
  });

  it('takes gateway ids of lower-case letters, digits and dashes, 1 to 63 characters', () => {
    for (const ok of ['a', 'gw-1', 'x'.repeat(63), '0abc']) expect(GATEWAY_ID.test(ok)).toBe(true);
    for (const bad of ['', '-a', 'A', 'a_b', 'a.b', 'x'.repeat(64), 'a b']) expect(GATEWAY_ID.test(bad)).toBe(false);
    expect(() => issueGatewayCert(ca, 'Not_An_Id')).toThrow(/not a gateway id/);
  });
});

describe('signed requests', () => {
  const req = { method: 'POST', path: '/v1/lookup', body: '{"userIdentifier":"alice@example"}' };

  it('signs the method, path, time, nonce and body; the signature verifies against the signer\'s certificate', () => {
    const now = Date.now();
    const h = signRequest(alpha.keyPem, 'alpha', req, { nowMs: now });
    expect(Object.keys(h).sort()).toEqual(['fed-gateway', 'fed-nonce', 'fed-signature', 'fed-timestamp']);
    expect(h['fed-gateway']).toBe('alpha');
    expect(h['fed-timestamp']).toBe(String(now));
    expect(h['fed-nonce']).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(signRequest(alpha.keyPem, 'alpha', req)['fed-nonce']).not.toBe(h['fed-nonce']);
    expect(verifyRequest(alpha.certPem, h, req, now + 1_000)).toEqual({ ok: true, gatewayId: 'alpha', nonce: h['fed-nonce'], timestampMs: now });
    // an empty body signs as ''
    const get = { method: 'GET', path: '/v1/gateways/beta', body: '' };
    expect(verifyRequest(alpha.certPem, signRequest(alpha.keyPem, 'alpha', get), get, Date.now())).toMatchObject({ ok: true });
  });

  it('refuses a tampered body, path, method, nonce or timestamp as bad_signature, and another key\'s signature', () => {
    const now = Date.now();
    const h = signRequest(alpha.keyPem, 'alpha', req, { nowMs: now });
    const bad = { ok: false, reason: 'bad_signature' };
    expect(verifyRequest(alpha.certPem, h, { ...req, body: '{"userIdentifier":"mallory@example"}' }, now)).toEqual(bad);
    expect(verifyRequest(alpha.certPem, h, { ...req, path: '/v1/lookup?x=1' }, now)).toEqual(bad);
    expect(verifyRequest(alpha.certPem, h, { ...req, method: 'PUT' }, now)).toEqual(bad);
    expect(verifyRequest(alpha.certPem, { ...h, 'fed-nonce': 'AAAAAAAAAAAAAAAAAAAAAA' }, req, now)).toEqual(bad);
    expect(verifyRequest(alpha.certPem, { ...h, 'fed-timestamp': String(now + 1) }, req, now)).toEqual(bad);
    // beta's key signing as alpha
    expect(verifyRequest(alpha.certPem, signRequest(beta.keyPem, 'alpha', req, { nowMs: now }), req, now)).toEqual(bad);
    expect(verifyRequest(alpha.certPem, { ...h, 'fed-signature': 'not base64!' }, req, now)).toEqual(bad);
  });

  it('refuses a timestamp outside the tolerance either way as stale, and accepts one at its edge', () => {
    const now = Date.now();
    const old = signRequest(alpha.keyPem, 'alpha', req, { nowMs: now - 300_001 });
    expect(verifyRequest(alpha.certPem, old, req, now)).toEqual({ ok: false, reason: 'stale' });
    const ahead = signRequest(alpha.keyPem, 'alpha', req, { nowMs: now + 300_001 });
    expect(verifyRequest(alpha.certPem, ahead, req, now)).toEqual({ ok: false, reason: 'stale' });
    const edge = signRequest(alpha.keyPem, 'alpha', req, { nowMs: now - 300_000 });
    expect(verifyRequest(alpha.certPem, edge, req, now)).toMatchObject({ ok: true });
    expect(verifyRequest(alpha.certPem, edge, req, now, 1_000)).toEqual({ ok: false, reason: 'stale' });
  });

  it("refuses a header naming another gateway than the certificate's (wrong_gateway), and a request without headers (unsigned)", () => {
    const h = signRequest(alpha.keyPem, 'beta', req);
    expect(verifyRequest(alpha.certPem, h, req, Date.now())).toEqual({ ok: false, reason: 'wrong_gateway' });
    const own = signRequest(alpha.keyPem, 'alpha', req);
    expect(verifyRequest(beta.certPem, own, req, Date.now())).toEqual({ ok: false, reason: 'wrong_gateway' });
    expect(verifyRequest(alpha.certPem, {}, req, Date.now())).toEqual({ ok: false, reason: 'unsigned' });
    const { 'fed-nonce': _n, ...noNonce } = own;
    expect(verifyRequest(alpha.certPem, noNonce, req, Date.now())).toEqual({ ok: false, reason: 'unsigned' });
    expect(verifyRequest(alpha.certPem, { ...own, 'fed-signature': ['a', 'b'] }, req, Date.now())).toEqual({ ok: false, reason: 'unsigned' });
  });
});

describe('mutual TLS on loopback', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer(tlsServerOptions({ ...alpha, caPem: ca.certPem }), (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ peer: gatewayIdOf(`-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64')}\n-----END CERTIFICATE-----\n`),
          protocol: (req.socket as TLSSocket).getProtocol() }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function get(opts: RequestOptions): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, ...opts }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end();
    });
  }

  it("serves a gateway of the CA over TLS 1.3 and sees the client's gateway id", async () => {
    const r = await get(tlsClientOptions({ ...beta, caPem: ca.certPem }));
    expect(r).toEqual({ status: 200, body: { peer: 'beta', protocol: 'TLSv1.3' } });
  });

  it('refuses a client certificate from another CA, and a client without one', async () => {
    const stranger = issueGatewayCert(otherCa, 'beta');
    await expect(get(tlsClientOptions({ ...stranger, caPem: ca.certPem }))).rejects.toThrow();
    await expect(get({ ca: ca.certPem, minVersion: 'TLSv1.3' })).rejects.toThrow();
  });

  it("refuses a server whose certificate is not from the client's CA", async () => {
    await expect(get(tlsClientOptions({ ...beta, caPem: otherCa.certPem }))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });
});

describe('credentials on disk', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pb-fed-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('makes the CA and each gateway once (keys mode 0600), keeps them on the next run, and loads them', () => {
    const made: string[] = [];
    ensureFederationCredentials(dir, ['alpha', 'beta'], (s) => made.push(s));
    expect(made.map((s) => s.split(' ').slice(0, 2).join(' '))).toEqual(['made the', 'made gateway', 'made gateway']);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'alpha.key')).mode & 0o777).toBe(0o600);
    const first = loadGatewayCredentials(dir, 'alpha');
    const again: string[] = [];
    ensureFederationCredentials(dir, ['alpha', 'gamma'], (s) => again.push(s));
    expect(again.map((s) => s.split(' ').slice(0, 2).join(' '))).toEqual(['kept the', 'kept gateway', 'made gateway']);
    const c = loadGatewayCredentials(dir, 'alpha');
    expect(c).toEqual(first);
    expect(verifyGatewayCert(c.certPem, c.caPem, Date.now())).toMatchObject({ ok: true, gatewayId: 'alpha' });
  });

  it('names the missing file and the command that makes it', () => {
    expect(() => loadGatewayCredentials(dir, 'nobody')).toThrow(/nobody\.key.*npm run federation:ca/);
    expect(() => ensureFederationCredentials(dir, ['Bad_Id'])).toThrow(/not a gateway id/);
  });
});
