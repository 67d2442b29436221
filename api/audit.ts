// The audit log, written by the operation machinery rather than by each route: every non-GET authenticated operation
// that succeeds (status < 400) is recorded before its answer is sent, with the principal, the key, the request id,
// method, path, status, the request body, the object the answer names (kind, id, state) and the answer itself as
// the object after (its shown-once secrets left out); a route that read the object before changing it anyway puts
// it in res.locals.auditBefore. An idempotent replay is not recorded again (it is answered before this runs).
// Micro-payments and grant redemptions are not recorded here (operation spec `audit: false`): they are recorded in
// their own tables, and a row each would be a second write on the busiest route (measured with an INSERT per
// single payment: bench:micropayments' single payments fell from about 4,700/s, 48% of the echo ceiling, to 2,100/s,
// 21%, with PostgreSQL's CPU from 35% to 76%). The answer is seen through res.json: a route that answers with
// res.send (the micro-payment routes do, for speed) is not seen.
import type { RequestHandler } from 'express';
import type { AuditStore } from '../stores/audit';
import { principalOf } from './auth';
import { redact } from './idempotency';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The object as it was before the operation, where the route has it. */
    auditBefore?: unknown;
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);

export function audited(store: AuditStore): RequestHandler {
  return (req, res, next) => {
    const send = res.json.bind(res);
    res.json = ((body: unknown) => {
      if (res.statusCode >= 400) return send(body);
      const after = redact(body, res.locals.redactFields) as Record<string, unknown> | null;
      store.record({
        principalId: principalOf(res).id, apiKeyId: res.locals.apiKey!.id, requestId: res.locals.requestId!,
        method: req.method, path: req.baseUrl + req.path, status: res.statusCode,
        objectType: text(after?.object), objectId: text(after?.id) ?? text(req.params.id), objectState: text(after?.state ?? after?.status),
        requestBody: req.body ?? null, before: res.locals.auditBefore ?? null, after,
      }).then(() => send(body), (err: unknown) => {
        // the operation took effect: its answer goes out all the same
        res.locals.logger?.error({ err, requestId: res.locals.requestId }, `${req.method} ${req.originalUrl}: the audit event was not written`);
        send(body);
      });
      return res;
    }) as typeof res.json;
    next();
  };
}
