// A dispute's rules: evidence drafts and their bounds, what the merchant may still do and until when, the reminders
// before the deadline, the dispute's transitions, and the ledger's arithmetic of each step (balanced, and what the
// merchant bears in the end).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chargeDisputePostings, Dispute, DisputeError, type DisputeInput, disputePostings, EVIDENCE_REMINDERS_MS, MAX_EVIDENCE_REFERENCE_CHARS, MAX_EVIDENCE_TEXT_CHARS,
  MAX_EVIDENCE_TOTAL_CHARS, mergeEvidence, refundFeeShare, reminderTimes,
} from '../../domain/disputes';

const DAY = 86_400_000;
const DUE = '2026-12-20T00:00:00.000Z';
const input = (over: Partial<DisputeInput> = {}): DisputeInput => ({
  disputeId: 'dp_1', merchantId: 'm1', captureId: 'cap_1', orderId: 'order-1', holdId: null, chargeId: null, invoice: null, amountMinor: 5000, feeMinor: 1500, currency: 'USD',
  reason: 'product_not_received', evidenceDueBy: DUE, captureFeeMinor: 125, captureAmountMinor: 5000, ...over,
});
const code = (fn: () => unknown) => { try { fn(); return 'none'; } catch (e) { return (e as DisputeError).code; } };

describe('evidence', () => {
  it('merges a change over the draft; an empty string removes a field', () => {
    const d = mergeEvidence({ trackingNumber: '1Z999', productDescription: 'A lamp' }, { productDescription: '', deliveryProof: 'signed by J.' });
    expect(d).toEqual({ trackingNumber: '1Z999', deliveryProof: 'signed by J.' });
  });

  it('takes text fields and references up to their limits exactly, and refuses one more character or too much in all', () => {
    expect(mergeEvidence({}, { uncategorized: 'x'.repeat(MAX_EVIDENCE_TEXT_CHARS) }).uncategorized).toHaveLength(MAX_EVIDENCE_TEXT_CHARS);
    expect(code(() => mergeEvidence({}, { uncategorized: 'x'.repeat(MAX_EVIDENCE_TEXT_CHARS + 1) }))).toBe('evidence_too_large');
    expect(mergeEvidence({}, { trackingNumber: 'T'.repeat(MAX_EVIDENCE_REFERENCE_CHARS) }).trackingNumber).toHaveLength(MAX_EVIDENCE_REFERENCE_CHARS);
    expect(code(() => mergeEvidence({}, { trackingNumber: 'T'.repeat(MAX_EVIDENCE_REFERENCE_CHARS + 1) }))).toBe('evidence_too_large');
    const near = { productDescription: 'a'.repeat(MAX_EVIDENCE_TEXT_CHARS), customerCommunication: 'b'.repeat(MAX_EVIDENCE_TEXT_CHARS) };
    const rest = MAX_EVIDENCE_TOTAL_CHARS - 2 * MAX_EVIDENCE_TEXT_CHARS;
    expect(Object.keys(mergeEvidence(near, { deliveryProof: 'c'.repeat(rest) }))).toHaveLength(3);
    expect(code(() => mergeEvidence(near, { deliveryProof: 'c'.repeat(rest + 1) }))).toBe('evidence_too_large');
  });
});

describe('a dispute', () => {
  it('takes an answer while it needs one and before the deadline, and a refund only for a failed provisioning', () => {
    const d = new Dispute(input());
    const before = Date.parse(DUE) - 1;
    expect(code(() => d.admit('submit', before))).toBe('none');
    expect(code(() => d.admit('accept', Date.parse(DUE)))).toBe('evidence_past_due');
    expect(code(() => d.admit('refund', before))).toBe('not_provisioning_failure');
    expect(code(() => new Dispute(input({ reason: 'provisioning_failed' })).admit('refund', before))).toBe('none');
    // (a period charge's is not refunded at once: there is no capture to refund)
    const charge = input({ reason: 'provisioning_failed', merchantId: null, captureId: null, orderId: null, chargeId: 'ch_1', invoice: { periodSeq: 3, buyerId: 'b1' } });
    expect(code(() => new Dispute(charge).admit('refund', before))).toBe('not_provisioning_failure');
    d.submitted('2026-12-10T00:00:00.000Z');
    expect(d.view()).toMatchObject({ state: 'under_review', evidenceSubmittedAt: '2026-12-10T00:00:00.000Z', feeChargedMinor: null });
    expect(code(() => d.admit('accept', before))).toBe('dispute_not_open');
  });

  it('closes once, with the fee finally charged', () => {
    const d = new Dispute(input());
    d.closed('won', 'decided', 1500, 'x');
    d.closed('lost', 'deadline', 0, 'y');
    expect(d.view()).toMatchObject({ state: 'won', resolution: 'decided', feeMinor: 1500, feeChargedMinor: 1500, closedAt: 'x' });
    expect(d.isClosed).toBe(true);
  });

  it('reminds 3 days and 1 day before the deadline, only of the times still ahead', () => {
    const due = Date.parse(DUE);
    expect(reminderTimes(DUE, due - 7 * DAY)).toEqual([due - 3 * DAY, due - DAY]);
    expect(reminderTimes(DUE, due - 2 * DAY)).toEqual([due - DAY]);
    expect(reminderTimes(DUE, due - DAY)).toEqual([]);
    expect(EVIDENCE_REMINDERS_MS).toEqual([3 * DAY, DAY]);
  });

  it('gives back a refund\'s share of the capture\'s fee', () => {
    expect(refundFeeShare(2500, 5000, 125)).toBe(63);
    expect(refundFeeShare(5000, 5000, 125)).toBe(125);
    expect(refundFeeShare(1, 0, 0)).toBe(0);
  });
});

describe("a dispute's postings", () => {
  it('withdraw the amount and the fee at opening; won returns the amount, refunded the amount and a waived fee, lost nothing', () => {
    expect(disputePostings('opened', 5000, 1500)).toEqual([{ account: 'merchant', amountMinor: 6500 }, { account: 'held', amountMinor: -6500 }]);
    expect(disputePostings('won', 5000, 1500)).toEqual([{ account: 'held', amountMinor: 6500 }, { account: 'merchant', amountMinor: -5000 },
      { account: 'clearing', amountMinor: -1500 }]);
    expect(disputePostings('lost', 5000, 1500)).toEqual([{ account: 'held', amountMinor: 6500 }, { account: 'clearing', amountMinor: -6500 }]);
    expect(disputePostings('refunded', 5000, 1500, 0)).toEqual([{ account: 'held', amountMinor: 6500 }, { account: 'merchant', amountMinor: -6500 }]);
  });

  it("of a period charge: the buyer's debt reopens and the fee is the broker's; won settles the debt again, lost leaves it owed", () => {
    expect(chargeDisputePostings('opened', 5000, 1500)).toEqual([{ account: 'buyer', amountMinor: 5000 }, { account: 'processorFees', amountMinor: 1500 },
      { account: 'held', amountMinor: -6500 }]);
    expect(chargeDisputePostings('won', 5000, 1500)).toEqual([{ account: 'held', amountMinor: 6500 }, { account: 'buyer', amountMinor: -5000 },
      { account: 'clearing', amountMinor: -1500 }]);
    expect(chargeDisputePostings('lost', 5000, 1500)).toEqual([{ account: 'held', amountMinor: 6500 }, { account: 'clearing', amountMinor: -6500 }]);
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000 }), fc.constantFrom('won', 'lost' as const),
      (amount, fee, end) => {
        const all = [...chargeDisputePostings('opened', amount, fee), ...chargeDisputePostings(end, amount, fee)];
        const sum = (acc: string) => all.filter((x) => x.account === acc).reduce((s, x) => s + x.amountMinor, 0);
        expect(sum('held')).toBe(0);
        expect(sum('buyer')).toBe(end === 'lost' ? amount : 0);
        expect(all.reduce((s, x) => s + x.amountMinor, 0)).toBe(0);
      }));
  });

  it('balance at every step, and leave disputes held empty once closed', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000 }), fc.constantFrom('won', 'lost', 'refunded' as const),
      fc.boolean(), (amount, fee, end, waived) => {
        const opened = disputePostings('opened', amount, fee);
        const closed = disputePostings(end, amount, fee, waived ? 0 : fee);
        for (const p of [opened, closed]) expect(p.reduce((s, x) => s + x.amountMinor, 0)).toBe(0);
        const held = [...opened, ...closed].filter((x) => x.account === 'held').reduce((s, x) => s + x.amountMinor, 0);
        expect(held).toBe(0);
      }));
  });
});
