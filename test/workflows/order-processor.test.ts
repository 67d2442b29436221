// The order against a processor that misbehaves or ages: outages waited out (awaiting_processor), outage
// deadlines, and reauthorization before expiry. Each test has its own simulator, so its faults touch no one else.
import { afterEach, describe, expect, it } from 'vitest';
import { shipUpdate, statusQuery, submitUpdate } from '../../workflows/order.contract';
import { NeedsAttention, OrderState } from '../../workflows/searchAttributes';
import type { OrderView } from '../../domain/order';
import { orderHarness, orderLedger, type OrderHarness } from '../support/orders';

let h: OrderHarness | undefined;
afterEach(async () => { await h?.close(); h = undefined; });

describe('processor outages', () => {
  it('waits in awaiting_processor while the processor refuses connections, then authorizes exactly once', async () => {
    h = await orderHarness({ privateSimulator: true });
    const token = await h.tokenize();
    await h.admin.setFaults({ mode: 'down', downStyle: 'refuse' });
    const { id } = await h.start({ token });
    const handle = h.client.workflow.getHandle(id);
    const pending = await handle.executeUpdate(submitUpdate);
    expect(pending).toMatchObject({ outcome: 'pending', order: { state: 'awaiting_processor' } });
    await expect.poll(async () => (await handle.describe()).typedSearchAttributes.get(OrderState)).toBe('awaiting_processor');

    await h.admin.clearFaults();
    await expect.poll(async () => (await handle.query(statusQuery)).state, { timeout: 15_000 }).toBe('authorized_plus_avs');
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(1);
    await expect.poll(async () => (await handle.describe()).typedSearchAttributes.get(OrderState)).toBe('authorized_plus_avs');
  });

  it('fails the order with a recorded problem when the processor stays away past the deadline', async () => {
    h = await orderHarness({ privateSimulator: true });
    const token = await h.tokenize();
    await h.admin.setFaults({ mode: 'down', downStyle: '503' });
    const { id } = await h.start({ token, policy: { processorDeadlineMs: 2_000 } });
    const result: OrderView = await h.client.workflow.getHandle(id).result();
    expect(result.state).toBe('failed_authorization');
    expect(result.failure?.code).toBe('processor_unreachable');
    expect(result.needsAttention).toBe(true);
    const problems = await h.db('problems').where({ workflow_id: id });
    expect(problems.map((p) => p.kind)).toEqual(['authorization_failed']);
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(0);
  });

  it('retries a capture whose responses were lost without capturing twice', async () => {
    h = await orderHarness({ privateSimulator: true });
    const { id, input } = await h.start({});
    const handle = h.client.workflow.getHandle(id);
    await handle.executeUpdate(submitUpdate);
    await h.admin.setFaults({ mode: 'lost_response', operations: ['capture'], count: 2 });
    await handle.executeUpdate(shipUpdate, { args: [{ shipmentId: 'all', trackingNumber: 'T1',
      items: [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }] }] });
    await expect.poll(async () => (await handle.query(statusQuery)).state, { timeout: 15_000 }).toBe('shipped');
    const [auth] = await h.admin.authorizationsByReference(id);
    const captures = await h.admin.capturesByAuthorization(auth.id);
    expect(captures).toHaveLength(1);
    expect(captures[0].amountMinor).toBe(input.priced.totalMinor);
    expect((await orderLedger(h.db, id)).captured).toBe(BigInt(input.priced.totalMinor));
  });
});

describe('reauthorization', () => {
  it('reauthorizes the unshipped remainder before expiry, voids the old authorization, captures on the new one', async () => {
    h = await orderHarness({ privateSimulator: true, authValiditySeconds: 5 });
    const { id, input } = await h.start({ policy: { reauthLeadMs: 3_500 } });
    const handle = h.client.workflow.getHandle(id);
    const first = (await handle.executeUpdate(submitUpdate)).order.authorizations[0];
    await expect.poll(async () => (await handle.query(statusQuery)).authorizations.length, { timeout: 10_000 }).toBe(2);
    const view = await handle.query(statusQuery);
    expect(view.authorizations[0]).toMatchObject({ id: first.id, status: 'replaced' });
    expect(view.authorizations[1]).toMatchObject({ status: 'active', amountMinor: input.priced.totalMinor });
    await expect.poll(async () => (await h!.processor.getTransaction(first.id))?.voidedAt, { timeout: 5_000 }).toBeTruthy();

    const shipped = await handle.executeUpdate(shipUpdate, { args: [{ shipmentId: 's1', trackingNumber: 'T', items: [{ sku: 'lamp', quantity: 1 }] }] });
    expect(shipped.order.captures[0].authorizationId).toBe(view.authorizations[1].id);
    expect(await h.admin.capturesByAuthorization(view.authorizations[1].id)).toHaveLength(1);
  });

  it('flags the order and records a problem when reauthorization fails', async () => {
    h = await orderHarness({ privateSimulator: true, authValiditySeconds: 4 });
    const { id } = await h.start({ policy: { reauthLeadMs: 3_000, processorDeadlineMs: 1_000 } });
    const handle = h.client.workflow.getHandle(id);
    await h.admin.setFaults({ mode: 'down', downStyle: '503', operations: ['reauthorize'] });
    await handle.executeUpdate(submitUpdate);
    await expect.poll(async () => (await handle.query(statusQuery)).attentionReasons, { timeout: 10_000 }).toEqual(['reauthorization_failed']);
    await expect.poll(async () => (await handle.describe()).typedSearchAttributes.get(NeedsAttention)).toBe(true);
    expect((await h.db('problems').where({ workflow_id: id })).map((p) => p.kind)).toEqual(['reauthorization_failed']);
    expect((await handle.query(statusQuery)).authorizations).toHaveLength(1);
  });
});

describe('a command repeated while it runs', () => {
  it('a shipment repeated during an outage waits for the first: one capture, and the repeat answers done', async () => {
    h = await orderHarness({ privateSimulator: true });
    const { id, input } = await h.start({});
    const handle = h.client.workflow.getHandle(id);
    await handle.executeUpdate(submitUpdate);
    await h.admin.setFaults({ mode: 'down', downStyle: '503', operations: ['capture'] });
    const req = { shipmentId: 'all', trackingNumber: 'T', items: [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }] };
    expect((await handle.executeUpdate(shipUpdate, { args: [req] })).outcome).toBe('pending');
    expect((await handle.executeUpdate(shipUpdate, { args: [req] })).outcome).toBe('pending'); // the client retries after its 202
    await h.admin.clearFaults();
    await expect.poll(async () => (await handle.query(statusQuery)).state, { timeout: 15_000 }).toBe('shipped');
    const repeat = await handle.executeUpdate(shipUpdate, { args: [req] });
    expect(repeat.outcome).toBe('done');
    expect(repeat.order.captures).toHaveLength(1);
    const [auth] = await h.admin.authorizationsByReference(id);
    expect(await h.admin.capturesByAuthorization(auth.id)).toHaveLength(1);
    expect((await orderLedger(h.db, id)).captured).toBe(BigInt(input.priced.totalMinor));
  });
});
