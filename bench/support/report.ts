// Lines every benchmark's report shares: the machine it ran on, the ledger's trial balance, a service's last output.
import { availableParallelism, cpus, totalmem } from 'node:os';
import type { Db } from '../../ledger/db';
import { Ledger } from '../../ledger/ledger';
import type { ServiceProcess } from './processes';

export const machineLine = () =>
  `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;

/** The trial balance: ok when there are postings and every currency sums to zero; text for the report. */
export async function trialBalanceCheck(db: Db): Promise<{ ok: boolean; text: string }> {
  const balance = await new Ledger(db).trialBalance();
  const unbalanced = [...balance].filter(([, total]) => total !== 0n);
  return {
    ok: balance.size > 0 && unbalanced.length === 0,
    text: balance.size === 0 ? 'empty: NO POSTINGS'
      : `${[...balance].map(([c, t]) => `${c} ${t}`).join(', ')}: ${unbalanced.length ? 'NOT ZERO' : 'zero per currency'}`,
  };
}

/** Prints the last lines a service wrote (what it said about the failures the report lists). */
export function printOutputTail(p: ServiceProcess, what = `the ${p.name}'s`, lines = 30): void {
  const tail = p.output().trim().split('\n').slice(-lines).join('\n    ');
  if (tail) console.log(`  --- last lines of ${what} output ---\n    ${tail}`);
}
