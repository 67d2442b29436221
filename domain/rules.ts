// Programmatic authorization between programs: a party registers rule sets, each referenced by an opaque
// token it hands to its programs. A micro-payment is authorized only when the buyer's rule set, and the
// seller's where the seller has one, both allow it. This module decides the stateless rules; the spending
// caps (per day, per period) are enforced by the ledger on counters it locks while recording, so parallel
// payments cannot together exceed them (the caps are returned here for that).

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

/**
 * Whether adding amountMinor to what was spent stays within a cap (null: no cap). The ledger applies it to
 * counters it holds locked (ledger/micropayments.ts), which is what makes it hold under concurrency.
 */
export function withinCap(spentMinor: number, amountMinor: number, capMinor: number | null): boolean {
  return capMinor === null || spentMinor + amountMinor <= capMinor;
}
