// The real processes `npm start` runs (API, worker, processor simulator), against the run's PostgreSQL and
// Temporal: they come up, serve, run a workflow, and stop cleanly on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { type PingWorkflow, pingWorkflowId } from '../../workflows/ping.contract';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call } from '../support/http';
import { startServices, type Services } from '../support/services';

let db: Db;
let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;

beforeAll(async () => {
  ({ db, stores, close: closeDb } = testDatabase(2));
  svc = await startServices();
});
afterAll(async () => {
  await svc?.stopAll();
  await closeDb();
});

describe('the running stack', () => {
  it('reports healthy over HTTP', async () => {
    const r = await call(svc.base, '/health');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
    expect((await call(svc.simulatorUrl, '/health')).body).toMatchObject({ status: 'ok' });
  });

  it('serves an authenticated, idempotent create', async () => {
    const operator = (await stores.principals.create('operator', 'e2e operator')).apiKey;
    const idem = uid();
    const first = await call(svc.base, '/merchants', { key: operator, idem, body: { name: 'E2E merchant' } });
    expect(first.status).toBe(201);
    const again = await call(svc.base, '/merchants', { key: operator, idem, body: { name: 'E2E merchant' } });
    expect(again.body.id).toBe(first.body.id);
    expect(await db('merchants').where({ id: first.body.id }).count({ n: '*' }).first()).toEqual({ n: '1' });
  });

  it('runs a workflow through the worker process and its ledger connection', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection, dataConverter: testDataConverter() });
      const result = await client.workflow.execute<PingWorkflow>('pingWorkflow', {
        taskQueue: svc.taskQueue, workflowId: pingWorkflowId(uid()), args: [{ message: 'e2e', checkLedger: true }],
      });
      expect(result).toEqual({ echoed: 'e2e', ledgerReachable: true });
    } finally {
      await connection.close();
    }
  });

  it('stops each process cleanly on SIGTERM', async () => {
    expect(await svc.kill('worker', 'SIGTERM')).toBe(0);
    expect(svc.proc.worker.output()).toMatch(/worker stopped/);
    expect(await svc.kill('api', 'SIGTERM')).toBe(0);
    expect(await svc.kill('simulator', 'SIGTERM')).toBe(0);
  });
});
