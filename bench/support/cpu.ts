// CPU time spent by each part of the stack, read from /proc (Linux): a process's own time plus its live
// descendants', plus what its exited children left in cutime/cstime (PostgreSQL backends, for instance).
// Elsewhere the figures are simply absent.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

interface Stat { pid: number; ppid: number; ticks: number; childTicks: number; cmdline: string }

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch { /* keep 100, the Linux default */ }

function readAll(): Map<number, Stat> {
  const all = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command (which may hold spaces and parentheses) start after the last ')'.
      const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      all.set(Number(name), {
        pid: Number(name), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]), cmdline,
      });
    } catch { /* gone meanwhile */ }
  }
  return all;
}

/** Finds a process whose command line contains every fragment. */
export function findPid(...fragments: string[]): number | undefined {
  if (!existsSync('/proc')) return undefined;
  for (const s of readAll().values()) if (fragments.every((f) => s.cmdline.includes(f))) return s.pid;
  return undefined;
}

export class CpuMeter {
  constructor(private readonly groups: Record<string, number | undefined>) {}

  /** CPU milliseconds per group so far; a group's tree excludes processes that belong to another group. */
  sample(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!existsSync('/proc')) return out;
    const all = readAll();
    const roots = new Set(Object.values(this.groups).filter((p): p is number => p !== undefined));
    const children = new Map<number, number[]>();
    for (const s of all.values()) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
    for (const [name, root] of Object.entries(this.groups)) {
      if (root === undefined || !all.has(root)) continue;
      let ticks = all.get(root)!.childTicks;
      const stack = [root];
      while (stack.length) {
        const pid = stack.pop()!;
        ticks += all.get(pid)?.ticks ?? 0;
        for (const c of children.get(pid) ?? []) if (!roots.has(c)) stack.push(c);
      }
      out[name] = (ticks * 1000) / ticksPerSecond;
    }
    return out;
  }
}

/** "api 1.2 s (60%), worker ..." for the CPU used between two samples over wallMs. */
export function describeCpu(before: Record<string, number>, after: Record<string, number>, wallMs: number): string {
  const parts = Object.keys(after).map((k) => {
    const used = after[k] - (before[k] ?? 0);
    return `${k} ${(used / 1000).toFixed(1)}s (${Math.round((used / wallMs) * 100)}%)`;
  });
  const total = Object.keys(after).reduce((s, k) => s + after[k] - (before[k] ?? 0), 0);
  return parts.length ? `${parts.join(', ')}; all ${Math.round((total / wallMs) * 100)}% of one core` : 'n/a (no /proc)';
}
