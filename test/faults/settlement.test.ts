// A settlement close interrupted for real: the worker process is SIGKILLed while the close is charging buyers
// (processor files slowed down so the kill lands mid-close), then restarted. The close resumes and finishes:
// every buyer charged exactly once, every seller paid exactly once, nobody skipped, the period's totals equal an
// independent sum over its payments, the journal balanced.
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../ledger/ledger';
import { temporalClient, uid } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { startServices, type Services } from '../support/services';
import { tokenizeCard } from '../support/processor-calls';

let svc: Services | undefined;
let fresh: Awaited<ReturnType<typeof freshDatabase>> | undefined;
afterAll(async () => {
  await svc?.stopAll();
  await fresh?.drop();
});

describe('worker killed during a period close', () => {
  it('resumes after a restart without double-charging, double-crediting or skipping anyone; the journal balances', async () => {
    fresh = await freshDatabase();
    const db = fresh.db;
    svc = await startServices({ DATABASE_URL: fresh.url, PAYBROKER_SETTLEMENT_GRACE: '1s' });
    const s = svc;
    const operator = (await fresh.stores.principals.create('operator', 'Fault operator')).apiKey;
    const api = (path: string, body?: unknown, key = operator, method?: string) =>
      call(s.base, path, { key, body, idem: body ? uid('i-') : undefined, method });
    const token = () => tokenizeCard(s.processor);

    const sellers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await api('/sellers', { name: `S${i}`, currency: 'USD', payoutDestination: `acct_${uid()}`, feeBps: 500 });
      sellers.push(r.body.id);
      expect((await api(`/sellers/${r.body.id}/items/a`, { title: 'A', category: 'news', priceMinor: 7 + i, currency: 'USD', grantSeconds: 60 }, r.body.apiKey, 'PUT')).status).toBe(201);
    }
    const buyers: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < 60; i++) {
      const b = await api('/buyers', { name: `B${i}`, currency: 'USD', paymentToken: await token() });
      const rs = await api('/rule-sets', { rules: {} }, b.body.apiKey);
      buyers.push({ id: b.body.id, token: rs.body.token });
    }
    const expected = new Map<string, number>();
    const payments = buyers.flatMap((b, i) => [0, 1, 2].map((k) => {
      const seller = sellers[(i + k) % sellers.length];
      expected.set(b.id, (expected.get(b.id) ?? 0) + 7 + sellers.indexOf(seller));
      return { clientId: `c${k}`, buyerToken: b.token, sellerId: seller, itemId: 'a', currency: 'USD' };
    }));
    expect((await api('/micropayments/batch', { payments })).body.recorded).toBe(180);

    // five buyers per charge file, each file slowed: the close takes seconds, and the kill lands inside it
    await s.admin.setFaults({ mode: 'slow', latencyMs: 400, operations: ['charge_batch', 'payout_batch'] });
    const close = await api('/settlement-periods/close', { graceSeconds: 0, fileLines: 5 });
    expect(close.status).toBe(202);
    const paid = async () => Number((await db('invoices').where({ period_seq: 1, state: 'paid' }).count({ n: '*' }).first())!.n);
    for (let i = 0; i < 200 && (await paid()) < 10; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await s.kill('worker')).toBe('SIGKILL');
    const paidAtKill = await paid();
    expect(paidAtKill).toBeGreaterThan(0);
    expect(paidAtKill).toBeLessThan(buyers.length);

    await s.start('worker');
    const temporal = await temporalClient();
    try {
      const result = await temporal.client.workflow.getHandle(close.body.workflowId).result();
      expect(result).toMatchObject({ kind: 'closed', progress: { phase: 'closed' } });
    } finally {
      await temporal.close();
    }

    const invoices: Array<{ buyer_id: string; amount_minor: string; state: string }> = await db('invoices').where({ period_seq: 1 });
    expect(new Map(invoices.map((i) => [i.buyer_id, Number(i.amount_minor)]))).toEqual(expected);
    expect(invoices.every((i) => i.state === 'paid')).toBe(true);
    for (const b of buyers) {
      const charges = (await s.admin.chargesByReference(`invoice:sp_1:${b.id}`)).filter((c) => c.status === 'succeeded');
      expect(charges.map((c) => c.amountMinor)).toEqual([expected.get(b.id)]);
    }
    const credits: Array<{ seller_id: string; amount_minor: string; state: string }> = await db('seller_credits').where({ period_seq: 1 });
    expect(credits).toHaveLength(sellers.length);
    for (const c of credits) {
      expect(c.state).toBe('paid');
      expect((await s.admin.batchPayoutsByReference(`credit:sp_1:${c.seller_id}`)).map((p) => p.amountMinor)).toEqual([Number(c.amount_minor)]);
    }
    // the period's totals as the API reports them equal an independent sum over the payments themselves
    const period = await api('/settlement-periods/sp_1');
    const [sums] = (await db.raw(`SELECT count(*)::int AS n, sum(amount_minor)::int AS gross, sum(fee_minor)::int AS fee,
      count(DISTINCT buyer_id)::int AS buyers, count(DISTINCT seller_id)::int AS sellers FROM micro_payments WHERE period_seq = 1`)).rows;
    expect(period.body).toMatchObject({ state: 'closed', totals: {
      paymentCount: sums.n, buyers: sums.buyers, sellers: sums.sellers,
      grossMinor: { USD: sums.gross }, feeMinor: { USD: sums.fee }, invoicedMinor: { USD: sums.gross }, creditedMinor: { USD: sums.gross - sums.fee },
    } });
    expect(sums.gross).toBe([...expected.values()].reduce((a, b) => a + b, 0));
    const ledger = new Ledger(db);
    for (const [, total] of await ledger.trialBalance()) expect(total).toBe(0n);
    const charged = await db('journal_entries').where('idempotency_key', 'like', 'charge:sp_1:%').count({ n: '*' }).first();
    expect(Number(charged!.n)).toBe(buyers.length);
  }, 180_000);
});
