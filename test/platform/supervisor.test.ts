// The launcher's restart policy and supervisor (scripts/supervisor.ts) on fake parts and a fake clock: a crashed
// part comes back after a doubling, capped pause; a stop request stops everything in reverse order and restarts
// nothing. The real processes are in launcher.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  RESTART_INITIAL_DELAY_MS, RESTART_MAX_DELAY_MS, RestartBackoff, STABLE_RUN_MS, Supervisor, type Part, type Run, type RunEnd,
} from '../../scripts/supervisor';

/** A part whose runs end when the test says so; it records its starts and, in `stopped`, the order of stops. */
class FakePart implements Part {
  starts = 0;
  /** The next this many starts fail. */
  failingStarts = 0;
  private endRun: ((end: RunEnd) => void) | undefined;

  constructor(readonly name: string, private readonly stopped: string[] = []) {}

  async start(): Promise<Run> {
    this.starts++;
    if (this.failingStarts > 0) {
      this.failingStarts--;
      throw new Error('port 7233 is in use');
    }
    let endRun!: (end: RunEnd) => void;
    const ended = new Promise<RunEnd>((resolve) => { endRun = resolve; });
    this.endRun = endRun;
    return { ended, stop: async () => { this.stopped.push(this.name); endRun({ code: 0, signal: null }); } };
  }

  crash(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.endRun!({ code: null, signal });
  }
}

let logged: string[];
let supervisor: Supervisor;
beforeEach(() => {
  vi.useFakeTimers();
  logged = [];
  supervisor = new Supervisor({ log: (m) => logged.push(m) });
});
afterEach(async () => {
  await supervisor.stopAll();
  vi.useRealTimers();
});

describe('restart backoff', () => {
  it('doubles from the initial pause up to the cap while runs are short', () => {
    const backoff = new RestartBackoff();
    const delays = Array.from({ length: 8 }, () => backoff.delayAfter(100));
    expect(RESTART_INITIAL_DELAY_MS).toBe(1_000);
    expect(RESTART_MAX_DELAY_MS).toBe(30_000);
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts again from the initial pause after a stable run, and not after a run just short of it', () => {
    const backoff = new RestartBackoff();
    for (let i = 0; i < 5; i++) backoff.delayAfter(100);
    expect(backoff.delayAfter(STABLE_RUN_MS - 1)).toBe(30_000);
    expect(backoff.delayAfter(STABLE_RUN_MS)).toBe(1_000);
    expect(backoff.delayAfter(100)).toBe(2_000);
  });
});

describe('supervisor', () => {
  it('restarts a crashed part after the initial pause, saying which part, how it ended and the pause', async () => {
    const worker = new FakePart('worker');
    await supervisor.start(worker);
    await vi.advanceTimersByTimeAsync(5_000);
    worker.crash('SIGKILL');
    await vi.advanceTimersByTimeAsync(RESTART_INITIAL_DELAY_MS - 1);
    expect(logged).toEqual(['worker stopped unexpectedly (signal SIGKILL) after 5 s; restarting in 1 s']);
    expect(worker.starts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(worker.starts).toBe(2);
    expect(logged.at(-1)).toBe('worker restarted');
  });

  it('retries a part that fails to start with doubling pauses until it starts', async () => {
    const temporal = new FakePart('temporal');
    await supervisor.start(temporal);
    temporal.failingStarts = 2;
    temporal.crash();
    await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000);
    expect(temporal.starts).toBe(4);
    expect(logged).toEqual([
      'temporal stopped unexpectedly (signal SIGKILL) after 0 s; restarting in 1 s',
      'temporal did not start (port 7233 is in use); retrying in 2 s',
      'temporal did not start (port 7233 is in use); retrying in 4 s',
      'temporal restarted',
    ]);
    temporal.crash();
    await vi.advanceTimersByTimeAsync(8_000);
    expect(temporal.starts).toBe(5); // the pause kept doubling: the run was short
  });

  it('does not retry a first start that fails: the caller learns of it', async () => {
    const postgres = new FakePart('postgres');
    postgres.failingStarts = 1;
    await expect(supervisor.start(postgres)).rejects.toThrow('port 7233 is in use');
    await vi.advanceTimersByTimeAsync(RESTART_MAX_DELAY_MS);
    expect(postgres.starts).toBe(1);
  });

  it('stops the parts in reverse order of their start and cancels a pending restart', async () => {
    const stopped: string[] = [];
    const parts = ['postgres', 'temporal', 'worker', 'api'].map((n) => new FakePart(n, stopped));
    for (const p of parts) await supervisor.start(p);
    parts[2].crash();
    await supervisor.stopAll();
    expect(stopped).toEqual(['api', 'worker', 'temporal', 'postgres']);
    await vi.advanceTimersByTimeAsync(RESTART_MAX_DELAY_MS); // well past the pending restart's pause
    expect(parts[2].starts).toBe(1);
    await expect(supervisor.start(new FakePart('late'))).rejects.toThrow('the stack is stopping');
  });

  it('a stop request during a start waits for it and stops what it started', async () => {
    let finishStart!: () => void;
    const slow: Part & { stops: number } = {
      name: 'temporal', stops: 0,
      start: () => new Promise<Run>((resolve) => {
        finishStart = () => resolve({ ended: new Promise(() => {}), stop: async () => { slow.stops++; } });
      }),
    };
    const starting = supervisor.start(slow);
    const stopping = supervisor.stopAll();
    finishStart();
    await starting;
    await stopping;
    expect(slow.stops).toBe(1);
  });
});
