// The processor's fee on a capture (what the simulated acquirer keeps of it: interchange, scheme fees and its margin).

/** Fee of a capture without purchase data: 2.9% + 30 minor units. */
export const STANDARD_FEE = { basisPoints: 290, fixedMinor: 30 } as const;
/** Fee of a capture that carries valid line items (level 2/3 data, cheaper interchange): 1.9% + 30 minor units. */
export const LINE_ITEM_FEE = { basisPoints: 190, fixedMinor: 30 } as const;

/**
 * The fee of a capture of amountMinor: its rate (1.9% with valid line items, else 2.9%) of the amount rounded half up
 * to a minor unit, plus 30 minor units. Exact for every safe integer amount (computed in bigint).
 * E.g. 1000 → 29 + 30 = 59 (with line items 19 + 30 = 49); 500 → 14.5 → 15 + 30 = 45; 150 → 4.35 → 4 + 30 = 34.
 */
export function captureFeeMinor(amountMinor: number, withLineItems: boolean): number {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) throw new RangeError(`amountMinor must be a safe integer >= 0, got ${amountMinor}`);
  const { basisPoints, fixedMinor } = withLineItems ? LINE_ITEM_FEE : STANDARD_FEE;
  // amount × bp / 10 000, rounded half up: (amount × bp + 5 000) / 10 000, truncated
  const rated = (BigInt(amountMinor) * BigInt(basisPoints) + 5_000n) / 10_000n;
  return Number(rated) + fixedMinor;
}
