// Merchant payouts: pay a merchant now, the lists, one payout with the balance transactions it pays out, and a
// merchant's statement for a date range. A merchant sees its own; operators see every merchant's.
import { z } from 'zod';
import type { Services } from '../../services';
import type { BalanceTransaction, Payout } from '../../stores/payouts';
import { assertCanSee } from '../auth';
import { notFound, unprocessable } from '../errors';
import { type Operation, operation } from '../operations';
import { listedFor, pageAnswer, pageRequest } from '../paging';
import { isoTime, nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

/** The longest range a statement covers. */
export const MAX_STATEMENT_DAYS = 366;

const PAYOUT_STATES = ['pending', 'paid', 'failed', 'carried'] as const;
const merchantIdParam = z.string().min(1).max(200);

export const payoutSchema = z.object({
  id: z.string(), object: z.literal('payout'), merchantId: z.string(), currency: z.string(),
  periodKey: z.string().meta({ description: 'The UTC day of the scheduled run that made it (YYYY-MM-DD), or manual-… for POST /v1/payouts' }),
  cutoff: timestamp.meta({ description: 'Captures and refunds made before this are in it' }),
  capturesMinor: z.number().int(), feesMinor: z.number().int().meta({ description: "The broker's fees on the captures less the fees refunds returned" }),
  refundsMinor: z.number().int(), reserveHeldMinor: z.number().int(), reserveReleasedMinor: z.number().int(),
  carriedMinor: z.number().int().meta({ description: 'Carried from earlier payouts (below the minimum, negative, or failed)' }),
  disputesMinor: z.number().int().meta({ description: 'What disputes withdrew from the balance (amounts and fees) less what they returned (won, refunded)' }),
  amountMinor: z.number().int().meta({ description: 'captures - fees - refunds - reserveHeld + reserveReleased + carried - disputes' }),
  state: z.enum(PAYOUT_STATES).meta({ description: 'pending (being sent), paid, failed (after every try; carried into the next), '
    + 'carried (below the minimum or not positive: nothing sent, carried into the next)' }),
  attempts: z.number().int(), destination: z.string().nullable(), processorPayoutId: z.string().nullable(), failureCode: z.string().nullable(),
  carriedInto: z.string().nullable().meta({ description: 'The payout this one was carried into' }),
  createdAt: timestamp, paidAt: nullableTimestamp, failedAt: nullableTimestamp,
}).meta({ id: 'Payout' });

const balanceTransactionSchema = z.object({
  id: z.string(), object: z.literal('balance_transaction'),
  type: z.enum(['capture', 'refund', 'reserve_hold', 'reserve_release', 'carried', 'dispute']),
  sourceId: z.string().meta({ description: 'The order (or hold) of a capture or refund; the payout a reserve or a carried amount came from; the dispute of a dispute\'s movement' }),
  amountMinor: z.number().int(), feeMinor: z.number().int(), netMinor: z.number().int(), createdAt: timestamp,
}).meta({ id: 'BalanceTransaction' });

const payoutWithTransactions = z.object({
  ...payoutSchema.shape,
  balanceTransactions: z.array(balanceTransactionSchema).meta({ description: 'Oldest first, at most 1000' }),
  balanceTransactionCount: z.number().int(),
}).meta({ id: 'PayoutWithTransactions' });

const statementSchema = z.object({
  object: z.literal('merchant_statement'), merchantId: z.string(), currency: z.string(), from: timestamp, to: timestamp,
  openingBalanceMinor: z.number().int().meta({ description: 'Owed to the merchant at `from` (its card-order balance not yet paid out)' }),
  closingBalanceMinor: z.number().int(),
  openingReserveMinor: z.number().int(), closingReserveMinor: z.number().int(),
  captureCount: z.number().int(), capturedMinor: z.number().int(), feesMinor: z.number().int(), refundCount: z.number().int(),
  refundedMinor: z.number().int(),
  movements: z.object({
    capturesNetMinor: z.number().int(), refundsNetMinor: z.number().int(), payoutsMinor: z.number().int(),
    sellerCreditsMinor: z.number().int(), reserveHeldMinor: z.number().int(), reserveReleasedMinor: z.number().int(),
    disputesMinor: z.number().int(),
  }).meta({ description: 'What moved the balance in the range, signed as it moved it: opening + the sum of these = closing' }),
}).meta({ id: 'MerchantStatement' });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const payoutView = (p: Payout): z.infer<typeof payoutSchema> => ({
  id: p.id, object: 'payout', merchantId: p.merchantId, currency: p.currency, periodKey: p.periodKey, cutoff: p.cutoff.toISOString(),
  capturesMinor: p.capturesMinor, feesMinor: p.feesMinor, refundsMinor: p.refundsMinor, reserveHeldMinor: p.reserveHeldMinor,
  reserveReleasedMinor: p.reserveReleasedMinor, carriedMinor: p.carriedMinor, disputesMinor: p.disputesMinor, amountMinor: p.amountMinor, state: p.state,
  attempts: p.attempts, destination: p.destination, processorPayoutId: p.processorPayoutId, failureCode: p.failureCode,
  carriedInto: p.carriedInto, createdAt: p.createdAt.toISOString(), paidAt: iso(p.paidAt), failedAt: iso(p.failedAt),
});
const transactionView = (t: BalanceTransaction): z.infer<typeof balanceTransactionSchema> => ({
  id: t.id, object: 'balance_transaction', type: t.type, sourceId: t.sourceId, amountMinor: t.amountMinor, feeMinor: t.feeMinor,
  netMinor: t.netMinor, createdAt: t.createdAt.toISOString(),
});

export function payoutOperations(services: Services): Operation[] {
  const { payouts: store, merchants } = services.stores;
  return [
    operation({
      method: 'post', path: '/payouts', allow: ['merchant', 'operator'], idempotency: 'stored',
      summary: "Pay a merchant now what has built up since its last payout (a merchant: itself; operators: the merchant named)",
      description: 'Makes the payouts of a manual run (one per currency with anything to pay or carry; none when there is nothing) '
        + 'and sends each by the payout workflow, as a scheduled run does. A failed payout is carried into this one.',
      body: z.strictObject({ merchantId: merchantIdParam.optional().meta({ description: 'Operators: the merchant to pay (required)' }) }),
      responses: { 201: { description: 'The payouts made (state pending while they are sent)', schema: pageOf(payoutSchema) } },
      async handler({ req, res, principal, body }) {
        if (principal.kind === 'operator' && body.merchantId === undefined) {
          throw unprocessable('parameter_missing', 'Operators name the merchant to pay', 'merchantId');
        }
        if (principal.kind !== 'operator' && body.merchantId !== undefined && body.merchantId !== principal.id) {
          throw unprocessable('parameter_not_allowed', 'A merchant pays out only itself', 'merchantId');
        }
        const key = req.get('idempotency-key');
        const made = await services.payouts.payNow(body.merchantId ?? principal.id, key === undefined ? undefined : { principalId: principal.id, idempotencyKey: key });
        if (!made) throw notFound('merchant');
        res.status(201).json(pageAnswer({ data: made, hasMore: false }, payoutView));
      },
    }),
    operation({
      method: 'get', path: '/payouts', allow: ['merchant', 'operator'],
      summary: "Payouts, newest first, a page at a time: the merchant's own (operators: every merchant's, or one's)",
      query: z.strictObject({
        ...pageQuery,
        state: z.enum(PAYOUT_STATES).optional().meta({ description: 'Only payouts in this state' }),
        merchantId: merchantIdParam.optional().meta({ description: "Operators: only this merchant's payouts" }),
      }),
      responses: { 200: { description: 'OK', schema: pageOf(payoutSchema) } },
      async handler({ res, principal, query }) {
        const page = await store.list({ ...pageRequest(query), state: query.state, merchantId: listedFor(principal, query.merchantId, 'merchantId') });
        res.json(pageAnswer(page, payoutView));
      },
    }),
    operation({
      method: 'get', path: '/payouts/:id', allow: ['merchant', 'operator'],
      summary: 'A payout with the balance transactions it pays out (its merchant, operators)',
      responses: { 200: { description: 'OK', schema: payoutWithTransactions } },
      async handler({ res, principal, params }) {
        const p = await store.get(params.id);
        assertCanSee(principal, p?.merchantId, 'payout');
        const t = await store.balanceTransactions(p!);
        res.json({ ...payoutView(p!), balanceTransactions: t.data.map(transactionView), balanceTransactionCount: t.count });
      },
    }),
    operation({
      method: 'get', path: '/merchants/:id/statement', allow: ['merchant', 'operator'],
      summary: "A merchant's statement for a time range: its card-order balance and reserve at the start and end, and what moved them",
      query: z.strictObject({
        from: isoTime.meta({ description: 'Start of the range (included)' }),
        to: isoTime.meta({ description: `End of the range (excluded); at most ${MAX_STATEMENT_DAYS} days after from` }),
        currency: z.string().regex(/^[A-Z]{3}$/).optional().meta({ description: "Default: the merchant's currency" }),
      }),
      responses: { 200: { description: 'OK', schema: statementSchema } },
      async handler({ res, principal, params, query }) {
        const m = await merchants.get(params.id);
        assertCanSee(principal, m?.id, 'merchant');
        const from = new Date(query.from);
        const to = new Date(query.to);
        if (to <= from) throw unprocessable('parameter_invalid', 'to must be after from', 'to');
        if (to.getTime() - from.getTime() > MAX_STATEMENT_DAYS * 86_400_000) {
          throw unprocessable('parameter_invalid', `A statement covers at most ${MAX_STATEMENT_DAYS} days`, 'to');
        }
        const currency = query.currency ?? m!.currency;
        const s = await store.statement(m!.id, currency, from, to);
        const n = (v: bigint) => Number(v);
        res.json({
          object: 'merchant_statement', merchantId: m!.id, currency, from: from.toISOString(), to: to.toISOString(),
          openingBalanceMinor: n(s.openingBalanceMinor), closingBalanceMinor: n(s.closingBalanceMinor),
          openingReserveMinor: n(s.openingReserveMinor), closingReserveMinor: n(s.closingReserveMinor),
          captureCount: s.captureCount, capturedMinor: n(s.capturedMinor), feesMinor: n(s.feesMinor), refundCount: s.refundCount,
          refundedMinor: n(s.refundedMinor),
          movements: { capturesNetMinor: n(s.capturesNetMinor), refundsNetMinor: n(s.refundsNetMinor), payoutsMinor: n(s.payoutsMinor),
            sellerCreditsMinor: n(s.sellerCreditsMinor), reserveHeldMinor: n(s.reserveHeldMinor), reserveReleasedMinor: n(s.reserveReleasedMinor),
            disputesMinor: n(s.disputesMinor) },
        });
      },
    }),
  ];
}
