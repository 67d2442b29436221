// Merchants' webhook endpoints (each with its signing secret, shown once) and the dead letters of ordered delivery,
// which operators (and the endpoint's merchant) list, redeliver or drop.
import { z } from 'zod';
import { EVENT_TYPES } from '../../domain/events';
import type { Services } from '../../services';
import { type DeadLetter, type Endpoint, MAX_ENDPOINTS_PER_MERCHANT } from '../../stores/delivery';
import { assertCanSee } from '../auth';
import { conflict, notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { listOperation } from '../paging';
import { nullableTimestamp, shownOnce, timestamp } from '../schemas';

const endpointSchema = z.object({
  id: z.string(), object: z.literal('webhook_endpoint'), merchantId: z.string().nullable(), url: z.string(), description: z.string().nullable(),
  events: z.array(z.string()).nullable().meta({ description: 'The event types sent (null: all)' }), onDeadLetter: z.enum(['hold', 'skip']),
  giveUpSeconds: z.number().int(), createdAt: timestamp, disabledAt: nullableTimestamp,
}).meta({ id: 'WebhookEndpoint' });
const deadLetterSchema = z.object({
  id: z.string(), object: z.literal('dead_letter'), destinationId: z.string(), url: z.string(), merchantId: z.string().nullable(),
  groupKey: z.string(), eventType: z.string().nullable(), attempts: z.number().int(), lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(), createdAt: timestamp, deadAt: timestamp,
}).meta({ id: 'DeadLetter' });

const endpointView = (d: Endpoint): z.infer<typeof endpointSchema> => ({
  id: d.id, object: 'webhook_endpoint', merchantId: d.merchantId, url: d.url, description: d.description, events: d.events,
  onDeadLetter: d.onDeadLetter, giveUpSeconds: d.giveUpSeconds, createdAt: d.createdAt.toISOString(), disabledAt: d.disabledAt?.toISOString() ?? null,
});
const deadLetterView = (m: DeadLetter): z.infer<typeof deadLetterSchema> => ({
  id: m.id, object: 'dead_letter', destinationId: m.destinationId, url: m.url, merchantId: m.merchantId, groupKey: m.groupKey,
  eventType: m.eventType, attempts: m.attempts, lastStatus: m.lastStatus, lastError: m.lastError, createdAt: m.createdAt.toISOString(),
  deadAt: m.deadAt.toISOString(),
});

export function webhookOperations(services: Services): Operation[] {
  const { delivery: store } = services.stores;
  const mine = (p: { kind: string; id: string }) => (p.kind === 'merchant' ? p.id : undefined);
  return [
    operation({
      method: 'post', path: '/webhook-endpoints', allow: ['merchant'], idempotency: 'stored',
      summary: 'Register a webhook endpoint (merchant); the response carries its signing secret, shown once',
      description: `Events: ${EVENT_TYPES.join(', ')}. Deliveries carry Standard Webhooks headers (webhook-id, webhook-timestamp, `
        + 'webhook-signature: v1,HMAC-SHA256 over id.timestamp.body); a redelivery keeps its webhook-id. Events of one order arrive in '
        + 'order. URLs must be http(s), without credentials; URLs on private or loopback addresses are refused unless the deployment '
        + 'allows them.',
      body: z.strictObject({
        url: z.string().min(1).max(2048).meta({ format: 'uri', description: 'http(s)://, without credentials' }),
        description: z.string().max(500).optional(),
        events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).optional().meta({ description: 'Default: all' }),
        onDeadLetter: z.enum(['hold', 'skip']).default('hold')
          .meta({ description: 'After a dead letter: hold the group (keeps order) or skip the message' }),
        giveUpSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional()
          .meta({ description: 'How long a message is retried before it is a dead letter' }),
      }),
      responses: { 201: { description: 'Created', schema: z.object({ ...endpointSchema.shape, secret: shownOnce('The signing secret (whsec_...)') }) } },
      async handler({ res, principal, body }) {
        const { endpoint, secret } = await services.endpoints.register(principal.id, body);
        res.locals.redactFields = ['secret'];
        res.status(201).json({ ...endpointView(endpoint), secret });
      },
    }),
    listOperation({ path: '/webhook-endpoints', summary: "The merchant's endpoints, newest first, a page at a time (operators: all)",
      allow: ['merchant', 'operator'], schema: endpointSchema, list: (req, principal) => store.listEndpoints(mine(principal), req), view: endpointView }),
    operation({
      method: 'patch', path: '/webhook-endpoints/:id', allow: ['merchant', 'operator'],
      summary: 'Change an endpoint: its URL, description, event types, dead-letter policy, give-up time, or enable or disable it',
      description: 'What is absent stays as it is. Messages already queued go to the URL as it is when they are tried. Enabling '
        + `counts against the ${MAX_ENDPOINTS_PER_MERCHANT} active endpoints a merchant may have.`,
      body: z.strictObject({
        url: z.string().min(1).max(2048).optional().meta({ format: 'uri', description: 'http(s)://, without credentials' }),
        description: z.string().max(500).nullable().optional(),
        events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).nullable().optional().meta({ description: 'null: all' }),
        onDeadLetter: z.enum(['hold', 'skip']).optional(),
        giveUpSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
        disabled: z.boolean().optional(),
      }),
      bodyRequired: false,
      responses: { 200: { description: 'Changed', schema: endpointSchema } },
      async handler({ res, principal, params, body }) {
        const e = await store.getEndpoint(params.id);
        assertCanSee(principal, e?.merchantId, 'webhook endpoint');
        res.locals.auditBefore = endpointView(e);
        res.json(endpointView((await services.endpoints.update(e.id, body))!));
      },
    }),
    operation({
      method: 'delete', path: '/webhook-endpoints/:id', summary: 'Disable an endpoint', allow: ['merchant', 'operator'],
      responses: { 200: { description: 'Disabled', schema: endpointSchema } },
      async handler({ res, principal, params }) {
        const e = await store.getEndpoint(params.id);
        assertCanSee(principal, e?.merchantId, 'webhook endpoint');
        res.locals.auditBefore = endpointView(e);
        res.json(endpointView((await store.disableEndpoint(e.id))!));
      },
    }),
    listOperation({ path: '/dead-letters', allow: ['merchant', 'operator'],
      summary: 'Messages that could not be delivered, newest first (operators: all; merchants: their endpoints)',
      description: 'A page at a time like every list; the created range is of when they became dead letters.',
      schema: deadLetterSchema, list: (req, principal) => store.deadLetters(mine(principal), req), view: deadLetterView }),
    ...(['redeliver', 'drop'] as const).map((action) => operation({
      method: 'post', path: `/dead-letters/:id/${action}`, allow: ['merchant', 'operator'], bodyRequired: false,
      summary: action === 'redeliver' ? 'Deliver a dead letter again (a held group then goes on in order)'
        : 'Drop a dead letter (a held group goes on without it)',
      responses: { 200: { description: action === 'redeliver' ? 'Queued' : 'Dropped', schema: z.object({
        id: z.string(), object: z.literal('dead_letter'), action: z.literal(action), state: z.enum(['queued', 'dropped']) }) } },
      async handler({ res, principal, params }) {
        const m = await store.messageOwner(params.id);
        assertCanSee(principal, m ? (m.merchantId ?? '') : undefined, 'dead letter');
        if (m!.state !== 'dead') throw conflict('not_a_dead_letter', `The message is ${m!.state}, not dead`);
        if (!(await services.delivery.resolveDeadLetter(params.id, action))) throw notFound('dead letter');
        res.json({ id: params.id, object: 'dead_letter', action, state: action === 'redeliver' ? 'queued' : 'dropped' });
      },
    })),
  ];
}
