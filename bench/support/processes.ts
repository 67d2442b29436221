// The service processes a benchmark runs (API, worker, processor simulator), spawned as `npm start` spawns
// them: `node --import tsx <entry>` with the environment given, output kept for the error report.
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT_DIR } from '../../config';
import type { CpuMeter } from './cpu';

/** Output kept per process for the error report, in characters. */
const MAX_OUTPUT_CHARS = 64 * 1024;

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (graceful: the worker drains), SIGKILL after timeoutMs; resolves with the exit code or signal. */
  stop(timeoutMs?: number): Promise<number | string>;
}

export function spawnService(name: string, entry: string, env: Record<string, string>, nodeArgs: string[] = []): ServiceProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ROOT_DIR + entry], {
    cwd: ROOT_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > MAX_OUTPUT_CHARS) out = out.slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    name,
    child,
    output: () => out,
    async waitForOutput(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${name} (${entry}) exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${out}`);
        }
        if (Date.now() > deadline) throw new Error(`${name} (${entry}) did not print ${pattern} within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * The bare express echo (bench/micropayments/echo.ts: the ceiling an endpoint is compared with), started beside the
 * stack and stopped with it: its origin, and the stack's CPU meter with the echo counted.
 */
export async function startEcho(b: { onStop(what: string, run: () => unknown): void; cpu: CpuMeter }): Promise<{ origin: string; cpu: CpuMeter }> {
  const echo = spawnService('echo', 'bench/micropayments/echo.ts', {});
  b.onStop('echo server', () => echo.stop());
  await echo.waitForOutput(/echo listening on http:\/\/[\d.:]+/);
  return { origin: /echo listening on (http:\/\/[\d.:]+)/.exec(echo.output())![1], cpu: b.cpu.with({ echo: echo.child.pid }) };
}
