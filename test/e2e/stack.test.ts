// The real processes `npm start` runs (API, worker, processor simulator), against the run's PostgreSQL and
// Temporal: they come up, serve, run a workflow, and stop cleanly on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { createPrincipal } from '../../api/principals';
import type { Db } from '../../ledger/db';
import { freePort } from '../../scripts/ports';
import { pingWorkflow, pingWorkflowId } from '../../workflows/ping';
import { testDb, uid } from '../support/env';
import { call } from '../support/http';
import { spawnService, type ServiceProcess } from '../support/processes';

let db: Db;
let api: ServiceProcess;
let worker: ServiceProcess;
let simulator: ServiceProcess;
let base: string;
let simulatorUrl: string;
const taskQueue = uid('e2e-');

beforeAll(async () => {
  db = testDb(2);
  const [apiPort, simPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${apiPort}/v1`;
  simulatorUrl = `http://127.0.0.1:${simPort}`;
  const env = { PORT: String(apiPort), PAYBROKER_SIMULATOR_PORT: String(simPort), PAYBROKER_TASK_QUEUE: taskQueue };
  api = spawnService('api/main.ts', env);
  worker = spawnService('workers/main.ts', env);
  simulator = spawnService('processors/simulator/main.ts', env);
  await Promise.all([
    api.waitForOutput(/API listening/),
    worker.waitForOutput(/worker polling/),
    simulator.waitForOutput(/simulator listening/),
  ]);
});
afterAll(async () => {
  await Promise.all([api, worker, simulator].map((p) => p?.stop('SIGKILL')));
  await db.destroy();
});

describe('the running stack', () => {
  it('reports healthy over HTTP', async () => {
    const r = await call(base, '/health');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
    expect((await call(simulatorUrl, '/health')).body).toMatchObject({ status: 'ok' });
  });

  it('serves an authenticated, idempotent create', async () => {
    const operator = (await createPrincipal(db, 'operator', 'e2e operator')).apiKey;
    const idem = uid();
    const first = await call(base, '/merchants', { key: operator, idem, body: { name: 'E2E merchant' } });
    expect(first.status).toBe(201);
    const again = await call(base, '/merchants', { key: operator, idem, body: { name: 'E2E merchant' } });
    expect(again.body.id).toBe(first.body.id);
    expect(await db('merchants').where({ id: first.body.id }).count({ n: '*' }).first()).toEqual({ n: '1' });
  });

  it('runs a workflow through the worker process and its ledger connection', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const result = await client.workflow.execute(pingWorkflow, {
        taskQueue, workflowId: pingWorkflowId(uid()), args: [{ message: 'e2e', checkLedger: true }],
      });
      expect(result).toEqual({ echoed: 'e2e', ledgerReachable: true });
    } finally {
      await connection.close();
    }
  });

  it('stops each process cleanly on SIGTERM', async () => {
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(worker.output()).toMatch(/worker stopped/);
    expect(await api.stop('SIGTERM')).toBe(0);
    expect(await simulator.stop('SIGTERM')).toBe(0);
  });
});
