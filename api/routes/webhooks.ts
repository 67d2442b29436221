// Merchants' webhook endpoints (each with its signing secret, shown once) and the dead letters of ordered
// delivery, which operators (and the endpoint's merchant) list, redeliver or drop.
import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { EVENT_TYPES } from '../../activities/webhookEvents';
import { resolveDeadLetter, type DeliveryQueueDeps } from '../../activities/deliveryQueue';
import { newWebhookSecret } from '../../webhooks/signature';
import { validateWebhookUrl, WebhookUrlError } from '../../webhooks/url';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, badRequest, notFound } from '../errors';
import { idempotent } from '../idempotency';
import { parseBody, pathId } from '../validation';

export const MAX_ENDPOINTS_PER_MERCHANT = 10;
export const MAX_DEAD_LETTERS_PAGE = 200;

export interface WebhookRouteDeps extends DeliveryQueueDeps {
  allowPrivate: boolean;
  /** Default give-up time for new endpoints. */
  giveUpMs: number;
}

const endpointBody = z.strictObject({
  url: z.string().min(1).max(2048),
  description: z.string().max(500).optional(),
  events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).optional(),
  onDeadLetter: z.enum(['hold', 'skip']).default('hold'),
  giveUpSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
});
const listQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(MAX_DEAD_LETTERS_PAGE).default(50) });

const endpointView = (d: Record<string, any>) => ({
  id: d.id, object: 'webhook_endpoint', merchantId: d.merchant_id, url: d.url, description: d.description,
  events: d.events, onDeadLetter: d.on_dead_letter, giveUpSeconds: d.give_up_seconds,
  createdAt: d.created_at.toISOString(), disabledAt: d.disabled_at?.toISOString() ?? null,
});

export function webhookRoutes(deps: WebhookRouteDeps): Router {
  const { db } = deps;
  const r = Router();

  r.post('/webhook-endpoints', allow('merchant'), idempotent(db), async (req, res) => {
    const merchantId = principalOf(res).id;
    const body = parseBody(endpointBody, req);
    try {
      await validateWebhookUrl(body.url, { allowPrivate: deps.allowPrivate });
    } catch (err) {
      if (err instanceof WebhookUrlError) throw new ApiError(422, 'unprocessable_error', err.code, err.message, 'url');
      throw err;
    }
    const active = await db('delivery_destinations').where({ merchant_id: merchantId }).whereNull('disabled_at').count({ n: '*' }).first();
    if (Number(active!.n) >= MAX_ENDPOINTS_PER_MERCHANT) {
      throw new ApiError(422, 'unprocessable_error', 'too_many_endpoints', `A merchant may have at most ${MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints`);
    }
    const secret = newWebhookSecret();
    const [row] = await db('delivery_destinations').insert({
      id: `we_${randomBytes(12).toString('hex')}`, merchant_id: merchantId, url: body.url, description: body.description ?? null,
      secret, events: body.events ?? null, on_dead_letter: body.onDeadLetter,
      give_up_seconds: body.giveUpSeconds ?? Math.ceil(deps.giveUpMs / 1000),
    }).returning('*');
    res.locals.idempotencyRedact = ['secret'];
    res.status(201).json({ ...endpointView(row), secret });
  });

  r.get('/webhook-endpoints', allow('merchant', 'operator'), async (_req, res) => {
    const p = principalOf(res);
    const q = db('delivery_destinations').orderBy('created_at', 'desc').limit(100);
    if (p.kind === 'merchant') q.where({ merchant_id: p.id });
    res.json({ object: 'list', data: (await q).map(endpointView) });
  });

  r.delete('/webhook-endpoints/:id', allow('merchant', 'operator'), async (req, res) => {
    const row = await db('delivery_destinations').where({ id: pathId(req, 'id') }).first();
    assertCanSee(principalOf(res), row?.merchant_id, 'webhook endpoint');
    const [updated] = await db('delivery_destinations').where({ id: row.id }).update({ disabled_at: row.disabled_at ?? db.fn.now() }).returning('*');
    res.json(endpointView(updated));
  });

  r.get('/dead-letters', allow('merchant', 'operator'), async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) throw badRequest('parameter_invalid', parsed.error.issues[0].message, parsed.error.issues[0].path.join('.'));
    const p = principalOf(res);
    const q = db('delivery_messages as m').join('delivery_destinations as d', 'd.id', 'm.destination_id')
      .where('m.state', 'dead').orderBy('m.dead_at', 'desc').limit(parsed.data.limit)
      .select('m.id', 'm.destination_id', 'm.group_key', 'm.event_type', 'm.attempts', 'm.last_status', 'm.last_error',
        'm.created_at', 'm.dead_at', 'd.merchant_id', 'd.url');
    if (p.kind === 'merchant') q.where('d.merchant_id', p.id);
    res.json({ object: 'list', data: (await q).map((m) => ({
      id: m.id, object: 'dead_letter', destinationId: m.destination_id, url: m.url, merchantId: m.merchant_id, groupKey: m.group_key,
      eventType: m.event_type, attempts: m.attempts, lastStatus: m.last_status, lastError: m.last_error,
      createdAt: m.created_at.toISOString(), deadAt: m.dead_at.toISOString(),
    })) });
  });

  for (const action of ['redeliver', 'drop'] as const) {
    r.post(`/dead-letters/:id/${action}`, allow('merchant', 'operator'), async (req, res) => {
      const id = pathId(req, 'id');
      const m = await db('delivery_messages as m').join('delivery_destinations as d', 'd.id', 'm.destination_id')
        .where('m.id', id).first('m.id', 'm.state', 'd.merchant_id');
      assertCanSee(principalOf(res), m ? (m.merchant_id ?? '') : undefined, 'dead letter');
      if (m.state !== 'dead') throw new ApiError(409, 'conflict_error', 'not_a_dead_letter', `The message is ${m.state}, not dead`);
      if (!(await resolveDeadLetter(deps, id, action))) throw notFound('dead letter');
      res.json({ id, object: 'dead_letter', action, state: action === 'redeliver' ? 'queued' : 'dropped' });
    });
  }

  return r;
}
