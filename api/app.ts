// The express app: /v1 operations, authentication, body limits and the error shape. No listening here, so tests
// and the launcher can mount it on any port.
import express from 'express';
import type { Logger } from '../runtime/log';
import { inRequest, requestIdFor } from '../runtime/requestContext';
import { baseApp, jsonBody, MAX_BODY_BYTES } from '../runtime/http';
import type { Services } from '../services';
import { audited } from './audit';
import { authenticate } from './auth';
import { ApiError, errorHandler, notFoundRoute } from './errors';
import { idempotent } from './idempotency';
import { rejectUnacceptableInput } from './input';
import { openApiDocument } from './openapi';
import { hostedPages } from './pages';
import type { PageRateLimits } from './pages/carts';
import { type RateLimit, TokenBuckets } from './rateLimit';
import { mount, type Operation, operation } from './operations';
import type { HealthChecks } from '../services/health';
import { checkoutOperations } from './routes/checkout';
import { disputeOperations } from './routes/disputes';
import { holdOperations } from './routes/holds';
import { bidOperations } from './routes/bids';
import { customerOperations } from './routes/customers';
import { eventOperations } from './routes/events';
import { federationOperations } from './routes/federation';
import { apiKeyOperations } from './routes/apiKeys';
import { auditOperations } from './routes/audit';
import { healthOperations } from './routes/health';
import { MAX_BATCH_BODY_BYTES, micropaymentOperations } from './routes/micropayments';
import { orderOperations } from './routes/orders';
import { partyOperations } from './routes/parties';
import { payoutOperations } from './routes/payouts';
import { principalOperations } from './routes/principals';
import { problemOperations } from './routes/problems';
import { reconciliationOperations } from './routes/reconciliation';
import { settlementOperations } from './routes/settlement';
import { webhookOperations } from './routes/webhooks';
import { metrics } from '../runtime/metrics';

export { MAX_BODY_BYTES };

export interface AppDeps {
  services: Services;
  /** What GET /v1/health checks. */
  health: HealthChecks;
  /** One line per request (with its request id) goes here. */
  logger: Logger;
  /** Each API key's rate limit in this process (api/rateLimit.ts perCopy: its share of the configured limit). */
  rateLimit: RateLimit;
  /** The hosted pages' limits per client address in this process (default api/pages/carts.ts PAGE_RATE_LIMITS). */
  pageRateLimits?: PageRateLimits;
}

/** Every operation of the API, public ones first. */
export function operations(deps: AppDeps): { open: Operation[]; authenticated: Operation[] } {
  const { services } = deps;
  const customers = customerOperations(services);
  const disputes = disputeOperations(services);
  const authenticated = [
    // (first: the busiest; express tries routes in turn)
    ...micropaymentOperations(services),
    ...principalOperations(services.stores),
    ...apiKeyOperations(services.stores.principals),
    ...orderOperations(services),
    ...problemOperations(services),
    ...partyOperations(services.stores),
    ...settlementOperations(services),
    ...payoutOperations(services),
    ...checkoutOperations(services),
    ...holdOperations(services),
    ...bidOperations(services),
    ...reconciliationOperations(services),
    ...webhookOperations(services),
    ...eventOperations(services),
    ...auditOperations(services.stores.audit),
    ...customers.authenticated,
    ...disputes.authenticated,
    ...federationOperations(services),
  ];
  const open = [...healthOperations(deps.health), ...customers.open, ...disputes.open];
  let document: object | undefined;
  open.push(operation({
    method: 'get', path: '/openapi.json', summary: 'This document', allow: 'public',
    responses: { 200: { description: 'OpenAPI 3.1' } },
    async handler({ res }) {
      res.json(document ??= openApiDocument([...open, ...authenticated]));
    },
  }));
  return { open, authenticated };
}

export function createApp(deps: AppDeps): express.Express {
  const app = baseApp();
  // One log line per request, with the request id (the client's X-Request-Id, else a new one) that also goes into the
  // headers and memo of the workflows the request starts, signals or updates, and so into their activities' logs.
  // (written here rather than with pino-http, whose child logger and serializers per request cost the API ~4% of
  // its CPU in bench:micropayments' single payments)
  app.use((req, res, next) => {
    const requestId = requestIdFor(req.get('x-request-id'));
    res.setHeader('X-Request-Id', requestId);
    res.locals.logger = deps.logger;
    res.locals.requestId = requestId;
    const started = performance.now();
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : null; // (null: the client went before the answer)
      // (by route pattern, never the path: ids would make a series per object)
      const labels = { route: req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched', method: req.method, status: String(status ?? 'aborted') };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
      if (res.get('Idempotent-Replayed') === 'true') metrics.idempotentReplays.inc({ route: labels.route });
      deps.logger[status === null || status >= 500 ? 'error' : 'info']({
        requestId, principal: res.locals.principal?.id, req: { method: req.method, url: req.originalUrl }, res: { status },
        responseTime: Math.round(performance.now() - started),
      }, `${req.method} ${req.originalUrl} ${status ?? 'aborted'}`);
    });
    inRequest(requestId, next);
  });

  const v1 = express.Router();
  v1.use((req, _res, next) => {
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is('application/json')) {
      throw new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Send request bodies as application/json');
    }
    next();
  });
  v1.use('/micropayments/batch', jsonBody(MAX_BATCH_BODY_BYTES));
  // (a signed webhook is verified over its body exactly as it arrived)
  v1.use('/messaging/webhooks', jsonBody(MAX_BODY_BYTES, { keepRaw: true }));
  v1.use('/processor/webhooks', jsonBody(MAX_BODY_BYTES, { keepRaw: true }));
  v1.use(jsonBody());
  // (one check for every route: a string PostgreSQL cannot store, or a body nested too deep, is a 400, never a 5xx)
  v1.use(rejectUnacceptableInput);
  const { open, authenticated } = operations(deps);
  const { stores } = deps.services;
  const idem = idempotent(stores.idempotency);
  const audit = audited(stores.audit);
  mount(v1, open, idem, audit);
  v1.use(authenticate(stores.principals, new TokenBuckets(deps.rateLimit, deps.services.clock)));
  mount(v1, authenticated, idem, audit);

  app.use('/v1', v1);
  // the hosted pages (HTML for customers): /checkout, /carts and their /assets
  app.use('/', hostedPages(deps.services, { rateLimits: deps.pageRateLimits }));
  app.use(notFoundRoute);
  app.use(errorHandler);
  return app;
}
