// Fault controls of the simulator (set through the admin API): the processor down (connections refused, or
// 503 without effect), slow, flaky (a seeded share of calls fail with 503 before any effect), or losing the
// response after the effect is committed (for a batch file: after every line of it is applied). A fault may be limited to some operations and to the next N calls.
import { z } from 'zod';

export const OPERATIONS = [
  'tokenize', 'authorize', 'capture', 'void', 'refund', 'reauthorize', 'settle', 'payout', 'query', 'charge_batch', 'payout_batch',
  // placing, extending and releasing a reservation (its captures are 'capture', reading it or a balance 'query');
  // a dispute's evidence and acceptance, and a provisioning failure reported; a loyalty reward sent
  'reserve', 'dispute', 'loyalty',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export const FAULT_MODES = ['none', 'down', 'slow', 'flaky', 'lost_response'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

/** Longest latency the slow mode may add, in milliseconds. */
export const MAX_LATENCY_MS = 120_000;
export const DEFAULT_LATENCY_MS = 1_000;
export const DEFAULT_FAILURE_RATE = 0.5;
export const DEFAULT_SEED = 1;

export const faultSettingsSchema = z.strictObject({
  mode: z.enum(FAULT_MODES),
  downStyle: z.enum(['refuse', '503']).optional(),
  latencyMs: z.number().int().min(0).max(MAX_LATENCY_MS).optional(),
  failureRate: z.number().min(0).max(1).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  operations: z.array(z.enum(OPERATIONS)).min(1).max(OPERATIONS.length).optional(),
  count: z.number().int().min(1).max(1_000_000).optional(),
});

/** What PUT /admin/faults takes. Omitted fields take their defaults (downStyle 'refuse'). */
export type FaultSettings = z.infer<typeof faultSettingsSchema>;

/** What GET /admin/faults shows. */
export interface FaultState {
  mode: FaultMode;
  downStyle: 'refuse' | '503';
  latencyMs: number;
  failureRate: number;
  seed: number;
  /** null: every operation. */
  operations: Operation[] | null;
  /** Matching calls left before the fault reverts to none; null: until changed. */
  remaining: number | null;
}

/** What a public call should suffer. */
export type FaultAction =
  | { kind: 'none' }
  | { kind: 'unavailable' }
  | { kind: 'delay'; ms: number }
  | { kind: 'lose_response' };

const NONE: FaultState = {
  mode: 'none', downStyle: 'refuse', latencyMs: DEFAULT_LATENCY_MS, failureRate: DEFAULT_FAILURE_RATE,
  seed: DEFAULT_SEED, operations: null, remaining: null,
};

/** mulberry32: a small seeded PRNG, so a flaky run is reproducible from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultSettingsError extends Error {}

export class Faults {
  private state: FaultState = { ...NONE };
  private random = prng(DEFAULT_SEED);

  get current(): FaultState {
    return { ...this.state, operations: this.state.operations ? [...this.state.operations] : null };
  }

  /** True while the public listener should be closed. */
  get refusing(): boolean {
    return this.state.mode === 'down' && this.state.downStyle === 'refuse';
  }

  set(s: FaultSettings): FaultState {
    const downStyle = s.downStyle ?? 'refuse';
    if (s.mode === 'down' && downStyle === 'refuse' && (s.count !== undefined || s.operations !== undefined)) {
      // a closed listener refuses every connection: it cannot tell operations apart nor count calls
      throw new FaultSettingsError("down with downStyle 'refuse' applies to every call until changed: omit count and operations");
    }
    this.state = {
      mode: s.mode,
      downStyle,
      latencyMs: s.latencyMs ?? DEFAULT_LATENCY_MS,
      failureRate: s.failureRate ?? DEFAULT_FAILURE_RATE,
      seed: s.seed ?? DEFAULT_SEED,
      operations: s.mode === 'none' ? null : (s.operations ? [...new Set(s.operations)] : null),
      remaining: s.mode === 'none' ? null : (s.count ?? null),
    };
    this.random = prng(this.state.seed);
    return this.current;
  }

  clear(): FaultState {
    return this.set({ mode: 'none' });
  }

  /** Decides the fate of one public call (and counts it against `count`). Called once per call, before any effect. */
  decide(op: Operation): FaultAction {
    const s = this.state;
    if (s.mode === 'none' || (s.operations && !s.operations.includes(op))) return { kind: 'none' };
    if (s.remaining !== null) {
      s.remaining -= 1;
      if (s.remaining <= 0) this.state = { ...NONE };
    }
    switch (s.mode) {
      case 'down': return { kind: 'unavailable' }; // 503 style (refuse never reaches a handler)
      case 'slow': return { kind: 'delay', ms: s.latencyMs };
      case 'flaky': return this.random() < s.failureRate ? { kind: 'unavailable' } : { kind: 'none' };
      case 'lost_response': return { kind: 'lose_response' };
    }
  }
}
