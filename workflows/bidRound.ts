// A bid round: merchants compete to supply an item the broker sells. Sell first, the customer's card is authorized
// at the class's price before the round opens; quote first, the round runs for seconds, its best bid plus the
// broker's margin is quoted, and the card is authorized when the customer accepts. Bids are rows the round reads
// once, at its close (early when enough are in). The best acceptable bid wins: its merchant's order is started on
// the round's authorization (a child that outlives the round, owed the bid, the broker keeping the spread); if the
// merchant cancels before capturing, the award falls to the next bid; with none left the authorization is voided.
// The rules live in domain/bids.ts.
import * as wf from '@temporalio/workflow';
import type { BidActivities, RoundOpening } from '../activities/bids';
import type { CheckoutActivities } from '../activities/checkout';
import type { OrderActivities } from '../activities/orders';
import type { BusinessEvent } from '../activities/webhookEvents';
import { avsDecision } from '../domain/avs';
import { BidRound, BidRoundError, maxAcceptableUnit, roundDetails, type RoundView } from '../domain/bids';
import { CART_AVS_POLICY } from '../domain/cart';
import type { OrderInput } from '../domain/order';
import {
  type AcceptRequest, acceptUpdate, type BidRoundInput, closeEarlySignal, leftStatesUpdate, type Payment, roundClientOrderId, roundQuery,
} from './bidRound.contract';
import { PROCESSOR_CALL, UNTIL_WRITTEN } from './activityOptions';
import { startOnce } from './children';
import { authorizationShareSignal, type AuthorizationShareReport, orderStartAttributes, type OrderWorkflow, orderWorkflowId } from './order.contract';
import { notDone, reachable } from './reachable';
import { refusedAs } from './refusal';
import { BidRoundState } from './searchAttributes';

/** How long an authorization waits out an unreachable processor before the customer is told it failed. */
export const BID_ROUND_PROCESSOR_DEADLINE_MS = 10 * 60_000;

const processor = wf.proxyLocalActivities<OrderActivities>(PROCESSOR_CALL);
/**
 * A round's quote written by an activity after the task that decided it: the caller waiting for the quote has it as
 * soon as it is decided, not once its books are written (a local activity keeps its task open until it is done).
 */
const afterwards = wf.proxyActivities<BidActivities>(UNTIL_WRITTEN);
/** The books (the round's row and bids, orders' rows, events, problems): retried until written. */
const books = wf.proxyLocalActivities<BidActivities & CheckoutActivities & OrderActivities>(UNTIL_WRITTEN);

export async function bidRoundWorkflow(input: BidRoundInput): Promise<RoundView> {
  const round = new BidRound(input);
  const id = wf.workflowInfo().workflowId;
  const { roundId, itemClass } = input;
  const deadlineMs = input.processorDeadlineMs ?? BID_ROUND_PROCESSOR_DEADLINE_MS;
  let closeEarly = false;
  let asked: AcceptRequest | null = null;
  const reports: AuthorizationShareReport[] = [];
  let payment: Payment | null = input.payment;
  let address = input.address;
  let auth: { id: string; amountMinor: number; avsCode: string; expiresAt: string } | null = null;
  let attempts = 0;

  wf.setHandler(roundQuery, () => round.view());
  wf.setHandler(closeEarlySignal, () => { closeEarly = true; });
  wf.setHandler(authorizationShareSignal, (r) => { reports.push(r); });
  wf.setHandler(leftStatesUpdate, async (states) => {
    await wf.condition(() => !states.includes(round.state));
    return round.view();
  });
  wf.setHandler(acceptUpdate, async (req) => {
    if (round.admitAccept(Date.now()) === 'accept') {
      round.accepting();
      asked = req;
    }
    await wf.condition(() => round.state !== 'accepting');
    return round.view();
  }, { validator: (_req) => refusedAs(BidRoundError, () => round.admitAccept(Date.now())) });

  // --- the books -------------------------------------------------------------------------------------
  const toRequester = (type: BusinessEvent['type'], data: Record<string, unknown> = {}): BusinessEvent => ({
    merchantId: input.requesterId, groupKey: roundId, type, eventKey: `${roundId}:${type}:${round.awards.length}:${attempts}`,
    data: { roundId, mode: input.mode, state: round.state, customerId: input.customerId, ...data },
  });
  const toMerchant = (merchantId: string, type: BusinessEvent['type'], key: string, data: Record<string, unknown>): BusinessEvent => ({
    merchantId, groupKey: roundId, type, eventKey: `${roundId}:${type}:${key}`, data: { roundId, itemClassId: itemClass.id, ...data },
  });
  let shownState = round.state;
  const save = async (events: BusinessEvent[] = [], by: Pick<BidActivities, 'saveRound'> = books) => {
    if (round.state !== shownState) {
      shownState = round.state;
      wf.upsertSearchAttributes([{ key: BidRoundState, value: round.state }]);
    }
    const view = round.view();
    wf.setCurrentDetails(roundDetails(view));
    await by.saveRound(view, events);
  };

  // --- the customer's card ---------------------------------------------------------------------------
  /** Authorizes the sale's total on the card; false (the round told why) when it is not. */
  async function authorize(card: Payment): Promise<boolean> {
    attempts++;
    const key = `${id}:authorize:${attempts}`;
    const a = await reachable(() => processor.authorize({ token: card.token, amountMinor: round.saleTotalMinor!, currency: itemClass.currency,
      postalCode: card.billingPostalCode, reference: id }, key), deadlineMs);
    if (notDone(a)) {
      if (a.failed === 'processor_unreachable') {
        await books.recordProblem({ workflowId: id, merchantId: null, kind: 'authorization_unknown', details: { key },
          message: `The processor did not answer the round's authorization (key ${key}) before the deadline; a hold it made, if any, is not used` });
      }
      round.authorizationFailed(a.failed, a.message);
      return false;
    }
    if (a.status !== 'approved') {
      round.authorizationFailed(a.declineCode ?? 'declined', `The card was declined (${a.declineCode ?? 'declined'})`);
      return false;
    }
    auth = { id: a.id, amountMinor: a.amountMinor, avsCode: a.avsCode, expiresAt: a.expiresAt! };
    if (avsDecision(CART_AVS_POLICY, a.avsCode) === 'reject') {
      await release('avs_rejected');
      round.authorizationFailed('avs_rejected', 'The billing address does not match the card');
      return false;
    }
    round.authorized(a.id);
    return true;
  }

  /** Voids the round's authorization (nothing of it captured); a failure is left to an operator. */
  async function release(why: string): Promise<void> {
    const a = auth!;
    const voided = await reachable(() => processor.voidAuthorization(a.id, `${id}:void:${a.id}`), deadlineMs);
    if (notDone(voided)) {
      await books.recordProblem({ workflowId: id, merchantId: null, kind: 'void_failed', details: { key: a.id },
        message: `Voiding ${a.id} (${why}) failed (${voided.failed}): the customer's funds stay held until it expires` });
    }
  }

  // --- the round -------------------------------------------------------------------------------------
  /** Opens the round (and reopens it once, sell first, when no bid was acceptable) until it has an outcome. */
  async function collect(): Promise<void> {
    for (;;) {
      // (quote first: the window runs from the request, unless the round started late)
      const now = Date.now();
      const from = input.mode === 'quote_first' && round.opening === 0 && now - input.requestedAtMs < 1000 ? input.requestedAtMs : now;
      const closesAtMs = round.opened(from);
      const closesAt = new Date(closesAtMs).toISOString();
      const maxAcceptable = input.mode === 'sell_first' ? maxAcceptableUnit(itemClass, round.saleUnitMinor!) : null;
      // (a reopened round runs its whole window: the bids that were not acceptable do not count toward enough)
      const enoughBids = round.opening === 1 ? itemClass.enoughBids : null;
      const opening: RoundOpening = { roundId, itemClassId: itemClass.id, quantity: input.quantity, closesAt, enoughBids,
        told: { groupKey: roundId, type: 'bid_round.opened', eventKey: `${roundId}:bid_round.opened:${round.opening}`,
          data: { roundId, mode: input.mode, itemClassId: itemClass.id, quantity: input.quantity, currency: itemClass.currency, closesAt,
            opening: round.opening, maxAcceptableUnitPriceMinor: maxAcceptable } } };
      const enough = ({ bidCount }: { bidCount: number }) => {
        if (enoughBids !== null && bidCount >= enoughBids) closeEarly = true; // (auto-bids alone are enough)
      };
      const closed = () => wf.condition(() => closeEarly && enoughBids !== null, Math.max(1, closesAtMs - Date.now()));
      if (input.mode === 'quote_first') {
        // A window of seconds: opened by activities beside its timer, which the server starts once this task completes
        // (local ones would hold the task, and so start the timer late by the time they took: the quote too).
        const opened = Promise.all([afterwards.openRound(opening).then(enough), save([], afterwards)]);
        await closed();
        await opened;
      } else {
        enough(await books.openRound(opening));
        await save();
        await closed();
      }
      closeEarly = false;
      const outcome = round.closed(await books.closeRound(roundId), Date.now());
      if (outcome !== 'reopen') return;
    }
  }

  /** Awards the best acceptable bid, and the next when a winner hands its share back; voids when none is left. */
  async function award(): Promise<void> {
    for (;;) {
      const next = round.nextAward((merchantId, n) => orderWorkflowId(merchantId, roundClientOrderId(roundId, n)));
      if (!next) {
        await release('no merchant left to supply it');
        return;
      }
      const a = round.award!;
      const order: OrderInput = {
        orderId: a.orderId, merchantId: next.merchantId, customerId: input.customerId, clientOrderId: roundClientOrderId(roundId, round.awards.length),
        priced: next.priced, shipping: address && next.priced.shippingOptionId ? { optionId: next.priced.shippingOptionId, address } : null,
        payment: payment!, policy: { ...input.policy, avsPolicy: CART_AVS_POLICY }, sharedAuthorization: auth!,
        authorizationOwner: id, supplyUnitMinor: next.supplyUnitMinor,
      };
      await books.claimCheckoutOrders([{ input: order, about: { roundId } }]);
      await startOnce<OrderWorkflow>('orderWorkflow', { workflowId: order.orderId, args: [order], typedSearchAttributes: orderStartAttributes(order) });
      await save([
        toMerchant(next.merchantId, 'bid_round.won', `${round.awards.length}`, { orderId: a.orderId, unitPriceMinor: a.unitPriceMinor,
          quantity: input.quantity, currency: itemClass.currency, deliveryDays: a.deliveryDays }),
        toRequester('purchase.awarded', { orderId: a.orderId, deliveryDays: a.deliveryDays }),
      ]);
      await wf.condition(() => reports.some((r) => r.orderId === a.orderId));
      const report = reports.find((r) => r.orderId === a.orderId)!;
      round.orderReported(report.orderId, report.event);
      if (round.state === 'fulfilling' || round.state === 'no_award') return; // (voided by the order: nothing to release)
    }
  }

  // --- the story -------------------------------------------------------------------------------------
  if (input.mode === 'sell_first') {
    await save();
    if (await authorize(payment!)) {
      await save([toRequester('purchase.authorized', { authorizationId: round.authorizationId, totalMinor: round.saleTotalMinor })]);
      await collect();
      await award();
    }
  } else {
    await collect();
    if (round.state === 'quoted') {
      await save([toRequester('quote.ready', { unitPriceMinor: round.saleUnitMinor, totalMinor: round.saleTotalMinor,
        currency: itemClass.currency, expiresAt: round.view().quoteExpiresAt })], afterwards);
    }
    // (an acceptance taken while the round saved a declined one is waiting: 'accepting')
    while (round.state === 'quoted' || round.state === 'accepting') {
      await wf.condition(() => asked !== null, Math.max(1, round.quoteExpiresAtMs! - Date.now()));
      const req = asked as AcceptRequest | null; // (set by the update's handler meanwhile)
      asked = null;
      if (!req) {
        round.expire(Date.now());
        continue;
      }
      payment = req.payment;
      address = req.address;
      if (await authorize(req.payment)) {
        await save([toRequester('purchase.authorized', { authorizationId: round.authorizationId, totalMinor: round.saleTotalMinor })]);
        await award();
      } else {
        await save([toRequester('purchase.authorization_failed', { failure: round.failure })]);
      }
    }
  }

  const end = round.view();
  const last = end.awards.at(-1);
  const told: BusinessEvent[] = round.losers().map((m) => toMerchant(m, 'bid_round.lost', `end:${m}`, { outcome: end.state }));
  if (end.state === 'fulfilling') told.push(toRequester('purchase.fulfilling', { orderId: last!.orderId }));
  else if (end.state === 'failed') told.push(toRequester('purchase.authorization_failed', { failure: end.failure }));
  else if (end.state === 'no_award') told.push(toRequester('purchase.cancelled', { failure: end.failure }));
  else if (end.state === 'no_quote') told.push(toRequester('quote.unavailable', { failure: end.failure }));
  else if (end.state === 'expired') told.push(toRequester('quote.expired'));
  await save(told);
  await wf.condition(wf.allHandlersFinished);
  return end;
}
