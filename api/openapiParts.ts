// Pieces every part of the OpenAPI document uses (api/openapi.ts, api/openapiMicropayments.ts).
export const error = { $ref: '#/components/responses/Error' };
export const idempotencyKey = { $ref: '#/components/parameters/IdempotencyKey' };
export const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' } };
export const json = (schema: object) => ({ content: { 'application/json': { schema } } });
