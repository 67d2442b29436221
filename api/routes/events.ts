// Events as objects (Stripe's): every business event sent to merchants' webhook endpoints, kept 30 days whether
// or not anyone received it. A merchant sees its own; operators see every merchant's.
import { z } from 'zod';
import { EVENT_TYPES } from '../../domain/events';
import type { Services } from '../../services';
import { EVENT_RETENTION_DAYS, type StoredEvent } from '../../stores/events';
import { assertCanSee } from '../auth';
import { type Operation, operation } from '../operations';
import { listedFor, pageAnswer, pageRequest } from '../paging';
import { pageOf, pageQuery, timestamp } from '../schemas';

export const eventSchema = z.object({
  id: z.string().meta({ description: 'The webhook body\'s id (evt_...)' }), object: z.literal('event'),
  type: z.string().meta({ description: `One of ${EVENT_TYPES.join(', ')}` }), merchantId: z.string(),
  createdAt: timestamp, data: z.record(z.string(), z.unknown()),
}).meta({ id: 'Event' });

export const eventView = (e: StoredEvent): z.infer<typeof eventSchema> => ({
  id: e.id, object: 'event', type: e.type, merchantId: e.merchantId, createdAt: e.createdAt.toISOString(), data: e.data,
});

export function eventOperations(services: Services): Operation[] {
  const { events } = services.stores;
  return [
    operation({
      method: 'get', path: '/events', allow: ['merchant', 'buyer_app', 'operator'],
      summary: "Events, newest first, a page at a time: your own (a merchant's or a buyer app's; operators: everyone's, or one's)",
      description: `Each event as its webhooks carry it (id, type, createdAt, data) with its merchantId; kept ${EVENT_RETENTION_DAYS} days.`,
      query: z.strictObject({
        ...pageQuery,
        type: z.enum(EVENT_TYPES).optional().meta({ description: 'Only events of this type' }),
        merchantId: z.string().min(1).max(200).optional().meta({ description: "Operators: only this merchant's events" }),
      }),
      responses: { 200: { description: 'OK', schema: pageOf(eventSchema) } },
      async handler({ res, principal, query }) {
        const page = await events.list({ ...pageRequest(query), type: query.type, merchantId: listedFor(principal, query.merchantId, 'merchantId') });
        res.json(pageAnswer(page, eventView));
      },
    }),
    operation({
      method: 'get', path: '/events/:id', allow: ['merchant', 'buyer_app', 'operator'],
      summary: `An event (its merchant, operators); 404 once it is older than ${EVENT_RETENTION_DAYS} days and purged`,
      responses: { 200: { description: 'OK', schema: eventSchema } },
      async handler({ res, principal, params }) {
        const e = await events.get(params.id);
        assertCanSee(principal, e?.merchantId, 'event');
        res.json(eventView(e));
      },
    }),
  ];
}
