// Goal: netting and federated payments between two real deployments survive the failures they will meet. A net
// transfer the debtor's processor refuses (503) is retried until it is paid, and paid once; workers SIGKILLed, and the
// buyer's API (its gateway) SIGKILLed, while payments are in flight: each payment is decided once and recorded once
// on each side; the buyer's gateway certificate expiring mid-window: payments to it are declined payer_unreachable
// (A refuses the expired certificate), and once it is renewed (the directory told by B's API at its start) payments
// go through again and the window settles with what was authorized, both ledgers agreeing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { expect, describe, inject, it } from 'vitest';
import { accounts, buyerReceivable, sellerPayable } from '../../ledger/accounts';
import { openDatabase, type Database } from '../../ledger/db';
import { issueGatewayCert, loadGatewayCredentials, tlsClientOptions } from '../../processors/federation/pki';
import { createStores } from '../../stores';
import { uid } from '../support/env';
import { type Deployment, type Federation, type FederationOptions, startFederation, buyerAlias, type Party, seller } from '../support/federation';
import { call } from '../support/http';

interface Running { fed: Federation; a: Database; b: Database; opA: string; opB: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A federation with its two databases open and an operator key on each; stopped (and closed) after f, whatever happens. */
async function withFederation(env: Record<string, string>, f: (r: Running) => Promise<void>, opts: FederationOptions = {}): Promise<void> {
  const fed = await startFederation(env, process.env.FEDERATION_LOG_DIR, opts);
  const a = openDatabase(inject('databaseUrl'), { poolMax: 2 });
  const b = openDatabase(fed.b.databaseUrl, { poolMax: 2 });
  try {
    const operatorOf = async (db: Database) => (await createStores(db).principals.create('operator', 'Netting operator')).apiKey;
    await f({ fed, a, b, opA: await operatorOf(a), opB: await operatorOf(b) });
  } finally {
    await fed.b.admin.clearFaults().catch(() => {});
    await a.close();
    await b.close();
    await fed.stop();
  }
}


const payRequest = (d: Deployment, s: Party, alias: string) =>
  call(d.base, '/federation/payments', { key: s.key, body: { clientId: uid('c-'), buyerIdentifier: alias, itemId: 'article', currency: 'USD' } });

/** A payment that must be authorized at once. */
async function pay(d: Deployment, s: Party, alias: string) {
  const r = await payRequest(d, s, alias);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.state).toBe('authorized');
  return r.body;
}

/** Polls f every 200 ms until it gives a value, for at most ms. */
async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** A federated payment's view at A once it is decided (no longer pending). */
const decided = (d: Deployment, s: Party, id: string, ms = 90_000) => until(`payment ${id} to be decided`, async () => {
  const r = await call(d.base, `/federation/payments/${id}`, { key: s.key });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.state === 'pending' ? undefined : r.body;
}, ms);

/** Window seq between A (the coordinator) and B, as each side holds it, once both say settled. */
async function settledWindow(r: Running, seq: number, ms = 60_000) {
  const { fed } = r;
  return until(`window ${seq} to settle at both sides`, async () => {
    const [wa, wb] = [await r.a.db('netting_windows').where({ peer_gateway: fed.b.gatewayId, seq }).first(),
      await r.b.db('netting_windows').where({ peer_gateway: fed.a.gatewayId, seq }).first()];
    return wa?.state === 'settled' && wb?.state === 'settled' ? { wa, wb } : undefined;
  }, ms);
}

/**
 * Both ledgers after window seq settled with B paying A netMinor: what each owed the other is cleared, the cash moved
 * is the same amount (received at A, paid at B), and both trial balances are zero.
 */
async function ledgersAgree(r: Running, seq: number, netMinor: number) {
  const { fed } = r;
  const books = { a: createStores(r.a).ledger, b: createStores(r.b).ledger };
  for (const [me, peer] of [['a', fed.b.gatewayId], ['b', fed.a.gatewayId]] as const) {
    const [receivable, payable] = await Promise.all([
      books[me].balance(buyerReceivable(`federation:${peer}`, 'USD').id), books[me].balance(sellerPayable(`federation:${peer}`, 'USD').id)]);
    expect([receivable.amountMinor, payable.amountMinor], me).toEqual([0n, 0n]);
  }
  const cashOf = async (db: Database) => {
    const entries = await db.db('journal_entries').where('idempotency_key', `netting:${fed.a.gatewayId}:${fed.b.gatewayId}:${seq}:USD`);
    expect(entries).toHaveLength(1);
    const postings = await db.db('postings').where({ entry_id: entries[0].id, account_id: accounts('USD', '-').clearing.id });
    return postings.map((p) => Number(p.amount_minor));
  };
  expect(await cashOf(r.a)).toEqual([netMinor]);
  expect(await cashOf(r.b)).toEqual([-netMinor]);
  for (const d of [r.a, r.b]) expect([...(await createStores(d).ledger.trialBalance()).values()].every((v) => v === 0n)).toBe(true);
}

/** The payouts B's processor simulator made to A's settlement account (its state is in B's database). */
const payoutsToA = (r: Running) => r.b.db('processor_sim.payouts').where({ destination: `settlement-${r.fed.a.gatewayId}` });

describe("a netting transfer the debtor's processor fails", () => {
  it('is retried until the processor answers, and the net moves once', async () => {
    await withFederation({ PAYBROKER_NETTING_MAX_TRANSACTIONS: '3', PAYBROKER_NETTING_PERIOD: '1 hour' }, async (r) => {
      const { fed } = r;
      const [news1, news2] = [await seller(fed.a, r.opA, 'A News', 25), await seller(fed.a, r.opA, 'A Daily', 40)];
      const bShop = await seller(fed.b, r.opB, 'B Shop', 30);
      const [aliasOfB, aliasOfA] = [await buyerAlias(fed.b, r.opB), await buyerAlias(fed.a, r.opA)];

      // B's buyer pays two sellers of A (25 + 40), A's buyer a seller of B (30): B owes A 35 net
      await pay(fed.a, news1, aliasOfB);
      await pay(fed.a, news2, aliasOfB);
      // B's processor answers 503 to every call before the window closes; recording the third transaction does not
      // touch it (an authorization is the ledger's and the gateways')
      await fed.b.admin.setFaults({ mode: 'down', downStyle: '503' });
      const third = await pay(fed.b, bShop, aliasOfA);
      expect(await r.b.db('micro_payments').where({ client_id: `fed:${third.id}` })).toHaveLength(1);
      expect((await r.a.db('federated_authorizations').where({ from_gateway: fed.b.gatewayId, transaction_id: third.id })).map((x) => x.state))
        .toEqual(['approved']);
      expect(await r.a.db('micro_payments').where({ client_id: `fed:${fed.b.gatewayId}:${third.id}` })).toHaveLength(1);

      // the window closes and is agreed, but B cannot pay: A's window waits agreed, with no transfer
      const agreed = await until("A's window to be agreed", async () => {
        const w = await r.a.db('netting_windows').where({ peer_gateway: fed.b.gatewayId, seq: 1 }).first();
        return w?.state === 'agreed' ? w : undefined;
      });
      expect(agreed.transactions).toBe(3);
      expect(agreed.transfers).toEqual([]);
      await sleep(4_000); // a few of A's attempts (1 s, 2 s apart) reach B and fail at its processor
      const still = await r.a.db('netting_windows').where({ peer_gateway: fed.b.gatewayId, seq: 1 }).first();
      expect([still.state, still.transfers]).toEqual(['agreed', []]);
      expect(await payoutsToA(r)).toEqual([]);

      await fed.b.admin.clearFaults();
      const { wa, wb } = await settledWindow(r, 1, 90_000);
      expect([wa.transactions, wb.transactions]).toEqual([3, 3]);
      expect(wa.positions[0]).toMatchObject({ currency: 'USD', netMinor: 35, debtor: fed.b.gatewayId, creditor: fed.a.gatewayId });
      expect(wa.transfers).toHaveLength(1);
      expect(wb.transfers).toEqual(wa.transfers);

      // exactly one payout at B's processor, of the net, to A's settlement account: the one both windows name
      const payouts = await payoutsToA(r);
      expect(payouts.map((p) => [p.id, Number(p.amount_minor), p.currency])).toEqual([[wa.transfers[0].transferId, 35, 'USD']]);
      expect(await fed.b.processor.getTransaction(wa.transfers[0].transferId))
        .toMatchObject({ amountMinor: 35, currency: 'USD', destination: `settlement-${fed.a.gatewayId}` });
      await ledgersAgree(r, 1, 35);
    });
  }, 240_000);
});

describe('processes SIGKILLed while federated payments are in flight', () => {
  it('decides and records each payment once: workers killed on both sides, B’s API (its gateway), A’s worker while its workflows ask', async () => {
    await withFederation({ PAYBROKER_FEDERATION_DEADLINE: '60s', PAYBROKER_NETTING_MAX_TRANSACTIONS: '1000' }, async (r) => {
      const { fed } = r;
      const news = await seller(fed.a, r.opA, 'A Burst', 25);
      const aliasOfB = await buyerAlias(fed.b, r.opB);

      /** Fires n payments at A at once, calls disrupt right after, and gives each payment's decided view. */
      const burst = async (n: number, disrupt: () => Promise<void>) => {
        const answers = Array.from({ length: n }, () => payRequest(fed.a, news, aliasOfB));
        await sleep(150);
        await disrupt();
        const ids: string[] = [];
        for (const a of answers) {
          const res = await a;
          expect([201, 202], JSON.stringify(res.body)).toContain(res.status);
          ids.push(res.body.id);
        }
        return Promise.all(ids.map((id) => decided(fed.a, news, id)));
      };

      /** An authorized payment: one micro-payment at A, one approved authorization and one micro-payment at B. */
      const recordedOnce = async (id: string) => {
        expect(await r.a.db('micro_payments').where({ client_id: `fed:${id}` }), id).toHaveLength(1);
        const auths = await r.b.db('federated_authorizations').where({ transaction_id: id });
        expect(auths.map((x) => [x.from_gateway, x.state]), id).toEqual([[fed.a.gatewayId, 'approved']]);
        expect(await r.b.db('micro_payments').where({ client_id: `fed:${fed.a.gatewayId}:${id}` }), id).toHaveLength(1);
      };

      // both workers SIGKILLed right after the payments start, then started again (A's API asks B at once; a payment
      // it cannot decide so is its worker's workflow's)
      const first = await burst(10, async () => {
        await Promise.all([fed.a.kill('worker'), fed.b.kill('worker')]);
        await Promise.all([fed.a.start('worker'), fed.b.start('worker')]);
      });
      for (const v of first) {
        expect(v, JSON.stringify(v)).toMatchObject({ state: 'authorized' });
        await recordedOnce(v.id);
      }

      // B's API (and its gateway) SIGKILLed mid-burst, back a second later: A's workflows ask again until B answers
      const second = await burst(10, async () => {
        await fed.b.kill('api');
        await sleep(1_000);
        await fed.b.start('api');
      });
      for (const v of second) {
        if (v.state === 'authorized') {
          await recordedOnce(v.id);
        } else {
          expect(v, JSON.stringify(v)).toMatchObject({ state: 'declined', failure: { code: 'payer_unreachable' }, micropaymentId: null });
          expect(await r.a.db('micro_payments').where({ client_id: `fed:${v.id}` })).toEqual([]);
          // B, told to cancel, holds it at most once and never approved in the end
          const rows = await until(`B to drop ${v.id}`, async () => {
            const got = await r.b.db('federated_authorizations').where({ transaction_id: v.id });
            return got.every((x) => x.state !== 'approved') ? got : undefined;
          });
          expect(rows.length).toBeLessThanOrEqual(1);
        }
      }
      // with a 60 s deadline and B back within seconds, every one of them got through
      expect(second.map((v) => v.state)).toEqual(Array(10).fill('authorized'));

      // B's API down first, so that A's API cannot decide at once and its workflows take over the asking; A's worker
      // SIGKILLed while they ask again, B back, then A's worker: each workflow picks up where it was
      await fed.b.kill('api');
      const third = await burst(10, async () => {
        await sleep(1_500);
        await fed.a.kill('worker');
        await fed.b.start('api');
        await fed.a.start('worker');
      });
      for (const v of third) {
        expect(v, JSON.stringify(v)).toMatchObject({ state: 'authorized' });
        await recordedOnce(v.id);
      }

      // and nothing is approved twice at B: one row per transaction, one micro-payment per approval
      const all = [...first, ...second, ...third].map((v) => v.id);
      const rows = await r.b.db('federated_authorizations').where({ from_gateway: fed.a.gatewayId }).select('transaction_id', 'state');
      expect(rows.map((x) => x.transaction_id).sort()).toEqual([...all].sort());
      expect(rows.filter((x) => x.state === 'approved')).toHaveLength(30);
      const bPayments = await r.b.db('micro_payments').where('client_id', 'like', `fed:${fed.a.gatewayId}:%`);
      expect(bPayments).toHaveLength(30);
    });
  }, 240_000);
});

describe("the buyer's gateway certificate expiring mid-window", () => {
  it('declines payments to it payer_unreachable until renewed; then they go through and the window settles', async () => {
    let expiresAt = 0;
    const prepare = (dir: string, ids: { a: string; b: string }) => {
      const ca = { keyPem: readFileSync(join(dir, 'ca.key'), 'utf8'), certPem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
      expiresAt = Date.now() + 45_000; // past the federation's start, one payment, and some slack
      const keyPem = readFileSync(join(dir, `${ids.b}.key`), 'utf8');
      writeFileSync(join(dir, `${ids.b}.pem`), issueGatewayCert(ca, ids.b, { keyPem, notAfter: new Date(expiresAt) }).certPem);
    };
    await withFederation({
      PAYBROKER_NETTING_MAX_TRANSACTIONS: '2', PAYBROKER_NETTING_PERIOD: '1 hour', PAYBROKER_FEDERATION_DEADLINE: '6s',
      PAYBROKER_DIRECTORY_CACHE_TTL: '1s',
    }, async (r) => {
      const { fed } = r;
      const news = await seller(fed.a, r.opA, 'A Certs', 25);
      const aliasOfB = await buyerAlias(fed.b, r.opB);
      const beforeExpiry = await pay(fed.a, news, aliasOfB);
      expect(Date.now(), 'the federation took too long to start for the certificate planned').toBeLessThan(expiresAt - 2_000);

      // B's certificate expires (X.509 validity is to the second): A's client refuses it in the handshake
      await sleep(expiresAt - Date.now() + 2_000);
      const agent = new Agent({ connect: tlsClientOptions(loadGatewayCredentials(fed.dir, fed.a.gatewayId)) });
      const handshake = await request(`${fed.b.gatewayUrl}/federation/v1/authorizations`, { method: 'POST', dispatcher: agent, body: '{}' })
        .then((res) => `answered ${res.statusCode}`, (err: Error & { code?: string }) => err.code ?? err.message)
        .finally(() => agent.close());
      expect(handshake).toBe('CERT_HAS_EXPIRED');
      const refused = await payRequest(fed.a, news, aliasOfB);
      expect([201, 202], JSON.stringify(refused.body)).toContain(refused.status);
      const declined = await decided(fed.a, news, refused.body.id, 30_000);
      expect(declined).toMatchObject({ state: 'declined', failure: { code: 'payer_unreachable' }, micropaymentId: null });
      expect(await r.a.db('micro_payments').where({ client_id: `fed:${declined.id}` })).toEqual([]);
      expect(await r.b.db('federated_authorizations').where({ transaction_id: declined.id })).toEqual([]);
      const open = await r.a.db('netting_windows').where({ peer_gateway: fed.b.gatewayId, seq: 1 }).first();
      expect(open?.state).toBe('open');

      // renewed: a fresh certificate for B's key; B's API, started again, renews its entry in the directory
      const ca = { keyPem: readFileSync(join(fed.dir, 'ca.key'), 'utf8'), certPem: readFileSync(join(fed.dir, 'ca.pem'), 'utf8') };
      const keyPem = readFileSync(join(fed.dir, `${fed.b.gatewayId}.key`), 'utf8');
      const renewed = issueGatewayCert(ca, fed.b.gatewayId, { keyPem });
      writeFileSync(join(fed.dir, `${fed.b.gatewayId}.pem`), renewed.certPem);
      await Promise.all([fed.b.kill('api'), fed.b.kill('worker')]);
      await Promise.all([fed.b.start('api'), fed.b.start('worker')]);
      const entry = await until('the directory to list the renewed certificate', async () => {
        const e = (await fed.admin.gateways()).find((g: { gatewayId: string }) => g.gatewayId === fed.b.gatewayId);
        return e && Date.parse(e.notAfter) > expiresAt + 86_400_000 ? e : undefined;
      }, 20_000);
      expect(entry.status).toBe('approved');
      await sleep(1_500); // A's directory cache (1 s) forgets the old certificate

      const afterRenewal = await pay(fed.a, news, aliasOfB);
      const { wa, wb } = await settledWindow(r, 1);
      expect([wa.transactions, wb.transactions]).toEqual([2, 2]);
      expect(wa.positions[0]).toMatchObject({ currency: 'USD', netMinor: 50, debtor: fed.b.gatewayId, creditor: fed.a.gatewayId });
      const inWindow = await r.a.db('federated_payments').where({ payer_gateway: fed.b.gatewayId, window_seq: 1 }).pluck('id');
      expect(inWindow.sort()).toEqual([beforeExpiry.id, afterRenewal.id].sort());
      expect(wa.transfers).toHaveLength(1);
      expect(wb.transfers).toEqual(wa.transfers);
      const payouts = await payoutsToA(r);
      expect(payouts.map((p) => [p.id, Number(p.amount_minor)])).toEqual([[wa.transfers[0].transferId, 50]]);
      await ledgersAgree(r, 1, 50);
    }, { prepare });
  }, 240_000);
});
