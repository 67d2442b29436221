// A checkout session: open until its expiry; each payment starts an order (a child that outlives the session) whose
// authorization decides the attempt: paid completes the session (once) and tells the merchant; declined reopens it
// for another card. The rules (what a payment may be, what an outcome does) live in domain/checkout.ts.
import * as wf from '@temporalio/workflow';
import type { CheckoutActivities } from '../activities/checkout';
import type { BusinessEvent } from '../activities/webhookEvents';
import { CheckoutError, CheckoutSession, type CheckoutSessionInput, type CheckoutSessionView, type PayRequest } from '../domain/checkout';
import type { OrderInput } from '../domain/order';
import type { PricedOrder } from '../domain/pricing';
import { UNTIL_WRITTEN } from './activityOptions';
import { startOnce } from './children';
import { refusedAs } from './refusal';
import { payUpdate, sessionQuery } from './checkoutSession.contract';
import { orderDecidedSignal, orderStartAttributes, type OrderWorkflow, orderWorkflowId } from './order.contract';

/** The session's books (its row, the order's row, webhook events): PostgreSQL writes, retried until they are done. */
const books = wf.proxyLocalActivities<CheckoutActivities>(UNTIL_WRITTEN);

/** What the merchant hears when the session ends, by how it ended. */
const ENDED = { completed: 'checkout.session.completed', expired: 'checkout.session.expired', failed: 'checkout.session.failed' } as const;

export async function checkoutSessionWorkflow(input: CheckoutSessionInput): Promise<CheckoutSessionView> {
  const session = new CheckoutSession(input);
  const toStart: Array<{ req: PayRequest; priced: PricedOrder; orderId: string; clientOrderId: string }> = [];

  wf.setHandler(sessionQuery, () => session.view());
  wf.setHandler(orderDecidedSignal, (d) => session.decided(d.orderId, { state: d.state, failure: d.failure }, Date.now()));
  wf.setHandler(payUpdate, async (req): Promise<CheckoutSessionView> => {
    const priced = session.admitPay(req, Date.now());
    if (priced) {
      const { clientOrderId } = session.nextAttempt();
      const orderId = orderWorkflowId(input.merchantId, clientOrderId);
      session.startAttempt(orderId);
      toStart.push({ req, priced, orderId, clientOrderId });
    }
    await wf.condition(() => session.state !== 'processing');
    return session.view();
  }, { validator: (req) => refusedAs(CheckoutError, () => session.admitPay(req, Date.now())) });

  const event = (type: BusinessEvent['type'], groupKey: string, key: string, data: Record<string, unknown>): BusinessEvent =>
    ({ merchantId: input.merchantId, groupKey, type, eventKey: `${groupKey}:${type}:${key}`, data: { sessionId: input.sessionId, ...data } });

  async function startOrder(s: (typeof toStart)[number]): Promise<void> {
    const { req } = s;
    const order: OrderInput = {
      orderId: s.orderId, merchantId: input.merchantId, customerId: input.customerId, clientOrderId: s.clientOrderId, priced: s.priced,
      shipping: req.address && s.priced.shippingOptionId ? { optionId: s.priced.shippingOptionId, address: req.address } : null,
      payment: { token: req.token, billingPostalCode: req.billingPostalCode }, policy: input.policy,
      parentWorkflowId: wf.workflowInfo().workflowId,
    };
    await books.claimCheckoutOrders([{ input: order, about: { sessionId: input.sessionId } }]);
    await startOnce<OrderWorkflow>('orderWorkflow', { workflowId: s.orderId, args: [order], typedSearchAttributes: orderStartAttributes(order) });
  }

  let saved = '';
  const save = async (events: BusinessEvent[] = []) => {
    const view = session.view();
    const shown = JSON.stringify(view);
    if (shown === saved && events.length === 0) return;
    saved = shown;
    await books.saveCheckoutSession(view, events);
  };

  while (!session.isFinal) {
    const next = toStart.shift();
    if (next) {
      await save();
      await startOrder(next);
      continue;
    }
    if (session.state === 'open') {
      await wf.condition(() => toStart.length > 0 || session.state !== 'open', Math.max(1, session.expiresAtMs - Date.now()));
      session.expire(Date.now());
    } else {
      await wf.condition(() => toStart.length > 0 || session.state !== 'processing');
    }
    await save();
  }
  const end = session.view();
  await save([event(ENDED[end.state as keyof typeof ENDED], input.sessionId, end.state, { orderId: end.orderId, state: end.state })]);
  await wf.condition(wf.allHandlersFinished);
  return end;
}
