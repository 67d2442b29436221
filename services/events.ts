// Emitting a business event: the event object stored once (its id derives from its key, so a repeat is the same
// event, with its first time), then queued to each of the merchant's active endpoints that subscribes to its type,
// in its serialization group (so a merchant never receives "refunded" before "captured"), or to one endpoint only
// (a test event). Message ids derive from the endpoint and the event: a retried activity enqueues nothing twice.
import { createHash } from 'node:crypto';
import type { BusinessEvent } from '../domain/events';
import type { DeliveryStore } from '../stores/delivery';
import type { EventStore, StoredEvent } from '../stores/events';
import type { DeliveryService } from './delivery';

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 24);

export class EventService {
  constructor(private readonly events: EventStore, private readonly endpoints: DeliveryStore, private readonly delivery: DeliveryService) {}

  /** Stores the event and queues it (to `onlyTo` alone, when given); returns it and how many endpoints it was queued to. */
  async emit(e: BusinessEvent, onlyTo?: string): Promise<{ event: StoredEvent; queued: number }> {
    const event = await this.events.record({ id: `evt_${digest(e.eventKey)}`, merchantId: e.merchantId, type: e.type, data: e.data });
    const body = JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.data });
    const to = onlyTo !== undefined ? [onlyTo]
      : (await this.endpoints.activeEndpoints(e.merchantId)).filter((d) => !d.events || d.events.includes(e.type)).map((d) => d.id);
    for (const endpointId of to) {
      await this.delivery.enqueue({
        id: `msg_${digest(`${endpointId}\n${e.eventKey}`)}`, destinationId: endpointId, groupKey: e.groupKey, eventType: e.type, eventId: event.id, body,
      });
    }
    return { event, queued: to.length };
  }
}
