// The OpenAPI 3.1 document served at /v1/openapi.json. Every route of the app is listed here; a test checks
// that each documented operation is routed.
const error = { $ref: '#/components/responses/Error' };
const idempotencyKey = { $ref: '#/components/parameters/IdempotencyKey' };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' } };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const principalSchema = { $ref: '#/components/schemas/Principal' };
const createdPrincipal = {
  allOf: [principalSchema, { type: 'object', properties: { apiKey: { type: ['string', 'null'],
    description: 'The new API key, shown once. A replay of the same Idempotency-Key returns null here.' } } }],
};

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
        summary: 'Reachability of PostgreSQL and Temporal', security: [],
        responses: {
          200: { description: 'All dependencies answer', ...json({ $ref: '#/components/schemas/Health' }) },
          503: { description: 'A dependency does not answer', ...json({ $ref: '#/components/schemas/Health' }) },
        },
      },
    },
    '/openapi.json': { get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/me': { get: { summary: 'The principal of the API key', responses: { 200: { description: 'OK', ...json(principalSchema) }, default: error } } },
    ...principalPaths('/merchants', 'merchant'),
    ...principalPaths('/buyer-apps', 'buyer app'),
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
        id: { type: 'string' }, object: { enum: ['merchant', 'buyer_app', 'operator'] }, name: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' } } },
      Health: { type: 'object', properties: {
        status: { enum: ['ok', 'degraded'] },
        postgres: { $ref: '#/components/schemas/Probe' }, temporal: { $ref: '#/components/schemas/Probe' } } },
      Probe: { type: 'object', properties: { ok: { type: 'boolean' }, latencyMs: { type: 'integer' }, error: { type: 'string' } } },
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['type', 'code', 'message'], properties: {
        type: { type: 'string' }, code: { type: 'string', description: 'Machine-readable; act on this' },
        message: { type: 'string' }, param: { type: ['string', 'null'] } } } } },
    },
    responses: {
      Error: { description: 'An error (400, 401, 403, 404, 409, 413, 415, 422, 503)', ...json({ $ref: '#/components/schemas/Error' }) },
    },
  },
} as const;
