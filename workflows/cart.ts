// A customer's cart, as an entity: items are added (merchants' signed offers) and their quantities changed until the
// customer buys. The purchase authorizes the whole once (the broker is the merchant of record) and starts one order
// per merchant (children that outlive the cart) capturing its share of that authorization per shipment. An idle cart
// expires; a long-lived one continues as new to keep its history short. The rules live in domain/cart.ts.
import type { UpdateDefinition } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { CheckoutActivities } from '../activities/checkout';
import type { OrderActivities } from '../activities/orders';
import { avsDecision } from '../domain/avs';
import { Cart, CART_AVS_POLICY, CART_IDLE_MS, CartError, type CartView, splitAuthorization } from '../domain/cart';
import type { OrderInput } from '../domain/order';
import {
  addAllUpdate, addUpdate, type CartInput, cartClientOrderId, cartQuery, type PurchaseRequest, purchaseUpdate, quantityUpdate,
} from './cart.contract';
import { PROCESSOR_CALL, UNTIL_WRITTEN } from './activityOptions';
import { startOnce } from './children';
import { reachable as reachableBy } from './reachable';
import { refusedAs } from './refusal';
import { orderStartAttributes, type OrderWorkflow, orderWorkflowId } from './order.contract';

/** Updates one run of a cart takes before it continues as new. */
export const MAX_CART_UPDATES_PER_RUN = 200;
/** How long a purchase waits out an unreachable processor before it gives the cart back to the customer. */
export const CART_PROCESSOR_DEADLINE_MS = 10 * 60_000;

const processor = wf.proxyLocalActivities<OrderActivities>(PROCESSOR_CALL);
/** The problems log: written until it is. */
const problems = wf.proxyLocalActivities<OrderActivities>(UNTIL_WRITTEN);
/** The books (rows, events): retried until written; once the customer's card is authorized, its orders must follow. */
const books = wf.proxyLocalActivities<CheckoutActivities>(UNTIL_WRITTEN);

export async function cartWorkflow(input: CartInput): Promise<CartView> {
  const cart = new Cart(input.cartId, { ...input.carried, updatedAtMs: input.carried?.updatedAtMs ?? Date.now() });
  const id = wf.workflowInfo().workflowId;
  let updates = 0;
  let dirty = true;
  let asked: PurchaseRequest | null = null;

  wf.setHandler(cartQuery, () => cart.view());
  /** A change of the cart's items: tried on a copy first (the update's validator), then made. */
  const change = <A>(def: UpdateDefinition<CartView, [A]>, apply: (on: Cart, req: A) => void) => wf.setHandler(def, (req) => {
    apply(cart, req);
    updates++;
    dirty = true;
    return cart.view();
  }, { validator: (req) => refusedAs(CartError, () => apply(scratch(cart), req)) });
  change(addUpdate, (on, req) => on.add(req.line, req.quantity, Date.now()));
  change(addAllUpdate, (on, reqs) => { for (const r of reqs) on.add(r.line, r.quantity, Date.now()); });
  change(quantityUpdate, (on, req) => on.setQuantity(req.key, req.quantity, Date.now()));
  wf.setHandler(purchaseUpdate, async (req) => {
    if (cart.state === 'active') {
      cart.startPurchase(req.totalMinor, Date.now());
      asked = req;
      dirty = true;
    }
    await wf.condition(() => cart.state !== 'purchasing');
    return cart.view();
  }, { validator: (req) => refusedAs(CartError, () => cart.admitPurchase(req.lines, req.dropped)) });

  async function buy(req: PurchaseRequest): Promise<void> {
    // (a try after one the processor never answered asks again under the same key: a hold it made is found, not made twice)
    let key = `${id}:authorize:${cart.purchaseAttempts}`;
    let auth = await reachable(() => processor.authorize({ token: req.payment.token, amountMinor: req.totalMinor, currency: req.currency,
      postalCode: req.payment.billingPostalCode, reference: id }, key));
    if ('failed' in auth && auth.failed === 'idempotency_key_reused') { // (it was asked for another total: nothing was held under it)
      key = `${id}:authorize:${cart.nextPurchaseKey()}`;
      auth = await reachable(() => processor.authorize({ token: req.payment.token, amountMinor: req.totalMinor, currency: req.currency,
        postalCode: req.payment.billingPostalCode, reference: id }, key));
    }
    if ('failed' in auth) {
      if (auth.failed === 'processor_unreachable') {
        await problems.recordProblem({ workflowId: id, merchantId: null, kind: 'authorization_unknown', details: { key },
          message: `The processor did not answer the purchase's authorization (key ${key}) before the deadline; the next purchase of the cart asks under the same key first` });
      }
      cart.purchaseFailed(auth.failed, auth.message, Date.now());
      return;
    }
    if (auth.status !== 'approved') {
      cart.purchaseFailed(auth.declineCode ?? 'declined', `The card was declined (${auth.declineCode ?? 'declined'})`, Date.now());
      return;
    }
    if (avsDecision(CART_AVS_POLICY, auth.avsCode) === 'reject') {
      const voided = await reachable(() => processor.voidAuthorization(auth.id, `${id}:void:${auth.id}`));
      if ('failed' in voided) {
        await problems.recordProblem({ workflowId: id, merchantId: null, kind: 'void_failed', details: { key: auth.id },
          message: `Voiding ${auth.id} (AVS ${auth.avsCode} refused) failed (${voided.failed}): the customer's funds stay held until it expires` });
      }
      cart.purchaseFailed('avs_rejected', 'The billing address does not match the card', Date.now());
      return;
    }
    const shares = splitAuthorization(auth.amountMinor, req.parts);
    const orders = req.parts.map((part, i): OrderInput => {
      const clientOrderId = cartClientOrderId(cart.id, part.merchantId);
      return {
        orderId: orderWorkflowId(part.merchantId, clientOrderId), merchantId: part.merchantId, customerId: req.customerId, clientOrderId,
        priced: part.priced, shipping: part.shippingOptionId && req.address ? { optionId: part.shippingOptionId, address: req.address } : null,
        payment: req.payment, policy: { ...part.policy, avsPolicy: CART_AVS_POLICY },
        sharedAuthorization: { id: auth.id, amountMinor: shares[i].amountMinor, avsCode: auth.avsCode, expiresAt: auth.expiresAt! },
      };
    });
    // the orders' rows and order.created events in one activity, then every order started at once (one task hears them started)
    await books.claimCheckoutOrders(orders.map((o) => ({ input: o, about: { cartId: cart.id } })));
    await Promise.all(orders.map((o) => startOnce<OrderWorkflow>('orderWorkflow', { workflowId: o.orderId, args: [o], typedSearchAttributes: orderStartAttributes(o) })));
    cart.purchased(orders.map((o, i) => ({ merchantId: o.merchantId, orderId: o.orderId, amountMinor: shares[i].amountMinor })), req.lines, Date.now());
  }

  /** A processor call, waiting out an unreachable processor (the cart says so meanwhile) until the deadline; else why not. */
  const reachable = <T>(call: () => Promise<T>) => reachableBy(call, input.processorDeadlineMs ?? CART_PROCESSOR_DEADLINE_MS, async () => {
    if (cart.purchase?.state === 'authorizing') {
      cart.purchase = { ...cart.purchase, state: 'awaiting_processor' };
      await books.saveCart(cart.view());
    }
  });

  const save = async () => {
    if (!dirty) return;
    dirty = false;
    await books.saveCart(cart.view());
  };

  for (;;) {
    await save();
    if (cart.state === 'purchased' || cart.state === 'expired') break;
    const perRun = input.updatesPerRun ?? MAX_CART_UPDATES_PER_RUN;
    if (asked) {
      const req: PurchaseRequest = asked;
      asked = null;
      await buy(req);
      dirty = true;
      continue;
    }
    if (updates >= perRun || wf.workflowInfo().continueAsNewSuggested) {
      // (nothing awaited between the handlers' end and the hand-over: an update taken then would be lost; the next run saves)
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof cartWorkflow>({ ...input, carried: cart.carried() });
    }
    const idleLeft = cart.updatedAtMs + CART_IDLE_MS - Date.now();
    await wf.condition(() => dirty || asked !== null, Math.max(1, idleLeft));
    if (!dirty && asked === null) dirty = cart.expire(Date.now());
  }
  await wf.condition(wf.allHandlersFinished);
  return cart.view();
}

/** A copy of the cart to try a change on (an update's validator must not change the cart). */
function scratch(cart: Cart): Cart {
  return new Cart(cart.id, { lines: cart.lines.map((l) => ({ ...l })), state: cart.state, orders: cart.orders, updatedAtMs: cart.updatedAtMs });
}
