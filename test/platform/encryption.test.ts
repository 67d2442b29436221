// Goal: what an order tells Paybroker (the customer, the address, the card's token) never reaches Temporal readable.
// The codec seals each payload with AES-256-GCM under the key listed first and opens it with any key listed (a
// rotation keeps old histories readable); a history exported with the CLI holds none of it in clear, while a client
// with the key reads it all back; the codec server opens payloads only for its token, and answers CORS only to the
// Web UI's origin.
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecApp, payloadsToJson } from '../../runtime/codecServer';
import { EncryptionCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, newPayloadKey, parsePayloadKeys } from '../../runtime/payloadCodec';
import { formatMoney } from '../../domain/money';
import { uid } from '../support/env';
import { orderHarness, type OrderHarness } from '../support/orders';
import { submitUpdate } from '../../workflows/order.contract';

const json = (v: unknown): Payload => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(v)) });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();

describe('the payload codec', () => {
  const [old, next] = [newPayloadKey('k-old'), newPayloadKey('k-new')];

  it('seals under the first key (its id in the metadata, nothing of the value in clear) and opens what it sealed', async () => {
    const codec = new EncryptionCodec(parsePayloadKeys(old));
    const [sealed] = await codec.encode([json({ customerId: 'cust-secret' })]);
    expect(text(sealed.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed.metadata![KEY_ID_METADATA])).toBe('k-old');
    expect(Buffer.from(sealed.data!).includes('cust-secret')).toBe(false);
    const [opened] = await codec.decode([sealed]);
    expect([text(opened.metadata!.encoding), JSON.parse(text(opened.data))]).toEqual(['json/plain', { customerId: 'cust-secret' }]);
  });

  it('after a rotation seals under the new key and still opens the old key\'s payloads; without the old key they do not open', async () => {
    const [before] = await new EncryptionCodec(parsePayloadKeys(old)).encode([json('kept')]);
    const rotated = new EncryptionCodec(parsePayloadKeys(`${next},${old}`));
    const [after] = await rotated.encode([json('new')]);
    expect(text(after.metadata![KEY_ID_METADATA])).toBe('k-new');
    expect((await rotated.decode([before, after])).map((p) => JSON.parse(text(p.data)))).toEqual(['kept', 'new']);
    await expect(new EncryptionCodec(parsePayloadKeys(next)).decode([before])).rejects.toThrow(/'k-old', which is not among/);
  });

  it('refuses a payload altered in transit, passes a plain one (written before encryption) as it is', async () => {
    const codec = new EncryptionCodec(parsePayloadKeys(old));
    const [sealed] = await codec.encode([json(1)]);
    const data = Buffer.from(sealed.data!);
    data[20] ^= 1;
    await expect(codec.decode([{ ...sealed, data }])).rejects.toThrow();
    const plain = json({ a: 1 });
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it.each([
    ['', /no payload key/], ['k1', /'id:base64'/], ['k 1:AAAA', /'id:base64'/], ['k1:AAAA', /3 bytes, not 32/],
    [`${newPayloadKey('a')},${newPayloadKey('a')}`, /listed twice/],
  ])('refuses the key list %j', (raw, error) => {
    expect(() => parsePayloadKeys(raw)).toThrow(error);
  });
});

describe('the codec server', () => {
  const keys = newPayloadKey('k1');
  const codec = new EncryptionCodec(parsePayloadKeys(keys));
  const token = `codec_${uid()}`;
  const ui = 'http://127.0.0.1:8233';
  let base: string;
  let close: () => void;
  beforeAll(async () => {
    const server = codecApp({ codec, token, allowedOrigins: [ui] }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

  it('opens payloads for its token, given as a bearer token or as the first path segment (how the Web UI is given it)', async () => {
    const body = payloadsToJson(await codec.encode([json({ line1: '4 Privet Drive' })]));
    for (const [path, headers] of [['/decode', { authorization: `Bearer ${token}` }], [`/${token}/decode`, {}], [`/${token}/default/decode`, {}]] as const) {
      const res = await post(path, body, headers);
      expect(res.status, path).toBe(200);
      const out = await res.json() as { payloads: Array<{ data: string }> };
      expect(JSON.parse(Buffer.from(out.payloads[0].data, 'base64').toString())).toEqual({ line1: '4 Privet Drive' });
    }
  });

  it('refuses without its token, or with another, before reading the body: 401, nothing opened', async () => {
    const body = payloadsToJson(await codec.encode([json('secret')]));
    for (const [path, headers] of [['/decode', {}], ['/decode', { authorization: 'Bearer wrong' }], ['/wrong/decode', {}],
      [`/x/${token}/decode`, {}], ['/encode', {}]] as const) {
      const res = await post(path, body, headers);
      expect(res.status, path).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('answers bad input with a 4xx: not JSON, no payloads, not base64, a key it lacks; and 404 elsewhere', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await post('/decode', '{nope', auth)).status).toBe(400);
    expect((await post('/decode', { payloads: 3 }, auth)).status).toBe(400);
    expect((await post('/decode', { payloads: [{ metadata: { encoding: '***' } }] }, auth)).status).toBe(400);
    const foreign = payloadsToJson(await new EncryptionCodec(parsePayloadKeys(newPayloadKey('other'))).encode([json(1)]));
    expect(await (await post('/decode', foreign, auth)).json()).toMatchObject({ error: { code: 'undecodable' } });
    expect((await fetch(`${base}/elsewhere`, { headers: auth })).status).toBe(404);
  });

  it("lets only the Web UI's origin read its answers (CORS)", async () => {
    const preflight = (origin: string) => fetch(`${base}/${token}/decode`, { method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    const ok = await preflight(ui);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ui);
    expect(ok.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const other = await preflight('http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe("an order's history as Temporal keeps it", () => {
  let h: OrderHarness;
  beforeAll(async () => { h = await orderHarness(); });
  afterAll(async () => h?.close());

  it('holds none of the customer, the address or the token in clear (the CLI\'s export), while a client with the key reads them', async () => {
    const [customerId, line1] = [`cust-${uid()}`, `${uid()} Privet Drive`];
    const token = await h.tokenize();
    const address = { line1, city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
    const { id } = await h.start({ token, input: { customerId, shipping: { optionId: 'standard', address } } });
    const view = (await h.client.workflow.getHandle(id).executeUpdate(submitUpdate)).order;
    expect(view.state).toMatch(/^authorized/);
    // what the Web UI shows as its current details (asked of the workflow; nothing in the history)
    const metadata = await h.client.workflow.getHandle(id).query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toBe(`${view.state}: shipped 0 of 3 items, $0.00 of ${formatMoney(view.totalMinor, 'USD')} captured`);

    const { stdout } = await promisify(execFile)(inject('temporalCliPath'),
      ['workflow', 'show', '--workflow-id', id, '--address', inject('temporalAddress'), '--output', 'json'], { maxBuffer: 64 << 20 });
    const secrets = [customerId, line1, token];
    const strings: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v, Buffer.from(v, 'base64').toString('latin1'));
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    const exported = JSON.parse(stdout);
    walk(exported);
    expect(strings.length).toBeGreaterThan(100);
    for (const s of secrets) expect(strings.filter((x) => x.includes(s)), s).toEqual([]);
    expect(stdout).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));

    // the same history through a client holding the key: the input is all there (so the test above can fail)
    const started = (await h.client.workflow.getHandle(id).fetchHistory()).events![0].workflowExecutionStartedEventAttributes!;
    const [opened] = await new EncryptionCodec(parsePayloadKeys(inject('payloadKeys'))).decode(started.input!.payloads!);
    const decoded = text(opened.data);
    for (const s of secrets) expect(decoded).toContain(s);
  });
});
