// Broker checkout as clients and customers see it: a merchant's request becomes a session (its row first, then its
// workflow), the hosted page prices the customer's choices with the session's own rules and pays through the
// session's workflow (Update-with-Start, so a session whose start was missed still takes its payment), and the
// page follows the attempt's order until its authorization is decided.
import { createHash, randomBytes } from 'node:crypto';
import { type Client, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { canonical } from '../domain/canonical';
import {
  type CheckoutChoice, CheckoutError, type CheckoutItem, type CheckoutSessionInput, type CheckoutSessionView, checkSessionRequest,
  CheckoutSession, DEFAULT_SESSION_TTL_MS, type PayRequest, type PricedOption, priceCheckout,
} from '../domain/checkout';
import type { PricedOrder, ShippingOption } from '../domain/pricing';
import type { CheckoutSessionRow, CheckoutStore } from '../stores/checkout';
import type { MerchantStore } from '../stores/merchants';
import type { Page, PageRequest } from '../stores/page';
import {
  type CheckoutSessionWorkflow, checkoutSessionWorkflowId, payUpdate, sessionQuery,
} from '../workflows/checkoutSession.contract';
import { MerchantId } from '../workflows/searchAttributes';
import type { OrderService, OrderTiming, OrderWithBatches } from './orders';
import { isTemporalUnavailable, replyWithin, startOnce, TemporalUnavailable, updateRefusal, withinDeadline } from './temporal';

export { CheckoutError } from '../domain/checkout';

/** How long a payment waits for its order's authorization before answering 'processing' (the page then polls). */
export const PAY_REPLY_WAIT_MS = 3500;

export interface SessionRequest {
  items: CheckoutItem[];
  shippingOptions?: ShippingOption[];
  options?: PricedOption[];
  successUrl: string;
  cancelUrl: string;
  /** Default DEFAULT_SESSION_TTL_MS from now. */
  expiresInSeconds?: number;
  customerId?: string;
}

/** A session as the API and the page show it. */
export interface SessionShown extends CheckoutSessionView {
  url: string;
  merchantName: string;
  items: CheckoutItem[];
  shippingOptions: ShippingOption[];
  options: PricedOption[];
  successUrl: string;
  cancelUrl: string;
  customerId: string;
  createdAt: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class CheckoutService {
  constructor(private readonly deps: {
    checkout: CheckoutStore; merchants: MerchantStore; orders: OrderService; temporal: Client; taskQueue: string; timing: OrderTiming;
    /** Where customers reach the hosted pages (the session's url). */
    publicUrl: string;
    clock: () => number;
  }) {}

  /**
   * A session for the merchant's cart, named by its Idempotency-Key: a repeat answers the same session (created
   * false); the same key with another request is refused. Its workflow is started (expiry, completion).
   */
  async create(merchantId: string, idempotencyKey: string, req: SessionRequest): Promise<{ session: SessionShown; created: boolean }> {
    const merchant = await this.deps.merchants.get(merchantId);
    if (!merchant) throw new CheckoutError('unknown_merchant', 'No such merchant');
    const id = `cs_${randomBytes(18).toString('base64url')}`;
    const input: CheckoutSessionInput = {
      sessionId: id, merchantId, merchantName: merchant.name, currency: merchant.currency, items: req.items,
      shippingOptions: req.shippingOptions ?? merchant.shippingOptions, options: req.options ?? [], taxRatesBps: merchant.taxRatesBps,
      successUrl: req.successUrl, cancelUrl: req.cancelUrl,
      expiresAt: new Date(this.deps.clock() + (req.expiresInSeconds !== undefined ? req.expiresInSeconds * 1000 : DEFAULT_SESSION_TTL_MS)).toISOString(),
      customerId: req.customerId ?? `checkout-${id}`,
      policy: { avsPolicy: merchant.avsPolicy, feeBps: merchant.feeBps, reviewTimeoutMs: merchant.reviewTimeoutSeconds * 1000, ...this.deps.timing,
        ...(merchant.shareLineItems ? { shareLineItems: true } : {}) },
    };
    checkSessionRequest(input);
    const { row, claim } = await this.deps.checkout.claimSession({ id, merchantId, idempotencyKey, requestSha256: sha256(canonical(req)), input });
    if (claim === 'different') {
      throw new CheckoutError('idempotency_key_reused', 'A session exists under this Idempotency-Key with a different request', 'Idempotency-Key');
    }
    await startOnce(this.deps.temporal, () => this.deps.temporal.workflow.start<CheckoutSessionWorkflow>('checkoutSessionWorkflow', this.startOptions(row.input)));
    return { session: this.shown(row), created: claim === 'created' };
  }

  session(id: string): Promise<CheckoutSessionRow | undefined> {
    return this.deps.checkout.session(id);
  }

  list(req: PageRequest & { merchantId: string }): Promise<Page<SessionShown>> {
    return this.deps.checkout.listSessions(req).then((p) => ({ data: p.data.map((r) => this.shown(r)), hasMore: p.hasMore }));
  }

  /** The session as its row shows it (its workflow saves each change). */
  shown(row: CheckoutSessionRow): SessionShown {
    const i = row.input;
    const view = row.view ?? new CheckoutSession(i).view();
    return {
      ...view, url: `${this.deps.publicUrl}/checkout/${row.id}`, merchantName: i.merchantName, items: i.items, shippingOptions: i.shippingOptions,
      options: i.options, successUrl: i.successUrl, cancelUrl: i.cancelUrl, customerId: i.customerId, createdAt: row.createdAt.toISOString(),
    };
  }

  /** The totals of the customer's choice (the page shows them as the customer changes it). */
  quote(row: CheckoutSessionRow, choice: CheckoutChoice): PricedOrder {
    return priceCheckout(row.input, choice);
  }

  /**
   * Pays: the first payment of an open session starts an attempt (its order); a repeat while it decides, or once
   * completed, answers the same order; with the total the customer was shown, a choice priced otherwise is refused
   * (total_changed). Answered when the order's authorization is decided, or after PAY_REPLY_WAIT_MS
   * with the session processing (the page polls status()).
   */
  async pay(row: CheckoutSessionRow, req: PayRequest, expectedTotalMinor?: number): Promise<{ session: CheckoutSessionView; order: OrderWithBatches | null }> {
    const { temporal } = this.deps;
    // The session's own rules on the state it last saved, before any workflow: a reload or a double click while the
    // payment decides, or after it, is the same order (no second update); an ended session, or a choice that does not
    // price, is refused; so is one priced otherwise than the customer saw.
    const saved = new CheckoutSession(row.input);
    saved.state = row.view?.state ?? 'open';
    const priced = saved.admitPay(req, this.deps.clock());
    if (!priced) return this.status(row);
    const { totalMinor } = priced;
    if (expectedTotalMinor !== undefined && expectedTotalMinor !== totalMinor) {
      throw new CheckoutError('total_changed', `These choices total ${totalMinor}, not the ${expectedTotalMinor} shown; confirm the new total`, 'expectedTotalMinor');
    }
    const reply = withinDeadline(temporal, () => temporal.workflow.executeUpdateWithStart(payUpdate, {
      args: [req], startWorkflowOperation: new WithStartWorkflowOperation<CheckoutSessionWorkflow>('checkoutSessionWorkflow', this.startOptions(row.input)),
    }), 30_000).catch((err: unknown) => {
      const refusal = updateRefusal(err);
      if (refusal) throw new CheckoutError(refusal.code, refusal.message, refusal.param);
      // (its workflow closed without completing: an operator ended it)
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CheckoutError('session_closed', 'This checkout session is closed');
      throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
    });
    return this.withOrder(await replyWithin(reply, PAY_REPLY_WAIT_MS) ?? await this.liveView(row));
  }

  /** The session and its current attempt's order, as they stand (the page polls this while the order decides). */
  async status(row: CheckoutSessionRow): Promise<{ session: CheckoutSessionView; order: OrderWithBatches | null }> {
    return this.withOrder(await this.liveView(row));
  }

  private async withOrder(session: CheckoutSessionView): Promise<{ session: CheckoutSessionView; order: OrderWithBatches | null }> {
    const orderId = session.attempts.at(-1)?.orderId;
    const orderRow = orderId ? await this.deps.orders.row(orderId) : undefined;
    const order = orderRow ? await this.deps.orders.current(orderRow).catch(() => null) : null;
    return { session, order };
  }

  /** As its row was last saved once it has ended; else from the workflow (briefly), else as saved. */
  private async liveView(row: CheckoutSessionRow): Promise<CheckoutSessionView> {
    const saved = row.view?.state;
    if (saved === 'completed' || saved === 'expired' || saved === 'failed') return row.view!;
    try {
      return await withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(checkoutSessionWorkflowId(row.id)).query(sessionQuery), 1000);
    } catch {
      return (await this.deps.checkout.session(row.id))?.view ?? row.view ?? new CheckoutSession(row.input).view();
    }
  }

  private startOptions(input: CheckoutSessionInput) {
    return {
      workflowId: checkoutSessionWorkflowId(input.sessionId), taskQueue: this.deps.taskQueue, args: [input] as [CheckoutSessionInput],
      workflowIdConflictPolicy: 'USE_EXISTING' as const, workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      // (operators find a merchant's sessions in the Web UI as they find its orders)
      typedSearchAttributes: [{ key: MerchantId, value: input.merchantId }],
      staticSummary: `Checkout session ${input.sessionId} of ${input.merchantId}: ${input.items.length} item line${input.items.length === 1 ? '' : 's'}, ${input.currency}`,
    };
  }
}
