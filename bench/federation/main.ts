// npm run bench:federation — a purchase paid across two payment services against the same purchase inside one,
// measured in the same run on two real deployments and the gateway directory (bench/support/federation.ts: each
// service's API and worker its own process as `npm start` runs them, the gateways over mutual TLS):
//
//   a. cross-service   POST /v1/federation/payments at A by A's seller, with the alias of one of B's buyers (its
//                      rule set allows it): A looks the alias up in the directory, federatedPaymentWorkflow asks B's
//                      gateway, B decides by the buyer's rules and records it, A records it; 201 authorized
//   b. in-service      POST /v1/micropayments at A by one of A's buyers, with its rule-set token, for the same item of
//                      the same seller (the ceiling: the purchase without the second service)
//   c. in-service at B POST /v1/micropayments at B by one of B's buyers, for the same item of a seller of B: what the
//                      buyer's service must do of a cross-service payment in any design (decide by the buyer's rules
//                      and record it).
//   d. the hop         signed requests over mutual TLS from A's credentials to B's gateway, answered after its checks
//                      (the peer's certificate against the directory, the signature, the nonce) with nothing to decide
//                      (an empty body: 400): what any cross-service payment adds to (b) and (c).
//   A cross-service payment does (b)'s work at A, (c)'s at B and one hop (d), on the same cores, so its rate is at
//   most 1 / (1/b + 1/c + 1/d), whatever the design: printed as the bound the targets are measured against.
//
// BENCH_PAYMENTS (150) payments per phase and round, BENCH_CONCURRENCY (8) clients at once (bench/support/load.ts:
// keep-alive connections, one request each at a time, bodies built beforehand), spread over BENCH_BUYERS (8) buyers
// on each side (each buyer's key within the API's rate limit). BENCH_ROUNDS (3) rounds each run a then b; the
// verdicts are the medians over the rounds of the same-round ratios: rate (a)/(b) ≥ 0.5, p50 (a)/(b) ≤ 2. First,
// BENCH_WARMUP (30) of each go untimed. Checks: every payment answered as expected, each recorded once on each side
// (A: from B's service to the seller, B: from the buyer to A's service; A: from its buyer to the seller), both
// ledgers' trial balances zero. Exits non-zero on an error or a failed check, not on a missed target.
import { availableParallelism, loadavg } from 'node:os';
import type { Db } from '../../ledger/db';
import { HttpProcessorClient } from '../../processors/http-client';
import { loadGatewayCredentials, signRequest, tlsClientOptions } from '../../processors/federation/pki';
import { Agent, request } from 'undici';
import { cpuUsed, describeCpu, otherCpuPercent } from '../support/cpu';
import { intEnv } from '../support/env';
import { startFederationBench, type FederationBench } from '../support/federation';
import { JsonClient } from '../support/http';
import { LoadClient, type LoadResult } from '../support/load';
import { type BenchBuyer, BENCH_ITEMS, createBuyer, createSeller, tokenizeCard } from '../support/micro';
import { machineLine, met, printOutputTail, RULE, runTimeLines, trialBalanceCheck } from '../support/report';
import { benchProcess } from '../support/stack';
import { closedLoop, fmtSummary, median, summarize } from '../support/stats';
import { codeVersion } from '../support/version';

// --- settings ----------------------------------------------------------------------------------------------
const S = {
  payments: intEnv('BENCH_PAYMENTS', 150, 1, 1_000_000),
  concurrency: intEnv('BENCH_CONCURRENCY', 8, 1, 1_000),
  buyers: intEnv('BENCH_BUYERS', 8, 1, 1_000),
  warmup: intEnv('BENCH_WARMUP', 30, 0, 100_000),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 21),
};
const TARGET_RATE_RATIO = 0.5;
const TARGET_P50_RATIO = 2;
/** The item every payment buys (5 cents, category news). */
const ITEM = BENCH_ITEMS[0];
const FEE_BPS = 500;
const log = (msg: string) => console.log(`[bench] ${msg}`);
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

interface Request { clientId: string; body: string; headers: Record<string, string> }

async function run(f: FederationBench): Promise<boolean> {
  const started = performance.now();
  const runTag = Math.random().toString(36).slice(2, 8);
  const setup = (base: string) => {
    const c = new JsonClient(base, 8);
    f.onStop('setup client', () => c.close());
    return c;
  };
  const [apiA, apiB] = [setup(f.a.apiBase), setup(f.b.apiBase)];

  // --- setup (untimed): at A a seller with the item and buyers; at B buyers, each with an alias of its rule set --------
  log(`setup: at A a seller and ${S.buyers} buyers, at B ${S.buyers} buyers with an alias each, over the APIs ...`);
  const t0 = performance.now();
  const [opA, opB] = [(await f.a.stores.principals.create('operator', 'bench operator')).apiKey,
    (await f.b.stores.principals.create('operator', 'bench operator')).apiKey];
  const seller = await createSeller(apiA, opA, `fed-${runTag}`, FEE_BPS, [ITEM]);
  const sellerB = await createSeller(apiB, opB, `fedb-${runTag}`, FEE_BPS, [ITEM]);
  const sim = new HttpProcessorClient({ baseUrl: f.simulatorUrl });
  const buyersA: BenchBuyer[] = new Array(S.buyers);
  const buyersB: Array<BenchBuyer & { alias: string }> = new Array(S.buyers);
  await closedLoop(S.buyers, 4, async (k) => {
    buyersA[k] = await createBuyer(apiA, opA, await tokenizeCard(sim, `bench-fed-tok-a-${runTag}-${k}`), `fed-a-${runTag}-${k}`);
    const buyer = await createBuyer(apiB, opB, await tokenizeCard(sim, `bench-fed-tok-b-${runTag}-${k}`), `fed-b-${runTag}-${k}`);
    const r = await apiB.post('/federation/aliases', { ruleSetId: buyer.ruleSetId }, { ...auth(buyer.apiKey), 'idempotency-key': `bench-alias-${runTag}-${k}` });
    if (r.status !== 201) throw new Error(`POST /v1/federation/aliases at B: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    buyersB[k] = { ...buyer, alias: r.body.alias as string };
  });
  const setupMs = performance.now() - t0;

  // --- the requests, built beforehand ------------------------------------------------------------------------------
  const federated = (tag: string, n: number): Request[] => Array.from({ length: n }, (_, i) => {
    const clientId = `${tag}-${runTag}-${i}`;
    return {
      clientId, headers: auth(seller.apiKey),
      body: JSON.stringify({ clientId, buyerIdentifier: buyersB[i % S.buyers].alias, itemId: ITEM.id, currency: 'USD', amountMinor: ITEM.priceMinor }),
    };
  });
  const inService = (tag: string, n: number): Request[] => Array.from({ length: n }, (_, i) => {
    const clientId = `${tag}-${runTag}-${i}`;
    const buyer = buyersA[i % S.buyers];
    return {
      clientId, headers: auth(buyer.apiKey),
      body: JSON.stringify({ clientId, buyerToken: buyer.ruleSetToken, sellerId: seller.id, itemId: ITEM.id, currency: 'USD', amountMinor: ITEM.priceMinor }),
    };
  });
  const atB = (tag: string, n: number): Request[] => Array.from({ length: n }, (_, i) => {
    const clientId = `${tag}-${runTag}-${i}`;
    const buyer = buyersB[i % S.buyers];
    return {
      clientId, headers: auth(buyer.apiKey),
      body: JSON.stringify({ clientId, buyerToken: buyer.ruleSetToken, sellerId: sellerB.id, itemId: ITEM.id, currency: 'USD', amountMinor: ITEM.priceMinor }),
    };
  });
  const warm = { fed: federated('fedwarm', S.warmup), micro: inService('microwarm', S.warmup), atB: atB('bwarm', S.warmup) };
  const rounds = Array.from({ length: S.rounds }, (_, r) => ({ fed: federated(`fed${r}`, S.payments), micro: inService(`micro${r}`, S.payments),
    atB: atB(`b${r}`, S.payments) }));

  const client = new LoadClient(new URL(f.a.apiBase).origin, S.concurrency);
  f.onStop('load client', () => client.close());
  const clientB = new LoadClient(new URL(f.b.apiBase).origin, S.concurrency);
  f.onStop('load client of B', () => clientB.close());
  // a federated payment is right when decided at once and authorized; a micro-payment when recorded (its clientId in the answer)
  const sendFederated = (reqs: Request[]) => client.run({
    requests: reqs.length, request: (i) => ({ path: '/v1/federation/payments', body: reqs[i].body, headers: reqs[i].headers }),
    check: (status, text, i) => (status === 201 && text.includes('"state":"authorized"') && text.includes(reqs[i].clientId)
      ? undefined : `${status} ${text.slice(0, 300)}`),
  });
  const sendInService = (reqs: Request[]) => client.run({
    requests: reqs.length, request: (i) => ({ path: '/v1/micropayments', body: reqs[i].body, headers: reqs[i].headers }),
    check: (status, text, i) => (status === 201 && text.includes(reqs[i].clientId) ? undefined : `${status} ${text.slice(0, 300)}`),
  });

  const sendAtB = (reqs: Request[]) => clientB.run({
    requests: reqs.length, request: (i) => ({ path: '/v1/micropayments', body: reqs[i].body, headers: reqs[i].headers }),
    check: (status, text, i) => (status === 201 && text.includes(reqs[i].clientId) ? undefined : `${status} ${text.slice(0, 300)}`),
  });

  log(`warming up (untimed): ${S.warmup} cross-service and ${S.warmup} in-service payments at A and at B ...`);
  const warmRes = [await sendFederated(warm.fed), await sendInService(warm.micro), await sendAtB(warm.atB)];
  const loadBefore = loadavg()[0];

  // d. the hop: signed requests over mutual TLS to B's gateway, from A's credentials
  const creds = loadGatewayCredentials(f.credentialsDir, f.a.gatewayId);
  const hopAgent = new Agent({ connections: S.concurrency, connect: tlsClientOptions(creds) });
  f.onStop('hop agent', () => hopAgent.close());
  const hopPath = '/federation/v1/authorizations';
  const hops = async (n: number): Promise<{ perSecond: number; wrong: number }> => {
    let wrong = 0;
    const ms = await closedLoop(n, S.concurrency, async () => {
      const headers = { 'content-type': 'application/json', ...signRequest(creds.keyPem, creds.gatewayId, { method: 'POST', path: hopPath, body: '{}' }) };
      const res = await request(`${f.b.gatewayUrl}${hopPath}`, { method: 'POST', headers, body: '{}', dispatcher: hopAgent });
      const text = await res.body.text();
      if (res.statusCode !== 400 || !text.includes('invalid_request')) wrong++;
    });
    return { perSecond: n / (ms / 1000), wrong };
  };
  await hops(S.warmup);

  type Cpu = [Record<string, number>, Record<string, number>];
  const measured: Array<{ fed: LoadResult; micro: LoadResult; atB: LoadResult; hop: { perSecond: number; wrong: number }; cpu: { fed: Cpu; micro: Cpu; atB: Cpu } }> = [];
  for (const [r, reqs] of rounds.entries()) {
    log(`round ${r + 1}/${S.rounds}: a. ${S.payments} cross-service, b. ${S.payments} in-service at A, c. ${S.payments} at B, ${S.concurrency} clients ...`);
    const c0 = f.cpu.sample();
    const fed = await sendFederated(reqs.fed);
    const c1 = f.cpu.sample();
    const micro = await sendInService(reqs.micro);
    const c2 = f.cpu.sample();
    const inB = await sendAtB(reqs.atB);
    const c3 = f.cpu.sample();
    const hop = await hops(S.payments);
    measured.push({ fed, micro, atB: inB, hop, cpu: { fed: [c0, c1], micro: [c1, c2], atB: [c2, c3] } });
  }
  await client.close();
  await clientB.close();
  const crashed = f.crashed();
  if (crashed) throw new Error(`${crashed.name} exited during the run:\n${crashed.output()}`);

  // --- correctness: each payment answered is recorded once on each side; both ledgers balance ------------------------
  log('verifying the recorded payments and both ledgers ...');
  const fedIds = [...warm.fed, ...rounds.flatMap((x) => x.fed)].map((x) => x.clientId);
  const microIds = [...warm.micro, ...rounds.flatMap((x) => x.micro)].map((x) => x.clientId);
  const count = async (db: Db, where: Record<string, string>, like: string) => {
    const { rows: [got] } = await db.raw(`SELECT count(*)::int AS n, coalesce(sum(amount_minor), 0)::bigint AS amount FROM micro_payments
      WHERE buyer_id LIKE ? AND seller_id LIKE ? AND client_id LIKE ?`, [where.buyer, where.seller, like]) as { rows: Array<{ n: number; amount: string }> };
    return { n: got.n, amount: Number(got.amount) };
  };
  const books: string[] = [];
  const expect = (what: string, got: { n: number; amount: number }, n: number) => {
    if (got.n !== n || got.amount !== n * ITEM.priceMinor) books.push(`${what}: ${got.n} rows, ${got.amount} minor; expected ${n}, ${n * ITEM.priceMinor}`);
  };
  // (A records a federated payment with its own client id; its rows are counted by buyer and seller)
  expect('A: from B\'s service to the seller', await count(f.a.db, { buyer: `federation:${f.b.gatewayId}`, seller: seller.id }, '%'), fedIds.length);
  expect('B: from its buyers to A\'s service', await count(f.b.db, { buyer: '%', seller: `federation:${f.a.gatewayId}` }, '%'), fedIds.length);
  expect('A: from its buyers to the seller', await count(f.a.db, { buyer: 'buy_%', seller: seller.id }, `micro%-${runTag}-%`), microIds.length);
  const atBIds = [...warm.atB, ...rounds.flatMap((x) => x.atB)];
  expect('B: from its buyers to its seller', await count(f.b.db, { buyer: 'buy_%', seller: sellerB.id }, `b%-${runTag}-%`), atBIds.length);
  const trials = [await trialBalanceCheck(f.a.db, { emptyOk: true }), await trialBalanceCheck(f.b.db, { emptyOk: true })];
  const failed = [...warmRes, ...measured.flatMap((x) => [x.fed, x.micro, x.atB])].reduce((n, x) => n + x.failed, 0)
    + measured.reduce((n, x) => n + x.hop.wrong, 0);

  // --- report ------------------------------------------------------------------------------------------------------
  const rateRatio = median(measured.map((x) => x.fed.perSecond / x.micro.perSecond));
  // the bound: a's work includes b's at A and c's at B on the same cores (Little's law: at the same concurrency the
  // mean latency is the concurrency over the rate, so the latency ratio is bounded by the inverse of the rate bound)
  const boundOf = (x: typeof measured[number]) => 1 / (1 + x.micro.perSecond / x.atB.perSecond + x.micro.perSecond / x.hop.perSecond);
  const rateBound = median(measured.map(boundOf));
  const p50Ratio = median(measured.map((x) => summarize(x.fed.latenciesMs).p50 / summarize(x.micro.latenciesMs).p50));
  const each = (g: (x: typeof measured[number]) => string) => measured.map(g).join(', ');
  const all = (g: (x: typeof measured[number]) => number[]) => summarize(measured.flatMap(g));
  const perPayment = (before: Record<string, number>, after: Record<string, number>, n: number) =>
    Object.entries(cpuUsed(before, after)).filter(([, v]) => v / n >= 0.05).map(([k, v]) => `${k} ${(v / n).toFixed(2)}`).join(', ');
  const last = measured[measured.length - 1];
  const others = Math.max(...measured.flatMap((x) => [otherCpuPercent(...x.cpu.fed, x.fed.wallMs), otherCpuPercent(...x.cpu.micro, x.micro.wallMs)]));
  const failureLines = (rs: LoadResult[]) => rs.flatMap((r) => r.failures).map((m) => `\n              failed ${m}`).join('');
  console.log(`
${RULE}
Paybroker federation benchmark: a purchase across two payment services against the same purchase inside one
  machine     ${machineLine()}; load average after the warm-ups: ${loadBefore.toFixed(2)}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and the Temporal dev server of the
              tests: NON-DURABLE fast settings, so the figures are upper bounds. Two deployments, each its own database
              (one cluster), task queue, API process(es) (PAYBROKER_API_PROCESSES) and worker; one processor simulator; the
              gateway directory; gateways over mutual TLS with signed requests. The load generator runs in this process.
  code        ${codeVersion()}
  settings    BENCH_PAYMENTS=${S.payments} BENCH_CONCURRENCY=${S.concurrency} BENCH_BUYERS=${S.buyers} BENCH_WARMUP=${S.warmup} BENCH_ROUNDS=${S.rounds}
  parties     A: a seller (item ${ITEM.id}, ${ITEM.priceMinor} USD minor, fee ${FEE_BPS / 100}%) and ${S.buyers} buyers; B: ${S.buyers} buyers, each an alias of
              its rule set (no caps); made over the APIs in ${(setupMs / 1000).toFixed(1)} s (untimed)

a. cross-service  POST /v1/federation/payments at A, a B buyer's alias (201 authorized), ${S.concurrency} clients, ${S.payments} per round:
              payments/s by round: ${each((x) => x.fed.perSecond.toFixed(0))}
              latency ${fmtSummary(all((x) => x.fed.latenciesMs))}
              cpu (last round): ${describeCpu(...last.cpu.fed, last.fed.wallMs)}
              cpu ms per payment (last round): ${perPayment(...last.cpu.fed, last.fed.latenciesMs.length)}${failureLines(measured.map((x) => x.fed))}
b. in-service     POST /v1/micropayments at A, an A buyer's rule-set token, same item (201), ${S.concurrency} clients, ${S.payments} per round:
              payments/s by round: ${each((x) => x.micro.perSecond.toFixed(0))}
              latency ${fmtSummary(all((x) => x.micro.latenciesMs))}
              cpu (last round): ${describeCpu(...last.cpu.micro, last.micro.wallMs)}
              cpu ms per payment (last round): ${perPayment(...last.cpu.micro, last.micro.latenciesMs.length)}${failureLines(measured.map((x) => x.micro))}
c. in-service at B  POST /v1/micropayments at B, a B buyer's rule-set token, the same item of a seller of B (201), ${S.concurrency} clients, ${S.payments} per round:
              payments/s by round: ${each((x) => x.atB.perSecond.toFixed(0))}
              latency ${fmtSummary(all((x) => x.atB.latenciesMs))}
              cpu ms per payment (last round): ${perPayment(...last.cpu.atB, last.atB.latenciesMs.length)}${failureLines(measured.map((x) => x.atB))}

d. the hop       signed POSTs over mutual TLS to B's gateway, answered after its checks (400: nothing to decide), ${S.concurrency} clients, ${S.payments} per round:
              requests/s by round: ${each((x) => x.hop.perSecond.toFixed(0))}

bound (a cross-service payment does b's work at A, c's at B and one hop d, on the same ${availableParallelism()} cores, whatever the design)
  rate: at most 1 / (1/b + 1/c + 1/d) = ${rateBound.toFixed(3)} of in-service (median of rounds: ${each((x) => boundOf(x).toFixed(3))}); at the same concurrency the
        p50 ratio is then at least about ${(1 / rateBound).toFixed(2)}. The targets below are ${rateBound < TARGET_RATE_RATIO ? 'OUT OF REACH here' : 'within reach'}; a reaches ${(rateRatio / rateBound * 100).toFixed(0)}% of its bound.

targets (the median of the ${S.rounds} rounds' same-round ratios)
  rate: cross-service ≥ ${TARGET_RATE_RATIO * 100}% of in-service     by round: ${each((x) => (x.fed.perSecond / x.micro.perSecond).toFixed(3))}   median ${rateRatio.toFixed(3)}   ${met(rateRatio >= TARGET_RATE_RATIO)}
  p50: cross-service ≤ ${TARGET_P50_RATIO} × in-service          by round: ${each((x) => (summarize(x.fed.latenciesMs).p50 / summarize(x.micro.latenciesMs).p50).toFixed(2))}   median ${p50Ratio.toFixed(2)}   ${met(p50Ratio <= TARGET_P50_RATIO)}

correctness
  requests    ${failed} failed (warm-up included)
  payments    ${fedIds.length} cross-service and ${microIds.length} in-service: ${books.length ? `MISMATCH in ${books.length} place(s)` : 'each recorded once on each side, with its amount'}
  ledgers     A: trial balance ${trials[0].text}; B: ${trials[1].text}
${runTimeLines(started, others)}
${RULE}`);
  for (const m of books) console.log(`  books: ${m}`);
  if (failed || books.length) {
    printOutputTail(f.a.procs.api, "A's API");
    printOutputTail(f.b.procs.api, "B's API");
    printOutputTail(f.a.procs.worker, "A's worker");
  }
  return failed === 0 && books.length === 0 && trials.every((t) => t.ok);
}

// --- main --------------------------------------------------------------------------------------------------
let stopStack: () => Promise<void> = async () => {};
await benchProcess(log, () => stopStack(), async () => {
  const t0 = performance.now();
  const f = await startFederationBench(log, (stop) => { stopStack = stop; });
  log(`two deployments and the directory ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return run(f);
});
