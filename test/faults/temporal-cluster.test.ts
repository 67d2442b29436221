// The history service of a real Temporal cluster (PAYBROKER_TEMPORAL=cluster's four processes on PostgreSQL)
// SIGKILLed mid-load and started again, as its supervisor would (issue 20, 3). The test runs a cluster of its own
// (databases of its own in the run's PostgreSQL; the run's shared Temporal is never touched) and the API, worker and
// processor simulator as real processes against it, on a ledger database of their own. Every order of the load,
// and one sent while history was down, authorizes once and ships; the processor, the API and the ledger agree to
// the cent; no request was answered anything but created, pending or 503 temporal_unavailable.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config';
import { startScratchTemporalCluster, type TemporalCluster } from '../../scripts/temporal-cluster';
import { orderWorkflowId } from '../../workflows/order.contract';
import { cardOrderBody, expectCapturedOnceToTheCent, ORDER_LOAD, sendOrderLoad, shipInFull } from '../support/card-orders';
import { uid } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

let dir: string | undefined;
let cluster: TemporalCluster | undefined;
let svc: Services | undefined;
let fresh: Awaited<ReturnType<typeof freshDatabase>> | undefined;
afterAll(async () => {
  await svc?.stopAll();
  await cluster?.stop();
  await fresh?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const unavailable = { status: 503, body: { error: { type: 'service_unavailable_error', code: 'temporal_unavailable' } } };
/** Created, pending (202) or refused for now (503 temporal_unavailable): never another 5xx. */
function expectCleanAnswer(r: { status: number; body: unknown }): void {
  if (r.status === 503) expect(r).toMatchObject(unavailable);
  else expect([201, 202], JSON.stringify(r.body)).toContain(r.status);
}

describe("a Temporal cluster's history service SIGKILLed mid-load and started again", () => {
  it('loses no order and doubles none: every order, one sent while it was down too, authorizes once and captures to the cent', async () => {
    const base = join(loadConfig().dataDir, 'tests');
    mkdirSync(base, { recursive: true });
    const tmp = dir = mkdtempSync(join(base, 'fault-cluster-'));
    chmodSync(tmp, 0o755);
    const c = cluster = await startScratchTemporalCluster({
      adminUrl: inject('databaseUrl'), dir: tmp, databasePrefix: `temporal_fault_${Date.now()}`, log: () => {},
    });
    const db = (fresh = await freshDatabase()).db;
    const s = svc = await startServices({ DATABASE_URL: fresh.url, TEMPORAL_ADDRESS: c.address, PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' });
    // the load: every order sent, a quarter of them authorized and recorded, the rest in flight
    const { merchantId, key, bodies, ids, authorized, answers } = await sendOrderLoad(s, fresh.stores, db, 'Temporal cluster fault shop');
    c.services.history.process.kill('SIGKILL');
    expect(await c.services.history.exited).toMatchObject({ signal: 'SIGKILL' });
    const killedAt = Date.now();
    const authorizedAtKill = await authorized();
    expect(authorizedAtKill).toBeLessThan(ORDER_LOAD.orders);
    await s.admin.clearFaults();

    // while it is down: a new order (with an Idempotency-Key, never retried); its answer is clean
    const lone = cardOrderBody(uid('co-'), await tokenizeCard(s.processor), ORDER_LOAD.orders);
    const loneId = orderWorkflowId(merchantId, lone.clientOrderId);
    const post = await call(s.base, '/orders', { key, idem: uid('idem-'), body: lone });
    expectCleanAnswer(post);
    const loadAnswers = (await answers).map(({ r }) => r);
    for (const r of loadAnswers) expectCleanAnswer(r);

    // history started again on the same ports and databases: every order authorizes, the lone one too. Each as its
    // workflow says (the API asks it): a workflow task whose completion history lost is run again from the history it
    // kept, so a view saved by the lost run can be ahead of the workflow until then (docs/operations.md)
    const restartedAt = Date.now();
    await c.restart('history');
    const all = [...ids, loneId];
    await expect.poll(() => authorized(all), { timeout: 90_000, interval: 250 }).toBe(all.length);
    const shownAuthorized = async () => (await Promise.all(all.map((id) => call(s.base, `/orders/${id}`, { key }))))
      .filter((r) => r.body.state === 'authorized_plus_avs').length;
    await expect.poll(shownAuthorized, { timeout: 90_000, interval: 500 }).toBe(all.length);
    const recoveredMs = Date.now() - restartedAt;

    await Promise.all(all.map((id, i) => shipInFull(s.base, key, id, i < ORDER_LOAD.orders ? bodies[i] : lone)));
    await expect.poll(async () => Number((await db('orders').whereIn('id', all).where({ state: 'shipped' }).count({ n: '*' }).first())!.n),
      { timeout: 30_000, interval: 250 }).toBe(all.length);
    const totalMinor = await expectCapturedOnceToTheCent({ base: s.base, key, admin: s.admin, db, ids: all });
    // the services lived through it (none was restarted by the test), and so did the cluster's other services
    for (const name of ['api', 'worker', 'simulator'] as const) expect(s.proc[name].child.exitCode, name).toBeNull();
    for (const name of ['frontend', 'matching', 'worker'] as const) expect(c.services[name].process.exitCode, name).toBeNull();

    console.log(`[fault: Temporal history service] ${all.length} orders (${ORDER_LOAD.orders} in the load, 1 sent while down: ${post.status}), `
      + `killed with ${authorizedAtKill} authorized; in-flight requests answered 503: ${loadAnswers.filter((r) => r.status === 503).length}; `
      + `down ${restartedAt - killedAt} ms, all authorized ${recoveredMs} ms after the restart began; captured ${totalMinor} minor units, processor = API = ledger`);
  }, 200_000);
});
