// GET /v1/health: is each dependency reachable right now? 200 when all are, else 503 naming the one that is not;
// no authentication.
import { z } from 'zod';
import { type Operation, operation } from '../operations';
import type { HealthChecks } from '../../services/health';
import { probe } from '../schemas';

export const HEALTH_CHECK_TIMEOUT_MS = 2000;

async function run(check: () => Promise<unknown>): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
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

export function healthOperations(checks: HealthChecks): Operation[] {
  const schema = z.object({ status: z.enum(['ok', 'degraded']), ...Object.fromEntries(Object.keys(checks).map((k) => [k, probe])) })
    .meta({ id: 'Health' });
  return [operation({
    method: 'get', path: '/health', summary: `Reachability of ${Object.keys(checks).join(', ')}`, allow: 'public',
    responses: { 200: { description: 'All dependencies answer', schema }, 503: { description: 'A dependency does not answer', schema } },
    async handler({ res }) {
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((n) => run(checks[n])));
      const ok = results.every((r) => r.ok);
      res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', ...Object.fromEntries(names.map((n, i) => [n, results[i]])) });
    },
  })];
}
