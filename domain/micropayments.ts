// Micro-payments: the broker's fee on a purchase, whether a payment is admitted (its parties, terms and rule
// sets), the ids the API shows, and the limits on all of it.
import { type BuyerRules, evaluateRules, type SellerRules } from './rules';

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

// --- admission ---------------------------------------------------------------------------------------

/** A payment as a buyer's or seller's program asks for it. */
export interface PaymentRequest {
  clientId: string;
  buyerToken: string;
  sellerToken?: string;
  sellerId: string;
  itemId: string;
  currency: string;
  /** The price the buyer's program expects; refused when the item's price differs. */
  amountMinor?: number;
}

/** What admission needs to know of the parties, looked up by the request's tokens and ids. */
export interface PaymentParties {
  /** The rule set of the buyer token, with its owner's buyer for a buyer rule set; undefined: unknown or revoked. */
  buyerRuleSet?: { id: string; ownerId: string; party: 'buyer' | 'seller'; rules: BuyerRules;
    buyer?: { currency: string; buyerClass: string; suspendedAt: Date | null; suspendedReason: string | null } };
  /** The rule set of the seller token, when the request names one. */
  sellerRuleSet?: { ownerId: string; party: 'buyer' | 'seller'; rules: SellerRules };
  seller?: { feeBps: number; hasRules: boolean };
  item?: { category: string; priceMinor: number; currency: string; grantSeconds: number };
}

/** Who asks: a buyer records its own payments, a seller (merchant) payments to itself; apps and operators any. */
export interface Caller { id: string; kind: 'buyer' | 'buyer_app' | 'merchant' | 'operator' }

/** An admitted payment, priced, with the caps its rule set counts it against. */
export interface PaymentToRecord {
  buyerId: string;
  sellerId: string;
  itemId: string;
  clientId: string;
  ruleSetId: string;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  grantSeconds: number;
  caps: { perDayMinor: number | null; perPeriodMinor: number | null };
}

/** Why a payment is refused: the code a client acts on, the field it is about, and the status (403 or 422). */
export interface PaymentRefusal { status: 403 | 422; code: string; message: string; param?: string }

const refuse = (code: string, message: string, param?: string, status: 403 | 422 = 422): PaymentRefusal => ({ status, code, message, param });
export const isRefusal = (x: PaymentToRecord | PaymentRefusal): x is PaymentRefusal => 'code' in x;

/**
 * Whether the payment is admitted, before the caps (which the ledger decides on its locked counters): the buyer's
 * token, the caller's right to record it, the buyer's standing, the seller and item, currency and price, the
 * seller's token where the seller requires one, and both rule sets.
 */
export function admitPayment(req: PaymentRequest, parties: PaymentParties, caller: Caller, atMs: number): PaymentToRecord | PaymentRefusal {
  const rs = parties.buyerRuleSet;
  if (!rs || rs.party !== 'buyer' || !rs.buyer) return refuse('invalid_buyer_token', 'The buyer token is unknown or revoked', 'buyerToken');
  const buyer = rs.buyer;
  if (caller.kind === 'buyer' && caller.id !== rs.ownerId) return refuse('invalid_buyer_token', 'The buyer token is unknown or revoked', 'buyerToken');
  if (caller.kind === 'merchant' && caller.id !== req.sellerId) return refuse('forbidden', 'A seller records payments to itself only', 'sellerId', 403);
  if (buyer.suspendedAt) return refuse('buyer_suspended', `The buyer is suspended: ${buyer.suspendedReason ?? 'unpaid invoice'}`, 'buyerToken');
  const { seller, item } = parties;
  if (!seller) return refuse('unknown_seller', `No seller ${req.sellerId}`, 'sellerId');
  if (!item) return refuse('unknown_item', `Seller ${req.sellerId} has no item ${req.itemId}`, 'itemId');
  if (req.currency !== item.currency || req.currency !== buyer.currency) {
    return refuse('currency_mismatch', `The item is sold in ${item.currency} and the buyer pays in ${buyer.currency}`, 'currency');
  }
  if (req.amountMinor !== undefined && req.amountMinor !== item.priceMinor) {
    return refuse('price_mismatch', `The item costs ${item.priceMinor}, not ${req.amountMinor}`, 'amountMinor');
  }
  let sellerRules: SellerRules | null = null;
  if (req.sellerToken) {
    const srs = parties.sellerRuleSet;
    if (!srs || srs.party !== 'seller' || srs.ownerId !== req.sellerId) {
      return refuse('invalid_seller_token', 'The seller token is unknown, revoked or not this seller\'s', 'sellerToken');
    }
    sellerRules = srs.rules;
  } else if (seller.hasRules) {
    return refuse('seller_token_required', `Seller ${req.sellerId} requires its rule-set token with each payment`, 'sellerToken');
  }
  const decision = evaluateRules(rs.rules, sellerRules, {
    amountMinor: item.priceMinor, sellerId: req.sellerId, category: item.category, buyerClass: buyer.buyerClass, atMs,
  });
  if (!decision.allowed) return refuse(decision.code, decision.message, decision.party === 'buyer' ? 'buyerToken' : 'sellerToken');
  return {
    buyerId: rs.ownerId, sellerId: req.sellerId, itemId: req.itemId, clientId: req.clientId, ruleSetId: rs.id, currency: req.currency,
    amountMinor: item.priceMinor, feeMinor: microFee(item.priceMinor, seller.feeBps), grantSeconds: item.grantSeconds,
    caps: decision.caps,
  };
}
