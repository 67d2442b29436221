// The card order as a state machine over integer money. The workflow (workflows/order.ts) tells the story and
// calls the processor; this class holds what has happened and decides what may happen next: which commands it
// accepts and in what order they run, what an update answers, and when the order must wake up by itself (an
// AVS review's deadline, a reauthorization, the end of the refund window). It never reads the clock: the
// workflow passes the time in.
//
//   confirmed → authorized_plus_avs | authorized_minus_avs (review) | failed_authorization
//             → partially_shipped → shipped → partially_refunded|refunded / partially_returned|returned
//   voided (cancelled before any capture, AVS rejected, review rejected or timed out)
//   awaiting_processor while the processor is unreachable (then back to the state before it)
// Before any of it, an order the customer must confirm by message waits in awaiting_confirmation (→ confirmed, or
// cancelled); an authorization the processor asks to authenticate waits in requires_authentication (→ authorized,
// or failed_authorization).
import { formatMoney } from './money';
import { applyBps, type PricedOrder, unitsAmount } from './pricing';
import type { AvsDecision, AvsPolicy } from './avs';
import { CONFIRMATION_FAILURE, type ConfirmationOutcome, type ConfirmationReason, type ConfirmationState } from './confirmation';

export type OrderState =
  | 'awaiting_confirmation' | 'confirmed' | 'requires_authentication' | 'awaiting_processor' | 'authorized_plus_avs' | 'authorized_minus_avs'
  | 'failed_authorization' | 'partially_shipped' | 'shipped' | 'voided' | 'cancelled'
  | 'partially_refunded' | 'refunded' | 'partially_returned' | 'returned';

export interface OrderPolicy {
  avsPolicy: AvsPolicy;
  /** Broker fee on every capture, in basis points. */
  feeBps: number;
  /** How long an operator has to decide an AVS review; undecided → rejected. */
  reviewTimeoutMs: number;
  /** How long to keep trying an unreachable processor before giving up. */
  processorDeadlineMs: number;
  processorMaxBackoffMs: number;
  /** Reauthorize this long before the authorization expires when goods are still unshipped. */
  reauthLeadMs: number;
  /** The order stays open for refunds this long after its last capture. */
  refundWindowMs: number;
  /** How long the customer has to answer a step-up authentication on their device (unset: AUTHENTICATION_TIMEOUT_MS). */
  authenticationTimeoutMs?: number;
  /** Captures carry their line items to the card's issuer (the merchant opted in; a lower processor fee). */
  shareLineItems?: boolean;
}

/** The customer confirms the order by message before it is authorized (the number itself stays in the phone store). */
export interface ConfirmationInput {
  channel: 'sms';
  phoneToken: string;
  phoneMasked: string;
  reason: ConfirmationReason;
  /** How long the customer has to reply once the offer is sent, and how long the offer is tried. */
  timeoutMs: number;
  sendDeadlineMs: number;
}

export interface Address {
  name?: string;
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postalCode: string;
  country: string;
}

export interface OrderInput {
  orderId: string;
  merchantId: string;
  customerId: string;
  clientOrderId: string;
  priced: PricedOrder;
  shipping: { optionId: string; address: Address } | null;
  payment: { token: string; billingPostalCode: string };
  policy: OrderPolicy;
  /**
   * A part of a purchase across merchants: the broker authorized the whole (merchant of record) and this order
   * captures its share of that authorization; cancelling releases only what is left of the share.
   */
  sharedAuthorization?: { id: string; amountMinor: number; avsCode: string; expiresAt: string };
  /** A workflow (a checkout session) told once the authorization is decided (orderDecidedSignal). */
  parentWorkflowId?: string;
  /**
   * The workflow that holds the shared authorization (a bid round): it hears of the order's first capture, and a
   * cancel before any capture hands the share back to it (authorizationShareSignal) instead of voiding it.
   */
  authorizationOwner?: string;
  /**
   * What the merchant is owed per unit of each line (a bid round's winning bid): the broker keeps the rest of each
   * capture (its spread) as its fee, instead of policy.feeBps.
   */
  supplyUnitMinor?: Record<string, number>;
  /** The customer must confirm by message first. */
  confirmation?: ConfirmationInput;
}

export interface Units { sku: string; quantity: number }

/** What a merchant or an operator asks of a running order (one update each). */
export interface ShipRequest { shipmentId: string; items: Units[]; trackingNumber: string }
export interface RefundRequest { refundId: string; kind: 'refund' | 'return'; amountMinor?: number; items?: Units[]; reason?: string }
export interface ReviewRequest { decision: 'approve' | 'reject' }
export interface CancelRequest { cancelId: string }
/** An operator resolved the order's problem (its id) of this kind, and none of the kind is left open. */
export interface ResolveRequest { problemId: string; kind: string }

export type OrderCommand =
  | { id: string; kind: 'ship'; req: ShipRequest }
  | { id: string; kind: 'cancel'; req: CancelRequest }
  | { id: string; kind: 'refund'; req: RefundRequest }
  | { id: string; kind: 'review'; req: ReviewRequest }
  | { id: string; kind: 'resolve'; req: ResolveRequest };

/** Each request as a command; its id makes a repeated request (a client retrying) the same command. */
export const orderCommand = {
  ship: (req: ShipRequest): OrderCommand => ({ id: `ship:${req.shipmentId}`, kind: 'ship', req }),
  cancel: (req: CancelRequest): OrderCommand => ({ id: `cancel:${req.cancelId}`, kind: 'cancel', req }),
  refund: (req: RefundRequest): OrderCommand => ({ id: `refund:${req.refundId}`, kind: 'refund', req }),
  review: (req: ReviewRequest): OrderCommand => ({ id: `review:${req.decision}`, kind: 'review', req }),
  resolve: (req: ResolveRequest): OrderCommand => ({ id: `resolve:${req.problemId}`, kind: 'resolve', req }),
};

export type CommandOutcome = { ok: true } | { ok: false; code: string; message: string };

/** What an update answers: its command's outcome, or 'pending' while the processor is unreachable. */
export type Answer = { outcome: 'done' } | { outcome: 'pending' } | { outcome: 'failed'; code: string; message: string };

/** Commands (shipments, cancels, refunds, reviews) one order accepts in its life. */
export const MAX_COMMANDS_PER_ORDER = 200;

/** Why an idle order wakes up. */
export type OrderTimer = 'review_timeout' | 'reauthorize' | 'share_expiring' | 'close';

export interface AuthorizationRecord {
  id: string;
  amountMinor: number;
  avsCode: string;
  expiresAt: string;
  status: 'active' | 'voided' | 'replaced';
}

export interface CaptureRecord {
  id: string;
  authorizationId: string;
  amountMinor: number;
  feeMinor: number;
  shipmentId: string | null;
  refundedMinor: number;
  feeRefundedMinor: number;
}

export interface ShipmentRecord {
  id: string;
  items: Units[];
  trackingNumber: string;
  amountMinor: number;
  captureId: string;
}

export interface RefundRecord {
  id: string;
  kind: 'refund' | 'return';
  amountMinor: number;
  items: Units[] | null;
  parts: Array<{ captureId: string; processorRefundId: string; amountMinor: number; feeMinor: number }>;
}

export interface OrderView {
  id: string;
  merchantId: string;
  customerId: string;
  clientOrderId: string;
  state: OrderState;
  currency: string;
  totalMinor: number;
  authorizedMinor: number;
  capturedMinor: number;
  refundedMinor: number;
  priced: PricedOrder;
  authorizations: AuthorizationRecord[];
  captures: CaptureRecord[];
  shipments: ShipmentRecord[];
  refunds: RefundRecord[];
  failure: { code: string; message: string } | null;
  needsAttention: boolean;
  attentionReasons: string[];
  review: { decision: 'approve' | 'reject' | 'timeout' } | null;
  /** When an AVS review undecided by then ends in 'timeout' (null: the order was never held for review). */
  reviewDeadline: string | null;
  /** The customer's confirmation by message (null: none asked). */
  confirmation: ConfirmationView | null;
  /** The step-up authentication the processor asked for (null: none). */
  authentication: AuthenticationView | null;
}

export interface ConfirmationView {
  channel: 'sms';
  /** The number, masked. */
  phone: string;
  reason: ConfirmationReason;
  state: ConfirmationState;
  offerSentAt: string | null;
  /** The reply is awaited until then (set once the offer is sent). */
  deadline: string | null;
}

/** How a step-up authentication ended (or stands). */
export type AuthenticationState = 'starting' | 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | 'no_device';

export interface AuthenticationView {
  /** The authentication request sent to the customer's devices (null until it is made). */
  id: string | null;
  /** The processor's transaction reference the authentication is bound to. */
  reference: string;
  state: AuthenticationState;
  deadline: string | null;
}

/** The order's failure when its step-up authentication does not end approved. */
export const AUTHENTICATION_FAILURE: Record<Exclude<AuthenticationState, 'starting' | 'pending' | 'approved'>, { code: string; message: string }> = {
  rejected: { code: 'authentication_failed', message: 'The customer rejected the payment on their device' },
  no_device: { code: 'authentication_failed', message: 'The card asks for authentication and the customer has no registered device' },
  expired: { code: 'authentication_timeout', message: 'The customer did not answer on their device before the deadline' },
  cancelled: { code: 'cancelled', message: 'Cancelled by the merchant while the customer was asked' },
};

/** The attention reason of an order held for an operator's AVS review. */
export const AVS_REVIEW = 'avs_review';

export class OrderRuleError extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'OrderRuleError';
  }
}

export const FINAL_STATES: ReadonlySet<OrderState> = new Set(['failed_authorization', 'voided', 'cancelled', 'refunded', 'returned']);

export class Order {
  state: OrderState;
  private stateBeforeOutage: OrderState | null = null;
  authorizations: AuthorizationRecord[] = [];
  captures: CaptureRecord[] = [];
  shipments: ShipmentRecord[] = [];
  refunds: RefundRecord[] = [];
  failure: { code: string; message: string } | null = null;
  attentionReasons: string[] = [];
  review: { decision: 'approve' | 'reject' | 'timeout' } | null = null;
  /** The authorization's outcome is known (the creating request can be answered). */
  authorizationDecided = false;
  private reviewDeadlineMs: number | null = null;
  private reauthFailed = false;
  private lastCaptureMs: number | null = null;
  private readonly queue: OrderCommand[] = [];
  private readonly outcomes = new Map<string, CommandOutcome>();
  private running: string | null = null;
  confirmation: ConfirmationView | null = null;
  authentication: AuthenticationView | null = null;
  /** The customer's answer, as its message (signal) brought it, while the order waits for it. */
  private customerAnswer: ConfirmationOutcome | AuthenticationState | null = null;
  /** The customer was asked (the offer sent, the authentication request made): the creating request can be answered. */
  private customerAsked = false;

  constructor(readonly input: OrderInput) {
    const c = input.confirmation;
    this.state = c ? 'awaiting_confirmation' : 'confirmed';
    if (c) this.confirmation = { channel: c.channel, phone: c.phoneMasked, reason: c.reason, state: 'sending', offerSentAt: null, deadline: null };
  }

  get priced(): PricedOrder { return this.input.priced; }
  get authorization(): AuthorizationRecord | undefined { return this.authorizations.find((a) => a.status === 'active'); }
  get capturedMinor(): number { return this.captures.reduce((s, c) => s + c.amountMinor, 0); }
  get refundedMinor(): number { return this.refunds.reduce((s, r) => s + r.amountMinor, 0); }
  get needsAttention(): boolean { return this.attentionReasons.length > 0; }
  get isFinal(): boolean { return FINAL_STATES.has(this.state); }

  /** Captured on the active authorization. */
  capturedOn(authId: string): number {
    return this.captures.filter((c) => c.authorizationId === authId).reduce((s, c) => s + c.amountMinor, 0);
  }

  hardUnitsOrdered(): Units[] {
    return this.priced.lines.filter((l) => l.kind === 'hard').map((l) => ({ sku: l.sku, quantity: l.quantity }));
  }

  softUnits(): Units[] {
    return this.priced.lines.filter((l) => l.kind === 'soft').map((l) => ({ sku: l.sku, quantity: l.quantity }));
  }

  shippedQuantity(sku: string): number {
    return this.shipments.reduce((s, sh) => s + (sh.items.find((i) => i.sku === sku)?.quantity ?? 0), 0);
  }

  /** Hard-goods units not shipped yet. */
  unshippedUnits(): Units[] {
    return this.hardUnitsOrdered().map((u) => ({ sku: u.sku, quantity: u.quantity - this.shippedQuantity(u.sku) }))
      .filter((u) => u.quantity > 0);
  }

  /** What is still to be captured: unshipped goods, and shipping with tax until the first shipment. */
  uncapturedOrderMinor(): number {
    return this.priced.totalMinor - this.capturedMinor;
  }

  // --- the customer's confirmation and authentication ------------------------------------------------

  /** Waiting for the customer (a reply by message, an answer on their device): only a cancel is taken meanwhile. */
  get awaitingCustomer(): boolean {
    return this.state === 'awaiting_confirmation' || this.state === 'requires_authentication';
  }

  offerSent(sentAtMs: number, deadlineMs: number): void {
    this.confirmation = { ...this.confirmation!, state: 'pending', offerSentAt: new Date(sentAtMs).toISOString(), deadline: new Date(deadlineMs).toISOString() };
    this.customerAsked = true;
  }

  /** The customer's answer arrived (a signal): taken while the order waits for one, else ignored. */
  customerAnswered(outcome: ConfirmationOutcome | AuthenticationState): void {
    if (this.awaitingCustomer && this.customerAnswer === null) this.customerAnswer = outcome;
  }

  /** The answer the order waits for, once it came. */
  get answerFromCustomer(): ConfirmationOutcome | AuthenticationState | null {
    return this.customerAnswer;
  }

  /** The confirmation ended: accepted, the order goes on to authorization; otherwise it is cancelled, nothing authorized. */
  confirmationEnded(outcome: ConfirmationOutcome): void {
    this.confirmation = { ...this.confirmation!, state: outcome };
    this.customerAnswer = null;
    if (outcome === 'accepted') {
      this.state = 'confirmed';
      return;
    }
    this.state = 'cancelled';
    this.failure = CONFIRMATION_FAILURE[outcome];
    this.authorizationDecided = true;
  }

  /** The processor asks the customer to authenticate the authorization `reference` on their device. */
  requireAuthentication(reference: string): void {
    this.leaveAwaitingProcessor();
    this.state = 'requires_authentication';
    this.authentication = { id: null, reference, state: 'starting', deadline: null };
  }

  authenticationRequested(id: string, deadlineMs: number): void {
    this.authentication = { ...this.authentication!, id, state: 'pending', deadline: new Date(deadlineMs).toISOString() };
    this.customerAsked = true;
  }

  /**
   * The authentication ended. Approved: the processor is to complete the authorization (authorized() or
   * authorizationFailed() follow); otherwise the order fails (or, cancelled by the merchant, is cancelled) with nothing authorized.
   */
  authenticationEnded(outcome: Exclude<AuthenticationState, 'starting' | 'pending'>): void {
    this.authentication = { ...this.authentication!, state: outcome };
    this.customerAnswer = null;
    if (outcome === 'approved') {
      this.state = 'confirmed';
      return;
    }
    if (outcome === 'cancelled') {
      this.state = 'cancelled';
      this.failure = AUTHENTICATION_FAILURE.cancelled;
      this.authorizationDecided = true;
      return;
    }
    this.authorizationFailed(AUTHENTICATION_FAILURE[outcome].code, AUTHENTICATION_FAILURE[outcome].message);
  }

  // --- authorization ---------------------------------------------------------------------------------

  enterAwaitingProcessor(): void {
    if (this.state !== 'awaiting_processor') this.stateBeforeOutage = this.state;
    this.state = 'awaiting_processor';
  }

  leaveAwaitingProcessor(): void {
    if (this.state === 'awaiting_processor') this.state = this.stateBeforeOutage ?? 'confirmed';
    this.stateBeforeOutage = null;
  }

  /** The state to show underneath an outage (the one the order returns to). */
  get settledState(): OrderState {
    return this.state === 'awaiting_processor' ? this.stateBeforeOutage ?? 'confirmed' : this.state;
  }

  authorizationFailed(code: string, message: string): void {
    this.leaveAwaitingProcessor();
    this.state = 'failed_authorization';
    this.failure = { code, message };
    this.authorizationDecided = true;
  }

  /**
   * The processor approved; the merchant's AVS decision says what follows: accept, an operator's review (due
   * reviewTimeoutMs after atMs), or reject (the authorization is to be voided, then avsRejected()).
   */
  authorized(a: { id: string; amountMinor: number; avsCode: string; expiresAt: string }, decision: AvsDecision, atMs: number): void {
    this.leaveAwaitingProcessor();
    this.authorizations.push({ ...a, status: 'active' });
    if (decision === 'accept') this.state = 'authorized_plus_avs';
    else this.state = 'authorized_minus_avs';
    if (decision === 'review') {
      this.reviewDeadlineMs = atMs + this.input.policy.reviewTimeoutMs;
      this.flag(AVS_REVIEW); // (an operator is to decide: the order shows in the review queue and asks for attention)
    }
    if (decision !== 'reject') this.authorizationDecided = true;
  }

  /** The AVS result was rejected by the merchant's policy (and the authorization voided, if the processor could). */
  avsRejected(): void {
    this.state = 'failed_authorization';
    this.authorizationDecided = true;
  }

  /** Awaiting an operator's AVS review decision. */
  get inReview(): boolean {
    return this.settledState === 'authorized_minus_avs' && !this.review;
  }

  reviewed(decision: 'approve' | 'reject' | 'timeout'): void {
    this.review = { decision };
    this.clearFlag(AVS_REVIEW);
  }

  /** Replaces the active authorization with a new one (reauthorization); the old one is to be voided. */
  reauthorized(a: { id: string; amountMinor: number; avsCode: string; expiresAt: string }): AuthorizationRecord {
    const old = this.authorization!;
    old.status = 'replaced';
    this.authorizations.push({ ...a, status: 'active' });
    return old;
  }

  voided(code: string, message: string): void {
    const a = this.authorization;
    if (a) a.status = 'voided';
    this.leaveAwaitingProcessor();
    if (this.captures.length === 0) {
      this.state = 'voided';
      if (code !== 'cancelled') this.failure = { code, message };
    }
  }

  /** Reauthorization time: the lead before expiry (possibly already past: then it is due now). */
  reauthorizeAtMs(): number | null {
    const a = this.authorization;
    if (!a || this.unshippedUnits().length === 0) return null;
    return Date.parse(a.expiresAt) - this.input.policy.reauthLeadMs;
  }

  /**
   * A reauthorization failed, or the shared authorization this order captures from is about to expire with goods
   * unshipped: the order is not reauthorized (or warned) again; a person looks at it.
   */
  reauthorizationFailed(): void {
    this.reauthFailed = true;
  }

  /** What a void releases: all that is left of the authorization, or of this order's share of a shared one. */
  releasableMinor(): number | undefined {
    const a = this.authorization;
    return a && this.input.sharedAuthorization ? a.amountMinor - this.capturedOn(a.id) : undefined;
  }

  // --- shipments and captures ------------------------------------------------------------------------

  /** Checks a shipment against the order and returns the amount to capture for it. */
  shipmentAmount(items: Units[]): number {
    const state = this.settledState;
    if (!this.authorization || state === 'confirmed' || FINAL_STATES.has(state)) {
      throw new OrderRuleError('order_not_shippable', `An order in state ${state} cannot ship`);
    }
    if (state === 'authorized_minus_avs' && this.review?.decision !== 'approve') {
      throw this.review
        ? new OrderRuleError('order_not_shippable', `The AVS review ended in ${this.review.decision}`)
        : new OrderRuleError('order_in_review', 'The order awaits an AVS review decision');
    }
    if (items.length === 0) throw new OrderRuleError('parameter_invalid', 'A shipment has at least one item', 'items');
    const seen = new Set<string>();
    for (const [i, it] of items.entries()) {
      const line = this.priced.lines.find((l) => l.sku === it.sku);
      if (!line) throw new OrderRuleError('unknown_sku', `The order has no item ${it.sku}`, `items.${i}.sku`);
      if (line.kind !== 'hard') throw new OrderRuleError('not_shippable', `${it.sku} is a soft good; it is captured at authorization`, `items.${i}.sku`);
      if (seen.has(it.sku)) throw new OrderRuleError('duplicate_sku', `${it.sku} appears twice`, `items.${i}.sku`);
      seen.add(it.sku);
      const left = line.quantity - this.shippedQuantity(it.sku);
      if (!Number.isInteger(it.quantity) || it.quantity < 1 || it.quantity > left) {
        throw new OrderRuleError('over_shipment', `${it.sku}: ${left} unit(s) left to ship, not ${it.quantity}`, `items.${i}.quantity`);
      }
    }
    const firstShipment = this.shipments.length === 0;
    const shipping = firstShipment ? this.priced.shippingMinor + this.priced.shippingTaxMinor : 0;
    return unitsAmount(this.priced, items) + shipping;
  }

  /** A capture may not exceed what the active authorization has left. */
  assertCapturable(amountMinor: number): AuthorizationRecord {
    const a = this.authorization;
    if (!a) throw new OrderRuleError('no_authorization', 'The order has no active authorization');
    const left = a.amountMinor - this.capturedOn(a.id);
    if (amountMinor > left) throw new OrderRuleError('over_capture', `Capture of ${amountMinor} exceeds the ${left} left on ${a.id}`);
    return a;
  }

  /** The broker's fee on a capture of these units: its policy's share, or (supply-priced) all but what the merchant is owed. */
  feeFor(amountMinor: number, units: Units[]): number {
    const supply = this.input.supplyUnitMinor;
    if (!supply) return applyBps(amountMinor, this.input.policy.feeBps);
    return amountMinor - units.reduce((s, u) => {
      if (supply[u.sku] === undefined) throw new Error(`order ${this.input.orderId}: no supply price for ${u.sku}`); // (a broken invariant)
      return s + supply[u.sku] * u.quantity;
    }, 0);
  }

  captured(c: { id: string; authorizationId: string; amountMinor: number; shipmentId: string | null; units: Units[] }, atMs: number): CaptureRecord {
    const { units, ...capture } = c;
    const rec = { ...capture, feeMinor: this.feeFor(c.amountMinor, units), refundedMinor: 0, feeRefundedMinor: 0 };
    this.captures.push(rec);
    this.lastCaptureMs = atMs;
    return rec;
  }

  shipped(s: Omit<ShipmentRecord, 'amountMinor'> & { amountMinor: number }): void {
    this.shipments.push(s);
    if (this.refunds.length === 0) this.state = this.unshippedUnits().length === 0 ? 'shipped' : 'partially_shipped';
  }

  /** Soft goods only and all captured: nothing will ship, the order counts as shipped. */
  softGoodsCaptured(): void {
    if (this.hardUnitsOrdered().length === 0) this.state = 'shipped';
  }

  // --- refunds and returns ---------------------------------------------------------------------------

  refundableMinor(): number {
    return this.capturedMinor - this.refundedMinor;
  }

  returnedQuantity(sku: string): number {
    return this.refunds.reduce((s, r) => s + (r.items?.find((i) => i.sku === sku)?.quantity ?? 0), 0);
  }

  /** The amount of a refund (an amount) or a return (shipped units, at their price and tax). */
  refundAmount(req: { kind: 'refund' | 'return'; amountMinor?: number; items?: Units[] }): number {
    if (this.captures.length === 0) throw new OrderRuleError('nothing_captured', 'Nothing has been captured; cancel the order instead');
    let amount: number;
    if (req.kind === 'return') {
      if (!req.items?.length) throw new OrderRuleError('parameter_missing', 'A return names the items returned', 'items');
      const seen = new Set<string>();
      for (const [i, it] of req.items.entries()) {
        const line = this.priced.lines.find((l) => l.sku === it.sku);
        if (!line) throw new OrderRuleError('unknown_sku', `The order has no item ${it.sku}`, `items.${i}.sku`);
        if (seen.has(it.sku)) throw new OrderRuleError('duplicate_sku', `${it.sku} appears twice`, `items.${i}.sku`);
        seen.add(it.sku);
        const delivered = line.kind === 'soft' ? line.quantity : this.shippedQuantity(it.sku);
        const left = delivered - this.returnedQuantity(it.sku);
        if (!Number.isInteger(it.quantity) || it.quantity < 1 || it.quantity > left) {
          throw new OrderRuleError('over_return', `${it.sku}: ${left} unit(s) can be returned, not ${it.quantity}`, `items.${i}.quantity`);
        }
      }
      amount = unitsAmount(this.priced, req.items);
    } else {
      if (req.amountMinor === undefined) throw new OrderRuleError('parameter_missing', 'A refund names its amountMinor', 'amountMinor');
      amount = req.amountMinor;
    }
    if (!Number.isSafeInteger(amount) || amount < 1) throw new OrderRuleError('parameter_invalid', 'The refund must be at least 1 minor unit', 'amountMinor');
    if (amount > this.refundableMinor()) {
      throw new OrderRuleError('over_refund', `Refund of ${amount} exceeds the ${this.refundableMinor()} refundable`, 'amountMinor');
    }
    return amount;
  }

  /**
   * Splits a refund over captures, newest first, and the broker's fee back in proportion; a capture's last
   * refund returns exactly the fee left on it, so fee refunds never exceed the fee taken.
   */
  allocateRefund(amountMinor: number): Array<{ captureId: string; amountMinor: number; feeMinor: number }> {
    const parts: Array<{ captureId: string; amountMinor: number; feeMinor: number }> = [];
    let left = amountMinor;
    for (const c of [...this.captures].reverse()) {
      if (left === 0) break;
      const room = c.amountMinor - c.refundedMinor;
      const take = Math.min(room, left);
      if (take === 0) continue;
      const feeLeft = c.feeMinor - c.feeRefundedMinor;
      const share = this.input.supplyUnitMinor ? Math.floor((take * c.feeMinor) / c.amountMinor) : applyBps(take, this.input.policy.feeBps);
      const fee = take === room ? feeLeft : Math.min(feeLeft, share);
      parts.push({ captureId: c.id, amountMinor: take, feeMinor: fee });
      left -= take;
    }
    if (left !== 0) throw new OrderRuleError('over_refund', 'Refund exceeds what was captured');
    return parts;
  }

  refunded(r: RefundRecord): void {
    for (const p of r.parts) {
      const c = this.captures.find((x) => x.id === p.captureId)!;
      c.refundedMinor += p.amountMinor;
      c.feeRefundedMinor += p.feeMinor;
    }
    this.refunds.push(r);
    const whole = this.refundedMinor === this.capturedMinor && this.unshippedUnits().length === 0;
    const anyReturn = this.refunds.some((x) => x.kind === 'return');
    this.state = anyReturn ? (whole ? 'returned' : 'partially_returned') : (whole ? 'refunded' : 'partially_refunded');
  }

  // --- cancellation ----------------------------------------------------------------------------------

  /** A cancel voids what is left of the authorization: refused once the order is closed or all is captured. */
  assertCancellable(): void {
    if (this.isFinal) throw new OrderRuleError('order_closed', `The order is ${this.state}`);
    if (!this.authorization || (this.unshippedUnits().length === 0 && this.captures.length > 0)) {
      throw new OrderRuleError('nothing_to_cancel', 'Everything has been captured; refund instead');
    }
  }

  // --- commands --------------------------------------------------------------------------------------

  /** Done, running or queued: a repeat (a client retrying after a 202) waits for the first instead of running again. */
  private known(id: string): boolean {
    return this.outcomes.has(id) || this.running === id || this.queue.some((c) => c.id === id);
  }

  /**
   * Checks a command before it is accepted (an update's validator): within the order's command limit and, for a
   * new command, allowed by the order as it stands. A repeat of a known command is always accepted.
   */
  admit(cmd: OrderCommand): void {
    if (cmd.kind === 'review') {
      if (this.review || this.settledState !== 'authorized_minus_avs') {
        throw new OrderRuleError('not_in_review', `The order is not awaiting a review (state ${this.settledState})`);
      }
      return;
    }
    if (this.known(cmd.id)) return;
    if (this.outcomes.size + this.queue.length >= MAX_COMMANDS_PER_ORDER) {
      throw new OrderRuleError('too_many_updates', `An order accepts at most ${MAX_COMMANDS_PER_ORDER} commands`);
    }
    if (this.awaitingCustomer && cmd.kind !== 'cancel') {
      throw new OrderRuleError('order_awaiting_customer', `The order waits for its customer (${this.state}); only a cancel is taken meanwhile`);
    }
    if (cmd.kind === 'ship') this.shipmentAmount(cmd.req.items);
    if (cmd.kind === 'refund') this.refundAmount(cmd.req);
    // (a final order runs no more commands, whatever their kind: its workflow is closing, and one queued now would wait forever)
    if (this.isFinal) throw new OrderRuleError('order_closed', `The order is ${this.state}`);
  }

  /** Queues an admitted command (a repeat joins the first). */
  enqueue(cmd: OrderCommand): void {
    if (!this.known(cmd.id)) this.queue.push(cmd);
  }

  get hasQueuedCommand(): boolean {
    return this.queue.length > 0;
  }

  /** The next command to run, in arrival order; one runs at a time. */
  startNextCommand(): OrderCommand | undefined {
    const cmd = this.queue.shift();
    this.running = cmd?.id ?? null;
    return cmd;
  }

  commandDone(cmd: OrderCommand, outcome: CommandOutcome): void {
    this.outcomes.set(cmd.id, outcome);
    this.running = null;
  }

  /** What the command's update answers now; undefined while it must wait. */
  answer(cmdId: string): Answer | undefined {
    const o = this.outcomes.get(cmdId);
    if (o) return o.ok ? { outcome: 'done' } : { outcome: 'failed', code: o.code, message: o.message };
    return this.state === 'awaiting_processor' ? { outcome: 'pending' } : undefined;
  }

  /** What the creating request (submit) answers now; undefined while the authorization is undecided. */
  submitAnswer(): Answer | undefined {
    if (this.authorizationDecided || this.customerAsked) return { outcome: 'done' };
    return this.state === 'awaiting_processor' ? { outcome: 'pending' } : undefined;
  }

  // --- timers ----------------------------------------------------------------------------------------

  /** When the order is open for refunds only (nothing more to capture), it closes a refund window after its last capture. */
  private closesAtMs(): number | null {
    const settled = this.captures.length > 0 && (this.unshippedUnits().length === 0 || !this.authorization);
    return settled && this.lastCaptureMs !== null ? this.lastCaptureMs + this.input.policy.refundWindowMs : null;
  }

  private timers(): Array<[OrderTimer, number]> {
    const reauthAt = this.reauthFailed ? null : this.reauthorizeAtMs();
    const closeAt = this.closesAtMs();
    const out: Array<[OrderTimer, number]> = [];
    if (this.inReview && this.reviewDeadlineMs !== null) out.push(['review_timeout', this.reviewDeadlineMs]);
    // (a share of a purchase's authorization is not reauthorized alone: at the same lead a person is asked to look)
    if (reauthAt !== null) out.push([this.input.sharedAuthorization ? 'share_expiring' : 'reauthorize', reauthAt]);
    if (closeAt !== null) out.push(['close', closeAt]);
    return out;
  }

  /** When the order must next wake up by itself; null: only a command wakes it. */
  nextWakeAtMs(): number | null {
    const t = this.timers();
    return t.length ? Math.min(...t.map(([, at]) => at)) : null;
  }

  /** The timer that is due at nowMs, first the review deadline, then the reauthorization, then the close. */
  dueTimer(nowMs: number): OrderTimer | null {
    return this.timers().find(([, at]) => nowMs >= at)?.[0] ?? null;
  }

  // --- attention -------------------------------------------------------------------------------------

  flag(reason: string): void {
    if (!this.attentionReasons.includes(reason)) this.attentionReasons.push(reason);
  }

  clearFlag(reason: string): void {
    this.attentionReasons = this.attentionReasons.filter((r) => r !== reason);
  }

  view(): OrderView {
    const i = this.input;
    return {
      id: i.orderId, merchantId: i.merchantId, customerId: i.customerId, clientOrderId: i.clientOrderId,
      state: this.state, currency: this.priced.currency, totalMinor: this.priced.totalMinor,
      authorizedMinor: this.authorization?.amountMinor ?? 0, capturedMinor: this.capturedMinor,
      refundedMinor: this.refundedMinor, priced: this.priced,
      authorizations: this.authorizations, captures: this.captures,
      shipments: this.shipments, refunds: this.refunds, failure: this.failure,
      needsAttention: this.needsAttention, attentionReasons: this.attentionReasons, review: this.review,
      reviewDeadline: this.reviewDeadlineMs === null ? null : new Date(this.reviewDeadlineMs).toISOString(),
      confirmation: this.confirmation, authentication: this.authentication,
    };
  }
}

/** The one line the Web UI shows for an order from its start (its static summary): no personal data. */
export const orderSummary = (o: { clientOrderId: string; merchantId: string; priced: PricedOrder }) =>
  `Order ${o.clientOrderId} of ${o.merchantId}: ${formatMoney(o.priced.totalMinor, o.priced.currency)}`;

/**
 * Where the order stands, in a phrase for the Web UI's current details: the state, why it failed or waits, and what
 * is left to ship or refund. No personal data (a search of the Web UI is not a view of the order).
 */
export function orderDetails(v: OrderView): string {
  const money = (m: number) => formatMoney(m, v.currency);
  const attention = v.needsAttention ? ` — needs attention: ${v.attentionReasons.join(', ')}` : '';
  const units = (xs: Units[]) => xs.reduce((n, x) => n + x.quantity, 0);
  const ordered = v.priced.lines.filter((l) => l.kind === 'hard').reduce((n, l) => n + l.quantity, 0);
  const shipped = v.shipments.reduce((n, s) => n + units(s.items), 0);
  const line = ((): string => {
    switch (v.state) {
      case 'failed_authorization': case 'voided': case 'cancelled':
        return v.failure ? `${v.state}: ${v.failure.code}` : v.state;
      case 'awaiting_confirmation': return `awaiting_confirmation: waiting for the customer's reply${v.confirmation?.deadline ? ` until ${v.confirmation.deadline}` : ''}`;
      case 'requires_authentication': return 'requires_authentication: waiting for the customer\'s device';
      case 'awaiting_processor': return 'awaiting_processor: the processor cannot be reached; retrying';
      case 'confirmed': return 'confirmed: authorizing';
      case 'authorized_plus_avs': case 'authorized_minus_avs': case 'partially_shipped':
        if (v.review && v.review.decision !== 'approve') return `${v.state}: review ${v.review.decision}`;
        if (!v.review && v.reviewDeadline) return `${v.state}: in review until ${v.reviewDeadline}`;
        return ordered > 0 ? `${v.state}: shipped ${shipped} of ${ordered} items, ${money(v.capturedMinor)} of ${money(v.totalMinor)} captured`
          : `${v.state}: ${money(v.authorizedMinor)} authorized`;
      default:
        return `${v.state}: ${money(v.capturedMinor)} captured, ${money(v.refundedMinor)} refunded`;
    }
  })();
  return line + attention;
}
