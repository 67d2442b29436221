// Card orders through the HTTP API for the fault tests: a body whose tax needs rounding, shipping an order in full,
// the load the Temporal kill tests send, and the check that the processor, the API and the ledger agree on every
// order to the cent.
import { expect } from 'vitest';
import type { Db } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import type { SimulatorAdmin } from '../../processors/http-client';
import type { Stores } from '../../stores';
import { orderWorkflowId } from '../../workflows/order.contract';
import { uid } from './env';
import { call } from './http';
import { MERCHANT_SETTINGS } from './order-input';
import { orderLedger, POSTAL } from './orders';
import { tokenizeCard } from './processor-calls';
import type { Services } from './services';

export type CardOrderBody = ReturnType<typeof cardOrderBody>;

/** Order i of a load: hard goods shipped to California (7.25 % tax, so amounts end in odd cents), AVS Y. */
export function cardOrderBody(clientOrderId: string, token: string, i: number) {
  return {
    clientOrderId, customerId: `cust-${i}`,
    items: [{ sku: 'kettle', quantity: 1 + (i % 3), unitPriceMinor: 1999 + 37 * i, kind: 'hard' as const }],
    shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: POSTAL.Y, country: 'US' } },
    payment: { token, billingPostalCode: POSTAL.Y },
  };
}

/** Ships every item of the order in one shipment (named, so a repeat is the same shipment): 200, or 202 while it runs. */
export async function shipInFull(base: string, key: string, id: string, body: CardOrderBody): Promise<void> {
  const r = await call(base, `/orders/${id}/shipments`, {
    key, body: { shipmentId: 'all', items: body.items.map(({ sku, quantity }) => ({ sku, quantity })), trackingNumber: 'TRACK-1' },
  });
  expect([200, 202], JSON.stringify(r.body)).toContain(r.status);
}

/**
 * Every order shipped in full and captured once: one authorization (approved) and one capture of the order's total
 * at the processor, the API's captured amount the total, the ledger's clearing account moved by the same amount in
 * balanced entries, and the whole ledger's trial balance zero. Returns the sum the three agree on.
 */
export async function expectCapturedOnceToTheCent(o: { base: string; key: string; admin: SimulatorAdmin; db: Db; ids: string[] }): Promise<number> {
  let api = 0;
  let processor = 0;
  let ledger = 0n;
  for (const id of o.ids) {
    const order = (await call(o.base, `/orders/${id}`, { key: o.key })).body;
    expect(order, id).toMatchObject({ state: 'shipped', capturedMinor: order.totalMinor });
    const auths = await o.admin.authorizationsByReference(id);
    expect(auths.map((a) => a.status), id).toEqual(['approved']);
    const captures = await o.admin.capturesByAuthorization(auths[0].id);
    expect(captures.map((c) => c.amountMinor), id).toEqual([order.totalMinor]);
    const books = await orderLedger(o.db, id);
    expect(books, id).toMatchObject({ captured: BigInt(order.totalMinor), sum: 0n });
    api += order.totalMinor;
    processor += captures[0].amountMinor;
    ledger += books.captured;
  }
  expect(processor).toBe(api);
  expect(ledger).toBe(BigInt(api));
  for (const [currency, total] of await new Ledger(o.db).trialBalance()) expect(total, currency).toBe(0n);
  return api;
}

/** The load of the Temporal kill tests: ORDER_LOAD.orders orders, launched launchGapMs apart, each authorization held
 *  authorizeLatencyMs at the processor, so that at a kill many are between the processor's answer and Temporal
 *  recording it. */
export const ORDER_LOAD = { orders: 32, launchGapMs: 75, authorizeLatencyMs: 1500 } as const;

export const timed = async <T>(f: () => Promise<T>) => { const t = Date.now(); const r = await f(); return { r, ms: Date.now() - t }; };

/**
 * A merchant of its own on the services' fresh database, and ORDER_LOAD sent to it: resolves once every order is
 * accepted and a quarter are authorized, the rest in flight (the processor still slow: the caller clears its faults).
 */
export async function sendOrderLoad(s: Services, stores: Stores, db: Db, shop: string) {
  const { merchant, apiKey: key } = await stores.merchants.create(shop, MERCHANT_SETTINGS);
  const tokens = await Promise.all(Array.from({ length: ORDER_LOAD.orders }, () => tokenizeCard(s.processor)));
  const bodies = tokens.map((token, i) => cardOrderBody(uid('co-'), token, i));
  const ids = bodies.map((b) => orderWorkflowId(merchant.id, b.clientOrderId));
  /** Orders of `of` whose saved view is authorized. */
  const authorized = async (of = ids) =>
    Number((await db('orders').whereIn('id', of).where({ state: 'authorized_plus_avs' }).count({ n: '*' }).first())!.n);
  await s.admin.setFaults({ mode: 'slow', latencyMs: ORDER_LOAD.authorizeLatencyMs, operations: ['authorize'] });
  const startedAt = Date.now();
  const answers = Promise.all(bodies.map((body, i) => new Promise((r) => setTimeout(r, i * ORDER_LOAD.launchGapMs))
    .then(() => timed(() => call(s.base, '/orders', { key, body })))));
  await expect.poll(async () => {
    const accepted = Number((await db('orders').whereIn('id', ids).count({ n: '*' }).first())!.n);
    return accepted === ORDER_LOAD.orders && (await authorized()) >= ORDER_LOAD.orders / 4;
  }, { timeout: 60_000, interval: 50 }).toBe(true);
  return { merchantId: merchant.id, key, bodies, ids, authorized, answers, startedAt };
}
