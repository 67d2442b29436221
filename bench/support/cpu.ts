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

const MACHINE = '(machine)';

export class CpuMeter {
  constructor(private readonly groups: Record<string, number | undefined>) {}

  /** A meter over these groups and more (a process a benchmark starts itself, such as a ceiling's server). */
  with(more: Record<string, number | undefined>): CpuMeter {
    return new CpuMeter({ ...this.groups, ...more });
  }

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
    // The whole machine's busy time, so a reader sees what other processes took meanwhile.
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    out[MACHINE] = ((user + nice + system + irq + softirq + steal) * 1000) / ticksPerSecond;
    return out;
  }
}

/** "temporal 85%, worker 42%, ...; other processes 3%" of one core, between two samples wallMs apart. */
export function describeCpu(before: Record<string, number>, after: Record<string, number>, wallMs: number): string {
  const pct = (k: string) => Math.round(((after[k] - (before[k] ?? 0)) / wallMs) * 100);
  const groups = Object.keys(after).filter((k) => k !== MACHINE);
  if (groups.length === 0) return 'n/a (no /proc)';
  const ours = groups.reduce((s, k) => s + pct(k), 0);
  return `${groups.map((k) => `${k} ${pct(k)}%`).join(', ')} (sum ${ours}%); other processes ${Math.max(0, pct(MACHINE) - ours)}%`;
}

/** Percent of one core that processes outside the groups used between two samples (NaN without /proc). */
export function otherCpuPercent(before: Record<string, number>, after: Record<string, number>, wallMs: number): number {
  if (!(MACHINE in after)) return NaN;
  const used = (k: string) => after[k] - (before[k] ?? 0);
  const ours = Object.keys(after).filter((k) => k !== MACHINE).reduce((s, k) => s + used(k), 0);
  return Math.max(0, ((used(MACHINE) - ours) / wallMs) * 100);
}

/** CPU milliseconds each group used between two samples (the machine's total left out). */
export function cpuUsed(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).filter((k) => k !== MACHINE).map((k) => [k, after[k] - (before[k] ?? 0)]));
}
