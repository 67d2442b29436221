// Activities of checkout sessions and carts: the rows of the orders they start (written before each order's workflow,
// as the API writes an order's) with the merchant's order.created event, and their own rows. Each is safe to repeat.
import { createHash } from 'node:crypto';
import type { CartView } from '../domain/cart';
import type { CheckoutSessionView } from '../domain/checkout';
import { canonical } from '../domain/canonical';
import type { OrderInput } from '../domain/order';
import type { CheckoutStore } from '../stores/checkout';
import type { OrderStore } from '../stores/orders';
import type { BusinessEvent, WebhookEventActivities } from './webhookEvents';

export function createCheckoutActivities(deps: { checkout: CheckoutStore; orders: OrderStore; events: WebhookEventActivities }) {
  const { checkout, orders, events } = deps;
  return {
    /**
     * Each order's row (so the merchant's key sees it at once), then the merchant's order.created event (saying what
     * made the order: `about`, a session's or a cart's id); in one activity.
     */
    async claimCheckoutOrders(claims: Array<{ input: OrderInput; about: Record<string, string> }>): Promise<void> {
      for (const { input, about } of claims) {
        const claim = await orders.claim({
          id: input.orderId, merchantId: input.merchantId, clientOrderId: input.clientOrderId, customerId: input.customerId,
          requestSha256: createHash('sha256').update(canonical(input)).digest(), currency: input.priced.currency,
          totalMinor: input.priced.totalMinor, input,
        });
        // (the broker's order names are refused to merchants, so another order under this id is a broken invariant)
        if (claim === 'different') throw new Error(`order ${input.orderId} exists with another request: the broker's order ids are not unique`);
        // (in the order's own group, so it reaches the merchant before the order's events)
        await events.emitEvent({ merchantId: input.merchantId, groupKey: input.orderId, type: 'order.created', eventKey: `${input.orderId}:order.created:created`,
          data: { ...about, orderId: input.orderId, clientOrderId: input.clientOrderId, totalMinor: input.priced.totalMinor, currency: input.priced.currency } });
      }
    },
    async saveCheckoutSession(view: CheckoutSessionView, emitted: BusinessEvent[]): Promise<void> {
      for (const e of emitted) await events.emitEvent(e);
      await checkout.saveSession(view);
    },
    async saveCart(view: CartView): Promise<void> {
      await checkout.saveCart(view);
    },
  };
}

export type CheckoutActivities = ReturnType<typeof createCheckoutActivities>;
