// Bid rounds as clients see them: operators define item classes, merchants opt in and bid, buyer apps buy (sell
// first) or ask for quotes and accept them (quote first). A round's row is written before its workflow starts; a bid
// is a row (one statement, no workflow task): only a bid that brings its round to enough bids that could win wakes it.
import { createHash, randomBytes } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { canonical } from '../domain/canonical';
import {
  BidRound, BidRoundError, checkAcceptance, checkRoundRequest, DEFAULT_QUOTE_WINDOW_SECONDS, FINAL_ROUND_STATES, type ItemClass,
  MAX_BIDDERS_PER_CLASS, MAX_BIDS_PER_MERCHANT, maxAcceptableUnit, maxUnitPrice, RECENT_WINNING_BIDS, roundMaxUnitPrice, type RoundMode,
  type RoundState, type RoundView, saleUnitPrice,
} from '../domain/bids';
import { MAX_ORDER_TOTAL_MINOR } from '../domain/pricing';
import { CART_AVS_POLICY } from '../domain/cart';
import type { Address } from '../domain/order';
import type { AutoBid, BidStore, PlacedBid, RoundRow } from '../stores/bids';
import type { Page, PageRequest } from '../stores/page';
import {
  type AcceptRequest, acceptUpdate, type BidRoundInput, type BidRoundWorkflow, bidRoundWorkflowId, closeEarlySignal, leftStatesUpdate,
  type Payment, roundQuery, roundStartAttributes,
} from '../workflows/bidRound.contract';
import type { OrderTiming } from './orders';
import { isTemporalUnavailable, replyWithin, startOnce, TemporalUnavailable, updateRefusal, withinDeadline } from './temporal';

export { BidRoundError } from '../domain/bids';

/** How long a purchase's request waits for its authorization before answering 'authorizing' (the client polls or hears by webhook). */
export const PURCHASE_REPLY_WAIT_MS = 5000;
/** The longest a caller may wait for a round to move on (a quote's long poll). */
export const MAX_WAIT_SECONDS = 30;
/** An award's order: the broker's review deadline (unused: the round decided AVS). */
const AWARD_REVIEW_TIMEOUT_MS = 24 * 3600_000;

export interface PurchaseRequest {
  itemClass: string;
  quantity: number;
  customerId: string;
  shipping?: { address: Address };
  payment: Payment;
}

export interface QuoteRequest {
  itemClass: string;
  quantity: number;
  customerId: string;
  /** Where it would go (goods that ship): the acceptance's address must be in this country. */
  destination?: { country: string; region?: string; postalCode?: string };
  windowSeconds?: number;
}

export interface BidBody { unitPriceMinor: number; currency: string; deliveryDays: number; conditions?: string }

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class BidService {
  constructor(private readonly deps: {
    bids: BidStore; temporal: Client; taskQueue: string; timing: OrderTiming; clock: () => number;
  }) {}

  // --- the catalogue ---------------------------------------------------------------------------------

  async putItemClass(c: ItemClass): Promise<{ itemClass: ItemClass; created: boolean }> {
    if (c.pricing.kind === 'recent_bids' && c.pricing.floorMinor > c.pricing.ceilingMinor) {
      throw new BidRoundError('parameter_invalid', 'pricing.floorMinor may not exceed pricing.ceilingMinor', 'pricing.floorMinor');
    }
    const lowest = c.pricing.kind === 'list' ? c.pricing.listPriceMinor : c.pricing.floorMinor;
    if (lowest - c.minMarginMinor < 1) {
      throw new BidRoundError('parameter_invalid', 'The sale price less minMarginMinor must leave at least 1 for a bid', 'minMarginMinor');
    }
    return { itemClass: c, created: await this.deps.bids.putItemClass(c) };
  }

  itemClass(id: string): Promise<ItemClass | undefined> {
    return this.deps.bids.itemClass(id);
  }

  listItemClasses(req: PageRequest): Promise<Page<ItemClass>> {
    return this.deps.bids.listItemClasses(req);
  }

  /** The merchant bids on the class's rounds from now on; an auto-bid rule bids for it as each round opens. */
  async optIn(itemClassId: string, merchantId: string, autoBid: AutoBid | null): Promise<{ itemClassId: string; autoBid: AutoBid | null }> {
    const c = await this.requireClass(itemClassId, 'path');
    if (autoBid && autoBid.unitPriceMinor > maxUnitPrice(autoBid.maxQuantity ?? c.maxQuantity)) {
      throw new BidRoundError('price_too_high', `autoBid.unitPriceMinor may be at most ${maxUnitPrice(autoBid.maxQuantity ?? c.maxQuantity)}`, 'autoBid.unitPriceMinor');
    }
    if (!(await this.deps.bids.optIn(itemClassId, merchantId, autoBid, MAX_BIDDERS_PER_CLASS))) {
      throw new BidRoundError('too_many_bidders', `${MAX_BIDDERS_PER_CLASS} merchants already bid on this class`);
    }
    return { itemClassId, autoBid };
  }

  async optOut(itemClassId: string, merchantId: string): Promise<boolean> {
    await this.requireClass(itemClassId, 'path');
    return this.deps.bids.optOut(itemClassId, merchantId);
  }

  bidder(itemClassId: string, merchantId: string) {
    return this.deps.bids.bidder(itemClassId, merchantId);
  }

  // --- purchases and quotes --------------------------------------------------------------------------

  /**
   * Sell first: prices the item by its class, writes the round and starts its workflow, which authorizes the card
   * and then opens the round. Answers once the authorization is decided, or after PURCHASE_REPLY_WAIT_MS.
   */
  async purchase(requesterId: string, idempotencyKey: string, req: PurchaseRequest): Promise<{ row: RoundRow; round: RoundView; created: boolean }> {
    const c = await this.requireClass(req.itemClass);
    checkRoundRequest(c, req.quantity, !!req.shipping);
    const unit = saleUnitPrice(c.pricing, await this.deps.bids.recentWinningUnitBids(c.id, RECENT_WINNING_BIDS));
    if (unit * req.quantity > MAX_ORDER_TOTAL_MINOR) throw new BidRoundError('amount_too_large', 'The purchase is too large for one order', 'quantity');
    const { row, created } = await this.claim(requesterId, idempotencyKey, req, c, 'sell_first', {
      saleUnitPriceMinor: unit, windowMs: c.windowSeconds * 1000, payment: req.payment, address: req.shipping?.address ?? null, destination: null,
    });
    const round = await this.waitFor(row, ['authorizing'], created ? PURCHASE_REPLY_WAIT_MS : 0);
    return { row, round, created };
  }

  /** Quote first: writes the round and starts its workflow, which collects bids for the window and quotes. */
  async quote(requesterId: string, idempotencyKey: string, req: QuoteRequest): Promise<{ row: RoundRow; round: RoundView; created: boolean }> {
    const c = await this.requireClass(req.itemClass);
    checkRoundRequest(c, req.quantity, !!req.destination);
    const { row, created } = await this.claim(requesterId, idempotencyKey, req, c, 'quote_first', {
      saleUnitPriceMinor: null, windowMs: (req.windowSeconds ?? DEFAULT_QUOTE_WINDOW_SECONDS) * 1000, payment: null, address: null,
      destination: req.destination ?? null,
    });
    return { row, round: await this.current(row), created };
  }

  /**
   * Accepts the round's quote: the card is authorized for exactly the quoted total, and the best bid's merchant is
   * awarded the order. Answered once the authorization is decided; a refused acceptance throws its BidRoundError.
   */
  async accept(row: RoundRow, req: AcceptRequest): Promise<RoundView> {
    const { temporal } = this.deps;
    const input = row.input as BidRoundInput;
    checkAcceptance(input.itemClass, input.destination, req.address);
    try {
      return await withinDeadline(temporal, () => temporal.workflow.getHandle(bidRoundWorkflowId(row.id)).executeUpdate(acceptUpdate, { args: [req] }), 30_000);
    } catch (err) {
      const refusal = updateRefusal(err);
      if (refusal) throw new BidRoundError(refusal.code, refusal.message, refusal.param);
      if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError') return this.closedRefusal(row);
      throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
    }
  }

  /** The round once it is in none of `states`, waiting at most waitMs; else as it stands. */
  async waitFor(row: RoundRow, states: RoundState[], waitMs: number): Promise<RoundView> {
    if (waitMs > 0 && (!row.view || states.includes(row.view.state))) {
      const { temporal } = this.deps;
      const reply = withinDeadline(temporal, () => temporal.workflow.getHandle(bidRoundWorkflowId(row.id)).executeUpdate(leftStatesUpdate, { args: [states] }),
        waitMs + 1000).catch(() => undefined);
      const view = await replyWithin(reply, waitMs);
      if (view) return view;
    }
    return this.current(row);
  }

  round(id: string): Promise<RoundRow | undefined> {
    return this.deps.bids.round(id);
  }

  listRounds(req: PageRequest & { openTo?: string; requesterId?: string; mode?: RoundMode }): Promise<Page<RoundRow>> {
    return this.deps.bids.listRounds(req);
  }

  openedTo(roundId: string, merchantId: string): Promise<boolean> {
    return this.deps.bids.openedTo(roundId, merchantId);
  }

  bid(roundId: string, merchantId: string): Promise<PlacedBid | undefined> {
    return this.deps.bids.bid(roundId, merchantId);
  }

  bids(roundId: string): Promise<PlacedBid[]> {
    return this.deps.bids.bids(roundId);
  }

  /** The round as its row was last saved (as its input says, before its workflow saved it). */
  saved(row: RoundRow): RoundView {
    return row.view ?? { ...new BidRound(row.input as BidRoundInput).view(), state: row.state as RoundState };
  }

  /** The round as it stands: its saved view once final, else its workflow's (briefly), else as saved. */
  async current(row: RoundRow): Promise<RoundView> {
    const saved = row.view;
    if (saved && FINAL_ROUND_STATES.has(saved.state)) return saved;
    try {
      return await withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(bidRoundWorkflowId(row.id)).query(roundQuery), 1000);
    } catch {
      const again = await this.deps.bids.round(row.id);
      return again?.view ?? this.saved(row);
    }
  }

  // --- bids ------------------------------------------------------------------------------------------

  /**
   * Places (or replaces) the merchant's bid: one statement, which the database refuses once the round is closed. A bid
   * that brings a round that closes early to enough bids that could win wakes its workflow (the only bids that cost
   * a workflow task).
   */
  async placeBid(roundId: string, merchantId: string, idempotencyKey: string, body: BidBody): Promise<{ bid: PlacedBid; replayed: boolean }> {
    const { bid, replayed, enough } = await this.deps.bids.placeBid({
      roundId, merchantId, currency: body.currency, unitPriceMinor: body.unitPriceMinor, deliveryDays: body.deliveryDays,
      conditions: body.conditions ?? null, idempotencyKey, requestSha256: sha256(canonical(body)),
    }, MAX_BIDS_PER_MERCHANT);
    if (enough) {
      const { temporal } = this.deps;
      // (the bid is in either way: a round not woken closes at its timer)
      await withinDeadline(temporal, () => temporal.workflow.getHandle(bidRoundWorkflowId(roundId)).signal(closeEarlySignal)).catch(() => undefined);
    }
    return { bid, replayed };
  }

  // --- helpers ---------------------------------------------------------------------------------------

  /** The class a request names (in its body: 422 unknown_item_class; in its path: 404). */
  private async requireClass(id: string, named: 'body' | 'path' = 'body'): Promise<ItemClass> {
    const c = await this.deps.bids.itemClass(id);
    if (!c) throw named === 'body' ? new BidRoundError('unknown_item_class', `No item class ${id}`, 'itemClass') : new BidRoundError('item_class_not_found', 'No such item class');
    return c;
  }

  /** The round's row once per requester and key, and its workflow started. */
  private async claim(requesterId: string, idempotencyKey: string, req: PurchaseRequest | QuoteRequest, c: ItemClass, mode: RoundMode,
    terms: Pick<BidRoundInput, 'saleUnitPriceMinor' | 'windowMs' | 'payment' | 'address' | 'destination'>): Promise<{ row: RoundRow; created: boolean }> {
    const id = `rnd_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
    const input: BidRoundInput = {
      roundId: id, mode, itemClass: c, quantity: req.quantity, requesterId, customerId: req.customerId, requestedAtMs: this.deps.clock(),
      ...terms,
      policy: { avsPolicy: CART_AVS_POLICY, feeBps: 0, reviewTimeoutMs: AWARD_REVIEW_TIMEOUT_MS, ...this.deps.timing },
    };
    const { row, claim } = await this.deps.bids.claimRound({
      id, mode, itemClassId: c.id, currency: c.currency, quantity: req.quantity, requesterId, idempotencyKey,
      requestSha256: sha256(canonical({ mode, ...req })), input, state: mode === 'sell_first' ? 'authorizing' : 'open',
      maxUnitPriceMinor: roundMaxUnitPrice(c, req.quantity, terms.saleUnitPriceMinor), enoughBids: c.enoughBids,
      acceptableMaxMinor: terms.saleUnitPriceMinor === null ? null : maxAcceptableUnit(c, terms.saleUnitPriceMinor),
    });
    if (claim === 'different') {
      throw new BidRoundError('idempotency_key_reused', 'A round exists under this Idempotency-Key with a different request', 'Idempotency-Key');
    }
    const start = row.input as BidRoundInput;
    await startOnce(this.deps.temporal, () => this.deps.temporal.workflow.start<BidRoundWorkflow>('bidRoundWorkflow', {
      workflowId: bidRoundWorkflowId(row.id), taskQueue: this.deps.taskQueue, args: [start],
      workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE', typedSearchAttributes: roundStartAttributes(start),
      staticSummary: `Bid round ${row.id} (${start.mode}): ${start.quantity} of ${start.itemClass.id}`,
    }));
    return { row, created: claim === 'created' };
  }

  /** An acceptance of a round whose workflow is gone: refused by what its row says. */
  private closedRefusal(row: RoundRow): never {
    const state = row.view?.state;
    if (state === 'expired') throw new BidRoundError('quote_expired', 'The quote expired; ask for a new one');
    if (state === 'no_quote') throw new BidRoundError('no_quote', 'No merchant bid: there is no quote to accept');
    throw new BidRoundError('round_ended', 'The round has ended');
  }
}

