// Card data is never stored: a card order (created, authorized, shipped, partly refunded, batched for settlement,
// its webhooks delivered) and a micro-payment period (buyers paying by card token, the close charging their
// invoices) run through the real processes, paid with a real test card number; then a dump of the broker's
// schemas, the log files and the exported workflow histories hold no card number. The processor simulator's own
// schema (processor_sim) and log play the processor and are exempt. A scan that scanned nothing fails: each
// source must hold what the flows wrote (ids, the card token), and a card number planted in a schema is found.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SIM_SCHEMA } from '../../processors/simulator/migrations';
import { findPgBinDir } from '../../scripts/postgres';
import { CLUSTER_SERVICES } from '../../scripts/temporal-cluster';
import { settlementScheduleId } from '../../workflows/settlementBatch.contract';
import type { SettlementPeriodResult } from '../../workflows/settlementPeriod.contract';
import { CARD_MAX_DIGITS, findCardNumbers, luhnValid } from '../support/card-scan';
import { temporalClient, uid } from '../support/env';
import { call } from '../support/http';
import { freshDatabase } from '../support/micro';
import { MERCHANT_SETTINGS } from '../support/order-input';
import { CARD } from '../support/processor-calls';
import { Receiver } from '../support/receiver';
import { startServices, type Services } from '../support/services';
import { EncryptionCodec, parsePayloadKeys } from '../../runtime/payloadCodec';
import { type JsonPayload, payloadFromJson } from '../../runtime/codecServer';

const run = promisify(execFile);
/** The card every payment of this file uses: Luhn-valid, so the scan would find it wherever it was kept. */
const PAN = CARD.approve;

describe('the card scanner', () => {
  it('finds card numbers as one run, in groups, in JSON, in a COPY line and after an underscore', () => {
    expect(luhnValid(PAN)).toBe(true);
    const cases: Array<[string, string]> = [
      [PAN, PAN], ['4242 4242 4242 4242', PAN], ['4242-4242-4242-4242', PAN], [`{"card":"${PAN}"}`, PAN],
      [`42\tUSD\t${PAN}\t2025-01-01`, PAN], [`tok_${PAN}`, PAN], [`note\\n${PAN}`, PAN], ['4242 4242 4242 4242 12/29', PAN],
      ['amex 378282246310005', '378282246310005'], ['visa13 4222222222222.', '4222222222222'], ['6011111111111117', '6011111111111117'],
    ];
    for (const [text, card] of cases) expect(findCardNumbers(text).map((h) => h.digits), text).toContain(card);
  });

  it('finds nothing in numbers that are not cards: Luhn-invalid, too short or long, in hex, UUIDs, epoch milliseconds', () => {
    expect(luhnValid('4242424242424241')).toBe(false);
    expect(luhnValid('424242424242')).toBe(false); // 12 digits
    for (const text of ['4242424242424241', '424242424242', `${PAN}0000`, `1${PAN}`, `a${PAN}`, `${PAN}ff`,
      `\\x${'0'.repeat(CARD_MAX_DIGITS - PAN.length)}${PAN}ab`, '123e4567-e89b-12d3-a456-426614174000', '1767225600009', 'amount 9650 USD']) {
      expect(findCardNumbers(text), text).toEqual([]);
    }
    expect(luhnValid('1767225600009')).toBe(true); // the epoch time above passes Luhn: it is skipped as a time
  });
});

let fresh: Awaited<ReturnType<typeof freshDatabase>> | undefined;
let svc: Services | undefined;
let receiver: Receiver | undefined;
const workDir = mkdtempSync(join(tmpdir(), 'card-data-'));
const logDir = join(workDir, 'logs');

afterAll(async () => {
  await svc?.stopAll();
  await receiver?.stop();
  await fresh?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

/** pg_dump of the database, schema and data, with extra arguments (which schemas); returns the dump's text. */
async function dump(url: string, file: string, args: string[]): Promise<string> {
  const bin = findPgBinDir();
  if (!bin) throw new Error('pg_dump not found (PAYBROKER_PG_BIN)');
  await run(join(bin, 'pg_dump'), ['--dbname', url, '--no-owner', '--file', file, ...args]);
  return readFileSync(file, 'utf8');
}

/** A workflow's history exported as the repository records them (historyToJSON), with each payload's data decoded. */
async function readableHistory(json: string): Promise<string> {
  // (payloads are sealed: opened with the run's key, as anyone holding it would read them)
  const codec = new EncryptionCodec(parsePayloadKeys(inject('payloadKeys')));
  const decode = async (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(decode));
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    // a Payload: base64 data under base64 metadata values (proto3 JSON); a card number in it would be invisible
    if (typeof o.data === 'string' && o.metadata !== null && typeof o.metadata === 'object') {
      const [opened] = await codec.decode([payloadFromJson(o as JsonPayload)]);
      const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');
      return { metadata: Object.fromEntries(Object.entries(opened.metadata ?? {}).map(([k, m]) => [k, text(m)])), data: text(opened.data) };
    }
    return Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, x]) => [k, await decode(x)])));
  };
  return JSON.stringify(await decode(JSON.parse(json)));
}

/** Where the run's PostgreSQL and Temporal write their logs (the scratch stack's directory): the dev server's one,
 *  or each of the cluster's services'. */
async function stackLogFiles(db: NonNullable<typeof fresh>['db']): Promise<{ postgres: string; temporal: string[] }> {
  const { rows } = await db.raw('SHOW data_directory'); // <run dir>/postgres/pg
  const runDir = dirname(dirname(rows[0].data_directory as string));
  return { postgres: join(runDir, 'postgres', 'logs', 'postgres.log'), temporal: inject('temporalMode') === 'dev' ? [join(runDir, 'temporal.log')]
    : CLUSTER_SERVICES.map((s) => join(runDir, 'temporal', `temporal-${s}.log`)) };
}

const sizeOf = (path: string) => statSync(path).size;
const readFrom = (path: string, offset: number) => readFileSync(path).subarray(offset).toString('utf8');

interface Flows { orderId: string; orderToken: string; buyerTokens: string[]; buyerIds: string[]; closeWorkflowId: string }

/** Every workflow that ran on the task queue, its history exported and readable, by `<workflow id>/<run id>`. */
async function exportHistories(taskQueue: string): Promise<Record<string, string>> {
  const temporal = await temporalClient();
  try {
    const histories: Record<string, string> = {};
    for await (const wf of temporal.client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
      const history = await temporal.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      histories[`${wf.workflowId}/${wf.runId}`] = await readableHistory(historyToJSON(history));
    }
    return histories;
  } finally {
    await temporal.close();
  }
}

describe('card data in the broker', () => {
  it('is in no dump of its schemas, no log file and no workflow history after an order and a micro-payment period', async () => {
    fresh = await freshDatabase();
    const db = fresh.db;
    const stackLogs = await stackLogFiles(db);
    const postgresLogStart = sizeOf(stackLogs.postgres);
    // PostgreSQL logs each statement on this database with its parameters: what was sent to it, not only what it
    // kept. (The simulator shares the database: its statements are there too, and carry a card's last four digits.)
    await db.raw(`ALTER DATABASE ${new URL(fresh.url).pathname.slice(1)} SET log_statement = 'all'`);
    mkdirSync(logDir);
    receiver = new Receiver();
    await receiver.start();
    svc = await startServices({
      DATABASE_URL: fresh.url, PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_DELIVERY_INITIAL_BACKOFF: '100ms',
      // every line the processes write: each API request, each activity's start and finish
      PAYBROKER_LOG_LEVEL: 'debug', PAYBROKER_WORKER_LOG_LEVEL: 'DEBUG',
    }, { logDir });
    const s = svc;
    const flows = await runFlows(s, receiver, fresh);

    // the histories of every workflow the flows ran (the listing is eventually consistent: until all are there)
    let histories: Record<string, string> = {};
    const ran = () => Object.keys(histories).map((k) => k.split('/')[0]);
    await expect.poll(async () => {
      histories = await exportHistories(s.taskQueue);
      return [flows.orderId, flows.closeWorkflowId].every((id) => ran().includes(id))
        && ran().some((id) => id.startsWith(settlementScheduleId(s.taskQueue))); // the settlement batch it triggered
    }, { timeout: 10_000, interval: 500 }).toBe(true);
    // then the processes stop (SIGTERM, as `npm start` stops them) and their log files are complete
    for (const name of ['api', 'worker', 'simulator'] as const) await s.kill(name, 'SIGTERM');
    svc = undefined;

    const brokerDump = await dump(fresh.url, join(workDir, 'broker.sql'), [`--exclude-schema=${SIM_SCHEMA}`]);
    const historyText = Object.values(histories).join('\n');
    // (the simulator's own log, logs/simulator.log, is the processor's, exempt as its schema is)
    const sources: Record<string, string> = {
      [`pg_dump of the database but ${SIM_SCHEMA}`]: brokerDump,
      'api.log': readFileSync(join(logDir, 'api.log'), 'utf8'),
      'worker.log': readFileSync(join(logDir, 'worker.log'), 'utf8'),
      'postgres.log, every statement of the test': readFrom(stackLogs.postgres, postgresLogStart),
      "Temporal's log": stackLogs.temporal.map((f) => readFileSync(f, 'utf8')).join('\n'),
      [`${Object.keys(histories).length} workflow histories`]: historyText,
    };

    // no source is vacuous: each holds what the flows wrote, where a card number would have been
    for (const text of [flows.orderId, flows.orderToken, ...flows.buyerIds, ...flows.buyerTokens]) expect(brokerDump).toContain(text);
    expect(sources['api.log']).toContain('"url":"/v1/orders"');
    expect(sources['worker.log']).toContain('"activityType":"authorize"');
    expect(sources['postgres.log, every statement of the test']).toMatch(new RegExp(`parameters: .*'${flows.orderId}'`));
    expect(sources["Temporal's log"]).toMatch(inject('temporalMode') === 'dev' ? /Server:/ : /Loading config files=.*history\.yaml/);
    // the token is in the order workflow's input only, sealed and base64 in the export: found, the payloads are opened
    for (const text of [flows.orderId, flows.orderToken]) expect(historyText).toContain(text);

    const figures: string[] = [];
    const found: string[] = [];
    for (const [name, text] of Object.entries(sources)) {
      figures.push(`${name}: ${Buffer.byteLength(text)} bytes`);
      for (const hit of findCardNumbers(text)) found.push(`${name}: ${hit.digits} in …${hit.context}…`);
    }
    console.log(`[card data] scanned ${figures.join(', ')}`);
    expect(found).toEqual([]);

    // the controls: the same dump and scan find a card number planted in a schema; the processor's own schema keeps
    // the card's last four digits
    await db.raw('CREATE SCHEMA card_scan_control');
    await db.raw('CREATE TABLE card_scan_control.planted (id text PRIMARY KEY, card text NOT NULL)');
    await db('card_scan_control.planted').insert({ id: 'p1', card: PAN });
    const control = await dump(fresh.url, join(workDir, 'control.sql'), ['--schema=card_scan_control']);
    expect(findCardNumbers(control).map((h) => h.digits)).toEqual([PAN]);
    const processorDump = await dump(fresh.url, join(workDir, 'processor.sql'), [`--schema=${SIM_SCHEMA}`]);
    expect(processorDump).toContain(`\t${PAN.slice(-4)}\tvisa\t`);
  }, 240_000);
});

async function runFlows(s: Services, hooks: Receiver, db: NonNullable<typeof fresh>): Promise<Flows> {
  const operator = (await db.stores.principals.create('operator', 'Card data operator')).apiKey;
  const must = async (path: string, key: string, body?: unknown, method?: string, status = [200, 201]) => {
    const r = await call(s.base, path, { key, body, method, idem: body === undefined ? undefined : uid('idem-') });
    if (!status.includes(r.status)) throw new Error(`${method ?? 'POST'} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const tokenize = async () => (await s.processor.tokenize({ cardNumber: PAN, expMonth: 12, expYear: 2099, cvc: '123' }, uid('tok-'))).token;

  // a card order with its webhooks: created, authorized, shipped, partly refunded, then batched for settlement
  const merchant = await must('/merchants', operator, { name: 'Card data shop', ...MERCHANT_SETTINGS });
  hooks.secret = (await must('/webhook-endpoints', merchant.apiKey, { url: hooks.url })).secret;
  const orderToken = await tokenize();
  const created = await must('/orders', merchant.apiKey, {
    clientOrderId: uid('co-'), customerId: 'cust-cards',
    items: [{ sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' }, { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' }],
    shipping: { optionId: 'standard', address: { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' } },
    payment: { token: orderToken, billingPostalCode: '94107' },
  }, undefined, [201, 202]);
  const orderId = created.id as string;
  const order = async () => (await call(s.base, `/orders/${orderId}`, { key: merchant.apiKey })).body;
  await expect.poll(async () => (await order()).state, { timeout: 20_000, interval: 200 }).toBe('authorized_plus_avs');
  const shipped = await must(`/orders/${orderId}/shipments`, merchant.apiKey,
    { items: [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }], trackingNumber: 'TRK-CARDS' });
  expect(shipped.state).toBe('shipped');
  const refunded = await must(`/orders/${orderId}/refunds`, merchant.apiKey, { amountMinor: 650 });
  expect(refunded).toMatchObject({ state: 'partially_refunded', refundedMinor: 650 });
  const temporal = await temporalClient();
  try {
    await temporal.client.schedule.getHandle(settlementScheduleId(s.taskQueue)).trigger();
  } finally {
    await temporal.close();
  }
  await expect.poll(async () => (await order()).captures.every((c: { batchId: string | null }) => c.batchId !== null),
    { timeout: 20_000, interval: 250 }).toBe(true);
  await expect.poll(() => hooks.unique().map((r) => r.body.type), { timeout: 20_000, interval: 200 })
    .toEqual(expect.arrayContaining(['order.authorized', 'order.captured', 'order.refunded']));

  // micro-payments: sellers and their items, buyers paying by card token, a batch, and the close that charges them
  const sellers: Array<{ id: string }> = [];
  for (let i = 0; i < 2; i++) {
    const seller = await must('/sellers', operator, { name: `Card seller ${i}`, currency: 'USD', payoutDestination: `acct_${uid()}`, feeBps: 500 });
    await must(`/sellers/${seller.id}/items/article`, seller.apiKey,
      { title: 'Article', category: 'news', priceMinor: 25 + i, currency: 'USD', grantSeconds: 3600 }, 'PUT');
    sellers.push(seller);
  }
  const buyers: Array<{ id: string; paymentToken: string; ruleSetToken: string }> = [];
  for (let i = 0; i < 3; i++) {
    const paymentToken = await tokenize();
    const buyer = await must('/buyers', operator, { name: `Card buyer ${i}`, currency: 'USD', paymentToken });
    const ruleSet = await must('/rule-sets', buyer.apiKey, { rules: {} });
    buyers.push({ id: buyer.id, paymentToken, ruleSetToken: ruleSet.token });
  }
  const payments = buyers.flatMap((b, i) => sellers.map((seller, k) =>
    ({ clientId: `c${i}-${k}`, buyerToken: b.ruleSetToken, sellerId: seller.id, itemId: 'article', currency: 'USD' })));
  expect((await must('/micropayments/batch', operator, { payments })).recorded).toBe(payments.length);
  const close = await must('/settlement-periods/close', operator, { graceSeconds: 0 }, undefined, [202]);
  const closeTemporal = await temporalClient();
  try {
    const result = await closeTemporal.client.workflow.getHandle(close.workflowId).result() as SettlementPeriodResult;
    expect(result.kind).toBe('closed');
  } finally {
    await closeTemporal.close();
  }
  const invoices: Array<{ state: string }> = await db.db('invoices').where({ period_seq: 1 });
  expect(invoices.map((i) => i.state)).toEqual(buyers.map(() => 'paid'));

  return { orderId, orderToken, buyerTokens: buyers.map((b) => b.paymentToken), buyerIds: buyers.map((b) => b.id), closeWorkflowId: close.workflowId };
}
