// Natural batching for hot statements ("group commit"): calls that arrive while statements are in flight join a
// pending group, and the group runs as one statement as soon as a slot frees up. Nothing waits on a timer: when a
// slot is free, what arrived in the same turn of the event loop runs at once, so a lone request pays no delay and
// a busy process pays one round trip per group instead of one per call.

interface Group<I, O> {
  items: I[];
  keys: Set<string>;
  waiters: Array<{ from: number; count: number; resolve: (out: O[]) => void; reject: (e: unknown) => void }>;
}

export interface CoalescerOptions<I> {
  /** Statements of this coalescer running at once (each holds a pooled connection). */
  maxInFlight: number;
  /** Items in one statement; a call with more runs alone. */
  maxItems: number;
  /** Items with the same key never share a statement (a later call's go to the next group). */
  key?: (item: I) => string;
}

export class Coalescer<I, O> {
  private readonly queue: Array<Group<I, O>> = [];
  private inFlight = 0;
  private scheduled = false;

  /** `run` answers one output per item, in order; if it throws, every call in the group gets the error. */
  constructor(private readonly run: (items: I[]) => Promise<O[]>, private readonly opts: CoalescerOptions<I>) {}

  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    const keys = this.opts.key ? items.map(this.opts.key) : [];
    let group = this.queue.at(-1);
    if (!group || group.items.length + items.length > this.opts.maxItems || keys.some((k) => group!.keys.has(k))) {
      group = { items: [], keys: new Set(), waiters: [] };
      this.queue.push(group);
    }
    const g = group;
    for (const k of keys) g.keys.add(k);
    return new Promise<O[]>((resolve, reject) => {
      g.waiters.push({ from: g.items.length, count: items.length, resolve, reject });
      g.items.push(...items);
      if (!this.scheduled && this.inFlight < this.opts.maxInFlight) {
        this.scheduled = true;
        setImmediate(() => { this.scheduled = false; this.drain(); });
      }
    });
  }

  private drain(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const g = this.queue.shift()!;
      this.inFlight++;
      this.run(g.items).then(
        (out) => { for (const w of g.waiters) w.resolve(out.slice(w.from, w.from + w.count)); },
        (e: unknown) => { for (const w of g.waiters) w.reject(e); },
      ).finally(() => { this.inFlight--; this.drain(); });
    }
  }
}
