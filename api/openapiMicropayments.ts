// The micro-payment part of the OpenAPI document (api/openapi.ts spreads these paths into its own).
import { MAX_BATCH_PAYMENTS, MAX_MICROPAYMENT_MINOR } from '../domain/micropayments';
import { error, idempotencyKey, idParam, json } from './openapiParts';
import { PATTERNS } from './parties';
const obj = (required: string[], properties: Record<string, object>) => ({ type: 'object', additionalProperties: false, required, properties });
const str = (pattern?: string) => (pattern ? { type: 'string', pattern } : { type: 'string' });
const ok = (description = 'OK') => ({ 200: { description, ...json({ type: 'object' }) }, default: error });
const created = (description = 'Created') => ({ 201: { description, ...json({ type: 'object' }) }, default: error });

const payment = obj(['clientId', 'buyerToken', 'sellerId', 'itemId', 'currency'], {
  clientId: { ...str('^[A-Za-z0-9_.:-]{1,100}$'), description: 'Makes the payment idempotent per buyer' },
  buyerToken: { ...str(PATTERNS.ruleSetToken.source), description: "The buyer's rule-set token" },
  sellerToken: { ...str(PATTERNS.ruleSetToken.source), description: "The seller's rule-set token (required when the seller has a rule set)" },
  sellerId: str(PATTERNS.partyId.source), itemId: str(PATTERNS.itemId.source), currency: str(PATTERNS.currency.source),
  amountMinor: { type: 'integer', minimum: 1, description: "The price the buyer's program expects; refused (price_mismatch) when the terms differ" },
});

export const micropaymentPaths = {
  '/buyers': { post: { summary: 'Create a buyer with a card token and a currency, and its first API key (operator)', parameters: [idempotencyKey],
    requestBody: { required: true, ...json(obj(['name', 'currency', 'paymentToken'], { name: str(), currency: str(PATTERNS.currency.source),
      paymentToken: { type: 'string', description: "The processor's card token" }, buyerClass: str('^[a-z0-9_-]{1,40}$') })) },
    responses: created() } },
  '/buyers/{id}': {
    get: { summary: 'A buyer (itself, operators)', parameters: [idParam], responses: ok() },
    patch: { summary: 'Update the card (the buyer); buyer class or reinstating a suspended buyer (operator)', parameters: [idParam],
      requestBody: { required: true, ...json(obj([], { paymentToken: str(), buyerClass: str(), reinstate: { const: true } })) }, responses: ok() },
  },
  '/sellers': { post: { summary: 'Create a seller (a new merchant, or an existing one by merchantId) with payout destination and fee rate (operator)',
    parameters: [idempotencyKey], requestBody: { required: true, ...json({ type: 'object', properties: {
      name: str(), merchantId: str(), currency: str(PATTERNS.currency.source), payoutDestination: str(), feeBps: { type: 'integer', minimum: 0, maximum: 5000 } } }) },
    responses: created() } },
  '/sellers/{id}': { get: { summary: "A seller's public terms", parameters: [idParam], responses: ok() } },
  '/sellers/{id}/items': { get: { summary: "A seller's items", parameters: [idParam], responses: ok() } },
  '/sellers/{id}/items/{itemId}': {
    get: { summary: 'An item and its terms', parameters: [idParam, { ...idParam, name: 'itemId' }], responses: ok() },
    put: { summary: "Publish or change an item's terms (the seller, operators)", parameters: [idParam, { ...idParam, name: 'itemId' }],
      requestBody: { required: true, ...json(obj(['title', 'category', 'priceMinor', 'currency', 'grantSeconds'], {
        title: str(), category: str('^[a-z0-9_-]{1,40}$'), priceMinor: { type: 'integer', minimum: 1, maximum: MAX_MICROPAYMENT_MINOR },
        currency: str(PATTERNS.currency.source), grantSeconds: { type: 'integer', minimum: 1, description: 'Access the purchase grants' } })) },
      responses: { 200: { description: 'Changed' }, 201: { description: 'Published' }, default: error } },
  },
  '/rule-sets': {
    post: { summary: "Register a rule set (a buyer's or a seller's); the token is shown once", parameters: [idempotencyKey],
      requestBody: { required: true, ...json(obj(['rules'], { rules: { type: 'object', description:
        'buyer: maxPerPaymentMinor, maxPerDayMinor, maxPerPeriodMinor, allowedSellers, allowedCategories, validFrom, validUntil; ' +
        'seller: minPriceMinor, acceptedBuyerClasses, validFrom, validUntil' } })) },
      responses: created() },
    get: { summary: 'Your rule sets', responses: ok() },
  },
  '/rule-sets/{id}': {
    get: { summary: 'A rule set (its owner, operators)', parameters: [idParam], responses: ok() },
    delete: { summary: 'Revoke a rule set: its token authorizes nothing from now on', parameters: [idParam], responses: ok() },
  },
  '/micropayments': { post: { summary: 'Record one micro-payment; the answer carries a single-use access grant',
    requestBody: { required: true, ...json(payment) },
    responses: { 201: { description: 'Recorded' }, 200: { description: 'A repeat of the clientId: the first payment and grant' }, default: error } } },
  '/micropayments/batch': { post: { summary: `Record up to ${MAX_BATCH_PAYMENTS} micro-payments; each is recorded, replayed or refused on its own`,
    requestBody: { required: true, ...json(obj(['payments'], { payments: { type: 'array', minItems: 1, maxItems: MAX_BATCH_PAYMENTS, items: payment } })) },
    responses: ok('One result per payment, in order') } },
  '/micropayments/{id}': { get: { summary: 'A micro-payment (its buyer, its seller, operators)', parameters: [idParam], responses: ok() } },
  '/micropayments/{id}/refund': { post: { summary: 'Refund a micro-payment in full (its seller, operators); booked in the open period',
    parameters: [idParam], requestBody: { required: false, ...json(obj([], { reason: str() })) },
    responses: { 201: { description: 'Refunded' }, 200: { description: 'Refunded before' }, default: error } } },
  '/grants/verify': { post: { summary: 'Redeem an access grant once (the seller): grant_invalid, grant_expired, grant_revoked, grant_already_used',
    requestBody: { required: true, ...json(obj(['grant'], { grant: str('^grt_') })) }, responses: ok() } },
  '/settlement-periods/close': { post: { summary: 'Close the open period now (operator; test mode or an early close)',
    requestBody: { required: false, ...json(obj([], { graceSeconds: { type: 'integer', minimum: 0 }, fileLines: { type: 'integer', minimum: 1 },
      periodId: { ...str('^sp_[1-9][0-9]{0,8}$'), description: 'a frozen period whose close failed: resume it' } })) },
    responses: { 202: { description: 'The close workflow runs; Location names the period' }, default: error } } },
  '/settlement-periods/{id}': { get: { summary: 'A period: state, progress, totals (operators); state and your own invoice or credit (parties)',
    parameters: [idParam], responses: ok() } },
  '/accounts/{id}/statement': { get: { summary: "A buyer's or seller's statement: the period's totals, invoices or credits, balances",
    parameters: [idParam, { name: 'periodId', in: 'query', schema: str('^sp_[0-9]+$') }], responses: ok() } },
};
