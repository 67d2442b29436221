// Activities of the card order: processor calls (each with the idempotency key the workflow derived from its
// id and step) and the books (ledger postings, the orders read model, captures, the problems log). Each is
// safe to run twice.
import type { OrderView } from '../domain/order';
import { accounts } from '../ledger/accounts';
import type { Ledger } from '../ledger/ledger';
import type { Authorization, AuthorizeRequest, Capture, LineItem, ProcessorClient, Refund, VoidResult } from '../processors/client';

export type { Authorization } from '../processors/client';
import type { OrderStore } from '../stores/orders';
import type { ProblemInput, ProblemStore } from '../stores/problems';
import { processorCall } from './processorCall';
import type { BusinessEvent, WebhookEventActivities } from './webhookEvents';
import { metrics } from '../runtime/metrics';

export interface OrderActivityDeps {
  processor: ProcessorClient;
  ledger: Ledger;
  orders: OrderStore;
  problems: ProblemStore;
}

export interface CapturePosting {
  orderId: string;
  merchantId: string;
  captureId: string;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  /** What the processor charged for the capture (the broker's cost); absent when it did not say. */
  processorFeeMinor?: number;
}

export interface RefundPosting extends Omit<CapturePosting, 'processorFeeMinor'> {
  refundId: string;
}

/**
 * A capture's books, an order's or a hold's alike: cash in transit at the processor, owed to the merchant less the
 * broker's fee (one entry per capture), and the capture's row (settled, paid out and reconciled with the order's).
 */
export async function bookCapture(deps: { ledger: Ledger; orders: OrderStore },
  p: Omit<CapturePosting, 'orderId'>, of: { orderId: string } | { holdId: string }): Promise<void> {
  const { ledger, orders } = deps;
  const a = accounts(p.currency, p.merchantId);
  await Promise.all([ledger.openAccount(a.clearing), ledger.openAccount(a.merchant), ledger.openAccount(a.fees)]);
  await ledger.post({
    idempotencyKey: `capture:${p.captureId}`,
    description: 'orderId' in of ? `capture ${p.captureId} of order ${of.orderId}` : `capture ${p.captureId} of hold ${of.holdId}`,
    metadata: { ...of, captureId: p.captureId },
    postings: [
      { accountId: a.clearing.id, amountMinor: p.amountMinor, currency: p.currency },
      { accountId: a.merchant.id, amountMinor: -(p.amountMinor - p.feeMinor), currency: p.currency },
      { accountId: a.fees.id, amountMinor: -p.feeMinor, currency: p.currency },
    ].filter((x) => x.amountMinor !== 0),
  });
  if (p.processorFeeMinor) {
    // (the processor keeps its fee out of the cash it owes: a cost of the broker's, lower for captures with line items)
    await ledger.openAccount(a.processorFees);
    await ledger.post({
      idempotencyKey: `processor-fee:${p.captureId}`, description: `the processor's fee on capture ${p.captureId}`, metadata: { ...of, captureId: p.captureId },
      postings: [
        { accountId: a.processorFees.id, amountMinor: p.processorFeeMinor, currency: p.currency },
        { accountId: a.clearing.id, amountMinor: -p.processorFeeMinor, currency: p.currency },
      ],
    });
  }
  await orders.addCapture({ id: p.captureId, orderId: 'orderId' in of ? of.orderId : null, holdId: 'holdId' in of ? of.holdId : undefined,
    merchantId: p.merchantId, currency: p.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor });
}

/** A refund's books, of an order's capture or a hold's: the reverse of the capture's entry in the refund's proportion, and its row. */
export async function bookRefund(deps: { ledger: Ledger; orders: OrderStore }, p: Omit<RefundPosting, 'orderId'>,
  of: { orderId: string } | { holdId: string }): Promise<void> {
  const { ledger, orders } = deps;
  const a = accounts(p.currency, p.merchantId);
  await ledger.post({
    idempotencyKey: `refund:${p.refundId}`,
    description: `refund ${p.refundId} of capture ${p.captureId}, ${'orderId' in of ? `order ${of.orderId}` : `hold ${of.holdId}`}`,
    metadata: { ...of, captureId: p.captureId, refundId: p.refundId },
    postings: [
      { accountId: a.clearing.id, amountMinor: -p.amountMinor, currency: p.currency },
      { accountId: a.merchant.id, amountMinor: p.amountMinor - p.feeMinor, currency: p.currency },
      { accountId: a.fees.id, amountMinor: p.feeMinor, currency: p.currency },
    ].filter((x) => x.amountMinor !== 0),
  });
  await orders.addCardRefund({ id: p.refundId, captureId: p.captureId, merchantId: p.merchantId, currency: p.currency,
    amountMinor: p.amountMinor, feeMinor: p.feeMinor });
}

export function createOrderActivities(deps: OrderActivityDeps) {
  const { processor, ledger, orders, problems } = deps;
  return {
    async authorize(req: AuthorizeRequest, idempotencyKey: string): Promise<Authorization> {
      return processorCall(() => processor.authorize(req, idempotencyKey));
    },
    async capture(authorizationId: string, amountMinor: number, idempotencyKey: string, lineItems?: LineItem[]): Promise<Capture> {
      return processorCall(() => processor.capture(authorizationId, amountMinor, idempotencyKey, lineItems));
    },
    /** The whole uncaptured rest, or amountMinor of it (a merchant's share of a shared authorization). */
    async voidAuthorization(authorizationId: string, idempotencyKey: string, amountMinor?: number): Promise<VoidResult> {
      return processorCall(() => processor.void(authorizationId, idempotencyKey, amountMinor));
    },
    async refund(captureId: string, amountMinor: number, idempotencyKey: string): Promise<Refund> {
      return processorCall(() => processor.refund(captureId, amountMinor, idempotencyKey));
    },
    async reauthorize(authorizationId: string, amountMinor: number, idempotencyKey: string): Promise<Authorization> {
      return processorCall(() => processor.reauthorize(authorizationId, amountMinor, idempotencyKey));
    },
    /** The customer's step-up authentication ended: the processor approves or declines the authorization with the result. */
    async completeAuthentication(authorizationId: string, result: { authenticated: boolean; authenticationId: string }, idempotencyKey: string): Promise<Authorization> {
      return processorCall(() => processor.completeAuthentication(authorizationId, result, idempotencyKey));
    },

    /** Cash in transit at the processor, owed to the merchant less the broker's fee; and the capture's row. */
    async postCapture(p: CapturePosting): Promise<void> {
      await bookCapture({ ledger, orders }, p, { orderId: p.orderId });
    },

    /** The reverse of a capture's posting, in the refund's proportion; and the refund's row. */
    async postRefund(p: RefundPosting): Promise<void> {
      await bookRefund({ ledger, orders }, p, { orderId: p.orderId });
    },

    async saveOrder(view: OrderView): Promise<void> {
      const previous = await orders.save(view);
      // (a retried save finds the state it saved: counted once)
      if (previous !== undefined && previous !== view.state) metrics.orderTransitions.inc({ from: previous, to: view.state });
    },

    /** Every failure that needs a person (the problems log). */
    async recordProblem(p: ProblemInput): Promise<void> {
      await problems.record(p);
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;

/** What one step of an order writes: its postings, its business events and the order as it now is. */
export interface OrderBooks {
  captures: CapturePosting[];
  refunds: RefundPosting[];
  events: BusinessEvent[];
  view: OrderView;
}

/** One activity for a step's books: postings first, then events (in order), then the read model; each idempotent. */
export function createOrderBooksActivity(orders: OrderActivities, events: WebhookEventActivities) {
  return {
    async commitOrderBooks(b: OrderBooks): Promise<void> {
      for (const c of b.captures) await orders.postCapture(c);
      for (const r of b.refunds) await orders.postRefund(r);
      for (const e of b.events) await events.emitEvent(e);
      await orders.saveOrder(b.view);
    },
  };
}
export type OrderBooksActivity = ReturnType<typeof createOrderBooksActivity>;
