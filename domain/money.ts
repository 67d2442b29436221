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

// --- formatting ----------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string): Intl.NumberFormat {
  let f = formatters.get(currency);
  if (!f) {
    try {
      f = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    } catch {
      f = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    formatters.set(currency, f);
  }
  return f;
}

/** The currency's minor digits (JPY 0, USD 2, KWD 3), as Intl knows them. */
export function minorDigits(currency: string): number {
  return formatter(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** An amount of integer minor units, formatted for its currency ("$12.34", "¥1,200"): pages and messages to customers. */
export function formatMoney(amountMinor: number, currency: string): string {
  return formatter(currency).format(amountMinor / 10 ** minorDigits(currency));
}
