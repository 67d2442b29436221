// A small per-process cache of values that may be a little stale (item terms, rule sets, sellers), so a hot
// path does not read them from PostgreSQL on every request. Only found values are kept: a new key is seen at
// once, a change or removal within ttlMs.
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; untilMs: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 100_000) {}

  /** The values of the keys: fresh cached ones, the others fetched in one call (and cached when found). */
  async getMany(keys: string[], fetch: (missing: string[]) => Promise<Map<string, V>>): Promise<Map<string, V>> {
    const now = Date.now();
    const out = new Map<string, V>();
    const missing: string[] = [];
    for (const k of keys) {
      const e = this.entries.get(k);
      if (e && e.untilMs > now) out.set(k, e.value); else missing.push(k);
    }
    if (missing.length === 0) return out;
    const fetched = await fetch(missing);
    if (this.entries.size + fetched.size > this.maxEntries) this.entries.clear();
    for (const [k, v] of fetched) {
      out.set(k, v);
      this.entries.set(k, { value: v, untilMs: now + this.ttlMs });
    }
    return out;
  }
}
