// Lines every benchmark's report shares: the machine it ran on, the ledger's trial balance, a service's last output.
import { availableParallelism, cpus, totalmem } from 'node:os';
import type { Db } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import type { ServiceProcess } from './processes';

export const machineLine = () =>
  `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;

/** The trial balance: ok when there are postings (or none, if emptyOk) and every currency sums to zero; text for the report. */
export async function trialBalanceCheck(db: Db, o: { emptyOk?: boolean } = {}): Promise<{ ok: boolean; text: string }> {
  const balance = await new Ledger(db).trialBalance();
  const unbalanced = [...balance].filter(([, total]) => total !== 0n);
  return {
    ok: (balance.size > 0 || o.emptyOk === true) && unbalanced.length === 0,
    text: balance.size === 0 ? (o.emptyOk ? 'empty: no postings (none expected)' : 'empty: NO POSTINGS')
      : `${[...balance].map(([c, t]) => `${c} ${t}`).join(', ')}: ${unbalanced.length ? 'NOT ZERO' : 'zero per currency'}`,
  };
}

export const RULE = '-'.repeat(110);
export const met = (yes: boolean) => (yes ? 'MET' : 'MISSED');

/** The report's last lines: the run time, and a warning when other processes took a core's share (`during` what). */
export const runTimeLines = (started: number, others: number, during = 'a phase') =>
  `  run time    ${((performance.now() - started) / 1000).toFixed(1)} s after the stack started${others > 20
    ? `\n  WARNING     other processes on this machine used up to ${Math.round(others)}% of a core during ${during}: the figures are disturbed` : ''}`;

/** Prints the last 30 lines a service wrote (what it said about the failures the report lists). */
export function printOutputTail(p: ServiceProcess, what = `the ${p.name}'s`): void {
  const tail = p.output().trim().split('\n').slice(-30).join('\n    ');
  if (tail) console.log(`  --- last lines of ${what} output ---\n    ${tail}`);
}
