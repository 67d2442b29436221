// The processor simulator: a real HTTP service with its own state, modelled on card processor APIs.
// The platform gives it its process and health endpoint; the card order issue fills in the processor API.
import express from 'express';
import type { Db } from '../../ledger/db';

export function createSimulatorApp(deps: { db: Db }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', async (_req, res) => {
    await deps.db.raw('SELECT 1');
    res.json({ status: 'ok', service: 'processor-simulator' });
  });
  app.use((_req, res) => { res.status(404).json({ error: { code: 'route_not_found' } }); });
  return app;
}
