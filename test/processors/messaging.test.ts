// The messaging gateway simulator over real HTTP and PostgreSQL, driven through HttpMessagingGateway and
// MessagingGatewayAdmin: senders, idempotent sending, validation, signed delivery receipts and replies at a real
// receiver (retried while it fails), the faults, state that outlives a killed process; and the signature helper.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  HttpMessagingGateway, MessagingGatewayAdmin, MessagingRejectedError, MessagingUnavailableError, type GatewayMessage,
} from '../../processors/messaging/client';
import { startMessagingGateway, type RunningMessagingGateway } from '../../processors/messaging/server';
import {
  GATEWAY_WEBHOOK_HEADERS as H, GatewayWebhookError, signGatewayWebhook, verifyGatewayWebhook,
} from '../../processors/messaging/signature';
import { freePort } from '../../scripts/ports';
import { uid } from '../support/env';
import { spawnService } from '../support/processes';

const SECRET = 'gwsec_test_messaging';

/** A webhook receiver as Paybroker will run one: verifies each delivery and keeps what it accepted. */
class GatewayReceiver {
  accepted: Array<{ id: string; payload: any }> = [];
  refused: Array<{ code: string }> = [];
  attempts = new Map<string, number>();
  /** Status to answer a verified delivery (a function may fail the first attempts). */
  answer: (id: string, attempt: number) => number = () => 200;
  private readonly seen = new Set<string>();
  private server: Server;
  port = 0;

  constructor(private readonly secret: string) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.writeHead(this.handle(req.headers, Buffer.concat(chunks))).end());
    });
  }

  private handle(headers: IncomingHttpHeaders, raw: Buffer): number {
    const id = String(headers[H.id]);
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    const status = this.answer(id, attempt);
    if (status !== 200) return status;
    try {
      const v = verifyGatewayWebhook(this.secret, headers, raw, Date.now(), this.seen);
      this.accepted.push({ id: v.id, payload: v.payload });
      return 200;
    } catch (err) {
      if (!(err instanceof GatewayWebhookError)) throw err;
      this.refused.push({ code: err.code });
      return err.code === 'replayed' ? 200 : 400;
    }
  }

  get url(): string { return `http://127.0.0.1:${this.port}/gateway-webhooks`; }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  receiptOf(messageId: string) { return this.accepted.find((a) => a.payload.type === 'message.delivered' && a.payload.data.messageId === messageId); }
  inboundOf(messageId: string) { return this.accepted.find((a) => a.payload.type === 'message.inbound' && a.payload.data.id === messageId); }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let phoneSeq = 0;
/** A fresh E.164 number per test (the database outlives the run's files). */
const newPhone = () => `+1555${String(Date.now() % 1_000_000).padStart(6, '0')}${String(phoneSeq++ % 100).padStart(2, '0')}`;
const newSender = () => `PB${uid('').replace(/[^A-Za-z0-9]/g, '').slice(-9)}`;

let receiver: GatewayReceiver;
let gw: RunningMessagingGateway;
let client: HttpMessagingGateway;
let admin: MessagingGatewayAdmin;
const apiKey = uid('msgk_test_');

beforeAll(async () => {
  receiver = new GatewayReceiver(SECRET);
  await receiver.start();
  gw = await startMessagingGateway({
    databaseUrl: inject('databaseUrl'), port: 0, apiKey, webhookSecret: SECRET, webhookUrl: receiver.url, tickMs: 20,
    pump: { sendDelayMs: 0, deliveryDelayMs: 50, initialBackoffMs: 50, maxBackoffMs: 200, webhookTimeoutMs: 2_000 },
  });
  client = new HttpMessagingGateway({ baseUrl: gw.url, apiKey, timeoutMs: 5_000 });
  admin = new MessagingGatewayAdmin({ adminUrl: gw.adminUrl });
});
afterEach(async () => {
  await admin.clearFaults();
  receiver.answer = () => 200;
});
afterAll(async () => {
  await gw?.stop();
  await receiver?.stop();
});

async function rejected(p: Promise<unknown>, code: string, status: number): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MessagingRejectedError);
  expect(err).toMatchObject({ code, status });
}

describe('senders and sending', () => {
  it('books a sender id (alphanumeric or E.164), again idempotently, and refuses a malformed one', async () => {
    const id = newSender();
    expect(await client.bookSender(id)).toMatchObject({ id });
    expect(await client.bookSender(id)).toMatchObject({ id });
    expect(await client.bookSender(newPhone())).toBeTruthy();
    await rejected(client.bookSender('TWELVECHARSX'), 'parameter_invalid', 400);
    await rejected(client.bookSender('12345'), 'parameter_invalid', 400);
  });

  it('refuses a sender id booked by another account with 409 sender_taken', async () => {
    const id = newSender();
    await client.bookSender(id);
    const otherKey = uid('msgk_other_');
    const second = await startMessagingGateway({ databaseUrl: inject('databaseUrl'), port: 0, apiKey: otherKey, webhookSecret: SECRET });
    try {
      const other = new HttpMessagingGateway({ baseUrl: second.url, apiKey: otherKey });
      await rejected(other.bookSender(id), 'sender_taken', 409);
      // each process serves its own account: the other key is unknown here
      await rejected(new HttpMessagingGateway({ baseUrl: gw.url, apiKey: otherKey }).bookSender(newSender()), 'unauthorized', 401);
    } finally {
      await second.stop();
    }
  });

  it('answers a message queued with its id, and the same Idempotency-Key returns the first message without a second one', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    const key = uid('k-');
    const first = await client.sendMessage(from, to, 'Your code is 123456', key);
    expect(first).toMatchObject({ from, to, body: 'Your code is 123456', status: 'queued', direction: 'outbound' });
    expect(first.id).toMatch(/^msg_/);
    const again = await client.sendMessage(from, to, 'Your code is 123456', key);
    expect(again.id).toBe(first.id);
    expect((await admin.phoneMessages(to)).map((m) => m.id)).toEqual([first.id]);
  });

  it('refuses the same Idempotency-Key with another body (422 idempotency_key_reused), an unbooked sender (422), a bad E.164 number and a body past 1600 characters (400)', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    const key = uid('k-');
    await client.sendMessage(from, to, 'first', key);
    await rejected(client.sendMessage(from, to, 'second', key), 'idempotency_key_reused', 422);
    await rejected(client.sendMessage(newSender(), to, 'hello', uid('k-')), 'sender_not_booked', 422);
    for (const bad of ['14155550100', '+0123456789', '+1 415 555 0100', '+12', '+1234567890123456']) {
      await rejected(client.sendMessage(from, bad, 'hello', uid('k-')), 'parameter_invalid', 400);
    }
    expect(await client.sendMessage(from, to, 'x'.repeat(1600), uid('k-'))).toMatchObject({ status: 'queued' });
    await rejected(client.sendMessage(from, to, 'x'.repeat(1601), uid('k-')), 'parameter_invalid', 400);
    await rejected(client.sendMessage(from, to, '', uid('k-')), 'parameter_invalid', 400);
    expect(await admin.phoneMessages(to)).toHaveLength(2);
  });

  it('refuses a call without a valid API key (401) and answers an unknown message id with undefined', async () => {
    const stranger = new HttpMessagingGateway({ baseUrl: gw.url, apiKey: 'nope' });
    await rejected(stranger.sendMessage('PB', '+14155550100', 'hi', uid('k-')), 'unauthorized', 401);
    expect(await client.getMessage('msg_000000000000000000000000')).toBeUndefined();
  });
});

describe('delivery receipts and replies (signed webhooks)', () => {
  it('moves a message queued → sent → delivered and delivers its receipt signed, once', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    const m = await client.sendMessage(from, to, 'Pay 12.50 USD to Shop? Reply YES 4821', uid('k-'));
    const receipt = await waitFor('the receipt', () => receiver.receiptOf(m.id));
    expect(receipt.payload.data).toMatchObject({ messageId: m.id, status: 'delivered', from, to });
    const now = await client.getMessage(m.id);
    expect(now).toMatchObject({ status: 'delivered' });
    expect(Date.parse(now!.sentAt!)).toBeLessThanOrEqual(Date.parse(now!.deliveredAt!));
    expect(receiver.accepted.filter((a) => a.id === receipt.id)).toHaveLength(1);
    expect(receiver.refused).toEqual([]);
    // the phone shows the newest first
    const later = await client.sendMessage(from, to, 'second', uid('k-'));
    expect((await admin.phoneMessages(to)).map((x) => x.id)).toEqual([later.id, m.id]);
  });

  it('delivers a reply played on the phone to the webhook, signed, as message.inbound; refuses one to a sender nobody booked', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    const reply = await admin.reply(to, from, 'YES 4821');
    expect(reply).toMatchObject({ direction: 'inbound', from: to, to: from, body: 'YES 4821', status: 'received' });
    const arrived = await waitFor('the reply', () => receiver.inboundOf(reply.id));
    expect(arrived.payload.data).toMatchObject({ id: reply.id, from: to, to: from, body: 'YES 4821' });
    const err = await admin.reply(to, newSender(), 'YES').then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'sender_not_found', status: 404 });
  });

  it('retries a webhook the receiver fails, with the same id, until it is accepted', async () => {
    const from = newSender();
    await client.bookSender(from);
    receiver.answer = (_id, attempt) => (attempt <= 3 ? 503 : 200);
    const m = await client.sendMessage(from, newPhone(), 'retry me', uid('k-'));
    const receipt = await waitFor('the receipt after retries', () => receiver.receiptOf(m.id));
    expect(receiver.attempts.get(receipt.id)).toBe(4);
    const stats = await admin.stats();
    expect(stats.webhookAttemptsFailed as number).toBeGreaterThanOrEqual(3);
  });
});

describe('faults', () => {
  it('down: the API answers 503 (unavailable, nothing sent); once up, the same key sends it', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    await admin.setFaults({ mode: 'down' });
    const key = uid('k-');
    const err = await client.sendMessage(from, to, 'hello', key).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingUnavailableError);
    expect(String((err as Error).message)).toContain('503 gateway_unavailable');
    expect(await admin.phoneMessages(to)).toEqual([]);
    await admin.clearFaults();
    const m = await client.sendMessage(from, to, 'hello', key);
    expect((await admin.phoneMessages(to)).map((x) => x.id)).toEqual([m.id]);
  });

  it('slow: each call waits latencyMs; a client that gives up sees unavailable, and its retry with the same key finds the message it sent', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    await admin.setFaults({ mode: 'slow', latencyMs: 400 });
    const started = Date.now();
    const m = await client.sendMessage(from, to, 'slow one', uid('k-'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    const impatient = new HttpMessagingGateway({ baseUrl: gw.url, apiKey, timeoutMs: 100 });
    const key = uid('k-');
    expect(await impatient.sendMessage(from, to, 'given up', key).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(MessagingUnavailableError);
    await admin.clearFaults();
    const retried = await waitFor('the message sent by the abandoned call', async () =>
      (await admin.phoneMessages(to)).find((x) => x.body === 'given up'));
    expect((await client.sendMessage(from, to, 'given up', key)).id).toBe(retried.id);
    expect(m.status).toBe('queued');
  });

  it('lost_receipts: a message accepted meanwhile is delivered but sends no receipt, while later ones do', async () => {
    const from = newSender();
    const to = newPhone();
    await client.bookSender(from);
    const before = (await admin.stats()).receiptsLost as number;
    await admin.setFaults({ mode: 'lost_receipts' });
    const lost = await client.sendMessage(from, to, 'no receipt', uid('k-'));
    await admin.clearFaults();
    const kept = await client.sendMessage(from, to, 'with receipt', uid('k-'));
    await waitFor('the later receipt', () => receiver.receiptOf(kept.id));
    // the lost one was delivered (at or before the later one, in the same ordered pump), its receipt never queued
    expect(await waitFor('the lost one delivered', async () => ((await client.getMessage(lost.id))?.status === 'delivered' ? true : undefined))).toBe(true);
    expect(receiver.receiptOf(lost.id)).toBeUndefined();
    expect((await admin.stats()).receiptsLost).toBe(before + 1);
  });

  it('refuses unknown fault modes and settings with 400', async () => {
    const res = await fetch(`${gw.adminUrl}/admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'flaky' }) });
    expect(res.status).toBe(400);
  });
});

describe('the gateway process', () => {
  it('keeps senders, messages and pending webhooks across a SIGKILL: after a restart the receipt lands and the booked sender still sends', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const key = uid('msgk_proc_');
    const env = {
      PAYBROKER_MESSAGING_PORT: String(port), PAYBROKER_MESSAGING_ADMIN_PORT: String(adminPort),
      PAYBROKER_MESSAGING_API_KEY: key, PAYBROKER_MESSAGING_WEBHOOK_SECRET: SECRET, PAYBROKER_MESSAGING_WEBHOOK_URL: receiver.url,
    };
    const c = new HttpMessagingGateway({ baseUrl: `http://127.0.0.1:${port}`, apiKey: key });
    const a = new MessagingGatewayAdmin({ adminUrl: `http://127.0.0.1:${adminPort}` });
    let proc = spawnService('processors/messaging/main.ts', env);
    try {
      await proc.waitForOutput(/messaging gateway listening on/);
      expect(proc.output()).toContain(`http://127.0.0.1:${port} (admin http://127.0.0.1:${adminPort})`);
      const from = newSender();
      const to = newPhone();
      await c.bookSender(from);
      let failing = true;
      receiver.answer = () => (failing ? 500 : 200);
      const m = await c.sendMessage(from, to, 'survive me', uid('k-'));
      // delivered, and its receipt tried and failed at least once, before the kill
      await waitFor('a failed receipt attempt', async () => ((await a.stats()).webhookAttemptsFailed as number) >= 1 || undefined);
      expect(receiver.receiptOf(m.id)).toBeUndefined();
      await proc.stop('SIGKILL');
      failing = false;
      proc = spawnService('processors/messaging/main.ts', env);
      await proc.waitForOutput(/messaging gateway listening on/);
      const receipt = await waitFor('the receipt after the restart', () => receiver.receiptOf(m.id));
      expect(receipt.payload.data).toMatchObject({ messageId: m.id, status: 'delivered' });
      expect(await c.getMessage(m.id)).toMatchObject({ status: 'delivered' });
      const second = await c.sendMessage(from, to, 'still booked', uid('k-'));
      expect((await a.phoneMessages(to)).map((x: GatewayMessage) => x.id)).toEqual([second.id, m.id]);
      expect(await proc.stop('SIGTERM')).toBe(0);
    } finally {
      await proc.stop('SIGKILL');
    }
  }, 60_000);
});

describe('verifyGatewayWebhook', () => {
  const body = JSON.stringify({ type: 'message.inbound', data: { body: 'YES 1234' } });
  const now = Date.UTC(2026, 0, 1, 12);
  const signed = (over: { secret?: string; id?: string; at?: number; body?: string } = {}) =>
    signGatewayWebhook(over.secret ?? SECRET, over.id ?? 'evt_1', over.body ?? body, over.at ?? now);
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof GatewayWebhookError) return err.code;
      throw err;
    }
    return 'accepted';
  };

  it('accepts a valid delivery, returns its payload and records its id', () => {
    const seen = new Set<string>();
    const v = verifyGatewayWebhook(SECRET, signed(), body, now + 1_000, seen);
    expect(v).toEqual({ id: 'evt_1', timestampSeconds: now / 1000, payload: JSON.parse(body) });
    expect(seen.has('evt_1')).toBe(true);
  });

  it('refuses a forged delivery: another secret, a changed body, a changed id, a changed timestamp, a malformed signature', () => {
    const seen = new Set<string>();
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed({ secret: 'other' }), body, now, seen))).toBe('invalid_signature');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed(), body.replace('1234', '9999'), now, seen))).toBe('invalid_signature');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, { ...signed(), [H.id]: 'evt_2' }, body, now, seen))).toBe('invalid_signature');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, { ...signed(), [H.timestamp]: String(now / 1000 + 1) }, body, now, seen))).toBe('invalid_signature');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, { ...signed(), [H.signature]: 'v1=zz' }, body, now, seen))).toBe('invalid_signature');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, { [H.id]: 'evt_1', [H.timestamp]: String(now / 1000) }, body, now, seen))).toBe('missing_header');
    expect(seen.size).toBe(0);
  });

  it('refuses a stale delivery past the 5 minute tolerance either way, and accepts one at it', () => {
    const seen = new Set<string>();
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed({ id: 'a' }), body, now + 300_000, seen))).toBe('accepted');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed({ id: 'b' }), body, now + 301_000, seen))).toBe('stale');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed({ id: 'c' }), body, now - 301_000, seen))).toBe('stale');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed({ id: 'd' }), body, now + 60_000, seen, 30))).toBe('stale');
  });

  it('refuses a replayed delivery (an id already accepted), even freshly signed', () => {
    const seen = new Set<string>();
    verifyGatewayWebhook(SECRET, signed(), body, now, seen);
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed(), body, now, seen))).toBe('replayed');
    expect(codeOf(() => verifyGatewayWebhook(SECRET, signed({ at: now + 10_000 }), body, now + 10_000, seen))).toBe('replayed');
  });
});
