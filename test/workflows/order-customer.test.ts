// The order asks its customer, on the real Temporal server with the real activities: the offer goes through the
// messaging gateway simulator, replies come as the gateway signs them (through the confirmation service), and the
// step-up authentication's requests and answers go through the authenticating server with real keys. Every new
// transition: confirmed, rejected, timed out, cancelled while asked; authenticated, failed, no device, deadline.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { inject } from 'vitest';
import type { ConfirmationInput, OrderView } from '../../domain/order';
import { signGatewayWebhook } from '../../processors/messaging/signature';
import { MessagingGatewayAdmin } from '../../processors/messaging/client';
import { generateDeviceKeys, signAnswer } from '../../processors/devices/signatures';
import { SCRATCH_MESSAGING_WEBHOOK_SECRET } from '../../scripts/scratch-stack';
import { AuthenticationService } from '../../services/authentications';
import { ConfirmationService } from '../../services/confirmations';
import { cancelUpdate, statusQuery, submitUpdate } from '../../workflows/order.contract';
import { openedPayloads, testMessaging, uid } from '../support/env';
import { orderHarness, type OrderHarness } from '../support/orders';

let h: OrderHarness;
let confirmations: ConfirmationService;
let authentications: AuthenticationService;
const phoneAdmin = () => new MessagingGatewayAdmin({ adminUrl: inject('messagingAdminUrl') });

beforeAll(async () => {
  h = await orderHarness();
  confirmations = new ConfirmationService({ ...h.stores, temporal: h.client, gateway: testMessaging(), webhookSecret: SCRATCH_MESSAGING_WEBHOOK_SECRET });
  authentications = new AuthenticationService({ ...h.stores, temporal: h.client });
});
afterAll(() => h.close());

const STEP_UP_CARD = '4000002760003184';
const SOFT = [{ sku: 'ebook', quantity: 1, unitPriceMinor: 1500, kind: 'soft' as const }];
const handle = (id: string) => h.client.workflow.getHandle(id);
let seq = 0;
const newPhone = () => `+1628${String(Date.now() % 1_000_000).padStart(6, '0')}${seq++ % 10}`;

async function confirmationInput(phone: string, timeoutMs = 60_000): Promise<ConfirmationInput> {
  const { token, masked } = await h.stores.phones.tokenize(phone);
  return { channel: 'sms', phoneToken: token, phoneMasked: masked, reason: 'requested', timeoutMs, sendDeadlineMs: 60_000 };
}

/** The code of the offer the phone received for an amount. */
const offerCode = (phone: string) => vi.waitFor(async () => {
  const [m] = await phoneAdmin().phoneMessages(phone);
  expect(m?.body).toMatch(/YES \d{6}/);
  return { code: /YES (\d{6})/.exec(m.body)![1], from: m.from };
}, { timeout: 15_000, interval: 100 });

/** The customer's reply, as the gateway delivers it: signed, to the confirmation service. */
function reply(phone: string, to: string, body: string) {
  const raw = JSON.stringify({ type: 'message.inbound', data: { id: uid('msg_'), direction: 'inbound', from: phone, to, body } });
  return confirmations.receive(signGatewayWebhook(SCRATCH_MESSAGING_WEBHOOK_SECRET, uid('evt_'), raw, Date.now()), raw, Date.now());
}

const stateOf = (id: string, state: string) => vi.waitFor(async () => {
  const v = await handle(id).query(statusQuery);
  expect(v.state).toBe(state);
  return v;
}, { timeout: 15_000, interval: 100 });

describe('confirmation by message', () => {
  it('awaiting_confirmation → a YES reply → authorized once (soft goods captured)', async () => {
    const phone = newPhone();
    const { id } = await h.start({ items: SOFT, shipping: null, input: { confirmation: await confirmationInput(phone) } });
    const asked = (await handle(id).executeUpdate(submitUpdate)).order;
    expect(asked).toMatchObject({ state: 'awaiting_confirmation', confirmation: { state: 'pending', phone: `+*******${phone.slice(-4)}` } });
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(0);
    const { code, from } = await offerCode(phone);
    expect(await reply(phone, from, `YES ${code}`)).toMatchObject({ outcome: 'decided' });
    const done: OrderView = await stateOf(id, 'shipped');
    expect(done.confirmation?.state).toBe('accepted');
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(1);
    // the number is personal data: the history has its token and its masked form, never the number
    const history = historyToJSON(await handle(id).fetchHistory());
    const payloads = await openedPayloads(history);
    expect(payloads).toContain(`+*******${phone.slice(-4)}`);
    expect(payloads).not.toContain(phone.slice(2));
  });

  it('awaiting_confirmation → NO → cancelled, nothing authorized; the workflow closes', async () => {
    const phone = newPhone();
    const { id } = await h.start({ items: SOFT, shipping: null, input: { confirmation: await confirmationInput(phone) } });
    const { code, from } = await offerCode(phone);
    await reply(phone, from, `NO ${code}`);
    const result: OrderView = await handle(id).result();
    expect(result).toMatchObject({ state: 'cancelled', failure: { code: 'confirmation_rejected' }, confirmation: { state: 'rejected' } });
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(0);
  });

  it('awaiting_confirmation → the deadline → cancelled (confirmation_expired); the late reply is answered, nothing changes', async () => {
    const phone = newPhone();
    const { id } = await h.start({ items: SOFT, shipping: null, input: { confirmation: await confirmationInput(phone, 1_500) } });
    const { code, from } = await offerCode(phone);
    const result: OrderView = await handle(id).result();
    expect(result).toMatchObject({ state: 'cancelled', failure: { code: 'confirmation_expired' }, confirmation: { state: 'expired' } });
    expect(await reply(phone, from, `YES ${code}`)).toMatchObject({ outcome: 'late' });
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(0);
  });

  it('awaiting_confirmation → the merchant cancels → cancelled, the cancel answered done; a reply after it is late', async () => {
    const phone = newPhone();
    const { id } = await h.start({ items: SOFT, shipping: null, input: { confirmation: await confirmationInput(phone) } });
    const { code, from } = await offerCode(phone);
    const cancelled = await handle(id).executeUpdate(cancelUpdate, { args: [{ cancelId: 'c1' }] });
    expect(cancelled).toMatchObject({ outcome: 'done', order: { state: 'cancelled', confirmation: { state: 'cancelled' } } });
    expect(await reply(phone, from, `YES ${code}`)).toMatchObject({ outcome: 'late' });
    expect(await h.admin.authorizationsByReference(id)).toHaveLength(0);
  });
});

describe('step-up authentication', () => {
  async function device(customerId: string) {
    const keys = generateDeviceKeys('ed25519');
    const { code } = await authentications.createRegistration(h.merchantId, customerId);
    const { device: d } = await authentications.register({ registrationCode: code, algorithm: 'ed25519', publicKey: keys.publicKey });
    return { id: d.id, keys };
  }
  async function answer(orderId: string, dev: { id: string; keys: ReturnType<typeof generateDeviceKeys> }, decision: 'approve' | 'reject') {
    const a = (await h.stores.devices.authenticationOfOrder(orderId))!;
    return authentications.respond(a.id, signAnswer('ed25519', dev.keys.privateKey, {
      authenticationId: a.id, deviceId: dev.id, decision, challenge: a.request.challenge, amountMinor: a.request.amountMinor,
      currency: a.request.currency, merchantId: a.merchantId, reference: a.request.reference, signedAt: new Date().toISOString() }), Date.now());
  }

  it('requires_authentication → approved on the device → the processor completes the authorization → authorized', async () => {
    const customerId = uid('cus-');
    const dev = await device(customerId);
    const { id } = await h.start({ items: SOFT, shipping: null, card: STEP_UP_CARD, input: { customerId } });
    const asked = (await handle(id).executeUpdate(submitUpdate)).order;
    expect(asked).toMatchObject({ state: 'requires_authentication', authentication: { state: 'pending' } });
    expect((await answer(id, dev, 'approve')).authentication.state).toBe('approved');
    const done = await stateOf(id, 'shipped');
    expect(done.authentication?.state).toBe('approved');
    expect(await h.admin.authorizationsByReference(id)).toEqual([expect.objectContaining({ status: 'approved', authenticationId: asked.authentication!.id })]);
  });

  it('requires_authentication → rejected on the device → failed_authorization (authentication_failed), nothing captured', async () => {
    const customerId = uid('cus-');
    const dev = await device(customerId);
    const { id } = await h.start({ items: SOFT, shipping: null, card: STEP_UP_CARD, input: { customerId } });
    await stateOf(id, 'requires_authentication');
    await vi.waitFor(async () => expect(await h.stores.devices.authenticationOfOrder(id)).toBeDefined());
    await answer(id, dev, 'reject');
    const result: OrderView = await handle(id).result();
    expect(result).toMatchObject({ state: 'failed_authorization', failure: { code: 'authentication_failed' }, capturedMinor: 0 });
    expect((await h.admin.authorizationsByReference(id))[0]).toMatchObject({ status: 'declined', declineCode: 'authentication_failed' });
  });

  it('requires_authentication → the deadline → failed_authorization (authentication_timeout); a later answer is refused', async () => {
    const customerId = uid('cus-');
    const dev = await device(customerId);
    const { id } = await h.start({ items: SOFT, shipping: null, card: STEP_UP_CARD, input: { customerId }, policy: { authenticationTimeoutMs: 1_500 } });
    const result: OrderView = await handle(id).result();
    expect(result).toMatchObject({ state: 'failed_authorization', failure: { code: 'authentication_timeout' }, authentication: { state: 'expired' } });
    await expect(answer(id, dev, 'approve')).rejects.toMatchObject({ status: 410, code: 'authentication_expired' });
  });

  it('no registered device → failed_authorization at once (authentication_failed, no_device)', async () => {
    const { id } = await h.start({ items: SOFT, shipping: null, card: STEP_UP_CARD, input: { customerId: uid('cus-') } });
    const result: OrderView = await handle(id).result();
    expect(result).toMatchObject({ state: 'failed_authorization', failure: { code: 'authentication_failed' }, authentication: { state: 'no_device' } });
  });
});
