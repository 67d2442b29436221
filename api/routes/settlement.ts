// Settlement periods and statements. An operator may close the open period now (test mode, or an early close):
// the same workflow the Schedule starts. A buyer or seller sees only its own figures.
import { z } from 'zod';
import { periodId, periodSeq } from '../../domain/micropayments';
import type { Credit, Invoice } from '../../stores';
import type { Services } from '../../services';
import { MAX_FILE_LINES } from '../../services/settlement';
import { assertCanSee } from '../auth';
import type { Period } from '../../stores';
import { notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { listedFor, pageAnswer, pageRequest } from '../paging';
import { nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

const PERIOD_ID = /^sp_[1-9][0-9]{0,8}$/;
const periodIdSchema = z.string().regex(PERIOD_ID, 'a period id such as sp_12');
const perCurrency = z.record(z.string(), z.number().int());

const invoiceSchema = z.object({
  id: z.string(), periodId: z.string(), object: z.literal('invoice'), buyerId: z.string(), currency: z.string(), paymentCount: z.number().int(),
  grossMinor: z.number().int(), refundedMinor: z.number().int(), amountMinor: z.number().int(),
  state: z.enum(['nothing_due', 'pending', 'paid', 'failed', 'unpaid']), chargeId: z.string().nullable(), declineCode: z.string().nullable(),
  attempts: z.number().int(), paidAt: nullableTimestamp,
}).meta({ id: 'Invoice' });
const creditSchema = z.object({
  id: z.string(), periodId: z.string(), object: z.literal('seller_credit'), sellerId: z.string(), currency: z.string(), paymentCount: z.number().int(),
  salesMinor: z.number().int(), feeMinor: z.number().int(), refundedMinor: z.number().int(), cardMinor: z.number().int(),
  amountMinor: z.number().int(), state: z.enum(['nothing_due', 'pending', 'paid', 'failed']), payoutId: z.string().nullable(),
  failureCode: z.string().nullable(), paidAt: nullableTimestamp,
}).meta({ id: 'SellerCredit' });
const periodBase = {
  id: z.string(), object: z.literal('settlement_period'), state: z.enum(['open', 'frozen', 'closed']), openedAt: timestamp,
  frozenAt: nullableTimestamp, closedAt: nullableTimestamp,
};
const periodSchema = z.union([
  z.object({ ...periodBase, invoice: invoiceSchema.nullable(), credit: creditSchema.nullable() })
    .meta({ description: 'As a buyer or seller sees it: its own invoice or credit' }),
  z.object({ ...periodBase, workflowId: z.string().nullable(),
    totals: z.object({ paymentCount: z.number().int(), buyers: z.number().int().optional(), sellers: z.number().int().optional(),
      grossMinor: perCurrency, feeMinor: perCurrency, refundedMinor: perCurrency.optional(), invoicedMinor: perCurrency.optional(),
      creditedMinor: perCurrency.optional() }),
    progress: z.object({ invoices: perCurrency, credits: perCurrency }) }).meta({ description: 'As an operator sees it' }),
]).meta({ id: 'SettlementPeriod' });
const statementBase = { object: z.literal('statement'), accountId: z.string(), periodId: z.string(), periodState: z.enum(['open', 'frozen', 'closed']),
  currency: z.string() };
const statementSchema = z.union([
  z.object({ ...statementBase, party: z.literal('buyer'), suspended: z.boolean(),
    period: z.object({ paymentCount: z.number().int(), grossMinor: z.number().int(), refundedMinor: z.number().int(), netMinor: z.number().int() }),
    invoices: z.array(invoiceSchema),
    balances: z.object({ owedMinor: z.number().int().meta({ description: 'What the buyer owes: purchases not yet charged, and unpaid invoices' }) }) }),
  z.object({ ...statementBase, party: z.literal('seller'),
    period: z.object({ paymentCount: z.number().int(), salesMinor: z.number().int(), feeMinor: z.number().int(), refundedMinor: z.number().int(),
      netMinor: z.number().int() }),
    credits: z.array(creditSchema),
    balances: z.object({ owedToSellerMinor: z.number().int(), owedToSellerForCardOrdersMinor: z.number().int() }) }),
]).meta({ id: 'Statement' });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const invoiceView = (r: Invoice): z.infer<typeof invoiceSchema> => ({
  id: r.id, periodId: periodId(r.periodSeq), object: 'invoice', buyerId: r.buyerId, currency: r.currency, paymentCount: r.paymentCount,
  grossMinor: r.grossMinor, refundedMinor: r.refundedMinor, amountMinor: r.amountMinor, state: r.state as z.infer<typeof invoiceSchema>['state'],
  chargeId: r.chargeId, declineCode: r.declineCode, attempts: r.attempts, paidAt: iso(r.paidAt),
});
const creditView = (r: Credit): z.infer<typeof creditSchema> => ({
  id: r.id, periodId: periodId(r.periodSeq), object: 'seller_credit', sellerId: r.sellerId, currency: r.currency, paymentCount: r.paymentCount,
  salesMinor: r.salesMinor, feeMinor: r.feeMinor, refundedMinor: r.refundedMinor, cardMinor: r.cardMinor, amountMinor: r.amountMinor,
  state: r.state as z.infer<typeof creditSchema>['state'], payoutId: r.payoutId, failureCode: r.failureCode, paidAt: iso(r.paidAt),
});

const periodListSchema = z.object({
  id: z.string(), object: z.literal('settlement_period'), state: z.enum(['open', 'frozen', 'closed']), openedAt: timestamp,
  frozenAt: nullableTimestamp, closedAt: nullableTimestamp, workflowId: z.string().nullable(),
  totals: z.object({ paymentCount: z.number().int(), buyers: z.number().int(), sellers: z.number().int(), grossMinor: perCurrency,
    feeMinor: perCurrency, refundedMinor: perCurrency, invoicedMinor: perCurrency, creditedMinor: perCurrency }).nullable()
    .meta({ description: 'Once closed (GET /v1/settlement-periods/:id has the live figures)' }),
}).meta({ id: 'SettlementPeriodListed' });
const periodListView = (p: Period): z.infer<typeof periodListSchema> => ({
  id: periodId(p.seq), object: 'settlement_period', state: p.state, openedAt: p.openedAt.toISOString(), frozenAt: iso(p.frozenAt),
  closedAt: iso(p.closedAt), workflowId: p.workflowId, totals: p.totals,
});

export function settlementOperations(services: Services): Operation[] {
  const { settlement } = services;
  const lists = services.stores.settlementLists;
  return [
    operation({
      method: 'get', path: '/settlement-periods', allow: ['operator'],
      summary: 'Settlement periods, newest first, a page at a time (operator; the created range is of when each opened)',
      query: z.strictObject({ ...pageQuery, state: z.enum(['open', 'frozen', 'closed']).optional() }),
      responses: { 200: { description: 'OK', schema: pageOf(periodListSchema) } },
      async handler({ res, query }) {
        res.json(pageAnswer(await lists.periods({ ...pageRequest(query), state: query.state }), periodListView));
      },
    }),
    operation({
      method: 'get', path: '/invoices', allow: ['buyer', 'operator'],
      summary: "Period invoices, newest first, a page at a time: a buyer's own (operators: everyone's, or one buyer's)",
      query: z.strictObject({ ...pageQuery, state: invoiceSchema.shape.state.optional(),
        buyerId: z.string().max(200).optional().meta({ description: "Operators: only this buyer's invoices" }) }),
      responses: { 200: { description: 'OK', schema: pageOf(invoiceSchema) } },
      async handler({ res, principal, query }) {
        const buyerId = listedFor(principal, query.buyerId, 'buyerId');
        res.json(pageAnswer(await lists.invoices({ ...pageRequest(query), buyerId, state: query.state }), invoiceView));
      },
    }),
    operation({
      method: 'get', path: '/seller-credits', allow: ['merchant', 'operator'],
      summary: "Period credits, newest first, a page at a time: a seller's own (operators: everyone's, or one seller's)",
      query: z.strictObject({ ...pageQuery, state: creditSchema.shape.state.optional(),
        sellerId: z.string().max(200).optional().meta({ description: "Operators: only this seller's credits" }) }),
      responses: { 200: { description: 'OK', schema: pageOf(creditSchema) } },
      async handler({ res, principal, query }) {
        const sellerId = listedFor(principal, query.sellerId, 'sellerId');
        res.json(pageAnswer(await lists.credits({ ...pageRequest(query), sellerId, state: query.state }), creditView));
      },
    }),
    operation({
      method: 'post', path: '/settlement-periods/close', allow: ['operator'], bodyRequired: false,
      summary: 'Close the open period now (operator; test mode or an early close), or resume a failed close',
      description: 'Freezes the period after graceSeconds (default: the configured grace), invoices buyers and credits sellers. '
        + 'With periodId, resumes the close of a frozen period whose close failed; a close that is running or finished is not started again.',
      body: z.strictObject({
        graceSeconds: z.number().int().min(0).max(24 * 3600).optional(),
        fileLines: z.number().int().min(1).max(MAX_FILE_LINES).optional()
          .meta({ description: "Lines per processor charge/payout file (default and most: the processor's limit)" }),
        periodId: periodIdSchema.optional().meta({ description: 'A frozen period whose close failed: resume it' }),
      }),
      responses: { 202: { description: 'The close workflow runs; Location names the period', headers: { Location: 'The period' },
        schema: z.object({ object: z.literal('settlement_period_close'), periodId: z.string(), workflowId: z.string(), started: z.boolean() }) } },
      async handler({ res, body }) {
        const close = await settlement.close({ graceMs: body.graceSeconds === undefined ? undefined : body.graceSeconds * 1000,
          fileLines: body.fileLines, periodSeq: body.periodId === undefined ? undefined : periodSeq(body.periodId) });
        res.status(202).location(`/v1/settlement-periods/${close.periodId}`).json({ object: 'settlement_period_close', ...close });
      },
    }),
    operation({
      method: 'get', path: '/settlement-periods/:id', allow: 'any', params: { id: periodIdSchema },
      summary: 'A period: state, progress and totals (operators); state and your own invoice or credit (parties)',
      responses: { 200: { description: 'OK', schema: periodSchema } },
      async handler({ res, principal, params }) {
        const v = await settlement.period(periodSeq(params.id)!, principal);
        if (!v) throw notFound('settlement period');
        const p = v.period;
        const base = { id: periodId(p.seq), object: 'settlement_period', state: p.state, openedAt: p.openedAt.toISOString(),
          frozenAt: iso(p.frozenAt), closedAt: iso(p.closedAt) };
        if (v.kind === 'party') {
          res.json({ ...base, invoice: v.invoice ? invoiceView(v.invoice) : null, credit: v.credit ? creditView(v.credit) : null });
        } else {
          res.json({ ...base, workflowId: p.workflowId, totals: v.totals, progress: v.progress });
        }
      },
    }),
    operation({
      method: 'get', path: '/accounts/:id/statement', allow: ['buyer', 'merchant', 'operator'],
      summary: "A buyer's or seller's statement: the period's totals, the latest invoices or credits, balances",
      query: z.strictObject({ periodId: periodIdSchema.optional().meta({ description: 'Default: the latest period' }) }),
      responses: { 200: { description: 'OK', schema: statementSchema } },
      async handler({ res, principal, params, query }) {
        assertCanSee(principal, params.id, 'account'); // a party's account id is its own id
        const s = await settlement.statement(params.id, query.periodId === undefined ? undefined : periodSeq(query.periodId));
        if (!s) throw notFound('account');
        if (s.kind === 'no_period') throw notFound('settlement period');
        const head = { object: 'statement', accountId: params.id, periodId: periodId(s.period.seq), periodState: s.period.state };
        if (s.kind === 'buyer') {
          res.json({ ...head, party: 'buyer', currency: s.buyer.currency, suspended: s.buyer.suspendedAt !== null,
            period: { paymentCount: s.paymentCount, grossMinor: Number(s.grossMinor), refundedMinor: Number(s.refundedMinor), netMinor: Number(s.netMinor) },
            invoices: s.invoices.map(invoiceView), balances: { owedMinor: Number(s.owedMinor) } });
          return;
        }
        res.json({ ...head, party: 'seller', currency: s.seller.currency,
          period: { paymentCount: s.paymentCount, salesMinor: Number(s.salesMinor), feeMinor: Number(s.feeMinor),
            refundedMinor: Number(s.refundedMinor - s.refundedFeeMinor), netMinor: Number(s.netMinor) },
          credits: s.credits.map(creditView),
          balances: { owedToSellerMinor: Number(s.owedMinor), owedToSellerForCardOrdersMinor: Number(s.owedForCardOrdersMinor) } });
      },
    }),
  ];
}
