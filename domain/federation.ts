// Federation between payment services (Mojaloop's account lookup, quotes and transfers are the model): a buyer of
// one service (B) pays a seller of another (A) by an identifier, never an account number. The identifiers are
// aliases B hands its buyers: temporary, with an expiry and a number of uses, each bound to one of the buyer's rule
// sets. These are the pure rules: the names and limits of aliases, what B answers an authorization request, and the
// netting of what the two services owe each other.
import { type BuyerRules, evaluateRules, type RuleRefusal } from './rules';

/** An alias as buyers and sellers write it: `fa-` and 16 letters or digits (lower case, no look-alikes). */
export const ALIAS_PATTERN = /^fa-[a-hjkmnp-z2-9]{16}$/;
const ALIAS_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
/** An alias from 16 random bytes (the caller's: domain/ draws none). */
export function aliasFrom(random: Uint8Array): string {
  if (random.length < 16) throw new Error('an alias needs 16 random bytes');
  let s = 'fa-';
  for (let i = 0; i < 16; i++) s += ALIAS_ALPHABET[random[i] % ALIAS_ALPHABET.length];
  return s;
}

/** Limits on aliases: how long one may live, how many uses it may allow, how many a buyer may hold open. */
export const MAX_ALIAS_SECONDS = 90 * 24 * 3600;
export const DEFAULT_ALIAS_SECONDS = 30 * 24 * 3600;
export const MAX_ALIAS_USES = 10_000;
export const MAX_OPEN_ALIASES_PER_BUYER = 20;
/** The largest federated payment (minor units): a micro-payment's ceiling. */
export const MAX_FEDERATED_MINOR = 100_000;

/** A gateway's transaction id: what makes a request idempotent at the buyer's service. */
export const TRANSACTION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface AliasTerms {
  expiresAt: Date;
  maxUses: number | null;
  uses: number;
  revokedAt: Date | null;
  /** Above this amount the buyer is asked (null: never; 0: always). */
  askAboveMinor: number | null;
}

/** What a buyer's service answers about a transaction. */
export type FederatedDecision = 'approved' | 'declined' | 'pending' | 'cancelled';

export type AliasRefusal = 'unknown_alias' | 'alias_expired' | 'alias_used_up';
export type FederationRefusal = AliasRefusal | RuleRefusal | 'currency_mismatch' | 'buyer_suspended' | 'daily_cap_exceeded'
  | 'period_cap_exceeded' | 'buyer_declined' | 'buyer_confirmation_expired';

/** Whether an alias may pay now (revoked counts as unknown: a seller learns nothing of a buyer's other aliases). */
export function aliasUsable(a: AliasTerms | undefined, atMs: number): AliasRefusal | null {
  if (!a || a.revokedAt) return 'unknown_alias';
  if (atMs >= a.expiresAt.getTime()) return 'alias_expired';
  if (a.maxUses !== null && a.uses >= a.maxUses) return 'alias_used_up';
  return null;
}

export interface AuthorizationFacts {
  amountMinor: number;
  currency: string;
  /** The payee's gateway and its seller, as the counterparty the buyer's rules name: `<gateway id>:<seller id>`. */
  counterparty: string;
  category: string;
  atMs: number;
}

export type Verdict =
  | { decision: 'approve'; caps: { perDayMinor: number | null; perPeriodMinor: number | null } }
  | { decision: 'ask' }
  | { decision: 'decline'; code: FederationRefusal; message: string };

/**
 * The buyer's service decides an authorization request from the alias and the buyer's rule set (the rule sets of
 * programmatic payments: caps, categories, counterparties): approve (the ledger still applies the caps), ask the
 * buyer (an amount above the alias's askAboveMinor), or decline with the reason.
 */
export function decideAuthorization(alias: AliasTerms | undefined,
  buyer: { currency: string; buyerClass: string; suspended: boolean } | undefined, rules: BuyerRules | undefined, f: AuthorizationFacts): Verdict {
  const unusable = aliasUsable(alias, f.atMs);
  if (unusable || !buyer || !rules) {
    const code = unusable ?? 'unknown_alias';
    return { decision: 'decline', code, message: ALIAS_MESSAGES[code] };
  }
  if (buyer.suspended) return { decision: 'decline', code: 'buyer_suspended', message: "The buyer's account is suspended" };
  if (f.currency !== buyer.currency) return { decision: 'decline', code: 'currency_mismatch', message: `The buyer pays in ${buyer.currency}` };
  const r = evaluateRules(rules, null, { amountMinor: f.amountMinor, sellerId: f.counterparty, category: f.category, buyerClass: buyer.buyerClass, atMs: f.atMs });
  if (!r.allowed) return { decision: 'decline', code: r.code, message: r.message };
  if (alias!.askAboveMinor !== null && f.amountMinor > alias!.askAboveMinor) return { decision: 'ask' };
  return { decision: 'approve', caps: r.caps };
}

const ALIAS_MESSAGES: Record<AliasRefusal, string> = {
  unknown_alias: 'No such identifier at this service',
  alias_expired: 'The identifier has expired',
  alias_used_up: 'The identifier has no uses left',
};

// --- netting ------------------------------------------------------------------------------------------------

/** An authorized transaction between two services, as a netting window counts it. */
export interface NettedTransaction {
  transactionId: string;
  /** The service whose buyer paid, and the one whose seller was paid. */
  payerGateway: string;
  payeeGateway: string;
  currency: string;
  amountMinor: number;
}

export interface NetPosition {
  currency: string;
  /** What each side's buyers spent at the other's sellers. */
  owedByFirst: number;
  owedBySecond: number;
  /** Who transfers, and how much (0: nothing moves). */
  debtor: string | null;
  creditor: string | null;
  netMinor: number;
}

/**
 * The net positions of a window between gateways first and second (per currency): each direction's sum, and the one
 * transfer that settles both, from the net debtor to the net creditor. Transactions of other pairs are an error.
 */
export function netPositions(first: string, second: string, txs: readonly NettedTransaction[]): NetPosition[] {
  const by = new Map<string, { owedByFirst: number; owedBySecond: number }>();
  for (const t of txs) {
    const pair = [t.payerGateway, t.payeeGateway];
    if (!pair.includes(first) || !pair.includes(second) || t.payerGateway === t.payeeGateway) {
      throw new Error(`transaction ${t.transactionId} is not between ${first} and ${second}`);
    }
    const p = by.get(t.currency) ?? { owedByFirst: 0, owedBySecond: 0 };
    if (t.payerGateway === first) p.owedByFirst += t.amountMinor;
    else p.owedBySecond += t.amountMinor;
    by.set(t.currency, p);
  }
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, p]) => {
    const net = p.owedByFirst - p.owedBySecond;
    return { currency, ...p, netMinor: Math.abs(net), debtor: net > 0 ? first : net < 0 ? second : null, creditor: net > 0 ? second : net < 0 ? first : null };
  });
}

/** The gateway that runs a pair's netting windows: the one whose id sorts first (both sides agree without asking). */
export const nettingCoordinator = (a: string, b: string) => (a < b ? a : b);

/**
 * What one side posts when a window's position settles (first: the gateway the position was computed with first):
 * its receivable from the peer (what the peer's buyers spent at its sellers) is cleared, its payable to the peer (what
 * its buyers spent at the peer's sellers) is cleared, and the difference is the cash the net transfer moved (positive:
 * received). The three add up to nothing.
 */
export function settlementPostings(me: string, first: string, p: NetPosition): { receivableMinor: number; payableMinor: number; cashMinor: number } {
  const owedToMe = me === first ? p.owedBySecond : p.owedByFirst;
  const owedByMe = me === first ? p.owedByFirst : p.owedBySecond;
  return { receivableMinor: -owedToMe, payableMinor: owedByMe, cashMinor: owedToMe - owedByMe };
}

/** The idempotency key of a window's net transfer in one currency: the processor moves it once, however often asked. */
export const nettingTransferKey = (coordinator: string, member: string, seq: number, currency: string) =>
  `netting:${coordinator}:${member}:${seq}:${currency}`;
