// The cart workflow's contract: its id, its messages and the purchase it is asked for. The API's cart service, the
// history recorder and tests import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { CartCarried, CartLine, CartPart, CartView } from '../domain/cart';
import type { Address, OrderPolicy } from '../domain/order';

export type { CartLine, CartView } from '../domain/cart';

export interface CartInput {
  cartId: string;
  /** What an earlier run of the cart carried over (continue-as-new). */
  carried?: CartCarried;
  /** Updates a run takes before it continues as new (default MAX_CART_UPDATES_PER_RUN). */
  updatesPerRun?: number;
  /** How long a purchase waits out an unreachable processor (default CART_PROCESSOR_DEADLINE_MS). */
  processorDeadlineMs?: number;
}

export interface AddRequest { line: Omit<CartLine, 'quantity'>; quantity: number }
export interface QuantityRequest { key: string; quantity: number }

/** A purchase as the API priced it from the merchants' current offers (the customer confirmed this total). */
export interface PurchaseRequest {
  /** The lines it buys, priced now; with `dropped` (lines no longer offered, by lineKey) they are the cart's lines as they stand. */
  lines: CartLine[];
  dropped: string[];
  parts: Array<CartPart & { policy: OrderPolicy }>;
  totalMinor: number;
  currency: string;
  address: Address | null;
  payment: { token: string; billingPostalCode: string };
  customerId: string;
}

export const addUpdate = wf.defineUpdate<CartView, [AddRequest]>('add');
/** Several items at once (a published cart copied): all are added, or none. */
export const addAllUpdate = wf.defineUpdate<CartView, [AddRequest[]]>('addAll');
export const quantityUpdate = wf.defineUpdate<CartView, [QuantityRequest]>('setQuantity');
/** Answered once the purchase's authorization is decided (the cart purchased, or active again with lastError). */
export const purchaseUpdate = wf.defineUpdate<CartView, [PurchaseRequest]>('purchase');
export const cartQuery = wf.defineQuery<CartView>('cart');

export type CartWorkflow = (input: CartInput) => Promise<CartView>;

export const cartWorkflowId = (cartId: string) => `cart-${cartId}`;
/** The merchant's name of its order in a cart's purchase. */
export const cartClientOrderId = (cartId: string, merchantId: string) => `cart-${cartId}-${merchantId}`;
