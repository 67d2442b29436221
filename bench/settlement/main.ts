// npm run bench:settlement — the close of a settlement period holding BENCH_PAYMENTS micro-payments of BENCH_BUYERS
// buyers to BENCH_SELLERS sellers, end to end through the real worker process (with the API and the simulator as
// `npm start` runs them): POST /v1/settlement-periods/close {graceSeconds: 0} → the settlementPeriodWorkflow's
// result. Target: < 10 s wall. Reported from the workflow's history (exact event times): aggregation
// (freezePeriod + aggregatePeriod), invoicing/charging (the chargeInvoices files), crediting (the creditSellers
// files) and close (closePeriod), each activity's queue and run time, and the workflow's own overhead between them.
//
// The ceiling it is compared with, measured in the same run on the same PostgreSQL: one GROUP BY scan of the
// period's payments per buyer and per seller (the least work any close must do: read every payment once per
// side), timed from this process. It is informative; the target is the absolute 10 s.
//
// Setup (untimed): one buyer (a card token from the simulator for 4242424242424242, POST /v1/buyers, a rule set)
// and one seller (POST /v1/sellers, three items) through the API; the other buyers and sellers are copies of those
// rows made in SQL, table by table (principals, api_keys, buyers, buyer-receivable accounts, rule_sets; principals,
// api_keys, merchants, sellers, seller-payable accounts, items), each buyer with its own card token from the
// simulator's tokenize. The API's idempotency records of the two template POSTs are not copied. The payments are
// loaded with one INSERT … SELECT generate_series into the open period (sp_1) as the API writes them, then
// VACUUM ANALYZE and CHECKPOINT (what autovacuum does to a day of recorded payments; BENCH_VACUUM=0 skips them).
//
// Then checks that every buyer has one paid invoice and every seller one paid credit with the amounts computed here
// independently, that the invoices add up to the period's payments, that the processor got one charge line per
// buyer and one payout line per seller, that every buyer-receivable and seller-payable balance is back to zero
// and that the ledger's trial balance is zero. Exits non-zero on an error or a failed check, not on a missed
// target. PostgreSQL and Temporal are those of the tests (startScratchStack): non-durable fast settings.
//
// Other knobs: BENCH_SAMPLE_MS (sample pg_stat_activity this often during the close, to show which statements the
// time goes to; 0 turns it off), BENCH_EXPLAIN_MS=n (diagnosis, off by default: auto_explain with ANALYZE and
// BUFFERS for the close's statements slower than n ms, printed after the report; the instrumentation slows the
// close, so its wall time is then not the benchmark's figure), BENCH_SETUP_CONCURRENCY (card tokens made at once),
// BENCH_TIMEOUT_SECONDS.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { tsToMs } from '@temporalio/common/lib/time';
import pg from 'pg';
import { newRuleSetId, newRuleSetToken } from '../../stores/parties';
import { microFee } from '../../domain/micropayments';
import { clusterLogFile } from '../../scripts/postgres';
import { HttpProcessorClient } from '../../processors/http-client';
import { newApiKey, newPrincipalId, sha256 } from '../../stores/principals';
import type { Db } from '../../ledger/db';
import type { SettlementPeriodResult } from '../../workflows/settlementPeriod.contract';
import { describeCpu, otherCpuPercent } from '../support/cpu';
import { intEnv } from '../support/env';
import { JsonClient } from '../support/http';
import { BENCH_ITEMS as ITEMS, createBuyer, createSeller, feeBpsOf, startMicroRun, tokenizeCard } from '../support/micro';
import { benchMain, type BenchStack } from '../support/stack';
import { codeVersion } from '../support/version';
import { closedLoop, ms } from '../support/stats';
import { machineLine, met, printOutputTail, RULE, runTimeLines, trialBalanceCheck } from '../support/report';

// --- settings ----------------------------------------------------------------------------------------------

const S = {
  payments: intEnv('BENCH_PAYMENTS', 1_000_000, 1, 100_000_000),
  buyers: intEnv('BENCH_BUYERS', 10_000, 1, 1_000_000),
  sellers: intEnv('BENCH_SELLERS', 1_000, 1, 100_000),
  sampleMs: intEnv('BENCH_SAMPLE_MS', 50, 0, 10_000),
  explainMs: intEnv('BENCH_EXPLAIN_MS', 0, 0, 3_600_000),
  setupConcurrency: intEnv('BENCH_SETUP_CONCURRENCY', 16, 1, 256),
  timeoutSeconds: intEnv('BENCH_TIMEOUT_SECONDS', 900, 10, 86_400),
  vacuum: process.env.BENCH_VACUUM !== '0',
};
if (S.payments < Math.max(S.buyers, S.sellers)) {
  throw new Error(`BENCH_PAYMENTS (${S.payments}) must be at least BENCH_BUYERS (${S.buyers}) and BENCH_SELLERS (${S.sellers}): every party pays or sells`);
}

const TARGET_WALL_MS = 10_000;
/** Rows per INSERT while loading the payments (one transaction), so the log shows progress. */
const LOAD_CHUNK = 250_000;

/** Payment g (0-based): buyer g mod B buys item g mod I of this seller. Every seller sells when PAYMENTS ≥ SELLERS. */
const sellerOf = (g: number) => (g + Math.floor(g / S.buyers)) % S.sellers;

/** Which phase of the close an activity belongs to (by activity type); others are shown under their own name. */
const PHASE_OF: Record<string, string> = {
  freezePeriod: 'aggregation', aggregatePeriod: 'aggregation', chargeInvoices: 'charging', creditSellers: 'crediting', closePeriod: 'close',
};
const PHASE_LABEL: Record<string, string> = {
  aggregation: 'aggregation (freeze + aggregate)', charging: 'invoicing/charging (charge files)', crediting: 'crediting (payout files)',
  close: 'close',
};

const log = (msg: string) => console.log(`[bench] ${msg}`);

// --- setup: parties copied from an API-made template, payments loaded in SQL -----------------------------------

const apiKeyRow = (principalId: string) => {
  const { keyId, apiKey } = newApiKey();
  return { keyId, principalId, sha256Hex: sha256(apiKey).toString('hex') };
};

/**
 * Copies the template's rows of `table` (those whose `keyColumn` is `templateKey`) once per element of the arrays
 * in `vars`, every column as the template has it except those in `set` (SQL over the unnested `u.<var>` columns).
 * Returns the rows written; fails unless each copy wrote as many rows as the template has.
 */
async function copyRows(trx: Db, table: string, keyColumn: string, templateKey: string,
  vars: Record<string, { type: string; values: string[] | number[] }>, set: Record<string, string>): Promise<number> {
  const { rows: cols } = await trx.raw(`SELECT column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, [table]) as { rows: Array<{ column_name: string }> };
  const names = Object.keys(vars);
  const columns = cols.map((c) => c.column_name);
  for (const c of Object.keys(set)) if (!columns.includes(c)) throw new Error(`copyRows: ${table} has no column ${c}`);
  const { rowCount } = await trx.raw(`
    INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')})
    SELECT ${columns.map((c) => set[c] ?? `t."${c}"`).join(', ')}
    FROM ${table} t, unnest(${names.map((n) => `?::${vars[n].type}[]`).join(', ')}) AS u (${names.join(', ')})
    WHERE t."${keyColumn}" = ?`, [...names.map((n) => vars[n].values), templateKey]) as { rowCount: number };
  const { rows: [{ n }] } = await trx.raw(`SELECT count(*)::int AS n FROM ${table} WHERE "${keyColumn}" = ?`, [templateKey]);
  const copies = vars[names[0]].values.length;
  if (n === 0 || rowCount !== n * copies) throw new Error(`copyRows: ${table} wrote ${rowCount} rows for ${copies} copies of ${n} template row(s)`);
  return rowCount;
}

interface Parties { buyerIds: string[]; ruleSetIds: string[]; sellerIds: string[] }

async function makeParties(b: BenchStack, api: JsonClient, operatorKey: string, runTag: string): Promise<{ parties: Parties; timings: string }> {
  const t0 = performance.now();
  log('setup: template buyer and seller over the API ...');
  const sim = new HttpProcessorClient({ baseUrl: b.simulatorUrl });
  const buyer0 = await createBuyer(api, operatorKey, await tokenizeCard(sim, `bench-tok-${runTag}-0`), `${runTag}-0`);
  const seller0 = await createSeller(api, operatorKey, `${runTag}-0`, feeBpsOf(0), ITEMS);
  const t1 = performance.now();

  log(`setup: ${S.buyers - 1} more card tokens at the simulator (4242424242424242), ${S.setupConcurrency} at once ...`);
  const cards: string[] = new Array(S.buyers - 1);
  await closedLoop(S.buyers - 1, S.setupConcurrency, async (i) => {
    cards[i] = await tokenizeCard(sim, `bench-tok-${runTag}-${i + 1}`);
  });
  const t2 = performance.now();

  log(`setup: copying the template buyer ${S.buyers - 1} times and the template seller ${S.sellers - 1} times in SQL ...`);
  const buyerIds = Array.from({ length: S.buyers - 1 }, () => newPrincipalId('buyer'));
  const sellerIds = Array.from({ length: S.sellers - 1 }, () => newPrincipalId('merchant'));
  const ruleSetIds = buyerIds.map(() => newRuleSetId());
  const tokenHashes = buyerIds.map(() => sha256(newRuleSetToken()).toString('hex'));
  const buyerKeys = buyerIds.map(apiKeyRow);
  const sellerKeys = sellerIds.map(apiKeyRow);
  const rowsWritten: Record<string, number> = {};
  const count = (what: string, n: number) => { rowsWritten[what] = (rowsWritten[what] ?? 0) + n; };
  await b.db.transaction(async (trx) => {
    const text = (values: string[]) => ({ type: 'text', values });
    if (buyerIds.length > 0) {
      const ids = text(buyerIds);
      count('principals', await copyRows(trx, 'principals', 'id', buyer0.id, { id: ids, n: { type: 'integer', values: buyerIds.map((_, i) => i + 1) } },
        { id: 'u.id', name: `'Bench buyer ${runTag}-' || u.n`, created_at: 'now()' }));
      count('api_keys', await copyRows(trx, 'api_keys', 'principal_id', buyer0.id,
        { key_id: text(buyerKeys.map((k) => k.keyId)), principal_id: text(buyerIds), secret: text(buyerKeys.map((k) => k.sha256Hex)) },
        { id: 'u.key_id', principal_id: 'u.principal_id', secret_sha256: "decode(u.secret, 'hex')", secret_last4: 'NULL', last_used_at: 'NULL',
          created_at: 'now()' }));
      count('buyers', await copyRows(trx, 'buyers', 'id', buyer0.id, { id: ids, card: text(cards) },
        { id: 'u.id', payment_token: 'u.card', created_at: 'now()' }));
      count('accounts', await copyRows(trx, 'accounts', 'id', `buyer-receivable:${buyer0.id}:USD`, { owner: ids },
        { id: "'buyer-receivable:' || u.owner || ':USD'", owner_id: 'u.owner', created_at: 'now()' }));
      count('rule_sets', await copyRows(trx, 'rule_sets', 'owner_id', buyer0.id,
        { rs: text(ruleSetIds), owner: ids, token: text(tokenHashes) },
        { id: 'u.rs', owner_id: 'u.owner', token_sha256: "decode(u.token, 'hex')", created_at: 'now()' }));
    }
    if (sellerIds.length > 0) {
      const ids = text(sellerIds);
      const n = { type: 'integer', values: sellerIds.map((_, i) => i + 1) };
      const fee = { type: 'integer', values: sellerIds.map((_, i) => feeBpsOf(i + 1)) };
      count('principals', await copyRows(trx, 'principals', 'id', seller0.id, { id: ids, n },
        { id: 'u.id', name: `'Bench seller ${runTag}-' || u.n`, created_at: 'now()' }));
      count('api_keys', await copyRows(trx, 'api_keys', 'principal_id', seller0.id,
        { key_id: text(sellerKeys.map((k) => k.keyId)), principal_id: ids, secret: text(sellerKeys.map((k) => k.sha256Hex)) },
        { id: 'u.key_id', principal_id: 'u.principal_id', secret_sha256: "decode(u.secret, 'hex')", secret_last4: 'NULL', last_used_at: 'NULL',
          created_at: 'now()' }));
      // (POST /v1/sellers gives the merchant row the seller's fee rate too)
      count('merchants', await copyRows(trx, 'merchants', 'id', seller0.id, { id: ids, n, fee },
        { id: 'u.id', name: `'Bench seller ${runTag}-' || u.n`, fee_bps: 'u.fee', created_at: 'now()' }));
      count('sellers', await copyRows(trx, 'sellers', 'id', seller0.id,
        { id: ids, n, fee },
        { id: 'u.id', payout_destination: `'acct_bench_${runTag}_' || u.n`, fee_bps: 'u.fee', created_at: 'now()' }));
      count('accounts', await copyRows(trx, 'accounts', 'id', `seller-payable:${seller0.id}:USD`, { owner: ids },
        { id: "'seller-payable:' || u.owner || ':USD'", owner_id: 'u.owner', created_at: 'now()' }));
      count('items', await copyRows(trx, 'items', 'seller_id', seller0.id, { seller: ids },
        { seller_id: 'u.seller', updated_at: 'now()' }));
    }
  });
  const t3 = performance.now();
  return {
    parties: { buyerIds: [buyer0.id, ...buyerIds], ruleSetIds: [buyer0.ruleSetId, ...ruleSetIds], sellerIds: [seller0.id, ...sellerIds] },
    timings: `template over the API ${((t1 - t0) / 1000).toFixed(1)} s, ${S.buyers - 1} card tokens ${((t2 - t1) / 1000).toFixed(1)} s, `
      + `copies ${((t3 - t2) / 1000).toFixed(1)} s (${Object.entries(rowsWritten).map(([k, v]) => `${k} ${v}`).join(', ')})`,
  };
}

/** The payments of the period, written as the API writes them (ledger/micropayments.ts recordPayments' columns). */
async function loadPayments(db: Db, p: Parties, seq: number, runTag: string): Promise<void> {
  await db.transaction(async (trx) => {
    await trx.raw(`CREATE TEMP TABLE bench_buyers (n integer PRIMARY KEY, id text NOT NULL, rule_set_id text NOT NULL) ON COMMIT DROP;
      CREATE TEMP TABLE bench_sellers (n integer PRIMARY KEY, id text NOT NULL, fee_bps integer NOT NULL) ON COMMIT DROP;
      CREATE TEMP TABLE bench_items (n integer PRIMARY KEY, id text NOT NULL, price_minor bigint NOT NULL, grant_seconds integer NOT NULL) ON COMMIT DROP`);
    await trx.raw('INSERT INTO bench_buyers SELECT * FROM unnest(?::integer[], ?::text[], ?::text[])',
      [p.buyerIds.map((_, i) => i), p.buyerIds, p.ruleSetIds]);
    // the fee rate as the sellers table has it (the API's, for the template)
    await trx.raw(`INSERT INTO bench_sellers SELECT u.n, u.id, s.fee_bps FROM unnest(?::integer[], ?::text[]) AS u (n, id)
      JOIN sellers s ON s.id = u.id`, [p.sellerIds.map((_, i) => i), p.sellerIds]);
    await trx.raw('INSERT INTO bench_items SELECT * FROM unnest(?::integer[], ?::text[], ?::bigint[], ?::integer[])',
      [ITEMS.map((_, i) => i), ITEMS.map((i) => i.id), ITEMS.map((i) => i.priceMinor), ITEMS.map((i) => i.grantSeconds)]);
    for (let from = 0; from < S.payments; from += LOAD_CHUNK) {
      const to = Math.min(S.payments, from + LOAD_CHUNK) - 1;
      await trx.raw(`
        INSERT INTO micro_payments (period_seq, buyer_id, seller_id, item_id, client_id, rule_set_id, currency, amount_minor, fee_minor, grant_seconds)
        SELECT :seq, b.id, s.id, i.id, :tag || g, b.rule_set_id, 'USD', i.price_minor,
          least(i.price_minor, (i.price_minor * s.fee_bps + 5000) / 10000), i.grant_seconds
        FROM generate_series(:from::bigint, :to::bigint) AS g
          JOIN bench_buyers b ON b.n = g % :buyers
          JOIN bench_sellers s ON s.n = (g + g / :buyers) % :sellers
          JOIN bench_items i ON i.n = g % :items
        ORDER BY g`, { seq, tag: `load-${runTag}-`, from, to, buyers: S.buyers, sellers: S.sellers, items: ITEMS.length });
      log(`  ${to + 1} of ${S.payments} payments loaded`);
    }
  });
}

/** What the close must produce, computed here from the load's formula (not from the database). */
function expectedBooks(p: Parties) {
  const buyers = p.buyerIds.map(() => ({ n: 0, gross: 0 }));
  const sellers = p.sellerIds.map(() => ({ n: 0, sales: 0, fee: 0 }));
  let gross = 0;
  for (let g = 0; g < S.payments; g++) {
    const price = ITEMS[g % ITEMS.length].priceMinor;
    const b = buyers[g % S.buyers];
    b.n++; b.gross += price;
    const k = sellerOf(g);
    const s = sellers[k];
    s.n++; s.sales += price; s.fee += microFee(price, feeBpsOf(k));
    gross += price;
  }
  return { buyers, sellers, gross };
}

// --- the close, read from the workflow's history ----------------------------------------------------------------

interface ActivityRun { type: string; scheduled: number; started: number; completed: number; attempt: number; outcome: string }
interface CloseHistory { runs: number; started: number; completed: number; activities: ActivityRun[]; workflowTasks: number; workflowTaskMs: number }

async function readHistory(b: BenchStack, workflowId: string): Promise<CloseHistory> {
  // the latest run first; each run's start names the run it continued from
  const histories = [];
  let runId: string | undefined;
  for (;;) {
    const h = await b.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    histories.unshift(h);
    const prev = h.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!prev) break;
    runId = prev;
  }
  const out: CloseHistory = { runs: histories.length, started: 0, completed: 0, activities: [], workflowTasks: 0, workflowTaskMs: 0 };
  for (const h of histories) {
    const byScheduledId = new Map<number, ActivityRun>();
    let wfTaskStarted = 0;
    for (const e of h.events ?? []) {
      const t = tsToMs(e.eventTime);
      if (e.workflowExecutionStartedEventAttributes && out.started === 0) out.started = t;
      if (e.workflowExecutionCompletedEventAttributes) out.completed = t;
      if (e.workflowTaskStartedEventAttributes) wfTaskStarted = t;
      if (e.workflowTaskCompletedEventAttributes) { out.workflowTasks++; out.workflowTaskMs += t - wfTaskStarted; }
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched) {
        const a: ActivityRun = { type: sched.activityType?.name ?? '?', scheduled: t, started: NaN, completed: NaN, attempt: 0, outcome: 'open' };
        byScheduledId.set(Number(e.eventId), a);
        out.activities.push(a);
      }
      const st = e.activityTaskStartedEventAttributes;
      if (st) { const a = byScheduledId.get(Number(st.scheduledEventId))!; a.started = t; a.attempt = st.attempt ?? 1; }
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (done) {
        const a = byScheduledId.get(Number(done.scheduledEventId))!;
        a.completed = t;
        a.outcome = e.activityTaskCompletedEventAttributes ? 'completed' : e.activityTaskFailedEventAttributes ? 'failed' : 'timed out';
      }
    }
  }
  return out;
}

/** Samples what PostgreSQL is running (active statements of other sessions), to see where the close's time goes. */
class StatementSampler {
  private readonly client: pg.Client;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failure: Error | undefined;
  private stopping: Promise<void> | undefined;
  readonly counts = new Map<string, { samples: number; app: string; waits: Map<string, number> }>();
  samples = 0;

  constructor(url: string, private readonly everyMs: number) {
    this.client = new pg.Client({ connectionString: url, application_name: 'paybroker-bench-sampler' });
  }

  async start(): Promise<void> {
    if (this.everyMs === 0) return;
    await this.client.connect();
    this.timer = setInterval(() => {
      this.inFlight ??= this.sample().catch((err: Error) => { this.failure ??= err; }).finally(() => { this.inFlight = undefined; });
    }, this.everyMs);
  }

  private async sample(): Promise<void> {
    const { rows } = await this.client.query(`SELECT application_name AS app, coalesce(wait_event_type || ':' || wait_event, 'cpu') AS wait, query
      FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()`);
    this.samples++;
    for (const r of rows as Array<{ app: string; wait: string; query: string }>) {
      const q = r.query.replace(/\s+/g, ' ').trim().slice(0, 150);
      const c = this.counts.get(q) ?? { samples: 0, app: r.app, waits: new Map() };
      c.samples++;
      c.waits.set(r.wait, (c.waits.get(r.wait) ?? 0) + 1);
      this.counts.set(q, c);
    }
  }

  /** Stops sampling (after the sample in flight); a failed sample fails the run here. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      await this.inFlight;
      if (this.timer) await this.client.end();
      if (this.failure) throw new Error(`sampling pg_stat_activity failed: ${this.failure.message}`);
    })();
    return this.stopping;
  }
}

async function run(b: BenchStack): Promise<boolean> {
  const { started, runTag, api, operatorKey } = await startMicroRun(b, S.setupConcurrency);
  const operator = { authorization: `Bearer ${operatorKey}` };

  // --- setup (untimed) ---------------------------------------------------------------------------------------------
  const seq = await b.stores.periods.openSeq();
  const { parties, timings: partyTimings } = await makeParties(b, api, operatorKey, runTag);
  log(`setup: loading ${S.payments} payments into sp_${seq} (INSERT … SELECT generate_series) ...`);
  const tLoad = performance.now();
  await loadPayments(b.db, parties, seq, runTag);
  const loadMs = performance.now() - tLoad;
  let vacuumMs = 0;
  if (S.vacuum) {
    log('setup: VACUUM ANALYZE, CHECKPOINT ...');
    const t = performance.now();
    await b.db.raw('VACUUM (ANALYZE) micro_payments, buyers, sellers, items, rule_sets, accounts, principals, merchants, api_keys');
    await b.db.raw('CHECKPOINT');
    vacuumMs = performance.now() - t;
  }
  const expected = expectedBooks(parties);
  const idle = [...expected.buyers.entries()].filter(([, x]) => x.n === 0).length + [...expected.sellers.entries()].filter(([, x]) => x.n === 0).length;
  if (idle > 0) throw new Error(`${idle} parties have no payment: the load's formula does not cover them`);
  const { rows: [loaded] } = await b.db.raw('SELECT count(*)::int AS n, sum(amount_minor)::bigint AS gross FROM micro_payments WHERE period_seq = ?', [seq]);
  if (loaded.n !== S.payments || Number(loaded.gross) !== expected.gross) {
    throw new Error(`sp_${seq} holds ${loaded.n} payments of ${loaded.gross}, expected ${S.payments} of ${expected.gross}`);
  }
  const { rows: [size] } = await b.db.raw(`SELECT pg_size_pretty(pg_total_relation_size('micro_payments')) AS total,
    pg_size_pretty(pg_relation_size('micro_payments')) AS heap`);

  // --- ceiling: one scan of the period's payments per side (the least any close must read) --------------------------
  log('ceiling: GROUP BY buyer and GROUP BY seller over the period, from this process ...');
  const ceilingClient = new pg.Client({ connectionString: b.test.databaseUrl, application_name: 'paybroker-bench-ceiling' });
  await ceilingClient.connect();
  const scan = async () => {
    const t = performance.now();
    const x = await ceilingClient.query('SELECT buyer_id, count(*), sum(amount_minor) FROM micro_payments WHERE period_seq = $1 GROUP BY buyer_id', [seq]);
    const y = await ceilingClient.query('SELECT seller_id, count(*), sum(amount_minor), sum(fee_minor) FROM micro_payments WHERE period_seq = $1 GROUP BY seller_id', [seq]);
    if (x.rowCount !== S.buyers || y.rowCount !== S.sellers) throw new Error(`ceiling scan: ${x.rowCount} buyers, ${y.rowCount} sellers`);
    return performance.now() - t;
  };
  await scan(); // warm: the table in shared buffers / the OS cache, as for the close
  const ceilingMs = Math.min(await scan(), await scan());
  await ceilingClient.end();

  // --- diagnosis (BENCH_EXPLAIN_MS): plans of the close's slow statements, for sessions opened from now on ---------
  const pgLog = clusterLogFile(join(b.test.dir, 'postgres'));
  let pgLogFrom = 0;
  let sessionsBefore = 0;
  if (S.explainMs > 0) {
    const admin = new pg.Client({ connectionString: b.test.databaseUrl, application_name: 'paybroker-bench-admin' });
    await admin.connect();
    await admin.query("LOAD 'auto_explain'"); // so that ALTER SYSTEM knows its settings
    for (const [k, v] of [['session_preload_libraries', 'auto_explain'], ['auto_explain.log_min_duration', `${S.explainMs}ms`],
      ['auto_explain.log_analyze', 'on'], ['auto_explain.log_buffers', 'on'], ['auto_explain.log_triggers', 'on'], ['auto_explain.log_nested_statements', 'on']]) {
      await admin.query(`ALTER SYSTEM SET ${k} = '${v}'`);
    }
    await admin.query('SELECT pg_reload_conf()');
    await admin.end();
    pgLogFrom = existsSync(pgLog) ? statSync(pgLog).size : 0;
    const { rows: [x] } = await b.db.raw("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name IN ('paybroker-worker', 'processor-simulator')");
    sessionsBefore = x.n;
  }

  // --- the close (timed) -----------------------------------------------------------------------------------------
  const sampler = new StatementSampler(b.test.databaseUrl, S.sampleMs);
  await sampler.start();
  b.onStop('statement sampler', () => sampler.stop().catch(() => {}));
  log(`closing sp_${seq}: POST /v1/settlement-periods/close {graceSeconds: 0} → the workflow's result ...`);
  const loadBefore = loadavg()[0];
  const cpu0 = b.cpu.sample();
  const epoch0 = Date.now();
  const t0 = performance.now();
  const close = await api.post('/settlement-periods/close', { graceSeconds: 0 }, operator);
  const tAccepted = performance.now();
  if (close.status !== 202 || !close.body?.workflowId) throw new Error(`POST /v1/settlement-periods/close: ${close.status} ${JSON.stringify(close.body)}`);
  const workflowId = close.body.workflowId as string;
  const result = await Promise.race([
    b.temporal.workflow.getHandle(workflowId).result() as Promise<SettlementPeriodResult>,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the close did not finish within ${S.timeoutSeconds} s`)), S.timeoutSeconds * 1000).unref()),
  ]);
  const wallMs = performance.now() - t0;
  const cpu1 = b.cpu.sample();
  await sampler.stop();
  if (result.kind !== 'closed') throw new Error(`the close returned ${JSON.stringify(result)}`);

  const crashed = b.crashed();
  if (crashed) throw new Error(`${crashed.name} exited during the run:\n${crashed.output()}`);

  const h = await readHistory(b, workflowId);

  // --- correctness ---------------------------------------------------------------------------------------------------
  log('verifying invoices, credits, the processor\'s files and the ledger ...');
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => { if (!ok) problems.push(what); };
  const buyerIndex = new Map(parties.buyerIds.map((id, i) => [id, i]));
  const sellerIndex = new Map(parties.sellerIds.map((id, i) => [id, i]));
  const invoices: Array<Record<string, any>> = await b.db('invoices').where({ period_seq: seq })
    .select('buyer_id', 'payment_count', 'gross_minor', 'refunded_minor', 'amount_minor', 'state', 'attempts');
  const badInvoices = invoices.filter((r) => {
    const x = expected.buyers[buyerIndex.get(r.buyer_id) ?? -1];
    return !x || r.payment_count !== x.n || Number(r.gross_minor) !== x.gross || Number(r.amount_minor) !== x.gross || r.state !== 'paid';
  });
  check(invoices.length === S.buyers, `${invoices.length} invoices for ${S.buyers} buyers`);
  check(new Set(invoices.map((r) => r.buyer_id)).size === invoices.length, 'a buyer has two invoices');
  check(badInvoices.length === 0, `${badInvoices.length} invoices differ from the payments or are not paid, e.g. ${JSON.stringify(badInvoices[0])}`);
  const invoiced = invoices.reduce((s, r) => s + Number(r.amount_minor), 0);
  const { rows: [paid] } = await b.db.raw('SELECT sum(amount_minor)::bigint AS gross FROM micro_payments WHERE period_seq = ?', [seq]);
  check(invoiced === Number(paid.gross) && invoiced === expected.gross,
    `invoices total ${invoiced}, the period's payments ${paid.gross}, computed here ${expected.gross}`);
  const credits: Array<Record<string, any>> = await b.db('seller_credits').where({ period_seq: seq })
    .select('seller_id', 'payment_count', 'sales_minor', 'fee_minor', 'refunded_minor', 'card_minor', 'amount_minor', 'state');
  const badCredits = credits.filter((r) => {
    const x = expected.sellers[sellerIndex.get(r.seller_id) ?? -1];
    return !x || r.payment_count !== x.n || Number(r.sales_minor) !== x.sales || Number(r.fee_minor) !== x.fee
      || Number(r.amount_minor) !== x.sales - x.fee || r.state !== 'paid';
  });
  check(credits.length === S.sellers, `${credits.length} credits for ${S.sellers} sellers`);
  check(badCredits.length === 0, `${badCredits.length} credits differ from the payments or are not paid, e.g. ${JSON.stringify(badCredits[0])}`);
  const credited = credits.reduce((s, r) => s + Number(r.amount_minor), 0);
  const fees = expected.sellers.reduce((s, x) => s + x.fee, 0);
  check(credited === expected.gross - fees, `credits total ${credited}, expected ${expected.gross - fees}`);
  const { rows: [files] } = await b.db.raw(`SELECT
      (SELECT count(*)::int FROM processor_sim.charges WHERE reference LIKE :inv) AS charges,
      (SELECT count(DISTINCT reference)::int FROM processor_sim.charges WHERE reference LIKE :inv) AS charged_invoices,
      (SELECT coalesce(sum(amount_minor), 0)::bigint FROM processor_sim.charges WHERE reference LIKE :inv AND status = 'succeeded') AS charged,
      (SELECT count(*)::int FROM processor_sim.batch_payouts WHERE reference LIKE :cred) AS payouts,
      (SELECT coalesce(sum(amount_minor), 0)::bigint FROM processor_sim.batch_payouts WHERE reference LIKE :cred AND status = 'paid') AS paid_out`,
  { inv: `invoice:sp_${seq}:%`, cred: `credit:sp_${seq}:%` });
  check(files.charges === S.buyers && files.charged_invoices === S.buyers && Number(files.charged) === expected.gross,
    `the processor got ${files.charges} charge lines for ${files.charged_invoices} invoices, ${files.charged} charged; expected ${S.buyers} and ${expected.gross}`);
  check(files.payouts === S.sellers && Number(files.paid_out) === expected.gross - fees,
    `the processor got ${files.payouts} payout lines paying ${files.paid_out}; expected ${S.sellers} and ${expected.gross - fees}`);
  const { rows: [period] } = await b.db.raw('SELECT state, (SELECT seq FROM settlement_periods WHERE state = \'open\') AS open_seq FROM settlement_periods WHERE seq = ?', [seq]);
  check(period.state === 'closed' && period.open_seq === seq + 1, `sp_${seq} is ${period.state}, the open period is sp_${period.open_seq}`);
  const { rows: [owed] } = await b.db.raw(`SELECT
      coalesce(sum(amount_minor) FILTER (WHERE account_id LIKE 'buyer-receivable:%'), 0)::bigint AS receivable,
      coalesce(sum(amount_minor) FILTER (WHERE account_id LIKE 'seller-payable:%'), 0)::bigint AS payable
    FROM ledger_postings WHERE account_id = ANY(?::text[])`,
  [[...parties.buyerIds.map((id) => `buyer-receivable:${id}:USD`), ...parties.sellerIds.map((id) => `seller-payable:${id}:USD`)]]);
  check(Number(owed.receivable) === 0 && Number(owed.payable) === 0,
    `after the close buyers still owe ${owed.receivable} and sellers are owed ${-Number(owed.payable)} (the ledger)`);
  const trial = await trialBalanceCheck(b.db);
  check(trial.ok, `trial balance ${trial.text}`);

  // --- report --------------------------------------------------------------------------------------------------
  const acts = h.activities;
  const phaseOf = (a: ActivityRun) => PHASE_OF[a.type] ?? a.type;
  const phases = [...new Set(acts.map(phaseOf))].map((phase) => {
    const as = acts.filter((a) => phaseOf(a) === phase);
    const from = Math.min(...as.map((a) => a.scheduled));
    const to = Math.max(...as.map((a) => a.completed));
    return { phase, as, from, to, runMs: as.reduce((s, a) => s + (a.completed - a.started), 0), queueMs: as.reduce((s, a) => s + (a.started - a.scheduled), 0) };
  });
  const rel = (t: number) => `${((t - epoch0) / 1000).toFixed(2)} s`;
  const activityMs = acts.reduce((s, a) => s + (a.completed - a.started), 0);
  const lastDone = Math.max(...acts.map((a) => a.completed));
  const firstScheduled = Math.min(...acts.map((a) => a.scheduled));
  const typeLines = [...new Set(acts.map((a) => a.type))].map((type) => {
    const as = acts.filter((a) => a.type === type);
    const runs = as.map((a) => a.completed - a.started);
    const retried = as.filter((a) => a.attempt > 1).length;
    return `${type.padEnd(16)} ×${as.length}: run ${runs.map((r) => ms(r)).join(' + ')}${retried ? ` (${retried} retried: attempt ${Math.max(...as.map((a) => a.attempt))})` : ''}`
      + `${as.some((a) => a.outcome !== 'completed') ? ` [${as.map((a) => a.outcome).join(', ')}]` : ''}`;
  });
  const topStatements = [...sampler.counts.entries()].sort((x, y) => y[1].samples - x[1].samples).slice(0, 8);
  const others = otherCpuPercent(cpu0, cpu1, wallMs);
  console.log(`
${RULE}
Paybroker settlement period close benchmark
  machine     ${machineLine()}; load average before the close: ${loadBefore.toFixed(2)}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off; otherwise default settings) and the
              Temporal dev server of the tests: NON-DURABLE fast settings, so the figures are upper bounds. API, worker
              (workers/main.ts, pool of 20) and simulator are separate processes as \`npm start\` runs them.
  code        ${codeVersion()}
  settings    BENCH_PAYMENTS=${S.payments} BENCH_BUYERS=${S.buyers} BENCH_SELLERS=${S.sellers} BENCH_SAMPLE_MS=${S.sampleMs} BENCH_VACUUM=${S.vacuum ? 1 : 0}
  period      sp_${seq}: ${S.payments} payments (${(expected.gross / 100).toFixed(2)} USD; items ${ITEMS.map((i) => i.priceMinor).join('/')} minor units, fees 5-14%)
              of ${S.buyers} buyers to ${S.sellers} sellers; micro_payments ${size.total} (heap ${size.heap})
  setup       ${partyTimings};
              payments loaded in ${(loadMs / 1000).toFixed(1)} s${S.vacuum ? `, VACUUM ANALYZE + CHECKPOINT ${(vacuumMs / 1000).toFixed(1)} s` : ' (no VACUUM/ANALYZE)'} (all untimed)

ceiling       one GROUP BY buyer and one GROUP BY seller over the period's payments from this process (warm): ${ms(ceilingMs)}

close         POST /v1/settlement-periods/close → result: ${(wallMs / 1000).toFixed(2)} s wall (202 after ${ms(tAccepted - t0)}); ${h.runs} run(s),
              ${acts.length} activities, ${h.workflowTasks} workflow tasks (${ms(h.workflowTaskMs)} in them)
  phases      (from the history; times after the POST was sent)
${phases.map((p) => `    ${(PHASE_LABEL[p.phase] ?? p.phase).padEnd(36)} ${ms(p.to - p.from).padStart(10)}   ${rel(p.from)} → ${rel(p.to)}   activities run ${ms(p.runMs)}, queued ${ms(p.queueMs)}`).join('\n')}
    before the first activity            ${ms(firstScheduled - epoch0).padStart(10)}   (POST, workflow start ${rel(h.started)}, first workflow task)
    after the last activity              ${ms(wallMs - (lastDone - epoch0)).padStart(10)}   (workflow completed ${rel(h.completed)}, result seen ${rel(epoch0 + wallMs)})
    between activities (workflow)        ${ms(lastDone - firstScheduled - phases.reduce((s, p) => s + (p.to - p.from), 0)).padStart(10)}
  activities  ${typeLines.join('\n              ')}
              sum of run times ${ms(activityMs)} = ${((activityMs / wallMs) * 100).toFixed(0)}% of the wall time
  cpu         ${describeCpu(cpu0, cpu1, wallMs)}
  postgres    ${S.sampleMs === 0 ? 'not sampled (BENCH_SAMPLE_MS=0)' : `active statements, ${sampler.samples} samples of pg_stat_activity every ${S.sampleMs} ms (≈ time = samples × ${S.sampleMs} ms):`}
${topStatements.map(([q, c]) => `    ${String(c.samples).padStart(5)} ≈ ${ms(c.samples * S.sampleMs).padStart(10)}  [${c.app}; ${[...c.waits].map(([w, n]) => `${w} ${n}`).join(', ')}]\n           ${q}`).join('\n')}

target
  close < ${TARGET_WALL_MS / 1000} s wall                                     ${(wallMs / 1000).toFixed(2)} s   ${met(wallMs < TARGET_WALL_MS)}   (${(wallMs / ceilingMs).toFixed(1)}× the ceiling scan)

correctness
  invoices    ${invoices.length} for ${S.buyers} buyers, ${invoices.filter((r) => r.state === 'paid').length} paid, ${badInvoices.length} not as computed here; total ${(invoiced / 100).toFixed(2)} USD = payments ${(Number(paid.gross) / 100).toFixed(2)} USD
  credits     ${credits.length} for ${S.sellers} sellers, ${credits.filter((r) => r.state === 'paid').length} paid, ${badCredits.length} not as computed here; total ${(credited / 100).toFixed(2)} USD (fees ${(fees / 100).toFixed(2)} USD)
  processor   ${files.charges} charge lines (${files.charged_invoices} invoices), ${files.payouts} payout lines
  ledger      buyers owe ${owed.receivable}, sellers are owed ${-Number(owed.payable)}; trial balance ${trial.text}
  result      ${problems.length ? `${problems.length} PROBLEM(S)` : 'every check passed'}
${runTimeLines(started, others, 'the close')}
${RULE}`);
  if (S.explainMs > 0) {
    const text = existsSync(pgLog) ? readFileSync(pgLog).subarray(pgLogFrom).toString('utf8') : '';
    const plans = text.split(/\n(?=\S)/).filter((e) => e.includes('duration:') && e.includes('plan:'));
    console.log(`\nBENCH_EXPLAIN_MS=${S.explainMs}: auto_explain (ANALYZE, BUFFERS) plans of statements slower than ${S.explainMs} ms since the close began`
      + ` (the close ran instrumented: its wall time above is NOT the benchmark's figure; ${sessionsBefore} worker/simulator session(s) opened before`
      + ` the close were not instrumented):\n`);
    for (const p of plans) console.log(`${p.trim()}\n`);
  }
  for (const p of problems) console.log(`  problem: ${p}`);
  if (problems.length) {
    printOutputTail(b.procs.worker);
  }
  return problems.length === 0;
}

// --- main --------------------------------------------------------------------------------------------------
await benchMain({ log }, run);
