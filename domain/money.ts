// Money is an integer count of minor units with an ISO 4217 currency code. Never floats.

export interface Money {
  amountMinor: number;
  currency: string;
}

const CURRENCY = /^[A-Z]{3}$/;

export function isCurrency(code: unknown): code is string {
  return typeof code === 'string' && CURRENCY.test(code);
}

/** Accepts a safe integer number or a bigint; anything else (floats, NaN, strings) is a programming error. */
export function toMinor(amount: bigint | number): bigint {
  if (typeof amount === 'bigint') return amount;
  if (!Number.isSafeInteger(amount)) throw new RangeError(`amountMinor must be a safe integer, got ${amount}`);
  return BigInt(amount);
}

/** Sum of signed amounts per currency; a balanced set of postings gives zero for every currency. */
export function sumByCurrency(lines: ReadonlyArray<{ amountMinor: bigint | number; currency: string }>): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const l of lines) sums.set(l.currency, (sums.get(l.currency) ?? 0n) + toMinor(l.amountMinor));
  return sums;
}

export function isBalanced(lines: ReadonlyArray<{ amountMinor: bigint | number; currency: string }>): boolean {
  for (const s of sumByCurrency(lines).values()) if (s !== 0n) return false;
  return true;
}
