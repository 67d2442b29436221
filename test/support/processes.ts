// Real service processes for e2e and fault tests: spawned as `npm start` spawns them, killed for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How long stop() waits, after the exit, for the output to reach the log file. */
const LOG_FLUSH_TIMEOUT_MS = 5_000;

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends the signal and resolves with the exit code (or signal name) once the process is gone. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

/**
 * logFile: the process's output is appended there too, as `npm start` keeps each part's log under .data/logs
 * (stop() resolves once the file holds everything the process wrote).
 */
export function spawnService(entry: string, env: Record<string, string>, opts: { logFile?: string } = {}): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ROOT + entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      PAYBROKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  let logWritten: Promise<void> = Promise.resolve();
  if (opts.logFile) {
    const file = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout.pipe(file, { end: false });
    child.stderr.pipe(file, { end: false });
    // 'close' comes after both output streams have ended
    logWritten = new Promise((resolve) => child.once('close', () => file.end(resolve)));
  }
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    child,
    output: () => out,
    async waitForOutput(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null) throw new Error(`${entry} exited (${child.exitCode}) before printing ${pattern}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`${entry} did not print ${pattern} within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        const end = await exited;
        // (bounded: a child the process started and left behind may hold its output open)
        let flushTimer: NodeJS.Timeout | undefined;
        await Promise.race([logWritten, new Promise((r) => { flushTimer = setTimeout(r, LOG_FLUSH_TIMEOUT_MS); })]);
        clearTimeout(flushTimer);
        return end;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
