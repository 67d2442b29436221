// Processes as Linux's /proc shows them: the launcher and API-copies tests look at what really runs.
import { readdirSync, readFileSync } from 'node:fs';

/** A process's state and parent, or undefined once it is gone. */
export function statOf(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Running: not exited, not a zombie. */
export const alive = (pid: number) => { const s = statOf(pid); return s !== undefined && s.state !== 'Z'; };

/** The command line, its arguments joined by spaces ('' once the process is gone). */
export const cmdlineOf = (pid: number) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return ''; } };

/** Every process id there is now. */
export const allPids = () => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
