// Card orders over HTTP. The client order id (or the Idempotency-Key) names the order's workflow, so a
// repeated POST reaches the same workflow (Update-with-Start, USE_EXISTING) and gets the same answer; the
// orders row in PostgreSQL keeps the request's hash (a different body under the same id is refused) and
// outlives the Temporal server's retention.
import { Router, type Response } from 'express';
import { z } from 'zod';
import {
  type Client, WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import type { Db } from '../../ledger/db';
import { MAX_LINE_ITEMS, MAX_ORDER_TOTAL_MINOR, MAX_QUANTITY, PricingError, priceOrder } from '../../domain/pricing';
import type { OrderInput, OrderView } from '../../domain/order';
import {
  cancelUpdate, orderWorkflow, orderWorkflowId, type OrderReply, refundUpdate, reviewUpdate, shipUpdate, statusQuery, submitUpdate,
} from '../../workflows/order';
import { CustomerId, MerchantId, NeedsAttention, OrderState, OrderTotalMinor } from '../../workflows/searchAttributes';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, badRequest, notFound } from '../errors';
import { getMerchant } from '../merchants';
import { sha256 } from '../principals';
import { parseBody, pathId } from '../validation';

export interface OrderTiming {
  processorDeadlineMs: number;
  processorMaxBackoffMs: number;
  reauthLeadMs: number;
  refundWindowMs: number;
}

export interface OrderRouteDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  timing: OrderTiming;
}

const clientId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64');
const sku = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : and -, at most 64');
const units = z.array(z.strictObject({ sku, quantity: z.number().int().min(1).max(MAX_QUANTITY) })).min(1).max(MAX_LINE_ITEMS);
const address = z.strictObject({
  name: z.string().max(200).optional(),
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  region: z.string().regex(/^[A-Z0-9]{1,3}$/).optional(),
  postalCode: z.string().regex(/^[A-Za-z0-9 -]{2,12}$/),
  country: z.string().regex(/^[A-Z]{2}$/),
});
const orderBody = z.strictObject({
  clientOrderId: clientId.optional(),
  customerId: clientId,
  items: z.array(z.strictObject({
    sku,
    description: z.string().max(500).optional(),
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
    unitPriceMinor: z.number().int().min(0).max(MAX_ORDER_TOTAL_MINOR),
    kind: z.enum(['hard', 'soft']),
  })).min(1).max(MAX_LINE_ITEMS),
  shipping: z.strictObject({ optionId: clientId, address }).optional(),
  payment: z.strictObject({
    token: z.string().regex(/^tok_[A-Za-z0-9_-]{1,100}$/),
    billingPostalCode: z.string().regex(/^[A-Za-z0-9 -]{2,12}$/),
    /** Tax destination of an order without shipping. */
    billingCountry: z.string().regex(/^[A-Z]{2}$/).optional(),
    billingRegion: z.string().regex(/^[A-Z0-9]{1,3}$/).optional(),
  }),
});
const shipmentBody = z.strictObject({ shipmentId: clientId.optional(), items: units, trackingNumber: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) });
const refundBody = z.strictObject({
  refundId: clientId.optional(),
  kind: z.enum(['refund', 'return']).default('refund'),
  amountMinor: z.number().int().min(1).max(MAX_ORDER_TOTAL_MINOR).optional(),
  items: units.optional(),
  reason: z.string().max(500).optional(),
});
const reviewBody = z.strictObject({ decision: z.enum(['approve', 'reject']) });
const emptyBody = z.strictObject({});

/** How long a POST waits for the processor's answer before replying 202 (the workflow carries on). */
export const ORDER_REPLY_WAIT_MS = 5000;

/** Tries of a repeated order POST before it answers from the order's current view. */
export const REPEAT_SUBMIT_TRIES = 3;

async function retrying<T>(fn: () => Promise<T>, tries: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100 * i));
    }
  }
}

/** The id an order-creating or order-changing request names itself by: the body's, else the Idempotency-Key. */
function commandId(bodyId: string | undefined, header: string | undefined, what: string): string {
  const id = bodyId ?? header;
  if (!id) throw badRequest('parameter_missing', `Name the ${what} with ${what}Id or an Idempotency-Key header`, `${what}Id`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw badRequest('parameter_invalid', `${what} id: letters, digits, _ and -, at most 64`, `${what}Id`);
  return id;
}

export function orderRoutes(deps: OrderRouteDeps): Router {
  const { db, temporal } = deps;
  const r = Router();

  async function visibleOrder(res: Response, id: string) {
    const row = await db('orders').where({ id }).first();
    assertCanSee(principalOf(res), row?.merchant_id, 'order');
    return row as { id: string; merchant_id: string; view: OrderView | null; state: string };
  }

  async function withBatches(view: OrderView) {
    // (an order without captures has nothing to read)
    const rows = view.captures.length === 0 ? [] : await db('captures').where({ order_id: view.id }).select('id', 'batch_id');
    const batch = new Map(rows.map((x) => [x.id as string, x.batch_id as string | null]));
    return { ...view, object: 'order', captures: view.captures.map((c) => ({ ...c, batchId: batch.get(c.id) ?? null })) };
  }

  async function currentView(row: { id: string; view: OrderView | null }): Promise<OrderView> {
    try {
      return await temporal.workflow.getHandle(row.id).query(statusQuery);
    } catch {
      if (row.view) return row.view;
      // Not started yet, or not answering: the client retries (the order itself goes on).
      throw new ApiError(503, 'service_unavailable_error', 'order_unavailable', 'The order is not available right now; retry');
    }
  }

  /** At most ORDER_REPLY_WAIT_MS for the workflow's answer; after that 202 with the order as it stands. */
  async function bounded(id: string, pending: Promise<OrderReply>): Promise<OrderReply> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ORDER_REPLY_WAIT_MS); });
    try {
      const first = await Promise.race([pending, waited]);
      if (first !== 'timeout') return first;
      pending.catch(() => {}); // it finishes, or fails, on its own; the client polls GET /v1/orders/:id
      return { outcome: 'pending', order: await temporal.workflow.getHandle(id).query(statusQuery) };
    } finally {
      clearTimeout(timer);
    }
  }

  async function send(res: Response, reply: OrderReply, createdStatus = 200) {
    const body = await withBatches(reply.order);
    if (reply.outcome === 'pending') res.status(202).location(`/v1/orders/${reply.order.id}`).json(body);
    else res.status(createdStatus).json(body);
  }

  /** Runs an update on the order; a refusal by the workflow becomes 422 with the workflow's code. */
  async function update<A>(id: string, def: UpdateDefinition<OrderReply, [A]>, arg: A): Promise<OrderReply> {
    try {
      return await bounded(id, temporal.workflow.getHandle(id).executeUpdate(def, { args: [arg] }));
    } catch (err) {
      throw toApiError(err);
    }
  }

  r.post('/orders', allow('merchant'), async (req, res) => {
    const merchantId = principalOf(res).id;
    const body = parseBody(orderBody, req);
    const clientOrderId = commandId(body.clientOrderId, req.get('idempotency-key'), 'clientOrder');
    const merchant = await getMerchant(db, merchantId);
    if (!merchant) throw notFound('merchant');
    const dest = body.shipping?.address ?? (body.payment.billingCountry
      ? { country: body.payment.billingCountry, region: body.payment.billingRegion } : null);
    let priced;
    try {
      priced = priceOrder(body.items, body.shipping?.optionId ?? null, dest, merchant);
    } catch (err) {
      if (err instanceof PricingError) throw new ApiError(422, 'unprocessable_error', err.code, err.message, err.param);
      throw err;
    }
    const id = orderWorkflowId(merchantId, clientOrderId);
    const requestHash = sha256(JSON.stringify({ ...body, clientOrderId }));
    const inserted = await db('orders').insert({
      id, merchant_id: merchantId, client_order_id: clientOrderId, customer_id: body.customerId, request_sha256: requestHash,
      currency: priced.currency, total_minor: priced.totalMinor, state: 'confirmed',
    }).onConflict('id').ignore().returning('id');
    if (inserted.length === 0) {
      const existing = await db('orders').where({ id }).first();
      if (!existing.request_sha256.equals(requestHash)) {
        throw new ApiError(422, 'idempotency_error', 'client_order_id_reused',
          `Order ${clientOrderId} exists with a different request; use a new client order id`, 'clientOrderId');
      }
    }
    const input: OrderInput = {
      orderId: id, merchantId, customerId: body.customerId, clientOrderId, priced,
      shipping: body.shipping ? { optionId: body.shipping.optionId, address: body.shipping.address } : null,
      payment: { token: body.payment.token, billingPostalCode: body.payment.billingPostalCode },
      policy: { avsPolicy: merchant.avsPolicy, feeBps: merchant.feeBps, reviewTimeoutMs: merchant.reviewTimeoutSeconds * 1000,
        ...deps.timing },
    };
    const submit = () => bounded(id, temporal.workflow.executeUpdateWithStart(submitUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation(orderWorkflow, {
        workflowId: id, taskQueue: deps.taskQueue, args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: MerchantId, value: merchantId }, { key: CustomerId, value: body.customerId },
          { key: OrderTotalMinor, value: priced.totalMinor }, { key: OrderState, value: 'confirmed' },
          { key: NeedsAttention, value: false },
        ],
      }),
    }));
    let reply: OrderReply;
    if (inserted.length) {
      reply = await submit();
    } else {
      // A repeat: it may race the first request's start (concurrent identical POSTs), or find the order closed
      // (a repeat long after). Try again briefly, then answer from what the order shows or left.
      reply = await retrying(submit, REPEAT_SUBMIT_TRIES).catch(async () =>
        ({ outcome: 'done' as const, order: await currentView(await db('orders').where({ id }).first()) }));
    }
    await send(res, reply, inserted.length ? 201 : 200);
  });

  r.get('/orders/:id', async (req, res) => {
    const row = await visibleOrder(res, pathId(req, 'id'));
    res.json(await withBatches(await currentView(row)));
  });

  r.post('/orders/:id/shipments', allow('merchant'), async (req, res) => {
    const row = await visibleOrder(res, pathId(req, 'id'));
    const body = parseBody(shipmentBody, req);
    const shipmentId = commandId(body.shipmentId, req.get('idempotency-key'), 'shipment');
    await send(res, await update(row.id, shipUpdate, { shipmentId, items: body.items, trackingNumber: body.trackingNumber }));
  });

  r.post('/orders/:id/cancel', allow('merchant'), async (req, res) => {
    const row = await visibleOrder(res, pathId(req, 'id'));
    parseBody(emptyBody, req);
    const cancelId = commandId(undefined, req.get('idempotency-key') ?? 'cancel', 'cancel');
    await send(res, await update(row.id, cancelUpdate, { cancelId }));
  });

  r.post('/orders/:id/refunds', allow('merchant'), async (req, res) => {
    const row = await visibleOrder(res, pathId(req, 'id'));
    const body = parseBody(refundBody, req);
    const refundId = commandId(body.refundId, req.get('idempotency-key'), 'refund');
    if (body.kind === 'refund' && body.amountMinor === undefined) throw badRequest('parameter_missing', 'A refund names its amountMinor', 'amountMinor');
    if (body.kind === 'return' && !body.items) throw badRequest('parameter_missing', 'A return names the items returned', 'items');
    await send(res, await update(row.id, refundUpdate, { refundId, kind: body.kind, amountMinor: body.amountMinor, items: body.items, reason: body.reason }));
  });

  r.post('/orders/:id/review', allow('operator'), async (req, res) => {
    const row = await visibleOrder(res, pathId(req, 'id'));
    const body = parseBody(reviewBody, req);
    await send(res, await update(row.id, reviewUpdate, body));
  });

  return r;
}

function toApiError(err: unknown): unknown {
  if (err instanceof WorkflowNotFoundError) {
    return new ApiError(409, 'conflict_error', 'order_closed', 'The order is closed and takes no more changes');
  }
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const param = err.cause.details?.[0];
    return new ApiError(422, 'unprocessable_error', err.cause.type ?? 'order_rule', err.cause.message,
      typeof param === 'string' ? param : undefined);
  }
  return err;
}
