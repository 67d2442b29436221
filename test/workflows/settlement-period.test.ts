// Settlement periods end to end (API → ledger → settlement workflow → processor simulator batch files): a close
// with hundreds of buyers and sellers checked against an independent computation, dunning to suspension and
// recovery by a new card, a freeze while payments are recorded, the Schedule's tick, continue-as-new, refunds
// carried across periods, card-order captures in credits, and a failed close resumed by an operator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { createSettlementPeriodActivities } from '../../activities/settlementPeriods';
import { dunningWorkflowId } from '../../workflows/dunning.contract';
import {
  MAX_FILES_PER_RUN, settlementPeriodWorkflowId, type SettlementPeriodWorkflow,
} from '../../workflows/settlementPeriod.contract';
import { TEST_DELIVERY } from '../support/orders';
import { testMessaging, uid } from '../support/env';
import { microHarness, type MicroHarness } from '../support/micro';
import { CARD } from '../support/processor-calls';
import { Receiver } from '../support/receiver';

/** A seeded generator, so a failure can be reproduced. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('a period close with hundreds of buyers and sellers', () => {
  let h: MicroHarness;
  beforeAll(async () => { h = await microHarness({ dunningDelaysMs: [60_000] }); }, 60_000);
  afterAll(async () => { await h.close(); });

  it('invoices every buyer and credits every seller exactly what an independent computation gives; the ledger balances', async () => {
    const random = rng(20261122);
    const SELLERS = 120;
    const BUYERS = 300;
    const sellers: Array<{ id: string; key: string; feeBps: number; items: Array<{ id: string; priceMinor: number }> }> = [];
    for (let i = 0; i < SELLERS; i++) {
      const feeBps = Math.floor(random() * 3000);
      const items = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, k) => ({ id: `it${k}`, priceMinor: 1 + Math.floor(random() * 500) }));
      sellers.push({ ...(await h.seller({ feeBps, items })), feeBps, items });
    }
    const buyers: Array<{ id: string; key: string; token: string; declines: boolean }> = [];
    for (let i = 0; i < BUYERS; i++) {
      const declines = i % 50 === 7; // six buyers whose card is declined
      buyers.push({ ...(await h.buyer({ card: declines ? CARD.decline : CARD.approve })), declines });
    }
    // one seller also has card-order captures in the period (the real capture activity books them)
    const cardSeller = sellers[0];
    const acts = createActivities({ database: h.database, processor: h.processor, messaging: testMessaging(), temporal: h.client, taskQueue: h.taskQueue, delivery: TEST_DELIVERY });
    const postCapture = (p: Parameters<typeof acts.postCapture>[0]) => acts.postCapture(p);
    const orderId = uid('order-');
    await h.db('orders').insert({ id: orderId, merchant_id: cardSeller.id, client_order_id: uid(), customer_id: 'c1', request_sha256: Buffer.from('x'),
      currency: 'USD', total_minor: 10_000, state: 'shipped' });
    await postCapture({ orderId, merchantId: cardSeller.id, captureId: uid('cap_'), currency: 'USD', amountMinor: 10_000, feeMinor: 250 });

    // about 3,000 payments in batches of 1,000, every one expected by the independent books
    const expectedInvoice = new Map<string, number>();
    const expectedCredit = new Map<string, number>([[cardSeller.id, 10_000 - 250]]);
    const all: Array<{ clientId: string; buyerToken: string; sellerId: string; itemId: string; currency: string }> = [];
    const meta: Array<{ buyer: string; seller: string; price: number; feeBps: number }> = [];
    for (let n = 0; n < 3000; n++) {
      const b = buyers[Math.floor(random() * BUYERS)];
      const s = sellers[Math.floor(random() * SELLERS)];
      const item = s.items[Math.floor(random() * s.items.length)];
      all.push({ clientId: `p${n}`, buyerToken: b.token, sellerId: s.id, itemId: item.id, currency: 'USD' });
      meta.push({ buyer: b.id, seller: s.id, price: item.priceMinor, feeBps: s.feeBps });
    }
    const ids: string[] = [];
    for (let i = 0; i < all.length; i += 1000) {
      const r = await h.api('/micropayments/batch', { key: h.operator, body: { payments: all.slice(i, i + 1000) } });
      expect(r.body.recorded).toBe(Math.min(1000, all.length - i));
      ids.push(...r.body.results.map((x: { payment: { id: string } }) => x.payment.id));
    }
    const refunded = new Set([3, 500, 1999]);
    for (const i of refunded) {
      const seller = sellers.find((s) => s.id === meta[i].seller)!;
      expect((await h.api(`/micropayments/${ids[i]}/refund`, { key: seller.key, idem: uid(), body: {} })).status).toBe(201);
    }
    meta.forEach((m, i) => {
      const fee = Math.floor(m.price * m.feeBps / 10_000 + 0.5);
      const sign = refunded.has(i) ? 0 : 1; // a refund in the same period cancels the sale for both sides
      expectedInvoice.set(m.buyer, (expectedInvoice.get(m.buyer) ?? 0) + sign * m.price);
      expectedCredit.set(m.seller, (expectedCredit.get(m.seller) ?? 0) + sign * (m.price - fee));
    });

    const result = await h.closePeriod();
    expect(result.progress.phase).toBe('closed');
    const [lateBuyer, lateSeller] = [await h.buyer(), await h.seller()];
    const late = await h.api('/micropayments', { key: h.operator, body: {
      clientId: 'after-freeze', buyerToken: lateBuyer.token, sellerId: lateSeller.id, itemId: 'article', currency: 'USD' } });
    expect(late.body.periodId).toBe('sp_2');

    const invoices: Array<{ buyer_id: string; amount_minor: string; state: string }> = await h.db('invoices').where({ period_seq: 1 });
    expect(new Map(invoices.map((i) => [i.buyer_id, Number(i.amount_minor)]))).toEqual(expectedInvoice);
    const decliners = new Set(buyers.filter((b) => b.declines && expectedInvoice.get(b.id)).map((b) => b.id));
    const stateOf = (amount: string, failed: boolean) => (Number(amount) <= 0 ? 'nothing_due' : failed ? 'failed' : 'paid');
    for (const inv of invoices) expect(inv.state).toBe(stateOf(inv.amount_minor, decliners.has(inv.buyer_id)));
    const credits: Array<{ seller_id: string; amount_minor: string; state: string }> = await h.db('seller_credits').where({ period_seq: 1 });
    expect(new Map(credits.map((c) => [c.seller_id, Number(c.amount_minor)]))).toEqual(expectedCredit);
    for (const c of credits) expect(c.state).toBe(stateOf(c.amount_minor, false));
    const due = invoices.filter((i) => Number(i.amount_minor) > 0).length;
    expect(result.progress.invoices).toEqual({ submitted: due, paid: due - decliners.size, failed: decliners.size });

    // the processor charged each paying buyer once and paid each seller once, the amounts of the books
    for (const b of buyers.slice(0, 40)) {
      const charges = await h.admin.chargesByReference(`invoice:sp_1:${b.id}`);
      const due = expectedInvoice.get(b.id);
      expect(charges.filter((c) => c.status === 'succeeded').map((c) => c.amountMinor)).toEqual(due && !b.declines ? [due] : []);
    }
    for (const s of sellers.slice(0, 40)) {
      const payouts = await h.admin.batchPayoutsByReference(`credit:sp_1:${s.id}`);
      expect(payouts.map((p) => p.amountMinor)).toEqual(expectedCredit.has(s.id) ? [expectedCredit.get(s.id)] : []);
    }

    // the books: what paying buyers owed is settled, sellers are paid out, what the decliners owe stays
    for (const [, total] of await h.ledger.trialBalance()) expect(total).toBe(0n);
    for (const b of buyers.slice(0, 60)) {
      const owed = (await h.ledger.balance(`buyer-receivable:${b.id}:USD`)).amountMinor;
      expect(owed).toBe(BigInt(decliners.has(b.id) ? expectedInvoice.get(b.id)! : 0));
    }
    for (const s of sellers.slice(0, 60)) expect((await h.ledger.balance(`seller-payable:${s.id}:USD`)).amountMinor).toBe(0n);
    expect((await h.ledger.balance(`merchant-payable:${cardSeller.id}:USD`)).amountMinor).toBe(0n);

    const period = await h.api('/settlement-periods/sp_1', { key: h.operator });
    expect(period.body).toMatchObject({ state: 'closed', totals: { paymentCount: 3000, buyers: invoices.length, sellers: credits.length } });
    const statement = await h.api(`/accounts/${sellers[1].id}/statement?periodId=sp_1`, { key: sellers[1].key });
    expect(statement.body.credits[0]).toMatchObject({ periodId: 'sp_1', amountMinor: expectedCredit.get(sellers[1].id) ?? 0, state: 'paid' });
    expect((await h.api(`/accounts/${sellers[1].id}/statement`, { key: buyers[0].key })).status).toBe(404);
  }, 180_000);
});

describe('dunning', () => {
  let h: MicroHarness;
  beforeAll(async () => { h = await microHarness({ dunningDelaysMs: [1_500, 1_500] }); }, 60_000);
  afterAll(async () => { await h.close(); });

  it('retries a declined period charge, suspends the buyer after the last retry and keeps the debt; a new card pays', async () => {
    const seller = await h.seller({ items: [{ id: 'article', priceMinor: 25 }] });
    const stuck = await h.buyer({ card: CARD.decline });
    const rescued = await h.buyer({ card: CARD.insufficient });
    for (const b of [stuck, rescued]) {
      for (let i = 0; i < 3; i++) {
        const r = await h.api('/micropayments', { key: b.key, body: { clientId: `c${i}`, buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' } });
        expect(r.status).toBe(201);
      }
    }
    await h.closePeriod();
    // the rescued buyer puts a good card on file before the first retry
    expect((await h.api(`/buyers/${rescued.id}`, { method: 'PATCH', key: rescued.key, body: { paymentToken: await h.tokenize(CARD.approve) } })).status).toBe(200);

    const [stuckRun, rescuedRun] = await Promise.all([stuck, rescued].map((b) => h.client.workflow.getHandle(dunningWorkflowId('sp_1', b.id)).result()));
    expect(stuckRun).toEqual({ outcome: 'suspended', attempts: 2 });
    expect(rescuedRun).toEqual({ outcome: 'paid', attempts: 1 });

    expect(await h.db('invoices').where({ buyer_id: stuck.id }).first('state', 'attempts')).toEqual({ state: 'unpaid', attempts: 3 });
    expect(await h.db('invoices').where({ buyer_id: rescued.id }).first('state')).toEqual({ state: 'paid' });
    expect((await h.ledger.balance(`buyer-receivable:${stuck.id}:USD`)).amountMinor).toBe(75n);
    expect((await h.ledger.balance(`buyer-receivable:${rescued.id}:USD`)).amountMinor).toBe(0n);
    expect((await h.admin.chargesByReference(`invoice:sp_1:${rescued.id}`)).filter((c) => c.status === 'succeeded')).toHaveLength(1);
    const problems = await h.db('problems').where({ kind: 'buyer_suspended' }).whereRaw(`details->>'buyerId' = ?`, [stuck.id]);
    expect(problems).toHaveLength(1);

    const refused = await h.api('/micropayments', { key: stuck.key, body: { clientId: 'after', buyerToken: stuck.token, sellerId: seller.id, itemId: 'article', currency: 'USD' } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('buyer_suspended');
    const statement = await h.api(`/accounts/${stuck.id}/statement?periodId=sp_1`, { key: stuck.key });
    expect(statement.body).toMatchObject({ suspended: true, balances: { owedMinor: 75 }, invoices: [{ state: 'unpaid', amountMinor: 75 }] });
  }, 60_000);
});

describe('freezing a period while payments are being recorded', () => {
  let h: MicroHarness;
  beforeAll(async () => { h = await microHarness({ worker: false }); }, 60_000);
  afterAll(async () => { await h.close(); });

  it('puts every payment in exactly one period, and none into the period after it froze', async () => {
    const seller = await h.seller();
    const buyers = await Promise.all(Array.from({ length: 8 }, () => h.buyer()));
    const steps = createSettlementPeriodActivities({ periods: h.stores.periods, ledger: h.ledger, processor: h.processor, problems: h.stores.problems,
      events: { emitEvent: async () => 0 } });
    let stop = false;
    let sent = 0;
    const writers = buyers.map(async (b, w) => {
      for (let n = 0; !stop; n++) {
        const payments = Array.from({ length: 20 }, (_, k) => ({
          clientId: `w${w}-${n}-${k}`, buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' }));
        const r = await h.api('/micropayments/batch', { key: h.operator, body: { payments } });
        expect(r.body.recorded).toBe(20);
        sent += 20;
      }
    });
    await expect.poll(() => sent, { timeout: 15_000, interval: 20 }).toBeGreaterThanOrEqual(200); // writing for a while
    await steps.freezePeriod(1, 'test-freeze');
    const totals = await steps.aggregatePeriod(1); // aggregated while the writers go on
    const atFreeze = sent;
    await expect.poll(() => sent, { timeout: 15_000, interval: 20 }).toBeGreaterThanOrEqual(atFreeze + 200); // and after it
    stop = true;
    await Promise.all(writers);

    const perPeriod: Array<{ period_seq: number; n: string }> = await h.db('micro_payments').groupBy('period_seq').select('period_seq').count({ n: '*' });
    const count = new Map(perPeriod.map((r) => [r.period_seq, Number(r.n)]));
    expect((count.get(1) ?? 0) + (count.get(2) ?? 0)).toBe(sent);
    expect(count.get(1)).toBeGreaterThan(0);
    expect(count.get(2)).toBeGreaterThan(0);
    // the invoices written at the freeze account for every payment period 1 holds now
    expect(totals.paymentCount).toBe(count.get(1));
  }, 60_000);
});

describe('the Schedule\'s tick and long closes', () => {
  let h: MicroHarness;
  beforeAll(async () => { h = await microHarness(); }, 60_000);
  afterAll(async () => { await h.close(); });

  it('a tick starts the close of the open period once; a second tick during the grace finds it started', async () => {
    const seller = await h.seller();
    const b = await h.buyer();
    await h.api('/micropayments', { key: h.operator, body: { clientId: 'x', buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' } });
    const tick = () => h.client.workflow.execute<SettlementPeriodWorkflow>('settlementPeriodWorkflow', { taskQueue: h.taskQueue, workflowId: uid('tick-'), args: [{ graceMs: 1_500 }] });
    expect(await tick()).toEqual({ kind: 'tick', periodId: 'sp_1', started: true });
    expect(await tick()).toEqual({ kind: 'tick', periodId: 'sp_1', started: false });
    const closed = await h.client.workflow.getHandle(settlementPeriodWorkflowId(h.taskQueue, 1)).result();
    expect(closed).toMatchObject({ kind: 'closed', progress: { phase: 'closed', invoices: { paid: 1 }, credits: { paid: 1 } } });
  });

  it(`continues as new after ${MAX_FILES_PER_RUN} processor files and still charges everyone once`, async () => {
    const seller = await h.seller();
    const buyers = await Promise.all(Array.from({ length: MAX_FILES_PER_RUN + 5 }, () => h.buyer()));
    await h.api('/micropayments/batch', { key: h.operator, body: { payments: buyers.map((b) => ({
      clientId: 'only', buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' })) } });
    const seq = await h.stores.periods.openSeq();
    const handle = await h.client.workflow.start<SettlementPeriodWorkflow>('settlementPeriodWorkflow', {
      taskQueue: h.taskQueue, workflowId: settlementPeriodWorkflowId(h.taskQueue, seq), args: [{ periodSeq: seq, fileLines: 1 }] });
    const result = await h.client.workflow.getHandle(handle.workflowId).result();
    expect(result).toMatchObject({ kind: 'closed', progress: { invoices: { submitted: buyers.length, paid: buyers.length, failed: 0 } } });
    const runs = [];
    for await (const w of h.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(w.runId);
    expect(runs.length).toBe(2);
    for (const b of buyers) {
      expect((await h.admin.chargesByReference(`invoice:sp_${seq}:${b.id}`)).filter((c) => c.status === 'succeeded')).toHaveLength(1);
    }
  }, 120_000);
});

describe('refunds across periods, card orders, and a failed close', () => {
  let h: MicroHarness;
  beforeAll(async () => { h = await microHarness(); }, 60_000);
  afterAll(async () => { await h.close(); });
  const owed = async (account: string) => (await h.ledger.balance(account)).amountMinor;

  it('carries a negative invoice or credit into the party\'s next one; the books end at zero', async () => {
    const a = await h.seller({ feeBps: 1000, items: [{ id: 'big', priceMinor: 100 }, { id: 'half', priceMinor: 50 }] });
    const b = await h.seller({ feeBps: 1000, items: [{ id: 'small', priceMinor: 30 }, { id: 'big', priceMinor: 100 }] });
    const buyer = await h.buyer();
    const other = await h.buyer();
    const pay = async (who: { token: string }, s: { id: string }, itemId: string, clientId: string) => {
      const r = await h.api('/micropayments', { key: h.operator, body: { clientId, buyerToken: who.token, sellerId: s.id, itemId, currency: 'USD' } });
      expect(r.status).toBe(201);
      return r.body.id as string;
    };
    // period 1: the buyer pays A 100
    const first = await pay(buyer, a, 'big', 'p1');
    await h.closePeriod();
    // period 2: A refunds it; the buyer spends 30 at B → buyer -70, A -90 (nothing due), B 27
    expect((await h.api(`/micropayments/${first}/refund`, { key: a.key, idem: uid(), body: {} })).status).toBe(201);
    await pay(buyer, b, 'small', 'p2');
    await h.closePeriod();
    // period 3: the buyer spends 100 at B → invoiced 100 - 70 = 30; A sells 50 → credit 45 - 90 = -45, carried on
    await pay(buyer, b, 'big', 'p3');
    await pay(other, a, 'half', 'p3');
    await h.closePeriod();

    const invoices = await h.db('invoices').where({ buyer_id: buyer.id }).orderBy('period_seq').select('amount_minor', 'carried_minor', 'state');
    expect(invoices.map((i) => [Number(i.amount_minor), Number(i.carried_minor), i.state]))
      .toEqual([[100, 0, 'paid'], [-70, 0, 'nothing_due'], [30, -70, 'paid']]);
    const creditsA = await h.db('seller_credits').where({ seller_id: a.id }).orderBy('period_seq').select('amount_minor', 'carried_minor', 'state');
    expect(creditsA.map((c) => [Number(c.amount_minor), Number(c.carried_minor), c.state]))
      .toEqual([[90, 0, 'paid'], [-90, 0, 'nothing_due'], [-45, -90, 'nothing_due']]);
    // the processor charged the buyer 100 and then 30, never the 70 it had back
    const charges = (await h.admin.chargesByReference(`invoice:sp_3:${buyer.id}`)).filter((c) => c.status === 'succeeded');
    expect(charges.map((c) => c.amountMinor)).toEqual([30]);
    // books: the buyer owes nothing; B is paid in full; A owes the broker the 45 it was overpaid, carried forward
    expect(await owed(`buyer-receivable:${buyer.id}:USD`)).toBe(0n);
    expect(await owed(`seller-payable:${b.id}:USD`)).toBe(0n);
    expect(await owed(`seller-payable:${a.id}:USD`)).toBe(45n);
    for (const [, total] of await h.ledger.trialBalance()) expect(total).toBe(0n);
    const statement = await h.api(`/accounts/${a.id}/statement`, { key: a.key });
    expect(statement.body.balances.owedToSellerMinor).toBe(-45);
  }, 60_000);

  it('credits a seller its card-order captures less card refunds, net of fees', async () => {
    const s = await h.seller({ items: [{ id: 'x', priceMinor: 5 }] });
    const acts = createActivities({ database: h.database, processor: h.processor, messaging: testMessaging(), temporal: h.client, taskQueue: h.taskQueue, delivery: TEST_DELIVERY });
    const orderId = uid('order-');
    await h.db('orders').insert({ id: orderId, merchant_id: s.id, client_order_id: uid(), customer_id: 'c', request_sha256: Buffer.from('x'),
      currency: 'USD', total_minor: 10_000, state: 'shipped' });
    const captureId = uid('cap_');
    await acts.postCapture({ orderId, merchantId: s.id, captureId, currency: 'USD', amountMinor: 10_000, feeMinor: 250 });
    await acts.postRefund({ orderId, merchantId: s.id, captureId, refundId: uid('re_'), currency: 'USD', amountMinor: 4_000, feeMinor: 100 });
    const { progress } = await h.closePeriod();
    expect(progress.phase).toBe('closed');
    const credit = await h.db('seller_credits').where({ seller_id: s.id }).first('card_minor', 'amount_minor', 'state');
    expect(credit).toEqual({ card_minor: '5850', amount_minor: '5850', state: 'paid' });
    expect(await owed(`merchant-payable:${s.id}:USD`)).toBe(0n);
  });

  it('a close the processor refuses stops; once the cause is mended an operator resumes it, and it finishes', async () => {
    const s = await h.seller();
    const good = await h.buyer();
    const bad = await h.buyer();
    for (const b of [good, bad]) {
      expect((await h.api('/micropayments', { key: h.operator, body: { clientId: 'r', buyerToken: b.token, sellerId: s.id, itemId: 'article', currency: 'USD' } })).status).toBe(201);
    }
    // a card token the processor refuses outright (written past the API, which would refuse it): the charge file gets a 400
    await h.db('buyers').where({ id: bad.id }).update({ payment_token: 'x'.repeat(150) });
    const close = await h.api('/settlement-periods/close', { key: h.operator, body: { graceSeconds: 0 } });
    const seq = Number(close.body.periodId.slice(3));
    await expect(h.client.workflow.getHandle(close.body.workflowId).result()).rejects.toThrow();
    expect((await h.db('settlement_periods').where({ seq }).first('state')).state).toBe('frozen');
    // mended: the invoice's card is fixed; the operator resumes the frozen period's close
    await h.db('invoices').where({ period_seq: seq, buyer_id: bad.id }).update({ charge_token: await h.tokenize() });
    const again = await h.api('/settlement-periods/close', { key: h.operator, body: { periodId: close.body.periodId } });
    expect(again.status).toBe(202);
    expect(again.body.started).toBe(true);
    const result = await h.client.workflow.getHandle(close.body.workflowId).result();
    expect(result).toMatchObject({ kind: 'closed', progress: { invoices: { paid: 2 } } });
    expect((await h.api('/settlement-periods/close', { key: h.operator, body: { periodId: close.body.periodId } })).body.error.code)
      .toBe('period_not_frozen');
    for (const b of [good, bad]) {
      expect((await h.admin.chargesByReference(`invoice:sp_${seq}:${b.id}`)).filter((c) => c.status === 'succeeded')).toHaveLength(1);
    }
  }, 60_000);
});

describe('sellers told of their payouts', () => {
  let h: MicroHarness;
  beforeAll(async () => { h = await microHarness(); }, 60_000);
  afterAll(async () => { await h.close(); });

  it('tells a seller its credit was paid (settlement.credit_paid), once, at its webhook endpoint', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const s = await h.seller({ feeBps: 1000, items: [{ id: 'x', priceMinor: 40 }] });
      const endpoint = await h.api('/webhook-endpoints', { key: s.key, idem: uid(), body: { url: receiver.url, events: ['settlement.credit_paid'] } });
      expect(endpoint.status).toBe(201);
      receiver.secret = endpoint.body.secret;
      const b = await h.buyer();
      expect((await h.api('/micropayments', { key: h.operator, body: { clientId: 'c1', buyerToken: b.token, sellerId: s.id, itemId: 'x', currency: 'USD' } })).status).toBe(201);
      const { periodId } = await h.closePeriod();
      await expect.poll(() => receiver.unique().length, { timeout: 15_000 }).toBe(1);
      const [event] = receiver.unique();
      expect(event.verified).toBe(true);
      expect(event.body).toMatchObject({ type: 'settlement.credit_paid', data: { periodId, sellerId: s.id, amountMinor: 36, currency: 'USD' } });
      expect(event.body.data.payoutId).toEqual(expect.any(String));
    } finally {
      await receiver.stop();
    }
  });
});
