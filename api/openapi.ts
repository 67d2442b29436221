// The OpenAPI 3.1 document served at /v1/openapi.json. Every route of the app is listed here; a test checks
// that each documented operation is routed.
import { micropaymentPaths } from './openapiMicropayments';
import { error, idempotencyKey, idParam, json } from './openapiParts';
import { WORKER_POLL_SEEN_WITHIN_MS } from './routes/health';
const principalSchema = { $ref: '#/components/schemas/Principal' };
const createdPrincipal = {
  allOf: [principalSchema, { type: 'object', properties: { apiKey: { type: ['string', 'null'],
    description: 'The new API key, shown once. A replay of the same Idempotency-Key returns null here.' } } }],
};

const orderResponse = (description: string) => ({ description, ...json({ $ref: '#/components/schemas/Order' }) });

const principalPaths = (path: string, what: string) => ({
  [path]: {
    post: {
      summary: `Create a ${what} and its first API key (operator)`,
      parameters: [idempotencyKey],
      requestBody: { required: true, ...json({ type: 'object', additionalProperties: false, required: ['name'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } }) },
      responses: { 201: { description: 'Created', ...json(createdPrincipal) }, default: error },
    },
  },
  [`${path}/{id}`]: {
    get: {
      summary: `A ${what} (operators: any; the ${what} itself: its own)`,
      parameters: [idParam],
      responses: { 200: { description: 'OK', ...json(principalSchema) }, default: error },
    },
  },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Paybroker API',
    version: '1.0.0',
    description: 'A durable payment broker. Authenticate with "Authorization: Bearer <API key>". Every creating POST ' +
      'takes an Idempotency-Key header: the same key and body return the stored response; the same key with another ' +
      'body is refused with 422 idempotency_key_reused; a repeat while the first is running gets 409.',
  },
  servers: [{ url: '/v1' }],
  security: [{ bearer: [] }],
  paths: {
    '/health': {
      get: {
        summary: 'Reachability of PostgreSQL, Temporal and a worker on the task queue', security: [],
        responses: {
          200: { description: 'All dependencies answer', ...json({ $ref: '#/components/schemas/Health' }) },
          503: { description: 'A dependency does not answer', ...json({ $ref: '#/components/schemas/Health' }) },
        },
      },
    },
    '/openapi.json': { get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/me': { get: { summary: 'The principal of the API key', responses: { 200: { description: 'OK', ...json(principalSchema) }, default: error } } },
    '/merchants': {
      post: {
        summary: 'Create a merchant with its order settings and first API key (operator)',
        parameters: [idempotencyKey],
        requestBody: { required: true, ...json({ allOf: [{ type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } },
          { $ref: '#/components/schemas/MerchantSettings' }] }) },
        responses: { 201: { description: 'Created', ...json({ allOf: [{ $ref: '#/components/schemas/Merchant' },
          { type: 'object', properties: { apiKey: { type: ['string', 'null'], description: 'Shown once; null on an idempotent replay' } } }] }) },
        default: error },
      },
    },
    '/merchants/{id}': {
      get: { summary: 'A merchant (operators: any; a merchant: itself)', parameters: [idParam],
        responses: { 200: { description: 'OK', ...json({ $ref: '#/components/schemas/Merchant' }) }, default: error } },
      patch: { summary: "Change a merchant's name or order settings (operator); running orders keep the settings they started with",
        parameters: [idParam], requestBody: { required: true, ...json({ $ref: '#/components/schemas/MerchantSettings' }) },
        responses: { 200: { description: 'OK', ...json({ $ref: '#/components/schemas/Merchant' }) }, default: error } },
    },
    ...principalPaths('/buyer-apps', 'buyer app'),
    '/orders': {
      post: {
        summary: 'Create a card order (merchant). The client order id (or the Idempotency-Key) names the order: a repeat returns the same order (200).',
        description: 'Answers 201 with the authorization outcome (state authorized_plus_avs, authorized_minus_avs or ' +
          'failed_authorization), or 202 with a Location while the processor is unreachable (state awaiting_processor).',
        parameters: [{ ...idempotencyKey, required: false }],
        requestBody: { required: true, ...json({ $ref: '#/components/schemas/OrderRequest' }) },
        responses: { 200: orderResponse('The existing order'), 201: orderResponse('Created'), 202: orderResponse('Accepted, waiting for the processor'), default: error },
      },
    },
    '/orders/{id}': { get: { summary: 'An order (its merchant, operators)', parameters: [idParam], responses: { 200: orderResponse('OK'), default: error } } },
    '/orders/{id}/shipments': {
      post: { summary: 'Ship items: captures their price and tax (shipping with the first shipment)', parameters: [idParam, { ...idempotencyKey, required: false }],
        requestBody: { required: true, ...json({ type: 'object', additionalProperties: false, required: ['items', 'trackingNumber'], properties: {
          shipmentId: { type: 'string', description: 'Names the shipment (or use Idempotency-Key); a repeat returns the first result' },
          items: { $ref: '#/components/schemas/Units' }, trackingNumber: { type: 'string' } } }) },
        responses: { 200: orderResponse('Captured'), 202: orderResponse('Waiting for the processor'), default: error } },
    },
    '/orders/{id}/cancel': {
      post: { summary: 'Cancel: voids the authorization (the unshipped rest, if something shipped)', parameters: [idParam, { ...idempotencyKey, required: false }],
        responses: { 200: orderResponse('Voided'), 202: orderResponse('Waiting for the processor'), default: error } },
    },
    '/orders/{id}/refunds': {
      post: { summary: 'Refund an amount, or return items (refunded at their price and tax)', parameters: [idParam, { ...idempotencyKey, required: false }],
        requestBody: { required: true, ...json({ type: 'object', additionalProperties: false, properties: {
          refundId: { type: 'string' }, kind: { enum: ['refund', 'return'], default: 'refund' }, amountMinor: { type: 'integer', minimum: 1 },
          items: { $ref: '#/components/schemas/Units' }, reason: { type: 'string', maxLength: 500 } } }) },
        responses: { 200: orderResponse('Refunded'), 202: orderResponse('Waiting for the processor'), default: error } },
    },
    '/orders/{id}/review': {
      post: { summary: 'Decide an order held for AVS review (operator)', parameters: [idParam],
        requestBody: { required: true, ...json({ type: 'object', additionalProperties: false, required: ['decision'], properties: { decision: { enum: ['approve', 'reject'] } } }) },
        responses: { 200: orderResponse('Decided'), default: error } },
    },
    '/webhook-endpoints': {
      post: { summary: 'Register a webhook endpoint (merchant); the response carries its signing secret, shown once',
        description: 'Events: order.authorized, order.captured, order.voided, order.refunded, order.needs_attention, settlement.credit_paid. ' +
          'Deliveries carry Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature: v1,HMAC-SHA256 over ' +
          'id.timestamp.body); a redelivery keeps its webhook-id. Events of one order arrive in order. URLs on private or ' +
          'loopback addresses are refused unless the deployment allows them.',
        parameters: [idempotencyKey],
        requestBody: { required: true, ...json({ type: 'object', additionalProperties: false, required: ['url'], properties: {
          url: { type: 'string', maxLength: 2048 }, description: { type: 'string', maxLength: 500 },
          events: { type: 'array', items: { type: 'string' } }, onDeadLetter: { enum: ['hold', 'skip'], default: 'hold' },
          giveUpSeconds: { type: 'integer', minimum: 1 } } }) },
        responses: { 201: { description: 'Created', ...json({ type: 'object' }) }, default: error } },
      get: { summary: "The merchant's endpoints (operators: all)", responses: { 200: { description: 'OK', ...json({ type: 'object' }) }, default: error } },
    },
    '/webhook-endpoints/{id}': {
      delete: { summary: 'Disable an endpoint', parameters: [idParam], responses: { 200: { description: 'Disabled', ...json({ type: 'object' }) }, default: error } },
    },
    '/dead-letters': {
      get: { summary: 'Messages that could not be delivered (operators: all; merchants: their endpoints)',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }],
        responses: { 200: { description: 'OK', ...json({ type: 'object' }) }, default: error } },
    },
    '/dead-letters/{id}/redeliver': {
      post: { summary: 'Deliver a dead letter again (a held group then goes on in order)', parameters: [idParam],
        responses: { 200: { description: 'Queued', ...json({ type: 'object' }) }, default: error } },
    },
    '/dead-letters/{id}/drop': {
      post: { summary: 'Drop a dead letter (a held group goes on without it)', parameters: [idParam],
        responses: { 200: { description: 'Dropped', ...json({ type: 'object' }) }, default: error } },
    },
    '/problems': {
      get: { summary: 'Failures that need a person (operator), newest first', parameters: [
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
        { name: 'workflowId', in: 'query', schema: { type: 'string' } },
        { name: 'open', in: 'query', schema: { enum: ['true', 'false'] } }],
        responses: { 200: { description: 'OK', ...json({ type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: { type: 'object' } } } }) }, default: error } },
    },
    ...micropaymentPaths,
    '/api-keys': {
      post: {
        summary: 'Issue another API key for a principal (operator)',
        parameters: [idempotencyKey],
        requestBody: { required: true, ...json({ type: 'object', additionalProperties: false, required: ['principalId'],
          properties: { principalId: { type: 'string' } } }) },
        responses: { 201: { description: 'Created', ...json({ type: 'object', properties: {
          principalId: { type: 'string' }, apiKey: { type: ['string', 'null'] } } }) }, default: error },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    parameters: {
      IdempotencyKey: { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } },
    },
    schemas: {
      Principal: { type: 'object', properties: {
        id: { type: 'string' }, object: { enum: ['merchant', 'buyer_app', 'operator', 'buyer'] }, name: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' } } },
      MerchantSettings: { type: 'object', additionalProperties: false, properties: {
        name: { type: 'string' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' }, feeBps: { type: 'integer', minimum: 0, maximum: 5000 },
        avsPolicy: { type: 'object', description: 'AVS code (Y A Z N U S R) → accept | review | reject; unnamed codes keep the default' },
        shippingOptions: { type: 'array', maxItems: 20, items: { type: 'object', required: ['id', 'label', 'priceMinor'], properties: {
          id: { type: 'string' }, label: { type: 'string' }, priceMinor: { type: 'integer', minimum: 0 } } } },
        taxRatesBps: { type: 'object', description: '"US-CA" or "DE" → basis points', additionalProperties: { type: 'integer' } },
        reviewTimeoutSeconds: { type: 'integer', minimum: 1 } } },
      Merchant: { type: 'object', properties: { id: { type: 'string' }, object: { const: 'merchant' }, name: { type: 'string' },
        currency: { type: 'string' }, feeBps: { type: 'integer' }, avsPolicy: { type: 'object' }, shippingOptions: { type: 'array' },
        taxRatesBps: { type: 'object' }, reviewTimeoutSeconds: { type: 'integer' }, createdAt: { type: 'string', format: 'date-time' } } },
      Units: { type: 'array', minItems: 1, items: { type: 'object', required: ['sku', 'quantity'], properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } } } },
      OrderRequest: { type: 'object', additionalProperties: false, required: ['customerId', 'items', 'payment'], properties: {
        clientOrderId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, customerId: { type: 'string' },
        items: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'object', required: ['sku', 'quantity', 'unitPriceMinor', 'kind'], properties: {
          sku: { type: 'string' }, description: { type: 'string' }, quantity: { type: 'integer', minimum: 1, maximum: 10000 },
          unitPriceMinor: { type: 'integer', minimum: 0 }, kind: { enum: ['hard', 'soft'] } } } },
        shipping: { type: 'object', required: ['optionId', 'address'], properties: { optionId: { type: 'string' }, address: { type: 'object', required: ['line1', 'city', 'postalCode', 'country'] } } },
        payment: { type: 'object', required: ['token', 'billingPostalCode'], properties: { token: { type: 'string', pattern: '^tok_' },
          billingPostalCode: { type: 'string' }, billingCountry: { type: 'string' }, billingRegion: { type: 'string' } } } } },
      Order: { type: 'object', properties: {
        id: { type: 'string' }, object: { const: 'order' },
        state: { enum: ['confirmed', 'awaiting_processor', 'authorized_plus_avs', 'authorized_minus_avs', 'failed_authorization',
          'partially_shipped', 'shipped', 'voided', 'partially_refunded', 'refunded', 'partially_returned', 'returned'] },
        currency: { type: 'string' }, totalMinor: { type: 'integer' }, authorizedMinor: { type: 'integer' }, capturedMinor: { type: 'integer' },
        refundedMinor: { type: 'integer' }, priced: { type: 'object' }, authorizations: { type: 'array' },
        captures: { type: 'array', description: 'each with its settlement batchId once batched' }, shipments: { type: 'array' },
        refunds: { type: 'array' }, failure: { type: ['object', 'null'] }, needsAttention: { type: 'boolean' },
        attentionReasons: { type: 'array', items: { type: 'string' } }, review: { type: ['object', 'null'] } } },
      Health: { type: 'object', required: ['status', 'postgres', 'temporal', 'worker'], properties: {
        status: { enum: ['ok', 'degraded'], description: 'ok when every dependency is ok (200), else degraded (503)' },
        postgres: { $ref: '#/components/schemas/Probe' }, temporal: { $ref: '#/components/schemas/Probe' },
        worker: { allOf: [{ $ref: '#/components/schemas/Probe' }],
          description: `A worker has polled the task queue within the last ${WORKER_POLL_SEEN_WITHIN_MS / 1000} s (an idle one polls about once a minute)` } } },
      Probe: { type: 'object', required: ['ok', 'latencyMs'], properties: {
        ok: { type: 'boolean' }, latencyMs: { type: 'integer', description: 'How long the check took' },
        error: { type: 'string', description: 'Why it is not ok (only then)' } } },
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['type', 'code', 'message'], properties: {
        type: { type: 'string' }, code: { type: 'string', description: 'Machine-readable; act on this' },
        message: { type: 'string' }, param: { type: ['string', 'null'] } } } } },
    },
    responses: {
      Error: { description: 'An error (400, 401, 403, 404, 409, 413, 415, 422, 503)', ...json({ $ref: '#/components/schemas/Error' }) },
    },
  },
} as const;
