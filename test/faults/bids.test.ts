// The worker SIGKILLed around a sell-first round's close, at four known steps: 50 ms before its timer fires (the close
// runs on a new worker), inside the close (one call: it runs on or rolls back, never half done), after the close
// committed while the award's order is being written (a new worker reads the same bids and claims the same order), and
// inside an early close the enough-th bid asked for. In the last three the test holds the row the worker writes next
// (as a bid in flight holds a round's row) and kills it once it waits there, so the kill lands where it says. Each
// time, once a new worker runs: one award (the lowest bid), one order for the round, one authorization, one capture once
// the winner ships, the winner owed its bid, each loser told once, and a bid after the close refused.
import type { Knex } from 'knex';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { roundClientOrderId } from '../../workflows/bidRound.contract';
import { orderWorkflowId } from '../../workflows/order.contract';
import { temporalClient, testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

let svc: Services | undefined;
const { db, stores, close } = testDatabase(4);
let temporal: Awaited<ReturnType<typeof temporalClient>>;
let operator: string;
beforeAll(async () => {
  temporal = await temporalClient();
  operator = (await stores.principals.create('operator', 'Bid faults operator')).apiKey;
});
afterEach(async () => { await svc?.stopAll(); svc = undefined; });
afterAll(async () => {
  await temporal?.close();
  await close();
});

const QUANTITY = 2;
const LIST_PRICE = 2500;
const PRICES = { cheap: 1800, mid: 2000, dear: 2200 };
/** A new worker takes a task the killed one held once its timeout passes (the workflow task's or the sticky queue's, 10 s). */
const recovery = { timeout: 40_000, interval: 100 };
const quick = { timeout: 15_000, interval: 5 };
const address = { name: 'Ada', line1: '1 Main St', city: 'Austin', region: 'TX', postalCode: '73301', country: 'US' };

interface Bidder { id: string; key: string }
interface Round { s: Services; id: string; classId: string; app: string; cheap: Bidder; mid: Bidder; dear: Bidder; closesAtMs: number }

async function bidder(s: Services, classId: string, name: string): Promise<Bidder> {
  const { merchant, apiKey } = await stores.merchants.create(name, MERCHANT_SETTINGS);
  const r = await call(s.base, `/item-classes/${classId}/bidding`, { method: 'PUT', key: apiKey, body: { autoBid: null } });
  expect(r.status).toBe(200);
  return { id: merchant.id, key: apiKey };
}

const bid = (s: Services, who: Bidder, roundId: string, unitPriceMinor: number) =>
  call(s.base, `/bid-rounds/${roundId}/bids`, { key: who.key, idem: uid(), body: { unitPriceMinor, currency: 'USD', deliveryDays: 3 } });

/** An item class, three bidders, a buyer app and its purchase (authorized), once the round is open to the bidders. */
async function openRound(s: Services, terms: { windowSeconds: number; enoughBids: number | null }): Promise<Round> {
  const classId = uid('isbn-');
  const defined = await call(s.base, `/item-classes/${classId}`, { method: 'PUT', key: operator, body: { name: 'A novel', currency: 'USD',
    kind: 'hard', pricing: { kind: 'list', listPriceMinor: LIST_PRICE }, minMarginMinor: 200, ...terms } });
  expect(defined.status).toBe(201);
  const [cheap, mid, dear] = [await bidder(s, classId, 'Cheap books'), await bidder(s, classId, 'Mid books'), await bidder(s, classId, 'Dear books')];
  const { apiKey: app } = await stores.principals.create('buyer_app', 'Storefront');
  const token = await tokenizeCard(s.processor);
  const bought = await call(s.base, '/purchases', { key: app, idem: uid(), body: { itemClass: classId, quantity: QUANTITY, customerId: 'cust-1',
    shipping: { address }, payment: { token, billingPostalCode: '73301' } } });
  expect(bought.status).toBe(201);
  const id = bought.body.id as string;
  const closesAtMs = await vi.waitFor(async () => {
    const r = await call(s.base, `/bid-rounds/${id}`, { key: cheap.key });
    if (r.status !== 200 || !r.body.biddingOpen) throw new Error(`round not open yet: ${r.status}`);
    return Date.parse(r.body.closesAt);
  }, { timeout: 15_000, interval: 20 });
  return { s, id, classId, app, cheap, mid, dear, closesAtMs };
}

async function placeBids(r: Round, who: Bidder[] = [r.dear, r.mid, r.cheap]): Promise<void> {
  const price = (b: Bidder) => (b === r.cheap ? PRICES.cheap : b === r.mid ? PRICES.mid : PRICES.dear);
  for (const b of who) expect((await bid(r.s, b, r.id, price(b))).status).toBe(201);
}

const until = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));
const closedAt = async (roundId: string) => (await db('bid_rounds').where({ id: roundId }).first('closed_at')).closed_at as Date | null;

/**
 * A close is one call of close_bid_round: PostgreSQL runs it to its end though its client died, or not at all, so the
 * round is open with no bid rated, or closed with every bid's rating kept (what a new worker's close then reads).
 */
async function closedWholeOrNot(roundId: string): Promise<void> {
  const rated = await db('bids').where({ round_id: roundId }).pluck('rating_at_close');
  expect(rated).toHaveLength(3);
  if (await closedAt(roundId)) expect(rated.every((x) => x !== null)).toBe(true);
  else expect(rated.every((x) => x === null)).toBe(true);
}

/** The dearest bidder undercuts everyone after the close: 409 round_closed, its bid as it was. */
async function lateBidRefused(r: Round): Promise<void> {
  const late = await bid(r.s, r.dear, r.id, 1500);
  expect([late.status, late.body?.error?.code]).toEqual([409, 'round_closed']);
  expect(await db('bids').where({ round_id: r.id }).orderBy('unit_price_minor').select('merchant_id', 'unit_price_minor', 'placed')).toEqual([
    { merchant_id: r.cheap.id, unit_price_minor: String(PRICES.cheap), placed: 1 },
    { merchant_id: r.mid.id, unit_price_minor: String(PRICES.mid), placed: 1 },
    { merchant_id: r.dear.id, unit_price_minor: String(PRICES.dear), placed: 1 },
  ]);
}

/** Holds a row inside a transaction of the test's own; answers that transaction's backend pid. */
async function holding(trx: Knex.Transaction): Promise<number> {
  return (await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
}

/** The backend that waits for the holder's lock (the worker's, mid-step): its pid, program and statement. */
const waitingOn = (holderPid: number) => vi.waitFor(async () => {
  const { rows } = await db.raw('SELECT pid, application_name, query FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))', [holderPid]);
  if (!rows[0]) throw new Error('nobody waits for the held row yet');
  return rows[0] as { pid: number; application_name: string; query: string };
}, quick);

/** The killed worker's database session is gone (PostgreSQL ended it, and its transaction, once it found the client dead). */
const ended = (pid: number) => vi.waitFor(async () => {
  const { rows } = await db.raw('SELECT pid FROM pg_stat_activity WHERE pid = ?', [pid]);
  expect(rows).toEqual([]);
}, quick);

async function workflowExists(workflowId: string): Promise<boolean> {
  try {
    await temporal.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * With a new worker: the lowest bid awarded once, one order for the round (its row, its workflow), one authorization;
 * the winner ships, one capture at the sale price, the winner owed its bid, the others nothing; a bid after it, refused.
 */
async function awardedOnceAndCapturedOnce(r: Round): Promise<void> {
  const { s } = r;
  const purchase = async () => (await call(s.base, `/purchases/${r.id}`, { key: r.app })).body;
  // (the round saves its award once the winner's order has started; its query may show it a moment before)
  await vi.waitFor(async () => expect((await db('bid_rounds').where({ id: r.id }).first('state')).state).toBe('awarded'), recovery);
  const awarded = await purchase();
  const orderId = orderWorkflowId(r.cheap.id, roundClientOrderId(r.id, 1));
  expect(awarded).toMatchObject({ merchantId: r.cheap.id, orderId, unitPriceMinor: LIST_PRICE, totalMinor: LIST_PRICE * QUANTITY });

  // one order for the round: its row, its workflow, in the winner's list only; no second award was started
  expect(await db('orders').whereLike('client_order_id', `round-${r.id}-%`).select('id', 'merchant_id')).toEqual([{ id: orderId, merchant_id: r.cheap.id }]);
  expect(await db('orders').where({ client_order_id: roundClientOrderId(r.id, 2) })).toEqual([]);
  for (const m of [r.cheap, r.mid, r.dear]) {
    for (const n of [1, 2]) expect(await workflowExists(orderWorkflowId(m.id, roundClientOrderId(r.id, n))), `${m.id} #${n}`).toBe(m === r.cheap && n === 1);
    const listed = await call(s.base, '/orders', { key: m.key });
    expect(listed.body.data.map((o: { id: string }) => o.id)).toEqual(m === r.cheap ? [orderId] : []);
  }
  const shown = await call(s.base, `/bid-rounds/${r.id}`, { key: operator });
  expect(shown.body.awards).toEqual([expect.objectContaining({ merchantId: r.cheap.id, unitPriceMinor: PRICES.cheap, orderId })]);
  const auths = await s.admin.authorizationsByReference(`bid-round-${r.id}`);
  expect(auths).toHaveLength(1);
  expect(auths[0]).toMatchObject({ amountMinor: LIST_PRICE * QUANTITY, voided: false });
  await lateBidRefused(r);

  // the winner ships through its order: captured once
  await vi.waitFor(async () => expect((await call(s.base, `/orders/${orderId}`, { key: r.cheap.key })).body.state).toBe('authorized_plus_avs'), recovery);
  const shipped = await call(s.base, `/orders/${orderId}/shipments`, { key: r.cheap.key, idem: uid(),
    body: { items: [{ sku: r.classId, quantity: QUANTITY }], trackingNumber: 'TRK1' } });
  expect(shipped.status, JSON.stringify(shipped.body)).toBe(200);
  await vi.waitFor(async () => expect((await purchase()).state).toBe('fulfilling'), recovery);
  // (and the round's books, saved last, say so)
  await vi.waitFor(async () => expect((await db('bid_rounds').where({ id: r.id }).first('state')).state).toBe('fulfilling'), recovery);
  expect(await s.admin.capturesByAuthorization(auths[0].id)).toEqual([expect.objectContaining({ amountMinor: LIST_PRICE * QUANTITY })]);
  expect(await s.admin.authorizationsByReference(`bid-round-${r.id}`)).toHaveLength(1);
  const payable = async (m: Bidder) => Number((await stores.ledger.balance(`merchant-payable:${m.id}:USD`).catch(() => ({ amountMinor: 0n }))).amountMinor);
  expect([await payable(r.cheap), await payable(r.mid), await payable(r.dear)]).toEqual([-PRICES.cheap * QUANTITY, 0, 0]);

  // the buyer app and the winner heard of the award once, the others were not told they won
  const events = async (key: string, type: string) => (await call(s.base, `/events?type=${type}`, { key })).body.data
    .filter((e: { data: { roundId: string } }) => e.data.roundId === r.id);
  expect(await events(r.app, 'purchase.awarded')).toHaveLength(1);
  expect(await events(r.cheap.key, 'bid_round.won')).toHaveLength(1);
  for (const m of [r.mid, r.dear]) {
    expect(await events(m.key, 'bid_round.won')).toEqual([]);
    expect(await events(m.key, 'bid_round.lost')).toHaveLength(1);
  }
}

describe('the worker SIGKILLed during a round\'s close: one winner, one capture', () => {
  it('killed 50 ms before the close: the timer fires with no worker, bids are refused meanwhile, a new worker closes and awards once', async () => {
    svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    const r = await openRound(svc, { windowSeconds: 3, enoughBids: null });
    await placeBids(r);
    expect(r.closesAtMs - Date.now(), 'the bids took longer than the window').toBeGreaterThan(50);
    await until(r.closesAtMs - 50);
    expect(await svc.kill('worker', 'SIGKILL')).toBe('SIGKILL');
    expect(await closedAt(r.id)).toBeNull(); // (the close had not begun)

    await until(r.closesAtMs + 1);
    await lateBidRefused(r);
    expect((await call(svc.base, `/bid-rounds/${r.id}`, { key: r.mid.key })).body.biddingOpen).toBe(false);
    await svc.start('worker');
    await awardedOnceAndCapturedOnce(r);
  }, 120_000);

  it('killed inside the close: never half done, a new worker closes (or reads the close) and awards once', async () => {
    svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    const r = await openRound(svc, { windowSeconds: 3, enoughBids: null });
    await placeBids(r);
    // the test holds the round's row as a bid being placed does: the close, once its timer fires, waits for it
    const hold = await db.transaction();
    let closing: { pid: number; application_name: string; query: string };
    try {
      const holder = await holding(hold);
      await hold('bid_rounds').where({ id: r.id }).forShare().first('id');
      closing = await waitingOn(holder);
      expect(closing.application_name).toBe('paybroker-worker');
      expect(closing.query).toMatch(/close_bid_round/);
      expect(await svc.kill('worker', 'SIGKILL')).toBe('SIGKILL');
    } finally {
      await hold.rollback();
    }
    await ended(closing.pid);
    await closedWholeOrNot(r.id); // (the dead worker's close, one call, ran on or rolled back: never half done)

    await lateBidRefused(r); // (past closesAt: refused, though no close is recorded yet)
    await svc.start('worker');
    await awardedOnceAndCapturedOnce(r);
    expect(await closedAt(r.id)).not.toBeNull();
  }, 120_000);

  it('killed after the close committed, while the award\'s order is written: a new worker reads the same bids and claims the same order', async () => {
    svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    const r = await openRound(svc, { windowSeconds: 3, enoughBids: null });
    await placeBids(r);
    // the award's order id taken by a transaction not yet committed: the worker's claim of the order waits for it
    const orderId = orderWorkflowId(r.cheap.id, roundClientOrderId(r.id, 1));
    const hold = await db.transaction();
    let claiming: { pid: number; application_name: string; query: string };
    try {
      const holder = await holding(hold);
      await hold('orders').insert({ id: orderId, merchant_id: r.cheap.id, client_order_id: roundClientOrderId(r.id, 1), customer_id: 'held',
        request_sha256: Buffer.alloc(32), currency: 'USD', total_minor: 1, state: 'held' });
      claiming = await waitingOn(holder);
      expect(claiming.application_name).toBe('paybroker-worker');
      expect(claiming.query).toMatch(/^insert into "orders"/i);
      const closed = await closedAt(r.id);
      expect(closed).not.toBeNull(); // (the close committed: its bids were read)
      expect(await svc.kill('worker', 'SIGKILL')).toBe('SIGKILL');
    } finally {
      await hold.rollback();
    }
    await ended(claiming.pid);

    await lateBidRefused(r);
    await svc.start('worker');
    await awardedOnceAndCapturedOnce(r);
  }, 120_000);

  it('killed inside an early close (the enough-th bid in): the close is not lost; a new worker closes early and awards once', async () => {
    svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    const r = await openRound(svc, { windowSeconds: 60, enoughBids: 3 });
    await placeBids(r, [r.dear, r.mid]);
    const hold = await db.transaction();
    let closing: { pid: number; application_name: string; query: string };
    try {
      const holder = await holding(hold);
      await hold('bid_rounds').where({ id: r.id }).forShare().first('id');
      await placeBids(r, [r.cheap]); // the third: enough, the round is asked to close now
      closing = await waitingOn(holder);
      expect(closing.query).toMatch(/close_bid_round/);
      expect(await svc.kill('worker', 'SIGKILL')).toBe('SIGKILL');
    } finally {
      await hold.rollback();
    }
    await ended(closing.pid);
    await closedWholeOrNot(r.id);

    await svc.start('worker');
    await awardedOnceAndCapturedOnce(r);
    expect(Date.parse((await call(svc.base, `/bid-rounds/${r.id}`, { key: operator })).body.closesAt)).toBe(r.closesAtMs);
    expect((await closedAt(r.id))!.getTime()).toBeLessThan(r.closesAtMs); // (closed early, not at its timer)
  }, 120_000);
});
