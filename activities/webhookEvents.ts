// Business events to merchants' webhook endpoints: each event goes to every active endpoint of the merchant
// that subscribes to its type, in the serialization group of its order, so a merchant never receives
// "refunded" before "captured". The event and message ids derive from the event's key: a retried activity
// enqueues nothing twice.
import { createHash } from 'node:crypto';
import type { DeliveryService } from '../services/delivery';
import type { DeliveryStore } from '../stores/delivery';
import type { BusinessEvent } from '../domain/events';

export type { BusinessEvent } from '../domain/events';

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 24);

export function createWebhookEventActivities(deps: { endpoints: DeliveryStore; delivery: DeliveryService }) {
  return {
    /** Queues the event to each subscribed endpoint; returns how many it was queued to. */
    async emitEvent(e: BusinessEvent): Promise<number> {
      const eventId = `evt_${digest(e.eventKey)}`;
      const body = JSON.stringify({ id: eventId, type: e.type, createdAt: new Date().toISOString(), data: e.data });
      let queued = 0;
      for (const endpoint of await deps.endpoints.activeEndpoints(e.merchantId)) {
        if (endpoint.events && !endpoint.events.includes(e.type)) continue;
        await deps.delivery.enqueue({
          id: `msg_${digest(`${endpoint.id}\n${e.eventKey}`)}`, destinationId: endpoint.id, groupKey: e.groupKey, eventType: e.type, body,
        });
        queued++;
      }
      return queued;
    },
  };
}

export type WebhookEventActivities = ReturnType<typeof createWebhookEventActivities>;
