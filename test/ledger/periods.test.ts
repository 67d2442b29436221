// A period's invoices and credits are computed in SQL over the whole period at once (ledger/periods.ts aggregate);
// the arithmetic is domain/settlement.ts's. On random periods, one after another in one database (so negative
// invoices and credits carry into later ones), the SQL's figures equal the domain functions' to the unit.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { microFee } from '../../domain/micropayments';
import { buyerInvoice, carriedInto, dueState, sellerCredit } from '../../domain/settlement';
import type { Stores } from '../../stores';
import { uid } from '../support/env';
import { freshDatabase } from '../support/micro';

/** Periods checked (each a case of its own, in one database). */
const RUNS = 200;

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let stores: Stores;
const buyers: string[] = [];
const sellers: Array<{ id: string; feeBps: number }> = [];
let orderId: string;
/** Payments of earlier periods not refunded yet: a later period may refund them. */
const refundable: Array<{ id: string; buyer: number; seller: number; amount: number; fee: number }> = [];
/** Each party's latest invoice or credit amount (the domain's own memory of what carries). */
const lastInvoice = new Map<string, bigint>();
const lastCredit = new Map<string, bigint>();

beforeAll(async () => {
  fresh = await freshDatabase();
  stores = fresh.stores;
  for (let i = 0; i < 4; i++) {
    buyers.push((await stores.parties.createBuyer({ name: `B${i}`, currency: 'USD', paymentToken: `tok_${i}` })).buyer.id);
  }
  for (const feeBps of [0, 250, 1000]) {
    sellers.push({ id: (await stores.parties.createSeller({ name: `S${feeBps}`, currency: 'USD', payoutDestination: 'acct', feeBps })).seller.id, feeBps });
  }
  orderId = uid('order-');
  await fresh.db('orders').insert({ id: orderId, merchant_id: sellers[1].id, client_order_id: orderId, customer_id: 'c',
    request_sha256: Buffer.from('x'), currency: 'USD', total_minor: 1, state: 'shipped' });
}, 60_000);
afterAll(async () => { await fresh.drop(); });

const payment = fc.record({ buyer: fc.nat({ max: 3 }), seller: fc.nat({ max: 2 }), amount: fc.integer({ min: 1, max: 500 }) });
const period = fc.record({
  payments: fc.array(payment, { maxLength: 12 }),
  /** Which of the refundable payments (earlier periods' and this one's) are refunded now, by position. */
  refunds: fc.array(fc.nat(), { maxLength: 6 }),
  captures: fc.array(fc.record({ seller: fc.nat({ max: 2 }), amount: fc.integer({ min: 1, max: 3000 }), refunded: fc.nat({ max: 100 }) }), { maxLength: 3 }),
});

describe('a period\'s invoices and credits in SQL', () => {
  it(`equal buyerInvoice, sellerCredit, carriedInto and dueState on ${RUNS} random periods in a row`, async () => {
    const { db, periods } = { db: fresh.db, periods: stores.periods };
    await fc.assert(fc.asyncProperty(period, async (p) => {
      const seq = await periods.openSeq();
      // this period's payments, then refunds of some refundable payment (an earlier period's, or this one's)
      const written = p.payments.length === 0 ? [] : await db('micro_payments').insert(p.payments.map((x, k) => ({
        period_seq: seq, buyer_id: buyers[x.buyer], seller_id: sellers[x.seller].id, item_id: 'i', client_id: `${seq}-${k}`, rule_set_id: 'rs',
        currency: 'USD', amount_minor: x.amount, fee_minor: microFee(x.amount, sellers[x.seller].feeBps), grant_seconds: 60,
      }))).returning('id');
      p.payments.forEach((x, k) => refundable.push({ id: String(written[k].id), ...x, fee: microFee(x.amount, sellers[x.seller].feeBps) }));
      const refunded = [...new Set(p.refunds.filter(() => refundable.length > 0).map((i) => i % refundable.length))]
        .sort((a, b) => b - a).map((i) => refundable.splice(i, 1)[0]);
      if (refunded.length) {
        await db('micro_refunds').insert(refunded.map((r) => ({ payment_id: r.id, period_seq: seq, buyer_id: buyers[r.buyer],
          seller_id: sellers[r.seller].id, currency: 'USD', amount_minor: r.amount, fee_minor: r.fee })));
      }
      // card-order captures of sellers, and part of each refunded (assigned to the period by the freeze)
      for (const c of p.captures) {
        const fee = microFee(c.amount, sellers[c.seller].feeBps);
        const id = uid('cap_');
        await db('captures').insert({ id, order_id: orderId, merchant_id: sellers[c.seller].id, currency: 'USD', amount_minor: c.amount, fee_minor: fee });
        const back = Math.floor((c.amount * c.refunded) / 100);
        if (back > 0) {
          await db('card_refunds').insert({ id: uid('re_'), capture_id: id, merchant_id: sellers[c.seller].id, currency: 'USD',
            amount_minor: back, fee_minor: Math.min(fee, microFee(back, sellers[c.seller].feeBps)) });
        }
      }
      await periods.freeze(seq, 'property-test');
      await periods.aggregate(seq);

      // the domain's figures from the same facts
      const expectedInvoices = new Map<string, { amount: bigint; state: string; count: number }>();
      buyers.forEach((b, i) => {
        const mine = p.payments.filter((x) => x.buyer === i);
        const back = refunded.filter((r) => r.buyer === i);
        if (mine.length === 0 && back.length === 0) return;
        const amount = buyerInvoice(BigInt(mine.reduce((s, x) => s + x.amount, 0)), BigInt(back.reduce((s, r) => s + r.amount, 0)),
          carriedInto(lastInvoice.get(b) ?? null));
        expectedInvoices.set(b, { amount, state: dueState(amount), count: mine.length });
      });
      const expectedCredits = new Map<string, { amount: bigint; state: string }>();
      sellers.forEach((s, i) => {
        const sold = p.payments.filter((x) => x.seller === i);
        const back = refunded.filter((r) => r.seller === i);
        const cards = p.captures.filter((c) => c.seller === i);
        if (sold.length === 0 && back.length === 0 && cards.length === 0) return;
        const cardNet = cards.reduce((sum, c) => {
          const fee = microFee(c.amount, s.feeBps);
          const refundedMinor = Math.floor((c.amount * c.refunded) / 100);
          const refundFee = refundedMinor > 0 ? Math.min(fee, microFee(refundedMinor, s.feeBps)) : 0;
          return sum + (c.amount - fee) - (refundedMinor - refundFee);
        }, 0);
        const amount = sellerCredit({
          salesMinor: BigInt(sold.reduce((t, x) => t + x.amount, 0)), feeMinor: BigInt(sold.reduce((t, x) => t + microFee(x.amount, s.feeBps), 0)),
          refundedMinor: BigInt(back.reduce((t, r) => t + r.amount, 0)), refundedFeeMinor: BigInt(back.reduce((t, r) => t + r.fee, 0)),
          cardNetMinor: BigInt(cardNet), carriedMinor: carriedInto(lastCredit.get(s.id) ?? null),
        });
        expectedCredits.set(s.id, { amount, state: dueState(amount) });
      });

      const invoices = await db('invoices').where({ period_seq: seq }).select('buyer_id', 'amount_minor', 'state', 'payment_count');
      const credits = await db('seller_credits').where({ period_seq: seq }).select('seller_id', 'amount_minor', 'state');
      expect(new Map(invoices.map((r) => [r.buyer_id as string,
        { amount: BigInt(r.amount_minor), state: r.state as string, count: r.payment_count as number }]))).toEqual(expectedInvoices);
      expect(new Map(credits.map((r) => [r.seller_id as string, { amount: BigInt(r.amount_minor), state: r.state as string }])))
        .toEqual(expectedCredits);
      for (const [b, x] of expectedInvoices) lastInvoice.set(b, x.amount);
      for (const [s, x] of expectedCredits) lastCredit.set(s, x.amount);
    }), { numRuns: RUNS, seed: 20261206, endOnFailure: true });
  }, 300_000);
});
