// The express app: /v1 routes, authentication, body limits and the error shape. No listening here, so tests
// and the launcher can mount it on any port.
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../ledger/db';
import { authenticate } from './auth';
import { ApiError, errorHandler, notFoundRoute } from './errors';
import type { GrantSigner } from './grants';
import { openApiDocument } from './openapi';
import { healthRoutes, workerPolling } from './routes/health';
import { MAX_BATCH_BODY_BYTES, micropaymentRoutes } from './routes/micropayments';
import { orderRoutes, type OrderTiming } from './routes/orders';
import { partyRoutes } from './routes/parties';
import { principalRoutes } from './routes/principals';
import { problemRoutes } from './routes/problems';
import { settlementRoutes } from './routes/settlement';
import { webhookRoutes } from './routes/webhooks';

/** Largest request body accepted, in bytes (413 body_too_large past it). */
export const MAX_BODY_BYTES = 64 * 1024;

export interface AppDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  timing: OrderTiming;
  webhooks: { allowPrivate: boolean; giveUpMs: number };
  grants: GrantSigner;
  /** Settlement periods: the grace a close waits before freezing the period. */
  periods: { graceMs: number };
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const v1 = express.Router();
  v1.use((req, _res, next) => {
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is('application/json')) {
      throw new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Send request bodies as application/json');
    }
    next();
  });
  v1.use('/micropayments/batch', express.json({ limit: MAX_BATCH_BODY_BYTES, strict: true }));
  v1.use(express.json({ limit: MAX_BODY_BYTES, strict: true }));
  v1.use(healthRoutes({ db: deps.db, temporalPing: async () => { await deps.temporal.workflowService.getSystemInfo({}); },
    workerPing: () => workerPolling(deps.temporal, deps.taskQueue) }));
  v1.get('/openapi.json', (_req, res) => { res.json(openApiDocument); });
  v1.use(authenticate(deps.db));
  // (first: the busiest routes; express tries each router's routes in turn, and no other router shares their paths)
  v1.use(micropaymentRoutes({ db: deps.db, grants: deps.grants }));
  v1.use(principalRoutes(deps.db));
  v1.use(orderRoutes(deps));
  v1.use(problemRoutes(deps.db));
  v1.use(partyRoutes(deps.db));
  v1.use(settlementRoutes({ db: deps.db, temporal: deps.temporal, taskQueue: deps.taskQueue, graceMs: deps.periods.graceMs }));
  v1.use(webhookRoutes({ db: deps.db, temporal: deps.temporal, taskQueue: deps.taskQueue, ...deps.webhooks }));

  app.use('/v1', v1);
  app.use(notFoundRoute);
  app.use(errorHandler);
  return app;
}
