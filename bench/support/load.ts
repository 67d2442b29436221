// A closed-loop HTTP load generator over undici: a fixed number of keep-alive connections, each sending its next
// request as soon as the previous reply has been read in full. One request per connection at a time (no
// pipelining), so `concurrency` is both the connections and the requests in flight. The same generator drives a
// benchmark and its ceiling, so both see the same client cost.
import { Pool } from 'undici';
import { REQUEST_TIMEOUT_MS } from './http';
import { closedLoop } from './stats';

/** How much of a reply the check sees (decoded); the rest is read but not decoded. */
const CHECKED_BYTES = 64 * 1024;
/** Failure messages kept for the report (all are counted). */
const MAX_FAILURE_MESSAGES = 10;

export interface LoadOptions {
  /** Requests sent, numbered 0..requests-1. */
  requests: number;
  /** The i-th request (POST with a JSON body). */
  request: (i: number) => { path: string; body: string; headers: Record<string, string> };
  /**
   * undefined when the reply is as expected, else what was wrong with it. `text` is the reply's first
   * CHECKED_BYTES at most (all of a small reply); the rest is read in full but not decoded, as a client that
   * only needs a reply's head would.
   */
  check: (status: number, text: string, i: number) => string | undefined;
}

export interface LoadResult {
  wallMs: number;
  /** Round trip of each request that succeeded (send → last byte of the reply), ms. */
  latenciesMs: number[];
  failed: number;
  /** Numbers of the requests that failed, and the first few messages. */
  failedRequests: number[];
  failures: string[];
  /** Requests per second that succeeded. */
  perSecond: number;
}

/** The first CHECKED_BYTES of a body as text, after reading all of it. */
async function head(body: AsyncIterable<Buffer>): Promise<string> {
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < CHECKED_BYTES) kept.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(kept).subarray(0, CHECKED_BYTES).toString('utf8');
}

/** Keep-alive connections to one origin; reuse it for a warm-up and the timed run so both use the same sockets. */
export class LoadClient {
  private readonly pool: Pool;
  private closing: Promise<void> | undefined;

  constructor(origin: string, readonly concurrency: number) {
    this.pool = new Pool(origin, {
      connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000,
      headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, // past it, a request counts as failed
    });
  }

  async run(o: LoadOptions): Promise<LoadResult> {
    const latenciesMs: number[] = [];
    const failures: string[] = [];
    const failedRequests: number[] = [];
    const fail = (i: number, msg: string) => {
      failedRequests.push(i);
      if (failures.length < MAX_FAILURE_MESSAGES) failures.push(`#${i}: ${msg}`);
    };
    const wallMs = await closedLoop(o.requests, this.concurrency, async (i) => {
      const r = o.request(i);
      const t0 = performance.now();
      try {
        const res = await this.pool.request({
          path: r.path, method: 'POST', body: r.body, headers: { 'content-type': 'application/json', ...r.headers },
        });
        const text = await head(res.body);
        const t1 = performance.now();
        const problem = o.check(res.statusCode, text, i);
        if (problem === undefined) latenciesMs.push(t1 - t0); else fail(i, problem);
      } catch (err) {
        fail(i, (err as Error).message);
      }
    });
    return { wallMs, latenciesMs, failed: failedRequests.length, failedRequests, failures, perSecond: latenciesMs.length / (wallMs / 1000) };
  }

  /** Closes the connections; later calls do nothing. */
  close(): Promise<void> {
    this.closing ??= this.pool.close();
    return this.closing;
  }
}
