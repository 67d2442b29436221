// The API as several copies sharing its port (PAYBROKER_API_PROCESSES, runtime/copies.ts), for real: both serve, a
// copy killed is replaced, a SIGTERM stops them all cleanly, and copies whose first process was killed stop.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../scripts/ports';
import { startWorker, testDatabase } from '../support/env';
import { call } from '../support/http';
import { allPids, alive, cmdlineOf, statOf } from '../support/proc';
import { spawnService, type ServiceProcess } from '../support/processes';

/** The API copies a process started (its other children, such as tsx's esbuild service, are not counted). */
const childrenOf = (pid: number) => allPids()
  .filter((n) => alive(n) && statOf(n)?.ppid === pid && cmdlineOf(n).includes('api/main.ts'));

/** Waits (20 s at most) until f gives something, and returns it. */
async function until<T>(what: string, f: () => T | undefined | false): Promise<T> {
  let v: T | undefined | false;
  await waitFor(what, async () => Boolean(v = f()), 20_000, 50);
  return v as T;
}

let api: ServiceProcess | undefined;
// (health is green only while a worker polls the API's task queue)
let worker: Awaited<ReturnType<typeof startWorker>>;
beforeAll(async () => { worker = await startWorker({}); });
afterAll(async () => { await worker.stop(); });
afterEach(async () => { await api?.stop('SIGKILL'); });

async function startCopies(env: Record<string, string> = {}): Promise<{ base: string; first: number; copies: number[] }> {
  const port = await freePort();
  api = spawnService('api/main.ts', { PORT: String(port), PAYBROKER_API_PROCESSES: '2', PAYBROKER_TASK_QUEUE: worker.taskQueue, ...env });
  await api.waitForOutput(/API listening on http:\/\/127\.0\.0\.1:\d+\/v1 \(2 processes\)/);
  const first = api.child.pid!;
  return { base: `http://127.0.0.1:${port}/v1`, first, copies: await until('two copies', () => childrenOf(first).length === 2 && childrenOf(first)) };
}

describe('the API in copies', () => {
  it('serves from both copies, replaces a copy that dies, and stops them all on SIGTERM', async () => {
    const { base, first, copies } = await startCopies();
    for (let i = 0; i < 10; i++) expect((await call(base, '/health')).status).toBe(200);

    process.kill(copies[0], 'SIGKILL');
    const now = await until('a replacement copy', () => {
      const c = childrenOf(first);
      return c.length === 2 && !c.includes(copies[0]) && c;
    });
    expect(now).toContain(copies[1]);
    await api!.waitForOutput(new RegExp(`copy ${copies[0]} exited \\(SIGKILL\\); starting another`));
    await api!.waitForOutput(/copy \d+ listening \(a replacement\)/);
    for (let i = 0; i < 10; i++) expect((await call(base, '/health')).status).toBe(200);

    expect(await api!.stop('SIGTERM')).toBe(0);
    expect(now.filter(alive)).toEqual([]);
  });

  it("gives each copy its share of a key's rate limit", async () => {
    const database = testDatabase();
    try {
      const { apiKey } = await database.stores.principals.create('operator', 'Copies');
      const { base } = await startCopies({ PAYBROKER_RATE_LIMIT: '1000', PAYBROKER_RATE_LIMIT_BURST: '40' });
      const r = await call(base, '/me', { key: apiKey });
      expect(r.status).toBe(200);
      expect(r.headers.get('ratelimit-limit')).toBe('20');
    } finally {
      await database.close();
    }
  });

  it('stops the copies when the first process is killed', async () => {
    const { first, copies } = await startCopies();
    process.kill(first, 'SIGKILL');
    await until('the copies to stop', () => copies.every((pid) => !alive(pid)));
  });
});
