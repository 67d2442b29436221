// Activities of merchant payouts. Preparing is idempotent per merchant and day (stores/payouts.ts); a send of
// try n carries the processor line key `merchant-payout:<payout>:<n>`, so a try repeated after a crash returns its
// first result and pays nothing twice, and the ledger entry of a paid payout has the payout's own key.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { isPayoutDay } from '../domain/payouts';
import { accounts } from '../ledger/accounts';
import type { Ledger } from '../ledger/ledger';
import { type ProcessorClient, ProcessorRejectedError } from '../processors/client';
import type { PayoutStore } from '../stores/payouts';
import type { ProblemStore } from '../stores/problems';
import { payoutWorkflowId } from '../workflows/payout.contract';
import { withHeartbeats } from './heartbeat';
import type { WebhookEventActivities } from './webhookEvents';

export interface PayoutDeps {
  payouts: PayoutStore;
  ledger: Ledger;
  processor: ProcessorClient;
  problems: ProblemStore;
  /** payout.paid and payout.failed to the merchant's webhook endpoints. */
  events: Pick<WebhookEventActivities, 'emitEvent'>;
}

export interface PrepareStep {
  /** The last merchant id the step covered; null when there was none after the cursor. */
  last: string | null;
  /** The merchants of the step due that day. */
  merchants: number;
  /** The pending payouts of those merchants (made now or before): each gets a payout workflow. */
  payoutIds: string[];
}

/** The processor's answer to a key used before for another request or line. */
const KEY_REUSED = 'idempotency_key_reused';

export type SendOutcome = { outcome: 'paid'; processorPayoutId: string } | { outcome: 'settled' } | { outcome: 'refused'; code: string };

export function createPayoutActivities(deps: PayoutDeps) {
  const { payouts, ledger, processor, problems, events } = deps;
  const eventOf = (p: { id: string; merchantId: string }, type: 'payout.paid' | 'payout.failed', data: Record<string, unknown>) =>
    events.emitEvent({ merchantId: p.merchantId, groupKey: `payouts-${p.merchantId}`, type, eventKey: `${p.id}:${type}`,
      data: { payoutId: p.id, ...data } });

  // every step heartbeats (the payout workflows give their steps a heartbeat timeout of seconds)
  return withHeartbeats({
    /** Of the next `limit` merchants after the cursor (by id), prepares the payouts of those due on the cutoff's day. */
    async preparePayouts(cutoffIso: string, periodKey: string, after: string | null, limit: number): Promise<PrepareStep> {
      const cutoff = new Date(cutoffIso);
      const merchants = await payouts.merchantsAfter(after, limit);
      const due = merchants.filter((m) => isPayoutDay(m.schedule, cutoff));
      const payoutIds: string[] = [];
      for (const m of due) {
        await payouts.prepare(m.id, cutoff, periodKey);
        // (and any pending payout of the merchant whose workflow never started: a manual one cut off by a crash)
        payoutIds.push(...await payouts.pendingOf(m.id));
      }
      return { last: merchants.at(-1)?.id ?? null, merchants: due.length, payoutIds };
    },

    /** Try `attempt` of the payout: one line in a processor payout file to the merchant's destination as it is now. */
    async sendPayout(payoutId: string, attempt: number): Promise<SendOutcome> {
      const found = await payouts.toSend(payoutId);
      if (!found || found.payout.state !== 'pending') return { outcome: 'settled' };
      const { payout: p, destination } = found;
      const refuse = async (code: string): Promise<SendOutcome> => {
        await payouts.markRefused(p.id, code);
        return { outcome: 'refused', code };
      };
      // a try repeated after a crash sends what its first run sent (the destination may have changed since)
      const to = p.attempts === attempt && p.destination !== null ? p.destination : destination;
      if (to === null) return refuse('no_payout_destination');
      await payouts.markAttempt(p.id, attempt, to);
      const key = `merchant-payout:${p.id}:${attempt}`;
      let res;
      try {
        [res] = (await processor.submitPayoutBatch([{ idempotencyKey: key, destination: to, amountMinor: p.amountMinor, currency: p.currency,
          reference: `payout:${p.id}` }], `merchant-payouts:${key}`)).results;
      } catch (err) {
        if (err instanceof ProcessorRejectedError && err.code !== KEY_REUSED) return refuse(err.code);
        throw err; // unreachable, 5xx: retried by Temporal
      }
      // a key the processor holds for another line is no refusal: a new try could pay twice
      if (res.failureCode === KEY_REUSED) throw ApplicationFailure.nonRetryable(`payout ${p.id} try ${attempt}: ${KEY_REUSED}`, KEY_REUSED);
      if (res.status !== 'paid') return refuse(res.failureCode ?? 'payout_failed');
      // the books first: a payout is marked paid only once its entry exists
      const a = accounts(p.currency, p.merchantId);
      await ledger.openAccount(a.clearing);
      await ledger.post({
        idempotencyKey: `merchant-payout:${p.id}`,
        description: `payout ${p.id} to ${p.merchantId}`,
        metadata: { payoutId: p.id, merchantId: p.merchantId, processorPayoutId: res.payoutId },
        postings: [
          { accountId: a.merchant.id, amountMinor: p.amountMinor, currency: p.currency },
          { accountId: a.clearing.id, amountMinor: -p.amountMinor, currency: p.currency },
        ],
      });
      // the event before the mark: a repeat after a crash emits it again, under the same key (reaching an endpoint once)
      await eventOf(p, 'payout.paid', { amountMinor: p.amountMinor, currency: p.currency, processorPayoutId: res.payoutId, attempts: attempt });
      await payouts.markPaid(p.id, res.payoutId!);
      return { outcome: 'paid', processorPayoutId: res.payoutId! };
    },

    /** Refused on every try: failed, with its problem (the money still owed, carried into the next payout). */
    async failPayout(payoutId: string, code: string): Promise<void> {
      const p = await payouts.get(payoutId);
      if (!p) return;
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? payoutWorkflowId(payoutId);
      const failed = await payouts.markFailed(payoutId, code, (trx) => problems.record({
        workflowId, merchantId: p.merchantId, kind: 'payout_failed',
        message: `Payout ${p.id} of ${p.amountMinor} ${p.currency} minor units to ${p.merchantId} failed after ${p.attempts} tries: ${code}. `
          + 'The amount is still owed: it is carried into the merchant\'s next payout (POST /v1/payouts pays it now).',
        details: { key: p.id, payoutId: p.id, merchantId: p.merchantId, amountMinor: p.amountMinor, currency: p.currency, code },
      }, trx));
      if (failed || p.state === 'failed') { // (failed now, or by a run of this step before a crash)
        await eventOf(p, 'payout.failed', { amountMinor: p.amountMinor, currency: p.currency, failureCode: code });
      }
    },
  });
}

export type PayoutActivities = ReturnType<typeof createPayoutActivities>;
