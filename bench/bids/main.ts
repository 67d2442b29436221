// npm run bench:bids — merchants' bids over HTTP against the real API process (with the worker and the simulator
// running beside it, as `npm start` runs them), with BENCH_OPEN_ROUNDS sell-first rounds open and BENCH_MERCHANTS
// merchants bidding in each, compared with a ceiling measured in the same run:
//
//   a. ceiling    a bare express endpoint in as many processes as the API (bench/micropayments/echo.ts: the API's
//                 express, express.json with its 64 KiB limit) that parses the same bid bodies and echoes them;
//                 BENCH_BIDS requests, BENCH_CONCURRENCY keep-alive connections, by the same load generator
//   b. bids       POST /v1/bid-rounds/:id/bids, the same BENCH_BIDS bodies and headers (each merchant's key, an
//                 Idempotency-Key per bid), same concurrency: bids/s, latency, failures; target ≥ 50% of (a)
//   c. half rate  open loop: bids started at half the sustainable rate (the median of (b)'s rounds) for
//                 BENCH_HALF_SECONDS, each timed from its scheduled start: p99 < 50 ms
//   d. quotes     BENCH_QUOTES quote-first requests (POST /v1/quotes, windowSeconds BENCH_QUOTE_WINDOW), each then
//                 long-polled (GET /v1/quotes/:id?waitSeconds=10) until quoted; the merchants' auto-bids make the
//                 quotes. Request → quote: p50 within 20 ms of the window
//
// BENCH_ROUNDS rounds (3) each run a then b, with fresh bids, so that the figure and its ceiling are measured moments
// apart; the verdict is the median over the rounds of the same-round ratio (the machine's speed drifts by tens of
// percent within minutes). First, BENCH_WARMUP bids go to each target untimed. The load generator (bench/support/
// load.ts: undici, one request per connection at a time, bodies built beforehand) runs in this process; its CPU is
// the `bench` figure of each phase.
//
// A bid is one SQL statement (no workflow task); a merchant may place MAX_BIDS_PER_MERCHANT bids in a round (its first
// and its replacements), so the bids are spread over rounds × merchants: bid g goes to the pair g mod (rounds ×
// merchants), merchants interleaved (each merchant's key carries 1/BENCH_MERCHANTS of the load, far below the API's
// rate limit per key), and is that pair's (g div pairs)-th bid, a little lower than the one it replaces.
//
// Setup (untimed): an operator and a buyer app in the database, BENCH_MERCHANTS merchants (stores.merchants.create)
// opted in over the API to a hard-goods class (list price 25.00, windowSeconds 3600, no enoughBids: the rounds stay
// open while bidding) and to a soft-goods class for the quotes (each with an auto-bid), BENCH_OPEN_ROUNDS card tokens
// at the simulator, then BENCH_OPEN_ROUNDS purchases (POST /v1/purchases: each a card authorization and a round's
// workflow), BENCH_SETUP_CONCURRENCY at once, until every round is open to every merchant.
//
// Checks: every bid answered 201 with its placement count; the bids table holds, per round and merchant, one row whose
// placement count and price are those of the last bid sent; every round still open; every quote quoted at the best
// auto-bid plus the margin; the trial balance zero (authorizations post nothing). Exits non-zero on an error or a failed
// check, not on a missed target. BENCH_PROFILE=dir writes V8 CPU profiles of the API and the worker.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { Pool } from 'undici';
import { loadConfig } from '../../config';
import { MAX_BIDS_PER_MERCHANT, quoteUnitPrice } from '../../domain/bids';
import { describeCpu, otherCpuPercent } from '../support/cpu';
import { intEnv } from '../support/env';
import { JsonClient, type JsonReply, REQUEST_TIMEOUT_MS } from '../support/http';
import { LoadClient, type LoadResult } from '../support/load';
import { MERCHANT_SETTINGS, ORDER_ADDRESS, tokenizeCards } from '../support/orders';
import { startEcho } from '../support/processes';
import { machineLine, met, printOutputTail, RULE, runTimeLines, trialBalanceCheck } from '../support/report';
import { benchMain, type BenchStack } from '../support/stack';
import { closedLoop, fmtSummary, median, ms, openLoop, summarize } from '../support/stats';
import { codeVersion } from '../support/version';

// --- settings ----------------------------------------------------------------------------------------------

const S = {
  openRounds: intEnv('BENCH_OPEN_ROUNDS', 1000, 1, 100_000),
  merchants: intEnv('BENCH_MERCHANTS', 20, 1, 1000),
  bids: intEnv('BENCH_BIDS', 20_000, 1, 1_000_000),
  concurrency: intEnv('BENCH_CONCURRENCY', 32, 1, 1_000),
  warmup: intEnv('BENCH_WARMUP', 5_000, 0, 100_000),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 21),
  halfSeconds: intEnv('BENCH_HALF_SECONDS', 10, 1, 600),
  halfConnections: intEnv('BENCH_HALF_CONNECTIONS', 64, 1, 1_000),
  quotes: intEnv('BENCH_QUOTES', 20, 0, 10_000),
  quoteWindow: intEnv('BENCH_QUOTE_WINDOW', 1, 1, 60),
  quoteConcurrency: intEnv('BENCH_QUOTE_CONCURRENCY', 1, 1, 100),
  setupConcurrency: intEnv('BENCH_SETUP_CONCURRENCY', 16, 1, 256),
};
/** Copies of the API process, and of the echo server (both read PAYBROKER_API_PROCESSES). */
const apiProcesses = loadConfig().apiProcesses;

const TARGET_RATIO = 0.5;
const TARGET_HALF_P99_MS = 50;
const TARGET_QUOTE_OVER_WINDOW_MS = 20;

/** The sell-first class: its list price, and the margin that makes a bid acceptable (at most 23.00). */
const LIST_PRICE_MINOR = 2500;
const MIN_MARGIN_MINOR = 200;
/** Long enough that no round closes while the bench bids (the default of the class, an hour). */
const SELL_WINDOW_SECONDS = 3600;
/** A bid's price: the first of a pair at this, each replacement BID_STEP_MINOR lower, less the merchant's number. */
const FIRST_BID_MINOR = LIST_PRICE_MINOR - MIN_MARGIN_MINOR;
const BID_STEP_MINOR = 10;
/** The quote class's margin and its merchants' auto-bids (merchant m bids AUTO_BID_MINOR - m). */
const QUOTE_MARGIN_BPS = 500;
const AUTO_BID_MINOR = 2000;
/** How long one GET of a quote waits for it (the long poll), and how long a quote may take in all. */
const QUOTE_WAIT_SECONDS = 10;
const QUOTE_TIMEOUT_MS = 60_000;
/** A purchase whose round is not open after this long fails the setup. */
const OPEN_TIMEOUT_MS = 120_000;

const SHIP_TO = { name: 'Bench Customer', ...ORDER_ADDRESS };
const pairs = S.openRounds * S.merchants;
/** Bids the open rounds take in all: each merchant's first bid and its replacements in each round. */
const bidBudget = pairs * MAX_BIDS_PER_MERCHANT;

const log = (msg: string) => console.log(`[bench] ${msg}`);
const sleep = (msValue: number) => new Promise((r) => setTimeout(r, msValue));

function must(what: string, r: JsonReply, status: number): any {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/** One bid as sent: its number, where it goes, and what its reply must say. */
interface BidRequest { g: number; round: number; merchant: number; placement: number; priceMinor: number; path: string; body: string;
  headers: Record<string, string> }

/** The result of an open-loop phase: latencies from each request's scheduled start. */
interface RateResult { wallMs: number; latenciesMs: number[]; sentLatenciesMs: number[]; failedRequests: number[]; failures: string[]; maxStartLagMs: number; perSecond: number }

async function run(b: BenchStack): Promise<boolean> {
  const started = performance.now();
  const runTag = randomBytes(3).toString('hex');
  if (S.warmup + S.rounds * S.bids > bidBudget) {
    throw new Error(`BENCH_WARMUP + BENCH_ROUNDS × BENCH_BIDS = ${S.warmup + S.rounds * S.bids} bids, but ${S.openRounds} rounds × ${S.merchants} `
      + `merchants take ${bidBudget} (${MAX_BIDS_PER_MERCHANT} per merchant and round)`);
  }
  const api = new JsonClient(b.apiBase, S.setupConcurrency + S.quoteConcurrency * 2);
  b.onStop('HTTP client', () => api.close());
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  // --- setup (untimed): principals in the database, classes, opt-ins and purchases over the API -----------------
  const operatorKey = (await b.stores.principals.create('operator', 'bench operator')).apiKey;
  const appKey = (await b.stores.principals.create('buyer_app', 'bench storefront')).apiKey;
  const sellClass = `bench-sell-${runTag}`;
  const quoteClass = `bench-quote-${runTag}`;
  must(`PUT /v1/item-classes/${sellClass}`, await api.put(`/item-classes/${sellClass}`, {
    name: 'A bench novel', currency: 'USD', kind: 'hard', pricing: { kind: 'list', listPriceMinor: LIST_PRICE_MINOR },
    minMarginMinor: MIN_MARGIN_MINOR, windowSeconds: SELL_WINDOW_SECONDS, enoughBids: null,
  }, auth(operatorKey)), 201);
  must(`PUT /v1/item-classes/${quoteClass}`, await api.put(`/item-classes/${quoteClass}`, {
    name: 'A bench e-book', currency: 'USD', kind: 'soft', pricing: { kind: 'list', listPriceMinor: LIST_PRICE_MINOR },
    quoteMarginBps: QUOTE_MARGIN_BPS, quoteLifetimeSeconds: 600,
  }, auth(operatorKey)), 201);
  log(`setup: ${S.merchants} merchants opted in to ${sellClass} (no auto-bid) and ${quoteClass} (an auto-bid each) ...`);
  const merchantKeys: string[] = new Array(S.merchants);
  await closedLoop(S.merchants, S.setupConcurrency, async (m) => {
    const { apiKey } = await b.stores.merchants.create(`Bench bidder ${runTag}-${m}`, { ...MERCHANT_SETTINGS, rating: 100 + (m % 400) });
    must('PUT bidding (sell)', await api.put(`/item-classes/${sellClass}/bidding`, { autoBid: null }, auth(apiKey)), 200);
    must('PUT bidding (quote)', await api.put(`/item-classes/${quoteClass}/bidding`, {
      autoBid: { unitPriceMinor: AUTO_BID_MINOR - m, deliveryDays: 1, maxQuantity: null },
    }, auth(apiKey)), 200);
    merchantKeys[m] = apiKey;
  });

  log(`setup: ${S.openRounds} card tokens, then ${S.openRounds} purchases (an authorization and a round each), ${S.setupConcurrency} at once ...`);
  const t0 = performance.now();
  const tokens = await tokenizeCards(b, S.openRounds, `bids-${runTag}`);
  const roundIds: string[] = new Array(S.openRounds);
  await closedLoop(S.openRounds, S.setupConcurrency, async (k) => {
    const p = must('POST /v1/purchases', await api.post('/purchases', {
      itemClass: sellClass, quantity: 1, customerId: `bench-customer-${k}`, shipping: { address: SHIP_TO },
      payment: { token: tokens[k], billingPostalCode: ORDER_ADDRESS.postalCode },
    }, { ...auth(appKey), 'idempotency-key': `bench-purchase-${runTag}-${k}` }), 201);
    if (!['authorizing', 'open'].includes(p.state)) throw new Error(`purchase ${k}: ${JSON.stringify(p).slice(0, 300)}`);
    roundIds[k] = p.id as string;
  });
  // every round open (its workflow authorized the card and opened it) to every merchant
  for (const deadline = performance.now() + OPEN_TIMEOUT_MS; ;) {
    const [{ open, merchants }] = await openRoundsNow(b, roundIds);
    if (open === S.openRounds && merchants === pairs) break;
    if (performance.now() > deadline) throw new Error(`after ${OPEN_TIMEOUT_MS} ms, ${open} of ${S.openRounds} rounds open, to ${merchants} of ${pairs} merchants`);
    await sleep(200);
  }
  const setupMs = performance.now() - t0;

  // --- the bids, built beforehand: bid g → pair g mod pairs (merchants interleaved), its (g div pairs)-th bid ------
  let nextBid = 0;
  const bidRequests = (n: number): BidRequest[] => Array.from({ length: n }, () => {
    const g = nextBid++;
    const pair = g % pairs;
    const merchant = pair % S.merchants;
    const round = Math.floor(pair / S.merchants);
    const placement = Math.floor(g / pairs);
    const priceMinor = FIRST_BID_MINOR - placement * BID_STEP_MINOR - (merchant % BID_STEP_MINOR);
    return {
      g, round, merchant, placement, priceMinor, path: `/v1/bid-rounds/${roundIds[round]}/bids`,
      body: JSON.stringify({ unitPriceMinor: priceMinor, currency: 'USD', deliveryDays: 1 + (merchant % 5) }),
      headers: { authorization: `Bearer ${merchantKeys[merchant]}`, 'idempotency-key': `bench-bid-${runTag}-${g}` },
    };
  });
  log(`building request bodies (untimed): ${S.warmup + S.rounds * S.bids} bids ...`);
  const warmBids = bidRequests(S.warmup);
  const roundBids = Array.from({ length: S.rounds }, () => bidRequests(S.bids));
  /** Bids whose reply said they were placed (201 with their placement count): what the table must hold. */
  const placed: BidRequest[] = [];
  const bidProblem = (r: BidRequest, status: number, text: string): string | undefined => {
    const count = /"placed":(\d+)/.exec(text);
    return status === 201 && count && Number(count[1]) === r.placement + 1 ? undefined : `${status} ${text.slice(0, 300)}`;
  };
  const echoProblem = (r: BidRequest, status: number, text: string): string | undefined =>
    (status === 200 && text.includes(`"unitPriceMinor":${r.priceMinor}`) ? undefined : `${status} ${text.slice(0, 300)}`);

  const { origin: echoOrigin, cpu } = await startEcho(b);
  const apiOrigin = new URL(b.apiBase).origin;

  const echoClient = new LoadClient(echoOrigin, S.concurrency);
  b.onStop('echo load client', () => echoClient.close());
  const apiClient = new LoadClient(apiOrigin, S.concurrency);
  b.onStop('API load client', () => apiClient.close());
  const sendEcho = (reqs: BidRequest[]) => echoClient.run({
    requests: reqs.length, request: (i) => ({ path: '/v1/echo', body: reqs[i].body, headers: reqs[i].headers }),
    check: (status, text, i) => echoProblem(reqs[i], status, text),
  });
  const sendBids = async (reqs: BidRequest[]) => {
    const res = await apiClient.run({
      requests: reqs.length, request: (i) => ({ path: reqs[i].path, body: reqs[i].body, headers: reqs[i].headers }),
      check: (status, text, i) => bidProblem(reqs[i], status, text),
    });
    const failed = new Set(res.failedRequests);
    placed.push(...reqs.filter((_, i) => !failed.has(i)));
    return res;
  };

  log(`warming up (untimed): ${S.warmup} bid bodies to the echo endpoint and to POST /v1/bid-rounds/:id/bids ...`);
  await sendEcho(warmBids);
  const warmRes = await sendBids(warmBids);
  const loadBefore = loadavg()[0];

  // --- a, b in rounds: the ceiling and the bids measured close together -----------------------------------------
  type Sample = ReturnType<typeof cpu.sample>;
  const rounds: Array<{ echoRes: LoadResult; bidRes: LoadResult; ratio: number; cpu: { a: [Sample, Sample]; b: [Sample, Sample] } }> = [];
  for (const [r, reqs] of roundBids.entries()) {
    log(`round ${r + 1}/${S.rounds}: a. echo ${reqs.length}, b. bids ${reqs.length}, ${S.concurrency} connections ...`);
    const c0 = cpu.sample();
    const echoRes = await sendEcho(reqs);
    const c1 = cpu.sample();
    const bidRes = await sendBids(reqs);
    const c2 = cpu.sample();
    rounds.push({ echoRes, bidRes, ratio: bidRes.perSecond / echoRes.perSecond, cpu: { a: [c0, c1], b: [c1, c2] } });
  }
  await Promise.all([echoClient.close(), apiClient.close()]);

  // --- c. latency at half the sustainable rate, open loop --------------------------------------------------------
  const sustainable = median(rounds.map((x) => x.bidRes.perSecond));
  const halfRate = Math.max(1, Math.round(sustainable / 2));
  const halfCount = Math.min(halfRate * S.halfSeconds, bidBudget - nextBid);
  log(`c. half rate: ${halfRate} bids/s (half of ${sustainable.toFixed(0)}), open loop, ${halfCount} bids (${(halfCount / halfRate).toFixed(1)} s) ...`);
  const halfBids = bidRequests(halfCount);
  const halfPool = new Pool(apiOrigin, {
    connections: S.halfConnections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  let halfPoolClosed: Promise<void> | undefined;
  const closeHalfPool = () => (halfPoolClosed ??= halfPool.close());
  b.onStop('half-rate pool', closeHalfPool);
  const ch0 = cpu.sample();
  const half = await atRate(halfPool, halfBids, halfRate, (r, status, text) => bidProblem(r, status, text));
  const ch1 = cpu.sample();
  const halfFailed = new Set(half.failedRequests);
  placed.push(...halfBids.filter((_, i) => !halfFailed.has(i)));
  await closeHalfPool();

  // --- d. quote first: request → quote -----------------------------------------------------------------------
  const quoteRes = { totalMs: [] as number[], toOpenMs: [] as number[], afterCloseMs: [] as number[], failures: [] as string[], wallMs: 0 };
  const wantQuoteUnit = quoteUnitPrice(AUTO_BID_MINOR - (S.merchants - 1), QUOTE_MARGIN_BPS);
  log(`d. quotes: ${S.quotes} quote-first requests, windowSeconds ${S.quoteWindow}, ${S.quoteConcurrency} at once ...`);
  const cq0 = cpu.sample();
  quoteRes.wallMs = await closedLoop(S.quotes, S.quoteConcurrency, async (k) => {
    const sentAtMs = Date.now();
    const t = performance.now();
    try {
      const q = must('POST /v1/quotes', await api.post('/quotes', {
        itemClass: quoteClass, quantity: 1, customerId: `bench-quoter-${k}`, windowSeconds: S.quoteWindow,
      }, { ...auth(appKey), 'idempotency-key': `bench-quote-${runTag}-${k}` }), 201);
      let now = q;
      while (now.state === 'open') {
        if (performance.now() - t > QUOTE_TIMEOUT_MS) throw new Error(`still open after ${QUOTE_TIMEOUT_MS} ms`);
        now = must(`GET /v1/quotes/${q.id}`, await api.get(`/quotes/${q.id}?waitSeconds=${QUOTE_WAIT_SECONDS}`, auth(appKey)), 200);
      }
      const tookMs = performance.now() - t;
      const doneAtMs = Date.now();
      if (now.state !== 'quoted' || now.unitPriceMinor !== wantQuoteUnit) {
        throw new Error(`${now.state} at ${now.unitPriceMinor}, expected quoted at ${wantQuoteUnit}: ${JSON.stringify(now).slice(0, 300)}`);
      }
      quoteRes.totalMs.push(tookMs);
      // (the window's start and end by the round's own clock: where the time beyond the window went)
      const closesAtMs = Date.parse(now.biddingClosesAt as string);
      quoteRes.toOpenMs.push(closesAtMs - S.quoteWindow * 1000 - sentAtMs);
      quoteRes.afterCloseMs.push(doneAtMs - closesAtMs);
    } catch (err) {
      quoteRes.failures.push(`quote ${k}: ${(err as Error).message}`);
    }
  });
  const cq1 = cpu.sample();

  const crashed = b.crashed();
  if (crashed) throw new Error(`${crashed.name} exited during the run:\n${crashed.output()}`);

  // --- correctness: the bids table holds the last bid of each pair; the rounds are open; the ledger balances ------
  log('verifying the bids and the ledger ...');
  const last = new Map<number, BidRequest>();
  for (const r of placed) if ((last.get(r.g % pairs)?.placement ?? -1) < r.placement) last.set(r.g % pairs, r);
  const want = {
    rows: last.size, placed: placed.length, priceMinor: [...last.values()].reduce((s, r) => s + r.priceMinor, 0),
  };
  const got = await bidTotals(b, roundIds);
  const booksOk = got.rows === want.rows && got.placed === want.placed && got.priceMinor === want.priceMinor;
  const [{ open: stillOpen }] = await openRoundsNow(b, roundIds);
  const trial = await trialBalanceCheck(b.db, { emptyOk: true });
  const bidFailures = warmRes.failed + rounds.reduce((n, x) => n + x.bidRes.failed, 0) + half.failedRequests.length;
  const echoFailures = rounds.reduce((n, x) => n + x.echoRes.failed, 0);

  // --- report --------------------------------------------------------------------------------------------------
  const ratio = median(rounds.map((x) => x.ratio));
  const halfLat = summarize(half.latenciesMs);
  const quoteLat = summarize(quoteRes.totalMs);
  const overWindow = quoteLat.p50 - S.quoteWindow * 1000;
  const others = Math.max(
    ...rounds.flatMap((x) => [otherCpuPercent(...x.cpu.a, x.echoRes.wallMs), otherCpuPercent(...x.cpu.b, x.bidRes.wallMs)]),
    otherCpuPercent(ch0, ch1, half.wallMs), S.quotes ? otherCpuPercent(cq0, cq1, quoteRes.wallMs) : 0);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const each = (f: (x: typeof rounds[number]) => string) => rounds.map(f).join(', ');
  const all = (f: (x: typeof rounds[number]) => number[]) => summarize(rounds.flatMap(f));
  const failureLines = (fs: string[]) => fs.slice(0, 10).map((f) => `\n              failed ${f}`).join('');
  const lastRound = rounds[rounds.length - 1];
  console.log(`
${RULE}
Paybroker bids benchmark
  machine     ${machineLine()}; load average after the warm-ups: ${loadBefore.toFixed(2)}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and the Temporal dev server of the
              tests: NON-DURABLE fast settings, so the figures are upper bounds. API (api/main.ts, ${apiProcesses} processes
              sharing the port), worker and simulator are separate processes as \`npm start\` runs them; the echo server
              (a) is ${apiProcesses} more (as many as the API: PAYBROKER_API_PROCESSES). The load generator (undici,
              keep-alive, bodies built beforehand) runs in this process.
  code        ${codeVersion()}
  settings    BENCH_OPEN_ROUNDS=${S.openRounds} BENCH_MERCHANTS=${S.merchants} BENCH_BIDS=${S.bids} BENCH_CONCURRENCY=${S.concurrency} BENCH_WARMUP=${S.warmup} BENCH_ROUNDS=${S.rounds}
              BENCH_HALF_SECONDS=${S.halfSeconds} BENCH_HALF_CONNECTIONS=${S.halfConnections} BENCH_QUOTES=${S.quotes} BENCH_QUOTE_WINDOW=${S.quoteWindow} BENCH_QUOTE_CONCURRENCY=${S.quoteConcurrency}
  rounds      ${S.openRounds} sell-first purchases (list price ${(LIST_PRICE_MINOR / 100).toFixed(2)} USD, bids acceptable up to ${(FIRST_BID_MINOR / 100).toFixed(2)}, window ${SELL_WINDOW_SECONDS} s, no
              enoughBids), each authorized and open to ${S.merchants} merchants: made over the API in ${(setupMs / 1000).toFixed(1)} s (untimed);
              ${nextBid} of the ${bidBudget} bids they take were sent (${MAX_BIDS_PER_MERCHANT} per merchant and round)
  bid         ${roundBids[0][0].body.length}-byte body {unitPriceMinor, currency, deliveryDays}, the merchant's key, an Idempotency-Key

a. ceiling    bare express echo (express.json, 64 KiB limit), same bodies and headers, ${S.concurrency} connections, ${S.bids} per round:
              requests/s by round: ${each((x) => x.echoRes.perSecond.toFixed(0))}
              latency ${fmtSummary(all((x) => x.echoRes.latenciesMs))}
              cpu (last round): ${describeCpu(...lastRound.cpu.a, lastRound.echoRes.wallMs)}${failureLines(rounds.flatMap((x) => x.echoRes.failures))}
b. bids       POST /v1/bid-rounds/:id/bids (201), ${S.concurrency} connections, ${S.bids} per round:
              bids/s by round: ${each((x) => `${x.bidRes.perSecond.toFixed(0)} = ${pct(x.ratio)} of (a)`)}
              latency ${fmtSummary(all((x) => x.bidRes.latenciesMs))}
              cpu (last round): ${describeCpu(...lastRound.cpu.b, lastRound.bidRes.wallMs)}${failureLines(rounds.flatMap((x) => x.bidRes.failures))}
c. half rate  open loop at ${halfRate} bids/s (half of the median ${sustainable.toFixed(0)}/s of (b)), ${halfCount} bids, up to ${S.halfConnections} connections:
              ${half.perSecond.toFixed(0)} bids/s done, took ${(half.wallMs / 1000).toFixed(1)} s, latest start ${ms(half.maxStartLagMs)} behind schedule
              latency from the scheduled start ${fmtSummary(halfLat)}
              from the send (the client's own lag left out) ${fmtSummary(summarize(half.sentLatenciesMs))}
              cpu: ${describeCpu(ch0, ch1, half.wallMs)}${failureLines(half.failures)}
d. quotes     ${S.quotes} × POST /v1/quotes (windowSeconds ${S.quoteWindow}, ${S.merchants} auto-bids) then GET ?waitSeconds=${QUOTE_WAIT_SECONDS} until quoted, ${S.quoteConcurrency} at once:
              request → quote ${fmtSummary(quoteLat)}
              of which request → window opened ${fmtSummary(summarize(quoteRes.toOpenMs))}
                       window closed → quote in hand ${fmtSummary(summarize(quoteRes.afterCloseMs))}
              cpu: ${S.quotes ? describeCpu(cq0, cq1, quoteRes.wallMs) : 'n/a'}${failureLines(quoteRes.failures)}

targets
  bids ≥ ${TARGET_RATIO * 100}% of the echo ceiling (median of ${S.rounds} rounds)      ${pct(ratio)}   ${met(ratio >= TARGET_RATIO)}
  bid p99 < ${TARGET_HALF_P99_MS} ms at half the sustainable rate (${halfRate}/s)    p99 ${ms(halfLat.p99)}   ${met(halfLat.p99 < TARGET_HALF_P99_MS)}
  quote p50 within ${TARGET_QUOTE_OVER_WINDOW_MS} ms of the ${S.quoteWindow} s window                p50 ${ms(quoteLat.p50)} = window + ${ms(overWindow)}   ${met(overWindow <= TARGET_QUOTE_OVER_WINDOW_MS)}

correctness
  requests    ${bidFailures} bids failed (warm-up included), ${echoFailures} echoes, ${quoteRes.failures.length} quotes
  bids        ${placed.length} placed: ${booksOk ? `the bids table holds the last of each of ${want.rows} round × merchant pairs, placement counts and prices as sent`
    : `MISMATCH: ${JSON.stringify(got)} in the bids table, expected ${JSON.stringify(want)}`}
  rounds      ${stillOpen} of ${S.openRounds} still open at the end${stillOpen === S.openRounds ? '' : ' (SOME CLOSED)'}
  ledger      trial balance ${trial.text}
${runTimeLines(started, others)}
${RULE}`);
  const ok = bidFailures === 0 && echoFailures === 0 && quoteRes.failures.length === 0 && booksOk && stillOpen === S.openRounds && trial.ok;
  if (!ok) for (const p of [b.procs.api, b.procs.worker]) printOutputTail(p);
  return ok;
}

/** Rounds of these ids open now (bids taken), and the merchants they are open to in all. */
async function openRoundsNow(b: BenchStack, ids: string[]): Promise<Array<{ open: number; merchants: number }>> {
  const { rows } = await b.db.raw(`
    SELECT count(*) FILTER (WHERE r.state = 'open' AND r.closed_at IS NULL AND r.closes_at > clock_timestamp())::int AS open,
      coalesce(sum((SELECT count(*) FROM bid_round_merchants m WHERE m.round_id = r.id)), 0)::int AS merchants
    FROM bid_rounds r WHERE r.id = ANY(?)`, [ids]) as { rows: Array<{ open: number; merchants: number }> };
  return rows;
}

/** The rounds' bids: rows, placements and the sum of their prices. */
async function bidTotals(b: BenchStack, ids: string[]): Promise<{ rows: number; placed: number; priceMinor: number }> {
  const { rows: [r] } = await b.db.raw(`
    SELECT count(*)::int AS rows, coalesce(sum(placed), 0)::bigint AS placed, coalesce(sum(unit_price_minor), 0)::bigint AS price
    FROM bids WHERE round_id = ANY(?)`, [ids]) as { rows: Array<{ rows: number; placed: string; price: string }> };
  return { rows: r.rows, placed: Number(r.placed), priceMinor: Number(r.price) };
}

/**
 * Open loop: request i started at start + i / perSecond, whatever the replies (bench/support/stats.ts openLoop), on
 * keep-alive connections of its own (up to the pool's size; past it a request waits, and the wait counts). Each
 * latency runs from the request's scheduled start to the last byte of its reply, so a late start counts against it;
 * the latency from the send is kept beside it, to tell the client's lag from the server's.
 */
async function atRate(pool: Pool, reqs: BidRequest[], perSecond: number,
  check: (r: BidRequest, status: number, text: string) => string | undefined): Promise<RateResult> {
  const latenciesMs: number[] = [];
  const sentLatenciesMs: number[] = [];
  const failedRequests: number[] = [];
  const failures: string[] = [];
  const fail = (i: number, msg: string) => {
    failedRequests.push(i);
    if (failures.length < 10) failures.push(`#${i}: ${msg}`);
  };
  const start = performance.now();
  const { maxStartLagMs } = await openLoop(reqs.length, 1000 / perSecond, async (i, scheduledAt) => {
    const r = reqs[i];
    const sentAt = performance.now();
    try {
      const res = await pool.request({ path: r.path, method: 'POST', body: r.body, headers: { 'content-type': 'application/json', ...r.headers } });
      const text = await res.body.text();
      const t1 = performance.now();
      const problem = check(r, res.statusCode, text);
      if (problem === undefined) {
        latenciesMs.push(t1 - scheduledAt);
        sentLatenciesMs.push(t1 - sentAt);
      } else {
        fail(i, problem);
      }
    } catch (err) {
      fail(i, (err as Error).message);
    }
  });
  const wallMs = performance.now() - start;
  return { wallMs, latenciesMs, sentLatenciesMs, failedRequests, failures, maxStartLagMs, perSecond: latenciesMs.length / (wallMs / 1000) };
}

// --- main --------------------------------------------------------------------------------------------------
await benchMain({ log, profileDir: process.env.BENCH_PROFILE || undefined }, run);
