// Structured logs across the processes: the API writes one JSON line per request with its request id (the client's
// X-Request-Id, echoed back); the id goes into the memo of the order's workflow and into the worker's log lines of
// the activities that workflow runs.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';

const database = testDatabase(2);
let svc: Services;
let merchantKey: string;

beforeAll(async () => {
  // the worker's SDK lines at DEBUG: an activity's start and finish are logged there
  svc = await startServices({ PAYBROKER_WORKER_LOG_LEVEL: 'DEBUG' });
  const operator = (await database.stores.principals.create('operator', 'Log operator')).apiKey;
  const m = await call(svc.base, '/merchants', { key: operator, idem: uid(), body: { name: 'Log shop', ...MERCHANT_SETTINGS } });
  merchantKey = m.body.apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await database.close();
});

const jsonLines = (output: string) => output.split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });

describe('a request id', () => {
  it("is echoed, logged once by the API, kept in the workflow's memo and in its activities' log lines", async () => {
    const requestId = uid('req-e2e-');
    const r = await call(svc.base, '/orders', { key: merchantKey, headers: { 'x-request-id': requestId }, body: {
      clientOrderId: uid('co-'), customerId: 'c1', items: [{ sku: 'song', quantity: 1, unitPriceMinor: 99, kind: 'soft' }],
      payment: { token: await tokenizeCard(svc.processor), billingPostalCode: '94107', billingCountry: 'US' },
    } });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toBe(requestId);

    await expect.poll(() => jsonLines(svc.proc.api.output()).filter((l) => l.requestId === requestId).length).toBe(1);
    const line = jsonLines(svc.proc.api.output()).find((l) => l.requestId === requestId)!;
    expect(line).toMatchObject({ service: 'api', level: 'info', req: { method: 'POST', url: '/v1/orders' }, res: { status: 201 } });

    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const described = await new Client({ connection, dataConverter: testDataConverter() }).workflow.getHandle(r.body.id).describe();
      expect(described.memo).toMatchObject({ requestId });
      // the Web UI's one line for it, sealed like every payload, opened by the client holding the key
      expect(await described.staticSummary()).toMatch(new RegExp(`^Order ${r.body.clientOrderId} of \\S+: \\$\\d`));
    } finally {
      await connection.close();
    }
    // the authorization and the soft goods' capture ran as activities of this workflow, each logged with the id
    await expect.poll(() => jsonLines(svc.proc.worker.output())
      .filter((l) => l.requestId === requestId && l.service === 'worker').map((l) => l.activityType).filter(Boolean))
      .toEqual(expect.arrayContaining(['authorize', 'capture', 'commitOrderBooks']));
  });

  it('is made when the client sends none or an unusable one', async () => {
    for (const headers of [{}, { 'x-request-id': 'has spaces and is not an id' }] as Array<Record<string, string>>) {
      const r = await call(svc.base, '/me', { key: merchantKey, headers });
      expect(r.headers.get('x-request-id')).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    }
  });
});
