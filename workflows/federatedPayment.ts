// A seller's payment by another service's buyer: the buyer's gateway is asked (signed, over mutual TLS) until it
// decides. Unreachable, it is asked again until the deadline; undecided (its buyer asked), again until the buyer's own
// deadline. Approved: the payment is recorded here as a micro-payment from the buyer's service to the seller
// (credited with the seller's others, settled by netting). Declined, or the deadline passed: declined, and in the
// second case the buyer's service is told to cancel (refunding what it may have approved meanwhile), until it hears.
import * as wf from '@temporalio/workflow';
import type { FederationActivities } from '../activities/federation';
import { UNTIL_WRITTEN } from './activityOptions';
import { decidedUpdate, federatedPaymentQuery, type FederatedPaymentInput, type FederatedPaymentView } from './federatedPayment.contract';

/** Pauses between asking an undecided buyer's service again: short first (a buyer answers in seconds), then longer. */
export const PENDING_POLL_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** How long past the buyer's deadline its service is still asked (its clock and ours differ). */
const BUYER_DEADLINE_MARGIN_MS = 30_000;

const books = wf.proxyActivities<FederationActivities>(UNTIL_WRITTEN);
/** Telling the buyer's service to cancel: tried for a week (the netting of the window shows anything it missed). */
const cancelling = wf.proxyActivities<FederationActivities>({
  startToCloseTimeout: '15 seconds', scheduleToCloseTimeout: '7 days',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['GatewayRefused'] },
});

export async function federatedPaymentWorkflow(input: FederatedPaymentInput): Promise<FederatedPaymentView> {
  let view: FederatedPaymentView | null = null;
  let buyerAsked = false;
  wf.setHandler(federatedPaymentQuery, () => view);
  wf.setHandler(decidedUpdate, async () => {
    await wf.condition(() => view !== null || buyerAsked);
    return view;
  });

  const started = Date.now();
  let deadline = started + input.deadlineMs;
  let polls = 0;
  for (;;) {
    const remaining = deadline - Date.now();
    const answer = remaining <= 0 ? undefined : await wf.proxyActivities<FederationActivities>({
      startToCloseTimeout: '15 seconds', scheduleToCloseTimeout: remaining,
      retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10 seconds', nonRetryableErrorTypes: ['GatewayRefused'] },
    }).askPayer(input).catch((err: unknown) => {
      if (wf.isCancellation(err)) throw err;
      const failure = (err as { cause?: { type?: string; message?: string } }).cause;
      if (failure?.type === 'GatewayRefused') return { decision: 'declined' as const, code: 'payer_refused', message: failure.message ?? 'refused' };
      return undefined; // the deadline passed while the buyer's service was unreachable
    });
    if (!answer) {
      view = await books.declineFederatedPayment(input.paymentId, 'payer_unreachable', "The buyer's payment service did not answer in time");
      // (a cancel refused, or unheard for a week, leaves what the buyer's service may hold to the netting of the window,
      // where a transaction one side does not know is a mismatch on both)
      await cancelling.cancelAtPayer(input).catch((err: unknown) => {
        if (wf.isCancellation(err)) throw err;
        wf.log.warn('the buyer\'s service was not told to cancel', { paymentId: input.paymentId, error: String(err) });
      });
      return view;
    }
    if (answer.decision === 'approved') {
      view = await books.recordFederatedPayment(input);
      return view;
    }
    if (answer.decision !== 'pending') {
      view = await books.declineFederatedPayment(input.paymentId, answer.code ?? answer.decision, answer.message ?? `The buyer's service answered ${answer.decision}`);
      return view;
    }
    buyerAsked = true;
    if ('expiresAt' in answer && answer.expiresAt) deadline = Math.max(deadline, Date.parse(answer.expiresAt) + BUYER_DEADLINE_MARGIN_MS);
    await wf.sleep(PENDING_POLL_MS[Math.min(polls++, PENDING_POLL_MS.length - 1)]);
  }
}
