// The outbox of the processor's webhooks: an event is queued in the transaction of what it tells (a dispute opened
// or closed, a reservation expired), to the endpoint of the process that made the object, and the pump (pump.ts)
// delivers it. Its body is {id, type, createdAt, data: {object}} (ProcessorWebhookEvent), the same on every attempt.
import type { Knex } from 'knex';
import type { ProcessorWebhookEvent } from '../client';
import { iso, newId, type Row, T } from './common';

export type EventType = ProcessorWebhookEvent['type'];

/** Queues one event per object, each to its url (null: kept, never sent). */
export async function queueEvents(trx: Knex.Transaction, type: EventType,
  objects: Array<{ object: { id: string } & Record<string, unknown>; url: string | null }>): Promise<void> {
  if (objects.length === 0) return;
  const createdAt = new Date().toISOString();
  await trx(T('webhook_events')).insert(objects.map(({ object, url }) => {
    const id = newId('evt');
    return { id, type, object_id: object.id, url, payload: JSON.stringify({ id, type, createdAt, data: { object } }) };
  }));
}

export function webhookEventView(r: Row) {
  return {
    object: 'webhook_event', id: r.id, type: r.type, objectId: r.object_id, url: r.url ?? undefined, attempts: r.attempts,
    deliveredAt: iso(r.delivered_at), failedAt: iso(r.failed_at), lastError: r.last_error ?? undefined, payload: r.payload,
    createdAt: iso(r.created_at),
  };
}

/** Admin: the events about an object, oldest first. */
export async function eventsOf(db: Knex, objectId: string) {
  const rows = await db(T('webhook_events')).where({ object_id: objectId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(webhookEventView);
}
