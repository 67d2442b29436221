// Goal: the aggregator. Authorized transactions both ways between services A and B accumulate in a netting window,
// which closes after N of them (here 3): the net amount moves once, from the net debtor's processor to the net
// creditor's settlement account, both ledgers post it and agree to the cent (what each owed the other cleared), and
// the sellers of each side are credited through their normal period credits.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { netPositions, nettingCoordinator } from '../../domain/federation';
import { accounts, buyerReceivable, sellerPayable } from '../../ledger/accounts';
import { openDatabase, type Database } from '../../ledger/db';
import { createStores } from '../../stores';
import { call } from '../support/http';
import { uid } from '../support/env';
import { startFederation, type Deployment, type Federation, buyerAlias, type Party, seller } from '../support/federation';

let fed: Federation;
let dbs: { a: Database; b: Database };

const operatorOf = async (db: Database) => (await createStores(db).principals.create('operator', 'Netting operator')).apiKey;


async function pay(d: Deployment, s: Party, alias: string) {
  const r = await call(d.base, '/federation/payments', { key: s.key, body: { clientId: uid('c-'), buyerIdentifier: alias, itemId: 'article', currency: 'USD' } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.state).toBe('authorized');
  return r.body;
}

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  fed = await startFederation({ PAYBROKER_NETTING_MAX_TRANSACTIONS: '3', PAYBROKER_NETTING_PERIOD: '1 hour' });
  dbs = { a: openDatabase(inject('databaseUrl'), { poolMax: 2 }), b: openDatabase(fed.b.databaseUrl, { poolMax: 2 }) };
}, 180_000);

afterAll(async () => {
  await dbs?.a.close();
  await dbs?.b.close();
  await fed?.stop();
});

describe('a netting window between two services', () => {
  it('closes after 3 transactions, moves the net once from the debtor to the creditor, and both ledgers agree', async () => {
    const [opA, opB] = [await operatorOf(dbs.a), await operatorOf(dbs.b)];
    const [news1, news2] = [await seller(fed.a, opA, 'A News', 25), await seller(fed.a, opA, 'A Daily', 40)];
    const bShop = await seller(fed.b, opB, 'B Shop', 30);
    const [aliasOfB, aliasOfA] = [await buyerAlias(fed.b, opB), await buyerAlias(fed.a, opA)];

    // B's buyer pays two sellers of A (25 + 40), A's buyer pays a seller of B (30): B owes A 35 net
    await pay(fed.a, news1, aliasOfB);
    await pay(fed.a, news2, aliasOfB);
    await pay(fed.b, bShop, aliasOfA);

    const coordinator = nettingCoordinator(fed.a.gatewayId, fed.b.gatewayId);
    const [c, m] = coordinator === fed.a.gatewayId ? [dbs.a, dbs.b] : [dbs.b, dbs.a];
    const peerOfC = coordinator === fed.a.gatewayId ? fed.b.gatewayId : fed.a.gatewayId;
    const settled = await until('the window to settle at both sides', async () => {
      const [wc, wm] = [await c.db('netting_windows').where({ peer_gateway: peerOfC, seq: 1 }).first(),
        await m.db('netting_windows').where({ peer_gateway: coordinator, seq: 1 }).first()];
      if (wc?.state === 'mismatch' || wm?.state === 'mismatch') throw new Error(`a mismatch: ${JSON.stringify([wc?.mismatches, wm?.mismatches])}`);
      return wc?.state === 'settled' && wm?.state === 'settled' ? { wc, wm } : undefined;
    });
    expect(settled.wc.transactions).toBe(3);
    expect(settled.wm.transactions).toBe(3);
    const position = settled.wc.positions[0];
    expect(position).toMatchObject({ currency: 'USD', netMinor: 35, debtor: fed.b.gatewayId, creditor: fed.a.gatewayId });
    expect(settled.wc.transfers).toHaveLength(1);
    expect(settled.wm.transfers.map((t: { transferId: string }) => t.transferId).concat(settled.wc.transfers.map((t: { transferId: string }) => t.transferId))
      .every((id: string) => id === settled.wc.transfers[0].transferId)).toBe(true);

    // the processor moved it once: B's payout of 35 to A's settlement account
    const transfer = await fed.b.processor.getTransaction(settled.wc.transfers[0].transferId);
    expect(transfer).toMatchObject({ amountMinor: 35, currency: 'USD', destination: `settlement-${fed.a.gatewayId}` });

    // both ledgers: what each owed the other is cleared, and the cash moved is the same 35 (received at A, paid at B)
    const books = { a: createStores(dbs.a).ledger, b: createStores(dbs.b).ledger };
    const of = (me: 'a' | 'b', peer: string) => Promise.all([
      books[me].balance(buyerReceivable(`federation:${peer}`, 'USD').id), books[me].balance(sellerPayable(`federation:${peer}`, 'USD').id)]);
    for (const [me, peer] of [['a', fed.b.gatewayId], ['b', fed.a.gatewayId]] as const) {
      const [receivable, payable] = await of(me, peer);
      expect([receivable.amountMinor, payable.amountMinor], me).toEqual([0n, 0n]);
    }
    const cashEntry = async (db: Database) => (await db.db('journal_entries').where('idempotency_key', `netting:${coordinator}:${peerOfC}:1:USD`).first()).id;
    const cashOf = async (db: Database) => Number((await db.db('postings').where({ entry_id: await cashEntry(db), account_id: accounts('USD', '-').clearing.id }).first()).amount_minor);
    expect(await cashOf(dbs.a)).toBe(35);
    expect(await cashOf(dbs.b)).toBe(-35);
    for (const d of [dbs.a, dbs.b]) expect([...(await createStores(d).ledger.trialBalance()).values()].every((v) => v === 0n)).toBe(true);

    // A's sellers are credited through their normal credits: their payable is what B's buyer spent with them
    const credit = async (s: Party) => (await books.a.balance(sellerPayable(s.id, 'USD').id)).amountMinor;
    expect([await credit(news1), await credit(news2)]).toEqual([-25n, -40n]);
  });
});

describe("the member's agreement to a closed window", () => {
  it('waits for a listed payment it asked about and has not decided yet (nothing written), agrees once it is authorized', async () => {
    const netting = createStores(dbs.a).netting;
    const [me, coordinator, id] = [fed.a.gatewayId, `c-${uid().toLowerCase()}`, uid('fp_')];
    await dbs.a.db('federated_payments').insert({ id, seller_id: 'sel_x', client_id: id, request_sha256: 'x', alias: 'al_x', payee_gateway: me,
      payer_gateway: coordinator, item_id: 'article', category: 'news', currency: 'USD', amount_minor: 25, fee_minor: 0, input: '{}' });
    const txs = [{ transactionId: id, payerGateway: coordinator, payeeGateway: me, currency: 'USD', amountMinor: 25 }];
    const positions = netPositions(coordinator, me, txs);

    expect(await netting.agree(me, coordinator, 1, txs, positions)).toEqual({ waiting: [id] });
    expect(await dbs.a.db('netting_windows').where({ peer_gateway: coordinator })).toEqual([]);

    await dbs.a.db('federated_payments').where({ id }).update({ state: 'authorized' });
    expect(await netting.agree(me, coordinator, 1, txs, positions)).toEqual({ agreed: true });
    expect((await dbs.a.db('federated_payments').where({ id }).first()).window_seq).toBe(1);

    // one it never heard of is a mismatch, kept
    const stranger = [{ ...txs[0], transactionId: uid('fp_') }];
    expect(await netting.agree(me, coordinator, 2, stranger, netPositions(coordinator, me, stranger))).toMatchObject({ agreed: false });
    expect((await dbs.a.db('netting_windows').where({ peer_gateway: coordinator, seq: 2 }).first()).state).toBe('mismatch');
  });
});
