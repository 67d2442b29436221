// Keeps the parts of `npm start` running. A part that stops without being asked is started again after a pause
// that doubles with each quick failure (1 s, 2 s, 4 s, ... at most 30 s) and is back to 1 s once the part has
// run stably for a minute. The stack stops only when asked: stopAll() stops the parts in the reverse order of
// their start and cancels any pending restart. What a part is (a process, the Temporal dev server, PostgreSQL)
// is scripts/stack.ts's business; here a part only starts, ends and stops.
import { metrics } from '../runtime/metrics';

/** Pause before the first restart of a part that stopped on its own. */
export const RESTART_INITIAL_DELAY_MS = 1_000;
/** Longest pause between restarts: a part that keeps failing is retried this often. */
export const RESTART_MAX_DELAY_MS = 30_000;
/** A part that ran this long before it stopped had recovered: its next restart waits the initial pause again. */
export const STABLE_RUN_MS = 60_000;

export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  stableRunMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: RESTART_INITIAL_DELAY_MS, maxDelayMs: RESTART_MAX_DELAY_MS, stableRunMs: STABLE_RUN_MS,
};

/** Capped exponential backoff between restarts of one part. */
export class RestartBackoff {
  private nextDelayMs: number;

  constructor(private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY) {
    this.nextDelayMs = policy.initialDelayMs;
  }

  /** The pause before the next start, given how long the run that just ended lasted. */
  delayAfter(ranMs: number): number {
    if (ranMs >= this.policy.stableRunMs) this.nextDelayMs = this.policy.initialDelayMs;
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(delayMs * 2, this.policy.maxDelayMs);
    return delayMs;
  }
}

/** How one run of a part ended: a process's exit code or signal (both null: not known), or a start that failed. */
export type RunEnd =
  | { code: number | null; signal: NodeJS.Signals | null }
  | { startError: string };

export function describeEnd(end: RunEnd): string {
  if ('startError' in end) return end.startError;
  if (end.signal) return `signal ${end.signal}`;
  return end.code === null ? 'exit status unknown' : `exit code ${end.code}`;
}

/** One run of a part, from a successful start. */
export interface Run {
  /** Resolves when the run has ended, asked to or not. */
  ended: Promise<RunEnd>;
  /** Asks the part to stop and resolves once it has (the part owns its stop timeout). */
  stop(): Promise<void>;
}

export interface Part {
  name: string;
  /** Starts the part; rejects when it cannot. */
  start(): Promise<Run>;
}

interface Watched {
  part: Part;
  backoff: RestartBackoff;
  /** The latest run, or the start under way. */
  current: Promise<Run>;
}

const seconds = (ms: number) => (ms < 10_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 1000)} s`);

export class Supervisor {
  private readonly watched: Watched[] = [];
  private stopping: Promise<void> | undefined;
  /** Pending restart pauses; stopAll ends them early (false: do not restart). */
  private readonly pauses = new Set<(restart: boolean) => void>();
  private readonly log: (msg: string) => void;
  private readonly policy: RestartPolicy;

  constructor(opts: { log: (msg: string) => void; policy?: RestartPolicy }) {
    this.log = opts.log;
    this.policy = opts.policy ?? DEFAULT_RESTART_POLICY;
  }

  /**
   * Starts a part for the first time and keeps it running from then on. A failure of this first start is the
   * caller's to handle (the stack cannot come up); it is not retried.
   */
  async start(part: Part): Promise<void> {
    if (this.stopping) throw new Error(`not starting ${part.name}: the stack is stopping`);
    const first = part.start();
    // registered before the start resolves, so a stopAll() meanwhile waits for it and stops it
    const w: Watched = { part, backoff: new RestartBackoff(this.policy), current: first };
    this.watched.push(w);
    void this.keepRunning(w, await first);
  }

  /** Stops every part, the last started first, and cancels pending restarts. Safe to call more than once. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const wake of this.pauses) wake(false);
      for (const w of [...this.watched].reverse()) {
        const run = await w.current.catch(() => undefined);
        await run?.stop();
      }
    })();
    return this.stopping;
  }

  private async keepRunning(w: Watched, first: Run): Promise<void> {
    let run = first;
    let startedAtMs = Date.now();
    for (;;) {
      const end = await run.ended;
      if (this.stopping) return;
      const ranMs = Date.now() - startedAtMs;
      const delayMs = w.backoff.delayAfter(ranMs);
      this.log('startError' in end
        ? `${w.part.name} did not start (${describeEnd(end)}); retrying in ${seconds(delayMs)}`
        : `${w.part.name} stopped unexpectedly (${describeEnd(end)}) after ${seconds(ranMs)}; restarting in ${seconds(delayMs)}`);
      if (!(await this.pause(delayMs))) return;
      startedAtMs = Date.now();
      w.current = w.part.start().then((r) => {
        this.log(`${w.part.name} restarted`);
        metrics.supervisorRestarts.inc({ part: w.part.name });
        return r;
      }, (err: unknown) => failedStart(err));
      run = await w.current;
    }
  }

  private pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (restart: boolean) => {
        clearTimeout(timer);
        this.pauses.delete(done);
        resolve(restart);
      };
      const timer = setTimeout(() => done(true), ms);
      this.pauses.add(done);
    });
  }
}

/** A start that failed, as a run that has already ended (so it is retried like a crash). */
function failedStart(err: unknown): Run {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return { ended: Promise.resolve({ startError: message }), stop: async () => {} };
}
