// Merchants' webhook endpoints (each with its signing secret, shown once, and rotated with an overlap), their
// delivery attempts and test events, and the dead letters of ordered delivery, which operators (and the endpoint's
// merchant) list, redeliver or drop.
import { z } from 'zod';
import { EVENT_TYPES, TEST_EVENT_TYPE } from '../../domain/events';
import type { Services } from '../../services';
import { type Attempt, type DeadLetter, type Endpoint, MAX_ENDPOINTS_PER_MERCHANT } from '../../stores/delivery';
import type { Principal } from '../../stores/principals';
import { assertCanSee } from '../auth';
import { conflict, notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { listOperation, pageAnswer, pageRequest } from '../paging';
import { nullableTimestamp, pageOf, pageQuery, shownOnce, timestamp } from '../schemas';
import { eventSchema, eventView } from './events';

/** The longest a rotated-out secret may go on signing. */
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600;

const endpointSchema = z.object({
  id: z.string(), object: z.literal('webhook_endpoint'), merchantId: z.string().nullable(), url: z.string(), description: z.string().nullable(),
  events: z.array(z.string()).nullable().meta({ description: 'The event types sent (null: all)' }), onDeadLetter: z.enum(['hold', 'skip']),
  giveUpSeconds: z.number().int(), createdAt: timestamp, disabledAt: nullableTimestamp,
  previousSecretExpiresAt: nullableTimestamp.meta({ description: 'Until when the secret before the last rotation also signs' }),
}).meta({ id: 'WebhookEndpoint' });
const withSecret = z.object({ ...endpointSchema.shape, secret: shownOnce('The signing secret (whsec_...)') });
const attemptSchema = z.object({
  id: z.string(), object: z.literal('webhook_attempt'), endpointId: z.string(), messageId: z.string().meta({ description: 'The webhook-id' }),
  eventId: z.string().nullable(), attempt: z.number().int().meta({ description: "1 for the message's first attempt" }),
  outcome: z.enum(['delivered', 'retry', 'permanent'])
    .meta({ description: 'delivered (2xx); retry (no answer, 408, 429, 5xx: tried again until the give-up time); permanent (another answer: a dead letter)' }),
  status: z.number().int().nullable().meta({ description: "The endpoint's HTTP status (null: no answer)" }),
  error: z.string().nullable().meta({ description: 'What went wrong: the network error, or HTTP <status>' }),
  latencyMs: z.number().int().nullable().meta({ description: 'From sending to the answer or the error (null: nothing was sent)' }),
  createdAt: timestamp,
}).meta({ id: 'WebhookAttempt' });
const deadLetterSchema = z.object({
  id: z.string(), object: z.literal('dead_letter'), destinationId: z.string(), url: z.string(), merchantId: z.string().nullable(),
  groupKey: z.string(), eventType: z.string().nullable(), attempts: z.number().int(), lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(), createdAt: timestamp, deadAt: timestamp,
}).meta({ id: 'DeadLetter' });

const endpointView = (d: Endpoint): z.infer<typeof endpointSchema> => ({
  id: d.id, object: 'webhook_endpoint', merchantId: d.merchantId, url: d.url, description: d.description, events: d.events,
  onDeadLetter: d.onDeadLetter, giveUpSeconds: d.giveUpSeconds, createdAt: d.createdAt.toISOString(), disabledAt: d.disabledAt?.toISOString() ?? null,
  previousSecretExpiresAt: d.previousSecretExpiresAt?.toISOString() ?? null,
});
const attemptView = (a: Attempt): z.infer<typeof attemptSchema> => ({
  id: a.id, object: 'webhook_attempt', endpointId: a.destinationId, messageId: a.messageId, eventId: a.eventId, attempt: a.attempt,
  outcome: a.outcome, status: a.status, error: a.error, latencyMs: a.latencyMs, createdAt: a.createdAt.toISOString(),
});
const deadLetterView = (m: DeadLetter): z.infer<typeof deadLetterSchema> => ({
  id: m.id, object: 'dead_letter', destinationId: m.destinationId, url: m.url, merchantId: m.merchantId, groupKey: m.groupKey,
  eventType: m.eventType, attempts: m.attempts, lastStatus: m.lastStatus, lastError: m.lastError, createdAt: m.createdAt.toISOString(),
  deadAt: m.deadAt.toISOString(),
});

export function webhookOperations(services: Services): Operation[] {
  const { delivery: store } = services.stores;
  const mine = (p: { kind: string; id: string }) => (p.kind === 'operator' ? undefined : p.id);
  /** The endpoint, when this principal may see it (else 404). */
  const visibleEndpoint = async (principal: Principal, id: string): Promise<Endpoint & { merchantId: string }> => {
    const e = await store.getEndpoint(id);
    assertCanSee(principal, e?.merchantId, 'webhook endpoint');
    return { ...e, merchantId: e.merchantId };
  };
  return [
    operation({
      method: 'post', path: '/webhook-endpoints', allow: ['merchant', 'buyer_app'], idempotency: 'stored',
      summary: 'Register a webhook endpoint (a merchant, or a buyer app for its purchases and quotes); the response carries its signing secret, shown once',
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
      responses: { 201: { description: 'Created', schema: withSecret } },
      async handler({ res, principal, body }) {
        const { endpoint, secret } = await services.endpoints.register(principal.id, body);
        res.locals.redactFields = ['secret'];
        res.status(201).json({ ...endpointView(endpoint), secret });
      },
    }),
    listOperation({ path: '/webhook-endpoints', summary: "The merchant's endpoints, newest first, a page at a time (operators: all)",
      allow: ['merchant', 'buyer_app', 'operator'], schema: endpointSchema, list: (req, principal) => store.listEndpoints(mine(principal), req), view: endpointView }),
    operation({
      method: 'patch', path: '/webhook-endpoints/:id', allow: ['merchant', 'buyer_app', 'operator'],
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
        const e = await visibleEndpoint(principal, params.id);
        res.locals.auditBefore = endpointView(e);
        res.json(endpointView((await services.endpoints.update(e.id, body))!));
      },
    }),
    operation({
      method: 'delete', path: '/webhook-endpoints/:id', summary: 'Disable an endpoint', allow: ['merchant', 'buyer_app', 'operator'],
      responses: { 200: { description: 'Disabled', schema: endpointSchema } },
      async handler({ res, principal, params }) {
        const e = await visibleEndpoint(principal, params.id);
        res.locals.auditBefore = endpointView(e);
        res.json(endpointView((await store.disableEndpoint(e.id))!));
      },
    }),
    operation({
      method: 'post', path: '/webhook-endpoints/:id/rotate-secret', allow: ['merchant', 'buyer_app', 'operator'], idempotency: 'stored', bodyRequired: false,
      summary: 'Replace the signing secret; the response carries the new one, shown once',
      description: 'Deliveries are signed with both the new and the old secret (two space-separated v1 signatures in webhook-signature) '
        + 'for overlapSeconds, then with the new one alone. A rotation during an overlap ends the older secret\'s at once.',
      body: z.strictObject({
        overlapSeconds: z.number().int().min(0).max(MAX_SECRET_OVERLAP_SECONDS).default(24 * 3600)
          .meta({ description: 'How long the old secret also signs (default 1 day; 0: not at all)' }),
      }),
      responses: { 200: { description: 'Rotated', schema: withSecret } },
      async handler({ res, principal, params, body }) {
        const e = await visibleEndpoint(principal, params.id);
        const rotated = await services.endpoints.rotateSecret(e.id, body.overlapSeconds);
        if (!rotated) throw notFound('webhook endpoint'); // (deleted meanwhile)
        const { endpoint, secret } = rotated;
        res.locals.redactFields = ['secret'];
        res.json({ ...endpointView(endpoint), secret });
      },
    }),
    operation({
      method: 'post', path: '/webhook-endpoints/:id/test', allow: ['merchant', 'buyer_app', 'operator'], idempotency: 'stored', bodyRequired: false,
      summary: `Send a ${TEST_EVENT_TYPE} event to this endpoint alone`,
      description: 'The event goes through the same ordered delivery as every event (its attempts are listed with the endpoint\'s), '
        + 'whatever event types the endpoint subscribes to; its data is { endpointId }. A disabled endpoint is refused (409 endpoint_disabled).',
      responses: { 202: { description: 'Queued: the event', schema: eventSchema } },
      async handler({ req, res, principal, params }) {
        const e = await visibleEndpoint(principal, params.id);
        if (e.disabledAt) throw conflict('endpoint_disabled', 'The endpoint is disabled; enable it to send it a test event');
        const { event } = await services.events.emit({ merchantId: e.merchantId, groupKey: TEST_EVENT_TYPE, type: TEST_EVENT_TYPE,
          eventKey: `test:${e.id}:${principal.id}:${req.get('idempotency-key')}`, data: { endpointId: e.id } }, e.id);
        res.status(202).json(eventView(event));
      },
    }),
    operation({
      method: 'get', path: '/webhook-endpoints/:id/attempts', allow: ['merchant', 'buyer_app', 'operator'],
      summary: "The endpoint's delivery attempts, newest first, a page at a time (its merchant, operators)",
      query: z.strictObject(pageQuery),
      responses: { 200: { description: 'OK', schema: pageOf(attemptSchema) } },
      async handler({ res, principal, params, query }) {
        const e = await visibleEndpoint(principal, params.id);
        res.json(pageAnswer(await store.attempts(e.id, pageRequest(query)), attemptView));
      },
    }),
    listOperation({ path: '/dead-letters', allow: ['merchant', 'buyer_app', 'operator'],
      summary: 'Messages that could not be delivered, newest first (operators: all; merchants: their endpoints)',
      description: 'A page at a time like every list; the created range is of when they became dead letters.',
      schema: deadLetterSchema, list: (req, principal) => store.deadLetters(mine(principal), req), view: deadLetterView }),
    ...(['redeliver', 'drop'] as const).map((action) => operation({
      method: 'post', path: `/dead-letters/:id/${action}`, allow: ['merchant', 'buyer_app', 'operator'], bodyRequired: false,
      summary: action === 'redeliver' ? 'Deliver a dead letter again (a held group then goes on in order)'
        : 'Drop a dead letter (a held group goes on without it)',
      responses: { 200: { description: action === 'redeliver' ? 'Queued' : 'Dropped', schema: z.object({
        id: z.string(), object: z.literal('dead_letter'), action: z.literal(action), state: z.enum(['queued', 'dropped']) }) } },
      async handler({ res, principal, params }) {
        const m = await store.messageOwner(params.id);
        assertCanSee(principal, m ? (m.merchantId ?? '') : undefined, 'dead letter');
        if (m!.state !== 'dead') throw conflict('not_a_dead_letter', `The message is ${m!.state}, not dead`);
        if (!(await services.delivery.resolveDeadLetter(params.id, action))) throw notFound('dead letter');
        await services.problems.deadLetterResolved(params.id, principal.id, action);
        res.json({ id: params.id, object: 'dead_letter', action, state: action === 'redeliver' ? 'queued' : 'dropped' });
      },
    })),
  ];
}
