// Faults on the real processes during a checkout: the processor killed while the customer pays (the page hears
// "processing", the session completes with one authorization once it is back), and the worker SIGKILLed while the
// session waits for its order (a new worker carries both on).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { startServices, type Services } from '../support/services';
import { tokenizeCard } from '../support/processor-calls';

let svc: Services | undefined;
const { db, stores, close } = testDatabase(2);
afterEach(async () => { await svc?.stopAll(); svc = undefined; });
afterAll(() => close());

const address = { name: 'Ada', line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
async function session(s: Services) {
  const { apiKey } = await stores.merchants.create('Fault checkout shop', MERCHANT_SETTINGS);
  const r = await call(s.base, '/checkout-sessions', { key: apiKey, idem: uid(), body: {
    items: [{ sku: 'kettle', title: 'Kettle', quantity: 1, unitPriceMinor: 3000, kind: 'hard' }],
    successUrl: 'https://shop.example/ok', cancelUrl: 'https://shop.example/no' } });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, key: apiKey };
}
const site = (s: Services) => s.base.replace(/\/v1$/, '');
const pay = async (s: Services, id: string, token: string): Promise<any> => (await fetch(`${site(s)}/checkout/${id}/pay`, {
  method: 'POST', headers: { 'content-type': 'application/json', origin: site(s) },
  body: JSON.stringify({ shippingOptionId: 'standard', optionIds: [], address, token, billingPostalCode: '10115' }) })).json();
const status = async (s: Services, id: string): Promise<any> => (await fetch(`${site(s)}/checkout/${id}/status`)).json();

describe('a checkout while the processor is down', () => {
  it('the page hears the payment is processing; once the processor is back the session completes with one authorization', async () => {
    svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    const s = svc;
    const { id } = await session(s);
    const token = await tokenizeCard(s.processor);
    expect(await s.kill('simulator')).toBe('SIGKILL');
    const answer = await pay(s, id, token);
    expect(answer.session.state).toBe('processing');
    expect(answer.order?.state ?? 'awaiting_processor').toBe('awaiting_processor');

    await s.start('simulator');
    await expect.poll(async () => (await status(s, id)).session.state, { timeout: 30_000, interval: 250 }).toBe('completed');
    const { session: done } = await status(s, id);
    expect(await s.admin.authorizationsByReference(done.orderId)).toHaveLength(1);
    expect((await db('checkout_sessions').where({ id }).first()).state).toBe('completed');
  });
});

describe('the worker killed while a session waits for its order', () => {
  it('a new worker carries the order and the session on: completed once, one authorization', async () => {
    svc = await startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    const s = svc;
    const { id } = await session(s);
    // every authorize answer is lost (the processor applies it; the order's retries replay it, lost too)
    await s.admin.setFaults({ mode: 'lost_response', operations: ['authorize'] });
    const paying = pay(s, id, await tokenizeCard(s.processor));
    await expect.poll(async () => (await db('orders').whereLike('id', `%checkout-${id}-1`).first())?.id, { timeout: 15_000, interval: 50 }).toBeTruthy();
    const orderId = (await db('orders').whereLike('id', `%checkout-${id}-1`).first()).id as string;
    await expect.poll(async () => (await s.admin.authorizationsByReference(orderId)).length, { timeout: 15_000, interval: 20 }).toBe(1);
    expect(await s.kill('worker', 'SIGKILL')).toBe('SIGKILL');
    await paying.catch(() => undefined);

    await s.admin.clearFaults();
    await s.start('worker');
    await expect.poll(async () => (await status(s, id)).session.state, { timeout: 40_000, interval: 250 }).toBe('completed');
    expect((await status(s, id)).session.orderId).toBe(orderId);
    expect(await s.admin.authorizationsByReference(orderId)).toHaveLength(1);
  });
});
