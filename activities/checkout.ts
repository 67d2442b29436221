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
    /** Each order's row (so the merchant's key sees it at once), then the merchant's order.created event; in one activity. */
    async claimCheckoutOrders(claims: Array<{ input: OrderInput; created: BusinessEvent }>): Promise<void> {
      for (const { input, created } of claims) {
        await orders.claim({
          id: input.orderId, merchantId: input.merchantId, clientOrderId: input.clientOrderId, customerId: input.customerId,
          requestSha256: createHash('sha256').update(canonical(input)).digest(), currency: input.priced.currency,
          totalMinor: input.priced.totalMinor, input,
        });
        await events.emitEvent(created);
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
