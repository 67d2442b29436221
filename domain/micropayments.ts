// Micro-payments: the broker's fee on a purchase, the windows spending caps are counted in, what a seller is
// credited and a buyer invoiced at the end of a settlement period, and the limits on all of it.

/** Payments per POST /v1/micropayments/batch. */
export const MAX_BATCH_PAYMENTS = 1000;
/** The largest single micro-payment, in minor units (a micro-payment broker is not for large sums). */
export const MAX_MICROPAYMENT_MINOR = 100_000;
/** Rule sets a party may hold at once. */
export const MAX_RULE_SETS_PER_OWNER = 20;
/** Items a seller may publish. */
export const MAX_ITEMS_PER_SELLER = 10_000;
/** How long an access grant may be redeemed after the purchase. */
export const GRANT_REDEEM_SECONDS = 15 * 60;
/** Longest access a purchase may grant. */
export const MAX_GRANT_SECONDS = 366 * 24 * 3600;
/** Retries of a failed period charge before the buyer is suspended (delays after the failure). */
export const DEFAULT_DUNNING_DELAYS_MS = [3_600_000, 86_400_000, 3 * 86_400_000];
export const MAX_DUNNING_ATTEMPTS = 10;

/** The broker's fee on one payment, rounded half up; never more than the amount. */
export function microFee(amountMinor: number, feeBps: number): number {
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) throw new RangeError(`amountMinor must be a positive integer, got ${amountMinor}`);
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > 10_000) throw new RangeError(`feeBps must be 0..10000, got ${feeBps}`);
  return Math.min(amountMinor, Math.floor((amountMinor * feeBps + 5_000) / 10_000));
}

const DAY_MS = 86_400_000;
/** The UTC day (days since 1970-01-01) a payment at atMs counts towards for per-day caps. */
export function dayKey(atMs: number): number {
  return Math.floor(atMs / DAY_MS);
}

export interface SellerPeriodTotals {
  salesMinor: bigint;
  feeMinor: bigint;
  /** Refunded to buyers in the period, and the part of it that was the broker's fee (returned with it). */
  refundedMinor: bigint;
  refundedFeeMinor: bigint;
  /** The seller's card-order captures of the period, less the broker's fees on them. */
  cardNetMinor: bigint;
}

/** Sales minus the broker's fee minus refunds (net of their fee), plus card-order captures (net). */
export function sellerCredit(t: SellerPeriodTotals): bigint {
  return t.salesMinor - t.feeMinor - (t.refundedMinor - t.refundedFeeMinor) + t.cardNetMinor;
}

/** What a buyer is invoiced for a period: purchases less refunds (a negative amount is carried into the next). */
export function buyerInvoice(grossMinor: bigint, refundedMinor: bigint): bigint {
  return grossMinor - refundedMinor;
}

/** Period ids as the API shows them: sp_<seq>. */
export const periodId = (seq: number) => `sp_${seq}`;
export function periodSeq(id: string): number | undefined {
  const m = /^sp_([1-9][0-9]{0,8})$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/** Micro-payment ids as the API shows them: mp_<number>. */
export const paymentId = (id: string | number | bigint) => `mp_${id}`;
export function paymentNumber(id: string): string | undefined {
  const m = /^mp_([1-9][0-9]{0,17})$/.exec(id);
  return m ? m[1] : undefined;
}
