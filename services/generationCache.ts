// A per-process cache of values read from PostgreSQL, each read made after the process read a generation that
// moves on with every change to those values (see ledger/migrations/007). A read under a newer generation
// empties the cache; a fetch is kept only if the generation is still the cache's when it returns. So every
// value in the cache is at least as new as the cache's generation. Only found values are kept: a new key is
// seen at once.
export class GenerationCache<V> {
  private generation = -1;
  private readonly entries = new Map<string, V>();

  constructor(private readonly maxEntries = 100_000) {}

  /** The values of the keys, for a caller that read `generation` before: cached ones, the others fetched in one call. */
  async getMany(generation: number, keys: string[], fetch: (missing: string[]) => Promise<Map<string, V>>): Promise<Map<string, V>> {
    if (generation > this.generation) {
      this.entries.clear();
      this.generation = generation;
    }
    const current = generation === this.generation;
    const out = new Map<string, V>();
    const missing: string[] = [];
    for (const k of keys) {
      const v = current ? this.entries.get(k) : undefined;
      if (v !== undefined) out.set(k, v); else missing.push(k);
    }
    if (missing.length === 0) return out;
    const fetched = await fetch(missing);
    const keep = generation === this.generation;
    if (keep && this.entries.size + fetched.size > this.maxEntries) this.entries.clear();
    for (const [k, v] of fetched) {
      out.set(k, v);
      if (keep) this.entries.set(k, v);
    }
    return out;
  }
}
