// Broker checkout and carts for merchants: a checkout session for a customer's cart (the customer pays on the hosted
// page at its url), and offers of items that customers bring to their broker cart (the merchant's catalog entry,
// signed). The hosted pages themselves are api/pages/.
import { z } from 'zod';
import {
  MAX_CHECKOUT_ITEMS, MAX_CHECKOUT_OPTIONS, MAX_PAYMENT_ATTEMPTS, MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS, OPTION_SKU_PREFIX,
} from '../../domain/checkout';
import { MAX_LINE_QUANTITY } from '../../domain/cart';
import { MAX_ORDER_TOTAL_MINOR, MAX_QUANTITY } from '../../domain/pricing';
import type { Services } from '../../services';
import type { SessionShown } from '../../services/checkout';
import { assertCanSee } from '../auth';
import { notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { clientId, nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

// (each rule a pattern, so the OpenAPI document states it: a request the document admits is never a 400)
const sku = z.string().regex(new RegExp(`^(?!${OPTION_SKU_PREFIX})[A-Za-z0-9_.:-]{1,64}$`),
  `letters, digits, _ . : and -, at most 64, not starting with ${OPTION_SKU_PREFIX}`);
const title = z.string().min(1).max(200).regex(/\S/, 'not only spaces');
const price = z.number().int().min(0).max(MAX_ORDER_TOTAL_MINOR);
const kind = z.enum(['hard', 'soft']).meta({ description: 'hard goods are captured per shipment, soft goods at authorization' });
const urlPattern = (schemes: string) => new RegExp(`^${schemes}://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?([/?#][^\\s]*)?$`);
const webUrl = z.string().max(2000).regex(urlPattern('https?'), 'an http or https URL');
const imageUrl = z.string().max(2000).regex(urlPattern('https'), 'an https URL').meta({ description: 'An https URL of a picture of the item' });
const shippingOption = z.strictObject({ id: clientId, label: title, priceMinor: price });

const sessionBody = z.strictObject({
  items: z.array(z.strictObject({ sku, title, quantity: z.number().int().min(1).max(MAX_QUANTITY), unitPriceMinor: price, kind,
    imageUrl: imageUrl.optional() })).min(1).max(MAX_CHECKOUT_ITEMS),
  shippingOptions: z.array(shippingOption).min(1).max(MAX_CHECKOUT_OPTIONS).optional()
    .meta({ description: "The shipping options on offer (default: the merchant's); the customer chooses one when there are hard goods" }),
  options: z.array(shippingOption).max(MAX_CHECKOUT_OPTIONS).optional()
    .meta({ description: 'Priced extras the customer may add (gift wrap, say); each becomes a soft line of the order' }),
  successUrl: webUrl.meta({ description: 'Where the customer goes after paying' }),
  cancelUrl: webUrl.meta({ description: 'Where the customer goes on cancelling, or when the session has expired' }),
  expiresInSeconds: z.number().int().min(MIN_SESSION_TTL_MS / 1000).max(MAX_SESSION_TTL_MS / 1000).optional()
    .meta({ description: 'Default 86400 (24 hours)' }),
  customerId: clientId.optional().meta({ description: "The merchant's name for the customer (default: one per session)" }),
});

const optionSchema = z.object({ id: z.string(), label: z.string(), priceMinor: z.number().int() });
const sessionSchema = z.object({
  id: z.string(), object: z.literal('checkout_session'), merchantId: z.string(), merchantName: z.string(),
  url: z.string().meta({ description: 'The hosted checkout page to send the customer to' }),
  state: z.enum(['open', 'processing', 'completed', 'expired', 'failed']).meta({ description: 'open (awaiting payment), processing '
    + `(a payment's authorization deciding), completed (paid: orderId), expired, failed (declined ${MAX_PAYMENT_ATTEMPTS} times)` }),
  currency: z.string(),
  items: z.array(z.object({ sku: z.string(), title: z.string(), quantity: z.number().int(), unitPriceMinor: z.number().int(), kind,
    imageUrl: z.string().optional() })),
  shippingOptions: z.array(optionSchema), options: z.array(optionSchema),
  successUrl: z.string(), cancelUrl: z.string(), customerId: z.string(),
  orderId: z.string().nullable().meta({ description: 'The order of the payment (completed, or deciding)' }),
  attempts: z.array(z.object({ n: z.number().int(), orderId: z.string(),
    outcome: z.object({ state: z.string(), failure: z.object({ code: z.string(), message: z.string() }).nullable() }).nullable() }))
    .meta({ description: 'Each payment tried: its order and, once decided, its state' }),
  expiresAt: timestamp, completedAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'CheckoutSession' });

const offerBody = z.strictObject({
  sku, title, unitPriceMinor: price, kind,
  minQuantity: z.number().int().min(1).max(MAX_LINE_QUANTITY).default(1),
  maxQuantity: z.number().int().min(1).max(MAX_LINE_QUANTITY).default(MAX_LINE_QUANTITY),
  imageUrl: imageUrl.optional(),
  available: z.boolean().default(true).meta({ description: 'false: no longer offered (carts holding it drop it at purchase)' }),
});
const offerSchema = z.object({
  object: z.literal('cart_offer'),
  offer: z.string().meta({ description: "The signed item: a customer's browser brings it to their broker cart" }),
  addUrl: z.string().meta({ description: 'Send the customer here to add the item to their broker cart' }),
  expiresAt: timestamp.meta({ description: 'The signed offer is good until then; the catalog entry stays' }),
  item: z.object({ merchantId: z.string(), sku: z.string(), title: z.string(), unitPriceMinor: z.number().int(), currency: z.string(), kind,
    minQuantity: z.number().int(), maxQuantity: z.number().int(), imageUrl: z.string().nullable(), available: z.boolean() }),
}).meta({ id: 'CartOffer' });

const shown = (s: SessionShown) => ({ ...s, object: 'checkout_session' as const });

export function checkoutOperations(services: Services): Operation[] {
  const { checkout, carts } = services;
  return [
    operation({
      method: 'post', path: '/checkout-sessions', allow: ['merchant'], idempotency: 'stored', body: sessionBody,
      summary: "Hand a customer's checkout to the broker: answers the session and its hosted page's url",
      description: 'The customer chooses shipping and options, sees the totals (tax by destination) and pays on the page; the session '
        + 'starts the order (webhooks order.created, then the order\'s own, and checkout.session.completed). It expires unpaid after '
        + 'expiresInSeconds (checkout.session.expired). A repeat under the same Idempotency-Key answers the same session.',
      responses: { 201: { description: 'Created', schema: sessionSchema }, 200: { description: 'The existing session', schema: sessionSchema } },
      async handler({ req, res, principal, body }) {
        const { session, created } = await checkout.create(principal.id, req.get('idempotency-key')!, body);
        res.status(created ? 201 : 200).json(shown(session));
      },
    }),
    operation({
      method: 'get', path: '/checkout-sessions', allow: ['merchant'], summary: "The merchant's checkout sessions, newest first",
      query: z.strictObject(pageQuery),
      responses: { 200: { description: 'OK', schema: pageOf(sessionSchema) } },
      async handler({ res, principal, query }) {
        res.json(pageAnswer(await checkout.list({ ...pageRequest(query), merchantId: principal.id }), shown));
      },
    }),
    operation({
      method: 'get', path: '/checkout-sessions/:id', allow: ['merchant', 'operator'], summary: 'A checkout session (its merchant, operators)',
      responses: { 200: { description: 'OK', schema: sessionSchema } },
      async handler({ res, principal, params }) {
        const row = await checkout.session(params.id);
        if (!row) throw notFound('checkout session');
        assertCanSee(principal, row.merchantId, 'checkout session');
        res.json(shown(checkout.shown(row)));
      },
    }),
    operation({
      method: 'post', path: '/cart-offers', allow: ['merchant'], idempotency: 'stored', body: offerBody,
      summary: "Offer an item for customers' broker carts: writes the merchant's catalog entry and answers it signed",
      description: 'The entry is what a cart holding the item is priced by at purchase: offering the sku again with another price (or '
        + 'available: false) changes what those customers are asked to confirm before they pay. Prices are in the merchant\'s currency.',
      responses: { 201: { description: 'Offered', schema: offerSchema } },
      async handler({ res, principal, body }) {
        res.status(201).json({ object: 'cart_offer', ...await carts.offer(principal.id, body) });
      },
    }),
  ];
}
