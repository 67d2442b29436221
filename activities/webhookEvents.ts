// Business events to merchants' webhook endpoints (services/events.ts): each stored as an event object and queued to
// every active endpoint of the merchant that subscribes to its type; safe to repeat.
import type { BusinessEvent } from '../domain/events';
import type { EventService } from '../services/events';

export type { BusinessEvent } from '../domain/events';

export function createWebhookEventActivities(deps: { events: EventService }) {
  return {
    /** Stores the event and queues it to each subscribed endpoint; returns how many it was queued to. */
    async emitEvent(e: BusinessEvent): Promise<number> {
      return (await deps.events.emit(e)).queued;
    },
  };
}

export type WebhookEventActivities = ReturnType<typeof createWebhookEventActivities>;
