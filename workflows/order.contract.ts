// The order workflow's contract: its id, the messages it answers and their types. Callers (the API's order
// service, the history recorder, tests) import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import { MerchantId, NeedsAttention, OrderState, OrderTotalMinor } from './searchAttributes';
import type { ConfirmationOutcome } from '../domain/confirmation';
import type { CancelRequest, OrderInput, OrderView, RefundRequest, ResolveRequest, ReviewRequest, ShipRequest } from '../domain/order';

export type { CancelRequest, OrderInput, OrderView, RefundRequest, ResolveRequest, ReviewRequest, ShipRequest } from '../domain/order';

/** An update's answer: done, or still waiting on an unreachable processor (the order carries on by itself). */
export interface OrderReply { outcome: 'done' | 'pending'; order: OrderView }

export const submitUpdate = wf.defineUpdate<OrderReply>('submit');
export const shipUpdate = wf.defineUpdate<OrderReply, [ShipRequest]>('ship');
export const cancelUpdate = wf.defineUpdate<OrderReply, [CancelRequest]>('cancel');
export const refundUpdate = wf.defineUpdate<OrderReply, [RefundRequest]>('refund');
export const reviewUpdate = wf.defineUpdate<OrderReply, [ReviewRequest]>('review');
/** An operator resolved the order's last open problem of a kind: the order no longer needs attention for it. */
export const resolveUpdate = wf.defineUpdate<OrderReply, [ResolveRequest]>('resolveProblem');
/** Sent to the order's parent (input.parentWorkflowId), once: the authorization's outcome is known. */
export interface OrderDecision { orderId: string; state: string; failure: { code: string; message: string } | null }
export const orderDecidedSignal = wf.defineSignal<[OrderDecision]>('orderDecided');
/**
 * Sent to the order's authorizationOwner: its first capture (the share is the order's now), its share handed back whole,
 * or voided at the processor (the owner gone meanwhile, or a capture in doubt): nothing is left to hand on.
 */
export interface AuthorizationShareReport { orderId: string; event: 'captured' | 'released' | 'voided' }
export const authorizationShareSignal = wf.defineSignal<[AuthorizationShareReport]>('authorizationShare');
/**
 * The customer's answer, as the database decided it (services/confirmations.ts, services/authentications.ts): a reply
 * by message to the offer, or the device's answer to the authentication request. The order takes the first.
 */
export interface CustomerAnswer { outcome: ConfirmationOutcome | 'approved' | 'rejected' | 'expired' }
export const customerAnswerSignal = wf.defineSignal<[CustomerAnswer]>('customerAnswer');
export const statusQuery = wf.defineQuery<OrderView>('status');

export type OrderWorkflow = (input: OrderInput) => Promise<OrderView>;

export const orderWorkflowId = (merchantId: string, clientOrderId: string) => `order-${merchantId}-${clientOrderId}`;

/** The search attributes an order starts with (the API's orders and the orders a checkout or a cart starts). */
export const orderStartAttributes = (input: OrderInput): SearchAttributePair[] => [
  // (no customer id: search attributes are stored plain, and hold no personal data)
  { key: MerchantId, value: input.merchantId },
  { key: OrderTotalMinor, value: input.priced.totalMinor }, { key: OrderState, value: input.confirmation ? 'awaiting_confirmation' : 'confirmed' },
  { key: NeedsAttention, value: false },
];
