// Fund holds on the real server with the real activities (the processor simulator over HTTP playing the issuer, the
// ledger in PostgreSQL), driven through the service the API uses. Each test checks what the issuer holds, what the
// processor recorded and what the books say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HoldInput, HoldView } from '../../domain/holds';
import { captureFeeMinor } from '../../processors/simulator/fees';
import type { Services } from '../../services';
import { holdWorkflowId } from '../../workflows/hold.contract';
import { testApp } from '../support/app';
import { uid } from '../support/env';
import { orderHarness, type OrderHarness } from '../support/orders';
import { CARD } from '../support/processor-calls';

const DEBIT = '4000056655665556';
const PREPAID = '5105105105105100';

let h: OrderHarness;
let services: Services;
beforeAll(async () => {
  h = await orderHarness();
  services = (await testApp(h.database, h.client, { taskQueue: h.taskQueue })).services;
});
afterAll(() => h.close());

const place = async (token: string, amountMinor: number, over: { expiresInSeconds?: number } = {}) =>
  (await services.holds.create(h.merchantId, uid('idem-'), { token, amountMinor, currency: 'USD', expiresInSeconds: over.expiresInSeconds ?? 3600 })).hold;
const row = async (id: string) => (await services.holds.hold(id))!;
const available = async (token: string) => (await h.processor.balance(token)).availableMinor;
const holdEvents = (holdId: string) => h.db('events').whereRaw(`data->>'holdId' = ?`, [holdId]).orderBy('created_at').pluck('type');
/** What the hold's captures moved on each ledger account (by the entries they posted), and whether those balance. */
async function holdLedger(holdId: string) {
  const rows: Array<{ account_id: string; total: string }> = await h.db('postings as p').join('journal_entries as e', 'e.id', 'p.entry_id')
    .whereRaw(`e.metadata->>'holdId' = ?`, [holdId]).groupBy('p.account_id').select('p.account_id').sum({ total: 'p.amount_minor' });
  const by = (prefix: string) => rows.filter((r) => r.account_id.startsWith(prefix)).reduce((s, r) => s + BigInt(r.total), 0n);
  const processorFees = by('processor-fees:');
  return { captured: by('processor-clearing:') + processorFees, merchant: by('merchant-payable:'), fees: by('broker-fees:'), processorFees,
    sum: rows.reduce((s, r) => s + BigInt(r.total), 0n) };
}
/** Starts a hold's workflow directly (a shorter life than the API allows), its row first as the service writes it. */
async function startDirect(token: string, amountMinor: number, expiresInSeconds: number): Promise<string> {
  const input: HoldInput = { holdId: uid('hold_'), merchantId: h.merchantId, customerId: null, token, amountMinor, currency: 'USD', expiresInSeconds,
    feeBps: 250, description: null };
  await h.stores.holds.claim({ merchantId: h.merchantId, idempotencyKey: uid('k-'), requestSha256: Buffer.alloc(32), input });
  await h.client.workflow.start('holdWorkflow', { workflowId: holdWorkflowId(input.holdId), taskQueue: h.taskQueue, args: [input] });
  return input.holdId;
}
const result = (holdId: string): Promise<HoldView> => h.client.workflow.getHandle(holdWorkflowId(holdId)).result();

describe('holds', () => {
  it('reserves on a debit card, captures twice, releases the rest: the balance, the processor and the ledger agree', async () => {
    const token = await h.tokenize(DEBIT);
    const hold = await place(token, 20_000);
    expect(hold).toMatchObject({ state: 'active', amountMinor: 20_000, capturedMinor: 0 });
    expect(await available(token)).toBe(30_000);
    const one = await services.holds.capture(await row(hold.id), uid('cap-'), 5000);
    expect(one).toMatchObject({ state: 'active', capturedMinor: 5000 });
    const two = await services.holds.capture(await row(hold.id), uid('cap-'), 3000);
    expect(two.captures.map((c) => c.amountMinor)).toEqual([5000, 3000]);
    const released = await services.holds.release(await row(hold.id));
    expect(released).toMatchObject({ state: 'released', capturedMinor: 8000, releasedMinor: 12_000 });
    expect(await available(token)).toBe(42_000);
    expect(await h.processor.getReservation(hold.reservationId!)).toMatchObject({ status: 'released', capturedMinor: 8000, releasedMinor: 12_000 });
    const books = await holdLedger(hold.id);
    // (the processor's fee on each capture, 2.9% + 30: the broker's cost, out of the cash the processor owes)
    expect(books).toEqual({ captured: 8000n, merchant: -(8000n - 125n - 75n), fees: -200n, processorFees: BigInt(captureFeeMinor(5000, false) + captureFeeMinor(3000, false)), sum: 0n });
    expect(await h.db('captures').where({ hold_id: hold.id }).count().first()).toEqual({ count: '2' });
    expect(await holdEvents(hold.id)).toEqual(['hold.placed', 'hold.captured', 'hold.captured', 'hold.released']);
    expect((await row(hold.id)).state).toBe('released');
  });

  it('declines a hold above the balance with insufficient_funds: nothing reserved, the balance untouched', async () => {
    const token = await h.tokenize(PREPAID);
    const hold = await place(token, 10_001);
    expect(hold).toMatchObject({ state: 'declined', failure: { code: 'insufficient_funds' }, reservationId: null });
    expect(await available(token)).toBe(10_000);
    expect(await h.admin.reservationsByReference(holdWorkflowId(hold.id))).toHaveLength(0);
    expect(await holdEvents(hold.id)).toEqual(['hold.declined']);
    const exact = await place(token, 10_000);
    expect(exact.state).toBe('active');
    expect(await available(token)).toBe(0);
  });

  it('on a credit card the issuer decides (no balance): placed; a declining card is declined with its code', async () => {
    expect((await place(await h.tokenize(CARD.approve), 50_000)).state).toBe('active');
    expect(await place(await h.tokenize(CARD.decline), 500)).toMatchObject({ state: 'declined', failure: { code: 'card_declined' } });
  });

  it('refuses a capture beyond what is left (nothing captured) and answers a repeated request key with its one capture', async () => {
    const hold = await place(await h.tokenize(DEBIT), 1000);
    await expect(services.holds.capture(await row(hold.id), uid('cap-'), 1001)).rejects.toMatchObject({ code: 'over_capture' });
    const key = uid('cap-');
    await services.holds.capture(await row(hold.id), key, 400);
    const again = await services.holds.capture(await row(hold.id), key, 400);
    expect(again.captures).toHaveLength(1);
    expect((await h.processor.getReservation(hold.reservationId!))!.capturedMinor).toBe(400);
    const rest = await services.holds.capture(await row(hold.id), uid('cap-'));
    expect(rest).toMatchObject({ state: 'captured', capturedMinor: 1000, releasedMinor: 0 });
    await expect(services.holds.capture(await row(hold.id), uid('cap-'), 1)).rejects.toMatchObject({ code: 'hold_not_active' });
    await expect(services.holds.release(await row(hold.id))).rejects.toMatchObject({ code: 'hold_not_active' });
  });

  it('two captures at once that together exceed the hold: one is taken, the other refused', async () => {
    const hold = await place(await h.tokenize(DEBIT), 1000);
    const r = await row(hold.id);
    const outcomes = await Promise.allSettled([services.holds.capture(r, uid('a-'), 700), services.holds.capture(r, uid('b-'), 700)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { code: 'over_capture' } });
    expect((await h.processor.getReservation(hold.reservationId!))!.capturedMinor).toBe(700);
  });

  it('expires by its timer: the rest goes back to the card and the merchant hears hold.expired', async () => {
    const token = await h.tokenize(DEBIT);
    const id = await startDirect(token, 2500, 2);
    const end = await result(id);
    expect(end).toMatchObject({ state: 'expired', releasedMinor: 2500, expiredEarly: false });
    expect(await available(token)).toBe(50_000);
    expect(await holdEvents(id)).toEqual(['hold.placed', 'hold.expired']);
  });

  it('the issuer ending the reservation early expires the hold early (its webhook), and a capture after it is refused', async () => {
    const token = await h.tokenize(DEBIT);
    const hold = await place(token, 4000);
    await services.holds.capture(await row(hold.id), uid('cap-'), 1000);
    await h.admin.expireReservation(hold.reservationId!);
    expect(await services.holds.issuerExpired(hold.reservationId!)).toBe(true);
    const end = await result(hold.id);
    expect(end).toMatchObject({ state: 'expired', expiredEarly: true, capturedMinor: 1000, releasedMinor: 3000 });
    expect(await available(token)).toBe(49_000);
    await expect(services.holds.capture(await row(hold.id), uid('cap-'), 1)).rejects.toMatchObject({ code: 'hold_not_active' });
  });

  it('a capture that finds the reservation ended by the issuer is refused reservation_ended, and the hold has expired early', async () => {
    const token = await h.tokenize(DEBIT);
    const hold = await place(token, 4000);
    await h.admin.expireReservation(hold.reservationId!);
    await expect(services.holds.capture(await row(hold.id), uid('cap-'), 1000)).rejects.toMatchObject({ code: 'reservation_ended' });
    expect(await result(hold.id)).toMatchObject({ state: 'expired', expiredEarly: true, capturedMinor: 0, releasedMinor: 4000 });
    expect(await holdLedger(hold.id)).toMatchObject({ sum: 0n, captured: 0n });
  });
});
