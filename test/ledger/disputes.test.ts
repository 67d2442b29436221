// Disputes in the ledger: for any sequence of captures, refunds, disputes and their ends (the issuer's decision after
// evidence, the merchant's acceptance or the deadline, a refund of a failed provisioning with the fee waived, or still
// open), booked by the real activities into the real ledger, the merchant's balance equals an independent computation
// from what each step means, disputes held holds exactly the open ones, what the next payout takes of the disputes
// equals their cost, and the trial balance is zero.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDisputeActivities } from '../../activities/disputes';
import { bookCapture, bookRefund } from '../../activities/orders';
import { Dispute, type DisputeInput, refundFeeShare } from '../../domain/disputes';
import { applyBps } from '../../domain/pricing';
import { disputesHeld } from '../../ledger/accounts';
import type { ProcessorClient } from '../../processors/client';
import { uid } from '../support/env';
import { freshDatabase } from '../support/micro';
import { MERCHANT_SETTINGS } from '../support/order-input';

/** Sequences checked, each with a merchant of its own (one database). */
const RUNS = 100;

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => { fresh = await freshDatabase(); }, 60_000);
afterAll(async () => { await fresh.drop(); });

const step = fc.oneof(
  fc.record({ kind: fc.constant('refund' as const), capture: fc.nat(), share: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('dispute' as const), capture: fc.nat(), share: fc.integer({ min: 1, max: 100 }), fee: fc.integer({ min: 0, max: 2500 }),
    end: fc.constantFrom('won', 'lost', 'accepted', 'deadline', 'refunded', 'open') }),
);
const sequence = fc.record({
  captures: fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 4 }),
  feeBps: fc.constantFrom(0, 250, 1000),
  steps: fc.array(step, { maxLength: 10 }),
});

describe('disputes in the ledger', () => {
  it(`keep the merchant's balance equal to an independent computation, and the books balanced (${RUNS} random sequences)`, async () => {
    const { db, stores } = fresh;
    // (the processor is never called by the books)
    const books = createDisputeActivities({ processor: {} as ProcessorClient, ledger: stores.ledger, orders: stores.orders, disputes: stores.disputes,
      events: { emitEvent: async () => 0 } });
    await fc.assert(fc.asyncProperty(sequence, async (s) => {
      const merchantId = (await stores.merchants.create(uid('Disputed '), { ...MERCHANT_SETTINGS, feeBps: s.feeBps })).merchant.id;
      const holdId = uid('hold_');
      await stores.holds.claim({ merchantId, idempotencyKey: holdId, requestSha256: Buffer.alloc(32), input: { holdId, merchantId, customerId: null,
        token: 'tok_x', amountMinor: 1, currency: 'USD', expiresInSeconds: 60, feeBps: s.feeBps, description: null } });
      const captures = s.captures.map((amount) => ({ id: uid('cap_'), amount, fee: applyBps(amount, s.feeBps), refunded: 0 }));
      for (const c of captures) {
        await bookCapture(stores, { captureId: c.id, merchantId, currency: 'USD', amountMinor: c.amount, feeMinor: c.fee }, { holdId });
      }
      let expected = captures.reduce((t, c) => t + c.amount - c.fee, 0);
      let heldOpen = 0;
      let disputeCost = 0;
      const refund = async (c: (typeof captures)[number], amount: number) => {
        const fee = refundFeeShare(amount, c.amount, c.fee);
        await bookRefund(stores, { refundId: uid('re_'), captureId: c.id, merchantId, currency: 'USD', amountMinor: amount, feeMinor: fee }, { holdId });
        c.refunded += amount;
        expected -= amount - fee;
      };
      for (const st of s.steps) {
        const c = captures[st.capture % captures.length];
        const amount = Math.max(1, Math.floor((c.amount * st.share) / 100));
        if (st.kind === 'refund') {
          if (c.refunded + amount <= c.amount) await refund(c, amount);
          continue;
        }
        const input: DisputeInput = { disputeId: uid('dp_'), merchantId, captureId: c.id, orderId: null, holdId, chargeId: null, invoice: null,
          amountMinor: amount, feeMinor: st.fee,
          currency: 'USD', reason: 'provisioning_failed', evidenceDueBy: new Date(Date.now() + 86_400_000).toISOString(),
          captureFeeMinor: c.fee, captureAmountMinor: c.amount };
        await stores.disputes.open(input);
        const d = new Dispute(input);
        await books.saveDispute(d.view(), 'opened', []);
        const end = st.end === 'refunded' && c.refunded + amount > c.amount ? 'lost' : st.end;
        if (end === 'open') {
          heldOpen += amount + st.fee;
          disputeCost += amount + st.fee;
          continue;
        }
        if (end === 'refunded') await refund(c, amount);
        if (end === 'won') d.submitted(new Date().toISOString());
        const status = end === 'accepted' || end === 'deadline' ? 'lost' : end;
        const charged = end === 'refunded' ? 0 : st.fee;
        d.closed(status, end === 'accepted' || end === 'deadline' ? end : end === 'refunded' ? 'refunded' : 'decided', charged, new Date().toISOString());
        await books.saveDispute(d.view(), status, []);
        // what the merchant bears in the end: lost, the amount and the fee; won, the fee; refunded, the fee charged (the refund is counted above)
        disputeCost += status === 'lost' ? amount + st.fee : status === 'won' ? st.fee : charged;
      }
      expected -= disputeCost;

      const balance = async (accountId: string) =>
        0 - Number((await db('postings').where({ account_id: accountId }).sum({ s: 'amount_minor' }).first())?.s ?? 0);
      expect(await balance(`merchant-payable:${merchantId}:USD`)).toBe(expected);
      expect(await balance(disputesHeld(merchantId, 'USD').id)).toBe(heldOpen);
      const moved = await db('dispute_movements').where({ merchant_id: merchantId }).sum({ s: 'amount_minor' }).first();
      expect(0 - Number(moved?.s ?? 0)).toBe(disputeCost);
      const { rows: [tb] } = await db.raw('SELECT coalesce(sum(amount_minor), 0) AS s FROM postings') as { rows: Array<{ s: string }> };
      expect(tb.s).toBe('0');
    }), { numRuns: RUNS });
  }, 240_000);
});
