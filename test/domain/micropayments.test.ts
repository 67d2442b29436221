// Settlement arithmetic of micro-payments: the broker's fee, what sellers are credited and buyers invoiced, and
// the money that must be conserved between them; period and payment ids.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { microFee, paymentId, paymentNumber, periodId, periodSeq } from '../../domain/micropayments';
import { dayKey, withinCap } from '../../domain/rules';
import { buyerInvoice, sellerCredit } from '../../domain/settlement';

describe('the broker fee on a micro-payment', () => {
  it('rounds half up and is never more than the amount', () => {
    expect(microFee(5, 1000)).toBe(1); // 0.5 → 1
    expect(microFee(4, 1000)).toBe(0); // 0.4 → 0
    expect(microFee(1, 10_000)).toBe(1);
    expect(microFee(120, 250)).toBe(3);
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 10_000 }), (amount, bps) => {
      const fee = microFee(amount, bps);
      expect(fee).toBeGreaterThanOrEqual(0);
      expect(fee).toBeLessThanOrEqual(amount);
      expect(Math.abs(fee * 10_000 - amount * bps)).toBeLessThanOrEqual(5_000); // within half a minor unit
    }));
  });

  it('refuses amounts and rates that are not integers in range', () => {
    for (const [a, b] of [[0, 100], [-1, 100], [1.5, 100], [10, -1], [10, 10_001], [10, 2.5]]) expect(() => microFee(a, b)).toThrow(RangeError);
  });
});

describe('a period\'s invoices and credits', () => {
  const payment = fc.record({ buyer: fc.integer({ min: 0, max: 9 }), seller: fc.integer({ min: 0, max: 4 }),
    amount: fc.integer({ min: 1, max: 500 }), refunded: fc.boolean() });

  it('conserve money: what buyers are invoiced is what sellers are credited plus the broker\'s net fees', () => {
    fc.assert(fc.property(fc.array(payment, { maxLength: 200 }), fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 5, maxLength: 5 }),
      fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 5, maxLength: 5 }), (ps, feeBps, card) => {
        const buyers = new Map<number, { gross: bigint; refunded: bigint }>();
        const sellers = new Map<number, { salesMinor: bigint; feeMinor: bigint; refundedMinor: bigint; refundedFeeMinor: bigint; cardNetMinor: bigint }>();
        let netFees = 0n;
        for (const p of ps) {
          const fee = BigInt(microFee(p.amount, feeBps[p.seller]));
          const b = buyers.get(p.buyer) ?? { gross: 0n, refunded: 0n };
          b.gross += BigInt(p.amount);
          if (p.refunded) b.refunded += BigInt(p.amount);
          buyers.set(p.buyer, b);
          const s = sellers.get(p.seller) ?? { salesMinor: 0n, feeMinor: 0n, refundedMinor: 0n, refundedFeeMinor: 0n, cardNetMinor: 0n };
          s.salesMinor += BigInt(p.amount);
          s.feeMinor += fee;
          if (p.refunded) { s.refundedMinor += BigInt(p.amount); s.refundedFeeMinor += fee; } else netFees += fee;
          sellers.set(p.seller, s);
        }
        const invoiced = [...buyers.values()].reduce((a, b) => a + buyerInvoice(b.gross, b.refunded), 0n);
        const credited = [...sellers.values()].reduce((a, s) => a + sellerCredit(s), 0n);
        expect(invoiced).toBe(credited + netFees);
        // card-order captures add to a seller's credit one for one
        const withCard = [...sellers.entries()].reduce((a, [i, s]) => a + sellerCredit({ ...s, cardNetMinor: BigInt(card[i]) }), 0n);
        expect(withCard - credited).toBe([...sellers.keys()].reduce((a, i) => a + BigInt(card[i]), 0n));
      }));
  });

  it('a cap applied payment by payment in any order never lets the total pass it', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 100 }), fc.integer({ min: 0, max: 2000 }), (amounts, cap) => {
      let spent = 0;
      for (const a of amounts) if (withinCap(spent, a, cap)) spent += a;
      expect(spent).toBeLessThanOrEqual(cap);
      // and nothing that still fitted was refused: every refused amount would have passed the cap
      let again = 0;
      for (const a of amounts) {
        if (withinCap(again, a, cap)) again += a;
        else expect(again + a).toBeGreaterThan(cap);
      }
    }));
  });
});

describe('ids and windows', () => {
  it('round-trip period and payment ids, and refuse malformed ones', () => {
    expect(periodSeq(periodId(42))).toBe(42);
    expect(paymentNumber(paymentId(123n))).toBe('123');
    for (const bad of ['sp_0', 'sp_01', 'sp_x', 'sp_', 'sp_1234567890']) expect(periodSeq(bad)).toBeUndefined();
    for (const bad of ['mp_0', 'mp_-1', 'mp_1e3', 'x_1']) expect(paymentNumber(bad)).toBeUndefined();
  });

  it('counts per-day caps by UTC day', () => {
    expect(dayKey(Date.parse('2026-11-22T23:59:59.999Z'))).toBe(dayKey(Date.parse('2026-11-22T00:00:00Z')));
    expect(dayKey(Date.parse('2026-11-23T00:00:00Z'))).toBe(dayKey(Date.parse('2026-11-22T00:00:00Z')) + 1);
  });
});
