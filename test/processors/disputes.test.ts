// Disputes at the processor simulator, over real HTTP and PostgreSQL, and its signed webhooks to a real receiver:
// disputes opened by a test card after each capture and by the issuer (admin), on captures and on charge lines of
// batch files, evidence and the issuer's decision after a delay, acceptance, evidence past due, a provisioning failure
// resolved by a refund, loyalty rewards and provisioning failure reports; webhooks (dispute.created, dispute.closed,
// reservation.expired) signed per endpoint, verifiable with verifyProcessorWebhook, retried while the receiver is down
// and delivered once per id; processes sharing one database reaching their own brokers; and databases at 005 and 006
// upgraded in place.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb } from '../../ledger/db';
import type { Capture, ChargeLineResult, Dispute, ProcessorWebhookEvent } from '../../processors/client';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { LOSING_EVIDENCE, MAX_EVIDENCE_FIELD_CHARS } from '../../processors/simulator/disputes';
import { SIM_SCHEMA, simulatorMigrationSource } from '../../processors/simulator/migrations';
import { startSimulator, TEST_CARDS, type RunningSimulator } from '../../processors/simulator/server';
import { PROCESSOR_WEBHOOK_HEADERS, ProcessorWebhookError, verifyProcessorWebhook } from '../../processors/webhookSignature';
import { testDb, uid } from '../support/env';
import { freePort } from '../../scripts/ports';
import { key, postRaw, rejected, testCard as card } from '../support/processor-calls';
import { Receiver, type Received } from '../support/receiver';

const SECRET = 'whsec_test_disputes';
const FRAUD = '4000000000000259';
const PROVISIONING = '4000000000001976';
const VISA = '4242424242424242';
const DECLINED = '4000000000000002';
const DAY = 86_400;

let sim: RunningSimulator;
let client: HttpProcessorClient;
let admin: SimulatorAdmin;
const receiver = new Receiver();
const db = testDb(2);

async function startWith(receiverUrl: string, secret: string, databaseUrl = inject('databaseUrl')): Promise<RunningSimulator> {
  return startSimulator({
    databaseUrl, port: await freePort(), adminPort: await freePort(), pumpIntervalMs: 50,
    webhook: { url: receiverUrl, secret }, webhookBackoff: { initialMs: 100, maxMs: 400 },
  });
}

beforeAll(async () => {
  await receiver.start();
  sim = await startWith(receiver.url, SECRET);
  client = new HttpProcessorClient({ baseUrl: sim.url, timeoutMs: 5_000 });
  admin = new SimulatorAdmin({ adminUrl: sim.adminUrl });
  await admin.setConfig({ disputeDecisionDelayMs: 300 });
});
afterAll(async () => {
  await sim?.stop();
  await receiver.stop();
  await db.destroy();
});

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const eventIdOf = (r: Received) => String(r.headers[PROCESSOR_WEBHOOK_HEADERS.id]);
/** The deliveries that reached a receiver about an object, of a type. */
const deliveries = (rcv: Receiver, objectId: string, type: ProcessorWebhookEvent['type']) =>
  rcv.received.filter((r) => r.body.type === type && r.body.data?.object?.id === objectId);
const delivered = (objectId: string, type: ProcessorWebhookEvent['type'], rcv = receiver) =>
  until(`${type} of ${objectId}`, () => deliveries(rcv, objectId, type)[0]);

async function captureOn(number: string, amountMinor = 1_000, c = client): Promise<Capture> {
  const { token } = await c.tokenize(card(number), key());
  const a = await c.authorize({ token, amountMinor, currency: 'USD', postalCode: '1', reference: uid('order-') }, key());
  return c.capture(a.id, amountMinor, key());
}

/** The one line of a charge batch file on this card, as the processor answered it. */
async function chargeOn(number: string, amountMinor = 1_000): Promise<ChargeLineResult> {
  const { token } = await client.tokenize(card(number), key());
  const file = await client.submitChargeBatch([{ idempotencyKey: key(), token, amountMinor, currency: 'USD', reference: uid('period-') }], key());
  return file.results[0];
}

/** The id of a succeeded charge line of amountMinor on a card that approves. */
async function chargeId(amountMinor = 1_000): Promise<string> {
  const line = await chargeOn(VISA, amountMinor);
  expect(line).toMatchObject({ status: 'succeeded', chargeId: expect.stringMatching(/^ch_/) });
  return line.chargeId!;
}

/** The dispute dispute.created announced for a capture. */
async function disputeOf(captureId: string): Promise<Dispute> {
  const r = await until(`dispute.created of ${captureId}`, () =>
    receiver.received.find((x) => x.body.type === 'dispute.created' && x.body.data.object.captureId === captureId));
  return r.body.data.object as Dispute;
}

const closed = async (disputeId: string) => (await delivered(disputeId, 'dispute.closed')).body.data.object as Dispute;

describe('disputes opened by the test cards', () => {
  it('disputes each capture on 4000000000000259 (fraudulent): dispute.created, signed, verifiable, with the dispute', async () => {
    expect(TEST_CARDS[FRAUD].disputeReason).toBe('fraudulent');
    const cap = await captureOn(FRAUD, 2_500);
    const r = await until('dispute.created', () =>
      receiver.received.find((x) => x.body.type === 'dispute.created' && x.body.data.object.captureId === cap.id));
    const verified = verifyProcessorWebhook(SECRET, r.headers, r.raw, Date.now(), new Set());
    expect(verified.id).toBe(eventIdOf(r));
    const event = verified.payload as ProcessorWebhookEvent;
    expect(Object.keys(event).sort()).toEqual(['createdAt', 'data', 'id', 'type']);
    expect(event).toMatchObject({ id: verified.id, type: 'dispute.created', data: { object: {
      captureId: cap.id, amountMinor: 2_500, currency: 'USD', reason: 'fraudulent', status: 'needs_response', feeMinor: 1_500,
    } } });
    expect(verified.id).toMatch(/^evt_/);
    const dispute = event.data.object as Dispute;
    expect(dispute.id).toMatch(/^dp_/);
    expect((Date.parse(dispute.evidenceDueBy) - Date.now()) / 1000).toBeGreaterThan(7 * DAY - 60);
    expect(await client.getDispute(dispute.id)).toEqual({
      id: dispute.id, captureId: cap.id, chargeId: null, amountMinor: 2_500, currency: 'USD', feeMinor: 1_500, reason: 'fraudulent', status: 'needs_response',
      evidenceDueBy: dispute.evidenceDueBy, createdAt: dispute.createdAt,
    });
    expect(await client.getTransaction(dispute.id)).toMatchObject({ object: 'dispute', id: dispute.id });
    expect(await client.getDispute('dp_doesnotexist')).toBeUndefined();

    // forged, replayed, stale
    expect(() => verifyProcessorWebhook('whsec_other', r.headers, r.raw, Date.now(), new Set())).toThrow(ProcessorWebhookError);
    const seen = new Set<string>([verified.id]);
    expect(() => verifyProcessorWebhook(SECRET, r.headers, r.raw, Date.now(), seen)).toThrow(expect.objectContaining({ code: 'replayed' }));
    expect(() => verifyProcessorWebhook(SECRET, r.headers, r.raw, Date.now() + 600_000, new Set())).toThrow(expect.objectContaining({ code: 'stale' }));
    expect(() => verifyProcessorWebhook(SECRET, r.headers, r.raw.replace('2500', '2501'), Date.now(), new Set()))
      .toThrow(expect.objectContaining({ code: 'invalid_signature' }));
  });

  it('disputes a capture of a reservation on 4000000000001976 (provisioning_failed)', async () => {
    const { token } = await client.tokenize(card(PROVISIONING), key());
    const hold = await client.reserve({ token, amountMinor: 3_000, currency: 'USD', reference: uid(), expiresInSeconds: 3600 }, key());
    const cap = await client.captureReservation(hold.id, 1_200, key());
    expect(await disputeOf(cap.id)).toMatchObject({ reason: 'provisioning_failed', amountMinor: 1_200, status: 'needs_response' });
  });

  it('opens no dispute on other cards', async () => {
    const cap = await captureOn(VISA);
    expect(await admin.disputesOfCapture(cap.id)).toEqual([]);
  });
});

describe('disputes opened by the issuer (admin)', () => {
  it('opens one per capture at most (409 dispute_exists), of part of it, never more than is left after refunds', async () => {
    const cap = await captureOn(VISA, 1_000);
    await client.refund(cap.id, 300, key());
    await expect(admin.openDispute(cap.id, { reason: 'duplicate', amountMinor: 701 })).rejects.toThrow(/409.*over_dispute/);
    const d = await admin.openDispute(cap.id, { reason: 'duplicate' });
    expect(d).toMatchObject({ object: 'dispute', captureId: cap.id, amountMinor: 700, reason: 'duplicate', status: 'needs_response' });
    expect((await delivered(d.id, 'dispute.created')).body.data.object).toMatchObject({ id: d.id, amountMinor: 700 });
    await expect(admin.openDispute(cap.id, { reason: 'general' })).rejects.toThrow(/409.*dispute_exists/);
    await expect(admin.openDispute('cap_doesnotexist', { reason: 'general' })).rejects.toThrow(/404/);
    await expect(admin.openDispute(cap.id, { reason: 'unhappy' as never })).rejects.toThrow(/400/);
    // closed, another can be opened
    await client.acceptDispute(d.id, key());
    expect(await admin.openDispute(cap.id, { reason: 'general', amountMinor: 100 })).toMatchObject({ amountMinor: 100 });
  });

  it('takes its fee and evidence window from the configuration', async () => {
    await admin.setConfig({ disputeFeeMinor: 2_000, disputeEvidenceSeconds: 3 * DAY });
    try {
      const d = await admin.openDispute((await captureOn(VISA)).id, { reason: 'general' });
      expect(d.feeMinor).toBe(2_000);
      expect((Date.parse(d.evidenceDueBy) - Date.now()) / 1000).toBeGreaterThan(3 * DAY - 60);
      expect((Date.parse(d.evidenceDueBy) - Date.now()) / 1000).toBeLessThanOrEqual(3 * DAY);
      expect(await admin.config()).toMatchObject({ disputeFeeMinor: 2_000, disputeEvidenceSeconds: 3 * DAY, disputeDecisionDelayMs: 300 });
    } finally {
      await admin.setConfig({ disputeFeeMinor: 1_500, disputeEvidenceSeconds: 7 * DAY });
    }
    await expect(admin.setConfig({ disputeFeeMinor: -1 })).rejects.toThrow(/400/);
  });
});

describe('disputes of charge lines (admin)', () => {
  it('opens one on a succeeded charge line: dispute.created, signed, with its chargeId and a null captureId', async () => {
    const id = await chargeId(1_800);
    const d = await admin.openChargeDispute(id, { reason: 'product_not_received' });
    expect(d).toMatchObject({
      object: 'dispute', captureId: null, chargeId: id, amountMinor: 1_800, currency: 'USD', feeMinor: 1_500, reason: 'product_not_received',
      status: 'needs_response',
    });
    const r = await delivered(d.id, 'dispute.created');
    const event = verifyProcessorWebhook(SECRET, r.headers, r.raw, Date.now(), new Set()).payload as ProcessorWebhookEvent;
    expect(event).toMatchObject({ type: 'dispute.created', data: { object: { id: d.id, captureId: null, chargeId: id, amountMinor: 1_800 } } });
    expect(await client.getDispute(d.id)).toEqual({
      id: d.id, captureId: null, chargeId: id, amountMinor: 1_800, currency: 'USD', feeMinor: 1_500, reason: 'product_not_received',
      status: 'needs_response', evidenceDueBy: d.evidenceDueBy, createdAt: d.createdAt,
    });
    expect(await client.getTransaction(d.id)).toMatchObject({ object: 'dispute', captureId: null, chargeId: id });
    expect(await admin.disputesOfCharge(id)).toMatchObject([{ id: d.id, chargeId: id }]);
    expect(await admin.disputesOfCharge('ch_doesnotexist')).toEqual([]);
  });

  it('takes evidence, then the decision (dispute.closed won, with its chargeId); accepted, it is lost at once', async () => {
    const id = await chargeId();
    const d = await admin.openChargeDispute(id, { reason: 'general' });
    expect(await client.submitDisputeEvidence(d.id, { productDescription: 'a period of metered use' }, key()))
      .toMatchObject({ id: d.id, chargeId: id, status: 'under_review' });
    const won = await delivered(d.id, 'dispute.closed');
    expect(verifyProcessorWebhook(SECRET, won.headers, won.raw, Date.now(), new Set()).payload).toMatchObject({
      type: 'dispute.closed', data: { object: { id: d.id, captureId: null, chargeId: id, status: 'won', feeMinor: 1_500 } },
    });
    expect(await admin.disputesOfCharge(id)).toMatchObject([{ status: 'won', evidence: { productDescription: 'a period of metered use' } }]);

    const other = await chargeId();
    const accepted = await admin.openChargeDispute(other, { reason: 'fraudulent' });
    expect(await client.acceptDispute(accepted.id, key())).toMatchObject({ chargeId: other, status: 'lost' });
    expect(await closed(accepted.id)).toMatchObject({ captureId: null, chargeId: other, status: 'lost' });
  });

  it('decides by the planned outcome and loses unanswered past the due date, as a capture\'s', async () => {
    const planned = await admin.openChargeDispute(await chargeId(), { reason: 'general', outcome: 'lost' });
    await client.submitDisputeEvidence(planned.id, { productDescription: 'fine' }, key());
    const unanswered = await admin.openChargeDispute(await chargeId(), { reason: 'general', evidenceSeconds: 1 });
    expect(await closed(planned.id)).toMatchObject({ status: 'lost' });
    expect(await closed(unanswered.id)).toMatchObject({ status: 'lost' });
    await rejected(client.submitDisputeEvidence(unanswered.id, { uncategorized: 'too late' }, key()), 'evidence_past_due', 409);
  });

  it('refuses a failed charge line (it has no id) and an unknown id: 404', async () => {
    const failed = await chargeOn(DECLINED);
    expect(failed).toMatchObject({ status: 'failed', declineCode: 'card_declined' });
    expect(failed.chargeId).toBeUndefined();
    await expect(admin.openChargeDispute(failed.idempotencyKey, { reason: 'general' })).rejects.toThrow(/404.*resource_missing/);
    await expect(admin.openChargeDispute('ch_doesnotexist', { reason: 'general' })).rejects.toThrow(/404.*resource_missing/);
    // a capture is not a charge
    await expect(admin.openChargeDispute((await captureOn(VISA)).id, { reason: 'general' })).rejects.toThrow(/404/);
    await expect(admin.openChargeDispute(await chargeId(), { reason: 'unhappy' as never })).rejects.toThrow(/400/);
  });

  it('opens one per charge at most (409 dispute_exists), of at most its amount (409 over_dispute); closed, another', async () => {
    const id = await chargeId(1_000);
    await expect(admin.openChargeDispute(id, { reason: 'duplicate', amountMinor: 1_001 })).rejects.toThrow(/409.*over_dispute/);
    const d = await admin.openChargeDispute(id, { reason: 'duplicate', amountMinor: 1_000 });
    expect(d).toMatchObject({ chargeId: id, amountMinor: 1_000 });
    await expect(admin.openChargeDispute(id, { reason: 'general' })).rejects.toThrow(/409.*dispute_exists/);
    await expect(admin.openChargeDispute(id, { reason: 'general', amountMinor: 1_001 })).rejects.toThrow(/409/);
    await client.acceptDispute(d.id, key());
    expect(await admin.openChargeDispute(id, { reason: 'general', amountMinor: 250 })).toMatchObject({ chargeId: id, amountMinor: 250 });
    expect(await admin.disputesOfCharge(id)).toHaveLength(2);
  });
});

describe('evidence and the decision', () => {
  it('puts it under review, then decides won after the delay (dispute.closed); evidence is taken once', async () => {
    const cap = await captureOn(VISA);
    const d = await admin.openDispute(cap.id, { reason: 'product_not_received' });
    const k = key();
    const reviewed = await client.submitDisputeEvidence(d.id, { trackingNumber: '1Z999', shippingCarrier: 'UPS' }, k);
    expect(reviewed).toMatchObject({ id: d.id, status: 'under_review' });
    expect(await client.submitDisputeEvidence(d.id, { trackingNumber: '1Z999', shippingCarrier: 'UPS' }, k)).toEqual(reviewed);
    await rejected(client.submitDisputeEvidence(d.id, { trackingNumber: 'other' }, key()), 'evidence_already_submitted', 409);
    await rejected(client.acceptDispute(d.id, key()), 'evidence_already_submitted', 409);
    const decided = await closed(d.id);
    expect(decided).toMatchObject({ id: d.id, status: 'won', feeMinor: 1_500 });
    expect(await client.getDispute(d.id)).toMatchObject({ status: 'won' });
    expect(await admin.disputesOfCapture(cap.id)).toMatchObject([{ evidence: { trackingNumber: '1Z999', shippingCarrier: 'UPS' } }]);
  });

  it(`decides lost on evidence containing "${LOSING_EVIDENCE}", unless the issuer planned the outcome`, async () => {
    const losing = await admin.openDispute((await captureOn(VISA)).id, { reason: 'fraudulent' });
    await client.submitDisputeEvidence(losing.id, { uncategorized: `see ${LOSING_EVIDENCE} attached` }, key());
    expect(await closed(losing.id)).toMatchObject({ status: 'lost' });
    const plannedWin = await admin.openDispute((await captureOn(VISA)).id, { reason: 'fraudulent', outcome: 'won' });
    await client.submitDisputeEvidence(plannedWin.id, { uncategorized: LOSING_EVIDENCE }, key());
    const plannedLoss = await admin.openDispute((await captureOn(VISA)).id, { reason: 'fraudulent', outcome: 'lost' });
    await client.submitDisputeEvidence(plannedLoss.id, { productDescription: 'a fine product' }, key());
    expect(await closed(plannedWin.id)).toMatchObject({ status: 'won' });
    expect(await closed(plannedLoss.id)).toMatchObject({ status: 'lost' });
  });

  it('loses at once when accepted (dispute.closed lost); a closed one takes neither evidence nor acceptance (409 dispute_closed)', async () => {
    const d = await admin.openDispute((await captureOn(VISA)).id, { reason: 'general' });
    const k = key();
    const accepted = await client.acceptDispute(d.id, k);
    expect(accepted).toMatchObject({ status: 'lost', feeMinor: 1_500 });
    expect(await client.acceptDispute(d.id, k)).toEqual(accepted);
    expect(await closed(d.id)).toMatchObject({ status: 'lost' });
    await rejected(client.acceptDispute(d.id, key()), 'dispute_closed', 409);
    await rejected(client.submitDisputeEvidence(d.id, { uncategorized: 'late' }, key()), 'dispute_closed', 409);
    await rejected(client.acceptDispute('dp_doesnotexist', key()), 'resource_missing', 404);
  });

  it('refuses evidence past its due date (409 evidence_past_due); unanswered, the dispute is lost', async () => {
    const d = await admin.openDispute((await captureOn(VISA)).id, { reason: 'general', evidenceSeconds: 1 });
    expect(await closed(d.id)).toMatchObject({ status: 'lost' });
    await rejected(client.submitDisputeEvidence(d.id, { uncategorized: 'too late' }, key()), 'evidence_past_due', 409);
  });

  it(`bounds the evidence: fields of ${MAX_EVIDENCE_FIELD_CHARS} characters, a body of 64 KiB, at least one field, no other`, async () => {
    const d = await admin.openDispute((await captureOn(VISA)).id, { reason: 'general' });
    await rejected(client.submitDisputeEvidence(d.id, { uncategorized: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS + 1) }, key()), 'parameter_invalid', 400);
    await rejected(client.submitDisputeEvidence(d.id, {}, key()), 'parameter_invalid', 400);
    await rejected(client.submitDisputeEvidence(d.id, { other: 'x' } as never, key()), 'unknown_parameter', 400);
    const big = { uncategorized: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS), productDescription: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS),
      customerCommunication: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS), refundPolicy: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS) };
    await rejected(client.submitDisputeEvidence(d.id, big, key()), 'body_too_large', 413);
    const fits = { uncategorized: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS), productDescription: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS),
      customerCommunication: 'x'.repeat(MAX_EVIDENCE_FIELD_CHARS) };
    expect((await client.submitDisputeEvidence(d.id, fits, key())).status).toBe('under_review');
  });
});

describe('a provisioning failure resolved by a refund', () => {
  it('closes an open provisioning_failed dispute as refunded, without a fee, once a refund covers its amount', async () => {
    const cap = await captureOn(VISA, 1_000);
    const d = await admin.openDispute(cap.id, { reason: 'provisioning_failed', amountMinor: 500 });
    await client.refund(cap.id, 400, key());
    expect(await client.getDispute(d.id)).toMatchObject({ status: 'needs_response', feeMinor: 1_500 });
    expect(await client.reportProvisioningFailure(cap.id, key())).toMatchObject({ captureId: cap.id });
    await client.refund(cap.id, 500, key());
    expect(await client.getDispute(d.id)).toMatchObject({ status: 'refunded', feeMinor: 0 });
    expect(await closed(d.id)).toMatchObject({ status: 'refunded', feeMinor: 0 });
  });

  it('leaves a dispute of another reason open after a full refund', async () => {
    const cap = await captureOn(FRAUD, 800);
    const d = await disputeOf(cap.id);
    await client.refund(cap.id, 800, key());
    expect(await client.getDispute(d.id)).toMatchObject({ status: 'needs_response', feeMinor: 1_500 });
  });
});

describe('what the merchant tells the issuer', () => {
  it('reports a provisioning failure once: 201 with the first report time on a repeat, 404 for an unknown capture', async () => {
    const cap = await captureOn(VISA);
    const first = await client.reportProvisioningFailure(cap.id, key());
    expect(first.captureId).toBe(cap.id);
    expect(Date.parse(first.reportedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await client.reportProvisioningFailure(cap.id, key())).toEqual(first);
    await rejected(client.reportProvisioningFailure('cap_doesnotexist', key()), 'resource_missing', 404);
  });

  it('forwards a loyalty reward (201), replays it under its key, and bounds program (1-64) and points (1-10000000)', async () => {
    const cap = await captureOn(VISA);
    const k = key();
    const signal = await client.sendLoyalty(cap.id, { program: 'p'.repeat(64), points: 10_000_000 }, k);
    expect(signal).toMatchObject({ captureId: cap.id, program: 'p'.repeat(64), points: 10_000_000 });
    expect(signal.id).toMatch(/^loy_/);
    expect(await client.sendLoyalty(cap.id, { program: 'p'.repeat(64), points: 10_000_000 }, k)).toEqual(signal);
    expect(await client.getTransaction(signal.id)).toMatchObject({ object: 'loyalty_signal', id: signal.id, points: 10_000_000 });
    for (const bad of [{ program: '', points: 1 }, { program: 'p'.repeat(65), points: 1 }, { program: 'p', points: 0 }, { program: 'p', points: 10_000_001 }]) {
      await rejected(client.sendLoyalty(cap.id, bad, key()), 'parameter_invalid', 400);
    }
    await rejected(client.sendLoyalty('cap_doesnotexist', { program: 'p', points: 1 }, key()), 'resource_missing', 404);
    expect((await postRaw(sim.url, `/v1/captures/${cap.id}/loyalty`, { body: '{"program":"p","points":1}' })).body.error.code).toBe('idempotency_key_missing');
  });
});

describe('webhook delivery', () => {
  it('retries while the receiver is down, then delivers the event once, with the same id', async () => {
    await receiver.down();
    let d: Dispute;
    try {
      d = await admin.openDispute((await captureOn(VISA)).id, { reason: 'general' });
      const [event] = await until('two failed attempts', async () => {
        const events = await admin.webhookEvents(d.id);
        return events[0]?.attempts >= 2 ? events : undefined;
      });
      expect(event).toMatchObject({ type: 'dispute.created', url: receiver.url, lastError: 'ECONNREFUSED' });
      expect(event.deliveredAt).toBeUndefined();
    } finally {
      await receiver.up();
    }
    const got = await delivered(d.id, 'dispute.created');
    const [event] = await until('delivered', async () => {
      const events = await admin.webhookEvents(d.id);
      return events[0]?.deliveredAt ? events : undefined;
    });
    expect(eventIdOf(got)).toBe(event.id);
    expect(deliveries(receiver, d.id, 'dispute.created')).toHaveLength(1);
    // two failed attempts and the one that delivered it (the event's own count: any simulator on this database may
    // have made them, so not this process's stats)
    expect(event.attempts).toBeGreaterThanOrEqual(3);
  });

  it('retries an event the receiver answers with an error, then delivers it', async () => {
    const failing = new Set<string>();
    let failures = 0;
    const cap = await captureOn(VISA);
    receiver.answer = (_id, body) => {
      if (body.type === 'dispute.created' && body.data.object.captureId === cap.id && failures < 2) {
        failures += 1;
        failing.add(body.id);
        return 500;
      }
      return 200;
    };
    try {
      const d = await admin.openDispute(cap.id, { reason: 'general' });
      await delivered(d.id, 'dispute.created');
      const [event] = await admin.webhookEvents(d.id);
      expect(event.attempts).toBe(3);
      expect(failing).toEqual(new Set([event.id]));
    } finally {
      receiver.answer = () => 200;
    }
  });

  it('sends reservation.expired when the issuer expires a hold early, and when it expires by time', async () => {
    const { token } = await client.tokenize(card('4000056655665556'), key());
    const early = await client.reserve({ token, amountMinor: 1_000, currency: 'USD', reference: uid(), expiresInSeconds: 3600 }, key());
    await admin.expireReservation(early.id);
    const e1 = await delivered(early.id, 'reservation.expired');
    expect(e1.body.data.object).toMatchObject({ id: early.id, status: 'expired', releasedMinor: 1_000, amountMinor: 1_000 });
    expect(verifyProcessorWebhook(SECRET, e1.headers, e1.raw, Date.now(), new Set()).payload).toEqual(e1.body);

    const byTime = await client.reserve({ token, amountMinor: 2_000, currency: 'USD', reference: uid(), expiresInSeconds: 3600 }, key());
    await client.captureReservation(byTime.id, 500, key());
    await db(`${SIM_SCHEMA}.reservations`).where({ id: byTime.id }).update({ expires_at: db.raw("now() - interval '1 second'") });
    const e2 = await delivered(byTime.id, 'reservation.expired');
    expect(e2.body.data.object).toMatchObject({ id: byTime.id, status: 'expired', capturedMinor: 500, releasedMinor: 1_500 });
    expect((await client.balance(token)).availableMinor).toBe(49_500);
    expect(await admin.webhookEvents(byTime.id)).toHaveLength(1);
  });

  it("sends each process's events to its own broker, signed with that broker's secret (processes sharing one database)", async () => {
    const other = new Receiver();
    await other.start();
    const second = await startWith(other.url, 'whsec_second');
    try {
      const c2 = new HttpProcessorClient({ baseUrl: second.url });
      const cap = await captureOn(FRAUD, 1_000, c2);
      const r = await until('dispute.created at the second broker', () =>
        other.received.find((x) => x.body.type === 'dispute.created' && x.body.data.object.captureId === cap.id));
      expect(verifyProcessorWebhook('whsec_second', r.headers, r.raw, Date.now(), new Set()).payload).toMatchObject({ type: 'dispute.created' });
      expect(() => verifyProcessorWebhook(SECRET, r.headers, r.raw, Date.now(), new Set())).toThrow(ProcessorWebhookError);
      // the first process's admin opens the next one: it goes to the first broker
      await client.refund(cap.id, 1, key());
      const d = r.body.data.object as Dispute;
      await c2.acceptDispute(d.id, key());
      const d2 = await admin.openDispute(cap.id, { reason: 'general', amountMinor: 1 });
      await delivered(d2.id, 'dispute.created');
      expect(deliveries(other, d2.id, 'dispute.created')).toEqual([]);
      expect(deliveries(receiver, d.id, 'dispute.created')).toEqual([]);
    } finally {
      await second.stop();
      await other.stop();
    }
  });
});

describe('faults and the tables', () => {
  it("faults the 'dispute' operation alone: 503 with nothing applied, then the retry under the key applies it once", async () => {
    const d = await admin.openDispute((await captureOn(VISA)).id, { reason: 'general' });
    await admin.setFaults({ mode: 'down', downStyle: '503', operations: ['dispute'], count: 1 });
    const k = key();
    const err = await client.acceptDispute(d.id, k).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ProcessorUnavailableError' });
    expect(await client.getDispute(d.id)).toMatchObject({ status: 'needs_response' });
    expect(await client.acceptDispute(d.id, k)).toMatchObject({ status: 'lost' });
  });

  it('keeps one open dispute per capture, and no fee on a refunded one, whatever writes to them', async () => {
    const cap = await captureOn(VISA);
    const d = await admin.openDispute(cap.id, { reason: 'provisioning_failed' });
    const row = await db(`${SIM_SCHEMA}.disputes`).where({ id: d.id }).first();
    await expect(db(`${SIM_SCHEMA}.disputes`).insert({ ...row, id: uid('dp_') })).rejects.toThrow(/disputes_one_open_per_capture/);
    await expect(db(`${SIM_SCHEMA}.disputes`).where({ id: d.id }).update({ status: 'refunded', closed_at: db.fn.now() }))
      .rejects.toThrow(/disputes_refunded_free_check/);
    await expect(db(`${SIM_SCHEMA}.disputes`).where({ id: d.id }).update({ status: 'under_review' })).rejects.toThrow(/disputes_under_review_check/);
  });

  it('keeps a dispute of exactly one of a capture or a charge, one open per charge, and refunded for captures only', async () => {
    const id = await chargeId();
    const cap = await captureOn(VISA);
    const d = await admin.openChargeDispute(id, { reason: 'general' });
    const row = await db(`${SIM_SCHEMA}.disputes`).where({ id: d.id }).first();
    expect(row).toMatchObject({ charge_id: id, capture_id: null });
    await expect(db(`${SIM_SCHEMA}.disputes`).insert({ ...row, id: uid('dp_') })).rejects.toThrow(/disputes_one_open_per_charge/);
    await expect(db(`${SIM_SCHEMA}.disputes`).insert({ ...row, id: uid('dp_'), status: 'lost', closed_at: db.fn.now(), capture_id: cap.id }))
      .rejects.toThrow(/disputes_of_one_check/);
    await expect(db(`${SIM_SCHEMA}.disputes`).insert({ ...row, id: uid('dp_'), status: 'lost', closed_at: db.fn.now(), charge_id: null }))
      .rejects.toThrow(/disputes_of_one_check/);
    await expect(db(`${SIM_SCHEMA}.disputes`).insert({ ...row, id: uid('dp_'), charge_id: 'ch_doesnotexist' })).rejects.toThrow(/foreign key/);
    await expect(db(`${SIM_SCHEMA}.disputes`).where({ id: d.id }).update({ status: 'refunded', fee_minor: 0, closed_at: db.fn.now() }))
      .rejects.toThrow(/disputes_refunded_capture_check/);
  });
});

/** A database of its own, dropped after fn. */
async function inFreshDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const main = testDb(1);
  const name = uid('simupgrade_');
  await main.raw(`CREATE DATABASE ${name}`);
  try {
    await fn(inject('databaseUrl').replace(/\/[^/]*$/, `/${name}`));
  } finally {
    await main.raw(`DROP DATABASE ${name} WITH (FORCE)`);
    await main.destroy();
  }
}

describe('schema upgrade', () => {
  it('upgrades a database at 006 in place: its disputes of captures read with a null chargeId, its charges can be disputed', async () => {
    await inFreshDatabase(async (url) => {
      const old = createDb(url);
      try {
        await old.raw(`CREATE SCHEMA ${SIM_SCHEMA}`);
        const config = { migrationSource: simulatorMigrationSource, tableName: 'processor_sim_migrations', schemaName: SIM_SCHEMA };
        for (let i = 0; i < 6; i++) await old.migrate.up(config);
        await old(`${SIM_SCHEMA}.card_tokens`).insert({ token: 'tok_old', last4: '4242', brand: 'visa', exp_month: 12, exp_year: 2099 });
        await old(`${SIM_SCHEMA}.authorizations`).insert({
          id: 'auth_old', token: 'tok_old', amount_minor: 1_000, currency: 'USD', postal_code: '12345', reference: 'order-old',
          status: 'approved', avs_code: 'Y', expires_at: old.raw("now() + interval '1 day'"), captured_minor: 400,
        });
        await old(`${SIM_SCHEMA}.captures`).insert({ id: 'cap_old', authorization_id: 'auth_old', amount_minor: 400, currency: 'USD', fee_minor: 42 });
        await old(`${SIM_SCHEMA}.disputes`).insert({
          id: 'dp_old', capture_id: 'cap_old', amount_minor: 400, currency: 'USD', reason: 'general', fee_minor: 1_500,
          status: 'needs_response', evidence_due_by: old.raw("now() + interval '1 day'"),
        });
        await old(`${SIM_SCHEMA}.batch_files`).insert({ id: 'chf_old', kind: 'charge', line_count: 1 });
        await old(`${SIM_SCHEMA}.charges`).insert({
          idempotency_key: 'line-old', id: 'ch_old', file_id: 'chf_old', token: 'tok_old', amount_minor: 600, currency: 'USD',
          reference: 'period-old', status: 'succeeded',
        });
      } finally {
        await old.destroy();
      }
      const rcv = new Receiver();
      await rcv.start();
      const upgraded = await startWith(rcv.url, SECRET, url);
      try {
        const c = new HttpProcessorClient({ baseUrl: upgraded.url });
        const a = new SimulatorAdmin({ adminUrl: upgraded.adminUrl });
        expect(await c.getDispute('dp_old')).toMatchObject({ id: 'dp_old', captureId: 'cap_old', chargeId: null, status: 'needs_response' });
        await expect(a.openDispute('cap_old', { reason: 'general' })).rejects.toThrow(/409.*dispute_exists/);
        const d = await a.openChargeDispute('ch_old', { reason: 'general' });
        expect(d).toMatchObject({ captureId: null, chargeId: 'ch_old', amountMinor: 600 });
        const r = await until('dispute.created', () => deliveries(rcv, d.id, 'dispute.created')[0]);
        expect(r.body.data.object).toMatchObject({ captureId: null, chargeId: 'ch_old' });
        expect(await c.acceptDispute('dp_old', key())).toMatchObject({ captureId: 'cap_old', chargeId: null, status: 'lost' });
      } finally {
        await upgraded.stop();
        await rcv.stop();
      }
    });
  });

  it('upgrades a database at 005 in place: its captures can be disputed, its reservations expire (their events kept, never sent)', async () => {
    await inFreshDatabase(async (url) => {
      const old = createDb(url);
      try {
        await old.raw(`CREATE SCHEMA ${SIM_SCHEMA}`);
        const config = { migrationSource: simulatorMigrationSource, tableName: 'processor_sim_migrations', schemaName: SIM_SCHEMA };
        for (let i = 0; i < 5; i++) await old.migrate.up(config);
        await old.raw(`INSERT INTO ${SIM_SCHEMA}.card_tokens (token, last4, brand, exp_month, exp_year, funds_kind, available_minor, balance_currency)
          VALUES ('tok_old', '5556', 'visa', 12, 2099, 'debit', 1000, 'USD')`);
        await old(`${SIM_SCHEMA}.authorizations`).insert({
          id: 'auth_old', token: 'tok_old', amount_minor: 1_000, currency: 'USD', postal_code: '12345', reference: 'order-old',
          status: 'approved', avs_code: 'Y', expires_at: old.raw("now() + interval '1 day'"), captured_minor: 400,
        });
        await old(`${SIM_SCHEMA}.captures`).insert({ id: 'cap_old', authorization_id: 'auth_old', amount_minor: 400, currency: 'USD', fee_minor: 42 });
        await old(`${SIM_SCHEMA}.reservations`).insert({
          id: 'rsv_old', token: 'tok_old', amount_minor: 300, currency: 'USD', reference: 'old', status: 'active', from_balance: true,
          expires_at: old.raw("now() - interval '1 second'"), created_at: old.raw("now() - interval '1 hour'"),
        });
      } finally {
        await old.destroy();
      }
      const rcv = new Receiver();
      await rcv.start();
      const upgraded = await startWith(rcv.url, SECRET, url);
      try {
        const c = new HttpProcessorClient({ baseUrl: upgraded.url });
        const a = new SimulatorAdmin({ adminUrl: upgraded.adminUrl });
        expect(await c.getTransaction('cap_old')).toMatchObject({ feeMinor: 42 });
        const d = await a.openDispute('cap_old', { reason: 'general' });
        await until('dispute.created', () => deliveries(rcv, d.id, 'dispute.created')[0]);
        expect(await c.getReservation('rsv_old')).toMatchObject({ status: 'expired', releasedMinor: 300 });
        expect(await a.webhookEvents('rsv_old')).toMatchObject([{ type: 'reservation.expired' }]);
        expect((await a.webhookEvents('rsv_old'))[0].url).toBeUndefined();
      } finally {
        await upgraded.stop();
        await rcv.stop();
      }
    });
  });
});
