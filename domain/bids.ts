// Bid rounds: the broker sells an item that several merchants can supply, and the merchants compete to fulfil it.
//
//   sell first (variant A): the broker prices the item by its class's criteria and authorizes the customer's card,
//     then the round opens; at its close the best acceptable bid wins (reopened once, longer, when none is);
//     the broker keeps the difference between the sale and the winning bid.
//       authorizing → open → awarded → fulfilling | no_award (the authorization voided) | failed (not authorized)
//   quote first (variant B): the round runs first, for seconds; the best bid plus the broker's margin is the quote,
//     which the customer may accept (pay exactly it) while it is valid.
//       open → quoted → accepting → awarded → fulfilling | quoted again (declined) | expired | no_quote | no_award
//
// An award starts the winner's order on the round's authorization; if the winner cancels before capturing, the award
// falls to the next acceptable bid. This file holds the rules: pricing, which bids are acceptable, which wins, what
// each event does to a round. It never reads the clock: the workflow passes the time in.
import type { Address } from './order';
import { applyBps, type ItemKind, MAX_ORDER_TOTAL_MINOR, type PricedOrder } from './pricing';
import { formatMoney } from './money';

export type RoundMode = 'sell_first' | 'quote_first';

/** Variant A's sale price: a list price, or the median of recent winning bids plus a margin, within a floor and a ceiling. */
export type SalePricing =
  | { kind: 'list'; listPriceMinor: number }
  | { kind: 'recent_bids'; marginBps: number; floorMinor: number; ceilingMinor: number };

/** A class of biddable items (an ISBN, a SKU family), as an operator defines it. */
export interface ItemClass {
  id: string;
  name: string;
  currency: string;
  kind: ItemKind;
  pricing: SalePricing;
  /** Sell first: a bid is acceptable at most at the sale's unit price less this. */
  minMarginMinor: number;
  /** Quote first: the quote's unit price is the winning bid plus this share of it. */
  quoteMarginBps: number;
  /** Sell first: how long a round stays open (a reopened round: REOPEN_FACTOR times as long). */
  windowSeconds: number;
  /** A round closes early once this many bids are in (null: at its timer only). */
  enoughBids: number | null;
  /** Quote first: how long a quote can be accepted. */
  quoteLifetimeSeconds: number;
  maxQuantity: number;
}

export const MAX_ROUND_QUANTITY = 1000;
export const DEFAULT_SELL_WINDOW_SECONDS = 3600;
export const MIN_SELL_WINDOW_SECONDS = 1;
/** A day: with its one reopening (twice as long) a round ends within three, well inside an authorization's validity. */
export const MAX_SELL_WINDOW_SECONDS = 24 * 3600;
/** A round that found no acceptable bid reopens once, for this many times its window. */
export const REOPEN_FACTOR = 2;
export const DEFAULT_QUOTE_WINDOW_SECONDS = 5;
export const MIN_QUOTE_WINDOW_SECONDS = 1;
export const MAX_QUOTE_WINDOW_SECONDS = 60;
export const DEFAULT_QUOTE_LIFETIME_SECONDS = 600;
export const MAX_QUOTE_LIFETIME_SECONDS = 24 * 3600;
/** Bids a merchant may place in one round: its first and its replacements. */
export const MAX_BIDS_PER_MERCHANT = 10;
export const MAX_DELIVERY_DAYS = 365;
export const MAX_CONDITIONS_LENGTH = 500;
/** How many of a class's latest winning bids its recent_bids pricing takes the median of. */
export const RECENT_WINNING_BIDS = 20;
/** Merchants' ratings: hundredths of a star, 0 to 5 stars. */
export const MAX_RATING = 500;
/** Merchants that may bid on one class: each round is opened to (and reads the bids of) at most this many. */
export const MAX_BIDDERS_PER_CLASS = 1000;
/** An item class's id: it is the sku of its orders' line. */
export const ITEM_CLASS_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class BidRoundError extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'BidRoundError';
  }
}

/** The median of the recent winning unit bids plus the margin, or the list price; within the floor and ceiling. */
export function saleUnitPrice(pricing: SalePricing, recentWinningUnitBids: number[]): number {
  if (pricing.kind === 'list') return pricing.listPriceMinor;
  if (recentWinningUnitBids.length === 0) return pricing.ceilingMinor; // (no history yet: room for every bid)
  const sorted = [...recentWinningUnitBids].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : Math.floor((sorted[mid - 1] + sorted[mid]) / 2);
  return Math.min(pricing.ceilingMinor, Math.max(pricing.floorMinor, median + applyBps(median, pricing.marginBps)));
}

/** A quote's unit price: the winning bid plus the broker's margin. */
export const quoteUnitPrice = (bidUnitMinor: number, marginBps: number) => bidUnitMinor + applyBps(bidUnitMinor, marginBps);

/** A bid above this many times the class's reference price (its list price or ceiling) is absurd: refused, not ranked. */
export const ABSURD_PRICE_FACTOR = 10;

/** The largest unit price a bid may name in a round of this quantity (its total stays a safe order total). */
export const maxUnitPrice = (quantity: number) => Math.floor(MAX_ORDER_TOTAL_MINOR / quantity);

/**
 * The largest unit price a round takes: ABSURD_PRICE_FACTOR times the class's reference price (sell first: the sale's
 * unit price), within what an order can total (quote first: with the broker's margin on top).
 */
export function roundMaxUnitPrice(c: ItemClass, quantity: number, saleUnitMinor: number | null): number {
  const reference = saleUnitMinor ?? (c.pricing.kind === 'list' ? c.pricing.listPriceMinor : c.pricing.ceilingMinor);
  const fits = saleUnitMinor !== null ? maxUnitPrice(quantity) : Math.floor((maxUnitPrice(quantity) * 10_000) / (10_000 + c.quoteMarginBps));
  return Math.min(fits, reference * ABSURD_PRICE_FACTOR);
}

/** Sell first: the highest unit bid that can win (the sale's unit price less the class's minimum margin). */
export const maxAcceptableUnit = (c: ItemClass, saleUnitMinor: number) => saleUnitMinor - c.minMarginMinor;

/** A bid as the round reads it at its close. */
export interface Bid {
  merchantId: string;
  unitPriceMinor: number;
  deliveryDays: number;
  /** The merchant's rating when the round closed (hundredths of a star). */
  rating: number;
  /** When it was placed (a replaced bid keeps its first place): the order bids arrived in. */
  seq: number;
  conditions: string | null;
}

/** The selection criteria: lowest price, then fastest delivery, then best rating, then earliest bid; then merchant id. */
export function compareBids(a: Bid, b: Bid): number {
  return a.unitPriceMinor - b.unitPriceMinor || a.deliveryDays - b.deliveryDays || b.rating - a.rating || a.seq - b.seq
    || (a.merchantId < b.merchantId ? -1 : a.merchantId > b.merchantId ? 1 : 0);
}

/** The acceptable bids (at most maxUnitMinor a unit, when given), best first: the first wins, the next take over. */
export function rankBids(bids: Bid[], maxUnitMinor: number | null): Bid[] {
  return bids.filter((b) => maxUnitMinor === null || b.unitPriceMinor <= maxUnitMinor).sort(compareBids);
}

/** The item's one line as the order prices it: the unit price, no separate shipping or tax (the bid includes delivery). */
export function roundPriced(c: Pick<ItemClass, 'id' | 'currency' | 'kind'>, quantity: number, unitPriceMinor: number): PricedOrder {
  const itemsMinor = unitPriceMinor * quantity;
  return {
    currency: c.currency, lines: [{ sku: c.id, description: undefined, quantity, unitPriceMinor, kind: c.kind, unitTaxMinor: 0 }],
    shippingOptionId: c.kind === 'hard' ? 'included' : null, shippingMinor: 0, shippingTaxMinor: 0, taxRateBps: 0, itemsMinor, taxMinor: 0,
    totalMinor: itemsMinor,
  };
}

/** Checks a round's request against its class: quantity, and a destination for goods that ship. */
export function checkRoundRequest(c: ItemClass, quantity: number, hasAddress: boolean): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > Math.min(c.maxQuantity, MAX_ROUND_QUANTITY)) {
    throw new BidRoundError('parameter_invalid', `quantity must be 1 to ${Math.min(c.maxQuantity, MAX_ROUND_QUANTITY)} for ${c.id}`, 'quantity');
  }
  if (c.kind === 'hard' && !hasAddress) throw new BidRoundError('shipping_required', `${c.id} ships: a shipping address is required`, 'shipping');
  if (c.kind === 'soft' && hasAddress) throw new BidRoundError('shipping_not_applicable', `${c.id} is a soft good: it does not ship`, 'shipping');
}

/** Quote first: an acceptance gives an address exactly for goods that ship, in the country the quote was for. */
export function checkAcceptance(c: ItemClass, destination: { country: string } | null, address: Address | null): void {
  if (c.kind === 'hard' && !address) throw new BidRoundError('shipping_required', 'The item ships: give a shipping address', 'shipping');
  if (c.kind === 'soft' && address) throw new BidRoundError('shipping_not_applicable', 'A soft good does not ship', 'shipping');
  if (address && destination && address.country !== destination.country) {
    throw new BidRoundError('address_outside_destination', `The quote was for delivery in ${destination.country}`, 'shipping.address.country');
  }
}

export type RoundState = 'authorizing' | 'open' | 'quoted' | 'accepting' | 'awarded' | 'fulfilling' | 'no_award' | 'no_quote' | 'expired' | 'failed';
export const FINAL_ROUND_STATES: ReadonlySet<RoundState> = new Set(['fulfilling', 'no_award', 'no_quote', 'expired', 'failed']);

/** What a round was asked for, and the terms it runs by (its class as it was when the round began). */
export interface RoundTerms {
  roundId: string;
  mode: RoundMode;
  itemClass: ItemClass;
  quantity: number;
  /** The buyer app that asked (told by webhook) and its name for the customer. */
  requesterId: string;
  customerId: string;
  /** Sell first: the sale's unit price, priced when the purchase was made. */
  saleUnitPriceMinor: number | null;
  /** How long the round is open, first time (quote first: the window asked for). */
  windowMs: number;
}

export interface Award {
  merchantId: string;
  unitPriceMinor: number;
  deliveryDays: number;
  orderId: string;
  /** released: the merchant cancelled before capturing (the award fell to the next bid). */
  outcome: 'awaiting_fulfilment' | 'fulfilling' | 'released';
}

/** A round as the books, the API and the Web UI's query show it (never a merchant's price but the winner's). */
export interface RoundView {
  id: string;
  mode: RoundMode;
  itemClassId: string;
  currency: string;
  quantity: number;
  state: RoundState;
  requesterId: string;
  customerId: string;
  /** 1, or 2 once a sell-first round reopened. */
  opening: number;
  closesAt: string | null;
  closedAt: string | null;
  /** What the customer pays: sell first from the start, quote first once quoted. */
  sale: { unitPriceMinor: number; totalMinor: number } | null;
  quoteExpiresAt: string | null;
  bidCount: number;
  authorizationId: string | null;
  awards: Award[];
  failure: { code: string; message: string } | null;
}

/** The part of the order an award starts that the round decides. */
export interface AwardOrder {
  merchantId: string;
  priced: PricedOrder;
  supplyUnitMinor: Record<string, number>;
}

export class BidRound {
  state: RoundState;
  opening = 0;
  closesAtMs: number | null = null;
  closedAtMs: number | null = null;
  saleUnitMinor: number | null;
  quoteExpiresAtMs: number | null = null;
  bidCount = 0;
  authorizationId: string | null = null;
  awards: Award[] = [];
  failure: { code: string; message: string } | null = null;
  /** Acceptable bids not yet awarded, best first. */
  private ranking: Bid[] = [];
  private bidders: string[] = [];

  constructor(readonly terms: RoundTerms) {
    this.state = terms.mode === 'sell_first' ? 'authorizing' : 'open';
    this.saleUnitMinor = terms.saleUnitPriceMinor;
  }

  get isFinal(): boolean {
    return FINAL_ROUND_STATES.has(this.state);
  }

  get award(): Award | null {
    return this.awards.at(-1) ?? null;
  }

  /** The amount the customer's card is authorized for. */
  get saleTotalMinor(): number | null {
    return this.saleUnitMinor === null ? null : this.saleUnitMinor * this.terms.quantity;
  }

  // --- the customer's card ---------------------------------------------------------------------------

  authorized(authorizationId: string): void {
    this.authorizationId = authorizationId;
    this.failure = null;
    if (this.terms.mode === 'sell_first') this.state = 'open';
  }

  /** Sell first: the purchase failed. Quote first: the quote stands for another card until it expires. */
  authorizationFailed(code: string, message: string): void {
    this.failure = { code, message };
    this.state = this.terms.mode === 'sell_first' ? 'failed' : 'quoted';
  }

  // --- the round -------------------------------------------------------------------------------------

  /** The round opens (or reopens) until closesAtMs; the window of this opening. */
  opened(nowMs: number): number {
    this.opening++;
    const windowMs = this.opening === 1 ? this.terms.windowMs : this.terms.windowMs * REOPEN_FACTOR;
    this.closesAtMs = nowMs + windowMs;
    this.closedAtMs = null;
    this.state = 'open';
    return this.closesAtMs;
  }

  /**
   * The round closed with these bids. Sell first: the acceptable ones are ranked ('award'); none reopens the round
   * once ('reopen'), then ends it ('no_award'). Quote first: the best bid is quoted ('quoted'), or there is none.
   */
  closed(bids: Bid[], nowMs: number): 'award' | 'reopen' | 'no_award' | 'quoted' | 'no_quote' {
    this.closedAtMs = nowMs;
    this.bidCount = bids.length;
    this.bidders = bids.map((b) => b.merchantId).sort();
    const c = this.terms.itemClass;
    if (this.terms.mode === 'sell_first') {
      this.ranking = rankBids(bids, maxAcceptableUnit(c, this.saleUnitMinor!));
      if (this.ranking.length > 0) return 'award';
      if (this.opening < 2) return 'reopen';
      this.state = 'no_award';
      this.failure = { code: 'no_acceptable_bid', message: 'No merchant offered to supply the item at an acceptable price; nothing was charged' };
      return 'no_award';
    }
    const best = rankBids(bids, null)[0];
    if (!best) {
      this.state = 'no_quote';
      this.failure = { code: 'no_bids', message: 'No merchant bid to supply the item in the window' };
      return 'no_quote';
    }
    this.saleUnitMinor = quoteUnitPrice(best.unitPriceMinor, c.quoteMarginBps);
    // (the winner is held to its bid; were it to cancel, a next bid takes over only where the quoted price covers it)
    this.ranking = rankBids(bids, this.saleUnitMinor);
    this.quoteExpiresAtMs = nowMs + c.quoteLifetimeSeconds * 1000;
    this.state = 'quoted';
    return 'quoted';
  }

  /** Quote first: an acceptance is taken only while the quote is valid and nothing else is going on. */
  admitAccept(nowMs: number): 'accept' | 'answered' {
    if (this.state === 'open') throw new BidRoundError('quote_not_ready', 'The round is still collecting bids; wait for the quote');
    if (this.state === 'no_quote') throw new BidRoundError('no_quote', 'No merchant bid: there is no quote to accept');
    if (this.state === 'expired' || (this.state === 'quoted' && nowMs >= this.quoteExpiresAtMs!)) {
      throw new BidRoundError('quote_expired', `The quote expired at ${new Date(this.quoteExpiresAtMs!).toISOString()}; ask for a new one`);
    }
    if (this.state === 'quoted') return 'accept';
    if (this.state === 'no_award') throw new BidRoundError('round_ended', 'The purchase was cancelled: no merchant could supply it');
    return 'answered'; // (accepting, awarded, fulfilling: the same acceptance, answered as it stands)
  }

  accepting(): void {
    this.state = 'accepting';
    this.failure = null;
  }

  expire(nowMs: number): boolean {
    if (this.state !== 'quoted' || nowMs < this.quoteExpiresAtMs!) return false;
    this.state = 'expired';
    return true;
  }

  // --- awards ----------------------------------------------------------------------------------------

  /** The next acceptable bid's order, or null (the round ends without an award: the authorization is to be voided). */
  nextAward(orderIdOf: (merchantId: string, n: number) => string): AwardOrder | null {
    const bid = this.ranking.shift();
    if (!bid) {
      this.state = 'no_award';
      this.failure = this.awards.length
        ? { code: 'awards_released', message: 'Every merchant that could supply the item at the price withdrew; nothing was charged' }
        : { code: 'no_acceptable_bid', message: 'No merchant offered to supply the item at an acceptable price; nothing was charged' };
      return null;
    }
    const sku = this.terms.itemClass.id;
    this.awards.push({ merchantId: bid.merchantId, unitPriceMinor: bid.unitPriceMinor, deliveryDays: bid.deliveryDays,
      orderId: orderIdOf(bid.merchantId, this.awards.length + 1), outcome: 'awaiting_fulfilment' });
    this.state = 'awarded';
    return { merchantId: bid.merchantId, priced: roundPriced(this.terms.itemClass, this.terms.quantity, this.saleUnitMinor!),
      supplyUnitMinor: { [sku]: bid.unitPriceMinor } };
  }

  /**
   * The awarded order captured (the winner is fulfilling: the round is done), handed its share back (the next bid may
   * have it), or voided it (nothing left to award: the round ends).
   */
  orderReported(orderId: string, what: 'captured' | 'released' | 'voided'): boolean {
    const award = this.award;
    if (!award || award.orderId !== orderId || award.outcome !== 'awaiting_fulfilment') return false;
    award.outcome = what === 'captured' ? 'fulfilling' : 'released';
    if (what === 'captured') this.state = 'fulfilling';
    if (what === 'voided') {
      this.ranking = [];
      this.state = 'no_award';
      this.failure = { code: 'award_voided', message: "The merchant's order voided the authorization; nothing was charged" };
    }
    return true;
  }

  /** The bidders that lost, once the round is over: all but those awarded (the one fulfilling, those that withdrew). */
  losers(): string[] {
    return this.bidders.filter((m) => !this.awards.some((a) => a.merchantId === m));
  }

  view(): RoundView {
    const t = this.terms;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: t.roundId, mode: t.mode, itemClassId: t.itemClass.id, currency: t.itemClass.currency, quantity: t.quantity, state: this.state,
      requesterId: t.requesterId, customerId: t.customerId, opening: this.opening, closesAt: iso(this.closesAtMs), closedAt: iso(this.closedAtMs),
      sale: this.saleUnitMinor === null ? null : { unitPriceMinor: this.saleUnitMinor, totalMinor: this.saleTotalMinor! },
      quoteExpiresAt: iso(this.quoteExpiresAtMs), bidCount: this.bidCount, authorizationId: this.authorizationId,
      awards: this.awards.map((a) => ({ ...a })), failure: this.failure,
    };
  }
}

/** The Web UI's current details of a bid round's workflow. */
export function roundDetails(v: RoundView): string {
  if (v.failure) return `${v.state}: ${v.failure.code}`;
  const sale = v.sale ? `, sale ${formatMoney(v.sale.totalMinor, v.currency)}` : '';
  const closes = v.closesAt && !v.closedAt ? ` until ${v.closesAt}` : '';
  return `${v.state}${closes}: ${v.bidCount} bid${v.bidCount === 1 ? '' : 's'}, ${v.awards.length} award${v.awards.length === 1 ? '' : 's'}${sale}`;
}
