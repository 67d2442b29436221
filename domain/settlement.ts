// Settlement of micro-payment periods: what each buyer is invoiced and each seller credited for a period, and
// what an invoice or credit that came out negative carries into the party's next one. The period's close computes
// these in SQL over all of a period's payments at once (ledger/periods.ts); test/ledger/periods.test.ts checks on
// random periods that the SQL's figures are these functions' figures.

export interface SellerPeriodTotals {
  salesMinor: bigint;
  feeMinor: bigint;
  /** Refunded to buyers in the period, and the part of it that was the broker's fee (returned with it). */
  refundedMinor: bigint;
  refundedFeeMinor: bigint;
  /** The seller's card-order captures of the period less card refunds, both net of the broker's fees. */
  cardNetMinor: bigint;
  /** Carried from the seller's previous credit (carriedInto). */
  carriedMinor?: bigint;
}

/** Sales minus the broker's fee minus refunds (net of their fee), plus card-order captures (net), plus what is carried. */
export function sellerCredit(t: SellerPeriodTotals): bigint {
  return t.salesMinor - t.feeMinor - (t.refundedMinor - t.refundedFeeMinor) + t.cardNetMinor + (t.carriedMinor ?? 0n);
}

/** What a buyer is invoiced for a period: purchases less refunds, plus what is carried from the previous invoice. */
export function buyerInvoice(grossMinor: bigint, refundedMinor: bigint, carriedMinor = 0n): bigint {
  return grossMinor - refundedMinor + carriedMinor;
}

/**
 * What a party's latest earlier invoice or credit carries into its next one: its amount if it came out negative
 * (refunds of earlier periods' purchases), else nothing (it was paid, or it is owed through dunning).
 */
export function carriedInto(previousAmountMinor: bigint | null): bigint {
  return previousAmountMinor !== null && previousAmountMinor < 0n ? previousAmountMinor : 0n;
}

/** An invoice or credit is charged or paid out only when something is due. */
export function dueState(amountMinor: bigint): 'pending' | 'nothing_due' {
  return amountMinor > 0n ? 'pending' : 'nothing_due';
}

export interface PeriodTotals {
  paymentCount: number;
  buyers: number;
  sellers: number;
  /** per currency */
  grossMinor: Record<string, number>;
  feeMinor: Record<string, number>;
  refundedMinor: Record<string, number>;
  invoicedMinor: Record<string, number>;
  creditedMinor: Record<string, number>;
}
