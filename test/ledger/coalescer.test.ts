// The natural batching behind hot statements (ledger/coalescer.ts): calls arriving together share a run, each
// gets its own outputs, keys never repeat within a run, limits hold, and a failure reaches only its own group.
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../ledger/coalescer';

function recorder(opts: { maxInFlight: number; maxItems: number; key?: (s: string) => string }, fail?: (items: string[]) => boolean) {
  const runs: string[][] = [];
  let running = 0;
  let maxRunning = 0;
  const c = new Coalescer<string, string>(async (items) => {
    runs.push(items);
    maxRunning = Math.max(maxRunning, ++running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    if (fail?.(items)) throw new Error(`run of ${items.join(',')} failed`);
    return items.map((i) => i.toUpperCase());
  }, opts);
  return { c, runs, maxRunning: () => maxRunning };
}

describe('Coalescer', () => {
  it('runs calls made together as one run and answers each caller its own outputs, in order', async () => {
    const { c, runs } = recorder({ maxInFlight: 1, maxItems: 100 });
    const out = await Promise.all([c.submit(['a']), c.submit(['b', 'c']), c.submit(['d'])]);
    expect(out).toEqual([['A'], ['B', 'C'], ['D']]);
    expect(runs).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('gathers calls that arrive while a run is in flight into the next run', async () => {
    const { c, runs, maxRunning } = recorder({ maxInFlight: 1, maxItems: 100 });
    const first = c.submit(['a']);
    await expect.poll(() => runs.length, { interval: 1 }).toBe(1); // the first run is in flight now
    const later = await Promise.all([c.submit(['b']), c.submit(['c'])]);
    expect(await first).toEqual(['A']);
    expect(later).toEqual([['B'], ['C']]);
    expect(runs).toEqual([['a'], ['b', 'c']]);
    expect(maxRunning()).toBe(1);
  });

  it('keeps runs within maxItems and maxInFlight; a larger call runs alone', async () => {
    const { c, runs, maxRunning } = recorder({ maxInFlight: 2, maxItems: 3 });
    const calls = [['a', 'b'], ['c', 'd'], ['e'], ['f', 'g', 'h', 'i'], ['j']];
    const out = await Promise.all(calls.map((x) => c.submit(x)));
    expect(out).toEqual(calls.map((x) => x.map((s) => s.toUpperCase())));
    expect(runs).toEqual([['a', 'b'], ['c', 'd', 'e'], ['f', 'g', 'h', 'i'], ['j']]);
    expect(maxRunning()).toBe(2);
  });

  it('never puts two items with the same key in one run', async () => {
    const { c, runs } = recorder({ maxInFlight: 1, maxItems: 100, key: (s) => s[0] });
    const out = await Promise.all([c.submit(['a1', 'b1']), c.submit(['a2']), c.submit(['c1']), c.submit(['b2', 'd1'])]);
    expect(out).toEqual([['A1', 'B1'], ['A2'], ['C1'], ['B2', 'D1']]);
    expect(runs).toEqual([['a1', 'b1'], ['a2', 'c1', 'b2', 'd1']]);
  });

  it('fails every call of a failed run, and only those', async () => {
    const { c } = recorder({ maxInFlight: 1, maxItems: 2 }, (items) => items.includes('bad'));
    const results = await Promise.allSettled([c.submit(['x']), c.submit(['bad']), c.submit(['y'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('run of x,bad failed');
    expect(await c.submit([])).toEqual([]);
  });
});
