// Card orders over HTTP as bench:orders makes them, for it and for the benchmarks that compare with its order
// (bench:checkout): the merchant's settings and the order (as test/e2e/orders.test.ts: 2 × 19.99 + 45.00, standard
// shipping 5.00, CA tax 7.25% → 96.50 USD), card tokens made in advance, one order created (→ authorized_plus_avs)
// and shipped in full (→ captured), repeating a reply that says "not yet" as a client would, and the check of the
// orders' rows and captures in PostgreSQL.
import { HttpProcessorClient } from '../../processors/http-client';
import type { Db } from '../../ledger/db';
import type { JsonClient, JsonReply } from './http';
import { tokenizeCard } from './micro';
import type { BenchStack } from './stack';
import { closedLoop } from './stats';

export const ORDER_ITEMS = [{ sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' }, { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' }];
export const ORDER_ADDRESS = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
/** One shipment of all of an order's items. */
export const SHIP_ALL = ORDER_ITEMS.map((i) => ({ sku: i.sku, quantity: i.quantity }));

/** The bench merchant's order settings: two shipping options, tax by destination. */
export const MERCHANT_SETTINGS = {
  currency: 'USD', feeBps: 250,
  shippingOptions: [{ id: 'standard', label: 'Standard', priceMinor: 500 }, { id: 'express', label: 'Express', priceMinor: 1500 }],
  taxRatesBps: { US: 0, 'US-CA': 725, DE: 1900 },
};

/** How long the read model may lag an update's reply (saveOrder runs after the ship update has answered). */
export const SETTLE_TIMEOUT_MS = 30_000;
/** How long to keep repeating a request the API answered 202 (its ORDER_REPLY_WAIT_MS passed) before failing it. */
export const PENDING_TIMEOUT_MS = 120_000;

export type Auth = { authorization: string };

/** A merchant with MERCHANT_SETTINGS, made by an operator over the API. */
export async function createMerchant(api: JsonClient, operatorKey: string, name: string, idempotencyKey: string): Promise<{ id: string; auth: Auth }> {
  const m = await api.post('/merchants', { name, ...MERCHANT_SETTINGS }, { authorization: `Bearer ${operatorKey}`, 'idempotency-key': idempotencyKey });
  if (m.status !== 201) throw new Error(`POST /v1/merchants: ${m.status} ${JSON.stringify(m.body)}`);
  return { id: m.body.id as string, auth: { authorization: `Bearer ${m.body.apiKey as string}` } };
}

/** `count` card tokens of the approved test card at the simulator (untimed: made before a benchmark's phases). */
export async function tokenizeCards(b: BenchStack, count: number, tag: string): Promise<string[]> {
  const sim = new HttpProcessorClient({ baseUrl: b.simulatorUrl });
  const tokens: string[] = new Array(count);
  await closedLoop(count, 16, async (i) => {
    tokens[i] = await tokenizeCard(sim, `bench-tok-${b.taskQueue}-${tag}-${i}`);
  });
  return tokens;
}

export interface OrderRecord { id: string; totalMinor: number; failure?: string }
export interface Timings { create: number[]; ship: number[]; order: number[] }
export const timings = (): Timings => ({ create: [], ship: [], order: [] });

/**
 * Orders of one merchant over the API. A 202 is not a failure (the API waited ORDER_REPLY_WAIT_MS and the order
 * carries on): the same request is sent again, as a client would; it is idempotent and waits for the outcome
 * again. Nor is a 503 order_unavailable (a command the order's workflow has not taken yet, its worker busy): it is
 * sent again after its Retry-After, as the README tells clients. The waits count in the latency.
 */
export class BenchOrders {
  readonly records: OrderRecord[] = [];
  pendingReplies = 0;
  unavailableReplies = 0;

  constructor(private readonly api: JsonClient, private readonly auth: Auth, private readonly nextToken: () => string) {}

  async post(path: string, body: unknown, auth: Auth = this.auth): Promise<JsonReply> {
    const deadline = performance.now() + PENDING_TIMEOUT_MS;
    for (;;) {
      const reply = await this.api.post(path, body, auth);
      if (reply.status === 503 && reply.body?.error?.code === 'order_unavailable') {
        this.unavailableReplies++;
        await new Promise((r) => setTimeout(r, (reply.retryAfterSeconds ?? 1) * 1000));
      } else if (reply.status === 202) {
        this.pendingReplies++;
      } else {
        return reply;
      }
      if (performance.now() > deadline) throw new Error(`POST ${path}: still ${reply.status} (${reply.body?.state ?? reply.body?.error?.code}) after ${PENDING_TIMEOUT_MS} ms`);
    }
  }

  /** One shipment of everything in the order; it must capture `totalMinor` when given (an error otherwise). */
  async ship(orderId: string, totalMinor: number | undefined, items: Array<{ sku: string; quantity: number }>, trackingNumber: string, auth: Auth = this.auth): Promise<void> {
    const shipped = await this.post(`/orders/${orderId}/shipments`, { shipmentId: 'all', items, trackingNumber }, auth);
    if (shipped.status !== 200 || shipped.body?.state !== 'shipped' || (totalMinor !== undefined && shipped.body?.capturedMinor !== totalMinor)) {
      throw new Error(`ship: ${shipped.status} ${JSON.stringify(shipped.body).slice(0, 300)}`);
    }
  }

  /**
   * One order: create (must reach authorized_plus_avs), then, unless `ship` is false, ship everything (must
   * capture the total). Its record (with the failure, if any) is kept in `records` and answered; the times go to `t`.
   */
  async run(clientOrderId: string, t: Timings, o: { scheduledAt?: number; ship?: boolean } = {}): Promise<OrderRecord> {
    const rec: OrderRecord = { id: '', totalMinor: 0 };
    this.records.push(rec);
    const t0 = o.scheduledAt ?? performance.now();
    try {
      const created = await this.post('/orders', {
        clientOrderId, customerId: 'bench-customer', items: ORDER_ITEMS, shipping: { optionId: 'standard', address: ORDER_ADDRESS },
        payment: { token: this.nextToken(), billingPostalCode: '94107' },
      });
      const t1 = performance.now();
      if (![200, 201].includes(created.status) || created.body?.state !== 'authorized_plus_avs') {
        throw new Error(`create: ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
      }
      t.create.push(t1 - t0);
      rec.id = created.body.id;
      rec.totalMinor = created.body.totalMinor;
      if (o.ship === false) return rec;
      await this.ship(rec.id, rec.totalMinor, SHIP_ALL, `TRK-${clientOrderId}`);
      const t2 = performance.now();
      t.ship.push(t2 - t1);
      t.order.push(t2 - t0);
    } catch (err) {
      rec.failure = `${clientOrderId}: ${(err as Error).message}`;
    }
    return rec;
  }
}

export interface OrderRow { id: string; total_minor: string; state: string; captured: string | null }

/**
 * The orders' rows with what was captured of each, once every one of them is in PostgreSQL in `state` (the read
 * model lags the replies a little), or as they are after SETTLE_TIMEOUT_MS.
 */
export async function settledOrders(db: Db, ids: string[], state: string, timeoutMs = SETTLE_TIMEOUT_MS): Promise<OrderRow[]> {
  let rows: OrderRow[];
  for (const deadline = Date.now() + timeoutMs; ;) {
    rows = [];
    for (let i = 0; i < ids.length; i += 1000) {
      rows.push(...await db('orders as o').leftJoin('captures as c', 'c.order_id', 'o.id').whereIn('o.id', ids.slice(i, i + 1000))
        .groupBy('o.id', 'o.total_minor', 'o.state').select('o.id', 'o.total_minor', 'o.state').sum({ captured: 'c.amount_minor' }) as OrderRow[]);
    }
    if ((rows.length === ids.length && rows.every((r) => r.state === state)) || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
}
