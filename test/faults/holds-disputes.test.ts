// Holds and disputes when real processes fail (API, worker, processor simulator, PostgreSQL, Temporal): a capture asked
// for while no worker runs is made once a worker is back (the reservation captured once, posted once), and a dispute
// the processor notifies while the API is down arrives with the processor's redelivery (one dispute, one withdrawal).
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type ServiceName, type Services } from '../support/services';

let db: Db;
let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;

beforeAll(async () => {
  ({ db, stores, close: closeDb } = testDatabase(4));
  svc = await startServices();
});
// (a test that failed half way leaves every process running for the next)
afterEach(async () => {
  if (!svc) return;
  for (const name of ['api', 'worker', 'simulator'] as ServiceName[]) {
    const child = svc.proc[name]?.child;
    if (child && (child.exitCode !== null || child.signalCode !== null)) await svc.start(name);
  }
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb?.();
});

/** A new worker takes a task the killed one held once its (sticky queue's) timeout passes. */
const recovery = { timeout: 40_000, interval: 200 };

async function merchant() {
  const { merchant: m, apiKey } = await stores.merchants.create(`Faulted ${uid()}`, MERCHANT_SETTINGS);
  return { id: m.id, key: apiKey };
}

describe('holds and disputes under faults', () => {
  it('a capture asked for while the worker is SIGKILLed is made once a worker is back: captured once, posted once', async () => {
    const m = await merchant();
    const token = await tokenizeCard(svc.processor, '4000056655665556');
    const placed = await call(svc.base, '/holds', { key: m.key, idem: uid('h-'), body: { token, amountMinor: 9000, expiresInSeconds: 3600 } });
    expect(placed.body.state).toBe('active');
    await svc.kill('worker');
    const idem = uid('cap-');
    // (no worker: the API answers the hold as it stands after its wait, the capture still asked)
    const asked = await call(svc.base, `/holds/${placed.body.id}/capture`, { key: m.key, idem, body: { amountMinor: 4000 } });
    expect(asked.status).toBe(200);
    expect(asked.body.capturedMinor).toBe(0);
    await svc.start('worker');
    const done = await vi.waitFor(async () => {
      const h = (await call(svc.base, `/holds/${placed.body.id}`, { key: m.key })).body;
      expect(h.capturedMinor).toBe(4000);
      return h;
    }, recovery);
    expect(done.captures).toHaveLength(1);
    const reservation = await svc.processor.getReservation(placed.body.reservationId);
    expect(reservation).toMatchObject({ capturedMinor: 4000, status: 'active' });
    expect(await svc.admin.capturesByReservation(placed.body.reservationId)).toHaveLength(1);
    expect(await db('journal_entries').where({ idempotency_key: `capture:${done.captures[0].id}` }).count().first()).toEqual({ count: '1' });
  });

  it('a dispute notified while the API is SIGKILLed arrives with the redelivery: one dispute, one withdrawal', async () => {
    const m = await merchant();
    const token = await tokenizeCard(svc.processor, '4000056655665556');
    const placed = await call(svc.base, '/holds', { key: m.key, idem: uid('h-'), body: { token, amountMinor: 5000, expiresInSeconds: 3600 } });
    const captured = await call(svc.base, `/holds/${placed.body.id}/capture`, { key: m.key, idem: uid('cap-'), body: {} });
    const captureId = captured.body.captures[0].id;
    await svc.kill('api');
    const dispute = await svc.admin.openDispute(captureId, { reason: 'fraudulent' });
    // (the processor tries, and fails, while the API is down)
    await vi.waitFor(async () => expect((await svc.admin.webhookEvents(dispute.id))[0]?.attempts).toBeGreaterThan(0), { timeout: 15_000, interval: 100 });
    await svc.start('api');
    const shown = await vi.waitFor(async () => {
      const d = await call(svc.base, `/disputes/${dispute.id}`, { key: m.key });
      expect(d.status).toBe(200);
      return d.body;
    }, recovery);
    expect(shown).toMatchObject({ state: 'needs_response', holdId: placed.body.id, amountMinor: 5000 });
    await vi.waitFor(async () => expect(await db('journal_entries').where({ idempotency_key: `dispute:${dispute.id}:opened` }).count().first())
      .toEqual({ count: '1' }), recovery);
    expect(await db('disputes').where({ capture_id: captureId }).count().first()).toEqual({ count: '1' });
  });
});
