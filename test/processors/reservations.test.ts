// The processor simulator as the card's issuer, over real HTTP and PostgreSQL: balances of debit and prepaid cards,
// reservations (holds) placed, declined, captured in parts, extended, released and expired (by time, lazily and by the
// sweep, and early by the issuer), the processor's fee on every capture (lower with line items), idempotent replays,
// the constraints the tables enforce themselves, and a database from before all this upgraded in place.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb } from '../../ledger/db';
import { MAX_LINE_ITEMS, MAX_RESERVATION_SECONDS, type LineItem, type Reservation } from '../../processors/client';
import { HttpProcessorClient, type SimulatorAdmin } from '../../processors/http-client';
import { captureFeeMinor } from '../../processors/simulator/fees';
import { SIM_SCHEMA, simulatorMigrationSource } from '../../processors/simulator/migrations';
import { MIN_RESERVATION_SECONDS } from '../../processors/simulator/reservations';
import { startSimulator, TEST_CARDS, type RunningSimulator } from '../../processors/simulator/server';
import { testDb, uid } from '../support/env';
import { effectsOf as effectsAt, key, openSimulator, postRaw, rejected, testCard as card } from '../support/processor-calls';

let sim: RunningSimulator;
let client: HttpProcessorClient;
let admin: SimulatorAdmin;
const db = testDb(2);

beforeAll(async () => {
  ({ sim, client, admin } = await openSimulator(5_000));
});
afterAll(async () => {
  await sim?.stop();
  await db.destroy();
});

const DEBIT = '4000056655665556';
const PREPAID = '5105105105105100';
const VISA = '4242424242424242';
const HOUR = 3600;

const tokenOf = async (number: string, c = client) => (await c.tokenize(card(number), key())).token;
const effectsOf = (fn: () => Promise<unknown>) => effectsAt(admin, fn);
const reserveOn = (token: string, amountMinor: number, extra: { currency?: string; expiresInSeconds?: number; c?: HttpProcessorClient } = {}) =>
  (extra.c ?? client).reserve({ token, amountMinor, currency: extra.currency ?? 'USD', reference: uid('hold-'), expiresInSeconds: extra.expiresInSeconds ?? HOUR }, key());
const available = async (token: string) => (await client.balance(token)).availableMinor;

/** Moves a reservation's expiry into the past, as time passing would. */
const passExpiry = (id: string) => db(`${SIM_SCHEMA}.reservations`).where({ id }).update({ expires_at: db.raw("now() - interval '1 second'") });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('balances', () => {
  it('answers the debit (50000 USD) and prepaid (10000 USD) test cards, each token its own balance', async () => {
    expect(TEST_CARDS[DEBIT].funds).toEqual({ kind: 'debit', initialMinor: 50_000, currency: 'USD' });
    const debit = await tokenOf(DEBIT);
    expect(await client.balance(debit)).toEqual({ token: debit, kind: 'debit', availableMinor: 50_000, currency: 'USD' });
    const prepaid = await tokenOf(PREPAID);
    expect(await client.balance(prepaid)).toEqual({ token: prepaid, kind: 'prepaid', availableMinor: 10_000, currency: 'USD' });
    await reserveOn(debit, 1_000);
    expect(await available(debit)).toBe(49_000);
    expect(await available(await tokenOf(DEBIT))).toBe(50_000);
  });

  it('refuses a credit card (409 balance_not_available) and an unknown token (404)', async () => {
    await rejected(client.balance(await tokenOf(VISA)), 'balance_not_available', 409);
    await rejected(client.balance('tok_doesnotexist'), 'resource_missing', 404);
  });

  it('lets the admin API set a balance, and refuses it for a credit card', async () => {
    const debit = await tokenOf(DEBIT);
    expect(await admin.setBalance(debit, 123)).toMatchObject({ availableMinor: 123, kind: 'debit' });
    expect(await available(debit)).toBe(123);
    await expect(admin.setBalance(await tokenOf(VISA), 1)).rejects.toThrow(/409/);
    await expect(admin.setBalance(debit, -1)).rejects.toThrow(/400/);
  });
});

describe('reservations', () => {
  it('places one on a debit card: taken from the balance, active until its expiry', async () => {
    const debit = await tokenOf(DEBIT);
    let r!: Reservation;
    const d = await effectsOf(async () => { r = await reserveOn(debit, 20_000, { expiresInSeconds: 2 * HOUR }); });
    expect(r).toMatchObject({ status: 'active', amountMinor: 20_000, currency: 'USD', capturedMinor: 0, releasedMinor: 0 });
    expect(r.id).toMatch(/^rsv_/);
    expect(r.declineCode).toBeUndefined();
    expect(Date.parse(r.expiresAt!) - Date.now()).toBeGreaterThan(2 * HOUR * 1000 - 60_000);
    expect(Date.parse(r.expiresAt!) - Date.now()).toBeLessThanOrEqual(2 * HOUR * 1000);
    expect(d).toMatchObject({ reservations: 1, placedReservations: 1 });
    expect(await available(debit)).toBe(30_000);
    expect(await client.getReservation(r.id)).toEqual(r);
    expect(await client.getTransaction(r.id)).toMatchObject({ object: 'reservation', id: r.id, token: debit, extensions: 0 });
    expect(await client.getReservation('rsv_doesnotexist')).toBeUndefined();
  });

  it('declines insufficient_funds past the balance and reserves nothing; the whole balance is reservable', async () => {
    const prepaid = await tokenOf(PREPAID);
    const d = await effectsOf(async () => {
      const r = await reserveOn(prepaid, 10_001);
      expect(r).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds', capturedMinor: 0, releasedMinor: 0 });
      expect(r.expiresAt).toBeUndefined();
    });
    expect(d).toMatchObject({ reservations: 1, placedReservations: 0 });
    expect(await available(prepaid)).toBe(10_000);
    expect((await reserveOn(prepaid, 10_000)).status).toBe('active');
    expect(await available(prepaid)).toBe(0);
    expect(await reserveOn(prepaid, 1)).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
  });

  it("declines with the card's decision: its decline code, expired_card, invalid_token, authentication_required, currency_mismatch", async () => {
    const cases: Array<[string, string]> = [
      ['4000000000000002', 'card_declined'], ['4000000000009995', 'insufficient_funds'], ['4000000000000069', 'expired_card'],
      ['4000002760003184', 'authentication_required'],
    ];
    for (const [number, code] of cases) expect(await reserveOn(await tokenOf(number), 100), number).toMatchObject({ status: 'declined', declineCode: code });
    expect(await reserveOn('tok_doesnotexist', 100)).toMatchObject({ status: 'declined', declineCode: 'invalid_token' });
    const debit = await tokenOf(DEBIT);
    expect(await reserveOn(debit, 100, { currency: 'EUR' })).toMatchObject({ status: 'declined', declineCode: 'currency_mismatch' });
    expect(await available(debit)).toBe(50_000);
  });

  it('places one on a credit card whatever its amount (a credit line: no balance is taken)', async () => {
    const visa = await tokenOf(VISA);
    expect(await reserveOn(visa, 10_000_000, { currency: 'EUR' })).toMatchObject({ status: 'active', currency: 'EUR' });
  });

  it('captures in parts, then a release gives the rest back to the balance and ends it', async () => {
    const debit = await tokenOf(DEBIT);
    const r = await reserveOn(debit, 10_000);
    const c1 = await client.captureReservation(r.id, 3_000, key());
    expect(c1).toMatchObject({ reservationId: r.id, amountMinor: 3_000, currency: 'USD', feeMinor: captureFeeMinor(3_000, false) });
    expect(c1.id).toMatch(/^cap_/);
    await client.captureReservation(r.id, 2_000, key());
    expect(await client.getReservation(r.id)).toMatchObject({ status: 'active', capturedMinor: 5_000 });
    expect(await available(debit)).toBe(40_000);
    let released!: Reservation;
    const d = await effectsOf(async () => { released = await client.releaseReservation(r.id, key()); });
    expect(d).toMatchObject({ reservationReleases: 1 });
    expect(released).toMatchObject({ status: 'released', capturedMinor: 5_000, releasedMinor: 5_000 });
    expect(released.endedAt).toBeDefined();
    expect(await available(debit)).toBe(45_000);
    await rejected(client.captureReservation(r.id, 1, key()), 'reservation_ended', 409);
    await rejected(client.extendReservation(r.id, HOUR, key()), 'reservation_ended', 409);
    // released again: answered as it stands, nothing more given back
    expect(await client.releaseReservation(r.id, key())).toEqual(released);
    expect(await available(debit)).toBe(45_000);
    expect((await admin.capturesByReservation(r.id)).map((c) => c.amountMinor)).toEqual([3_000, 2_000]);
    // a capture of a reservation is refundable like any other
    expect(await client.refund(c1.id, 3_000, key())).toMatchObject({ captureId: c1.id, amountMinor: 3_000 });
  });

  it('refuses one minor unit more than is left (409 over_capture); capturing all that is left ends it captured', async () => {
    const debit = await tokenOf(DEBIT);
    const r = await reserveOn(debit, 5_000);
    await client.captureReservation(r.id, 4_000, key());
    await rejected(client.captureReservation(r.id, 1_001, key()), 'over_capture', 409);
    await client.captureReservation(r.id, 1_000, key());
    const done = await client.getReservation(r.id);
    expect(done).toMatchObject({ status: 'captured', capturedMinor: 5_000, releasedMinor: 0 });
    expect(done!.endedAt).toBeDefined();
    expect(await client.releaseReservation(r.id, key())).toMatchObject({ status: 'captured', releasedMinor: 0 });
    expect(await available(debit)).toBe(45_000);
    await rejected(client.captureReservation(r.id, 1, key()), 'reservation_ended', 409);
  });

  it('refuses to capture a declined one (409 reservation_declined) or an unknown one (404), and answers a declined one released as it stands', async () => {
    const declined = await reserveOn(await tokenOf('4000000000000002'), 100);
    await rejected(client.captureReservation(declined.id, 100, key()), 'reservation_declined', 409);
    expect(await client.releaseReservation(declined.id, key())).toEqual(declined);
    await rejected(client.captureReservation('rsv_doesnotexist', 100, key()), 'resource_missing', 404);
  });

  it(`takes ${MIN_RESERVATION_SECONDS} s to ${MAX_RESERVATION_SECONDS} s (7 days) and refuses one second less or more (400)`, async () => {
    const visa = await tokenOf(VISA);
    expect((await reserveOn(visa, 100, { expiresInSeconds: MIN_RESERVATION_SECONDS })).status).toBe('active');
    expect((await reserveOn(visa, 100, { expiresInSeconds: MAX_RESERVATION_SECONDS })).status).toBe('active');
    await rejected(reserveOn(visa, 100, { expiresInSeconds: MIN_RESERVATION_SECONDS - 1 }), 'parameter_invalid', 400);
    await rejected(reserveOn(visa, 100, { expiresInSeconds: MAX_RESERVATION_SECONDS + 1 }), 'parameter_invalid', 400);
  });

  it('extends an active one up to 7 days after it was placed, and refuses beyond (409 extension_too_long)', async () => {
    const r = await reserveOn(await tokenOf(VISA), 100, { expiresInSeconds: HOUR });
    const longer = await client.extendReservation(r.id, MAX_RESERVATION_SECONDS - HOUR, key());
    expect(Date.parse(longer.expiresAt!) - Date.parse(r.expiresAt!)).toBeGreaterThan((MAX_RESERVATION_SECONDS - 2 * HOUR) * 1000 - 60_000);
    // placed a moment ago: 7 days from now is past 7 days from its placement
    await rejected(client.extendReservation(r.id, MAX_RESERVATION_SECONDS, key()), 'extension_too_long', 409);
    await rejected(client.extendReservation(r.id, MAX_RESERVATION_SECONDS + 1, key()), 'parameter_invalid', 400);
    const shorter = await client.extendReservation(r.id, 60, key());
    expect(Date.parse(shorter.expiresAt!)).toBeLessThan(Date.parse(longer.expiresAt!));
    expect(await client.getTransaction(r.id)).toMatchObject({ extensions: 2, status: 'active' });
    await rejected(client.extendReservation('rsv_doesnotexist', HOUR, key()), 'resource_missing', 404);
  });

  it('expires by time (the sweep): the funds go back to the balance, and nothing more can be captured', async () => {
    const debit = await tokenOf(DEBIT);
    const r = await reserveOn(debit, 8_000);
    await client.captureReservation(r.id, 3_000, key());
    await passExpiry(r.id);
    const expired = await until('the sweep', async () => {
      const row = await db(`${SIM_SCHEMA}.reservations`).where({ id: r.id }).first();
      return row.status === 'expired' ? row : undefined;
    });
    expect(Number(expired.released_minor)).toBe(5_000);
    expect(await available(debit)).toBe(47_000);
    expect(await client.getReservation(r.id)).toMatchObject({ status: 'expired', capturedMinor: 3_000, releasedMinor: 5_000 });
    await rejected(client.captureReservation(r.id, 1, key()), 'reservation_ended', 409);
  });

  it('expires a due one when it is next touched, even with no sweep running (capture refused reservation_ended, funds back)', async () => {
    // a simulator whose own sweep never runs during the test (another process's sweep may still be first)
    const idle = await startSimulator({ databaseUrl: inject('databaseUrl'), port: 0, adminPort: 0, pumpIntervalMs: 3_600_000 });
    try {
      const c = new HttpProcessorClient({ baseUrl: idle.url });
      const debit = await tokenOf(DEBIT, c);
      const r = await reserveOn(debit, 9_000, { c });
      const other = await reserveOn(debit, 1_000, { c });
      await passExpiry(r.id);
      await rejected(c.captureReservation(r.id, 100, key()), 'reservation_ended', 409);
      expect(await c.getReservation(r.id)).toMatchObject({ status: 'expired', releasedMinor: 9_000 });
      await passExpiry(other.id);
      expect((await c.balance(debit)).availableMinor).toBe(50_000);
      expect(await c.getReservation(other.id)).toMatchObject({ status: 'expired', releasedMinor: 1_000 });
    } finally {
      await idle.stop();
    }
  });

  it('lets the issuer expire a hold early (admin): the rest goes back; an ended one is refused', async () => {
    const debit = await tokenOf(DEBIT);
    const r = await reserveOn(debit, 6_000);
    await client.captureReservation(r.id, 1_000, key());
    const d = await effectsOf(async () => {
      expect(await admin.expireReservation(r.id)).toMatchObject({ status: 'expired', capturedMinor: 1_000, releasedMinor: 5_000 });
    });
    expect(d).toMatchObject({ reservationExpiries: 1 });
    expect(await available(debit)).toBe(49_000);
    await expect(admin.expireReservation(r.id)).rejects.toThrow(/409.*reservation_ended/);
    await expect(admin.expireReservation('rsv_doesnotexist')).rejects.toThrow(/404/);
  });

  it('replays each call repeated with its key: one reservation, one capture, one release', async () => {
    const debit = await tokenOf(DEBIT);
    const req = { token: debit, amountMinor: 7_000, currency: 'USD', reference: uid('hold-'), expiresInSeconds: HOUR };
    const k = key();
    const r = await client.reserve(req, k);
    const again = await raw('/v1/reservations', req, k);
    expect([again.status, again.headers.get('idempotent-replayed'), again.body.id]).toEqual([201, 'true', r.id]);
    await rejected(client.reserve({ ...req, amountMinor: 7_001 }, k), 'idempotency_key_reused', 422);
    const ck = key();
    const c = await client.captureReservation(r.id, 2_000, ck);
    expect((await client.captureReservation(r.id, 2_000, ck)).id).toBe(c.id);
    const rk = key();
    await client.releaseReservation(r.id, rk);
    expect(await client.releaseReservation(r.id, rk)).toMatchObject({ status: 'released', releasedMinor: 5_000 });
    expect(await available(debit)).toBe(48_000);
    expect(await admin.reservationsByReference(req.reference)).toHaveLength(1);
  });

  it('refuses a reservation without an Idempotency-Key, with an unknown field, or a bad currency (400)', async () => {
    const body = { token: 'tok_x', amountMinor: 100, currency: 'USD', reference: 'r', expiresInSeconds: HOUR };
    expect((await postRaw(sim.url, '/v1/reservations', { body: JSON.stringify(body) })).body.error.code).toBe('idempotency_key_missing');
    expect((await raw('/v1/reservations', { ...body, extra: 1 }, key())).body.error.code).toBe('unknown_parameter');
    expect((await raw('/v1/reservations', { ...body, currency: 'usd' }, key())).body.error.code).toBe('parameter_invalid');
  });
});

const raw = (path: string, body: unknown, idem: string) => postRaw(sim.url, path, { body: JSON.stringify(body), idem });

describe('fees and line items', () => {
  const item = (over: Partial<LineItem> = {}): LineItem =>
    ({ productCode: 'SKU-1', description: 'Widget', quantity: 2, unitAmountMinor: 500, taxMinor: 80, ...over });

  it('computes 2.9% + 30, or 1.9% + 30 with line items, rounding half up', () => {
    expect(captureFeeMinor(1_000, false)).toBe(59);
    expect(captureFeeMinor(1_000, true)).toBe(49);
    expect(captureFeeMinor(500, false)).toBe(45); // 14.5 → 15
    expect(captureFeeMinor(150, false)).toBe(34); // 4.35 → 4
    expect(captureFeeMinor(50, true)).toBe(31); // 0.95 → 1
    expect(captureFeeMinor(Number.MAX_SAFE_INTEGER, false)).toBe(Number((BigInt(Number.MAX_SAFE_INTEGER) * 290n + 5_000n) / 10_000n) + 30);
  });

  it('charges the standard fee on a capture without line items and the lower one with them, and keeps the lines', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const a = await client.authorize({ token, amountMinor: 5_000, currency: 'USD', postalCode: '1', reference: uid() }, key());
    expect(await client.capture(a.id, 1_000, key())).toMatchObject({ amountMinor: 1_000, feeMinor: 59, authorizationId: a.id });
    const lines = [item(), item({ productCode: 'SKU-2', quantity: 1, unitAmountMinor: 0, taxMinor: undefined })];
    const c = await client.capture(a.id, 1_000, key(), lines);
    expect(c.feeMinor).toBe(49);
    expect(await client.getTransaction(c.id)).toMatchObject({ feeMinor: 49, lineItems: [item(), { productCode: 'SKU-2', quantity: 1, unitAmountMinor: 0 }] });
    const r = await reserveOn(await tokenOf(DEBIT), 3_000);
    expect((await client.captureReservation(r.id, 3_000, key(), [item({ quantity: 3, unitAmountMinor: 1_000 })])).feeMinor).toBe(captureFeeMinor(3_000, true));
  });

  it('refuses line items that do not add up to the amount (400 line_items_mismatch), with nothing captured', async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const a = await client.authorize({ token, amountMinor: 5_000, currency: 'USD', postalCode: '1', reference: uid() }, key());
    await rejected(client.capture(a.id, 1_001, key(), [item()]), 'line_items_mismatch', 400);
    const r = await reserveOn(await tokenOf(DEBIT), 3_000);
    await rejected(client.captureReservation(r.id, 999, key(), [item()]), 'line_items_mismatch', 400);
    expect(await client.getTransaction(a.id)).toMatchObject({ capturedMinor: 0 });
    expect(await client.getReservation(r.id)).toMatchObject({ capturedMinor: 0 });
  });

  it(`takes 1 to ${MAX_LINE_ITEMS} line items within their bounds, and refuses none, one more, or a field out of bounds (400)`, async () => {
    const { token } = await client.tokenize(card(VISA), key());
    const a = await client.authorize({ token, amountMinor: 1_000_000, currency: 'USD', postalCode: '1', reference: uid() }, key());
    const many = Array.from({ length: MAX_LINE_ITEMS }, (_, i) => item({ productCode: 'X'.repeat(26), description: 'd'.repeat(100), quantity: 1, unitAmountMinor: 10, taxMinor: i }));
    expect((await client.capture(a.id, 10 * MAX_LINE_ITEMS, key(), many)).feeMinor).toBe(captureFeeMinor(10 * MAX_LINE_ITEMS, true));
    await rejected(client.capture(a.id, 10 * (MAX_LINE_ITEMS + 1), key(), [...many, item({ quantity: 1, unitAmountMinor: 10 })]), 'parameter_invalid', 400);
    await rejected(client.capture(a.id, 1, key(), []), 'parameter_invalid', 400);
    const bad: Array<Partial<LineItem>> = [
      { productCode: '' }, { productCode: 'X'.repeat(27) }, { description: '' }, { description: 'd'.repeat(101) },
      { quantity: 0 }, { quantity: 10_001 }, { unitAmountMinor: -1 }, { taxMinor: -1 }, { quantity: 1.5 },
    ];
    for (const b of bad) await rejected(client.capture(a.id, 1_000, key(), [item(b)]), 'parameter_invalid', 400);
    const max = item({ quantity: 10_000, unitAmountMinor: 1 });
    expect((await client.capture(a.id, 10_000, key(), [max])).amountMinor).toBe(10_000);
  });
});

describe('the tables enforce the rules themselves', () => {
  const violates = async (what: Promise<unknown>, constraint: RegExp) => {
    await expect(what).rejects.toMatchObject({ code: '23514' });
    await expect(what).rejects.toThrow(constraint);
  };

  it('a balance never negative, a reservation never capturing and giving back more than it holds, held 7 days at most, a capture of one thing', async () => {
    const debit = await tokenOf(DEBIT);
    await violates(db(`${SIM_SCHEMA}.card_tokens`).where({ token: debit }).update({ available_minor: -1 }), /available_minor_check/);
    const r = await reserveOn(debit, 1_000);
    const rows = db(`${SIM_SCHEMA}.reservations`).where({ id: r.id });
    await violates(rows.clone().update({ captured_minor: 1_001 }), /reservations_within_amount_check/);
    await violates(rows.clone().update({ status: 'released', ended_at: db.fn.now() }), /reservations_settled_check/);
    await violates(rows.clone().update({ expires_at: db.raw("created_at + interval '7 days 1 second'") }), /reservations_max_hold_check/);
    await violates(db(`${SIM_SCHEMA}.card_tokens`).where({ token: debit }).update({ balance_currency: null }), /card_tokens_balance_check/);
    const { id: authorizationId } = await client.authorize({ token: debit, amountMinor: 100, currency: 'USD', postalCode: '1', reference: uid() }, key());
    await violates(db(`${SIM_SCHEMA}.captures`).insert({ id: uid('cap_'), authorization_id: authorizationId, reservation_id: r.id, amount_minor: 1, currency: 'USD' }),
      /captures_of_one_check/);
    await violates(db(`${SIM_SCHEMA}.captures`).insert({ id: uid('cap_'), reservation_id: r.id, amount_minor: 1, currency: 'USD', fee_minor: -1 }),
      /captures_fee_minor_check/);
  });
});

describe('schema upgrade', () => {
  it('upgrades a database at 004 in place: its captures keep working (no fee shown), its tokens have no balance, new captures carry fees', async () => {
    const main = testDb(1);
    const name = uid('simupgrade_');
    await main.raw(`CREATE DATABASE ${name}`);
    const url = inject('databaseUrl').replace(/\/[^/]*$/, `/${name}`);
    try {
      const old = createDb(url);
      try {
        await old.raw(`CREATE SCHEMA ${SIM_SCHEMA}`);
        const config = { migrationSource: simulatorMigrationSource, tableName: 'processor_sim_migrations', schemaName: SIM_SCHEMA };
        for (let i = 0; i < 4; i++) await old.migrate.up(config);
        await old.raw(`INSERT INTO ${SIM_SCHEMA}.card_tokens (token, last4, brand, exp_month, exp_year) VALUES ('tok_old', '5556', 'visa', 12, 2099)`);
        await old(`${SIM_SCHEMA}.authorizations`).insert({
          id: 'auth_old', token: 'tok_old', amount_minor: 1_000, currency: 'USD', postal_code: '12345', reference: 'order-old',
          status: 'approved', avs_code: 'Y', expires_at: old.raw("now() + interval '1 day'"), captured_minor: 400,
        });
        await old(`${SIM_SCHEMA}.captures`).insert({ id: 'cap_old', authorization_id: 'auth_old', amount_minor: 400, currency: 'USD' });
      } finally {
        await old.destroy();
      }
      const upgraded = await startSimulator({ databaseUrl: url, port: 0, adminPort: 0 });
      try {
        const c = new HttpProcessorClient({ baseUrl: upgraded.url });
        const oldCapture = await c.getTransaction('cap_old');
        expect(oldCapture).toMatchObject({ authorizationId: 'auth_old', amountMinor: 400 });
        expect(oldCapture).not.toHaveProperty('feeMinor');
        expect(await c.refund('cap_old', 400, key())).toMatchObject({ amountMinor: 400 });
        await rejected(c.balance('tok_old'), 'balance_not_available', 409);
        expect((await c.capture('auth_old', 600, key())).feeMinor).toBe(captureFeeMinor(600, false));
        const debit = (await c.tokenize(card(DEBIT), key())).token;
        const r = await c.reserve({ token: debit, amountMinor: 100, currency: 'USD', reference: 'x', expiresInSeconds: HOUR }, key());
        expect((await c.captureReservation(r.id, 100, key())).feeMinor).toBe(captureFeeMinor(100, false));
      } finally {
        await upgraded.stop();
      }
    } finally {
      await main.raw(`DROP DATABASE ${name} WITH (FORCE)`);
      await main.destroy();
    }
  });
});
