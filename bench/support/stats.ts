// Latency summaries and the two load shapes the benchmarks use: a fixed number in flight (closed loop) and a
// fixed start rate whatever the completions (open loop).

/** Nearest-rank percentile of the values (p in 0..100); NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export interface Summary { n: number; p50: number; p90: number; p99: number; max: number; mean: number }

export function summarize(values: number[]): Summary {
  const mean = values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
  return {
    n: values.length, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : NaN, mean,
  };
}

/** The middle value (the upper one of an even count): a verdict over rounds that one odd round cannot flip. */
export const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

export const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
export const fmtSummary = (s: Summary) =>
  `p50 ${ms(s.p50)}, p90 ${ms(s.p90)}, p99 ${ms(s.p99)}, max ${ms(s.max)} (n=${s.n})`;

/** Runs job(0..count-1) with at most `concurrency` in flight; resolves with the wall time in ms. */
export async function closedLoop(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await job(next++);
  }));
  return performance.now() - start;
}

/**
 * Starts job(i, scheduledAt) at start + i * intervalMs for i < count, without waiting for earlier jobs; resolves
 * once every job has finished, with the largest delay between a job's scheduled and actual start.
 */
export async function openLoop(count: number, intervalMs: number,
  job: (i: number, scheduledAt: number) => Promise<void>): Promise<{ maxStartLagMs: number }> {
  const start = performance.now();
  const running: Array<Promise<void>> = [];
  let maxStartLagMs = 0;
  for (let i = 0; i < count; i++) {
    const scheduledAt = start + i * intervalMs;
    const wait = scheduledAt - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    maxStartLagMs = Math.max(maxStartLagMs, performance.now() - scheduledAt);
    running.push(job(i, scheduledAt));
  }
  await Promise.all(running);
  return { maxStartLagMs };
}
