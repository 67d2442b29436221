// Checkout sessions and carts on the real server with the real activities (the processor simulator over HTTP, the
// ledger in PostgreSQL), driven through the services the API and the hosted pages use. Each test checks what the
// processor recorded and what the books say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CartLine, CartView } from '../../domain/cart';
import type { CheckoutSessionView } from '../../domain/checkout';
import type { OrderView } from '../../domain/order';
import type { Services } from '../../services';
import { DEFAULT_AVS_POLICY } from '../../domain/avs';
import { cartQuery, type CartWorkflow, cartWorkflowId, purchaseUpdate } from '../../workflows/cart.contract';
import { checkoutSessionWorkflowId } from '../../workflows/checkoutSession.contract';
import { shipUpdate, cancelUpdate, statusQuery } from '../../workflows/order.contract';
import { testApp } from '../support/app';
import { uid } from '../support/env';
import { FAST_POLICY, MERCHANT_SETTINGS } from '../support/order-input';
import { orderHarness, orderLedger, type OrderHarness } from '../support/orders';
import { CARD } from '../support/processor-calls';

let h: OrderHarness;
let services: Services;
beforeAll(async () => {
  h = await orderHarness();
  services = (await testApp(h.database, h.client, { taskQueue: h.taskQueue })).services;
});
afterAll(() => h.close());

const address = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
const ITEMS = [{ sku: 'lamp', title: 'Lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' as const },
  { sku: 'guide', title: 'Guide', quantity: 1, unitPriceMinor: 900, kind: 'soft' as const }];
const sessionOf = async (s: Services = services, over: object = {}) =>
  (await s.checkout.create(h.merchantId, uid('idem-'), { items: ITEMS, options: [{ id: 'wrap', label: 'Gift wrap', priceMinor: 300 }],
    successUrl: 'https://shop.example/ok', cancelUrl: 'https://shop.example/no', ...over })).session;
const payment = async (card = CARD.approve) =>
  ({ token: await h.tokenize(card), billingPostalCode: '94107', shippingOptionId: 'express', optionIds: ['wrap'], address });
const row = async (id: string) => (await services.checkout.session(id))!;
const sessionEvents = (sessionId: string) => h.db('events').whereRaw(`data->>'sessionId' = ?`, [sessionId]).orderBy('created_at').pluck('type');
const sessionResult = (id: string): Promise<CheckoutSessionView> => h.client.workflow.getHandle(checkoutSessionWorkflowId(id)).result();

describe('checkout sessions', () => {
  it('completes once: the payment starts one order, authorized for the priced total; a repeat payment answers the same order', async () => {
    const s = await sessionOf();
    const paid = await services.checkout.pay(await row(s.id), await payment());
    expect(paid.session.state).toBe('completed');
    expect(paid.order).toMatchObject({ state: 'authorized_plus_avs', merchantId: h.merchantId });
    const quote = services.checkout.quote(await row(s.id), { shippingOptionId: 'express', optionIds: ['wrap'], address });
    expect(paid.order!.authorizedMinor).toBe(quote.totalMinor);
    expect(paid.order!.captures).toHaveLength(1); // the soft goods and the gift wrap, at authorization
    expect(paid.order!.capturedMinor).toBe(900 + 300 + 65 + 22);
    const again = await services.checkout.pay(await row(s.id), await payment());
    expect(again.session.orderId).toBe(paid.session.orderId);
    expect(await h.admin.authorizationsByReference(paid.session.orderId!)).toHaveLength(1);
    expect((await sessionResult(s.id)).state).toBe('completed');
    expect((await row(s.id)).view).toMatchObject({ state: 'completed', orderId: paid.session.orderId });
    expect(await sessionEvents(s.id)).toEqual(['order.created', 'checkout.session.completed']);
    expect((await orderLedger(h.db, paid.session.orderId!)).sum).toBe(0n);
  });

  it('a declined card leaves the session open for another card; the second attempt completes it', async () => {
    const s = await sessionOf();
    const declined = await services.checkout.pay(await row(s.id), await payment(CARD.decline));
    expect(declined.session.state).toBe('open');
    expect(declined.order).toMatchObject({ state: 'failed_authorization', failure: { code: 'card_declined' } });
    const paid = await services.checkout.pay(await row(s.id), await payment());
    expect(paid.session).toMatchObject({ state: 'completed', attempts: [{ n: 1 }, { n: 2 }] });
    expect(paid.session.orderId).not.toBe(declined.session.attempts[0].orderId);
  });

  it('expires unpaid by its timer, and then refuses a payment', async () => {
    // (the services' clock a day behind, less 1.5 s: the default 24-hour expiry is 1.5 s away)
    const late = (await testApp(h.database, h.client, { taskQueue: h.taskQueue, clock: () => Date.now() - 86_400_000 + 1500 })).services;
    const s = await sessionOf(late);
    expect((await sessionResult(s.id)).state).toBe('expired');
    expect((await row(s.id)).state).toBe('expired');
    await expect(services.checkout.pay(await row(s.id), await payment())).rejects.toMatchObject({ code: 'session_expired' });
    expect(await sessionEvents(s.id)).toEqual(['checkout.session.expired']);
  });
});

// --- carts -------------------------------------------------------------------------------------------------------

const merchants: string[] = [];
const customer = () => services.carts.newCustomer();
async function threeMerchants(): Promise<string[]> {
  if (merchants.length === 0) {
    merchants.push(h.merchantId);
    for (const n of [2, 3]) merchants.push((await h.stores.merchants.create(`Cart merchant ${n}`, MERCHANT_SETTINGS)).merchant.id);
  }
  return merchants;
}
const offer = (merchantId: string, sku: string, unitPriceMinor: number, kind: 'hard' | 'soft' = 'hard') =>
  services.carts.offer(merchantId, { sku, title: `Item ${sku}`, unitPriceMinor, kind, minQuantity: 1, maxQuantity: 10 });
const orderOf = (id: string): Promise<OrderView> => h.client.workflow.getHandle(id).query(statusQuery);
const shipping = (ms: string[]) => Object.fromEntries(ms.map((m) => [m, 'standard']));

describe('carts', () => {
  it('one authorization for three merchants; each order captures its own share per shipment; the ledger pays each merchant', async () => {
    const ms = await threeMerchants();
    const who = customer();
    for (const [i, m] of ms.entries()) await services.carts.add(who, (await offer(m, `sku-${i}`, 1000 * (i + 1))).offer, i + 1);
    const cartId = (await h.stores.checkout.activeCartOf((await import('node:crypto')).createHash('sha256').update(who).digest()))!;
    const view = (await services.carts.owned(cartId, who))!;
    const current = await services.carts.current(view);
    expect(current.lines).toHaveLength(3);
    const quote = await services.carts.quote(current, shipping(ms), address);
    const bought = await services.carts.purchase(current, { shipping: shipping(ms), address, token: await h.tokenize(), billingPostalCode: '94107',
      expectedTotalMinor: quote.totalMinor });
    expect(bought.state).toBe('purchased');
    expect(bought.orders.map((o) => o.merchantId)).toEqual(ms);
    const [auth, ...more] = await h.admin.authorizationsByReference(cartWorkflowId(cartId));
    expect(more).toHaveLength(0);
    expect(auth.amountMinor).toBe(quote.totalMinor);
    for (const [i, o] of bought.orders.entries()) {
      expect(o.amountMinor).toBe(quote.parts[i].priced.totalMinor);
      const shipped = await h.client.workflow.getHandle(o.orderId).executeUpdate(shipUpdate,
        { args: [{ shipmentId: 's1', items: [{ sku: `sku-${i}`, quantity: i + 1 }], trackingNumber: `TRK${i}` }] });
      expect(shipped.order).toMatchObject({ state: 'shipped', capturedMinor: o.amountMinor });
      const books = await orderLedger(h.db, o.orderId);
      expect(books).toMatchObject({ captured: BigInt(o.amountMinor), sum: 0n });
      expect(books.merchant).toBe(-BigInt(o.amountMinor - shipped.order.captures[0].feeMinor));
    }
    const captures = await h.admin.capturesByAuthorization(auth.id);
    expect(captures.map((c) => c.amountMinor).sort()).toEqual(bought.orders.map((o) => o.amountMinor).sort());
    expect((await h.stores.orders.get(bought.orders[1].orderId))?.merchantId).toBe(ms[1]);
  });

  it("a merchant that cancels its part voids only its share: the others still capture theirs", async () => {
    const ms = (await threeMerchants()).slice(0, 2);
    const who = customer();
    for (const [i, m] of ms.entries()) await services.carts.add(who, (await offer(m, `c-${i}`, 2500)).offer, 1);
    const current = await services.carts.current((await ownedCart(who))!);
    const quote = await services.carts.quote(current, shipping(ms), address);
    const bought = await services.carts.purchase(current, { shipping: shipping(ms), address, token: await h.tokenize(), billingPostalCode: '94107',
      expectedTotalMinor: quote.totalMinor });
    const [first, second] = bought.orders;
    const cancelled = await h.client.workflow.getHandle(first.orderId).executeUpdate(cancelUpdate, { args: [{ cancelId: 'c1' }] });
    expect(cancelled.order.state).toBe('voided');
    const [auth] = await h.admin.authorizationsByReference(cartWorkflowId(current.id));
    const tx = await h.processor.getTransaction(auth.id) as { releasedMinor?: number; voidedAt?: string | null };
    expect(tx.voidedAt ?? null).toBeNull(); // (only the share was released)
    const shipped = await h.client.workflow.getHandle(second.orderId).executeUpdate(shipUpdate,
      { args: [{ shipmentId: 's1', items: [{ sku: 'c-1', quantity: 1 }], trackingNumber: 'TRK' }] });
    expect(shipped.order.capturedMinor).toBe(second.amountMinor);
    expect((await orderLedger(h.db, first.orderId)).clearing).toBe(0n);
  });

  it('a price changed since the cart was filled is shown, and the purchase refused until the customer confirms the new total', async () => {
    const [m] = await threeMerchants();
    const who = customer();
    await services.carts.add(who, (await offer(m, 'pc-1', 1000)).offer, 2);
    await services.carts.add(who, (await offer(m, 'pc-gone', 700)).offer, 1);
    await offer(m, 'pc-1', 1250); // the merchant changes its price
    await services.carts.offer(m, { sku: 'pc-gone', title: 'Gone', unitPriceMinor: 700, kind: 'hard', minQuantity: 1, maxQuantity: 10, available: false });
    const current = await services.carts.current((await ownedCart(who))!);
    const quote = await services.carts.quote(current, { [m]: 'standard' }, address);
    expect(quote.changes.map((c) => [c.sku, c.change])).toEqual([['pc-1', 'price_changed'], ['pc-gone', 'unavailable']]);
    const ask = { shipping: { [m]: 'standard' }, address, token: await h.tokenize(), billingPostalCode: '94107' };
    await expect(services.carts.purchase(current, { ...ask, expectedTotalMinor: quote.totalMinor - 1 })).rejects.toMatchObject({ code: 'price_changed' });
    expect(await h.admin.authorizationsByReference(cartWorkflowId(current.id))).toHaveLength(0);
    const bought = await services.carts.purchase(current, { ...ask, expectedTotalMinor: quote.totalMinor });
    const order = await orderOf(bought.orders[0].orderId);
    expect(order.priced.lines.map((l) => [l.sku, l.unitPriceMinor])).toEqual([['pc-1', 1250]]); // nothing for the item gone
  });

  it('continues as new after its updates per run, carrying its lines', async () => {
    const [m] = await threeMerchants();
    const cartId = `cart_${uid()}`;
    const handle = await h.client.workflow.start<CartWorkflow>('cartWorkflow', { workflowId: cartWorkflowId(cartId), taskQueue: h.taskQueue,
      args: [{ cartId, updatesPerRun: 3 }] });
    await h.stores.checkout.createCart(cartId, Buffer.from('owner'));
    const firstRun = handle.firstExecutionRunId;
    const item = services.carts.openOffer((await offer(m, 'can-1', 100)).offer);
    const line: Omit<CartLine, 'quantity'> = { ...item };
    delete (line as Partial<CatalogLike>).available;
    for (let i = 0; i < 5; i++) await h.client.workflow.getHandle(cartWorkflowId(cartId)).executeUpdate('add', { args: [{ line, quantity: 1 }] });
    const desc = await h.client.workflow.getHandle(cartWorkflowId(cartId)).describe();
    expect(desc.runId).not.toBe(firstRun);
    expect((await h.client.workflow.getHandle(cartWorkflowId(cartId)).query(cartQuery)).lines).toEqual([expect.objectContaining({ sku: 'can-1', quantity: 5 })]);
  });
});

type CatalogLike = { available: boolean };
async function ownedCart(who: string) {
  const id = await h.stores.checkout.activeCartOf((await import('node:crypto')).createHash('sha256').update(who).digest());
  return services.carts.owned(id!, who);
}

describe('a cart purchase the processor never answered', () => {
  it('records a problem, and the next purchase asks under the same key: the hold made meanwhile is found, not made twice', async () => {
    const p = await orderHarness({ privateSimulator: true });
    try {
      const ps = (await testApp(p.database, p.client, { taskQueue: p.taskQueue })).services;
      const cartId = `cart_${uid()}`;
      await p.stores.checkout.createCart(cartId, Buffer.from('owner'));
      const handle = await p.client.workflow.start<CartWorkflow>('cartWorkflow', { workflowId: cartWorkflowId(cartId), taskQueue: p.taskQueue,
        args: [{ cartId, processorDeadlineMs: 1500 }] });
      const offered = await ps.carts.offer(p.merchantId, { sku: 'lost-1', title: 'Lost', unitPriceMinor: 1200, kind: 'soft', minQuantity: 1, maxQuantity: 5 });
      const { available: _, ...line } = ps.carts.openOffer(offered.offer);
      await handle.executeUpdate('add', { args: [{ line, quantity: 1 }] });
      const view = (await ps.carts.owned(cartId, 'owner'))?.view ?? await handle.query(cartQuery);
      const ask = { shipping: {}, address, token: await p.tokenize(), billingPostalCode: '94107', expectedTotalMinor: 0 };
      ask.expectedTotalMinor = (await ps.carts.quote(view, {}, address)).totalMinor;
      // the processor authorizes, but every answer is lost until the purchase's deadline
      await p.admin.setFaults({ mode: 'lost_response', operations: ['authorize'] });
      const failed = await handle.executeUpdate(purchaseUpdate, { args: [await purchaseOf(ps, view, ask)] });
      expect(failed).toMatchObject({ state: 'active', lastError: { code: 'processor_unreachable' } });
      expect(await p.db('problems').where({ workflow_id: cartWorkflowId(cartId), kind: 'authorization_unknown' })).toHaveLength(1);
      expect(await p.admin.authorizationsByReference(cartWorkflowId(cartId))).toHaveLength(1); // (held, unanswered)

      await p.admin.clearFaults();
      const bought = await handle.executeUpdate(purchaseUpdate, { args: [await purchaseOf(ps, await handle.query(cartQuery), ask)] });
      expect(bought.state).toBe('purchased');
      const auths = await p.admin.authorizationsByReference(cartWorkflowId(cartId));
      expect(auths).toHaveLength(1); // the same hold, found again under its key
      expect((await orderOf2(p, bought.orders[0].orderId)).authorizations[0].id).toBe(auths[0].id);
    } finally {
      await p.close();
    }
  });
});

/** The purchase request CartService.purchase sends, priced now. */
async function purchaseOf(s: Services, view: CartView, ask: { shipping: Record<string, string>; address: typeof address; token: string; billingPostalCode: string }) {
  const q = await s.carts.quote(view, ask.shipping, ask.address);
  return { lines: q.lines, dropped: [], parts: q.parts.map((part) => ({ ...part, policy: { ...FAST_POLICY, avsPolicy: DEFAULT_AVS_POLICY, feeBps: 250 } })),
    totalMinor: q.totalMinor, currency: q.currency, address: ask.address, payment: { token: ask.token, billingPostalCode: ask.billingPostalCode },
    customerId: `cart-${view.id}` };
}
const orderOf2 = (p: OrderHarness, id: string): Promise<OrderView> => p.client.workflow.getHandle(id).query(statusQuery);

describe("a cart's order whose share of the purchase's authorization ages", () => {
  it('asks a person to look (a problem, needs attention) instead of reauthorizing the share alone', async () => {
    // (authorizations good for 30 s; the orders' lead before expiry is a minute: due at once)
    const p = await orderHarness({ privateSimulator: true, authValiditySeconds: 30 });
    try {
      const ps = (await testApp(p.database, p.client, { taskQueue: p.taskQueue })).services;
      const cartId = `cart_${uid()}`;
      await p.stores.checkout.createCart(cartId, Buffer.from('owner'));
      const handle = await p.client.workflow.start<CartWorkflow>('cartWorkflow', { workflowId: cartWorkflowId(cartId), taskQueue: p.taskQueue,
        args: [{ cartId }] });
      const offered = await ps.carts.offer(p.merchantId, { sku: 'slow-1', title: 'Slow', unitPriceMinor: 2000, kind: 'hard', minQuantity: 1, maxQuantity: 5 });
      const { available: _, ...line } = ps.carts.openOffer(offered.offer);
      await handle.executeUpdate('add', { args: [{ line, quantity: 1 }] });
      const ask = { shipping: { [p.merchantId]: 'standard' }, address, token: await p.tokenize(), billingPostalCode: '94107' };
      const bought = await handle.executeUpdate(purchaseUpdate, { args: [await purchaseOf(ps, await handle.query(cartQuery), ask)] });
      const orderId = bought.orders[0].orderId;
      await expect.poll(async () => (await p.db('problems').where({ workflow_id: orderId, kind: 'authorization_expiring' })).length,
        { timeout: 10_000, interval: 100 }).toBe(1);
      const order = await orderOf2(p, orderId);
      expect(order).toMatchObject({ needsAttention: true, attentionReasons: ['authorization_expiring'], state: 'authorized_plus_avs' });
      expect(await p.admin.authorizationsByReference(cartWorkflowId(cartId))).toHaveLength(1); // (nothing reauthorized)
    } finally {
      await p.close();
    }
  });
});
