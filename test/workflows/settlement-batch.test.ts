// Settlement batches: every capture goes to the processor in exactly one batch, even with two runs at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettlementBatchResult, SettlementBatchWorkflow } from '../../workflows/settlementBatch.contract';
import { shipUpdate, submitUpdate } from '../../workflows/order.contract';
import { orderHarness, type OrderHarness } from '../support/orders';
import { uid } from '../support/env';

let h: OrderHarness;
beforeAll(async () => { h = await orderHarness(); });
afterAll(() => h.close());

async function capturedOrders(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { id } = await h.start({});
    const handle = h.client.workflow.getHandle(id);
    await handle.executeUpdate(submitUpdate);
    await handle.executeUpdate(shipUpdate, { args: [{ shipmentId: 'a', trackingNumber: 'T', items: [{ sku: 'book', quantity: 1 }] }] });
    await handle.executeUpdate(shipUpdate, { args: [{ shipmentId: 'b', trackingNumber: 'T', items: [{ sku: 'lamp', quantity: 1 }] }] });
    ids.push(id);
  }
  return ids;
}

const run = (capturesPerBatch: number) => h.client.workflow.execute<SettlementBatchWorkflow>('settlementBatchWorkflow', {
  taskQueue: h.taskQueue, workflowId: uid('settle-'), args: [{ capturesPerBatch }],
});

describe('settlementBatchWorkflow', () => {
  it('puts each capture into exactly one batch, also when two runs overlap, and records the batch on the capture', async () => {
    const orders = await capturedOrders(4);
    const results: SettlementBatchResult[] = await Promise.all([run(3), run(3)]);
    const mine = await h.db('captures').whereIn('order_id', orders).select('id', 'batch_id');
    expect(mine).toHaveLength(8);
    expect(mine.every((c) => c.batch_id)).toBe(true);

    const batched = results.flatMap((r) => r.batches);
    const seen = new Map<string, string>();
    for (const b of batched) {
      const tx = await h.processor.getTransaction(b.id) as { captureIds: string[] };
      for (const c of tx.captureIds) {
        expect(seen.has(c), `capture ${c} in two batches`).toBe(false);
        seen.set(c, b.id);
      }
      expect(b.captureCount).toBeLessThanOrEqual(3);
    }
    for (const c of mine) expect(seen.get(c.id)).toBe(c.batch_id);

    const again = await run(3);
    const rebatched = again.batches.length ? await h.db('captures').whereIn('order_id', orders).whereNot('batch_id', null)
      .whereIn('batch_id', again.batches.map((b) => b.id)) : [];
    expect(rebatched).toHaveLength(0);
  });
});
