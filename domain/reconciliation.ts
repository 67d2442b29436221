// Reconciliation: a day's records of money moved, as the processor keeps them and as the ledger does, matched by
// the processor's id. A record on one side only, or with another amount or currency (or of another kind), is a
// mismatch. Days are UTC.

export interface MoneyRecord { id: string; kind: string; amountMinor: number; currency: string }

export type MismatchReason = 'missing_in_ledger' | 'missing_at_processor' | 'amount_differs';

/** What is wrong between the two sides' record of one id; null when they agree. */
export function mismatchOf(processor: MoneyRecord | undefined, ledger: MoneyRecord | undefined): MismatchReason | null {
  if (!processor && !ledger) return null;
  if (!ledger) return 'missing_in_ledger';
  if (!processor) return 'missing_at_processor';
  const same = processor.kind === ledger.kind && processor.amountMinor === ledger.amountMinor && processor.currency === ledger.currency;
  return same ? null : 'amount_differs';
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** A real calendar day written YYYY-MM-DD. */
export function isDay(s: string): boolean {
  if (!DAY.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** The day's span [from, to) in UTC. */
export function dayBounds(day: string): { from: Date; to: Date } {
  const from = new Date(`${day}T00:00:00Z`);
  return { from, to: new Date(from.getTime() + DAY_MS) };
}

/** The UTC day before `now`'s: what a daily run reconciles (the day is over, its records written). */
export const previousDay = (now: Date) => new Date(now.getTime() - DAY_MS).toISOString().slice(0, 10);
