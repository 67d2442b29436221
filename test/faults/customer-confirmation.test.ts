// Confirmation by message when real processes fail (API, worker, processor simulator, messaging gateway simulator,
// PostgreSQL, Temporal): the gateway down while the offer is sent (retried until it is back, sent once, the reply's
// deadline counted from when the gateway accepted it), the worker SIGKILLed while the order waits for the reply (the
// API takes the reply, the database decides it, the signal waits in Temporal), and the API SIGKILLed while the gateway
// holds a reply (the gateway redelivers it), or SIGKILLed in the middle of taking one (after it noted the webhook's id,
// before the reply was decided: the kill lands there because the test holds the row the API locks next). Each time the
// order is authorized and captured exactly once.
//
// This run's gateway serves an account of its own (its own API key): the gateways of other files running at the same
// time serve the shared test account and deliver its webhooks to whichever API registered last, so a kill of this
// run's API would not stop them. An account's sender ids are its own, so each merchant books one of its own.
import { randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Stores } from '../../stores';
import type { Db } from '../../ledger/db';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { orderLedger } from '../support/orders';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type ServiceName, type Services } from '../support/services';

let db: Db;
let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;

/** Long enough for a kill and a restart inside it; the test checks the deadline, never waits for it. */
const REPLY_TIMEOUT_S = 60;

beforeAll(async () => {
  ({ db, stores, close: closeDb } = testDatabase(4));
  svc = await startServices({
    PAYBROKER_CONFIRMATION_TIMEOUT: `${REPLY_TIMEOUT_S}s`,
    PAYBROKER_MESSAGING_API_KEY: `msgk_test_${uid()}`, PAYBROKER_MESSAGING_WEBHOOK_SECRET: `gwsec_test_${uid()}`,
  });
});
// (a test that failed half way leaves every process running and the gateway up for the next)
afterEach(async () => {
  if (!svc) return;
  await svc.messagingAdmin.clearFaults().catch(() => undefined);
  for (const name of ['api', 'worker', 'simulator', 'messaging'] as ServiceName[]) {
    const child = svc.proc[name]?.child;
    if (child && (child.exitCode !== null || child.signalCode !== null)) await svc.start(name);
  }
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb?.();
});

const settle = { timeout: 30_000, interval: 100 };
/** A new worker takes a task the killed one held once its (sticky queue's) timeout passes. */
const recovery = { timeout: 40_000, interval: 200 };
/** A phone number no other test uses. */
const newPhone = () => `+1628${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;

async function merchant() {
  // (this run's gateway account books the merchant's sender id; the default one belongs to the shared test account)
  const { merchant: m, apiKey } = await stores.merchants.create(`Books ${uid()}`, { ...MERCHANT_SETTINGS, smsSenderId: `FT${uid().slice(0, 8)}` });
  return { id: m.id, name: m.name, key: apiKey, sender: m.smsSenderId! };
}

async function placeOrder(key: string, phone: string) {
  const token = await tokenizeCard(svc.processor);
  return call(svc.base, '/orders', { key, idem: uid('co-'), body: {
    customerId: uid('cus-'),
    items: [{ sku: 'ebook', quantity: 1, unitPriceMinor: 1999, kind: 'soft' }],
    payment: { token, billingPostalCode: '94107', billingCountry: 'US' },
    confirmation: { channel: 'sms', phone },
  } });
}

const getOrder = async (key: string, id: string) => (await call(svc.base, `/orders/${id}`, { key })).body;
const orderIn = (key: string, id: string, state: string, wait = settle) => vi.waitFor(async () => {
  const o = await getOrder(key, id);
  expect(o.state).toBe(state);
  return o;
}, wait);

/** The newest message on the phone that matches, once it arrived. */
const messageOn = (phone: string, match: RegExp) => vi.waitFor(async () => {
  const m = (await svc.messagingAdmin.phoneMessages(phone)).find((x) => match.test(x.body));
  expect(m).toBeDefined();
  return m!;
}, settle);

const OFFER = /YES (\d{6})/;
async function offerCode(phone: string): Promise<{ code: string; from: string }> {
  const m = await messageOn(phone, OFFER);
  expect(m.body).toContain('$19.99');
  return { code: OFFER.exec(m.body)![1], from: m.from };
}
const offersOn = async (phone: string) => (await svc.messagingAdmin.phoneMessages(phone)).filter((m) => OFFER.test(m.body));

const authorizations = (orderId: string) => svc.admin.authorizationsByReference(orderId);
/** The broker's record of the confirmation (what decided the reply). */
const confirmationRow = (orderId: string) => stores.confirmations.get(orderId);
/** The gateway's outbox row of the webhook that carries an inbound message. */
const replyWebhook = async (messageId: string) => db('messaging_sim.webhooks').where({ message_id: messageId, type: 'message.inbound' })
  .first('attempts', 'delivered_at', 'failed_at', 'last_error') as Promise<{ attempts: number; delivered_at: Date | null; failed_at: Date | null; last_error: string | null } | undefined>;

/** The gateway's outbox row of the webhook that carries an inbound message, with its id. */
const replyWebhookId = async (messageId: string) => (await db('messaging_sim.webhooks').where({ message_id: messageId, type: 'message.inbound' })
  .first('id') as { id: string } | undefined)?.id;

/** Holds a row inside a transaction of the test's own; answers that transaction's backend pid. */
const holding = async (trx: Knex.Transaction) => (await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
/** The backend that waits for the holder's lock: its pid, program and statement. */
const waitingOn = (holderPid: number) => vi.waitFor(async () => {
  const { rows } = await db.raw('SELECT pid, application_name, query FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))', [holderPid]);
  if (!rows[0]) throw new Error('nobody waits for the held row yet');
  return rows[0] as { pid: number; application_name: string; query: string };
}, settle);
/** The killed API's database session is gone (PostgreSQL ended it, and its transaction, once it found the client dead). */
const ended = (pid: number) => vi.waitFor(async () => {
  const { rows } = await db.raw('SELECT pid FROM pg_stat_activity WHERE pid = ?', [pid]);
  expect(rows).toEqual([]);
}, settle);

/** Authorized once and captured once for the whole order, the books balanced. */
async function chargedOnce(order: { id: string; totalMinor: number; capturedMinor: number }) {
  expect(order.capturedMinor).toBe(order.totalMinor);
  const auths = await authorizations(order.id);
  expect(auths).toHaveLength(1);
  expect(auths[0]).toMatchObject({ status: 'approved', amountMinor: order.totalMinor });
  const captures = await svc.admin.capturesByAuthorization(auths[0].id);
  expect(captures).toHaveLength(1);
  expect(captures[0].amountMinor).toBe(order.totalMinor);
  expect(await orderLedger(db, order.id)).toMatchObject({ captured: BigInt(order.totalMinor), sum: 0n });
}

describe('confirmation by message under faults', () => {
  it('gateway down while the offer is sent: retried until it is back, sent once, and the deadline starts when it was accepted', async () => {
    const m = await merchant();
    const phone = newPhone();
    const refusedBefore = ((await svc.messagingAdmin.stats()).requests as Record<string, number>).refusedUnavailable;
    await svc.messagingAdmin.setFaults({ mode: 'down' });

    const created = await placeOrder(m.key, phone);
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/orders/${created.body.id}`);
    expect(created.body).toMatchObject({ state: 'awaiting_confirmation', confirmation: { state: 'sending', offerSentAt: null, deadline: null } });
    const id = created.body.id as string;
    // the offer activity has tried, and the gateway refused it (503): nothing reached the phone, no deadline runs
    await vi.waitFor(async () => {
      const { requests } = await svc.messagingAdmin.stats() as { requests: Record<string, number> };
      expect(requests.refusedUnavailable).toBeGreaterThan(refusedBefore);
    }, settle);
    expect(await svc.messagingAdmin.phoneMessages(phone)).toHaveLength(0);
    expect(await getOrder(m.key, id)).toMatchObject({ state: 'awaiting_confirmation', confirmation: { state: 'sending', deadline: null } });
    expect(await confirmationRow(id)).toMatchObject({ state: 'sending', sentAt: null, deadlineAt: null });
    expect(await authorizations(id)).toHaveLength(0);

    const backAt = Date.now();
    await svc.messagingAdmin.clearFaults();
    const { code, from } = await offerCode(phone);
    expect(from).toBe(m.sender);
    const waiting = await vi.waitFor(async () => {
      const o = await getOrder(m.key, id);
      expect(o.confirmation.state).toBe('pending');
      return o;
    }, settle);
    expect(waiting.state).toBe('awaiting_confirmation');
    const sentAt = Date.parse(waiting.confirmation.offerSentAt);
    expect(sentAt).toBeGreaterThanOrEqual(backAt - 1000);
    expect(Date.parse(waiting.confirmation.deadline) - sentAt).toBe(REPLY_TIMEOUT_S * 1000);

    await svc.messagingAdmin.reply(phone, from, `YES ${code}`);
    const order = await orderIn(m.key, id, 'shipped'); // (soft goods: captured at authorization)
    expect(order.confirmation).toMatchObject({ state: 'accepted', offerSentAt: waiting.confirmation.offerSentAt, deadline: waiting.confirmation.deadline });
    await chargedOnce(order);
    // (a second send of the offer, under another key, would have reached the phone by now)
    expect(await offersOn(phone)).toHaveLength(1);
  });

  it('worker SIGKILLed while waiting for the reply: the reply still lands, once', async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, phone);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ state: 'awaiting_confirmation', confirmation: { state: 'pending' } });
    const id = created.body.id as string;
    const { code, from } = await offerCode(phone);

    expect(await svc.kill('worker')).toBe('SIGKILL');
    await svc.messagingAdmin.reply(phone, from, `YES ${code}`);
    // the API took the reply and the database decided it; the order waits for a worker to hear the signal
    await vi.waitFor(async () => expect((await confirmationRow(id))?.state).toBe('accepted'), settle);
    expect(await authorizations(id)).toHaveLength(0);

    await svc.start('worker');
    const order = await orderIn(m.key, id, 'shipped', recovery);
    expect(order.confirmation.state).toBe('accepted');
    await chargedOnce(order);
    expect(await offersOn(phone)).toHaveLength(1);
  });

  it('API SIGKILLed while the gateway holds a reply: the gateway redelivers, the reply lands once', async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, phone);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const { code, from } = await offerCode(phone);

    expect(await svc.kill('api')).toBe('SIGKILL');
    const reply = await svc.messagingAdmin.reply(phone, from, `YES ${code}`);
    // the gateway tried to deliver it, failed, and tried again (its backoff: 1 s, doubling)
    await vi.waitFor(async () => {
      const w = await replyWebhook(reply.id);
      expect(w).toMatchObject({ delivered_at: null, failed_at: null });
      expect(w!.attempts).toBeGreaterThanOrEqual(2);
      expect(w!.last_error).not.toBeNull();
    }, settle);
    expect(await confirmationRow(id)).toMatchObject({ state: 'pending' });
    expect(await authorizations(id)).toHaveLength(0);

    await svc.start('api');
    const order = await orderIn(m.key, id, 'shipped');
    expect(order.confirmation.state).toBe('accepted');
    await chargedOnce(order);
    const delivered = await replyWebhook(reply.id);
    expect(delivered?.delivered_at).not.toBeNull();
    expect(delivered!.attempts).toBeGreaterThanOrEqual(3);

    // The same YES again, from the customer: answered that the payment is already confirmed. Once that answer is on the
    // phone, the first reply has long been delivered, and still one authorization, one capture.
    await svc.messagingAdmin.reply(phone, from, `YES ${code}`);
    expect((await messageOn(phone, /already confirmed/)).body).toContain(code);
    expect((await getOrder(m.key, id)).state).toBe('shipped');
    await chargedOnce(order);
    expect(await offersOn(phone)).toHaveLength(1);
  });

  it('API SIGKILLed while it takes a reply (its webhook id noted, the reply not yet decided): the redelivery decides it, once', async () => {
    const m = await merchant();
    const phone = newPhone();
    const created = await placeOrder(m.key, phone);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const { code, from } = await offerCode(phone);

    // the test holds the order's confirmation row, as another reply from the phone being decided does: the API, taking
    // the YES, waits for it inside the reply's decision, after it verified the delivery and noted its id
    const hold = await db.transaction();
    let taking: { pid: number; application_name: string; query: string };
    let webhookId: string;
    try {
      const holder = await holding(hold);
      await hold('confirmations').where({ order_id: id }).forUpdate().first('order_id');
      const reply = await svc.messagingAdmin.reply(phone, from, `YES ${code}`);
      webhookId = (await replyWebhookId(reply.id))!;
      taking = await waitingOn(holder);
      expect(taking.application_name).toBe('paybroker-api');
      expect(taking.query).toMatch(/FOR UPDATE/i);
      expect(await svc.kill('api')).toBe('SIGKILL');
    } finally {
      await hold.rollback();
    }
    await ended(taking.pid);
    expect(await confirmationRow(id)).toMatchObject({ state: 'pending' }); // (the decision never committed)
    expect(await authorizations(id)).toHaveLength(0);

    await svc.start('api');
    // the gateway tries again until an answer: a 2xx (delivered), or, if the API has it as seen already, 409 each time
    const outcome = await vi.waitFor(async () => {
      const w = await db('messaging_sim.webhooks').where({ id: webhookId }).first('attempts', 'delivered_at', 'last_error');
      expect(w.attempts).toBeGreaterThanOrEqual(2);
      expect(w.delivered_at !== null || w.last_error === 'HTTP 409').toBe(true);
      return w as { attempts: number; delivered_at: Date | null; last_error: string | null };
    }, settle);
    expect(outcome, 'the redelivered reply was refused as a replay: the API noted its id before deciding it').toMatchObject({ last_error: null });
    expect(outcome.delivered_at).not.toBeNull();
    const order = await orderIn(m.key, id, 'shipped');
    expect(order.confirmation.state).toBe('accepted');
    await chargedOnce(order);
  });
});
