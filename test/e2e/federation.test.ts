// Goal: a buyer of service B pays sellers of service A by an alias, across two real deployments (their own databases,
// task queues, API and gateway ports, keys) and the real gateway directory, over mutual TLS: approved by the buyer's
// rules, declined past them, asked of the buyer above its alias's threshold, never authorized twice, and A's records
// and the directory hold nothing of the buyer but the alias.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, openDatabase, type Database } from '../../ledger/db';
import { createStores } from '../../stores';
import { call } from '../support/http';
import { uid } from '../support/env';
import { startFederation, type Federation } from '../support/federation';
import { tokenizeCard } from '../support/processor-calls';

let fed: Federation;
let aDb: Database;
let bDb: Database;
let seller: { id: string; key: string };
let buyer: { id: string; key: string; name: string; token: string };

async function operatorKey(db: Database): Promise<string> {
  return (await createStores(db).principals.create('operator', 'Federation operator')).apiKey;
}

async function ruleSet(rules: Record<string, unknown>): Promise<string> {
  const r = await call(fed.b.base, '/rule-sets', { key: buyer.key, idem: uid('rs-'), body: { rules } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function alias(body: Record<string, unknown>): Promise<string> {
  const r = await call(fed.b.base, '/federation/aliases', { key: buyer.key, idem: uid('al-'), body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.alias as string;
}

const pay = (buyerIdentifier: string, clientId = uid('c-'), itemId = 'article') =>
  call(fed.a.base, '/federation/payments', { key: seller.key, body: { clientId, buyerIdentifier, itemId, currency: 'USD' } });

beforeAll(async () => {
  fed = await startFederation();
  aDb = openDatabase((await import('vitest')).inject('databaseUrl'), { poolMax: 2 });
  bDb = openDatabase(fed.b.databaseUrl, { poolMax: 2 });
  const [aOp, bOp] = [await operatorKey(aDb), await operatorKey(bDb)];
  const s = await call(fed.a.base, '/sellers', { key: aOp, idem: uid('s-'), body: { name: 'A News', currency: 'USD', payoutDestination: 'acct_a_news', feeBps: 500 } });
  expect(s.status).toBe(201);
  seller = { id: s.body.id, key: s.body.apiKey };
  for (const [itemId, priceMinor] of [['article', 25], ['archive', 400]] as const) {
    const it = await call(fed.a.base, `/sellers/${seller.id}/items/${itemId}`, { method: 'PUT', key: seller.key,
      body: { title: itemId, category: 'news', priceMinor, currency: 'USD', grantSeconds: 3600 } });
    expect(it.status).toBeLessThan(300);
  }
  const name = `Buyer ${uid()}`;
  const token = await tokenizeCard(fed.b.processor);
  const b = await call(fed.b.base, '/buyers', { key: bOp, idem: uid('b-'), body: { name, currency: 'USD', paymentToken: token } });
  expect(b.status).toBe(201);
  buyer = { id: b.body.id, key: b.body.apiKey, name, token };
}, 180_000);

afterAll(async () => {
  await aDb?.close();
  await bDb?.close();
  await fed?.stop();
});

describe('a buyer of B pays a seller of A by an alias', () => {
  it('is authorized by the buyer\'s rules, recorded once on both sides, and a repeat answers the same payment', async () => {
    const a = await alias({ ruleSetId: await ruleSet({ maxPerPaymentMinor: 100, allowedCategories: ['news'] }) });
    const clientId = uid('c-');
    const first = await pay(a, clientId);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ object: 'federated_payment', state: 'authorized', amountMinor: 25, feeMinor: 1, payerGateway: fed.b.gatewayId,
      payeeGateway: fed.a.gatewayId, buyerIdentifier: a });
    const again = await pay(a, clientId);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);

    // A: one micro-payment from B's service to the seller; B: one from the buyer to A's service
    const aRows = await aDb.db('micro_payments').where({ seller_id: seller.id, buyer_id: `federation:${fed.b.gatewayId}` });
    expect(aRows.map((r) => Number(r.amount_minor))).toEqual([25]);
    const bRows = await bDb.db('micro_payments').where({ buyer_id: buyer.id, seller_id: `federation:${fed.a.gatewayId}` });
    expect(bRows.map((r) => Number(r.amount_minor))).toEqual([25]);
    const tx = await call(fed.b.base, '/federation/transactions', { key: buyer.key });
    expect(tx.body.data.filter((t: { transactionId: string }) => t.transactionId === first.body.id))
      .toEqual([expect.objectContaining({ state: 'approved', amountMinor: 25, gatewayId: fed.a.gatewayId, counterparty: `${fed.a.gatewayId}:${seller.id}` })]);
  });

  it('is declined past the buyer\'s rules, and by an unknown or revoked alias', async () => {
    const a = await alias({ ruleSetId: await ruleSet({ maxPerPaymentMinor: 100 }) });
    const over = await pay(a, uid('c-'), 'archive');
    expect(over.status).toBe(201);
    expect(over.body).toMatchObject({ state: 'declined', failure: { code: 'amount_over_payment_limit' } });
    const unknown = await pay('fa-zzzzzzzzzzzzzzzz');
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe('unknown_identifier');
    const revoke = await call(fed.b.base, `/federation/aliases/${a}/revoke`, { key: buyer.key, method: 'POST' });
    expect(revoke.status).toBe(200);
    const afterRevoke = await pay(a);
    expect([201, 422]).toContain(afterRevoke.status); // (the directory entry may still be cached at A for a few seconds)
    if (afterRevoke.status === 201) expect(afterRevoke.body).toMatchObject({ state: 'declined', failure: { code: 'unknown_alias' } });
  });

  it('asks the buyer above the alias\'s threshold: pending until the buyer approves through B\'s API', async () => {
    const a = await alias({ ruleSetId: await ruleSet({ maxPerPaymentMinor: 1000 }), askAboveMinor: 100, maxUses: 1 });
    const asked = await pay(a, uid('c-'), 'archive');
    expect(asked.status).toBe(202);
    expect(asked.body.state).toBe('pending');
    const pending = await call(fed.b.base, '/federation/transactions?state=pending', { key: buyer.key });
    const tx = pending.body.data.find((t: { transactionId: string }) => t.transactionId === asked.body.id);
    expect(tx).toMatchObject({ amountMinor: 400, alias: a });
    const approved = await call(fed.b.base, `/federation/transactions/${fed.a.gatewayId}/${asked.body.id}/approve`, { key: buyer.key, method: 'POST' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.state).toBe('approved');
    let seen: { state: string } = asked.body;
    for (let i = 0; i < 100 && seen.state === 'pending'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      seen = (await call(fed.a.base, `/federation/payments/${asked.body.id}`, { key: seller.key })).body;
    }
    expect(seen).toMatchObject({ state: 'authorized', amountMinor: 400 });
    // its one use is spent: the next payment by it is declined
    const used = await pay(a, uid('c-'), 'article');
    expect(used.body).toMatchObject({ state: 'declined', failure: { code: 'alias_used_up' } });
  });

  it('leaves nothing of the buyer at A or in the directory but the alias', async () => {
    const secrets = [buyer.id, buyer.name, buyer.token];
    for (const url of [fed.a.databaseUrl || (await import('vitest')).inject('databaseUrl')]) {
      const db = createDb(url, { poolMax: 1 });
      try {
        const { rows: tables } = await db.raw(`SELECT table_schema, table_name FROM information_schema.tables
          WHERE table_schema IN ('public', 'directory') AND table_type = 'BASE TABLE'`);
        for (const t of tables as Array<{ table_schema: string; table_name: string }>) {
          const { rows } = await db.raw(`SELECT count(*)::int AS n FROM "${t.table_schema}"."${t.table_name}" x WHERE x::text LIKE ANY (?)`,
            [secrets.map((s) => `%${s}%`)]);
          expect(rows[0].n, `${t.table_schema}.${t.table_name}`).toBe(0);
        }
      } finally {
        await db.destroy();
      }
    }
  });
});
