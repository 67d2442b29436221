// An API operation is declared once: its method and path, who may call it, the zod schemas of what it accepts
// (path parameters, query, body) and of what it answers, and its handler. From the declarations the router is
// mounted (validation, authorization and idempotency before the handler) and the OpenAPI document is generated
// (api/openapi.ts), so the document describes exactly what the API accepts.
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { Principal, PrincipalKind } from '../stores/principals';
import { principalOf } from './auth';
import { ApiError, badRequest, forbidden, unprocessable } from './errors';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Ids in paths: a bounded charset, so nothing odd reaches SQL or workflow ids. */
export const PATH_ID = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);

export interface ResponseSpec {
  description: string;
  /** The body's schema (JSON); none: the answer has no documented body of its own. */
  schema?: z.ZodType;
  /** Response headers, name → description. */
  headers?: Record<string, string>;
}

export interface Context<B, Q, P> {
  req: Request;
  res: Response;
  principal: Principal;
  body: B;
  query: Q;
  params: P;
}

export interface OperationSpec<B extends z.ZodType, Q extends z.ZodType, P extends Record<string, z.ZodType>> {
  method: Method;
  /** Express style: /orders/:id */
  path: string;
  summary: string;
  description?: string;
  /** Who may call it: principal kinds, any authenticated principal, or anyone (no API key). */
  allow: readonly PrincipalKind[] | 'any' | 'public';
  /**
   * The Idempotency-Key header: 'stored' (required; the first response is stored and replayed), 'names' (optional;
   * names the command when the body does not), or none.
   */
  idempotency?: 'stored' | 'names';
  /** Path parameters (default: every :name in the path is a PATH_ID). */
  params?: P;
  query?: Q;
  /** The JSON body; none: the body must be absent or {}. */
  body?: B;
  /** Whether a body must be sent (default: when there is a body schema). */
  bodyRequired?: boolean;
  /** The body's schema when it depends on who calls (body then documents every caller's). */
  bodyOf?: (principal: Principal) => z.ZodType;
  /** A check that a body is well formed without zod's per-field work (hot paths); anything else goes to zod. */
  fastBody?: (raw: unknown) => boolean;
  /** false: a non-GET operation that is not written to the audit log (api/audit.ts; say why beside it). */
  audit?: false;
  responses: Record<number, ResponseSpec>;
  handler: (ctx: Context<z.infer<B>, z.infer<Q>, { [K in keyof P]: z.infer<P[K]> }>) => Promise<void>;
}

export type Operation = OperationSpec<z.ZodType, z.ZodType, Record<string, z.ZodType>>;

const EMPTY = z.strictObject({});

/** Declares an operation (typed: the handler sees what the schemas parse to). */
export function operation<B extends z.ZodType = typeof EMPTY, Q extends z.ZodType = typeof EMPTY,
  P extends Record<string, z.ZodType> = Record<string, typeof PATH_ID>>(spec: OperationSpec<B, Q, P>): Operation {
  return spec as unknown as Operation;
}

/** The path parameters of an operation, with their schemas. */
export function pathParams(op: Operation): Record<string, z.ZodType> {
  const names = [...op.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
  return Object.fromEntries(names.map((n) => [n, op.params?.[n] ?? PATH_ID]));
}

/**
 * Parses a value against a schema; the first problem becomes an error that names the field: a 400 when the value
 * breaks what the OpenAPI document states, a 422 when a rule across fields refuses it (a refinement whose params
 * carry its code: the document says such rules in words, a JSON Schema cannot state them).
 */
export function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'body' | 'query' | 'path'): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = paramOf(issue);
  if (issue.code === 'unrecognized_keys') throw badRequest('unknown_parameter', `Unknown parameter: ${param}`, param);
  const ruleCode = issue.code === 'custom' ? (issue.params as { code?: string } | undefined)?.code : undefined;
  if (ruleCode) throw unprocessable(ruleCode, param ? `${param}: ${issue.message}` : issue.message, param);
  const given = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], value);
  const code = given === undefined && where !== 'path' ? 'parameter_missing' : 'parameter_invalid';
  throw badRequest(code, param ? `${param}: ${issue.message}` : issue.message, param);
}

/** The dotted path of the field an issue is about (for an unknown field, that field). */
function paramOf(issue: z.core.$ZodIssue): string | undefined {
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  return path.join('.') || undefined;
}

/**
 * A body whose schema depends on who calls: parsed with the caller's schema; what the document's schema (every
 * caller's) admits but the caller's does not is a 422 naming the field, anything else the caller's 400.
 */
function parseCallersBody(documented: z.ZodType, callers: z.ZodType, kind: string, value: unknown): unknown {
  const result = callers.safeParse(value);
  if (result.success) return result.data;
  if (documented.safeParse(value).success) {
    const param = paramOf(result.error.issues[0]);
    throw unprocessable('parameter_not_allowed', `${param}: not taken from a ${kind} API key`, param);
  }
  return parse(callers, value, 'body');
}

/**
 * Mounts the operations on the router: each checks who calls (allow), validates path, query and body, takes the
 * Idempotency-Key when it stores responses, records a successful non-GET authenticated operation in the audit log
 * (audited), then runs its handler. A path's other methods answer 405 with Allow.
 */
export function mount(router: Router, ops: Operation[], idempotent: RequestHandler, audited: RequestHandler): void {
  for (const op of ops) {
    const params = z.strictObject(pathParams(op));
    const query = op.query ?? EMPTY;
    const body = op.body ?? EMPTY;
    const handlers: RequestHandler[] = [];
    if (Array.isArray(op.allow)) {
      const kinds = op.allow;
      handlers.push((_req, res, next) => {
        if (!kinds.includes(principalOf(res).kind)) throw forbidden(`This route is for ${kinds.join(' or ')} API keys`);
        next();
      });
    }
    // validated before the key is taken, so a refused request leaves no stored response behind
    handlers.push((req, res, next) => {
      res.locals.parsed = {
        params: parse(params, { ...req.params }, 'path'),
        query: parse(query, { ...req.query }, 'query'),
        body: op.fastBody?.(req.body) ? req.body
          : op.bodyOf && op.allow !== 'public'
            ? parseCallersBody(body, op.bodyOf(principalOf(res)), principalOf(res).kind, req.body === undefined ? {} : req.body)
            : parse(body, req.body === undefined ? {} : req.body, 'body'),
      };
      next();
    });
    if (op.idempotency === 'stored') handlers.push(idempotent);
    if (op.method !== 'get' && op.allow !== 'public' && op.audit !== false) handlers.push(audited);
    handlers.push(async (req, res) => {
      const { params, query: q, body: b } = res.locals.parsed!;
      // (a public operation's handler never reads the principal)
      const principal = op.allow === 'public' ? (undefined as unknown as Principal) : principalOf(res);
      await op.handler({ req, res, principal, body: b, query: q, params: params as Record<string, unknown> });
    });
    router[op.method](op.path, ...handlers);
  }
  // A request no operation took, at a path some operations serve with other methods: 405 with those methods in
  // Allow (RFC 9110); other paths go on to 404 route_not_found.
  const templates = ops.map((op) => ({ re: new RegExp(`^${op.path.replace(/:[A-Za-z]+/g, '[^/]+')}/?$`), method: op.method.toUpperCase() }));
  router.use((req, _res, next) => {
    const methods = new Set(templates.filter((t) => t.re.test(req.path)).map((t) => t.method));
    if (methods.size === 0) return next();
    if (methods.has('GET')) methods.add('HEAD');
    const allow = [...methods].sort().join(', ');
    throw new ApiError(405, 'invalid_request_error', 'method_not_allowed', `${req.method} is not allowed on ${req.baseUrl}${req.path}; allowed: ${allow}`)
      .withHeaders({ Allow: allow });
  });
}

declare module 'express-serve-static-core' {
  interface Locals {
    parsed?: { params: unknown; query: unknown; body: unknown };
  }
}
