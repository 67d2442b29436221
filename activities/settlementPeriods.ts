// Activities of a settlement period's close and of dunning. Every step is idempotent per period, buyer and
// seller: rows are keyed (period, buyer) and (period, seller), processor lines carry keys derived from them,
// ledger entries likewise, so a step repeated after a crash charges, credits and posts nothing twice.
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { periodId } from '../domain/micropayments';
import type { PeriodTotals } from '../domain/settlement';
import { accounts, buyerReceivable, sellerPayable } from '../ledger/accounts';
import type { EntryInput, Ledger } from '../ledger/ledger';
import type { Periods } from '../ledger/periods';
import { MAX_BATCH_FILE_LINES, type ProcessorClient } from '../processors/client';
import type { ProblemStore } from '../stores/problems';
import { dunningWorkflowId } from '../workflows/dunning.contract';
import { withHeartbeats } from './heartbeat';
import { processorCall } from './processorCall';
import type { WebhookEventActivities } from './webhookEvents';

export interface SettlementPeriodDeps {
  periods: Periods;
  ledger: Ledger;
  processor: ProcessorClient;
  problems: ProblemStore;
  /** settlement.credit_paid to the seller's webhook endpoints. */
  events: Pick<WebhookEventActivities, 'emitEvent'>;
}

export interface StepResult {
  /** The last buyer (or seller) id this step covered; null when there was nothing after the cursor. */
  last: string | null;
  submitted: number;
  succeeded: number;
  failed: number;
}

export interface ChargeStepResult extends StepResult {
  /** Buyers of the step whose invoice is failed (now or before): each gets a dunning workflow. */
  failedBuyerIds: string[];
}

const fileKey = (kind: string, seq: number, lineKeys: string[]) =>
  `${kind}:${periodId(seq)}:${createHash('sha256').update(lineKeys.join('\n')).digest('hex').slice(0, 32)}`;
const chargeKey = (seq: number, buyerId: string) => `period-charge:${periodId(seq)}:${buyerId}`;
const payoutKey = (seq: number, sellerId: string) => `period-payout:${periodId(seq)}:${sellerId}`;
/** The workflow whose step this is (the period's, whose id carries its task queue), for the problems it records. */
const runBy = (seq: number) => Context.current().info.workflowExecution?.workflowId ?? `settlement-period-${periodId(seq)}`;

export function createSettlementPeriodActivities(deps: SettlementPeriodDeps) {
  const { periods, ledger, processor, problems, events } = deps;

  const chargeEntry = (seq: number, buyerId: string, currency: string, amountMinor: number, chargeId: string): EntryInput => ({
    idempotencyKey: `charge:${periodId(seq)}:${buyerId}`,
    description: `charge of ${buyerId}'s invoice for ${periodId(seq)}`,
    metadata: { periodId: periodId(seq), buyerId, chargeId },
    postings: [
      { accountId: accounts(currency, '').clearing.id, amountMinor, currency },
      { accountId: buyerReceivable(buyerId, currency).id, amountMinor: -amountMinor, currency },
    ],
  });

  const openClearing = (lines: Array<{ currency: string }>) =>
    Promise.all([...new Set(lines.map((l) => l.currency))].map((c) => ledger.openAccount(accounts(c, '').clearing)));

  const steps = {
    /** The period open now (for the scheduled tick). */
    openPeriodSeq: (): Promise<number> => periods.openSeq(),

    /** Freezes the period and opens the next (periods.freeze); repeating it changes nothing. */
    async freezePeriod(seq: number, workflowId: string): Promise<{ frozenAt: string }> {
      return { frozenAt: (await periods.freeze(seq, workflowId)).toISOString() };
    },

    /** One invoice per buyer and one credit per seller (periods.aggregate), written once; the period's totals. */
    async aggregatePeriod(seq: number): Promise<PeriodTotals> {
      await periods.aggregate(seq);
      return periods.totals(seq);
    },

    /**
     * Charges the next `limit` invoices after the cursor (by buyer id) in one processor file. Lines of invoices
     * charged before are left out; a line repeated after a crash returns its first result. The buyers whose
     * charge failed (in this step or in an earlier try of it) are returned for dunning.
     */
    async chargeInvoices(seq: number, after: string | null, limit: number): Promise<ChargeStepResult> {
      const rows = await periods.invoicesAfter(seq, after, Math.min(limit, MAX_BATCH_FILE_LINES));
      const last = rows.at(-1)?.buyerId ?? null;
      const pending = rows.filter((r) => r.state === 'pending');
      // a step repeated after a crash: the dunning of invoices it marked failed may not have started yet
      const failedBefore = rows.filter((r) => r.state === 'failed').map((r) => r.buyerId);
      const result: ChargeStepResult = { last, submitted: pending.length, succeeded: 0, failed: 0, failedBuyerIds: failedBefore };
      if (pending.length === 0) return result;
      const lines = pending.map((r) => ({
        idempotencyKey: chargeKey(seq, r.buyerId), token: r.chargeToken, amountMinor: r.amountMinor,
        currency: r.currency, reference: `invoice:${periodId(seq)}:${r.buyerId}`,
      }));
      const file = await processorCall(() => processor.submitChargeBatch(lines, fileKey('charges', seq, lines.map((l) => l.idempotencyKey))));
      const entries: EntryInput[] = [];
      const failed: string[] = [];
      file.results.forEach((res, i) => {
        const r = pending[i];
        if (res.status === 'succeeded') entries.push(chargeEntry(seq, r.buyerId, r.currency, r.amountMinor, res.chargeId!));
        else failed.push(r.buyerId);
      });
      // the books first: an invoice is marked paid only once its entry exists
      await openClearing(lines);
      for (let i = 0; i < entries.length; i += 5000) await ledger.postMany(entries.slice(i, i + 5000));
      await periods.markCharged(seq, file.results.map((x, i) => ({ buyerId: pending[i].buyerId, ok: x.status === 'succeeded',
        chargeId: x.chargeId ?? null, declineCode: x.declineCode ?? null })));
      result.failedBuyerIds = [...failedBefore, ...failed];
      result.succeeded = entries.length;
      result.failed = failed.length;
      return result;
    },

    /** Pays the next `limit` sellers' credits after the cursor in one processor payout file. */
    async creditSellers(seq: number, after: string | null, limit: number): Promise<StepResult> {
      const rows = await periods.creditsAfter(seq, after, Math.min(limit, MAX_BATCH_FILE_LINES));
      const last = rows.at(-1)?.sellerId ?? null;
      const pending = rows.filter((r) => r.state === 'pending');
      const result: StepResult = { last, submitted: pending.length, succeeded: 0, failed: 0 };
      if (pending.length === 0) return result;
      const lines = pending.map((r) => ({
        idempotencyKey: payoutKey(seq, r.sellerId), destination: r.payoutDestination, amountMinor: r.amountMinor,
        currency: r.currency, reference: `credit:${periodId(seq)}:${r.sellerId}`,
      }));
      const file = await processorCall(() => processor.submitPayoutBatch(lines, fileKey('payouts', seq, lines.map((l) => l.idempotencyKey))));
      const entries: EntryInput[] = [];
      const failed: Array<{ sellerId: string; code: string }> = [];
      file.results.forEach((res, i) => {
        const r = pending[i];
        const cur = r.currency;
        if (res.status !== 'paid') { failed.push({ sellerId: r.sellerId, code: res.failureCode ?? 'payout_failed' }); return; }
        // the credit less its card part is the micro-payment part (a negative credit carried from before included),
        // settled on the seller-payable account
        const micro = r.amountMinor - r.cardMinor;
        entries.push({
          idempotencyKey: `payout:${periodId(seq)}:${r.sellerId}`,
          description: `payout of ${r.sellerId}'s credit for ${periodId(seq)}`,
          metadata: { periodId: periodId(seq), sellerId: r.sellerId, payoutId: res.payoutId },
          postings: [
            { accountId: sellerPayable(r.sellerId, cur).id, amountMinor: micro, currency: cur },
            { accountId: accounts(cur, r.sellerId).merchant.id, amountMinor: r.cardMinor, currency: cur },
            { accountId: accounts(cur, '').clearing.id, amountMinor: -r.amountMinor, currency: cur },
          ].filter((p) => p.amountMinor !== 0),
        });
      });
      // (a seller's merchant-payable account exists when it has card captures: the capture opened it)
      await openClearing(lines);
      await ledger.postMany(entries);
      // the problems first: a crash before the UPDATE repeats the step, which finds them written
      for (const f of failed) {
        await problems.record({
          workflowId: runBy(seq), merchantId: f.sellerId, kind: 'payout_failed',
          message: `The payout of ${f.sellerId}'s credit for ${periodId(seq)} failed: ${f.code}`,
          details: { key: f.sellerId, periodId: periodId(seq), sellerId: f.sellerId, code: f.code },
        });
      }
      // the sellers' events before the credits are marked paid: a repeat of the step after a crash emits them again
      // (under the same keys, so each reaches an endpoint once)
      for (const [i, res] of file.results.entries()) {
        if (res.status !== 'paid') continue;
        const r = pending[i];
        await events.emitEvent({ merchantId: r.sellerId, groupKey: `credits-${r.sellerId}`, type: 'settlement.credit_paid',
          eventKey: `credit:${periodId(seq)}:${r.sellerId}`,
          data: { periodId: periodId(seq), sellerId: r.sellerId, amountMinor: r.amountMinor, currency: r.currency, payoutId: res.payoutId } });
      }
      await periods.markPaidOut(seq, file.results.map((x, i) => ({ sellerId: pending[i].sellerId, ok: x.status === 'paid',
        payoutId: x.payoutId ?? null, failureCode: x.failureCode ?? null })));
      result.succeeded = entries.length;
      result.failed = failed.length;
      return result;
    },

    /** Marks the period closed with its totals. */
    async closePeriod(seq: number): Promise<PeriodTotals> {
      return periods.close(seq);
    },

    /** A dunning retry of a failed invoice, with the buyer's card on file when the attempt first runs. */
    async retryCharge(seq: number, buyerId: string, attempt: number): Promise<'paid' | 'failed' | 'settled'> {
      const inv = await periods.invoiceForRetry(seq, buyerId, attempt);
      if (!inv || inv.state === 'paid') return 'settled';
      const line = {
        idempotencyKey: `${chargeKey(seq, buyerId)}:retry-${attempt}`, token: inv.token, amountMinor: inv.amountMinor,
        currency: inv.currency, reference: `invoice:${periodId(seq)}:${buyerId}`,
      };
      const file = await processorCall(() => processor.submitChargeBatch([line], `dunning:${line.idempotencyKey}`));
      const res = file.results[0];
      if (res.status === 'succeeded') {
        await openClearing([line]);
        await ledger.postMany([chargeEntry(seq, buyerId, line.currency, line.amountMinor, res.chargeId!)]);
        await periods.markRetried(seq, buyerId, attempt, { chargeId: res.chargeId! });
        return 'paid';
      }
      await periods.markRetried(seq, buyerId, attempt, { declineCode: res.declineCode ?? 'charge_failed' });
      return 'failed';
    },

    /** After the last retry: the buyer is suspended and the debt stays on the books (problems log). */
    async suspendBuyer(seq: number, buyerId: string): Promise<void> {
      await periods.suspendBuyer(seq, buyerId, (trx) => problems.record({
        workflowId: dunningWorkflowId(periodId(seq), buyerId), merchantId: null, kind: 'buyer_suspended',
        message: `Buyer ${buyerId} was suspended: the invoice for ${periodId(seq)} stayed unpaid after every retry`,
        details: { periodId: periodId(seq), buyerId },
      }, trx));
    },
  };
  // every step heartbeats (the settlement workflow gives its steps a heartbeat timeout of seconds)
  return withHeartbeats(steps);
}

export type SettlementPeriodActivities = ReturnType<typeof createSettlementPeriodActivities>;
