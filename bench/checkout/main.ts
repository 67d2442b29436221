// npm run bench:checkout — completed checkouts over HTTP against the real API, worker and simulator processes: a
// merchant's checkout session paid on the hosted page, and a broker cart of 5 merchants bought in one payment, each
// compared in the same round with bench:orders' order (bench/support/orders.ts: POST /v1/orders → authorized).
//
//   a. order    BENCH_ORDERS orders, POST /v1/orders (→ authorized_plus_avs), as bench:orders makes them
//   b. session  BENCH_SESSIONS sessions: the merchant's POST /v1/checkout-sessions, then the customer's
//               POST /checkout/:id/pay with a card token (→ session completed, its order authorized_plus_avs)
//   c. cart     BENCH_CARTS carts: a new customer (cookie jar) adds the offers of 5 merchants (POST /carts/add
//               form → 303, followed: GET /carts/:id), POST /carts/:id/quote, POST /carts/:id/purchase with the
//               quoted total (→ purchased: one authorization, 5 orders sharing it)
//
// Each phase runs BENCH_CONCURRENCY customers at once (closed loop). Its CPU is that of all our processes (API,
// worker, simulator, PostgreSQL, Temporal; not the load generator), from its start until the orders, sessions and
// carts it made are in PostgreSQL as completed (the work that trails the replies counts), divided by what it
// completed. Targets, each a same-round ratio whose verdict is the median over BENCH_ROUNDS rounds (3):
// cart CPU ≤ 3 × order CPU; session CPU ≤ 1.25 × order CPU. Throughputs are printed as ratios to the orders/s.
//
// Card tokens are made in advance for all three (as bench:orders does: a card's tokenization is the browser's and
// the processor's, the same for each), and so are the merchants' 5 offers (a merchant's catalog entry, signed once
// and brought by every customer). BENCH_SHIP=1: every order is also shipped in full by its merchant (→ captured),
// the session's and each of the cart's 5 orders too. BENCH_PROFILE=dir: V8 CPU profiles of the API and the worker.
// Checks: every checkout completed, its orders in PostgreSQL in the expected state, a cart's orders adding up to its
// quoted total, the trial balance zero. Exits non-zero on an error or a failed check, not on a missed target.
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../scripts/temporal-cli';
import { cartWorkflowId } from '../../workflows/cart.contract';
import { checkoutSessionWorkflowId } from '../../workflows/checkoutSession.contract';
import { cpuUsed, describeCpu, otherCpuPercent } from '../support/cpu';
import { intEnv } from '../support/env';
import { JsonClient, type JsonReply } from '../support/http';
import {
  type Auth, BenchOrders, createMerchant, ORDER_ADDRESS, ORDER_ITEMS, type OrderRow, SETTLE_TIMEOUT_MS, SHIP_ALL, settledOrders, timings, tokenizeCards,
} from '../support/orders';
import { machineLine, met, printOutputTail, RULE, runTimeLines, trialBalanceCheck } from '../support/report';
import { benchMain, type BenchStack } from '../support/stack';
import { closedLoop, fmtSummary, median, summarize } from '../support/stats';
import { codeVersion } from '../support/version';

// --- settings ----------------------------------------------------------------------------------------------

const S = {
  orders: intEnv('BENCH_ORDERS', 60, 1, 100_000),
  sessions: intEnv('BENCH_SESSIONS', 60, 1, 100_000),
  carts: intEnv('BENCH_CARTS', 20, 1, 20_000),
  concurrency: intEnv('BENCH_CONCURRENCY', 8, 1, 500),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 21),
  warmup: intEnv('BENCH_WARMUP', 8, 0, 10_000),
  ship: intEnv('BENCH_SHIP', 0, 0, 1) === 1,
};

const CART_MERCHANTS = 5;
/** A 5-merchant cart's purchase costs at most this many single orders' CPU. */
const TARGET_CART_RATIO = 3;
/** A checkout session costs at most this many single orders' CPU (the session adds at most 25%). */
const TARGET_SESSION_RATIO = 1.25;
/** How long a customer's page keeps polling an answer that said "still deciding" before the checkout counts as failed. */
const POLL_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 100;

/** The session's items are the order's (titled): the same 96.50 USD with standard shipping to CA. */
const SESSION_ITEMS = ORDER_ITEMS.map((i) => ({ ...i, title: i.sku === 'book' ? 'A book' : 'A lamp' }));
/** Each cart merchant's offer: one hard item (45.00 USD), standard shipping. */
const OFFER = { sku: 'lamp', title: 'A lamp', unitPriceMinor: 4500, kind: 'hard' };
/** The hosted pages ask for the name on the address (api/pages/common.ts addressOf). */
const CUSTOMER_ADDRESS = { name: 'Bench Customer', ...ORDER_ADDRESS };
const ORDER_STATE = S.ship ? 'shipped' : 'authorized_plus_avs';

const log = (msg: string) => console.log(`[bench] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function must(what: string, r: JsonReply, status: number): any {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

type Kind = 'order' | 'session' | 'cart';
/** One checkout of a phase: its orders (id, total), or why it failed. */
interface Checkout { kind: Kind; tag: string; id?: string; orders: Array<{ id: string; totalMinor: number }>; totalMinor?: number; failure?: string }

interface Phase { kind: Kind; count: number; wallMs: number; settleMs: number; completed: number; cpuMs: Record<string, number>;
  cpu: [Record<string, number>, Record<string, number>]; from: Date; to: Date }

async function run(b: BenchStack): Promise<boolean> {
  const started = performance.now();
  const site = b.apiBase.replace(/\/v1$/, '');
  const api = new JsonClient(b.apiBase, S.concurrency * 2);
  const pages = new JsonClient(site, S.concurrency * 2);
  b.onStop('HTTP clients', () => { api.close(); pages.close(); });

  // Merchants over the API: one for orders and sessions, five for the cart, each with its offer (untimed).
  const operatorKey = (await b.stores.principals.create('operator', 'bench operator')).apiKey;
  const shop = await createMerchant(api, operatorKey, 'Bench shop', `bench-merchant-${b.taskQueue}`);
  const cartShops: Array<{ id: string; auth: Auth; offer: string }> = [];
  for (let k = 0; k < CART_MERCHANTS; k++) {
    const m = await createMerchant(api, operatorKey, `Bench cart shop ${k + 1}`, `bench-cart-merchant-${b.taskQueue}-${k}`);
    const o = must('POST /v1/cart-offers', await api.post('/cart-offers', OFFER, { ...m.auth, 'idempotency-key': `bench-offer-${b.taskQueue}-${k}` }), 201);
    cartShops.push({ ...m, offer: o.offer as string });
  }
  const merchantAuth = new Map([[shop.id, shop.auth], ...cartShops.map((m) => [m.id, m.auth] as const)]);
  const shipping = Object.fromEntries(cartShops.map((m) => [m.id, 'standard']));

  const tokensNeeded = (S.warmup * 3) + S.rounds * (S.orders + S.sessions + S.carts);
  log(`tokenizing ${tokensNeeded} cards at the simulator (untimed) ...`);
  const tokens = await tokenizeCards(b, tokensNeeded, 'checkout');
  let nextToken = 0;
  const token = () => tokens[nextToken++];

  const orders = new BenchOrders(api, shop.auth, token);
  const checkouts: Checkout[] = [];
  const times = { order: [] as number[], session: [] as number[], cart: [] as number[] };
  let polls = 0;

  /** Polls a page's status answer until `done` says so (or fails past POLL_TIMEOUT_MS). */
  async function pollUntil(path: string, cookie: Record<string, string>, done: (body: any) => boolean, what: string): Promise<any> {
    for (const deadline = performance.now() + POLL_TIMEOUT_MS; ;) {
      polls++;
      await sleep(POLL_INTERVAL_MS);
      const r = await pages.get(path, cookie);
      if (r.status === 200 && done(r.body)) return r.body;
      if (performance.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(r.body).slice(0, 200)} after ${POLL_TIMEOUT_MS} ms`);
    }
  }

  async function runOrder(tag: string): Promise<void> {
    const t = timings();
    const rec = await orders.run(tag, t, { ship: S.ship });
    checkouts.push({ kind: 'order', tag, orders: rec.failure ? [] : [{ id: rec.id, totalMinor: rec.totalMinor }], failure: rec.failure });
    if (!rec.failure) times.order.push(S.ship ? t.order[0] : t.create[0]);
  }

  async function runSession(tag: string): Promise<void> {
    const c: Checkout = { kind: 'session', tag, orders: [] };
    checkouts.push(c);
    const t0 = performance.now();
    try {
      const s = must('POST /v1/checkout-sessions', await api.post('/checkout-sessions', {
        items: SESSION_ITEMS, successUrl: 'https://shop.example/thanks', cancelUrl: 'https://shop.example/cart',
      }, { ...shop.auth, 'idempotency-key': `bench-session-${tag}` }), 201);
      c.id = s.id as string;
      let paid = must(`POST /checkout/${c.id}/pay`, await pages.post(`/checkout/${c.id}/pay`, {
        token: token(), billingPostalCode: '94107', shippingOptionId: 'standard', optionIds: [], address: CUSTOMER_ADDRESS,
      }, { origin: site }), 200);
      if (paid.session?.state === 'processing') {
        paid = await pollUntil(`/checkout/${c.id}/status`, {}, (x) => x.session?.state !== 'processing', `session ${c.id}`);
      }
      if (paid.session?.state !== 'completed' || paid.order?.state !== 'authorized_plus_avs') {
        throw new Error(`pay: ${JSON.stringify(paid).slice(0, 300)}`);
      }
      c.orders.push({ id: paid.order.id as string, totalMinor: paid.order.totalMinor as number });
      c.totalMinor = paid.order.totalMinor as number;
      if (S.ship) await orders.ship(paid.order.id, paid.order.totalMinor, SHIP_ALL, `TRK-${tag}`);
      times.session.push(performance.now() - t0);
    } catch (err) {
      c.failure = `${tag}: ${(err as Error).message}`;
    }
  }

  async function runCart(tag: string): Promise<void> {
    const c: Checkout = { kind: 'cart', tag, orders: [] };
    checkouts.push(c);
    const t0 = performance.now();
    try {
      const jar: Record<string, string> = {};
      let cartPath = '';
      for (const m of cartShops) {
        const added = await pages.postForm('/carts/add', { offer: m.offer, quantity: '1' }, { origin: site, ...jar });
        must('POST /carts/add', added, 303);
        const set = [added.headers['set-cookie'] ?? []].flat().find((h) => h.startsWith('pb_customer='));
        if (set) jar.cookie = set.split(';')[0];
        cartPath = added.headers.location ?? '';
        must(`GET ${cartPath}`, await pages.get(cartPath, jar), 200);
      }
      c.id = cartPath.split('/').at(-1);
      const address = CUSTOMER_ADDRESS;
      const quote = must(`POST ${cartPath}/quote`, await pages.post(`${cartPath}/quote`, { shipping, address }, { origin: site, ...jar }), 200).quote;
      c.totalMinor = quote.totalMinor as number;
      let bought = must(`POST ${cartPath}/purchase`, await pages.post(`${cartPath}/purchase`, {
        shipping, address, token: token(), billingPostalCode: '94107', expectedTotalMinor: quote.totalMinor,
      }, { origin: site, ...jar }), 200);
      if (bought.state === 'purchasing') bought = await pollUntil(`${cartPath}/status.json`, jar, (x) => x.state !== 'purchasing', `cart ${c.id}`);
      if (bought.state !== 'purchased' || bought.orders?.length !== CART_MERCHANTS) throw new Error(`purchase: ${JSON.stringify(bought).slice(0, 300)}`);
      for (const o of bought.orders as Array<{ merchantId: string; orderId: string }>) c.orders.push({ id: o.orderId, totalMinor: NaN });
      if (S.ship) {
        await Promise.all((bought.orders as Array<{ merchantId: string; orderId: string }>).map((o, k) =>
          orders.ship(o.orderId, undefined, [{ sku: OFFER.sku, quantity: 1 }], `TRK-${tag}-${k}`, merchantAuth.get(o.merchantId))));
      }
      times.cart.push(performance.now() - t0);
    } catch (err) {
      c.failure = `${tag}: ${(err as Error).message}`;
    }
  }

  const runners: Record<Kind, (tag: string) => Promise<void>> = { order: runOrder, session: runSession, cart: runCart };

  /** Until the phase's checkouts are in PostgreSQL as completed (orders in ORDER_STATE, sessions completed, carts purchased). */
  async function settle(done: Checkout[]): Promise<OrderRow[]> {
    const ok = done.filter((c) => !c.failure);
    const rows = await settledOrders(b.db, ok.flatMap((c) => c.orders.map((o) => o.id)), ORDER_STATE);
    const ids = ok.map((c) => c.id!).filter(Boolean);
    const table = done[0]?.kind === 'session' ? 'checkout_sessions' : done[0]?.kind === 'cart' ? 'carts' : undefined;
    const state = table === 'carts' ? 'purchased' : 'completed';
    for (const deadline = Date.now() + SETTLE_TIMEOUT_MS; table && ids.length && Date.now() < deadline; await sleep(200)) {
      const [{ n }] = await b.db(table).whereIn('id', ids).where({ state }).count({ n: '*' });
      if (Number(n) === ids.length) break;
    }
    return rows;
  }

  async function phase(kind: Kind, count: number, round: string): Promise<Phase> {
    const first = checkouts.length;
    const from = new Date();
    const cpu0 = b.cpu.sample();
    const wallMs = await closedLoop(count, S.concurrency, (i) => runners[kind](`${kind}-${round}-${i}-${b.taskQueue}`));
    const t1 = performance.now();
    const done = checkouts.slice(first);
    rowsSeen.push(...await settle(done));
    const cpu1 = b.cpu.sample();
    const completed = done.filter((c) => !c.failure).length;
    return { kind, count, wallMs, settleMs: performance.now() - t1, completed, cpuMs: cpuUsed(cpu0, cpu1), cpu: [cpu0, cpu1], from, to: new Date() };
  }
  const rowsSeen: OrderRow[] = [];

  if (S.warmup > 0) {
    log(`warming up: ${S.warmup} orders, sessions and carts (untimed) ...`);
    for (const kind of ['order', 'session', 'cart'] as const) await phase(kind, S.warmup, 'warm');
  }

  const rounds: Array<Record<Kind, Phase>> = [];
  for (let r = 1; r <= S.rounds; r++) {
    log(`round ${r}/${S.rounds}: ${S.orders} orders, ${S.sessions} sessions, ${S.carts} carts of ${CART_MERCHANTS} merchants; ${S.concurrency} customers at once ...`);
    const order = await phase('order', S.orders, `r${r}`);
    const session = await phase('session', S.sessions, `r${r}`);
    const cart = await phase('cart', S.carts, `r${r}`);
    rounds.push({ order, session, cart });
  }

  const crashed = b.crashed();
  if (crashed) throw new Error(`${crashed.name} exited during the run:\n${crashed.output()}`);

  // Correctness: every checkout completed; its orders in PostgreSQL in ORDER_STATE, captured in full when shipped; a
  // cart's orders add up to the total it was quoted and paid; the ledger balances.
  log('verifying orders and the ledger ...');
  const byId = new Map(rowsSeen.map((r) => [r.id, r]));
  const failures = checkouts.filter((c) => c.failure);
  const badBooks = checkouts.filter((c) => !c.failure).filter((c) => {
    const rows = c.orders.map((o) => byId.get(o.id));
    if (rows.some((r) => !r || r.state !== ORDER_STATE)) return true;
    if (c.kind !== 'cart' && rows.some((r, i) => Number(r!.total_minor) !== c.orders[i].totalMinor)) return true;
    if (c.kind === 'cart' && rows.reduce((s, r) => s + Number(r!.total_minor), 0) !== c.totalMinor) return true;
    return S.ship && rows.some((r) => Number(r!.captured ?? 0) !== Number(r!.total_minor));
  });
  const trial = await trialBalanceCheck(b.db, { emptyOk: !S.ship }); // (authorizations alone post nothing)

  // Where Temporal's share goes: the workflows a checkout runs and their histories (one checkout of each kind), and
  // the workflows each phase of the last round started, by type.
  const tasksOf: Partial<Record<Kind, number>> = {};
  async function historyOf(c: Checkout | undefined): Promise<string> {
    if (!c) return 'n/a';
    const ids = [...(c.kind === 'session' ? [checkoutSessionWorkflowId(c.id!)] : c.kind === 'cart' ? [cartWorkflowId(c.id!)] : []), ...c.orders.map((o) => o.id)];
    const n = { events: 0, workflowTasks: 0, activities: 0, localActivities: 0, updates: 0, signals: 0, timers: 0, children: 0 };
    for (const id of ids) {
      for (const e of (await b.temporal.workflow.getHandle(id).fetchHistory()).events ?? []) {
        n.events++;
        if (e.workflowTaskScheduledEventAttributes) n.workflowTasks++;
        if (e.activityTaskScheduledEventAttributes) n.activities++;
        if (e.markerRecordedEventAttributes) n.localActivities++;
        if (e.workflowExecutionUpdateAcceptedEventAttributes) n.updates++;
        if (e.workflowExecutionSignaledEventAttributes) n.signals++;
        if (e.timerStartedEventAttributes) n.timers++;
        if (e.startChildWorkflowExecutionInitiatedEventAttributes) n.children++;
      }
    }
    tasksOf[c.kind] = n.workflowTasks;
    return `${ids.length} workflow(s), ${n.events} events: ${n.workflowTasks} workflow tasks, ${n.activities} activities, ${n.localActivities} local activities, `
      + `${n.updates} updates, ${n.signals} signals, ${n.timers} timers, ${n.children} children`;
  }
  async function startedDuring(p: Phase): Promise<string> {
    const byType = new Map<string, number>();
    for await (const w of b.temporal.workflow.list({ query: `StartTime >= '${p.from.toISOString()}' AND StartTime < '${p.to.toISOString()}'` })) {
      byType.set(w.type, (byType.get(w.type) ?? 0) + 1);
    }
    return [...byType].map(([t, k]) => `${t} ${(k / (p.completed || NaN)).toFixed(2)}`).join(', ') || 'none';
  }
  const sample = (kind: Kind) => checkouts.filter((c) => c.kind === kind && !c.failure).at(-1);
  const lastRound = rounds[rounds.length - 1];
  const temporalLines = await Promise.all((['order', 'session', 'cart'] as const).map(async (k) =>
    `              ${k.padEnd(8)} one: ${await historyOf(sample(k))}\n                       started per ${k} (last round): ${await startedDuring(lastRound[k])}`))
    .catch((err: unknown) => [`              n/a: ${(err as Error).message}`]);

  // --- report --------------------------------------------------------------------------------------------------
  const GROUPS = ['api', 'worker', 'simulator', 'postgres', 'temporal'];
  const ours = (p: Phase) => GROUPS.reduce((s, g) => s + (p.cpuMs[g] ?? 0), 0);
  const perUnit = (p: Phase) => (p.completed ? ours(p) / p.completed : NaN);
  const perSecond = (p: Phase) => p.completed / (p.wallMs / 1000);
  const ratios = rounds.map((r) => ({ session: perUnit(r.session) / perUnit(r.order), cart: perUnit(r.cart) / perUnit(r.order) }));
  const sessionRatio = median(ratios.map((x) => x.session));
  const cartRatio = median(ratios.map((x) => x.cart));
  const each = (f: (x: Record<Kind, Phase>, i: number) => string) => rounds.map(f).join(', ');
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const last = rounds[rounds.length - 1];
  const others = Math.max(...rounds.flatMap((r) => Object.values(r).map((p) => otherCpuPercent(p.cpu[0], p.cpu[1], p.wallMs + p.settleMs))));
  /** CPU ms per completed checkout by process, summed over the rounds. */
  const split = (kind: Kind) => {
    const done = rounds.reduce((s, r) => s + r[kind].completed, 0) || NaN;
    return [...GROUPS, 'bench'].map((g) => `${g} ${(rounds.reduce((s, r) => s + (r[kind].cpuMs[g] ?? 0), 0) / done).toFixed(1)}`).join(', ');
  };
  /** Each round's wall time of the phase: its load, then the wait for its trailing work (both in its CPU). */
  const walls = (kind: Kind) => `over ${each((r) => `${(r[kind].wallMs / 1000).toFixed(1)}+${(r[kind].settleMs / 1000).toFixed(1)} s`)} load+settling`;
  /** Worker and Temporal CPU per completed checkout of a kind, over the rounds. */
  const workflowCpu = (kind: Kind) => rounds.reduce((s, r) => s + (r[kind].cpuMs.worker ?? 0) + (r[kind].cpuMs.temporal ?? 0), 0)
    / (rounds.reduce((s, r) => s + r[kind].completed, 0) || NaN);
  const taskCpu = (kind: Kind) => workflowCpu(kind) / (tasksOf[kind] ?? NaN);
  const perTask = Math.min(...(['order', 'session', 'cart'] as const).map(taskCpu).filter((x) => !Number.isNaN(x)));
  const orderCpu = median(rounds.map((r) => perUnit(r.order)));
  const failedOf = (kind: Kind) => checkouts.filter((c) => c.kind === kind && c.failure).length;
  const what = S.ship ? 'then shipped in full by its merchant (→ captured)' : 'authorized (not shipped; BENCH_SHIP=1 ships)';
  console.log(`
${RULE}
Paybroker checkout benchmark
  code        ${codeVersion()}
  machine     ${machineLine()}
  stack       PostgreSQL (fsync=off, synchronous_commit=off, full_page_writes=off) and the Temporal dev server (SQLite in
              memory, synchronous=OFF, dynamic config ${Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}):
              NON-DURABLE fast settings of the tests, so the figures are upper bounds. API, worker and simulator are
              separate processes; the load generator (bench) runs in this process, on the same machine.
  settings    BENCH_ORDERS=${S.orders} BENCH_SESSIONS=${S.sessions} BENCH_CARTS=${S.carts} BENCH_CONCURRENCY=${S.concurrency} BENCH_ROUNDS=${S.rounds} BENCH_WARMUP=${S.warmup} BENCH_SHIP=${S.ship ? 1 : 0}
  checkouts   each ${what}; ${S.concurrency} customers at once; card tokens and the merchants' offers made beforehand
              a. order    POST /v1/orders: 2 hard items + standard shipping + CA tax = 96.50 USD (bench:orders' order)
              b. session  POST /v1/checkout-sessions (the same items), POST /checkout/:id/pay → session completed
              c. cart     ${CART_MERCHANTS} × (POST /carts/add → 303, GET /carts/:id), POST /carts/:id/quote, POST /carts/:id/purchase →
                          purchased: 1 authorization, ${CART_MERCHANTS} orders (45.00 + 5.00 shipping + tax each)
  cpu         of api, worker, simulator, postgres and temporal (not bench), from a phase's start until its orders,
              sessions and carts are completed in PostgreSQL, per completed checkout

a. order      orders/s by round: ${each((r) => perSecond(r.order).toFixed(1))}; ${failedOf('order')} failed
              cpu per order by round: ${each((r) => `${perUnit(r.order).toFixed(1)} ms`)} (${walls('order')})
              by process (ms, all rounds): ${split('order')}
              latency ${fmtSummary(summarize(times.order))}
              cpu (last round): ${describeCpu(last.order.cpu[0], last.order.cpu[1], last.order.wallMs + last.order.settleMs)}
b. session    sessions/s by round: ${each((r) => `${perSecond(r.session).toFixed(1)} = ${pct(perSecond(r.session) / perSecond(r.order))} of its round's orders/s`)}; ${failedOf('session')} failed
              cpu per session by round: ${each((r, i) => `${perUnit(r.session).toFixed(1)} ms = ${ratios[i].session.toFixed(2)} × its round's order`)} (${walls('session')})
              by process (ms, all rounds): ${split('session')}
              create → completed ${fmtSummary(summarize(times.session))}
              cpu (last round): ${describeCpu(last.session.cpu[0], last.session.cpu[1], last.session.wallMs + last.session.settleMs)}
c. cart       carts/s by round: ${each((r) => `${perSecond(r.cart).toFixed(1)} = ${pct(perSecond(r.cart) / perSecond(r.order))} of its round's orders/s`)}; ${failedOf('cart')} failed
              cpu per cart by round: ${each((r, i) => `${perUnit(r.cart).toFixed(1)} ms = ${ratios[i].cart.toFixed(2)} × its round's order`)} (${walls('cart')})
              by process (ms, all rounds): ${split('cart')}
              first add → purchased ${fmtSummary(summarize(times.cart))}
              cpu (last round): ${describeCpu(last.cart.cpu[0], last.cart.cpu[1], last.cart.wallMs + last.cart.settleMs)}
              ${polls} status polls (a pay or purchase answered while still deciding); ${orders.pendingReplies} replies 202 and ${orders.unavailableReplies} 503 repeated

temporal      the workflows of one checkout, and the workflows a phase started per completed checkout:
${temporalLines.join('\n')}

floor         the workflow tasks the design needs, each at the cheapest CPU per workflow task (worker + Temporal) of this
              run's phases (${perTask.toFixed(1)} ms; by phase ${(['order', 'session', 'cart'] as const).map((k) => `${k} ${taskCpu(k).toFixed(1)}`).join(', ')}), all else free:
              session ≥ 1 task more than its order (the session is a workflow of its own; as built ${MIN_TASKS.session}: its start, the
                        payment, the order's start, the outcome) = + ${(perTask / orderCpu * 100).toFixed(0)}% of an order's CPU at the least (target + 25%)
              cart    ≥ ${MIN_TASKS.cart} tasks (${CART_MERCHANTS} adds, the purchase, ${CART_MERCHANTS} orders) = ${(MIN_TASKS.cart * perTask).toFixed(1)} ms ≥ ${(MIN_TASKS.cart * perTask / orderCpu).toFixed(2)} × an order's CPU (target 3 ×)

targets (median of ${S.rounds} rounds of same-round ratios)
  a ${CART_MERCHANTS}-merchant cart costs ≤ ${TARGET_CART_RATIO.toFixed(2)} × an order's CPU      ${cartRatio.toFixed(2)} ×   ${met(cartRatio <= TARGET_CART_RATIO)}${
  cartRatio > TARGET_CART_RATIO ? `   (over by ${pct(cartRatio / TARGET_CART_RATIO - 1)})` : ''}
  a session costs ≤ ${TARGET_SESSION_RATIO.toFixed(2)} × an order's CPU               ${sessionRatio.toFixed(2)} ×   ${met(sessionRatio <= TARGET_SESSION_RATIO)}${
  sessionRatio > TARGET_SESSION_RATIO ? `   (over by ${pct(sessionRatio / TARGET_SESSION_RATIO - 1)})` : ''}

correctness
  checkouts   ${checkouts.length} (warm-up included): ${failures.length} failed, ${badBooks.length} whose orders in PostgreSQL do not match
  ledger      trial balance ${trial.text}
${runTimeLines(started, others)}
${RULE}`);
  for (const f of failures.slice(0, 10)) console.log(`  failed: ${f.failure}`);
  for (const c of badBooks.slice(0, 10)) console.log(`  books: ${c.kind} ${c.id ?? ''} ${JSON.stringify(c.orders.map((o) => byId.get(o.id) ?? o.id))}, expected ${c.totalMinor ?? ''}`);
  if (failures.length || badBooks.length) for (const p of [b.procs.api, b.procs.worker]) printOutputTail(p);
  return failures.length === 0 && badBooks.length === 0 && trial.ok;
}

/**
 * Workflow tasks a checkout needs as the issue has it built: a session is a workflow of its own that starts its order
 * as a child and hears its outcome (these beyond its order's own); a cart is an entity that takes each add as an
 * update, and its purchase starts one order per merchant (the orders' starts may share a task with the purchase's).
 */
const MIN_TASKS = { session: 4, cart: 2 * CART_MERCHANTS + 1 };

// --- main --------------------------------------------------------------------------------------------------
await benchMain({ log, profileDir: process.env.BENCH_PROFILE || undefined }, run);
