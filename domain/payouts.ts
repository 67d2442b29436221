// Merchant payouts: when a merchant is paid (its payout schedule), what a payout holds back as a rolling reserve,
// and what it comes to. A payout pays the card-order balance that built up since the merchant's previous one:
// captures less the broker's fees less refunds (their fees returned), less the reserve held back from that, plus
// the reserves whose days have passed, plus what earlier payouts carried into it (below the minimum, negative, or
// failed). ledger/payouts.ts gathers the figures in SQL; these functions decide what they come to.

export const PAYOUT_INTERVALS = ['daily', 'weekly', 'manual'] as const;
export type PayoutInterval = (typeof PAYOUT_INTERVALS)[number];

export interface PayoutSchedule {
  interval: PayoutInterval;
  /** The day of the week a weekly payout runs on: 0 Sunday … 6 Saturday (UTC). */
  weeklyAnchor: number;
}

export const DEFAULT_PAYOUT_SCHEDULE: PayoutSchedule = { interval: 'daily', weeklyAnchor: 1 };

/** Whether a scheduled run on `day` pays the merchant (manual merchants are paid only when asked). */
export function isPayoutDay(s: PayoutSchedule, day: Date): boolean {
  if (s.interval === 'daily') return true;
  if (s.interval === 'weekly') return day.getUTCDay() === s.weeklyAnchor;
  return false;
}

/** A scheduled run's period: its UTC day (a second run on that day finds its payouts made). */
export const scheduledPeriodKey = (cutoff: Date) => cutoff.toISOString().slice(0, 10);

export interface PayoutSettings {
  /** Held back from each payout's net sales, in basis points, for reserveDays days (no reserve when either is 0). */
  reserveBps: number;
  reserveDays: number;
  /** A payout below this is not sent: its amount is carried into the next one. */
  minimumMinor: bigint;
}

export interface PayoutFigures {
  capturesMinor: bigint;
  /** The broker's fees on those captures less the fees refunds returned. */
  feesMinor: bigint;
  refundsMinor: bigint;
  /** Reserves held back by earlier payouts whose days have passed. */
  releasedMinor: bigint;
  /** Carried from earlier payouts (negative when refunds outran sales). */
  carriedMinor: bigint;
  /** What disputes withdrew from the balance less what they returned (won, refunded); absent: none. */
  disputesMinor?: bigint;
}

export interface PayoutAmount {
  heldMinor: bigint;
  amountMinor: bigint;
  /** pending: to send; carried: nothing is sent, the amount goes into the next payout. */
  state: 'pending' | 'carried';
}

/** The reserve held back from net sales (none from a net loss), rounded down to the minor unit. */
export function reserveHold(netSalesMinor: bigint, s: Pick<PayoutSettings, 'reserveBps' | 'reserveDays'>): bigint {
  if (netSalesMinor <= 0n || s.reserveBps === 0 || s.reserveDays === 0) return 0n;
  return (netSalesMinor * BigInt(s.reserveBps)) / 10_000n;
}

export function payoutAmount(f: PayoutFigures, s: PayoutSettings): PayoutAmount {
  const net = f.capturesMinor - f.feesMinor - f.refundsMinor;
  const heldMinor = reserveHold(net, s);
  const amountMinor = net - heldMinor + f.releasedMinor + f.carriedMinor - (f.disputesMinor ?? 0n);
  const due = amountMinor > 0n && amountMinor >= s.minimumMinor;
  return { heldMinor, amountMinor, state: due ? 'pending' : 'carried' };
}

/** When a reserve held at `cutoff` is released: the first payout at or after this time takes it back. */
export const reserveReleaseOn = (cutoff: Date, reserveDays: number) => new Date(cutoff.getTime() + reserveDays * 86_400_000);
