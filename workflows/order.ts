// The card order: authorize with AVS → (review) → capture soft goods at once and hard goods per shipment →
// refunds and returns → close after the refund window. Cancellation voids; ageing authorizations are
// reauthorized; while the processor is unreachable the order waits in awaiting_processor, by policy.
// The rules (which commands are accepted, in what order they run, what an update answers, when the order
// wakes up by itself) live in domain/order.ts; this file is the story. Every processor call carries an
// idempotency key derived from the order id and the step, so a retried activity never charges twice.
// Before the processor sees it, an order may ask its customer: to confirm it by message (confirmByMessage), or, when
// the processor asks, to authenticate on their device (authenticate); either waits durably for the answer, a
// merchant's cancel or the deadline, and the database decides which came first.
import type { UpdateDefinition } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { AuthenticationActivities } from '../activities/authentications';
import type { ConfirmationActivities } from '../activities/confirmations';
import type { Authorization, CapturePosting, OrderActivities, OrderBooks, OrderBooksActivity, RefundPosting } from '../activities/orders';
import type { BusinessEvent } from '../activities/webhookEvents';
import { avsDecision } from '../domain/avs';
import type { ConfirmationOutcome } from '../domain/confirmation';
import { captureLineItems, unitsAmount } from '../domain/pricing';
import {
  type AuthenticationState, type CommandOutcome, Order, orderDetails, type OrderCommand, orderCommand, OrderRuleError, type OrderInput, type OrderView, type RefundRequest,
  type Units,
} from '../domain/order';
import { AUTHENTICATION_TIMEOUT_MS } from '../domain/stepUp';
import {
  type AuthorizationShareReport, authorizationShareSignal, cancelUpdate, customerAnswerSignal, orderDecidedSignal, type OrderReply, refundUpdate,
  resolveUpdate, reviewUpdate, shipUpdate, statusQuery, submitUpdate,
} from './order.contract';
import { PROCESSOR_CALL, UNTIL_WRITTEN } from './activityOptions';
import { causeOf, processorRefusal } from './processorFailures';
import { refusedAs } from './refusal';
import { NeedsAttention, OrderState } from './searchAttributes';

/**
 * Processor calls, as local activities: they run in the worker within the workflow task, so an authorization
 * answers the order's creator without two trips through the server's task queues. A call whose result was not
 * yet recorded when a worker died runs again with the same idempotency key, and the processor answers with the
 * first result. A few quick tries inside the activity; longer outages are waited out by the workflow
 * (withProcessor).
 */
const processor = wf.proxyLocalActivities<OrderActivities>(PROCESSOR_CALL);

/**
 * The books (ledger postings, webhook events, the read model, the problems log) must be written: retried until
 * they are. Local activities too: short PostgreSQL writes, one per step (commitOrderBooks).
 */
const books = wf.proxyLocalActivities<OrderActivities & OrderBooksActivity>({
  ...UNTIL_WRITTEN, retry: { ...UNTIL_WRITTEN.retry, nonRetryableErrorTypes: ['LedgerError', 'DeliveryError'] },
});

/** What the customer's questions write (an offer's row, an authentication request, how each ended): retried until written. */
const customerBooks = wf.proxyLocalActivities<ConfirmationActivities & AuthenticationActivities>(UNTIL_WRITTEN);

const UNREACHABLE = Symbol('unreachable');

export async function orderWorkflow(input: OrderInput): Promise<OrderView> {
  const order = new Order(input);
  const { policy } = input;
  const id = input.orderId;

  // --- messages --------------------------------------------------------------------------------------
  /** A command's update: admitted by the order's rules, queued, answered once it has run (or is pending). */
  const wire = <R>(def: UpdateDefinition<OrderReply, [R]>, commandOf: (req: R) => OrderCommand) => {
    wf.setHandler(def, async (req): Promise<OrderReply> => {
      const cmd = commandOf(req);
      order.enqueue(cmd);
      await wf.condition(() => order.answer(cmd.id) !== undefined);
      const answer = order.answer(cmd.id)!;
      if (answer.outcome === 'failed') throw wf.ApplicationFailure.create({ type: answer.code, message: answer.message, nonRetryable: true });
      return { outcome: answer.outcome, order: order.view() };
    }, { validator: (req) => refusedAs(OrderRuleError, () => order.admit(commandOf(req))) });
  };

  wf.setHandler(statusQuery, () => order.view());
  wf.setHandler(submitUpdate, async (): Promise<OrderReply> => {
    await wf.condition(() => order.submitAnswer() !== undefined);
    return { outcome: order.submitAnswer()!.outcome === 'pending' ? 'pending' : 'done', order: order.view() };
  });
  wire(shipUpdate, orderCommand.ship);
  wire(cancelUpdate, orderCommand.cancel);
  wire(refundUpdate, orderCommand.refund);
  wire(reviewUpdate, orderCommand.review);
  wire(resolveUpdate, orderCommand.resolve);
  wf.setHandler(customerAnswerSignal, ({ outcome }) => order.customerAnswered(outcome));

  // --- the books -------------------------------------------------------------------------------------
  let shownState = order.state;
  let shownAttention = false;
  const publish = (view: OrderView = order.view()) => {
    // (the Web UI's current details: asked of the workflow when shown, never a command, so no history event)
    wf.setCurrentDetails(orderDetails(view));
    if (order.state === shownState && order.needsAttention === shownAttention) return;
    shownState = order.state;
    shownAttention = order.needsAttention;
    wf.upsertSearchAttributes([{ key: OrderState, value: order.state }, { key: NeedsAttention, value: order.needsAttention }]);
  };
  // what a step posts and emits waits here for the step's save, and is written with the order's view in one activity
  let pending: Omit<OrderBooks, 'view'> = { captures: [], refunds: [], events: [] };
  const save = async () => {
    const view = order.view(); // (one view a step: the details and the books both take it)
    publish(view);
    const step = { ...pending, view };
    pending = { captures: [], refunds: [], events: [] };
    await books.commitOrderBooks(step);
  };
  const emit = (type: BusinessEvent['type'], key: string, data: Record<string, unknown>) => {
    pending.events.push({ merchantId: input.merchantId, groupKey: id, type, eventKey: `${id}:${type}:${key}`,
      data: { orderId: id, clientOrderId: input.clientOrderId, state: order.state, ...data } });
  };
  const postCapture = (p: CapturePosting) => { pending.captures.push(p); };
  const postRefund = (p: RefundPosting) => { pending.refunds.push(p); };
  const problem = async (kind: string, message: string, details: { key?: string } & Record<string, unknown> = {}) => {
    order.flag(kind);
    publish();
    await books.recordProblem({ workflowId: id, merchantId: input.merchantId, kind, message, details });
    emit('order.needs_attention', `${kind}:${details.key ?? ''}`, { reason: kind, message });
  };

  // --- the processor ---------------------------------------------------------------------------------
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

  /** Tells the workflow that holds the shared authorization (a bid round); false when it is not there to hear. */
  const report = (event: AuthorizationShareReport['event']) => wf.getExternalWorkflowHandle(input.authorizationOwner!)
    .signal(authorizationShareSignal, { orderId: id, event }).then(() => true, () => false);

  async function voidActive(reason: string, message: string): Promise<boolean> {
    const auth = order.authorization;
    if (!auth) return true;
    // Nothing captured (nor a capture tried whose answer was lost): the share goes back whole to its owner, which
    // gives it to another merchant or voids it. An owner gone, or a capture in doubt: voided here, and the owner told.
    const handBack = input.authorizationOwner && order.captures.length === 0 && !order.attentionReasons.includes('capture_failed');
    if (handBack && await report('released')) {
      order.voided(reason, message);
      emit('order.voided', auth.id, { authorizationId: auth.id, reason, handedBack: true });
      return true;
    }
    const share = order.releasableMinor(); // (a share of a shared authorization: only what is left of it)
    const result = share === 0 ? null
      : await withProcessor(() => processor.voidAuthorization(auth.id, `${id}:void:${auth.id}`, share)).catch(rejection);
    if (result === UNREACHABLE || isRejection(result)) {
      await problem('void_failed', `Voiding ${auth.id} failed: ${describe(result)}`, { key: auth.id });
      return false;
    }
    order.voided(reason, message);
    emit('order.voided', auth.id, { authorizationId: auth.id, reason });
    if (input.authorizationOwner) await report('voided');
    return true;
  }

  async function capture(amountMinor: number, shipmentId: string | null, units: Units[]): Promise<CommandOutcome> {
    const auth = order.assertCapturable(amountMinor);
    const key = `${id}:capture:${shipmentId ?? 'soft-goods'}`;
    // (the merchant opted in: the issuer gets what the capture took, line by line, and the processor charges less)
    const lineItems = input.policy.shareLineItems ? captureLineItems(order.priced, units, amountMinor) : undefined;
    const result = await withProcessor(() => processor.capture(auth.id, amountMinor, key, lineItems)).catch(rejection);
    if (result === UNREACHABLE || isRejection(result)) {
      const message = `Capture of ${amountMinor} on ${auth.id} failed: ${describe(result)}`;
      await problem('capture_failed', message, { key: shipmentId ?? 'soft-goods' });
      return { ok: false, code: result === UNREACHABLE ? 'processor_unreachable' : result.code, message };
    }
    const rec = order.captured({ id: result.id, authorizationId: auth.id, amountMinor, shipmentId, units }, Date.now());
    if (input.authorizationOwner && order.captures.length === 1) await report('captured');
    postCapture({ orderId: id, merchantId: input.merchantId, captureId: rec.id, currency: order.priced.currency,
      amountMinor, feeMinor: rec.feeMinor, processorFeeMinor: result.feeMinor });
    emit('order.captured', rec.id, { captureId: rec.id, amountMinor, currency: order.priced.currency, shipmentId });
    return { ok: true };
  }

  async function captureSoftGoods(): Promise<void> {
    const soft = order.softUnits();
    if (soft.length === 0) return;
    const amount = unitsAmount(order.priced, soft);
    if (amount > 0 && (await capture(amount, null, soft)).ok) order.softGoodsCaptured();
    await save();
  }

  async function refund(req: RefundRequest): Promise<CommandOutcome> {
    const { refundId, kind, items } = req;
    const amount = order.refundAmount(req);
    const done: Array<{ captureId: string; processorRefundId: string; amountMinor: number; feeMinor: number }> = [];
    for (const p of order.allocateRefund(amount)) {
      const r = await withProcessor(() => processor.refund(p.captureId, p.amountMinor, `${id}:refund:${refundId}:${p.captureId}`))
        .catch(rejection);
      if (r === UNREACHABLE || isRejection(r)) {
        const message = `Refund ${refundId} on ${p.captureId} failed: ${describe(r)}`;
        await problem('refund_failed', message, { key: refundId });
        if (done.length) order.refunded({ id: refundId, kind, amountMinor: sum(done), items: null, parts: done });
        return { ok: false, code: 'refund_failed', message };
      }
      postRefund({ orderId: id, merchantId: input.merchantId, captureId: p.captureId, refundId: r.id,
        currency: order.priced.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor });
      done.push({ ...p, processorRefundId: r.id });
    }
    order.refunded({ id: refundId, kind, amountMinor: amount, items: items ?? null, parts: done });
    emit('order.refunded', refundId, { refundId, kind, amountMinor: amount, currency: order.priced.currency });
    return { ok: true };
  }

  async function run(cmd: OrderCommand): Promise<CommandOutcome> {
    try {
      switch (cmd.kind) {
        case 'review':
          order.reviewed(cmd.req.decision);
          if (cmd.req.decision === 'reject') await voidActive('review_rejected', 'An operator rejected the order in AVS review');
          else await captureSoftGoods();
          return { ok: true };
        case 'ship': {
          const amount = order.shipmentAmount(cmd.req.items);
          const captured = await capture(amount, cmd.req.shipmentId, cmd.req.items);
          if (!captured.ok) return captured;
          order.shipped({ id: cmd.req.shipmentId, items: cmd.req.items, trackingNumber: cmd.req.trackingNumber, amountMinor: amount,
            captureId: order.captures[order.captures.length - 1].id });
          return { ok: true };
        }
        case 'cancel':
          order.assertCancellable();
          return (await voidActive('cancelled', 'Cancelled by the merchant'))
            ? { ok: true } : { ok: false, code: 'void_failed', message: 'The processor did not void the authorization' };
        case 'refund':
          return await refund(cmd.req);
        case 'resolve':
          order.clearFlag(cmd.req.kind);
          emit('order.needs_attention_resolved', cmd.req.problemId, { reason: cmd.req.kind, problemId: cmd.req.problemId });
          return { ok: true };
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
      order.reauthorizationFailed();
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

  // --- the customer --------------------------------------------------------------------------------
  /**
   * Waits for the customer's answer, a merchant's cancel (the only command taken meanwhile) or the deadline. A cancel
   * or the deadline closes the question in the database, which returns how it ended (an answer may have come first).
   */
  async function customerAnswer<O extends string>(deadlineMs: number, close: (why: 'expired' | 'cancelled') => Promise<O>) {
    await wf.condition(() => order.answerFromCustomer !== null || order.hasQueuedCommand, Math.max(1, deadlineMs - Date.now()));
    const answer = order.answerFromCustomer as O | null;
    if (answer !== null) return { outcome: answer, cancel: undefined };
    const cancel = order.startNextCommand();
    return { outcome: await close(cancel ? 'cancelled' : 'expired'), cancel };
  }

  /** The customer confirms by message: the offer is sent (tried until its deadline), then the reply is awaited. */
  async function confirmByMessage(): Promise<void> {
    const c = input.confirmation!;
    const offers = wf.proxyActivities<ConfirmationActivities>({
      startToCloseTimeout: '30 seconds', scheduleToCloseTimeout: c.sendDeadlineMs,
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['OfferRefused'] },
    });
    const sent = await offers.sendConfirmationOffer({ orderId: id, merchantId: input.merchantId, phoneToken: c.phoneToken,
      amountMinor: order.priced.totalMinor, currency: order.priced.currency, timeoutMs: c.timeoutMs })
      .catch((err: unknown) => { if (err instanceof wf.ActivityFailure) return null; throw err; });
    let outcome: ConfirmationOutcome;
    let cancel: OrderCommand | undefined;
    if (sent === null) {
      outcome = await customerBooks.closeConfirmation(id, 'not_sent');
      if (outcome === 'not_sent') {
        await problem('confirmation_not_sent', 'The offer could not be sent to the customer (the messaging gateway refused it, or was unreachable '
          + 'until the deadline); the order is cancelled, nothing authorized');
      }
    } else {
      order.offerSent(Date.parse(sent.offerSentAt), Date.parse(sent.deadline));
      emit('order.awaiting_customer', 'confirmation', { channel: 'sms', deadline: sent.deadline });
      await save();
      ({ outcome, cancel } = await customerAnswer(Date.parse(sent.deadline), (why) => customerBooks.closeConfirmation(id, why)));
    }
    order.confirmationEnded(cancel ? 'cancelled' : outcome);
    if (cancel) order.commandDone(cancel, { ok: true });
  }

  /**
   * The processor asks the customer to authenticate `required` on their device: an authentication request goes to the
   * customer's registered devices and the answer is awaited; the processor then completes the authorization with the
   * result. Returns its answer when the customer approved, or null when the order ended here (failed or cancelled).
   */
  async function authenticate(required: Authorization): Promise<Authorization | Rejection | typeof UNREACHABLE | null> {
    order.requireAuthentication(required.id);
    const asked = await customerBooks.startAuthentication({ orderId: id, merchantId: input.merchantId, customerId: input.customerId,
      amountMinor: order.priced.totalMinor, currency: order.priced.currency, reference: required.id,
      timeoutMs: policy.authenticationTimeoutMs ?? AUTHENTICATION_TIMEOUT_MS });
    let outcome: AuthenticationState = asked.state;
    let cancel: OrderCommand | undefined;
    if (asked.state !== 'no_device') {
      order.authenticationRequested(asked.id, Date.parse(asked.expiresAt));
      emit('order.awaiting_customer', 'authentication', { channel: 'device', authenticationId: asked.id, deadline: asked.expiresAt });
      await save();
      if (asked.state === 'pending') {
        ({ outcome, cancel } = await customerAnswer(Date.parse(asked.expiresAt), (why) => customerBooks.closeAuthentication(id, why)));
      }
    }
    const approved = outcome === 'approved' && !cancel;
    const completion = () => processor.completeAuthentication(required.id, { authenticated: approved, authenticationId: asked.id ?? 'none' },
      `${id}:authenticate`);
    if (!approved) {
      await completion().catch(() => undefined); // (the processor closes the authorization; if it cannot hear now, it expires there)
      order.authenticationEnded(cancel ? 'cancelled' : outcome as Parameters<Order['authenticationEnded']>[0]);
      if (cancel) order.commandDone(cancel, { ok: true });
      return null;
    }
    order.authenticationEnded('approved');
    return withProcessor(completion).catch(rejection);
  }

  // --- the story -------------------------------------------------------------------------------------
  if (input.confirmation) await confirmByMessage();
  // (a part of a purchase across merchants starts on its share of the purchase's authorization)
  let auth = order.state === 'cancelled' ? null : input.sharedAuthorization ? { ...input.sharedAuthorization, status: 'approved' as const, declineCode: null }
    : await withProcessor(() => processor.authorize({
      token: input.payment.token, amountMinor: order.priced.totalMinor, currency: order.priced.currency,
      postalCode: input.payment.billingPostalCode, reference: id,
    }, `${id}:authorize`)).catch(rejection);
  if (auth !== null && auth !== UNREACHABLE && !isRejection(auth) && auth.status === 'authentication_required') auth = await authenticate(auth);

  if (auth === null) {
    if (order.state === 'cancelled') emit('order.cancelled', 'customer', { code: order.failure?.code ?? 'cancelled', message: order.failure?.message ?? null });
  } else if (auth === UNREACHABLE) {
    order.authorizationFailed('processor_unreachable', 'The processor could not be reached before the deadline');
    await problem('authorization_failed', 'The processor was unreachable until the deadline; the order failed');
  } else if (isRejection(auth)) {
    order.authorizationFailed(auth.code, auth.message);
  } else if (auth.status !== 'approved') {
    order.authorizationFailed(auth.declineCode ?? 'declined', `The card was declined (${auth.declineCode ?? 'declined'})`);
  } else {
    const decision = avsDecision(policy.avsPolicy, auth.avsCode);
    order.authorized({ id: auth.id, amountMinor: auth.amountMinor, avsCode: auth.avsCode, expiresAt: auth.expiresAt! }, decision, Date.now());
    if (decision === 'reject') {
      await voidActive('avs_rejected', `AVS code ${auth.avsCode} is rejected by the merchant's policy`);
      order.avsRejected();
    } else {
      emit('order.authorized', auth.id, { authorizationId: auth.id, amountMinor: auth.amountMinor,
        currency: order.priced.currency, avsCode: auth.avsCode });
    }
    if (decision === 'accept') await captureSoftGoods();
  }
  if (order.state === 'failed_authorization') {
    emit('order.authorization_failed', 'authorize', { code: order.failure?.code ?? 'declined', message: order.failure?.message ?? null });
  }
  await save();
  if (input.parentWorkflowId) {
    // (a parent gone meanwhile — an operator ended it — hears nothing; the order goes on)
    await wf.getExternalWorkflowHandle(input.parentWorkflowId).signal(orderDecidedSignal, { orderId: id, state: order.settledState, failure: order.failure })
      .catch(() => undefined);
  }

  while (!order.isFinal) {
    const wakeAt = order.nextWakeAtMs();
    if (wakeAt === null) await wf.condition(() => order.hasQueuedCommand);
    else await wf.condition(() => order.hasQueuedCommand, Math.max(1, wakeAt - Date.now()));
    const cmd = order.startNextCommand();
    if (cmd) {
      order.commandDone(cmd, await run(cmd));
    } else {
      const due = order.dueTimer(Date.now());
      if (due === 'review_timeout') {
        order.reviewed('timeout');
        await voidActive('review_timeout', 'No review decision before the deadline');
      } else if (due === 'reauthorize') {
        await reauthorize();
      } else if (due === 'share_expiring') {
        const a = order.authorization!;
        order.reauthorizationFailed();
        await problem('authorization_expiring', `The purchase's authorization ${a.id} this order captures from expires at ${a.expiresAt} `
          + 'with goods unshipped: ship them before, or settle with the customer (a share is not reauthorized alone)', { key: a.id });
      } else if (due === 'close') {
        break;
      }
    }
    await save();
  }
  await save();
  await wf.condition(wf.allHandlersFinished); // let updates answer before the workflow closes
  return order.view();
}

function isUnavailable(err: unknown): boolean {
  const cause = causeOf(err);
  return cause instanceof wf.TimeoutFailure ||
    (cause instanceof wf.ApplicationFailure && cause.type !== 'ProcessorRejected');
}

interface Rejection { rejected: true; code: string; message: string }
function rejection(err: unknown): Rejection {
  const refusal = processorRefusal(err);
  if (refusal) return { rejected: true, ...refusal };
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
