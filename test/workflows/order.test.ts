// The order workflow on the real server, with the real activities: the processor simulator over HTTP and the
// ledger in PostgreSQL. Each test checks money moved, the ledger and the processor's own records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  cancelUpdate, refundUpdate, reviewUpdate, shipUpdate, statusQuery, submitUpdate,
} from '../../workflows/order.contract';
import type { OrderView } from '../../domain/order';
import { captureFeeMinor } from '../../processors/simulator/fees';
import { HARD_ITEMS, orderHarness, orderLedger, POSTAL, type OrderHarness } from '../support/orders';
import { CARD } from '../support/processor-calls';

let h: OrderHarness;
beforeAll(async () => { h = await orderHarness(); });
afterAll(() => h.close());

const handle = (id: string) => h.client.workflow.getHandle(id);
const submit = async (id: string) => (await handle(id).executeUpdate(submitUpdate)).order;
const ship = (id: string, shipmentId: string, items: Array<{ sku: string; quantity: number }>) =>
  handle(id).executeUpdate(shipUpdate, { args: [{ shipmentId, items, trackingNumber: `TRK-${shipmentId}` }] });
async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => { throw new Error('expected the update to be refused'); }, (e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError & { cause: { type: string } }).cause.type;
}

describe('authorization', () => {
  it('authorizes the priced total once, with AVS Y accepted', async () => {
    const { id, input } = await h.start({});
    const order = await submit(id);
    expect(order.state).toBe('authorized_plus_avs');
    expect(order.authorizedMinor).toBe(input.priced.totalMinor);
    const auths = await h.admin.authorizationsByReference(id);
    expect(auths).toHaveLength(1);
    expect(auths[0]).toMatchObject({ amountMinor: input.priced.totalMinor, avsCode: 'Y', status: 'approved' });
  });

  it('fails on a declined card and on insufficient funds, capturing nothing', async () => {
    for (const [card, code] of [[CARD.decline, 'card_declined'], [CARD.insufficient, 'insufficient_funds']]) {
      const { id } = await h.start({ card });
      // A declined order closes at once (the processor call is a local activity), so read its result.
      const result: OrderView = await handle(id).result();
      expect(result.state).toBe('failed_authorization');
      expect(result.failure?.code).toBe(code);
      expect(result.capturedMinor).toBe(0);
      expect((await orderLedger(h.db, id)).clearing).toBe(0n);
    }
  });

  it('voids at the processor when the AVS policy rejects the code (N)', async () => {
    const { id } = await h.start({ postalCode: POSTAL.N });
    const result: OrderView = await handle(id).result();
    expect(result.state).toBe('failed_authorization');
    expect(result.authorizations[0]).toMatchObject({ avsCode: 'N', status: 'voided' });
    const [auth] = await h.admin.authorizationsByReference(id);
    expect(await h.processor.getTransaction(auth.id)).toMatchObject({ voidedAt: expect.any(String) });
  });
});

describe('AVS review', () => {
  it('waits for an operator: shipping is refused until approved, then captures', async () => {
    const { id } = await h.start({ postalCode: POSTAL.A });
    expect((await submit(id)).state).toBe('authorized_minus_avs');
    expect(await refusal(ship(id, 's1', [{ sku: 'lamp', quantity: 1 }]))).toBe('order_in_review');
    const reviewed = await handle(id).executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] });
    expect(reviewed.order.review).toEqual({ decision: 'approve' });
    const shipped = await ship(id, 's1', [{ sku: 'lamp', quantity: 1 }]);
    expect(shipped.order.capturedMinor).toBeGreaterThan(0);
  });

  it('voids when the operator rejects', async () => {
    const { id } = await h.start({ postalCode: POSTAL.Z });
    await submit(id);
    await handle(id).executeUpdate(reviewUpdate, { args: [{ decision: 'reject' }] });
    const result: OrderView = await handle(id).result();
    expect(result.state).toBe('voided');
    expect(result.failure?.code).toBe('review_rejected');
  });

  it('voids when nobody decides before the review deadline', async () => {
    const { id } = await h.start({ postalCode: POSTAL.A, policy: { reviewTimeoutMs: 1_000 } });
    const result: OrderView = await handle(id).result();
    expect(result.state).toBe('voided');
    expect(result.review).toEqual({ decision: 'timeout' });
    expect(result.authorizations[0].status).toBe('voided');
  });

  it('refuses a review of an order that is not in review', async () => {
    const { id } = await h.start({});
    await submit(id);
    expect(await refusal(handle(id).executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] }))).toBe('not_in_review');
  });
});

describe('shipments and captures', () => {
  it('captures per shipment (shipping with the first), to the cent of the total, and posts each capture', async () => {
    const { id, input } = await h.start({});
    await submit(id);
    const first = await ship(id, 's1', [{ sku: 'book', quantity: 2 }]);
    expect(first.order.state).toBe('partially_shipped');
    const book = input.priced.lines.find((l) => l.sku === 'book')!;
    const firstAmount = (book.unitPriceMinor + book.unitTaxMinor) * 2 + input.priced.shippingMinor + input.priced.shippingTaxMinor;
    expect(first.order.capturedMinor).toBe(firstAmount);
    const second = await ship(id, 's2', [{ sku: 'lamp', quantity: 1 }]);
    expect(second.order.state).toBe('shipped');
    expect(second.order.capturedMinor).toBe(input.priced.totalMinor);

    const [auth] = await h.admin.authorizationsByReference(id);
    const captures = await h.admin.capturesByAuthorization(auth.id);
    expect(captures.map((c) => c.amountMinor).sort((a, b) => a - b))
      .toEqual([firstAmount, input.priced.totalMinor - firstAmount].sort((a, b) => a - b));
    const books = await orderLedger(h.db, id);
    const fee = second.order.captures.reduce((s, c) => s + c.feeMinor, 0);
    expect(fee).toBeGreaterThan(0);
    expect(books).toMatchObject({ captured: BigInt(input.priced.totalMinor), merchant: -BigInt(input.priced.totalMinor - fee), fees: -BigInt(fee), sum: 0n });
    // (the processor's fee on each capture, without line items: the merchant did not opt in)
    expect(books.processorFees).toBe(BigInt(second.order.captures.reduce((s, c) => s + captureFeeMinor(c.amountMinor, false), 0)));
  });

  it('answers a repeated shipment with the first result and captures once', async () => {
    const { id } = await h.start({});
    await submit(id);
    const a = await ship(id, 'again', [{ sku: 'lamp', quantity: 1 }]);
    const b = await ship(id, 'again', [{ sku: 'lamp', quantity: 1 }]);
    expect(b.order.captures).toHaveLength(1);
    expect(b.order.capturedMinor).toBe(a.order.capturedMinor);
    const [auth] = await h.admin.authorizationsByReference(id);
    expect(await h.admin.capturesByAuthorization(auth.id)).toHaveLength(1);
  });

  it('refuses over-shipping, unknown items and soft goods in a shipment, capturing nothing', async () => {
    const { id } = await h.start({ items: [...HARD_ITEMS, { sku: 'ebook', quantity: 1, unitPriceMinor: 999, kind: 'soft' }] });
    await submit(id);
    expect(await refusal(ship(id, 'x1', [{ sku: 'book', quantity: 3 }]))).toBe('over_shipment');
    expect(await refusal(ship(id, 'x2', [{ sku: 'nope', quantity: 1 }]))).toBe('unknown_sku');
    expect(await refusal(ship(id, 'x3', [{ sku: 'ebook', quantity: 1 }]))).toBe('not_shippable');
    // Only the soft goods are captured, right after authorization.
    await expect.poll(async () => (await handle(id).query(statusQuery)).captures.map((c) => c.shipmentId)).toEqual([null]);
  });

  it('captures soft goods right after authorization', async () => {
    const { id, input } = await h.start({ items: [{ sku: 'song', quantity: 3, unitPriceMinor: 129, kind: 'soft' }] });
    const order = await submit(id);
    await expect.poll(async () => (await handle(id).query(statusQuery)).state).toBe('shipped');
    expect(order.authorizedMinor).toBe(input.priced.totalMinor);
    expect((await handle(id).query(statusQuery)).capturedMinor).toBe(input.priced.totalMinor);
  });
});

describe('cancel, refund, return', () => {
  it('cancel before capture voids the authorization and releases the whole amount', async () => {
    const { id, input } = await h.start({});
    await submit(id);
    await handle(id).executeUpdate(cancelUpdate, { args: [{ cancelId: 'c1' }] });
    const result: OrderView = await handle(id).result();
    expect(result.state).toBe('voided');
    expect(result.failure).toBeNull();
    const [auth] = await h.admin.authorizationsByReference(id);
    expect(await h.processor.getTransaction(auth.id)).toMatchObject({ voidedAt: expect.any(String) });
    expect(input.priced.totalMinor).toBeGreaterThan(0);
    expect((await orderLedger(h.db, id)).clearing).toBe(0n);
  });

  it('refunds partially then wholly, reversing the ledger exactly, fee included', async () => {
    const { id, input } = await h.start({});
    await submit(id);
    await ship(id, 's1', [{ sku: 'book', quantity: 2 }]);
    await ship(id, 's2', [{ sku: 'lamp', quantity: 1 }]);
    const total = input.priced.totalMinor;
    const part = await handle(id).executeUpdate(refundUpdate, { args: [{ refundId: 'r1', kind: 'refund', amountMinor: 1001 }] });
    expect(part.order.state).toBe('partially_refunded');
    expect(await refusal(handle(id).executeUpdate(refundUpdate, { args: [{ refundId: 'r2', kind: 'refund', amountMinor: total }] })))
      .toBe('over_refund');
    const rest = await handle(id).executeUpdate(refundUpdate, { args: [{ refundId: 'r3', kind: 'refund', amountMinor: total - 1001 }] });
    expect(rest.order.state).toBe('refunded');
    expect(rest.order.refundedMinor).toBe(total);
    // (the processor keeps its fees on the captures: refunds give the customer back what was captured, no more)
    const processorFees = BigInt(rest.order.captures.reduce((s, c) => s + captureFeeMinor(c.amountMinor, false), 0));
    expect(await orderLedger(h.db, id)).toEqual({ clearing: -processorFees, merchant: 0n, fees: 0n, processorFees, captured: 0n, sum: 0n });
  });

  it('a return refunds the returned units at their price and tax', async () => {
    const { id, input } = await h.start({});
    await submit(id);
    await ship(id, 's1', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
    const r = await handle(id).executeUpdate(refundUpdate, { args: [{ refundId: 'ret1', kind: 'return', items: [{ sku: 'book', quantity: 1 }] }] });
    const book = input.priced.lines.find((l) => l.sku === 'book')!;
    expect(r.order.state).toBe('partially_returned');
    expect(r.order.refundedMinor).toBe(book.unitPriceMinor + book.unitTaxMinor);
    expect(await refusal(handle(id).executeUpdate(refundUpdate, { args: [{ refundId: 'ret2', kind: 'return', items: [{ sku: 'book', quantity: 2 }] }] })))
      .toBe('over_return');
  });

  it('closes after the refund window once everything is captured', async () => {
    const { id } = await h.start({ policy: { refundWindowMs: 500 } });
    await submit(id);
    await ship(id, 'all', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
    const result: OrderView = await handle(id).result();
    expect(result.state).toBe('shipped');
    const row = await h.db('orders').where({ id }).first();
    expect(row.state).toBe('shipped');
    expect(row.view.capturedMinor).toBe(result.capturedMinor);
  });
});

describe('cancelling the rest of a partly shipped order', () => {
  it('voids the unshipped remainder, keeps what was captured, and closes after the refund window', async () => {
    const { id, input } = await h.start({ policy: { refundWindowMs: 500 } });
    await submit(id);
    const first = await ship(id, 's1', [{ sku: 'lamp', quantity: 1 }]);
    const cancelled = await handle(id).executeUpdate(cancelUpdate, { args: [{ cancelId: 'rest' }] });
    expect(cancelled.order.state).toBe('partially_shipped');
    expect(cancelled.order.authorizations[0].status).toBe('voided');
    expect(await refusal(ship(id, 's2', [{ sku: 'book', quantity: 1 }]))).toBe('order_not_shippable');
    const result: OrderView = await handle(id).result();
    expect(result.capturedMinor).toBe(first.order.capturedMinor);
    expect(result.capturedMinor).toBeLessThan(input.priced.totalMinor);
    const [auth] = await h.admin.authorizationsByReference(id);
    expect(await h.processor.getTransaction(auth.id)).toMatchObject({ voidedAt: expect.any(String) });
  });
});
