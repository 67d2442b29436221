// Goal: an operator sees in Prometheus what Paybroker does. The API (two copies, their figures gathered by the first
// process) and the worker serve /metrics, the worker's Temporal SDK its own: after an order is created, shipped and
// its events delivered to a merchant's endpoint, the figures show the request, the order's transitions, the
// processor's calls, the ledger's entries and the deliveries; and every metric the Grafana dashboard charts
// (docker/grafana/dashboards/paybroker.json) is exported by one of them.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { tokenizeCard } from '../support/processor-calls';
import { Receiver } from '../support/receiver';
import { startServices, type Services } from '../support/services';

let svc: Services;
let closeDb: () => Promise<void>;
let operator: string;
const receiver = new Receiver();
const ports = { api: 0, worker: 0, sdk: 0 };

beforeAll(async () => {
  const database = testDatabase(2);
  closeDb = database.close;
  operator = (await database.stores.principals.create('operator', 'metrics operator')).apiKey;
  Object.assign(ports, { api: await freePort(), worker: await freePort(), sdk: await freePort() });
  [svc] = await Promise.all([startServices({
    PAYBROKER_API_PROCESSES: '2', PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_API_METRICS_PORT: String(ports.api),
    PAYBROKER_WORKER_METRICS_PORT: String(ports.worker), PAYBROKER_WORKER_SDK_METRICS_PORT: String(ports.sdk),
  }, { only: ['simulator', 'worker', 'api'] }), receiver.start()]);
});
afterAll(async () => {
  await svc?.stopAll();
  await receiver.stop();
  await closeDb?.();
});

const scrape = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return text;
};
/** The value of one series (its name and labels as Prometheus prints them), 0 when absent. */
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

describe('the metrics endpoints', () => {
  it('count an order, its transitions, its processor calls, its ledger entries and its deliveries; the dashboard names only exported metrics', async () => {
    const merchantIdem = uid();
    const m = await call(svc.base, '/merchants', { key: operator, idem: merchantIdem, body: { name: 'Metrics shop', ...MERCHANT_SETTINGS } });
    expect(m.status).toBe(201);
    const again = await call(svc.base, '/merchants', { key: operator, idem: merchantIdem, body: { name: 'Metrics shop', ...MERCHANT_SETTINGS } });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const key = m.body.apiKey as string;
    const hook = await call(svc.base, '/webhook-endpoints', { key, idem: uid(), body: { url: receiver.url } });
    expect(hook.status).toBe(201);
    const body = {
      clientOrderId: uid('co-'), customerId: 'cust-metrics',
      items: [{ sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' }],
      shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' } },
      payment: { token: await tokenizeCard(svc.processor), billingPostalCode: '94107' },
    };
    const created = await call(svc.base, '/orders', { key, body });
    expect(created.status).toBe(201);
    const shipped = await call(svc.base, `/orders/${created.body.id}/shipments`, { key, idem: uid(), body: { items: [{ sku: 'lamp', quantity: 1 }], trackingNumber: 'T1' } });
    expect(shipped.status).toBe(200);
    await expect.poll(() => receiver.received.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);

    const api = await scrape(ports.api);
    expect(value(api, 'paybroker_http_requests_total{route="/v1/orders",method="POST",status="201"}')).toBe(1);
    expect(value(api, 'paybroker_http_requests_total{route="/v1/merchants",method="POST",status="201"}')).toBe(2);
    expect(value(api, 'paybroker_idempotent_replays_total{route="/v1/merchants"}')).toBe(1);
    expect(value(api, 'paybroker_http_request_duration_seconds_count{route="/v1/orders/:id/shipments",method="POST",status="200"}')).toBe(1);
    expect(value(api, 'paybroker_up{service="api"}'), 'both copies gathered').toBe(2);

    await expect.poll(async () => value(await scrape(ports.worker), 'paybroker_delivery_attempts_total{endpoint="' + hook.body.id + '",outcome="delivered"}'),
      { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    const worker = await scrape(ports.worker);
    expect(value(worker, 'paybroker_order_transitions_total{from="confirmed",to="authorized_plus_avs"}')).toBe(1);
    expect(value(worker, 'paybroker_order_transitions_total{from="authorized_plus_avs",to="shipped"}')).toBe(1);
    expect(value(worker, 'paybroker_processor_call_duration_seconds_count{operation="POST /authorizations",outcome="ok"}')).toBe(1);
    expect(value(worker, 'paybroker_ledger_entries_total')).toBeGreaterThanOrEqual(1);
    expect(value(worker, `paybroker_delivery_lag_seconds_count{endpoint="${hook.body.id}"}`)).toBeGreaterThanOrEqual(2);
    const sdk = await scrape(ports.sdk);

    // every metric the dashboard charts is exported (a histogram by its _bucket, _sum and _count)
    const dashboard = JSON.parse(readFileSync(new URL('../../docker/grafana/dashboards/paybroker.json', import.meta.url), 'utf8')) as
      { panels: Array<{ targets: Array<{ expr: string }> }> };
    const named = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(paybroker|temporal|nodejs|process)_[a-z0-9_]+/g) ?? [])));
    const exported = new Set([api, worker, sdk].flatMap((t) => t.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0])));
    // (declared with no sample yet: a counter by its name, a histogram by its three series)
    const declared = new Set([api, worker, sdk].flatMap((t) => [...t.matchAll(/^# TYPE (\S+) (\S+)/gm)]
      .flatMap(([, n, type]) => (type === 'histogram' ? [`${n}_bucket`, `${n}_sum`, `${n}_count`] : [n]))));
    expect(named.size).toBeGreaterThan(15);
    expect([...named].filter((n) => !exported.has(n) && !declared.has(n)), [...declared].filter((n) => n.startsWith('temporal_')).join(' ')).toEqual([]);
  });
});
