// The Temporal dev server SIGKILLed mid-load and restarted on the same SQLite file (issue 13, 5a). The test runs a
// dev server of its own (the run's shared one is never touched) and the API, worker and processor simulator as real
// processes against it, on a database of their own. While the server is down a new order answers 503
// temporal_unavailable with Retry-After within 5 s and is never retried; once the server is back every order, that
// one included (the worker's repair loop starts it), authorizes once and ships, and the processor, the API and the
// ledger agree to the cent.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config';
import { freePort } from '../../scripts/ports';
import { type DevServer, startTemporalDevServer } from '../../scripts/temporal-cli';
import { orderWorkflowId } from '../../workflows/order.contract';
import { cardOrderBody, expectCapturedOnceToTheCent, ORDER_LOAD, sendOrderLoad, shipInFull, timed } from '../support/card-orders';
import { uid } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

/** The bound issue 13 sets on an answer while a dependency is away. */
const UNAVAILABLE_BOUND_MS = 5000;

let dir: string | undefined;
let temporal: DevServer | undefined;
let svc: Services | undefined;
let fresh: Awaited<ReturnType<typeof freshDatabase>> | undefined;
afterAll(async () => {
  await svc?.stopAll();
  await temporal?.stop();
  await fresh?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const unavailable = (code: string) => ({ status: 503, body: { error: { type: 'service_unavailable_error', code } } });

describe('the Temporal server SIGKILLed mid-load and restarted on the same database file', () => {
  it('answers 503 temporal_unavailable within 5 s while it is down; afterwards every order, the never-retried one too, authorizes once and captures to the cent', async () => {
    const base = join(loadConfig().dataDir, 'tests');
    mkdirSync(base, { recursive: true });
    const tmp = dir = mkdtempSync(join(base, 'fault-temporal-'));
    chmodSync(tmp, 0o755);
    const port = await freePort();
    const startTemporal = () => startTemporalDevServer({
      cli: inject('temporalCliPath'), port, dbFile: join(tmp, 'temporal.db'), fast: true, logFile: join(tmp, 'temporal.log'),
    });
    const server = temporal = await startTemporal();
    const db = (fresh = await freshDatabase()).db;
    const s = svc = await startServices({ DATABASE_URL: fresh.url, TEMPORAL_ADDRESS: server.address, PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    // the load: every order sent, a quarter of them authorized and recorded, the rest in flight
    const { merchantId, key, bodies, ids, authorized, answers, startedAt: loadStarted } = await sendOrderLoad(s, fresh.stores, db, 'Temporal fault shop');
    server.process.kill('SIGKILL');
    expect(await server.exited).toMatchObject({ signal: 'SIGKILL' });
    const killedAt = Date.now();
    const authorizedAtKill = await authorized();
    expect(authorizedAtKill).toBeLessThan(ORDER_LOAD.orders);
    await s.admin.clearFaults();

    // while it is down: a new order (with an Idempotency-Key, never retried), and reading it
    const lone = cardOrderBody(uid('co-'), await tokenizeCard(s.processor), ORDER_LOAD.orders);
    const loneId = orderWorkflowId(merchantId, lone.clientOrderId);
    const post = await timed(() => call(s.base, '/orders', { key, idem: uid('idem-'), body: lone }));
    expect(post.r).toMatchObject(unavailable('temporal_unavailable'));
    expect(post.r.headers.get('retry-after')).toBe('5');
    expect(post.ms).toBeLessThanOrEqual(UNAVAILABLE_BOUND_MS);
    const read = await timed(() => call(s.base, `/orders/${loneId}`, { key }));
    expect(read.r).toMatchObject(unavailable('temporal_unavailable'));
    expect(read.r.headers.get('retry-after')).toBe('5');
    expect(read.ms).toBeLessThanOrEqual(UNAVAILABLE_BOUND_MS);
    // an order whose workflow saved its view before the kill is read from that view (PostgreSQL), not refused
    const saved = (await db('orders').whereIn('id', ids).where({ state: 'authorized_plus_avs' }).first('id')).id as string;
    const readSaved = await timed(() => call(s.base, `/orders/${saved}`, { key }));
    expect(readSaved.r).toMatchObject({ status: 200, body: { id: saved, state: 'authorized_plus_avs' } });
    expect(readSaved.ms).toBeLessThanOrEqual(UNAVAILABLE_BOUND_MS);
    // the load's requests were answered too: created, pending, or 503 temporal_unavailable, never another 5xx
    const loadAnswers = await answers;
    for (const { r } of loadAnswers) {
      if (r.status === 503) expect(r).toMatchObject(unavailable('temporal_unavailable'));
      else expect([201, 202], JSON.stringify(r.body)).toContain(r.status);
    }
    const refusedInFlight = loadAnswers.filter(({ r }) => r.status === 503);

    // back on the same database file and port: every order authorizes, the lone one by the repair loop
    const restartedAt = Date.now();
    temporal = await startTemporal();
    const upAt = Date.now();
    const all = [...ids, loneId];
    await expect.poll(() => authorized(all), { timeout: 90_000, interval: 250 }).toBe(all.length);
    const recoveredMs = Date.now() - upAt;
    expect(s.proc.worker.output()).toMatch(/started the workflows of orders accepted while it could not be/);

    await Promise.all(all.map((id, i) => shipInFull(s.base, key, id, i < ORDER_LOAD.orders ? bodies[i] : lone)));
    await expect.poll(async () => Number((await db('orders').whereIn('id', all).where({ state: 'shipped' }).count({ n: '*' }).first())!.n),
      { timeout: 30_000, interval: 250 }).toBe(all.length);
    const totalMinor = await expectCapturedOnceToTheCent({ base: s.base, key, admin: s.admin, db, ids: all });
    // the services lived through it (none was restarted by the test)
    for (const name of ['api', 'worker', 'simulator'] as const) expect(s.proc[name].child.exitCode, name).toBeNull();

    console.log(`[fault: Temporal server] ${all.length} orders (${ORDER_LOAD.orders} in the load, 1 sent while down), killed ${killedAt - loadStarted} ms `
      + `into the load with ${authorizedAtKill} authorized; in-flight requests answered 503: ${refusedInFlight.length}; while down `
      + `POST 503 in ${post.ms} ms, GET 503 in ${read.ms} ms, saved order read in ${readSaved.ms} ms; down ${restartedAt - killedAt} ms, `
      + `restart took ${upAt - restartedAt} ms, all authorized ${recoveredMs} ms after; captured ${totalMinor} minor units, processor = API = ledger`);
  }, 170_000);
});
