// Micro-payment parties for the benchmarks, made through the API as an operator, a buyer and a seller make them
// (as test/support/micro.ts does): a buyer is a card token from the simulator, POST /v1/buyers, then its rule set
// (POST /v1/rule-sets with the buyer's key); a seller is POST /v1/sellers, then PUT of each item's terms.
import { randomBytes } from 'node:crypto';
import { HttpProcessorClient } from '../../processors/http-client';
import { JsonClient, type JsonReply } from './http';
import type { BenchStack } from './stack';

/** The simulator's always-approved test card. */
const APPROVED_CARD = '4242424242424242';

/** What a micro-payment benchmark's run starts with: its start time, a tag for its names, the API, an operator. */
export async function startMicroRun(b: BenchStack, concurrency: number) {
  const started = performance.now();
  const runTag = randomBytes(3).toString('hex');
  const api = new JsonClient(b.apiBase, concurrency);
  b.onStop('HTTP client', () => api.close());
  const operatorKey = (await b.stores.principals.create('operator', 'bench operator')).apiKey;
  return { started, runTag, api, operatorKey };
}

/** Seller k's broker fee rate (5% to 14%). */
export const feeBpsOf = (k: number) => 500 + (k % 10) * 100;

export interface BenchBuyer {
  id: string;
  apiKey: string;
  /** The buyer's rule set and its token, which the buyer's program presents with each payment. */
  ruleSetId: string;
  ruleSetToken: string;
}

export interface BenchItem { id: string; priceMinor: number; category: string; grantSeconds: number }

/** The items the micro-payment benchmarks' sellers publish. */
export const BENCH_ITEMS: readonly BenchItem[] = [
  { id: 'article', priceMinor: 5, category: 'news', grantSeconds: 86_400 },
  { id: 'video', priceMinor: 25, category: 'video', grantSeconds: 3_600 },
  { id: 'report', priceMinor: 120, category: 'research', grantSeconds: 30 * 86_400 },
];

export interface BenchSeller { id: string; apiKey: string; feeBps: number }

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

function must(what: string, r: JsonReply, status: number): any {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/** A card token at the simulator for the approved test card, one per key (a repeated key returns the same token). */
export async function tokenizeCard(sim: HttpProcessorClient, idempotencyKey: string): Promise<string> {
  return (await sim.tokenize({ cardNumber: APPROVED_CARD, expMonth: 12, expYear: 2099 }, idempotencyKey)).token;
}

/** A buyer (no caps: an empty rule set) with its rule set, through the API. */
export async function createBuyer(api: JsonClient, operatorKey: string, paymentToken: string, tag: string): Promise<BenchBuyer> {
  const b = must('POST /v1/buyers', await api.post('/buyers', { name: `Bench buyer ${tag}`, currency: 'USD', paymentToken },
    { ...auth(operatorKey), 'idempotency-key': `bench-buyer-${tag}` }), 201);
  const rs = must('POST /v1/rule-sets', await api.post('/rule-sets', { rules: {} },
    { ...auth(b.apiKey), 'idempotency-key': `bench-rule-set-${tag}` }), 201);
  return { id: b.id, apiKey: b.apiKey, ruleSetId: rs.id, ruleSetToken: rs.token };
}

/** A seller with its items' terms, through the API. */
export async function createSeller(api: JsonClient, operatorKey: string, tag: string, feeBps: number, items: readonly BenchItem[]): Promise<BenchSeller> {
  const s = must('POST /v1/sellers', await api.post('/sellers', {
    name: `Bench seller ${tag}`, currency: 'USD', payoutDestination: `acct_bench_${tag}`, feeBps,
  }, { ...auth(operatorKey), 'idempotency-key': `bench-seller-${tag}` }), 201);
  for (const it of items) {
    must(`PUT /v1/sellers/${s.id}/items/${it.id}`, await api.put(`/sellers/${s.id}/items/${it.id}`, {
      title: `Item ${it.id}`, category: it.category, priceMinor: it.priceMinor, currency: 'USD', grantSeconds: it.grantSeconds,
    }, auth(s.apiKey)), 201);
  }
  return { id: s.id, apiKey: s.apiKey, feeBps };
}
