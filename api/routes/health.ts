// GET /v1/health: is each dependency reachable right now? 200 when all are, else 503; no authentication.
import { Router } from 'express';
import type { Db } from '../../ledger/db';

export const HEALTH_CHECK_TIMEOUT_MS = 2000;

export interface HealthDeps {
  db: Db;
  /** Resolves when the Temporal frontend answers. */
  temporalPing: () => Promise<void>;
}

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([check(), new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)), HEALTH_CHECK_TIMEOUT_MS);
    })]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).message.split('\n')[0] };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: HealthDeps): Router {
  const r = Router();
  r.get('/health', async (_req, res) => {
    const [postgres, temporal] = await Promise.all([probe(() => deps.db.raw('SELECT 1')), probe(deps.temporalPing)]);
    const ok = postgres.ok && temporal.ok;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', postgres, temporal });
  });
  return r;
}
