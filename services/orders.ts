// Card orders as clients see them: a request becomes an order (its row in PostgreSQL first, then its workflow,
// started and asked for its authorization in one call: Update-with-Start), and the merchant's commands become
// updates of the running workflow. The client order id names the workflow, so a repeated request reaches the same
// order and gets the same answer; the row keeps the request's hash (a different body under the same id is refused)
// and outlives the Temporal server's retention.
import { createHash } from 'node:crypto';
import {
  type Client, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { canonical } from '../domain/canonical';
import {
  type ConfirmationReason, DEFAULT_CONFIRMATION_SEND_DEADLINE_MS, DEFAULT_CONFIRMATION_TIMEOUT_MS, MAX_OPEN_CONFIRMATIONS_PER_PHONE, policyReason,
} from '../domain/confirmation';
import { type Address, Order, type OrderInput, type OrderView, orderSummary } from '../domain/order';
import { type LineItemInput, priceOrder } from '../domain/pricing';
import type { DisputeView } from '../domain/disputes';
import type { DisputeStore } from '../stores/disputes';
import type { ConfirmationStore } from '../stores/confirmations';
import type { MerchantConfig, MerchantStore } from '../stores/merchants';
import type { OrderRow, OrderStore } from '../stores/orders';
import type { Page, PageRequest } from '../stores/page';
import type { PhoneStore } from '../stores/phones';
import { isTemporalUnavailable, TemporalUnavailable, temporalReachable, updateRefusal, withinDeadline } from './temporal';
import {
  cancelUpdate, type OrderReply, orderStartAttributes, type OrderWorkflow, orderWorkflowId, type RefundRequest, refundUpdate, type ResolveRequest, resolveUpdate,
  reviewUpdate, type ReviewRequest, type ShipRequest, shipUpdate, statusQuery, submitUpdate,
} from '../workflows/order.contract';

/**
 * How long a request waits for the workflow's answer before replying 202 (the workflow carries on); with the
 * reachability probe after it, a request hears within 5 s that the Temporal server cannot be reached.
 */
export const ORDER_REPLY_WAIT_MS = 3500;
/** How long the view of an order answered 'pending' may take (a busy worker's query); else the view last saved. */
const PENDING_QUERY_DEADLINE_MS = 500;
/** An order accepted this long ago whose workflow is not confirmed is started by the repair loop. */
export const ORDER_REPAIR_AFTER_MS = 10_000;
/** How often the repair loop looks (the worker runs it), and how many orders it takes at a time. */
export const REPAIR_EVERY_MS = 5_000;
const REPAIR_BATCH = 100;
/** Tries of a repeated order request before it answers from the order's current view. */
export const REPEAT_SUBMIT_TRIES = 3;

/** The processor and refund timing every new order takes (from the configuration). */
export interface OrderTiming {
  processorDeadlineMs: number;
  processorMaxBackoffMs: number;
  reauthLeadMs: number;
  refundWindowMs: number;
  /** How long a customer has to reply to an offer, and how long an offer is tried (defaults: 15 minutes, 1 hour). */
  confirmationTimeoutMs?: number;
  confirmationSendDeadlineMs?: number;
  /** How long a customer has to answer a step-up authentication on their device (default 10 minutes). */
  authenticationTimeoutMs?: number;
}

export interface OrderRequest {
  /** The client's name for the order (else the caller names it by the Idempotency-Key). */
  clientOrderId?: string;
  customerId: string;
  items: LineItemInput[];
  shipping?: { optionId: string; address: Address };
  payment: { token: string; billingPostalCode: string; billingCountry?: string; billingRegion?: string };
  /**
   * The customer confirms by message from this phone before the order is authorized: always (required, the default),
   * or only when the merchant's policy asks (required: false).
   */
  confirmation?: { channel: 'sms'; phone: string; required?: boolean };
}

/** An order as the API shows it: its view, with each capture's settlement batch. */
export type OrderWithBatches = OrderView & {
  captures: Array<OrderView['captures'][number] & { batchId: string | null }>;
  disputes: Array<Omit<DisputeView, 'merchantId' | 'orderId' | 'holdId'>>;
  loyalty: Array<{ id: string; captureId: string; program: string; points: number; createdAt: string }>;
};
export interface OrderAnswer { outcome: 'done' | 'pending'; order: OrderWithBatches }

/** A refusal of an order request or command; the API answers with the code. */
export class OrderError extends Error {
  /** unknown_merchant, client_order_id_reused, order_closed, order_unavailable, or the code of an order rule. */
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'OrderError';
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class OrderService {
  constructor(private readonly deps: {
    orders: OrderStore; merchants: MerchantStore; phones: PhoneStore; confirmations: ConfirmationStore; disputes: DisputeStore; temporal: Client;
    taskQueue: string; timing: OrderTiming;
  }) {}

  /**
   * Prices the order by the merchant's settings, writes its row (with the workflow's input) and starts its workflow,
   * and answers with the authorization's outcome, or 'pending' while the processor is unreachable. A repeat of the
   * same request answers from the same order (created: false); the same client order id with another request is
   * refused. If the Temporal server cannot be reached, TemporalUnavailable: the order is accepted all the same, and
   * the repair loop (startStranded) starts it once the server is back; a client's retry finds the same order.
   */
  async create(merchantId: string, clientOrderId: string, req: OrderRequest): Promise<OrderAnswer & { created: boolean }> {
    const { orders, temporal } = this.deps;
    const merchant = await this.deps.merchants.get(merchantId);
    if (!merchant) throw new OrderError('unknown_merchant', 'No such merchant');
    const dest = req.shipping?.address ?? (req.payment.billingCountry
      ? { country: req.payment.billingCountry, region: req.payment.billingRegion } : null);
    const priced = priceOrder(req.items, req.shipping?.optionId ?? null, dest, merchant);
    const id = orderWorkflowId(merchantId, clientOrderId);
    const { confirmationTimeoutMs, confirmationSendDeadlineMs, authenticationTimeoutMs, ...timing } = this.deps.timing;
    const fresh: OrderInput = {
      orderId: id, merchantId, customerId: req.customerId, clientOrderId, priced,
      shipping: req.shipping ? { optionId: req.shipping.optionId, address: req.shipping.address } : null,
      payment: { token: req.payment.token, billingPostalCode: req.payment.billingPostalCode },
      policy: { avsPolicy: merchant.avsPolicy, feeBps: merchant.feeBps, reviewTimeoutMs: merchant.reviewTimeoutSeconds * 1000,
        ...timing, ...(authenticationTimeoutMs === undefined ? {} : { authenticationTimeoutMs }),
        ...(merchant.shareLineItems ? { shareLineItems: true } : {}) },
    };
    const reason = await this.confirmationReason(merchant, id, req, priced.totalMinor);
    if (reason) {
      const phone = await this.deps.phones.tokenize(req.confirmation!.phone);
      fresh.confirmation = { channel: 'sms', phoneToken: phone.token, phoneMasked: phone.masked, reason,
        timeoutMs: confirmationTimeoutMs ?? DEFAULT_CONFIRMATION_TIMEOUT_MS, sendDeadlineMs: confirmationSendDeadlineMs ?? DEFAULT_CONFIRMATION_SEND_DEADLINE_MS };
      if (await this.deps.confirmations.countOpen(phone.token) >= MAX_OPEN_CONFIRMATIONS_PER_PHONE && !await orders.get(id)) {
        throw new OrderError('too_many_open_confirmations', `The phone has ${MAX_OPEN_CONFIRMATIONS_PER_PHONE} orders waiting for its reply; `
          + 'retry once some are decided', 'confirmation.phone');
      }
    }
    const claim = await orders.claim({
      id, merchantId, clientOrderId, customerId: req.customerId, requestSha256: sha256(canonical({ ...req, clientOrderId })),
      currency: priced.currency, totalMinor: priced.totalMinor, input: fresh,
    });
    if (claim === 'different') {
      throw new OrderError('client_order_id_reused', `Order ${clientOrderId} exists with a different request; use a new client order id`,
        'clientOrderId');
    }
    // a repeat starts (if it must) with the input the order was accepted with, whatever the merchant changed since
    const row = claim === 'created' ? undefined : await orders.get(id);
    const input = row?.input ?? fresh;
    // Once its workflow has run (it saved a view), a repeat only asks it: past the Temporal server's retention the
    // workflow is gone, and starting it again would authorize the card again; the row answers instead.
    const submit = () => this.answer(id, () => row?.view ?? new Order(input).view(), row?.view
      ? temporal.workflow.getHandle(id).executeUpdate(submitUpdate)
      : temporal.workflow.executeUpdateWithStart(submitUpdate, { startWorkflowOperation: new WithStartWorkflowOperation<OrderWorkflow>('orderWorkflow', this.startOptions(input)) }));
    if (claim === 'created') return { ...await this.withBatches(await submit()), created: true };
    // A repeat: it may race the first request's start (concurrent identical requests), or find the order closed
    // (a repeat long after). Try again briefly, then answer from what the order shows or left.
    const reply = await retrying(submit, REPEAT_SUBMIT_TRIES)
      .catch(async (err: unknown) => {
        if (err instanceof TemporalUnavailable && !row?.view) throw err;
        return { outcome: 'done' as const, order: await this.view((await orders.get(id))!) };
      });
    return { ...await this.withBatches(reply), created: false };
  }

  /**
   * Why the customer must confirm this order by message: the merchant asked (confirmation given, required), or its
   * policy (the amount, a customer's first order) for an order that names a phone; null: no confirmation. An order
   * the policy asks to confirm that names no phone is refused (confirmation_required).
   */
  private async confirmationReason(merchant: MerchantConfig, id: string, req: OrderRequest, totalMinor: number): Promise<ConfirmationReason | null> {
    if (req.confirmation && req.confirmation.required !== false) return 'requested';
    const policy = merchant.confirmationPolicy;
    const firstOrder = policy.firstOrders && !await this.deps.orders.customerHasOrders(merchant.id, req.customerId, id);
    const reason = policyReason(policy, totalMinor, firstOrder);
    if (reason && !req.confirmation) {
      throw new OrderError('confirmation_required', `The merchant's policy asks this order (${reason === 'amount' ? 'its amount' : "the customer's first"}) `
        + 'to be confirmed by the customer: send confirmation {channel: sms, phone}', 'confirmation');
    }
    return reason;
  }

  /**
   * Starts the workflow of each order accepted more than ORDER_REPAIR_AFTER_MS ago whose workflow was never
   * confirmed (the Temporal server was unreachable when its request came, say), with the input it was accepted
   * with; an order whose workflow exists is only marked. Returns how many it confirmed. One order that cannot be
   * started is handed to onError and the pass goes on with the others; the Temporal server away ends the pass.
   */
  async startStranded(olderThanMs = ORDER_REPAIR_AFTER_MS, limit = REPAIR_BATCH,
    onError: (orderId: string, err: unknown) => void = () => {}): Promise<number> {
    const { orders, temporal } = this.deps;
    let confirmed = 0;
    for (const s of await orders.unconfirmed(olderThanMs, limit)) {
      try {
        await withinDeadline(temporal, () => temporal.workflow.start<OrderWorkflow>('orderWorkflow', this.startOptions(s.input)))
          .catch((err: unknown) => { if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; }); // (it ran and closed)
        await orders.confirmWorkflow(s.id);
        confirmed++;
      } catch (err) {
        if (err instanceof TemporalUnavailable) throw err;
        onError(s.id, err);
      }
    }
    return confirmed;
  }

  /** The order's row (its owner, for who may see it), or undefined. */
  row(id: string) {
    return this.deps.orders.get(id);
  }

  /**
   * A page of orders as their workflows saved them last (one not started yet: as it was accepted; one accepted
   * before inputs were kept and never started shows nowhere), each capture with its settlement batch.
   */
  async list(req: PageRequest & { merchantId?: string; state?: string }): Promise<Page<OrderWithBatches>> {
    const page = await this.deps.orders.list(req);
    const views = page.data.flatMap((row) => row.view ?? (row.input ? [new Order(row.input).view()] : []));
    return { data: await this.shown(views), hasMore: page.hasMore };
  }

  /** The order as it stands: from its workflow, or from the row it left when the workflow is gone. */
  async current(row: OrderRow): Promise<OrderWithBatches> {
    return (await this.withBatches({ outcome: 'done', order: await this.view(row) })).order;
  }

  ship(row: OrderRow, req: ShipRequest) { return this.update(row, shipUpdate, req); }
  cancel(row: OrderRow, cancelId: string) { return this.update(row, cancelUpdate, { cancelId }); }
  refund(row: OrderRow, req: RefundRequest) { return this.update(row, refundUpdate, req); }
  review(row: OrderRow, req: ReviewRequest) { return this.update(row, reviewUpdate, req); }
  resolveProblem(row: OrderRow, req: ResolveRequest) { return this.update(row, resolveUpdate, req); }

  private startOptions(input: OrderInput) {
    return {
      workflowId: input.orderId, taskQueue: this.deps.taskQueue, args: [input] as [OrderInput],
      workflowIdConflictPolicy: 'USE_EXISTING' as const, workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      typedSearchAttributes: orderStartAttributes(input),
      staticSummary: orderSummary(input),
    };
  }

  /** From the workflow (within a deadline), else the view the order's workflow last saved. */
  private async view(row: { id: string; view: OrderView | null }): Promise<OrderView> {
    try {
      return await withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(row.id).query(statusQuery));
    } catch (err) {
      if (row.view) return row.view;
      if (err instanceof TemporalUnavailable) throw err;
      // Not started yet, or no worker answering: the client retries (the order itself goes on).
      throw new OrderError('order_unavailable', 'The order is not available right now; retry');
    }
  }

  /**
   * Runs a command on the order; a refusal by the order's rules becomes an OrderError with the rule's code. It is
   * answered 'pending' only once the workflow has accepted it (then it happens); a command its workflow has not
   * taken within the reply wait (no worker answering) is order_unavailable, and its repeat under the same id learns
   * whether it took effect.
   */
  private async update<A>(row: OrderRow, def: UpdateDefinition<OrderReply, [A]>, arg: A): Promise<OrderAnswer> {
    try {
      const handle = this.deps.temporal.workflow.getHandle(row.id);
      let accepted = false;
      const reply = handle.startUpdate(def, { args: [arg] as [A], waitForStage: 'ACCEPTED' })
        .then((update) => { accepted = true; return update.result(); });
      return await this.withBatches(await this.answer(row.id, () => row.view ?? undefined, reply, () => accepted));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new OrderError('order_closed', 'The order is closed and takes no more changes');
      const refusal = updateRefusal(err);
      if (refusal) throw new OrderError(refusal.code, refusal.message, refusal.param);
      throw err;
    }
  }

  /**
   * At most ORDER_REPLY_WAIT_MS for the workflow's answer; after that, if the Temporal server answers a probe,
   * 'pending' with the order as it stands (its workflow's view, else `fallback`), and if it does not,
   * TemporalUnavailable (so a client hears within ORDER_REPLY_WAIT_MS + TEMPORAL_PROBE_DEADLINE_MS); a command not
   * yet `taken` by its workflow is order_unavailable rather than pending.
   */
  private async answer(id: string, fallback: () => OrderView | undefined, pending: Promise<OrderReply>,
    taken: () => boolean = () => true): Promise<OrderReply> {
    const reply = pending.catch((err: unknown) => { throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err; });
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ORDER_REPLY_WAIT_MS); });
    try {
      const first = await Promise.race([reply, waited]);
      if (first !== 'timeout') return first;
    } finally {
      clearTimeout(timer);
    }
    reply.catch(() => {}); // it finishes, or fails, on its own; the client polls GET /v1/orders/:id
    await temporalReachable(this.deps.temporal);
    if (!taken()) {
      throw new OrderError('order_unavailable', 'The order has not taken the command yet (no worker is answering); it may still take '
        + 'effect: repeat it with the same id to learn the outcome');
    }
    const known = fallback();
    // (briefly: the reply wait and the probe have used 4.5 s of the 5 s a client waits at most)
    const order = await withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(id).query(statusQuery), PENDING_QUERY_DEADLINE_MS)
      .catch((err: unknown) => { if (known) return known; throw err; });
    return { outcome: 'pending', order };
  }

  private async withBatches(reply: OrderReply): Promise<OrderAnswer> {
    return { outcome: reply.outcome, order: (await this.shown([reply.order]))[0] };
  }

  /**
   * Orders as the API shows them: each capture with its settlement batch, and the disputes of their captures (an open
   * one needs the merchant's attention); one read of each for them all.
   */
  private async shown(views: OrderView[]): Promise<OrderWithBatches[]> {
    // (orders without captures have nothing to read)
    const captured = views.filter((v) => v.captures.length > 0).map((v) => v.id);
    const batches = captured.length ? await this.deps.orders.captureBatches(...captured) : new Map<string, string | null>();
    const [disputes, loyalty] = await Promise.all([this.deps.disputes.ofOrders(captured), this.deps.orders.loyaltyOf(captured)]);
    return views.map((order) => {
      const own = disputes.filter((d) => d.orderId === order.id).map(({ merchantId: _m, orderId: _o, holdId: _h, ...d }) => d);
      const open = own.some((d) => d.closedAt === null);
      return { ...order, reviewDeadline: order.reviewDeadline ?? null, // (views saved before these were kept)
        confirmation: order.confirmation ?? null, authentication: order.authentication ?? null,
        captures: order.captures.map((c) => ({ ...c, batchId: batches.get(c.id) ?? null })), disputes: own,
        loyalty: loyalty.filter((l) => l.orderId === order.id).map((l) => ({ id: l.id, captureId: l.captureId, program: l.program, points: l.points,
          createdAt: l.createdAt!.toISOString() })),
        needsAttention: order.needsAttention || open, attentionReasons: open ? [...order.attentionReasons, 'dispute'] : order.attentionReasons };
    });
  }
}

/** Tries fn up to `tries` times, briefly apart; an unreachable Temporal server or a workflow gone is not tried again. */
async function retrying<T>(fn: () => Promise<T>, tries: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries || err instanceof TemporalUnavailable || err instanceof WorkflowNotFoundError) throw err;
      await new Promise((r) => setTimeout(r, 100 * i));
    }
  }
}
