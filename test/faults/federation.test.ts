// Goal: federation under attack and failure, across two real deployments and the real gateway directory. The buyer's
// gateway (B) refuses, over real mutual TLS, every request it should: unsigned, tampered, replayed, from a certificate
// of another CA (the handshake fails), from a gateway the directory does not know, malformed, or reusing a
// transaction id; B's API (and its gateway) SIGKILLed while a seller of A is paid: declined payer_unreachable at A, and
// once B is back it is told to cancel, never holding the payment as approved; the directory down: payments by a new
// identifier and new aliases are refused 503 directory_unavailable, nothing kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../ledger/db';
import {
  createCa, type GatewayCredentials, issueGatewayCert, loadGatewayCredentials, signRequest, tlsClientOptions,
} from '../../processors/federation/pki';
import { createStores } from '../../stores';
import { uid } from '../support/env';
import { startFederation, type Federation } from '../support/federation';
import { call } from '../support/http';
import { tokenizeCard } from '../support/processor-calls';

const AUTHORIZE = '/federation/v1/authorizations';

let fed: Federation;
let aDb: Database;
let bDb: Database;
let seller: { id: string; key: string };
let buyer: { id: string; key: string };
const agents: Agent[] = [];

async function operatorKey(db: Database): Promise<string> {
  return (await createStores(db).principals.create('operator', 'Federation operator')).apiKey;
}

async function alias(body: Record<string, unknown> = {}): Promise<string> {
  const rs = await call(fed.b.base, '/rule-sets', { key: buyer.key, idem: uid('rs-'), body: { rules: { maxPerPaymentMinor: 1000 } } });
  expect(rs.status).toBe(201);
  const r = await call(fed.b.base, '/federation/aliases', { key: buyer.key, idem: uid('al-'), body: { ruleSetId: rs.body.id, ...body } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.alias as string;
}

const pay = (buyerIdentifier: string, clientId = uid('c-')) =>
  call(fed.a.base, '/federation/payments', { key: seller.key, body: { clientId, buyerIdentifier, itemId: 'article', currency: 'USD' } });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An undici agent presenting these credentials over mutual TLS (trusting the federation's CA for the server). */
function agentOf(c: { keyPem: string; certPem: string; caPem: string }): Agent {
  const agent = new Agent({ connect: tlsClientOptions(c) });
  agents.push(agent);
  return agent;
}

/** Sends a request to B's gateway as it is (headers given, body text exact). */
async function send(agent: Agent, path: string, body: string, headers: Record<string, string>) {
  const res = await request(`${fed.b.gatewayUrl}${path}`, {
    method: 'POST', dispatcher: agent, body, headers: { 'content-type': 'application/json', ...headers },
    headersTimeout: 10_000, bodyTimeout: 10_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

const signed = (c: Pick<GatewayCredentials, 'keyPem' | 'gatewayId'>, path: string, body: string, opts: { nowMs?: number } = {}) =>
  signRequest(c.keyPem, c.gatewayId, { method: 'POST', path, body }, opts);

const authorization = (a: string, over: Record<string, unknown> = {}) => JSON.stringify({
  transactionId: uid('tx-'), alias: a, amountMinor: 25, currency: 'USD', payee: { sellerId: 'sel_fault', itemId: 'article', category: 'news' }, ...over,
});

beforeAll(async () => {
  fed = await startFederation({ PAYBROKER_FEDERATION_DEADLINE: '4s' });
  aDb = openDatabase((await import('vitest')).inject('databaseUrl'), { poolMax: 2 });
  bDb = openDatabase(fed.b.databaseUrl, { poolMax: 2 });
  const [aOp, bOp] = [await operatorKey(aDb), await operatorKey(bDb)];
  const s = await call(fed.a.base, '/sellers', { key: aOp, idem: uid('s-'), body: { name: 'A Faults', currency: 'USD', payoutDestination: 'acct_a_f', feeBps: 500 } });
  expect(s.status).toBe(201);
  seller = { id: s.body.id, key: s.body.apiKey };
  const item = await call(fed.a.base, `/sellers/${seller.id}/items/article`, { method: 'PUT', key: seller.key,
    body: { title: 'article', category: 'news', priceMinor: 25, currency: 'USD', grantSeconds: 3600 } });
  expect(item.status).toBeLessThan(300);
  const b = await call(fed.b.base, '/buyers', { key: bOp, idem: uid('b-'),
    body: { name: `Buyer ${uid()}`, currency: 'USD', paymentToken: await tokenizeCard(fed.b.processor) } });
  expect(b.status).toBe(201);
  buyer = { id: b.body.id, key: b.body.apiKey };
}, 180_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => {})));
  await fed?.admin.setFaults('none').catch(() => {});
  await aDb?.close();
  await bDb?.close();
  await fed?.stop();
});

describe("B's gateway refuses bad requests, over real mutual TLS", () => {
  let creds: GatewayCredentials;
  let agent: Agent;
  let realAlias: string;
  beforeAll(async () => {
    creds = loadGatewayCredentials(fed.dir, fed.a.gatewayId);
    agent = agentOf(creds);
    realAlias = await alias();
  });

  it('answers a signed request from an approved gateway (the valid case)', async () => {
    const body = authorization(realAlias);
    const r = await send(agent, AUTHORIZE, body, signed(creds, AUTHORIZE, body));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ transactionId: JSON.parse(body).transactionId, decision: 'approved' });
  });

  it('refuses an unsigned request: 401 unsigned', async () => {
    const r = await send(agent, AUTHORIZE, authorization(realAlias), {});
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('unsigned');
  });

  it('refuses a body changed after signing: 401 bad_signature, and nothing is decided', async () => {
    const body = authorization(realAlias);
    const tampered = body.replace('"amountMinor":25', '"amountMinor":26');
    expect(tampered).not.toBe(body);
    const r = await send(agent, AUTHORIZE, tampered, signed(creds, AUTHORIZE, body));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('bad_signature');
    const rows = await bDb.db('federated_authorizations').where({ transaction_id: JSON.parse(body).transactionId });
    expect(rows).toEqual([]);
  });

  it('refuses a request signed long ago (stale) and one signed for another gateway than its certificate names (wrong_gateway)', async () => {
    const body = authorization(realAlias);
    const stale = await send(agent, AUTHORIZE, body, signed(creds, AUTHORIZE, body, { nowMs: Date.now() - 10 * 60_000 }));
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe('stale');
    const wrong = await send(agent, AUTHORIZE, body, signed({ keyPem: creds.keyPem, gatewayId: fed.b.gatewayId }, AUTHORIZE, body));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('wrong_gateway');
  });

  it('answers the same signed request once: sent again it is 401 replayed', async () => {
    const body = authorization(realAlias);
    const headers = signed(creds, AUTHORIZE, body);
    const first = await send(agent, AUTHORIZE, body, headers);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.decision).toBe('approved');
    const again = await send(agent, AUTHORIZE, body, headers);
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('replayed');
    // a fresh signature over the same request is not a replay: the same decision again (idempotent by transaction id)
    const resent = await send(agent, AUTHORIZE, body, signed(creds, AUTHORIZE, body));
    expect(resent.status).toBe(200);
    expect(resent.body).toEqual(first.body);
    const payments = await bDb.db('micro_payments').where({ client_id: `fed:${fed.a.gatewayId}:${JSON.parse(body).transactionId}` });
    expect(payments).toHaveLength(1);
  });

  it('fails the TLS handshake for a gateway certificate of another CA, even for an approved gateway id', async () => {
    const otherCa = createCa({ commonName: 'Impostor CA' });
    const impostor = issueGatewayCert(otherCa, fed.a.gatewayId);
    const stranger = agentOf({ keyPem: impostor.keyPem, certPem: impostor.certPem, caPem: creds.caPem });
    const body = authorization(realAlias);
    const failure = await send(stranger, AUTHORIZE, body, signed({ keyPem: impostor.keyPem, gatewayId: fed.a.gatewayId }, AUTHORIZE, body))
      .then((r) => { throw new Error(`answered ${r.status}: ${JSON.stringify(r.body)}`); }, (err: unknown) => err as Error & { code?: string; cause?: unknown });
    // the server refuses the client's certificate (an alert, or the socket closed under the request); never an HTTP answer
    expect(`${failure.code ?? ''} ${failure.message} ${(failure.cause as Error | undefined)?.message ?? ''}`).toMatch(/alert|certificate|closed|socket|reset|ECONN|UND_ERR/i);
    const rows = await bDb.db('federated_authorizations').where({ transaction_id: JSON.parse(body).transactionId });
    expect(rows).toEqual([]);
  });

  it('refuses a certificate of the right CA for a gateway the directory does not know: 403 gateway_not_trusted', async () => {
    const ca = { keyPem: readFileSync(join(fed.dir, 'ca.key'), 'utf8'), certPem: readFileSync(join(fed.dir, 'ca.pem'), 'utf8') };
    const unknownId = `x-${uid().toLowerCase()}`;
    const unknown = issueGatewayCert(ca, unknownId);
    const stranger = agentOf({ keyPem: unknown.keyPem, certPem: unknown.certPem, caPem: ca.certPem });
    const body = authorization(realAlias);
    const r = await send(stranger, AUTHORIZE, body, signed({ keyPem: unknown.keyPem, gatewayId: unknownId }, AUTHORIZE, body));
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('gateway_not_trusted');
    // the same for its cancel: nothing is recorded for an untrusted gateway
    const cancelPath = `${AUTHORIZE}/${JSON.parse(body).transactionId}/cancel`;
    const c = await send(stranger, cancelPath, '{}', signed({ keyPem: unknown.keyPem, gatewayId: unknownId }, cancelPath, '{}'));
    expect(c.status).toBe(403);
    expect(await bDb.db('federated_authorizations').where({ from_gateway: unknownId })).toEqual([]);
  });

  it('refuses an invalid body, signed or not its fault: 400 invalid_request (amountMinor 0, an unknown field, not JSON)', async () => {
    for (const body of [
      authorization(realAlias, { amountMinor: 0 }),
      authorization(realAlias, { amountMinor: 100_001 }),
      authorization(realAlias, { tip: 1 }),
      authorization(realAlias, { payee: { sellerId: 's', itemId: 'i', category: 'news', extra: true } }),
      authorization(realAlias, { transactionId: 'has space' }),
      '{"transactionId":',
    ]) {
      const r = await send(agent, AUTHORIZE, body, signed(creds, AUTHORIZE, body));
      expect(r.status, body).toBe(400);
      expect(r.body.error.code, body).toBe('invalid_request');
    }
    // at the limit it is a request like any other (declined here by the buyer's rule set, not refused)
    const atLimit = authorization(realAlias, { amountMinor: 100_000 });
    const ok = await send(agent, AUTHORIZE, atLimit, signed(creds, AUTHORIZE, atLimit));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ decision: 'declined', code: 'amount_over_payment_limit' });
  });

  it('refuses a transaction id reused for another amount: 409 transaction_id_reused, the first decision standing', async () => {
    const transactionId = uid('tx-');
    const first = authorization(realAlias, { transactionId });
    const r1 = await send(agent, AUTHORIZE, first, signed(creds, AUTHORIZE, first));
    expect(r1.status).toBe(200);
    expect(r1.body.decision).toBe('approved');
    const other = authorization(realAlias, { transactionId, amountMinor: 30 });
    const r2 = await send(agent, AUTHORIZE, other, signed(creds, AUTHORIZE, other));
    expect(r2.status).toBe(409);
    expect(r2.body.error.code).toBe('transaction_id_reused');
    const rows = await bDb.db('federated_authorizations').where({ from_gateway: fed.a.gatewayId, transaction_id: transactionId });
    expect(rows.map((x) => [x.state, Number(x.amount_minor)])).toEqual([['approved', 25]]);
  });
});

describe("B's gateway unreachable while a seller of A is paid", () => {
  it('is declined payer_unreachable at A; B, back, is told to cancel and never holds the payment as approved', async () => {
    const a = await alias();
    await fed.b.kill('api');
    let restarted = false;
    try {
      const paid = await pay(a);
      expect([201, 202], JSON.stringify(paid.body)).toContain(paid.status);
      expect(['pending', 'declined']).toContain(paid.body.state);
      const id = paid.body.id as string;
      let seen = paid.body;
      for (let i = 0; i < 150 && seen.state === 'pending'; i++) {
        await sleep(200);
        seen = (await call(fed.a.base, `/federation/payments/${id}`, { key: seller.key })).body;
      }
      expect(seen).toMatchObject({ id, state: 'declined', failure: { code: 'payer_unreachable' }, micropaymentId: null });
      // A recorded nothing for it
      expect(await aDb.db('micro_payments').where({ client_id: `fed:${id}` })).toEqual([]);

      await fed.b.start('api');
      restarted = true;
      const notApprovedAtB = async () => {
        const rows = await bDb.db('federated_authorizations').where({ transaction_id: id });
        for (const row of rows) expect(row.state).not.toBe('approved');
        const mp = await bDb.db('micro_payments').where({ client_id: `fed:${fed.a.gatewayId}:${id}` });
        for (const p of mp) expect(await bDb.db('micro_refunds').where({ payment_id: p.id }), 'an approved payment left unrefunded').toHaveLength(1);
        return rows;
      };
      // A's workflow keeps telling B to cancel (backing off) until B hears: then B's row is cancelled for good
      let rows = await notApprovedAtB();
      for (let i = 0; i < 120 && !(rows.length === 1 && rows[0].state === 'cancelled'); i++) {
        await sleep(1000);
        rows = await notApprovedAtB();
      }
      expect(rows.map((r) => [r.from_gateway, r.state])).toEqual([[fed.a.gatewayId, 'cancelled']]);
      // and A's payment stays declined
      const after = await call(fed.a.base, `/federation/payments/${id}`, { key: seller.key });
      expect(after.body).toMatchObject({ state: 'declined', failure: { code: 'payer_unreachable' } });
    } finally {
      if (!restarted) await fed.b.start('api');
    }
  }, 240_000);
});

describe('the directory down', () => {
  it('refuses a payment by an identifier A never looked up, and a new alias at B: 503 directory_unavailable, nothing kept', async () => {
    const fresh = await alias(); // bound while the directory is up; A has not looked it up
    const usable = async () => {
      const r = await call(fed.b.base, '/federation/aliases?limit=100', { key: buyer.key });
      expect(r.status).toBe(200);
      return (r.body.data as Array<{ alias: string; revokedAt: string | null }>).filter((x) => x.revokedAt === null).map((x) => x.alias).sort();
    };
    const before = await usable();
    expect(before).toContain(fresh);
    await fed.admin.setFaults('down');
    try {
      const clientId = uid('c-');
      const paid = await pay(fresh, clientId);
      expect(paid.status, JSON.stringify(paid.body)).toBe(503);
      expect(paid.body.error.code).toBe('directory_unavailable');
      expect(Number(paid.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await aDb.db('federated_payments').where({ seller_id: seller.id, client_id: clientId })).toEqual([]);

      const rs = await call(fed.b.base, '/rule-sets', { key: buyer.key, idem: uid('rs-'), body: { rules: { maxPerPaymentMinor: 1000 } } });
      expect(rs.status).toBe(201);
      const made = await call(fed.b.base, '/federation/aliases', { key: buyer.key, idem: uid('al-'), body: { ruleSetId: rs.body.id } });
      expect(made.status, JSON.stringify(made.body)).toBe(503);
      expect(made.body.error.code).toBe('directory_unavailable');
      expect(made.headers.get('retry-after')).not.toBeNull();
      expect(await usable()).toEqual(before);
    } finally {
      await fed.admin.setFaults('none');
    }
    // the directory back: the same payment goes through
    const paid = await pay(fresh);
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    expect(paid.body).toMatchObject({ state: 'authorized' });
  }, 120_000);
});
