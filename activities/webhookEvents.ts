// Business events to merchants' webhook endpoints: each event goes to every active endpoint of the merchant
// that subscribes to its type, in the serialization group of its order, so a merchant never receives
// "refunded" before "captured". The event and message ids derive from the event's key: a retried activity
// enqueues nothing twice.
import { createHash } from 'node:crypto';
import { enqueueMessage, type DeliveryQueueDeps } from './deliveryQueue';

export const ORDER_EVENT_TYPES = ['order.authorized', 'order.captured', 'order.voided', 'order.refunded', 'order.needs_attention'] as const;
export const SETTLEMENT_EVENT_TYPES = ['settlement.credit_paid'] as const;
export const EVENT_TYPES = [...ORDER_EVENT_TYPES, ...SETTLEMENT_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface BusinessEvent {
  merchantId: string;
  /** The serialization group: events with one key reach an endpoint in the order they were emitted. */
  groupKey: string;
  type: EventType;
  /** Unique per event (e.g. order id + what happened + the processor's id). */
  eventKey: string;
  data: Record<string, unknown>;
}

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 24);

export function createWebhookEventActivities(deps: DeliveryQueueDeps) {
  return {
    async emitEvent(e: BusinessEvent): Promise<number> {
      const endpoints: Array<{ id: string; events: string[] | null }> = await deps.db('delivery_destinations')
        .where({ merchant_id: e.merchantId }).whereNull('disabled_at').select('id', 'events');
      const eventId = `evt_${digest(e.eventKey)}`;
      const body = JSON.stringify({ id: eventId, type: e.type, createdAt: new Date().toISOString(), data: e.data });
      let queued = 0;
      for (const endpoint of endpoints) {
        if (endpoint.events && !endpoint.events.includes(e.type)) continue;
        await enqueueMessage(deps, {
          id: `msg_${digest(`${endpoint.id}\n${e.eventKey}`)}`, destinationId: endpoint.id, groupKey: e.groupKey, eventType: e.type, body,
        });
        queued++;
      }
      return queued;
    },
  };
}

export type WebhookEventActivities = ReturnType<typeof createWebhookEventActivities>;
