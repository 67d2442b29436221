// npm run bench:micropayments — recording micro-payments over HTTP against the real API process (with the worker
// and the simulator running beside it, as `npm start` runs them), each figure compared with a ceiling measured in
// the same run:
//
//   a. ceiling (single)  a bare express endpoint in as many processes as the API (bench/micropayments/echo.ts: the
//                        API's express, express.json with its 64 KiB limit) that parses the same body and echoes it;
//                        BENCH_SINGLE requests, BENCH_CONCURRENCY keep-alive connections, by the same load generator
//   b. single            POST /v1/micropayments, BENCH_SINGLE payments with distinct clientIds, same bodies, same load
//                        generator, same concurrency (each buyer's program with its own API key): payments/s, latency,
//                        failures; target ≥ 50% of (a)
//   d. ceiling (batch)   the rows (c) writes, INSERTed by this process with plain pg into the same micro_payments table
//                        of the same PostgreSQL, same period: one multi-row INSERT per BENCH_BATCH_SIZE rows,
//                        BENCH_BATCH_INFLIGHT statements at once on as many connections: rows/s
//   c. batch             POST /v1/micropayments/batch, BENCH_BATCH_PAYMENTS payments in requests of BENCH_BATCH_SIZE
//                        (each from one seller's site, the seller's API key), BENCH_BATCH_INFLIGHT in flight: payments/s;
//                        targets ≥ 25,000 payments/s and ≥ 50% of (d)
//
// BENCH_ROUNDS rounds (3) each run a, b, d, c in turn, with fresh payments (d before c: the table grows by the same
// rows in both), so that each figure is compared with a ceiling measured moments before; each target's verdict is
// the median over the rounds of its same-round ratio, as the machine's speed drifts by tens of percent within
// minutes. First, BENCH_WARMUP single requests and BENCH_BATCH_WARMUP batches go to each target untimed (JIT,
// connections, caches). The load generator (bench/support/load.ts: undici, one request per connection at a time) runs in this
// process with every body built beforehand; its CPU is the `bench` figure of each phase.
//
// Then checks that every payment the API accepted is in micro_payments once with its amount and fee, that no
// request failed, and that the ledger's trial balance is zero. Exits non-zero on an error or a failed check, not on a
// missed target. PostgreSQL and Temporal are those of the tests (startScratchStack): non-durable fast settings.
//
// Setup (untimed): BENCH_BUYERS buyers (a card token at the simulator, POST /v1/buyers, a rule set without caps)
// and BENCH_SELLERS sellers with BENCH_ITEMS items each, all through the API. Other knobs: BENCH_SETUP_CONCURRENCY,
// BENCH_PROFILE=dir (V8 CPU profiles of the API and the worker, written when they stop; setup included).
import { loadavg } from 'node:os';
import pg from 'pg';
import { loadConfig } from '../../config';
import { microFee } from '../../domain/micropayments';
import { HttpProcessorClient } from '../../processors/http-client';
import { describeCpu, otherCpuPercent } from '../support/cpu';
import { intEnv } from '../support/env';
import { LoadClient, type LoadResult } from '../support/load';
import {
  type BenchBuyer, type BenchItem, type BenchSeller, BENCH_ITEMS, createBuyer, createSeller, feeBpsOf, startMicroRun, tokenizeCard,
} from '../support/micro';
import { startEcho } from '../support/processes';
import { benchMain, type BenchStack } from '../support/stack';
import { codeVersion } from '../support/version';
import { closedLoop, fmtSummary, median, summarize } from '../support/stats';
import { machineLine, met, printOutputTail, RULE, runTimeLines, trialBalanceCheck } from '../support/report';

// --- settings ----------------------------------------------------------------------------------------------

const S = {
  buyers: intEnv('BENCH_BUYERS', 1000, 1, 100_000),
  sellers: intEnv('BENCH_SELLERS', 100, 1, 10_000),
  items: intEnv('BENCH_ITEMS', 3, 1, 3),
  single: intEnv('BENCH_SINGLE', 10_000, 1, 1_000_000),
  concurrency: intEnv('BENCH_CONCURRENCY', 32, 1, 1_000),
  warmup: intEnv('BENCH_WARMUP', 5_000, 0, 100_000),
  batchPayments: intEnv('BENCH_BATCH_PAYMENTS', 200_000, 1, 10_000_000),
  batchSize: intEnv('BENCH_BATCH_SIZE', 1000, 1, 1000),
  batchInflight: intEnv('BENCH_BATCH_INFLIGHT', 4, 1, 64),
  batchWarmup: intEnv('BENCH_BATCH_WARMUP', 8, 0, 1_000),
  setupConcurrency: intEnv('BENCH_SETUP_CONCURRENCY', 16, 1, 256),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 21),
};
const batches = Math.ceil(S.batchPayments / S.batchSize);
/** Copies of the API process, and of the echo server (both read PAYBROKER_API_PROCESSES). */
const apiProcesses = loadConfig().apiProcesses;

const TARGET_SINGLE_RATIO = 0.5;
const TARGET_BATCH_PER_SECOND = 25_000;
const TARGET_BATCH_RATIO = 0.5;

/** Items every seller publishes (the first BENCH_ITEMS of them). */
const ITEMS = BENCH_ITEMS.slice(0, S.items);

const log = (msg: string) => console.log(`[bench] ${msg}`);

/** One payment as the API would record it: what the bench sends, and what it expects in micro_payments. */
interface Payment { buyer: BenchBuyer; seller: BenchSeller; item: BenchItem; clientId: string }

async function run(b: BenchStack): Promise<boolean> {
  // --- setup (untimed): an operator in the database, parties over the API -----------------------------------------
  const { started, runTag, api: setup, operatorKey } = await startMicroRun(b, S.setupConcurrency);
  log(`setup: ${S.sellers} sellers with ${ITEMS.length} item(s) each, ${S.buyers} buyers (card token, buyer, rule set) over the API ...`);
  const t0 = performance.now();
  const sellers: BenchSeller[] = new Array(S.sellers);
  await closedLoop(S.sellers, S.setupConcurrency, async (k) => {
    sellers[k] = await createSeller(setup, operatorKey, `${runTag}-${k}`, feeBpsOf(k), ITEMS);
  });
  const buyers: BenchBuyer[] = new Array(S.buyers);
  const sim = new HttpProcessorClient({ baseUrl: b.simulatorUrl });
  await closedLoop(S.buyers, S.setupConcurrency, async (k) => {
    const card = await tokenizeCard(sim, `bench-tok-${runTag}-${k}`);
    buyers[k] = await createBuyer(setup, operatorKey, card, `${runTag}-${k}`);
  });
  const setupMs = performance.now() - t0;

  // Single payments: payment i is buyer i mod B (with the buyer's key) buying an item of some seller.
  const single = (tag: string, i: number): Payment => ({
    buyer: buyers[i % S.buyers], seller: sellers[(i * 7 + Math.floor(i / S.buyers)) % S.sellers], item: ITEMS[i % ITEMS.length],
    clientId: `${tag}-${runTag}-${i}`,
  });
  const fields = (p: Payment) => ({
    clientId: p.clientId, buyerToken: p.buyer.ruleSetToken, sellerId: p.seller.id, itemId: p.item.id, currency: 'USD',
    amountMinor: p.item.priceMinor,
  });
  const singleRequests = (tag: string, n: number) => Array.from({ length: n }, (_, i) => {
    const p = single(tag, i);
    return { payment: p, body: JSON.stringify(fields(p)), headers: { authorization: `Bearer ${p.buyer.apiKey}` } };
  });
  // Batch k: one seller's site records BENCH_BATCH_SIZE payments of many buyers, with the seller's key.
  const batchOf = (tag: string, k: number): Payment[] => Array.from({ length: Math.min(S.batchSize, S.batchPayments - k * S.batchSize) }, (_, j) => {
    const i = k * S.batchSize + j;
    return { buyer: buyers[i % S.buyers], seller: sellers[k % S.sellers], item: ITEMS[i % ITEMS.length], clientId: `${tag}-${runTag}-${i}` };
  });
  const batchRequests = (tag: string, n: number) => Array.from({ length: n }, (_, k) => {
    const ps = batchOf(tag, k);
    return {
      payments: ps, headers: { authorization: `Bearer ${ps[0].seller.apiKey}` },
      body: JSON.stringify({ payments: ps.map(fields) }),
    };
  });
  // the rows of batches (for the plain INSERTs of the ceiling)
  const rawRows = (tag: string, n: number) => Array.from({ length: n }, (_, k) => batchOf(tag, k));

  const { origin: echoOrigin, cpu } = await startEcho(b);
  const apiOrigin = new URL(b.apiBase).origin;

  log(`building request bodies (untimed): ${S.warmup + S.rounds * S.single} single, ${S.batchWarmup + S.rounds * batches} batches ...`);
  const warmSingle = singleRequests('warm', S.warmup);
  const warmBatch = batchRequests('warmbatch', Math.min(S.batchWarmup, batches));
  const warmRaw = rawRows('warmraw', Math.min(S.batchWarmup, batches));
  const roundRequests = Array.from({ length: S.rounds }, (_, r) => ({
    single: singleRequests(`single${r}`, S.single), batch: batchRequests(`batch${r}`, batches),
    raw: rawRows(`raw${r}`, batches),
  }));
  type SingleRequests = ReturnType<typeof singleRequests>;
  type BatchRequests = ReturnType<typeof batchRequests>;

  // --- a. ceiling of single recording: the echo endpoint -------------------------------------------------------
  const echoClient = new LoadClient(echoOrigin, S.concurrency);
  b.onStop('echo load client', () => echoClient.close());
  // a reply is right with the status wanted and the payment's clientId in it (echoed, or in the payment recorded)
  const sendSingle = (client: LoadClient, path: string, reqs: SingleRequests, want: number) =>
    client.run({
      requests: reqs.length, request: (i) => ({ path, body: reqs[i].body, headers: reqs[i].headers }),
      check: (status, text, i) => (status === want && text.includes(reqs[i].payment.clientId) ? undefined : `${status} ${text.slice(0, 300)}`),
    });
  const apiClient = new LoadClient(apiOrigin, S.concurrency);
  b.onStop('API load client', () => apiClient.close());
  log(`warming up (untimed): ${S.warmup} single bodies to the echo endpoint and to POST /v1/micropayments ...`);
  await sendSingle(echoClient, '/v1/echo', warmSingle, 200);
  const warmSingleRes = await sendSingle(apiClient, '/v1/micropayments', warmSingle, 201);

  // --- d. ceiling of batch recording: the same rows by plain multi-row INSERTs ----------------------------------
  const openSeq = await b.stores.periods.openSeq();
  const pool = new pg.Pool({ connectionString: b.test.databaseUrl, max: S.batchInflight, application_name: 'paybroker-bench-ceiling' });
  b.onStop('ceiling pool', () => pool.end());
  // the API's rows: period, buyer, seller, item, clientId, rule set, currency, amount, fee, grant seconds (id and
  // created_at by default)
  const insertRows = async (ps: Payment[]) => {
    await pool.query(`
      INSERT INTO micro_payments (period_seq, buyer_id, seller_id, item_id, client_id, rule_set_id, currency, amount_minor, fee_minor, grant_seconds)
      SELECT $1::integer, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::char(3)[], $8::bigint[], $9::bigint[], $10::integer[])`, [
      openSeq, ps.map((p) => p.buyer.id), ps.map((p) => p.seller.id), ps.map((p) => p.item.id), ps.map((p) => p.clientId),
      ps.map((p) => p.buyer.ruleSetId), ps.map(() => 'USD'), ps.map((p) => p.item.priceMinor),
      ps.map((p) => microFee(p.item.priceMinor, p.seller.feeBps)), ps.map((p) => p.item.grantSeconds),
    ]);
  };
  const insertAll = async (all: Payment[][]) => {
    const latencies: number[] = [];
    const wallMs = await closedLoop(all.length, S.batchInflight, async (k) => {
      const t = performance.now();
      await insertRows(all[k]);
      latencies.push(performance.now() - t);
    });
    return { wallMs, latencies };
  };
  log(`warming up (untimed): ${warmRaw.length} multi-row INSERTs of ${S.batchSize} rows ...`);
  await insertAll(warmRaw);

  // --- c. batch recording ---------------------------------------------------------------------------------------
  const batchClient = new LoadClient(apiOrigin, S.batchInflight);
  b.onStop('batch load client', () => batchClient.close());
  const sendBatches = (reqs: BatchRequests) => batchClient.run({
    requests: reqs.length, request: (k) => ({ path: '/v1/micropayments/batch', body: reqs[k].body, headers: reqs[k].headers }),
    check: (status, text, k) => {
      const head = /"recorded":(\d+),"replayed":(\d+),"refused":(\d+)/.exec(text.slice(0, 200));
      return status === 200 && head && Number(head[1]) === reqs[k].payments.length
        ? undefined : `${status} ${text.slice(0, 300)}${head ? '' : ' (no counts)'}`;
    },
  });
  log(`warming up (untimed): ${warmBatch.length} POST /v1/micropayments/batch of ${S.batchSize} ...`);
  const warmBatchRes = await sendBatches(warmBatch);
  const loadBefore = loadavg()[0];

  // --- the rounds: a, b, d, c in turn, so that a ceiling and its figure are measured close together --------------
  const measureRound = async (reqs: typeof roundRequests[number]) => {
    const cpuA0 = cpu.sample();
    const echoRes = await sendSingle(echoClient, '/v1/echo', reqs.single, 200);
    const cpuA1 = cpu.sample();
    const singleRes = await sendSingle(apiClient, '/v1/micropayments', reqs.single, 201);
    const cpuB1 = cpu.sample();
    const raw = await insertAll(reqs.raw);
    const cpuD1 = cpu.sample();
    const batchRes = await sendBatches(reqs.batch);
    const cpuC1 = cpu.sample();
    const rawRows = reqs.raw.reduce((n, ps) => n + ps.length, 0);
    const failedBatches = new Set(batchRes.failedRequests);
    const batchPayments = reqs.batch.reduce((n, x, k) => n + (failedBatches.has(k) ? 0 : x.payments.length), 0);
    const rawPerSecond = rawRows / (raw.wallMs / 1000);
    const batchPerSecond = batchPayments / (batchRes.wallMs / 1000);
    return {
      echoRes, singleRes, raw, rawRows, rawPerSecond, batchRes, batchPayments, batchPerSecond,
      singleRatio: singleRes.perSecond / echoRes.perSecond, batchRatio: batchPerSecond / rawPerSecond,
      cpu: { a: [cpuA0, cpuA1], b: [cpuA1, cpuB1], d: [cpuB1, cpuD1], c: [cpuD1, cpuC1] } as const,
    };
  };
  const rounds: Array<Awaited<ReturnType<typeof measureRound>>> = [];
  for (const [r, reqs] of roundRequests.entries()) {
    log(`round ${r + 1}/${S.rounds}: a. echo ${S.single}, b. single ${S.single}, d. ceiling ${reqs.raw.length} INSERTs, c. batch ${reqs.batch.length} requests ...`);
    rounds.push(await measureRound(reqs));
  }
  await Promise.all([echoClient.close(), apiClient.close(), batchClient.close()]);

  const crashed = b.crashed();
  if (crashed) throw new Error(`${crashed.name} exited during the run:\n${crashed.output()}`);

  // --- correctness: what the API accepted is in the table once, with its amount and fee; the ledger balances ----
  log('verifying the recorded payments and the ledger ...');
  const expected: Array<{ tag: string; payments: Payment[] }> = [
    { tag: 'warm', payments: warmSingle.map((r) => r.payment) }, { tag: 'warmbatch', payments: warmBatch.flatMap((r) => r.payments) },
    ...roundRequests.flatMap((reqs, r) => [
      { tag: `single${r}`, payments: reqs.single.map((x) => x.payment) }, { tag: `batch${r}`, payments: reqs.batch.flatMap((x) => x.payments) },
    ]),
  ];
  const books: string[] = [];
  for (const { tag, payments } of expected) {
    const { rows: [got] } = await b.db.raw(`
      SELECT count(*) AS n, count(DISTINCT client_id) AS distinct_ids, coalesce(sum(amount_minor), 0) AS amount,
        coalesce(sum(fee_minor), 0) AS fee, count(*) FILTER (WHERE period_seq <> ?) AS other_period
      FROM micro_payments WHERE client_id LIKE ?`, [openSeq, `${tag}-${runTag}-%`]) as { rows: Array<Record<string, string>> };
    const want = {
      n: payments.length, amount: payments.reduce((s, p) => s + p.item.priceMinor, 0),
      fee: payments.reduce((s, p) => s + microFee(p.item.priceMinor, p.seller.feeBps), 0),
    };
    if (Number(got.n) !== want.n || Number(got.distinct_ids) !== want.n || Number(got.amount) !== want.amount
      || Number(got.fee) !== want.fee || Number(got.other_period) !== 0) {
      books.push(`${tag}: ${JSON.stringify(got)} in micro_payments, expected ${JSON.stringify(want)} in ${`sp_${openSeq}`}`);
    }
  }
  const trial = await trialBalanceCheck(b.db);
  const failedRequests = warmSingleRes.failed + warmBatchRes.failed + rounds.reduce((n, x) => n + x.singleRes.failed + x.batchRes.failed, 0);

  // --- report --------------------------------------------------------------------------------------------------
  // Each target's verdict is the median over the rounds of its same-round ratio (the machine's speed drifts).
  const singleRatio = median(rounds.map((x) => x.singleRatio));
  const batchRatio = median(rounds.map((x) => x.batchRatio));
  const batchPerSecond = median(rounds.map((x) => x.batchPerSecond));
  const singleFailed = rounds.reduce((n, x) => n + x.singleRes.failed, 0);
  const others = Math.max(...rounds.flatMap((x) => [
    otherCpuPercent(...x.cpu.a, x.echoRes.wallMs), otherCpuPercent(...x.cpu.b, x.singleRes.wallMs),
    otherCpuPercent(...x.cpu.d, x.raw.wallMs), otherCpuPercent(...x.cpu.c, x.batchRes.wallMs)]));
  const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
  const each = (f: (x: typeof rounds[number]) => string) => rounds.map(f).join(', ');
  const all = (f: (x: typeof rounds[number]) => number[]) => summarize(rounds.flatMap(f));
  const failureLines = (rs: LoadResult[]) => rs.flatMap((r) => r.failures).map((f) => `\n              failed ${f}`).join('');
  const last = rounds[rounds.length - 1];
  console.log(`
${RULE}
Paybroker micro-payments recording benchmark
  machine     ${machineLine()}; load average after the warm-ups: ${loadBefore.toFixed(2)}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and the Temporal dev server of the
              tests: NON-DURABLE fast settings, so the figures are upper bounds. API (api/main.ts, ${apiProcesses} processes
              sharing the port, pool of 20 each), worker and simulator are separate processes as \`npm start\` runs them;
              the echo server (a) is ${apiProcesses} more (as many as the API: PAYBROKER_API_PROCESSES). The load
              generator (undici, keep-alive, bodies built beforehand) and the plain-pg ceiling (d) run in this process.
  code        ${codeVersion()}
  settings    BENCH_BUYERS=${S.buyers} BENCH_SELLERS=${S.sellers} BENCH_ITEMS=${S.items} BENCH_SINGLE=${S.single} BENCH_CONCURRENCY=${S.concurrency} BENCH_WARMUP=${S.warmup}
              BENCH_BATCH_PAYMENTS=${S.batchPayments} BENCH_BATCH_SIZE=${S.batchSize} BENCH_BATCH_INFLIGHT=${S.batchInflight} BENCH_BATCH_WARMUP=${S.batchWarmup}
              BENCH_ROUNDS=${S.rounds}: each round runs a, b, d, c in turn with fresh payments
  parties     ${S.buyers} buyers (rule sets without caps) and ${S.sellers} sellers with items ${ITEMS.map((i) => `${i.id} ${i.priceMinor}`).join(', ')} (USD minor
              units), fees 5-14%; made over the API in ${(setupMs / 1000).toFixed(1)} s (untimed)
  payment     ${warmSingle[0]?.body.length ?? roundRequests[0].single[0].body.length}-byte body {clientId, buyerToken, sellerId, itemId, currency, amountMinor}; a batch body is ${
    (roundRequests[0].batch[0].body.length / 1024).toFixed(0)} KiB

a. ceiling    bare express echo (express.json, 64 KiB limit), same bodies, ${S.concurrency} connections, ${S.single} per round:
              requests/s by round: ${each((x) => x.echoRes.perSecond.toFixed(0))}
              latency ${fmtSummary(all((x) => x.echoRes.latenciesMs))}
              cpu (last round): ${describeCpu(...last.cpu.a, last.echoRes.wallMs)}${failureLines(rounds.map((x) => x.echoRes))}
b. single     POST /v1/micropayments (201 with a grant), ${S.concurrency} connections, ${S.single} per round:
              payments/s by round: ${each((x) => `${x.singleRes.perSecond.toFixed(0)} = ${pct(x.singleRatio)} of (a)`)}
              latency ${fmtSummary(all((x) => x.singleRes.latenciesMs))}
              cpu (last round): ${describeCpu(...last.cpu.b, last.singleRes.wallMs)}${failureLines(rounds.map((x) => x.singleRes))}
d. ceiling    multi-row INSERT … SELECT unnest(…) of the same rows into micro_payments (sp_${openSeq}), plain pg from this
              process, ${S.batchSize} rows per statement, ${S.batchInflight} at once, ${last.rawRows} rows per round:
              rows/s by round: ${each((x) => x.rawPerSecond.toFixed(0))}
              statement ${fmtSummary(all((x) => x.raw.latencies))}
              cpu (last round): ${describeCpu(...last.cpu.d, last.raw.wallMs)}
c. batch      POST /v1/micropayments/batch, ${S.batchSize} payments per request (one seller's), ${S.batchInflight} in flight, ${batches} requests per round:
              payments/s by round: ${each((x) => `${x.batchPerSecond.toFixed(0)} = ${pct(x.batchRatio)} of (d)`)}
              request ${fmtSummary(all((x) => x.batchRes.latenciesMs))}
              cpu (last round): ${describeCpu(...last.cpu.c, last.batchRes.wallMs)}${failureLines(rounds.map((x) => x.batchRes))}

targets (the median of the ${S.rounds} rounds)
  single ≥ ${TARGET_SINGLE_RATIO * 100}% of the echo ceiling (a)                 ${pct(singleRatio)}   ${met(singleRatio >= TARGET_SINGLE_RATIO)}
  single: no failed request                              ${singleFailed} failed   ${met(singleFailed === 0)}
  batch ≥ ${TARGET_BATCH_PER_SECOND.toLocaleString('en-US')} payments/s                              ${batchPerSecond.toFixed(0)}/s   ${met(batchPerSecond >= TARGET_BATCH_PER_SECOND)}
  batch ≥ ${TARGET_BATCH_RATIO * 100}% of the INSERT ceiling (d)               ${pct(batchRatio)}   ${met(batchRatio >= TARGET_BATCH_RATIO)}

correctness
  requests    ${failedRequests} failed (warm-up included)
  payments    ${expected.reduce((n, e) => n + e.payments.length, 0)} sent through the API: ${books.length ? `MISMATCH in ${books.length} group(s)` : 'each in micro_payments once, in the open period, with its amount and fee'}
  ledger      trial balance ${trial.text}
${runTimeLines(started, others)}
${RULE}`);
  for (const m of books) console.log(`  books: ${m}`);
  if (failedRequests || books.length) {
    printOutputTail(b.procs.api, "the API's");
  }
  return failedRequests === 0 && books.length === 0 && trial.ok;
}

// --- main --------------------------------------------------------------------------------------------------
await benchMain({ log, profileDir: process.env.BENCH_PROFILE || undefined }, run);
