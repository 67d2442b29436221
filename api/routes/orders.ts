// Card orders over HTTP. The client order id (or the Idempotency-Key) names the order, so a repeated POST reaches
// the same order and gets the same answer (services/orders.ts); each command names itself likewise (shipmentId,
// refundId, or the Idempotency-Key), so a repeat returns the first result.
import type { Response } from 'express';
import { z } from 'zod';
import { DISPUTE_REASONS } from '../../domain/disputes';
import { AVS_CODES } from '../../domain/avs';
import { E164, maskPhone } from '../../domain/confirmation';
import { MAX_LINE_ITEMS, MAX_ORDER_TOTAL_MINOR, MAX_QUANTITY } from '../../domain/pricing';
import type { Services } from '../../services';
import type { OrderAnswer } from '../../services/orders';
import type { OrderRow } from '../../stores/orders';
import type { Principal } from '../../stores/principals';
import { assertCanSee } from '../auth';
import { badRequest, unprocessable } from '../errors';
import { type Operation, operation } from '../operations';
import { listedFor, listOperation, pageAnswer, pageRequest } from '../paging';
import { address, clientId, country, nullableTimestamp, pageOf, pageQuery, postalCode, region, timestamp } from '../schemas';

const sku = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : and -, at most 64');
const units = z.array(z.strictObject({ sku, quantity: z.number().int().min(1).max(MAX_QUANTITY) })).min(1).max(MAX_LINE_ITEMS);
/** A client order id the merchant may choose: not one of the broker's names for the orders it starts. */
const RESERVED_FREE_CLIENT_ID = /^(?!(round|cart|checkout)-)[A-Za-z0-9_-]{1,64}$/;
const kind = z.enum(['hard', 'soft']).meta({ description: 'hard goods are captured per shipment, soft goods at authorization' });
const orderBody = z.strictObject({
  clientOrderId: z.string().regex(RESERVED_FREE_CLIENT_ID, 'letters, digits, _ and -, at most 64, not starting with round-, cart- or checkout-').optional()
    .meta({ description: 'Names the order; required unless an Idempotency-Key header names it. A repeat returns the same order. Names starting '
      + 'with round-, cart- or checkout- are the broker\'s (the orders its bid rounds, carts and checkout sessions start)' }),
  customerId: clientId,
  items: z.array(z.strictObject({
    sku,
    description: z.string().max(500).optional(),
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
    unitPriceMinor: z.number().int().min(0).max(MAX_ORDER_TOTAL_MINOR),
    kind,
  })).min(1).max(MAX_LINE_ITEMS),
  shipping: z.strictObject({ optionId: clientId, address }).optional().meta({ description: 'Required when the order has hard goods' }),
  payment: z.strictObject({
    token: z.string().regex(/^tok_[A-Za-z0-9_-]{1,100}$/).meta({ description: "The processor's card token" }),
    billingPostalCode: postalCode.meta({ description: 'Checked by AVS' }),
    billingCountry: country.optional().meta({ description: 'Tax destination of an order without shipping' }),
    billingRegion: region.optional(),
  }),
  confirmation: z.strictObject({
    channel: z.literal('sms'),
    phone: z.string().regex(E164, 'an E.164 number such as +14155550100').meta({ description: "The customer's phone (kept encrypted; shown masked)" }),
    required: z.boolean().default(true).meta({ description: "true: always confirm this order; false: only when the merchant's confirmation policy asks" }),
  }).optional().meta({ description: 'The customer confirms the order by replying to a message (YES or NO and a one-time code) before it is authorized; '
    + 'the order waits in awaiting_confirmation' }),
});
const commandId = clientId.optional();

// --- what the API answers ---------------------------------------------------------------------------------
const pricedLine = z.object({ sku: z.string(), description: z.string().optional(), quantity: z.number().int(),
  unitPriceMinor: z.number().int(), kind, unitTaxMinor: z.number().int() });
const confirmationStates = ['sending', 'pending', 'accepted', 'rejected', 'failed', 'expired', 'cancelled', 'not_sent'] as const;
const orderSchema = z.object({
  id: z.string(), object: z.literal('order'), merchantId: z.string(), customerId: z.string(), clientOrderId: z.string(),
  state: z.enum(['awaiting_confirmation', 'confirmed', 'requires_authentication', 'awaiting_processor', 'authorized_plus_avs', 'authorized_minus_avs',
    'failed_authorization', 'partially_shipped', 'shipped', 'voided', 'cancelled', 'partially_refunded', 'refunded', 'partially_returned', 'returned']),
  currency: z.string(), totalMinor: z.number().int(), authorizedMinor: z.number().int(), capturedMinor: z.number().int(),
  refundedMinor: z.number().int(),
  priced: z.object({ currency: z.string(), lines: z.array(pricedLine), shippingOptionId: z.string().nullable(), shippingMinor: z.number().int(),
    shippingTaxMinor: z.number().int(), taxRateBps: z.number().int(), itemsMinor: z.number().int(), taxMinor: z.number().int(),
    totalMinor: z.number().int() }),
  authorizations: z.array(z.object({ id: z.string(), amountMinor: z.number().int(), avsCode: z.enum(AVS_CODES), expiresAt: z.string(),
    status: z.enum(['active', 'voided', 'replaced']) })),
  captures: z.array(z.object({ id: z.string(), authorizationId: z.string(), amountMinor: z.number().int(), feeMinor: z.number().int(),
    shipmentId: z.string().nullable(), refundedMinor: z.number().int(), feeRefundedMinor: z.number().int(),
    batchId: z.string().nullable().meta({ description: 'The settlement batch, once batched' }) })),
  shipments: z.array(z.object({ id: z.string(), items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
    trackingNumber: z.string(), amountMinor: z.number().int(), captureId: z.string() })),
  refunds: z.array(z.object({ id: z.string(), kind: z.enum(['refund', 'return']), amountMinor: z.number().int(),
    items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })).nullable(),
    parts: z.array(z.object({ captureId: z.string(), processorRefundId: z.string(), amountMinor: z.number().int(), feeMinor: z.number().int() })) })),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  needsAttention: z.boolean(),
  attentionReasons: z.array(z.string()).meta({ description: 'Why it needs attention: a problem kind, or avs_review while an operator is to decide' }),
  review: z.object({ decision: z.enum(['approve', 'reject', 'timeout']) }).nullable(),
  reviewDeadline: nullableTimestamp.meta({ description: 'Held for AVS review: undecided by then, the review ends in timeout (the order is voided)' }),
  confirmation: z.object({
    channel: z.literal('sms'), phone: z.string().meta({ description: 'Masked: +*******0100' }),
    reason: z.enum(['requested', 'amount', 'first_order']).meta({ description: "Why: the order asked, or the merchant's policy (its amount, a first order)" }),
    state: z.enum(confirmationStates).meta({ description: 'sending the offer, pending the reply, then how it ended' }),
    offerSentAt: nullableTimestamp, deadline: nullableTimestamp.meta({ description: 'The reply is awaited until then' }),
  }).nullable().meta({ description: 'The confirmation by message (null: none asked)' }),
  authentication: z.object({
    id: z.string().nullable().meta({ description: 'The authentication request (GET /v1/authentications/:id)' }),
    reference: z.string().meta({ description: "The processor's transaction reference it is bound to" }),
    state: z.enum(['starting', 'pending', 'approved', 'rejected', 'expired', 'cancelled', 'no_device']),
    deadline: nullableTimestamp,
  }).nullable().meta({ description: 'The step-up authentication the card asked for (null: none)' }),
  disputes: z.array(z.object({
    id: z.string(), captureId: z.string(), state: z.enum(['needs_response', 'under_review', 'won', 'lost', 'refunded']),
    resolution: z.enum(['decided', 'accepted', 'deadline', 'refunded']).nullable(), reason: z.enum(DISPUTE_REASONS), amountMinor: z.number().int(),
    feeMinor: z.number().int(), feeChargedMinor: z.number().int().nullable(), currency: z.string(), evidenceDueBy: timestamp,
    evidenceSubmittedAt: nullableTimestamp, refundId: z.string().nullable(), closedAt: nullableTimestamp,
  }).meta({ id: 'OrderDispute' })).meta({ description: 'Disputes of its captures (GET /v1/disputes/:id for the whole); an open one needs attention (attentionReasons: dispute)' }),
  loyalty: z.array(z.object({ id: z.string(), captureId: z.string(), program: z.string(), points: z.number().int(), createdAt: timestamp }))
    .meta({ description: 'Loyalty rewards signalled for its purchases (POST /v1/orders/:id/loyalty)' }),
}).meta({ id: 'Order' });

const loyaltySchema = z.object({
  object: z.literal('loyalty_reward'), id: z.string().meta({ description: "The processor's loyalty signal" }), orderId: z.string(), captureId: z.string(),
  program: z.string(), points: z.number().int(), createdAt: timestamp,
}).meta({ id: 'LoyaltyReward' });

const reviewSchema = z.object({
  object: z.literal('review'), orderId: z.string(), merchantId: z.string(), clientOrderId: z.string(), customerId: z.string(),
  currency: z.string(), totalMinor: z.number().int(), authorizationId: z.string(), avsCode: z.enum(AVS_CODES),
  reviewDeadline: timestamp.meta({ description: 'Undecided by then, the review ends in timeout and the order is voided' }),
  createdAt: timestamp,
}).meta({ id: 'Review' });

/** An order in the review queue (held for review: its view has the review deadline and the authorization). */
function reviewView(r: OrderRow) {
  const view = r.view!;
  const auth = view.authorizations.at(-1)!;
  return {
    object: 'review' as const, orderId: r.id, merchantId: r.merchantId, clientOrderId: r.clientOrderId, customerId: r.customerId,
    currency: view.currency, totalMinor: view.totalMinor, authorizationId: auth.id, avsCode: auth.avsCode,
    reviewDeadline: view.reviewDeadline!, createdAt: r.createdAt.toISOString(),
  };
}

const order = (description: string) => ({ description, schema: orderSchema });
const pending = { description: 'Accepted, waiting for the processor (the order carries on; poll Location)', schema: orderSchema,
  headers: { Location: 'The order' } };

/** The id a command names itself by: the body's, else the Idempotency-Key. */
function commandName(bodyId: string | undefined, header: string | undefined, what: string): string {
  const id = bodyId ?? header;
  if (!id) throw unprocessable('parameter_missing', `Name the ${what} with ${what}Id or an Idempotency-Key header`, `${what}Id`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw badRequest('parameter_invalid', `${what} id: letters, digits, _ and -, at most 64`, bodyId === undefined ? 'Idempotency-Key' : `${what}Id`);
  }
  return id;
}

function send(res: Response, answer: OrderAnswer, doneStatus = 200): void {
  const body = { ...answer.order, object: 'order' };
  if (answer.outcome === 'pending') res.status(202).location(`/v1/orders/${answer.order.id}`).json(body);
  else res.status(doneStatus).json(body);
}

export function orderOperations(services: Services): Operation[] {
  const { orders } = services;
  /** The order, if this principal may see it. */
  const visible = async (principal: Principal, id: string) => {
    const row = await orders.row(id);
    assertCanSee(principal, row?.merchantId, 'order');
    return row;
  };
  return [
    operation({
      method: 'post', path: '/orders', allow: ['merchant'], idempotency: 'names', body: orderBody,
      summary: 'Create a card order (merchant). The client order id (or the Idempotency-Key) names the order: a repeat returns the same order (200).',
      description: 'Answers 201 with the authorization outcome (state authorized_plus_avs, authorized_minus_avs or '
        + 'failed_authorization), or 202 with a Location while the processor is unreachable (state awaiting_processor). An order '
        + 'its customer must confirm answers 201 in awaiting_confirmation once the offer is sent; one whose card asks for step-up '
        + 'authentication answers 201 in requires_authentication once the request is sent to the customer\'s devices (or fails '
        + 'with authentication_failed when there is none). Either goes on by itself: poll the order or listen for its events.',
      responses: { 201: order('Created'), 200: order('The existing order'), 202: pending },
      async handler({ req, res, principal, body }) {
        const name = commandName(body.clientOrderId, req.get('idempotency-key'), 'clientOrder');
        if (!RESERVED_FREE_CLIENT_ID.test(name)) {
          throw unprocessable('client_order_id_reserved', 'Order names starting with round-, cart- or checkout- are the broker\'s', 'Idempotency-Key');
        }
        // (the phone is personal data: the audit log keeps the request masked)
        if (body.confirmation) req.body.confirmation.phone = maskPhone(body.confirmation.phone);
        const answer = await orders.create(principal.id, name, body);
        send(res, answer, answer.created ? 201 : 200);
      },
    }),
    operation({
      method: 'get', path: '/orders/:id', summary: 'An order (its merchant, operators)', allow: 'any',
      responses: { 200: order('OK') },
      async handler({ res, principal, params }) {
        res.json({ ...await orders.current(await visible(principal, params.id)), object: 'order' });
      },
    }),
    operation({
      method: 'post', path: '/orders/:id/shipments', allow: ['merchant'], idempotency: 'names',
      summary: 'Ship items: captures their price and tax (shipping with the first shipment)',
      body: z.strictObject({
        shipmentId: commandId.meta({ description: 'Names the shipment (or use Idempotency-Key); a repeat returns the first result' }),
        items: units, trackingNumber: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
      }),
      responses: { 200: order('Captured'), 202: pending },
      async handler({ req, res, principal, params, body }) {
        const row = await visible(principal, params.id);
        const shipmentId = commandName(body.shipmentId, req.get('idempotency-key'), 'shipment');
        send(res, await orders.ship(row, { shipmentId, items: body.items, trackingNumber: body.trackingNumber }));
      },
    }),
    operation({
      method: 'post', path: '/orders/:id/cancel', allow: ['merchant'], idempotency: 'names', bodyRequired: false,
      summary: 'Cancel: voids the authorization (the unshipped rest, if something shipped)',
      responses: { 200: order('Voided'), 202: pending },
      async handler({ req, res, principal, params }) {
        const row = await visible(principal, params.id);
        send(res, await orders.cancel(row, commandName(undefined, req.get('idempotency-key') ?? 'cancel', 'cancel')));
      },
    }),
    operation({
      method: 'post', path: '/orders/:id/refunds', allow: ['merchant'], idempotency: 'names',
      summary: 'Refund an amount, or return items (refunded at their price and tax)',
      body: z.strictObject({
        refundId: commandId.meta({ description: 'Names the refund (or use Idempotency-Key); a repeat returns the first result' }),
        kind: z.enum(['refund', 'return']).default('refund'),
        amountMinor: z.number().int().min(1).max(MAX_ORDER_TOTAL_MINOR).optional().meta({ description: 'The amount of a refund; required when kind is refund' }),
        items: units.optional().meta({ description: 'The items of a return; required when kind is return' }),
        reason: z.string().max(500).optional(),
      }),
      responses: { 200: order('Refunded'), 202: pending },
      async handler({ req, res, principal, params, body }) {
        const row = await visible(principal, params.id);
        const refundId = commandName(body.refundId, req.get('idempotency-key'), 'refund');
        if (body.kind === 'refund' && body.amountMinor === undefined) throw unprocessable('parameter_missing', 'A refund names its amountMinor', 'amountMinor');
        if (body.kind === 'return' && !body.items) throw unprocessable('parameter_missing', 'A return names the items returned', 'items');
        send(res, await orders.refund(row, { refundId, kind: body.kind, amountMinor: body.amountMinor, items: body.items, reason: body.reason }));
      },
    }),
    operation({
      method: 'post', path: '/orders/:id/provisioning-failure', allow: ['merchant'], idempotency: 'stored', bodyRequired: false,
      body: z.strictObject({ amountMinor: z.number().int().min(1).max(MAX_ORDER_TOTAL_MINOR).optional()
        .meta({ description: 'What to refund; default all that is left to refund' }) }),
      summary: 'Report a digital good that could not be provisioned: the customer is refunded and the issuer told (before any dispute)',
      description: 'The refund is the order\'s (its id provisioning-<Idempotency-Key>, reason provisioning_failed; webhook order.refunded); then the '
        + 'processor tells the card\'s issuer for each capture it refunded. 409 nothing_to_refund; 503 processor_unavailable: retry with the same key.',
      responses: { 200: order('Refunded, the issuer told'), 202: pending },
      async handler({ req, res, principal, params, body }) {
        const row = await visible(principal, params.id);
        send(res, await services.issuer.provisioningFailed(row!, req.get('idempotency-key')!, body?.amountMinor));
      },
    }),
    operation({
      method: 'post', path: '/orders/:id/loyalty', allow: ['merchant'], idempotency: 'stored',
      body: z.strictObject({
        program: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : and -, at most 64').meta({ description: "The merchant's loyalty programme" }),
        points: z.number().int().min(1).max(10_000_000),
        captureId: z.string().max(100).optional().meta({ description: 'The purchase (a capture of the order) it is tied to; default the latest' }),
      }),
      summary: 'Signal a loyalty reward tied to a purchase: forwarded to the card\'s issuer and listed on the order',
      description: '409 order_not_captured (nothing purchased yet); 503 processor_unavailable: retry with the same Idempotency-Key.',
      responses: { 201: { description: 'Forwarded', schema: loyaltySchema } },
      async handler({ req, res, principal, params, body }) {
        const row = await visible(principal, params.id);
        const reward = await services.issuer.loyalty(row!, await orders.current(row!), req.get('idempotency-key')!, body);
        res.status(201).json({ object: 'loyalty_reward', id: reward.id, orderId: reward.orderId, captureId: reward.captureId, program: reward.program,
          points: reward.points, createdAt: reward.createdAt!.toISOString() });
      },
    }),
    operation({
      method: 'get', path: '/orders', allow: ['merchant', 'operator'],
      summary: "Orders, newest first, a page at a time: the merchant's own (operators: every merchant's, or one's)",
      description: 'Each as its order saved it last (GET /v1/orders/:id asks the running order).',
      query: z.strictObject({
        ...pageQuery,
        state: orderSchema.shape.state.optional().meta({ description: 'Only orders in this state' }),
        merchantId: z.string().max(200).optional().meta({ description: "Operators: only this merchant's orders" }),
      }),
      responses: { 200: { description: 'OK', schema: pageOf(orderSchema) } },
      async handler({ res, principal, query }) {
        const page = await orders.list({ ...pageRequest(query), state: query.state, merchantId: listedFor(principal, query.merchantId, 'merchantId') });
        res.json(pageAnswer(page, (o) => ({ ...o, object: 'order' })));
      },
    }),
    listOperation({ path: '/reviews', allow: ['operator', 'merchant'],
      summary: 'The AVS review queue: orders held for an operator to decide, oldest first (a merchant sees its own)',
      description: 'A page at a time like every list, but oldest first; a cursor may be an order decided since.',
      schema: reviewSchema, view: reviewView,
      list: (req, principal) => services.stores.orders.awaitingReview({ ...req, merchantId: principal.kind === 'operator' ? undefined : principal.id }) }),
    operation({
      method: 'post', path: '/orders/:id/review', allow: ['operator'], summary: 'Decide an order held for AVS review (operator)',
      body: z.strictObject({ decision: z.enum(['approve', 'reject']) }),
      responses: { 200: order('Decided'), 202: pending },
      async handler({ res, principal, params, body }) {
        const row = await visible(principal, params.id);
        send(res, await orders.review(row, body));
      },
    }),
  ];
}
