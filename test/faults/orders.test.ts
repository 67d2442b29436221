// Faults that really happen to real processes: the simulator process killed during authorization, and the
// worker process SIGKILLed right after the processor applied an authorization whose response was lost.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { orderLedger } from '../support/orders';
import { startServices, type Services } from '../support/services';
import { tokenizeCard } from '../support/processor-calls';

let svc: Services | undefined;
const { db, stores, close } = testDatabase(2);
afterEach(async () => { await svc?.stopAll(); svc = undefined; });
afterAll(() => close());

async function setup() {
  svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
  const { apiKey } = await stores.merchants.create('Fault shop', MERCHANT_SETTINGS);
  const token = await tokenizeCard(svc.processor);
  const body = {
    clientOrderId: uid('co-'), customerId: 'c1',
    items: [{ sku: 'kettle', quantity: 1, unitPriceMinor: 3000, kind: 'hard' }],
    shipping: { optionId: 'express', address: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' } },
    payment: { token, billingPostalCode: '10115' },
  };
  return { s: svc, key: apiKey, body };
}

const stateOf = async (s: Services, key: string, id: string) => (await call(s.base, `/orders/${id}`, { key })).body.state;

describe('processor killed during authorization', () => {
  it('answers 202 awaiting_processor, then completes with exactly one authorization once the processor is back', async () => {
    const { s, key, body } = await setup();
    expect(await s.kill('simulator')).toBe('SIGKILL');
    const created = await call(s.base, '/orders', { key, body });
    expect(created.status).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/orders/${created.body.id}`);
    expect(created.body.state).toBe('awaiting_processor');

    await s.start('simulator');
    await expect.poll(() => stateOf(s, key, created.body.id), { timeout: 20_000, interval: 250 }).toBe('authorized_plus_avs');
    expect(await s.admin.authorizationsByReference(created.body.id)).toHaveLength(1);
  });
});

describe('worker killed after a lost authorization response', () => {
  it('after restart: one authorization, one capture, and the ledger balances', async () => {
    const { s, key, body } = await setup();
    // Every authorize answer is lost (the effect happens; a retry with the same key replays, and is lost too).
    await s.admin.setFaults({ mode: 'lost_response', operations: ['authorize'] });
    const created = await call(s.base, '/orders', { key, body });
    const id = created.body.id as string;
    await expect.poll(async () => (await s.admin.authorizationsByReference(id)).length, { timeout: 15_000, interval: 20 }).toBe(1);
    expect(await s.kill('worker', 'SIGKILL')).toBe('SIGKILL');

    await s.admin.clearFaults();
    await s.start('worker');
    await expect.poll(() => stateOf(s, key, id), { timeout: 40_000, interval: 250 }).toBe('authorized_plus_avs');
    const shipped = await call(s.base, `/orders/${id}/shipments`, { key, idem: 'all', body: { items: [{ sku: 'kettle', quantity: 1 }], trackingNumber: 'T' } });
    expect(shipped.body.state).toBe('shipped');

    const auths = await s.admin.authorizationsByReference(id);
    expect(auths).toHaveLength(1);
    const captures = await s.admin.capturesByAuthorization(auths[0].id);
    expect(captures).toHaveLength(1);
    expect(captures[0].amountMinor).toBe(shipped.body.totalMinor);
    expect(await orderLedger(db, id)).toMatchObject({ captured: BigInt(shipped.body.totalMinor), sum: 0n });
  });

  it('a shipment sent while no worker runs is 503 order_unavailable, not 202; its repeat once one is back captures once', async () => {
    const { s, key, body } = await setup();
    const created = await call(s.base, '/orders', { key, body });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(await s.kill('worker', 'SIGKILL')).toBe('SIGKILL');

    const ship = { items: [{ sku: 'kettle', quantity: 1 }], trackingNumber: 'T' };
    const started = Date.now();
    const away = await call(s.base, `/orders/${id}/shipments`, { key, idem: 'all', body: ship });
    const tookMs = Date.now() - started;
    expect(away.status, JSON.stringify(away.body)).toBe(503);
    expect(away.body.error.code).toBe('order_unavailable');
    expect(away.headers.get('retry-after')).toBe('5');
    expect(tookMs).toBeLessThan(6000); // (the bound a client is promised, with room for a loaded machine)

    await s.start('worker');
    await expect.poll(async () => (await call(s.base, `/orders/${id}/shipments`, { key, idem: 'all', body: ship })).body.state,
      { timeout: 30_000, interval: 500 }).toBe('shipped');
    const [auth] = await s.admin.authorizationsByReference(id);
    expect(await s.admin.capturesByAuthorization(auth.id)).toHaveLength(1);
    expect(await orderLedger(db, id)).toMatchObject({ captured: BigInt(created.body.totalMinor), sum: 0n });
  });
});
