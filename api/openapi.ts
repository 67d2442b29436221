// The OpenAPI 3.1 document served at /v1/openapi.json, generated from the operations' own zod schemas (the ones
// that validate requests, and the ones that describe answers), so it cannot drift from what the API accepts.
// Schemas named by their metadata id become components; everything else is inline.
import { z } from 'zod';
import { IDEMPOTENCY_KEY_MAX_LENGTH } from './idempotency';
import { MAX_JSON_DEPTH } from './input';
import { type Operation, pathParams } from './operations';
import { errorBody } from './schemas';

type Json = Record<string, unknown>;

const RATE_LIMIT_HEADERS = {
  'Retry-After': 'Seconds until the key may make its next request',
  'RateLimit-Limit': "The size of the key's token bucket in the API copy that answered",
  'RateLimit-Remaining': 'Requests left in it (0)',
  'RateLimit-Reset': 'Seconds until it is full again',
};

const DESCRIPTION = 'A durable payment broker. Authenticate with "Authorization: Bearer <API key>". Creating POSTs that store '
  + 'their response take an Idempotency-Key header: the same key and body return the stored response (Idempotent-Replayed: true); '
  + 'the same key with another body is refused with 422 idempotency_key_reused; a repeat while the first is running gets 409 '
  + 'idempotency_request_in_progress. Commands on orders are named by an id in the body or by the Idempotency-Key. Bodies are JSON, '
  + 'at most 64 KiB (512 KiB for a micro-payment batch); unknown fields are refused; no string or key may hold a NUL character '
  + `or an unpaired UTF-16 surrogate, and no body nests deeper than ${MAX_JSON_DEPTH} (400 parameter_invalid). Errors are `
  + '{"error": {"type", "code", "message", "param"}}; act on the code. A request this document does not admit is a 400; one it '
  + 'admits that a rule across fields (stated in the descriptions) or the state of the objects refuses is a 422 (409 for a '
  + 'conflict with what exists). Paged lists answer {"object": "list", "data", "has_more"}, newest first, and take limit, '
  + 'starting_after or ending_before (an id from the list; one not in it is 422 cursor_unknown), created_gte and created_lte. '
  + 'While the Temporal server or PostgreSQL cannot be reached, '
  + 'a route that needs it answers 503 temporal_unavailable or database_unavailable with Retry-After: the request may be repeated '
  + '(with the same Idempotency-Key or command id, it takes effect once). Each API key has a rate limit (a token bucket); every '
  + 'authenticated answer carries RateLimit-Limit (the bucket\'s size), RateLimit-Remaining (requests left in it) and RateLimit-Reset '
  + '(seconds until it is full again); past the limit the answer is 429 rate_limited with Retry-After (seconds until the next '
  + 'request is allowed). A read_only key may only GET: anything else is 403 api_key_read_only.';

/** Generates the document; `components` collects the named schemas of every operation (one definition per name). */
export function openApiDocument(ops: Operation[]): Json {
  const components: Record<string, Json> = { Error: {} };
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const { $schema: _, $defs, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as Json & { $defs?: Record<string, Json> };
    for (const [id, def] of Object.entries($defs ?? {})) {
      const named = refsToComponents(def) as Json;
      const known = components[id];
      if (known && Object.keys(known).length && JSON.stringify(known) !== JSON.stringify(named)) {
        throw new Error(`two different schemas are named ${id} in the OpenAPI document`);
      }
      components[id] = named;
    }
    return refsToComponents(rest) as Json;
  };
  components.Error = schemaOf(errorBody, 'output');

  const paths: Record<string, Record<string, Json>> = {};
  for (const op of ops) {
    const path = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: Json[] = Object.entries(pathParams(op))
      .map(([name, schema]) => ({ name, in: 'path', required: true, schema: schemaOf(schema, 'input') }));
    if (op.query) {
      const q = schemaOf(op.query, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        const { description, ...rest } = schema;
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) });
      }
    }
    if (op.idempotency === 'stored') {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: true, description: 'Makes the request idempotent (its response is stored)',
        schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH, pattern: '^[\\x21-\\x7e]+$' } });
    } else if (op.idempotency === 'names') {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: false,
        description: 'Names the command when the body does not; a repeat returns the first result',
        schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } });
    }
    const responses: Json = {};
    for (const [status, r] of Object.entries(op.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
        ...(r.schema ? { content: { 'application/json': { schema: schemaOf(r.schema, 'output') } } } : {}),
      };
    }
    if (op.allow !== 'public') responses[429] = { $ref: '#/components/responses/RateLimited' };
    responses.default = { $ref: '#/components/responses/Error' };
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: `${op.method}${path.replace(/\{([A-Za-z]+)\}/g, 'By-$1').split(/[^A-Za-z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}`,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.allow === 'public' ? { security: [] } : {}),
      ...(Array.isArray(op.allow) ? { 'x-allowed-principals': op.allow } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: op.bodyRequired ?? true, content: { 'application/json': { schema: schemaOf(op.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Paybroker API', version: '1.0.0', description: DESCRIPTION },
    servers: [{ url: '/v1' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      responses: {
        Error: { description: 'An error (400, 401, 403, 404, 405, 409, 413, 415, 422, 503): act on error.code',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        RateLimited: { description: "The API key's rate limit is reached (error.code rate_limited)",
          headers: Object.fromEntries(Object.entries(RATE_LIMIT_HEADERS).map(([h, d]) => [h, { description: d, schema: { type: 'string', pattern: '^[0-9]+$' } }])),
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    },
  };
}

function refsToComponents(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(refsToComponents);
  if (x && typeof x === 'object') {
    return Object.fromEntries(Object.entries(x).map(([k, v]) =>
      [k, k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : refsToComponents(v)]));
  }
  return x;
}
