// The card order: authorize with AVS → (review) → capture soft goods at once and hard goods per shipment →
// refunds and returns → close after the refund window. Cancellation voids; ageing authorizations are
// reauthorized; while the processor is unreachable the order waits in awaiting_processor, by policy.
// Rules live in domain/order.ts; this file is the story, and every processor call carries an idempotency
// key derived from the order id and the step, so a retried activity never charges twice.
import * as wf from '@temporalio/workflow';
import type { CapturePosting, OrderActivities, OrderBooks, OrderBooksActivity, RefundPosting } from '../activities/orders';
import type { BusinessEvent, WebhookEventActivities } from '../activities/webhookEvents';
import { avsDecision } from '../domain/avs';
import { unitsAmount } from '../domain/pricing';
import { Order, OrderRuleError, type OrderInput, type OrderView, type Units } from '../domain/order';
import { NeedsAttention, OrderState } from './searchAttributes';

export type { OrderInput, OrderView } from '../domain/order';

export interface ShipRequest { shipmentId: string; items: Units[]; trackingNumber: string }
export interface RefundRequest { refundId: string; kind: 'refund' | 'return'; amountMinor?: number; items?: Units[]; reason?: string }
export interface ReviewRequest { decision: 'approve' | 'reject' }
export interface CancelRequest { cancelId: string }

/** An update's answer: done, or still waiting on an unreachable processor (the order carries on by itself). */
export interface OrderReply { outcome: 'done' | 'pending'; order: OrderView }

export const submitUpdate = wf.defineUpdate<OrderReply>('submit');
export const shipUpdate = wf.defineUpdate<OrderReply, [ShipRequest]>('ship');
export const cancelUpdate = wf.defineUpdate<OrderReply, [CancelRequest]>('cancel');
export const refundUpdate = wf.defineUpdate<OrderReply, [RefundRequest]>('refund');
export const reviewUpdate = wf.defineUpdate<OrderReply, [ReviewRequest]>('review');
export const statusQuery = wf.defineQuery<OrderView>('status');

export const orderWorkflowId = (merchantId: string, clientOrderId: string) => `order-${merchantId}-${clientOrderId}`;

/** Commands (shipments, cancels, refunds, reviews) one order accepts in its life. */
export const MAX_COMMANDS_PER_ORDER = 200;

const processorOptions: Pick<wf.ActivityOptions, 'startToCloseTimeout' | 'retry'> = {
  startToCloseTimeout: '15 seconds',
  // A few quick tries inside the activity; longer outages are waited out by the workflow (withProcessor).
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 3,
    nonRetryableErrorTypes: ['ProcessorRejected'] },
};
const remoteProcessor = wf.proxyActivities<OrderActivities>(processorOptions);
/**
 * Processor calls as local activities: they run in the worker within the workflow task, so an authorization
 * answers the order's creator without two trips through the server's task queues. A call whose result was not
 * yet recorded when a worker died runs again with the same idempotency key, and the processor answers with the
 * first result.
 */
const localProcessor = wf.proxyLocalActivities<OrderActivities>(processorOptions);
/** Orders started before it call the processor through ordinary activities (as their histories recorded it). */
export const LOCAL_PROCESSOR_PATCH = 'order-local-processor';

// The ledger, the read model, the problems log and webhook enqueues must be written: retried until they are.
const booksOptions: Pick<wf.ActivityOptions, 'startToCloseTimeout' | 'retry'> = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Infinity,
    nonRetryableErrorTypes: ['LedgerError', 'DeliveryError'] },
};
const books = wf.proxyActivities<OrderActivities & OrderBooksActivity & WebhookEventActivities>(booksOptions);
/**
 * The same as local activities: short PostgreSQL writes run in the worker within the workflow task, without a
 * trip through the server's task queues (an order makes one per step).
 */
const localBooks = wf.proxyLocalActivities<OrderActivities & OrderBooksActivity & WebhookEventActivities>(booksOptions);
/** Orders started before it keep their book-keeping as ordinary activities (as their histories recorded it). */
export const LOCAL_BOOKS_PATCH = 'order-local-books';

/** Orders started before webhook events existed emit none (their histories have no such activities). */
export const WEBHOOK_EVENTS_PATCH = 'order-webhook-events';

/**
 * A step's postings and events are written with its order view, in one activity (commitOrderBooks): a shipment
 * costs two local activities (capture, books) instead of four. Orders started before it write each in an activity
 * of its own (as their histories recorded it).
 */
export const MERGED_BOOKS_PATCH = 'order-merged-books';

/**
 * Orders started from now on take every change above at once, with one patch marker instead of four (each
 * patch's first use writes a marker and upserts TemporalChangeVersion: six history events and visibility writes
 * fewer per order). Orders started before it decide each patch as their histories recorded it.
 */
export const ALL_ABOVE_PATCH = 'order-all-above';

type Command =
  | { id: string; kind: 'ship'; req: ShipRequest }
  | { id: string; kind: 'cancel' }
  | { id: string; kind: 'refund'; req: RefundRequest }
  | { id: string; kind: 'review'; req: ReviewRequest };

type Outcome = { ok: true } | { ok: false; code: string; message: string };

const UNREACHABLE = Symbol('unreachable');

export async function orderWorkflow(input: OrderInput): Promise<OrderView> {
  const allAbove = wf.patched(ALL_ABOVE_PATCH);
  const patched = (id: string) => allAbove || wf.patched(id);
  const bookkeeping = patched(LOCAL_BOOKS_PATCH) ? localBooks : books;
  const mergedBooks = patched(MERGED_BOOKS_PATCH);
  const processor = patched(LOCAL_PROCESSOR_PATCH) ? localProcessor : remoteProcessor;
  const order = new Order(input);
  const { policy } = input;
  const id = input.orderId;
  const queue: Command[] = [];
  const outcomes = new Map<string, Outcome>();
  let authorizationDecided = false;
  let reviewDeadlineMs = 0;
  let reauthFailed = false;
  let lastCaptureMs = 0;

  // --- messages --------------------------------------------------------------------------------------
  let running: string | null = null;
  /** Done, running or queued: a repeat (a client retrying after a 202) waits for the first instead of running again. */
  const known = (cmdId: string) => outcomes.has(cmdId) || running === cmdId || queue.some((c) => c.id === cmdId);
  const admit = (cmdId: string) => {
    if (!known(cmdId) && outcomes.size + queue.length >= MAX_COMMANDS_PER_ORDER) {
      throw new OrderRuleError('too_many_updates', `An order accepts at most ${MAX_COMMANDS_PER_ORDER} commands`);
    }
  };
  const reply = async (cmd: Command): Promise<OrderReply> => {
    if (!known(cmd.id)) queue.push(cmd);
    await wf.condition(() => outcomes.has(cmd.id) || order.state === 'awaiting_processor');
    const outcome = outcomes.get(cmd.id);
    if (outcome && !outcome.ok) throw wf.ApplicationFailure.create({ type: outcome.code, message: outcome.message, nonRetryable: true });
    return { outcome: outcome ? 'done' : 'pending', order: order.view() };
  };
  const ruleError = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof OrderRuleError) {
        throw wf.ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: [err.param ?? null] });
      }
      throw err;
    }
  };

  wf.setHandler(statusQuery, () => order.view());
  wf.setHandler(submitUpdate, async (): Promise<OrderReply> => {
    await wf.condition(() => authorizationDecided || order.state === 'awaiting_processor');
    return { outcome: authorizationDecided ? 'done' : 'pending', order: order.view() };
  });
  wf.setHandler(shipUpdate, (req) => reply({ id: `ship:${req.shipmentId}`, kind: 'ship', req }), {
    validator: (req) => ruleError(() => {
      const cmdId = `ship:${req.shipmentId}`;
      admit(cmdId);
      if (!known(cmdId)) order.shipmentAmount(req.items);
    }),
  });
  wf.setHandler(cancelUpdate, (req) => reply({ id: `cancel:${req.cancelId}`, kind: 'cancel' }), {
    validator: (req) => ruleError(() => admit(`cancel:${req.cancelId}`)),
  });
  wf.setHandler(refundUpdate, (req) => reply({ id: `refund:${req.refundId}`, kind: 'refund', req }), {
    validator: (req) => ruleError(() => {
      const cmdId = `refund:${req.refundId}`;
      admit(cmdId);
      if (!known(cmdId)) order.refundAmount(req);
    }),
  });
  wf.setHandler(reviewUpdate, (req) => reply({ id: `review:${req.decision}`, kind: 'review', req }), {
    validator: (_req) => ruleError(() => {
      if (order.review || order.settledState !== 'authorized_minus_avs') {
        throw new OrderRuleError('not_in_review', `The order is not awaiting a review (state ${order.settledState})`);
      }
    }),
  });

  // --- helpers ---------------------------------------------------------------------------------------
  let shownState = order.state;
  let shownAttention = false;
  const publish = () => {
    if (order.state === shownState && order.needsAttention === shownAttention) return;
    shownState = order.state;
    shownAttention = order.needsAttention;
    wf.upsertSearchAttributes([{ key: OrderState, value: order.state }, { key: NeedsAttention, value: order.needsAttention }]);
  };
  // (merged books: what a step posts and emits waits here for the step's save)
  let pending: Omit<OrderBooks, 'view'> = { captures: [], refunds: [], events: [] };
  const save = async () => {
    publish();
    if (!mergedBooks) return bookkeeping.saveOrder(order.view());
    const step = { ...pending, view: order.view() };
    pending = { captures: [], refunds: [], events: [] };
    await bookkeeping.commitOrderBooks(step);
  };
  const emit = async (type: BusinessEvent['type'], key: string, data: Record<string, unknown>) => {
    if (!patched(WEBHOOK_EVENTS_PATCH)) return;
    const event: BusinessEvent = { merchantId: input.merchantId, groupKey: id, type, eventKey: `${id}:${type}:${key}`,
      data: { orderId: id, clientOrderId: input.clientOrderId, state: order.state, ...data } };
    if (mergedBooks) pending.events.push(event); else await bookkeeping.emitEvent(event);
  };
  const postCapture = async (p: CapturePosting) => { if (mergedBooks) pending.captures.push(p); else await bookkeeping.postCapture(p); };
  const postRefund = async (p: RefundPosting) => { if (mergedBooks) pending.refunds.push(p); else await bookkeeping.postRefund(p); };
  const problem = async (kind: string, message: string, details: Record<string, unknown> = {}) => {
    order.flag(kind);
    publish();
    await bookkeeping.recordProblem({ workflowId: id, merchantId: input.merchantId, kind, message, details });
    await emit('order.needs_attention', `${kind}:${String(details.key ?? '')}`, { reason: kind, message });
  };

  /** Calls the processor, waiting out outages (capped exponential backoff) until the policy's deadline. */
  async function withProcessor<T>(call: () => Promise<T>): Promise<T | typeof UNREACHABLE> {
    const deadline = Date.now() + policy.processorDeadlineMs;
    let backoffMs = 1000;
    for (;;) {
      try {
        const result = await call();
        if (order.state === 'awaiting_processor') {
          order.leaveAwaitingProcessor();
          publish();
        }
        return result;
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        const left = deadline - Date.now();
        if (left <= 0) return UNREACHABLE;
        if (order.state !== 'awaiting_processor') {
          order.enterAwaitingProcessor();
          publish();
        }
        await wf.sleep(Math.min(backoffMs, left));
        backoffMs = Math.min(backoffMs * 2, policy.processorMaxBackoffMs);
      }
    }
  }

  async function voidActive(reason: string, message: string): Promise<boolean> {
    const auth = order.authorization;
    if (!auth) return true;
    const result = await withProcessor(() => processor.voidAuthorization(auth.id, `${id}:void:${auth.id}`)).catch(rejection);
    if (result === UNREACHABLE || isRejection(result)) {
      await problem('void_failed', `Voiding ${auth.id} failed: ${describe(result)}`, { key: auth.id });
      return false;
    }
    order.voided(reason, message);
    await emit('order.voided', auth.id, { authorizationId: auth.id, reason });
    return true;
  }

  async function capture(amountMinor: number, shipmentId: string | null): Promise<Outcome> {
    const auth = order.assertCapturable(amountMinor);
    const key = `${id}:capture:${shipmentId ?? 'soft-goods'}`;
    const result = await withProcessor(() => processor.capture(auth.id, amountMinor, key)).catch(rejection);
    if (result === UNREACHABLE || isRejection(result)) {
      const message = `Capture of ${amountMinor} on ${auth.id} failed: ${describe(result)}`;
      await problem('capture_failed', message, { key: shipmentId ?? 'soft-goods' });
      return { ok: false, code: result === UNREACHABLE ? 'processor_unreachable' : result.code, message };
    }
    const rec = order.captured({ id: result.id, authorizationId: auth.id, amountMinor, shipmentId });
    lastCaptureMs = Date.now();
    await postCapture({ orderId: id, merchantId: input.merchantId, captureId: rec.id, currency: order.priced.currency,
      amountMinor, feeMinor: rec.feeMinor });
    await emit('order.captured', rec.id, { captureId: rec.id, amountMinor, currency: order.priced.currency, shipmentId });
    return { ok: true };
  }

  async function captureSoftGoods(): Promise<void> {
    const soft = order.softUnits();
    if (soft.length === 0) return;
    const amount = unitsAmount(order.priced, soft);
    if (amount > 0 && (await capture(amount, null)).ok) order.softGoodsCaptured();
    await save();
  }

  async function run(cmd: Command): Promise<Outcome> {
    try {
      switch (cmd.kind) {
        case 'review': {
          order.reviewed(cmd.req.decision);
          if (cmd.req.decision === 'reject') await voidActive('review_rejected', 'An operator rejected the order in AVS review');
          else await captureSoftGoods();
          return { ok: true };
        }
        case 'ship': {
          const amount = order.shipmentAmount(cmd.req.items);
          const shipmentId = cmd.req.shipmentId;
          const captured = await capture(amount, shipmentId);
          if (!captured.ok) return captured;
          const captureId = order.captures[order.captures.length - 1].id;
          order.shipped({ id: shipmentId, items: cmd.req.items, trackingNumber: cmd.req.trackingNumber, amountMinor: amount, captureId });
          return { ok: true };
        }
        case 'cancel': {
          if (order.isFinal) throw new OrderRuleError('order_closed', `The order is ${order.state}`);
          if (!order.authorization || order.unshippedUnits().length === 0 && order.captures.length > 0) {
            throw new OrderRuleError('nothing_to_cancel', 'Everything has been captured; refund instead');
          }
          return (await voidActive('cancelled', 'Cancelled by the merchant'))
            ? { ok: true } : { ok: false, code: 'void_failed', message: 'The processor did not void the authorization' };
        }
        case 'refund': {
          const amount = order.refundAmount(cmd.req);
          const parts = order.allocateRefund(amount);
          const done: Array<{ captureId: string; processorRefundId: string; amountMinor: number; feeMinor: number }> = [];
          for (const p of parts) {
            const key = `${id}:refund:${cmd.req.refundId}:${p.captureId}`;
            const r = await withProcessor(() => processor.refund(p.captureId, p.amountMinor, key)).catch(rejection);
            if (r === UNREACHABLE || isRejection(r)) {
              const message = `Refund ${cmd.req.refundId} on ${p.captureId} failed: ${describe(r)}`;
              await problem('refund_failed', message, { key: cmd.req.refundId });
              if (done.length) order.refunded({ id: cmd.req.refundId, kind: cmd.req.kind, amountMinor: sum(done), items: null, parts: done });
              return { ok: false, code: 'refund_failed', message };
            }
            await postRefund({ orderId: id, merchantId: input.merchantId, captureId: p.captureId, refundId: r.id,
              currency: order.priced.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor });
            done.push({ ...p, processorRefundId: r.id });
          }
          order.refunded({ id: cmd.req.refundId, kind: cmd.req.kind, amountMinor: amount, items: cmd.req.items ?? null, parts: done });
          await emit('order.refunded', cmd.req.refundId, { refundId: cmd.req.refundId, kind: cmd.req.kind, amountMinor: amount,
            currency: order.priced.currency });
          return { ok: true };
        }
      }
    } catch (err) {
      if (err instanceof OrderRuleError) return { ok: false, code: err.code, message: err.message };
      throw err;
    }
  }

  async function reauthorize(): Promise<void> {
    const old = order.authorization!;
    const amount = order.uncapturedOrderMinor();
    const result = await withProcessor(() => processor.reauthorize(old.id, amount, `${id}:reauth:${old.id}`)).catch(rejection);
    if (result === UNREACHABLE || isRejection(result) || result.status !== 'approved') {
      reauthFailed = true;
      const why = result === UNREACHABLE || isRejection(result) ? describe(result) : `declined (${result.declineCode})`;
      await problem('reauthorization_failed', `Reauthorizing ${amount} to replace ${old.id} failed: ${why}`, { key: old.id });
      return;
    }
    order.reauthorized({ id: result.id, amountMinor: result.amountMinor, avsCode: result.avsCode, expiresAt: result.expiresAt! });
    const voided = await withProcessor(() => processor.voidAuthorization(old.id, `${id}:void:${old.id}`)).catch(rejection);
    if (voided === UNREACHABLE || isRejection(voided)) {
      await problem('void_failed', `Voiding the replaced authorization ${old.id} failed: ${describe(voided)}`, { key: old.id });
    }
  }

  // --- the story -------------------------------------------------------------------------------------
  const auth = await withProcessor(() => processor.authorize({
    token: input.payment.token, amountMinor: order.priced.totalMinor, currency: order.priced.currency,
    postalCode: input.payment.billingPostalCode, reference: id,
  }, `${id}:authorize`)).catch(rejection);

  if (auth === UNREACHABLE) {
    order.authorizationFailed('processor_unreachable', 'The processor could not be reached before the deadline');
    authorizationDecided = true;
    await problem('authorization_failed', 'The processor was unreachable until the deadline; the order failed');
  } else if (isRejection(auth)) {
    order.authorizationFailed(auth.code, auth.message);
    authorizationDecided = true;
  } else if (auth.status !== 'approved') {
    order.authorizationFailed(auth.declineCode ?? 'declined', `The card was declined (${auth.declineCode ?? 'declined'})`);
    authorizationDecided = true;
  } else {
    const decision = avsDecision(policy.avsPolicy, auth.avsCode);
    order.authorized({ id: auth.id, amountMinor: auth.amountMinor, avsCode: auth.avsCode, expiresAt: auth.expiresAt! },
      decision === 'accept' ? 'accept' : 'review');
    if (decision === 'reject') {
      await voidActive('avs_rejected', `AVS code ${auth.avsCode} is rejected by the merchant's policy`);
      order.state = 'failed_authorization';
    }
    authorizationDecided = true;
    if (decision !== 'reject') {
      await emit('order.authorized', auth.id, { authorizationId: auth.id, amountMinor: auth.amountMinor,
        currency: order.priced.currency, avsCode: auth.avsCode });
    }
    if (decision === 'review') reviewDeadlineMs = Date.now() + policy.reviewTimeoutMs;
    if (decision === 'accept') await captureSoftGoods();
  }
  await save();

  while (!order.isFinal) {
    const inReview = order.settledState === 'authorized_minus_avs' && !order.review;
    const reauthAt = reauthFailed ? null : order.reauthorizeAtMs();
    // Nothing more to capture (all shipped, or the rest cancelled): open for refunds until the window ends.
    const settled = order.captures.length > 0 && (order.unshippedUnits().length === 0 || !order.authorization);
    const closeAt = settled ? lastCaptureMs + policy.refundWindowMs : null;
    const wakeAt = Math.min(...[inReview ? reviewDeadlineMs : Infinity, reauthAt ?? Infinity, closeAt ?? Infinity]);
    const timeout = wakeAt === Infinity ? undefined : Math.max(1, wakeAt - Date.now());
    const woken = timeout === undefined
      ? (await wf.condition(() => queue.length > 0), true)
      : await wf.condition(() => queue.length > 0, timeout);
    if (woken && queue.length > 0) {
      const cmd = queue.shift()!;
      running = cmd.id;
      outcomes.set(cmd.id, await run(cmd));
      running = null;
      await save();
      continue;
    }
    if (inReview && Date.now() >= reviewDeadlineMs) {
      order.reviewed('timeout');
      await voidActive('review_timeout', 'No review decision before the deadline');
    } else if (reauthAt !== null && Date.now() >= reauthAt) {
      await reauthorize();
    } else if (closeAt !== null && Date.now() >= closeAt) {
      break;
    }
    await save();
  }
  await save();
  await wf.condition(wf.allHandlersFinished); // let updates answer before the workflow closes
  return order.view();
}

/** An activity's failure; a local activity's arrives unwrapped. */
function causeOf(err: unknown): unknown {
  return err instanceof wf.ActivityFailure ? err.cause : err;
}

function isUnavailable(err: unknown): boolean {
  const cause = causeOf(err);
  return cause instanceof wf.TimeoutFailure ||
    (cause instanceof wf.ApplicationFailure && cause.type !== 'ProcessorRejected');
}

interface Rejection { rejected: true; code: string; message: string }
function rejection(err: unknown): Rejection {
  const cause = causeOf(err);
  if (cause instanceof wf.ApplicationFailure && cause.type === 'ProcessorRejected') {
    return { rejected: true, code: String(cause.details?.[0] ?? 'processor_rejected'), message: cause.message };
  }
  throw err;
}
function isRejection(x: unknown): x is Rejection {
  return typeof x === 'object' && x !== null && (x as Rejection).rejected === true;
}
function describe(x: Rejection | typeof UNREACHABLE): string {
  return x === UNREACHABLE ? 'the processor was unreachable until the deadline' : `${x.code}: ${x.message}`;
}
function sum(parts: Array<{ amountMinor: number }>): number {
  return parts.reduce((s, p) => s + p.amountMinor, 0);
}
