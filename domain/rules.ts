// Programmatic authorization between programs: a party registers rule sets, each referenced by an opaque
// token it hands to its programs. A micro-payment is authorized only when the buyer's rule set, and the
// seller's where the seller has one, both allow it. evaluateRules decides the stateless rules; the spending
// caps (per day, per period) are decided by admitWithinCaps on counters the ledger holds locked while it
// records (ledger/micropayments.ts), so parallel payments cannot together exceed them.

export interface BuyerRules {
  maxPerPaymentMinor?: number;
  maxPerDayMinor?: number;
  maxPerPeriodMinor?: number;
  allowedSellers?: string[];
  allowedCategories?: string[];
  /** ISO timestamps; the rule set is valid in [validFrom, validUntil). */
  validFrom?: string;
  validUntil?: string;
}

export interface SellerRules {
  minPriceMinor?: number;
  acceptedBuyerClasses?: string[];
  validFrom?: string;
  validUntil?: string;
}

/** A rule set's validity window is not empty: when both ends are given, validFrom comes before validUntil. */
export function hasValidWindow(r: { validFrom?: string; validUntil?: string }): boolean {
  return r.validFrom === undefined || r.validUntil === undefined || Date.parse(r.validFrom) < Date.parse(r.validUntil);
}

export interface PaymentFacts {
  amountMinor: number;
  sellerId: string;
  category: string;
  buyerClass: string;
  atMs: number;
}

export type RuleDecision =
  | { allowed: true; caps: { perDayMinor: number | null; perPeriodMinor: number | null } }
  | { allowed: false; code: RuleRefusal; party: 'buyer' | 'seller'; message: string };

export type RuleRefusal =
  | 'rule_set_not_yet_valid' | 'rule_set_expired' | 'amount_over_payment_limit' | 'seller_not_allowed'
  | 'category_not_allowed' | 'price_below_minimum' | 'buyer_class_not_accepted';

/** Limits on a rule set itself. */
export const MAX_RULE_LIST_ENTRIES = 100;

function window(r: { validFrom?: string; validUntil?: string }, atMs: number): 'rule_set_not_yet_valid' | 'rule_set_expired' | null {
  if (r.validFrom !== undefined && atMs < Date.parse(r.validFrom)) return 'rule_set_not_yet_valid';
  if (r.validUntil !== undefined && atMs >= Date.parse(r.validUntil)) return 'rule_set_expired';
  return null;
}

const refuse = (party: 'buyer' | 'seller', code: RuleRefusal, message: string): RuleDecision => ({ allowed: false, party, code, message });

export function evaluateRules(buyer: BuyerRules, seller: SellerRules | null, f: PaymentFacts): RuleDecision {
  const bw = window(buyer, f.atMs);
  if (bw) return refuse('buyer', bw, `The buyer's rule set is ${bw === 'rule_set_expired' ? 'expired' : 'not valid yet'}`);
  if (buyer.maxPerPaymentMinor !== undefined && f.amountMinor > buyer.maxPerPaymentMinor) {
    return refuse('buyer', 'amount_over_payment_limit', `${f.amountMinor} exceeds the buyer's limit of ${buyer.maxPerPaymentMinor} per payment`);
  }
  if (buyer.allowedSellers && !buyer.allowedSellers.includes(f.sellerId)) {
    return refuse('buyer', 'seller_not_allowed', `The buyer's rule set does not allow seller ${f.sellerId}`);
  }
  if (buyer.allowedCategories && !buyer.allowedCategories.includes(f.category)) {
    return refuse('buyer', 'category_not_allowed', `The buyer's rule set does not allow category ${f.category}`);
  }
  if (seller) {
    const sw = window(seller, f.atMs);
    if (sw) return refuse('seller', sw, `The seller's rule set is ${sw === 'rule_set_expired' ? 'expired' : 'not valid yet'}`);
    if (seller.minPriceMinor !== undefined && f.amountMinor < seller.minPriceMinor) {
      return refuse('seller', 'price_below_minimum', `${f.amountMinor} is below the seller's minimum of ${seller.minPriceMinor}`);
    }
    if (seller.acceptedBuyerClasses && !seller.acceptedBuyerClasses.includes(f.buyerClass)) {
      return refuse('seller', 'buyer_class_not_accepted', `The seller does not accept buyers of class ${f.buyerClass}`);
    }
  }
  return { allowed: true, caps: { perDayMinor: buyer.maxPerDayMinor ?? null, perPeriodMinor: buyer.maxPerPeriodMinor ?? null } };
}

/** Whether adding amountMinor to what was spent stays within a cap (null: no cap). */
export function withinCap(spentMinor: number, amountMinor: number, capMinor: number | null): boolean {
  return capMinor === null || spentMinor + amountMinor <= capMinor;
}

const DAY_MS = 86_400_000;
/** The UTC day (days since 1970-01-01) a payment at atMs counts towards for per-day caps. */
export function dayKey(atMs: number): number {
  return Math.floor(atMs / DAY_MS);
}

/** A spending window of a rule set: a UTC day ('d', dayKey) or a settlement period ('p', its seq). */
export interface CapWindow { ruleSetId: string; kind: 'd' | 'p'; key: number; capMinor: number }
export const capWindowKey = (w: Pick<CapWindow, 'ruleSetId' | 'kind' | 'key'>) => `${w.ruleSetId}|${w.kind}|${w.key}`;

export interface CappedPayment {
  ruleSetId: string;
  amountMinor: number;
  caps: { perDayMinor: number | null; perPeriodMinor: number | null };
}

/** The windows a payment made at atMs in period `periodSeq` counts towards. */
export function capWindows(p: CappedPayment, atMs: number, periodSeq: number): CapWindow[] {
  const out: CapWindow[] = [];
  if (p.caps.perDayMinor !== null) out.push({ ruleSetId: p.ruleSetId, kind: 'd', key: dayKey(atMs), capMinor: p.caps.perDayMinor });
  if (p.caps.perPeriodMinor !== null) out.push({ ruleSetId: p.ruleSetId, kind: 'p', key: periodSeq, capMinor: p.caps.perPeriodMinor });
  return out;
}

export type CapRefusal = 'daily_cap_exceeded' | 'period_cap_exceeded';
export type CapVerdict = { admitted: true } | { admitted: false; code: CapRefusal; message: string };

/**
 * Admits new payments in order against what their windows have spent (by capWindowKey): a payment that would take
 * a window past its cap is refused and does not count, and later ones are still tried. Returns a verdict per
 * payment and what each window adds.
 */
export function admitWithinCaps(payments: CappedPayment[], atMs: number, periodSeq: number, spent: ReadonlyMap<string, number>):
  { verdicts: CapVerdict[]; added: Map<string, number> } {
  const added = new Map<string, number>();
  const used = (w: CapWindow) => (spent.get(capWindowKey(w)) ?? 0) + (added.get(capWindowKey(w)) ?? 0);
  const verdicts = payments.map((p): CapVerdict => {
    const windows = capWindows(p, atMs, periodSeq);
    const over = windows.find((w) => !withinCap(used(w), p.amountMinor, w.capMinor));
    if (over) {
      return { admitted: false, code: over.kind === 'd' ? 'daily_cap_exceeded' : 'period_cap_exceeded',
        message: `${p.amountMinor} would take the rule set past its ${over.kind === 'd' ? 'daily' : 'period'} cap of ${over.capMinor} `
          + `(${used(over)} spent ${over.kind === 'd' ? 'today' : 'this period'})` };
    }
    for (const w of windows) added.set(capWindowKey(w), (added.get(capWindowKey(w)) ?? 0) + p.amountMinor);
    return { admitted: true };
  });
  return { verdicts, added };
}
