// The customer agrees on another channel before money moves, over HTTP with the real processes (API, worker,
// processor simulator, messaging gateway simulator, PostgreSQL, Temporal) and a simulated device. By message: the
// offer reaches the phone with a one-time code, YES authorizes exactly once, NO / wrong codes / the deadline cancel
// with nothing authorized, a late reply is answered politely. On the device: a 3-D Secure test card's authorization
// waits for the device's signed answer; approved it is authorized, rejected or unanswered it fails. Forged, replayed,
// misdirected and stale inputs are refused and counted, and change no order.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_OPEN_CONFIRMATIONS_PER_PHONE, MAX_WRONG_CODES } from '../../domain/confirmation';
import { MAX_DEVICES_PER_CUSTOMER } from '../../domain/stepUp';
import { signGatewayWebhook } from '../../processors/messaging/signature';
import { createPrivateKey } from 'node:crypto';
import type { DeviceDecision, SignedAuthenticationRequest, SignedDeviceAnswer } from '../../domain/stepUp';
import { signAnswer } from '../../processors/devices/signatures';
import { DeviceSimulator } from '../../processors/devices/simulator';
import type { Stores } from '../../stores';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { MESSAGING_WEBHOOK_SECRET, startServices, type Services } from '../support/services';

let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;
let operator: string;
let apiUrl: string;

/** Short deadlines, so the tests see them pass. */
const REPLY_TIMEOUT_S = 8;
const DEVICE_TIMEOUT_S = 8;

beforeAll(async () => {
  ({ stores, close: closeDb } = testDatabase(2));
  svc = await startServices({ PAYBROKER_CONFIRMATION_TIMEOUT: `${REPLY_TIMEOUT_S}s`, PAYBROKER_AUTHENTICATION_TIMEOUT: `${DEVICE_TIMEOUT_S}s` });
  apiUrl = svc.base.replace(/\/v1$/, '');
  operator = (await stores.principals.create('operator', 'Confirmation operator')).apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

const settle = { timeout: 30_000, interval: 100 };
const STEP_UP_CARD = '4000002760003184';
let phoneSeq = 0;
/** A phone number no other test uses. */
const newPhone = () => `+1415${String(Date.now() % 1_000_000).padStart(6, '0')}${String(phoneSeq++ % 10)}`;

async function merchant(settings: Record<string, unknown> = {}) {
  const { merchant: m, apiKey } = await stores.merchants.create(`Books ${uid()}`, { ...MERCHANT_SETTINGS, ...settings });
  return { id: m.id, name: m.name, key: apiKey };
}

async function placeOrder(key: string, o: { phone?: string; required?: boolean; card?: string; customerId?: string; unitPriceMinor?: number; idem?: string }) {
  const token = await tokenizeCard(svc.processor, o.card);
  const body: Record<string, unknown> = {
    customerId: o.customerId ?? uid('cus-'),
    items: [{ sku: 'ebook', quantity: 1, unitPriceMinor: o.unitPriceMinor ?? 1999, kind: 'soft' }],
    payment: { token, billingPostalCode: '94107', billingCountry: 'US' },
  };
  if (o.phone) body.confirmation = { channel: 'sms', phone: o.phone, ...(o.required === undefined ? {} : { required: o.required }) };
  return call(svc.base, '/orders', { key, idem: o.idem ?? uid('co-'), body });
}

const getOrder = async (key: string, id: string) => (await call(svc.base, `/orders/${id}`, { key })).body;
const orderIn = (key: string, id: string, state: string) => vi.waitFor(async () => {
  const o = await getOrder(key, id);
  expect(o.state).toBe(state);
  return o;
}, settle);

/** The newest message on the phone that matches, once it arrived. */
const messageOn = (phone: string, match: RegExp) => vi.waitFor(async () => {
  const m = (await svc.messagingAdmin.phoneMessages(phone)).find((x) => match.test(x.body));
  expect(m).toBeDefined();
  return m!;
}, settle);

async function offerCode(phone: string, orderTotal = /\$19\.99/): Promise<{ code: string; from: string }> {
  const m = await messageOn(phone, orderTotal);
  return { code: /YES (\d{6})/.exec(m.body)![1], from: m.from };
}

const authorizations = (orderId: string) => svc.admin.authorizationsByReference(orderId);
const refusals = async () => Object.fromEntries(((await call(svc.base, '/refusals', { key: operator })).body.data as Array<{ kind: string; reason: string; count: number }>)
  .map((r) => [`${r.kind}/${r.reason}`, r.count]));

describe('confirmation by message', () => {
  it('an order confirmed by a YES reply is authorized exactly once; the phone is shown masked', async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, { phone });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'awaiting_confirmation',
      confirmation: { channel: 'sms', phone: `+*******${phone.slice(-4)}`, reason: 'requested', state: 'pending' } });
    expect(JSON.stringify(created.body)).not.toContain(phone);
    expect(Date.parse(created.body.confirmation.deadline) - Date.parse(created.body.confirmation.offerSentAt)).toBe(REPLY_TIMEOUT_S * 1000);
    expect(await authorizations(created.body.id)).toHaveLength(0);

    const { code, from } = await offerCode(phone);
    expect(from).toBe(svc.messagingSender);
    expect((await messageOn(phone, /YES/)).body).toContain(m.name);
    await svc.messagingAdmin.reply(phone, from, `yes ${code}`);
    const order = await orderIn(m.key, created.body.id, 'shipped'); // (soft goods: captured at authorization)
    expect(order.confirmation.state).toBe('accepted');
    expect(await authorizations(order.id)).toHaveLength(1);
    // the number is personal data: the audit log keeps the request with it masked, the order's row only its token
    const audit = await call(svc.base, `/audit-events?principalId=${m.id}`, { key: operator });
    expect(JSON.stringify(audit.body)).toContain(`+*******${phone.slice(-4)}`);
    expect(JSON.stringify(audit.body)).not.toContain(phone.slice(2));
    const [row] = (await stores.orders.list({ limit: 1, merchantId: m.id })).data;
    expect(JSON.stringify(row)).not.toContain(phone.slice(2));
  });

  it('NO cancels the order with nothing authorized; a repeated YES afterwards is answered that nothing waits', async () => {
    const m = await merchant({ smsSenderId: `BK${uid().slice(0, 8)}` });
    const phone = newPhone();
    const created = await placeOrder(m.key, { phone });
    const { code, from } = await offerCode(phone);
    expect(from).toMatch(/^BK/);
    await svc.messagingAdmin.reply(phone, from, `NO ${code}`);
    const order = await orderIn(m.key, created.body.id, 'cancelled');
    expect(order.failure.code).toBe('confirmation_rejected');
    expect(order.confirmation.state).toBe('rejected');
    expect(await authorizations(order.id)).toHaveLength(0);
    await svc.messagingAdmin.reply(phone, from, `YES ${code}`);
    expect((await messageOn(phone, /no longer waiting/)).body).toContain(code);
    expect((await getOrder(m.key, order.id)).state).toBe('cancelled');
  });

  it('two orders waiting on one phone: each reply decides the order its code names', async () => {
    const m = await merchant();
    const phone = newPhone();
    const a = await placeOrder(m.key, { phone, unitPriceMinor: 1111 });
    const b = await placeOrder(m.key, { phone, unitPriceMinor: 2222 });
    const codeA = (await offerCode(phone, /\$11\.11/)).code;
    const codeB = (await offerCode(phone, /\$22\.22/)).code;
    expect(codeA).not.toBe(codeB);
    await svc.messagingAdmin.reply(phone, svc.messagingSender, `NO ${codeB}`);
    await svc.messagingAdmin.reply(phone, svc.messagingSender, `YES ${codeA}`);
    await orderIn(m.key, a.body.id, 'shipped');
    await orderIn(m.key, b.body.id, 'cancelled');
    expect(await authorizations(a.body.id)).toHaveLength(1);
    expect(await authorizations(b.body.id)).toHaveLength(0);
  });

  it(`${MAX_WRONG_CODES} wrong codes cancel the order; an unreadable reply gets help and counts for nothing`, async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, { phone });
    const { code } = await offerCode(phone);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await svc.messagingAdmin.reply(phone, svc.messagingSender, 'maybe later');
    await messageOn(phone, /could not read your reply/);
    for (let i = 0; i < MAX_WRONG_CODES; i++) await svc.messagingAdmin.reply(phone, svc.messagingSender, `YES ${wrong}`);
    const order = await orderIn(m.key, created.body.id, 'cancelled');
    expect(order.failure.code).toBe('confirmation_failed');
    expect(await authorizations(order.id)).toHaveLength(0);
  });

  it('no reply by the deadline cancels the order; a reply after it gets a polite "expired" message and changes nothing', async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, { phone });
    const { code } = await offerCode(phone);
    const order = await vi.waitFor(async () => {
      const o = await getOrder(m.key, created.body.id);
      expect(o.state).toBe('cancelled');
      return o;
    }, { timeout: (REPLY_TIMEOUT_S + 20) * 1000, interval: 250 });
    expect(order.failure.code).toBe('confirmation_expired');
    await svc.messagingAdmin.reply(phone, svc.messagingSender, `YES ${code}`);
    expect((await messageOn(phone, /has expired/)).body).toContain(code);
    expect(await authorizations(order.id)).toHaveLength(0);
    expect((await getOrder(m.key, order.id)).state).toBe('cancelled');
  });

  it("the merchant's policy: above its threshold an order needs a phone (confirmation_required) and is then confirmed; below it, not asked", async () => {
    const m = await merchant({ confirmationPolicy: { aboveMinor: 5000 } });
    const refused = await placeOrder(m.key, { unitPriceMinor: 6000 });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'confirmation_required', param: 'confirmation' });
    const phone = newPhone();
    const asked = await placeOrder(m.key, { unitPriceMinor: 6000, phone, required: false });
    expect(asked.body).toMatchObject({ state: 'awaiting_confirmation', confirmation: { reason: 'amount' } });
    const small = await placeOrder(m.key, { unitPriceMinor: 1000, phone, required: false });
    expect(small.status).toBe(201);
    expect(small.body.confirmation).toBeNull();
    expect(['authorized_plus_avs', 'shipped']).toContain(small.body.state);
  });

  it('a merchant cancels an order while its customer is asked: cancelled, nothing authorized; other commands are refused meanwhile', async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, { phone });
    const refund = await call(svc.base, `/orders/${created.body.id}/refunds`, { key: m.key, idem: uid(), body: { amountMinor: 100 } });
    expect(refund.status).toBe(409);
    expect(refund.body.error.code).toBe('order_awaiting_customer');
    const cancel = await call(svc.base, `/orders/${created.body.id}/cancel`, { method: 'POST', key: m.key, idem: uid() });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ state: 'cancelled', confirmation: { state: 'cancelled' } });
    expect(await authorizations(created.body.id)).toHaveLength(0);
  });
});

describe('limits', () => {
  it(`a phone takes ${MAX_OPEN_CONFIRMATIONS_PER_PHONE} orders waiting for its reply; one more is refused (409), a repeat of a waiting one is not`, async () => {
    const m = await merchant();
    const phone = newPhone();
    const idems = Array.from({ length: MAX_OPEN_CONFIRMATIONS_PER_PHONE }, () => uid('co-'));
    for (const idem of idems) expect((await placeOrder(m.key, { phone, idem })).body.state).toBe('awaiting_confirmation');
    const refused = await placeOrder(m.key, { phone });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'too_many_open_confirmations', param: 'confirmation.phone' });
    expect((await placeOrder(m.key, { phone, idem: idems[0] })).status).not.toBe(409);
  });

  it(`a customer has at most ${MAX_DEVICES_PER_CUSTOMER} devices; one more is refused (409 too_many_devices)`, async () => {
    const m = await merchant();
    const customerId = uid('cus-');
    const code = async () => (await call(svc.base, '/device-registrations', { method: 'POST', key: m.key, body: { customerId } })).body.code as string;
    for (let i = 0; i < MAX_DEVICES_PER_CUSTOMER; i++) await DeviceSimulator.register(apiUrl, await code());
    await expect(DeviceSimulator.register(apiUrl, await code())).rejects.toMatchObject({ status: 409, code: 'too_many_devices' });
    expect((await call(svc.base, `/customers/${customerId}/devices`, { key: m.key })).body.data).toHaveLength(MAX_DEVICES_PER_CUSTOMER);
  });
});

describe('the messaging gateway\'s webhooks', () => {
  const post = (body: string, headers: Record<string, string>) => fetch(`${svc.base}/messaging/webhooks`, {
    method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
    .then(async (r) => ({ status: r.status, body: await r.json() as { outcome?: string; reason?: string; error: { code: string } } }));

  it('refuses unsigned, forged, stale and replayed deliveries and counts them; a reply from an unknown number is refused and counted', async () => {
    const before = await refusals();
    const body = JSON.stringify({ type: 'message.inbound', data: { from: '+14155550000', to: 'PAYBROKER', body: 'YES 123456' } });
    expect((await post(body, {})).body.error.code).toBe('webhook_missing_header');
    const forged = signGatewayWebhook('not-the-secret', uid('evt_'), body, Date.now());
    expect(await post(body, forged)).toMatchObject({ status: 401, body: { error: { code: 'webhook_invalid_signature' } } });
    const stale = signGatewayWebhook(MESSAGING_WEBHOOK_SECRET, uid('evt_'), body, Date.now() - 10 * 60_000);
    expect(await post(body, stale)).toMatchObject({ status: 401, body: { error: { code: 'webhook_stale' } } });
    const good = signGatewayWebhook(MESSAGING_WEBHOOK_SECRET, uid('evt_'), body, Date.now());
    expect(await post(body, good)).toMatchObject({ status: 200, body: { outcome: 'refused', reason: 'unknown_number' } });
    expect(await post(body, good)).toMatchObject({ status: 409, body: { error: { code: 'webhook_replayed' } } });
    const after = await refusals();
    const grew = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect([grew('gateway_webhook/missing_header'), grew('gateway_webhook/invalid_signature'), grew('gateway_webhook/stale'),
      grew('gateway_webhook/replayed'), grew('confirmation_reply/unknown_number')]).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('step-up authentication on the customer\'s device', () => {
  async function customerWithDevice(m: { key: string }, algorithm: 'ed25519' | 'p256' = 'ed25519') {
    const customerId = uid('cus-');
    const reg = await call(svc.base, '/device-registrations', { method: 'POST', key: m.key, body: { customerId } });
    expect(reg.status).toBe(201);
    expect(reg.body.code).toMatch(/^PBDEV(-[A-Z2-9]{5}){4}$/);
    const device = await DeviceSimulator.register(apiUrl, reg.body.code, { algorithm, name: 'Phone' });
    return { customerId, device, code: reg.body.code as string };
  }
  /** The device's genuine signature on an answer it would not give itself (a request it finds expired, an old clock). */
  const signedAnyway = (device: DeviceSimulator, r: SignedAuthenticationRequest, decision: DeviceDecision, signedAt: string): SignedDeviceAnswer =>
    signAnswer(device.algorithm, createPrivateKey({ key: Buffer.from(device.toJSON().privateKey, 'base64url'), format: 'der', type: 'pkcs8' }), {
      authenticationId: r.id, deviceId: device.id, decision, challenge: r.challenge, amountMinor: r.amountMinor, currency: r.currency,
      merchantId: r.merchantId, reference: r.reference, signedAt });
  const waitingRequest = async (device: DeviceSimulator) => vi.waitFor(async () => {
    const [r] = await device.pending();
    expect(r).toBeDefined();
    return r;
  }, settle);

  it('a card that asks for authentication is authorized once the device approves; the request is bound to the payment', async () => {
    const m = await merchant();
    const { customerId, device } = await customerWithDevice(m, 'p256');
    const created = await placeOrder(m.key, { card: STEP_UP_CARD, customerId });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'requires_authentication', authentication: { state: 'pending' } });
    const request = await waitingRequest(device);
    expect(request).toMatchObject({ id: created.body.authentication.id, orderId: created.body.id, amountMinor: created.body.totalMinor,
      currency: 'USD', merchantId: m.id, merchantName: m.name, reference: created.body.authentication.reference });
    device.check(request);
    expect((await device.respond(request, 'approve')).status).toBe(200);
    const order = await orderIn(m.key, created.body.id, 'shipped');
    expect(order.authentication.state).toBe('approved');
    const auths = await authorizations(order.id);
    expect(auths).toHaveLength(1);
    expect(auths[0]).toMatchObject({ status: 'approved', authenticationId: request.id });
    expect(await device.pending()).toHaveLength(0);
  });

  it('a forged answer, an answer for another transaction, an unknown device and a replay are refused, counted, and change nothing', async () => {
    const m = await merchant();
    const { customerId, device } = await customerWithDevice(m);
    const first = await placeOrder(m.key, { card: STEP_UP_CARD, customerId, unitPriceMinor: 1500 });
    const second = await placeOrder(m.key, { card: STEP_UP_CARD, customerId, unitPriceMinor: 2500 });
    const requests = await vi.waitFor(async () => {
      const rs = await device.pending();
      expect(rs).toHaveLength(2);
      return rs;
    }, settle);
    const [reqA, reqB] = [requests.find((r) => r.orderId === first.body.id)!, requests.find((r) => r.orderId === second.body.id)!];
    const before = await refusals();

    expect(await device.send(device.forgedAnswer(reqA))).toMatchObject({ status: 401, body: { error: { code: 'signature_invalid' } } });
    const misdirected = { ...device.answer(reqA, 'approve'), authenticationId: reqB.id };
    expect(await device.send(misdirected)).toMatchObject({ status: 422, body: { error: { code: 'answer_binding_mismatch' } } });
    const tampered = { ...device.answer(reqB, 'approve'), amountMinor: 1 };
    expect(await device.send(tampered)).toMatchObject({ status: 422, body: { error: { code: 'answer_binding_mismatch' } } });
    expect(await device.send({ ...device.answer(reqA, 'approve'), deviceId: 'dev_nosuchdevice' }))
      .toMatchObject({ status: 401, body: { error: { code: 'unknown_device' } } });
    expect(await device.send(signedAnyway(device, reqA, 'approve', new Date(Date.now() - 60 * 60_000).toISOString())))
      .toMatchObject({ status: 401, body: { error: { code: 'signature_stale' } } });
    expect((await getOrder(m.key, first.body.id)).state).toBe('requires_authentication');
    expect((await getOrder(m.key, second.body.id)).state).toBe('requires_authentication');

    const answer = device.answer(reqA, 'reject');
    expect((await device.send(answer)).status).toBe(200);
    expect(await device.send(answer)).toMatchObject({ status: 409, body: { error: { code: 'authentication_already_answered' } } });
    const failed = await orderIn(m.key, first.body.id, 'failed_authorization');
    expect(failed.failure.code).toBe('authentication_failed');
    expect((await authorizations(first.body.id))[0]).toMatchObject({ status: 'declined', declineCode: 'authentication_failed' });

    const after = await refusals();
    const grew = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect([grew('device_answer/signature_invalid'), grew('device_answer/binding_mismatch'), grew('device_answer/unknown_device'),
      grew('device_answer/stale'), grew('device_answer/replayed')]).toEqual([1, 2, 1, 1, 1]);
    expect((await device.respond(reqB, 'approve')).status).toBe(200);
    await orderIn(m.key, second.body.id, 'shipped');
  });

  it('no answer by the deadline fails the order with nothing captured; a late answer is refused (410)', async () => {
    const m = await merchant();
    const { customerId, device } = await customerWithDevice(m);
    const created = await placeOrder(m.key, { card: STEP_UP_CARD, customerId });
    const request = await waitingRequest(device);
    const order = await vi.waitFor(async () => {
      const o = await getOrder(m.key, created.body.id);
      expect(o.state).toBe('failed_authorization');
      return o;
    }, { timeout: (DEVICE_TIMEOUT_S + 20) * 1000, interval: 250 });
    expect(order).toMatchObject({ failure: { code: 'authentication_timeout' }, capturedMinor: 0, authentication: { state: 'expired' } });
    expect(await device.send(signedAnyway(device, request, 'approve', new Date().toISOString())))
      .toMatchObject({ status: 410, body: { error: { code: 'authentication_expired' } } });
    expect((await getOrder(m.key, created.body.id)).state).toBe('failed_authorization');
  });

  it('a customer without a registered device fails authentication at once; a used registration code registers nothing', async () => {
    const m = await merchant();
    const created = await placeOrder(m.key, { card: STEP_UP_CARD });
    const order = await orderIn(m.key, created.body.id, 'failed_authorization');
    expect(order).toMatchObject({ failure: { code: 'authentication_failed' }, authentication: { state: 'no_device' } });
    const { code } = await customerWithDevice(m);
    await expect(DeviceSimulator.register(apiUrl, code)).rejects.toMatchObject({ status: 409, code: 'registration_code_used' });
    await expect(DeviceSimulator.register(apiUrl, 'PBDEV-AAAAA-AAAAA-AAAAA-AAAAA')).rejects.toMatchObject({ status: 404, code: 'registration_code_invalid' });
  });
});
