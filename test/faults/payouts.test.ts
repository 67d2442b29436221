// Merchant payouts interrupted for real: the worker process is SIGKILLed while a day's payout run has payout files
// in flight at the processor (slowed down so the kill lands there), then restarted. Every merchant is paid exactly
// once: one paid line per payout at the processor, one ledger entry per payout, nothing left owed, the journal
// balanced.
import { afterAll, describe, expect, it } from 'vitest';
import { accounts } from '../../ledger/accounts';
import { Ledger } from '../../ledger/ledger';
import type { PayoutRunWorkflow } from '../../workflows/payout.contract';
import { temporalClient, uid } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

let svc: Services | undefined;
let fresh: Awaited<ReturnType<typeof freshDatabase>> | undefined;
afterAll(async () => {
  await svc?.stopAll();
  await fresh?.drop();
});

describe('worker killed during a payout run', () => {
  it('pays every merchant exactly once after a restart; the ledger and the processor agree', async () => {
    fresh = await freshDatabase();
    const { db, stores } = fresh;
    svc = await startServices({ DATABASE_URL: fresh.url });
    const s = svc;
    const merchants: Array<{ id: string; key: string }> = [];
    for (let i = 0; i < 6; i++) {
      const { merchant, apiKey } = await stores.merchants.create(`Paid ${i}`, { ...MERCHANT_SETTINGS, payoutDestination: `acct_${uid()}` });
      merchants.push({ id: merchant.id, key: apiKey });
      const created = await call(s.base, '/orders', { key: apiKey, body: {
        clientOrderId: uid('co-'), customerId: 'c', items: [{ sku: 'kettle', quantity: 1, unitPriceMinor: 1_000 + 111 * i, kind: 'hard' }],
        shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'Portland', region: 'OR', postalCode: '97201', country: 'US' } },
        payment: { token: await tokenizeCard(s.processor), billingPostalCode: '97201' },
      } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const shipped = await call(s.base, `/orders/${created.body.id}/shipments`, { key: apiKey,
        body: { shipmentId: 's', items: [{ sku: 'kettle', quantity: 1 }], trackingNumber: 'T' } });
      expect(shipped.status).toBe(200);
    }

    // each payout file held 1.5 s at the processor: the kill lands while the first ones are in flight
    await s.admin.setFaults({ mode: 'slow', latencyMs: 1_500, operations: ['payout_batch'] });
    const temporal = await temporalClient();
    try {
      await temporal.client.workflow.start<PayoutRunWorkflow>('payoutRunWorkflow', {
        taskQueue: s.taskQueue, workflowId: uid('payout-run-'), args: [{ cutoff: new Date().toISOString(), retryDelaysMs: [100] }],
      });
      await expect.poll(async () => (await s.admin.stats()).requests.payout_batch, { timeout: 30_000, interval: 20 }).toBeGreaterThan(0);
      expect(await s.kill('worker')).toBe('SIGKILL');
      const paidAtKill = await db('payouts').where({ state: 'paid' }).count({ n: '*' }).first();
      expect(Number(paidAtKill!.n)).toBeLessThan(merchants.length);
      await s.admin.setFaults({ mode: 'none' });
      await s.start('worker');
      await expect.poll(async () => Number((await db('payouts').where({ state: 'paid' }).count({ n: '*' }).first())!.n), { timeout: 60_000 })
        .toBe(merchants.length);
    } finally {
      await temporal.close();
    }

    const ledger = new Ledger(db);
    for (const m of merchants) {
      const [p] = (await stores.payouts.list({ limit: 10, merchantId: m.id })).data;
      expect(p.state, m.id).toBe('paid');
      const lines = await s.admin.batchPayoutsByReference(`payout:${p.id}`);
      expect(lines.map((l) => [l.status, l.amountMinor]), m.id).toEqual([['paid', p.amountMinor]]);
      expect(Number((await db('journal_entries').where({ idempotency_key: `merchant-payout:${p.id}` }).count({ n: '*' }).first())!.n)).toBe(1);
      expect((await ledger.balance(accounts('USD', m.id).merchant.id)).amountMinor, m.id).toBe(0n);
    }
    for (const [currency, total] of await ledger.trialBalance()) expect(total, currency).toBe(0n);
  });
});
