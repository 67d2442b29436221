// Bid rounds over HTTP. Operators define item classes; merchants opt in to a class, see the rounds open to them and
// bid; buyer apps buy an item at the broker's price (sell first: POST /purchases) or ask for a quote that merchants'
// bids make (quote first: POST /quotes) and accept it. Nobody but an operator sees another merchant's price.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  DEFAULT_QUOTE_LIFETIME_SECONDS, DEFAULT_SELL_WINDOW_SECONDS, FINAL_ROUND_STATES, ITEM_CLASS_ID, type ItemClass, MAX_BIDS_PER_MERCHANT, MAX_CONDITIONS_LENGTH,
  MAX_DELIVERY_DAYS, MAX_QUOTE_LIFETIME_SECONDS, MAX_QUOTE_WINDOW_SECONDS, MAX_ROUND_QUANTITY, MAX_SELL_WINDOW_SECONDS,
  maxAcceptableUnit, MIN_QUOTE_WINDOW_SECONDS, MIN_SELL_WINDOW_SECONDS, type RoundView,
} from '../../domain/bids';
import { MAX_ORDER_TOTAL_MINOR } from '../../domain/pricing';
import type { Services } from '../../services';
import { MAX_WAIT_SECONDS } from '../../services/bids';
import type { PlacedBid, RoundRow } from '../../stores/bids';
import type { Principal } from '../../stores/principals';
import { assertCanSee } from '../auth';
import { badRequest, notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import {
  address, cardPayment, clientId, country, currency, name, nullableTimestamp, pageOf, pageQuery, PATTERNS, postalCode, region, timestamp,
} from '../schemas';

const price = z.number().int().min(1).max(MAX_ORDER_TOTAL_MINOR);
const itemClassId = z.string().regex(ITEM_CLASS_ID, 'letters, digits, _ and -, at most 64');
const classPath = { id: itemClassId };
const kind = z.enum(['hard', 'soft']).meta({ description: 'hard goods ship (captured per shipment by the winner), soft goods do not' });
const quantity = z.number().int().min(1).max(MAX_ROUND_QUANTITY);
const bps = z.number().int().min(0).max(10_000);

const itemClassBody = z.strictObject({
  name, currency, kind,
  pricing: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('list'), listPriceMinor: price }),
    z.strictObject({ kind: z.literal('recent_bids'), marginBps: bps, floorMinor: price, ceilingMinor: price }),
  ]).meta({ description: `Sell first: the sale's unit price. list: a fixed price; recent_bids: the median of the class's last 20 winning unit `
    + 'bids plus marginBps of it, within floorMinor and ceilingMinor (the ceiling while there are none)' }),
  minMarginMinor: z.number().int().min(0).max(MAX_ORDER_TOTAL_MINOR).default(0)
    .meta({ description: "Sell first: a bid is acceptable at most at the sale's unit price less this" }),
  quoteMarginBps: bps.default(500).meta({ description: 'Quote first: the quote is the winning unit bid plus this share of it (basis points)' }),
  windowSeconds: z.number().int().min(MIN_SELL_WINDOW_SECONDS).max(MAX_SELL_WINDOW_SECONDS).default(DEFAULT_SELL_WINDOW_SECONDS)
    .meta({ description: 'Sell first: how long a round is open (a round reopened for want of an acceptable bid: twice as long)' }),
  enoughBids: z.number().int().min(1).max(1000).nullable().default(null).meta({ description: 'A round closes early once this many bids that could win are in (sell first: at most the acceptable price)' }),
  quoteLifetimeSeconds: z.number().int().min(1).max(MAX_QUOTE_LIFETIME_SECONDS).default(DEFAULT_QUOTE_LIFETIME_SECONDS)
    .meta({ description: 'Quote first: how long a quote can be accepted' }),
  maxQuantity: quantity.default(MAX_ROUND_QUANTITY),
});
const itemClassSchema = z.object({
  id: z.string(), object: z.literal('item_class'), name: z.string(), currency: z.string(), kind,
  pricing: z.union([z.object({ kind: z.literal('list'), listPriceMinor: z.number().int() }),
    z.object({ kind: z.literal('recent_bids'), marginBps: z.number().int(), floorMinor: z.number().int(), ceilingMinor: z.number().int() })]),
  minMarginMinor: z.number().int(), quoteMarginBps: z.number().int(), windowSeconds: z.number().int(), enoughBids: z.number().int().nullable(),
  quoteLifetimeSeconds: z.number().int(), maxQuantity: z.number().int(),
}).meta({ id: 'ItemClass' });
const itemClassView = (c: ItemClass) => ({ ...c, object: 'item_class' as const });

const autoBid = z.strictObject({
  unitPriceMinor: price, deliveryDays: z.number().int().min(0).max(MAX_DELIVERY_DAYS),
  maxQuantity: quantity.nullable().default(null).meta({ description: 'Bid only in rounds of at most this quantity (null: any)' }),
});
const biddingSchema = z.object({
  object: z.literal('bidding'), itemClassId: z.string(), merchantId: z.string(),
  autoBid: z.object({ unitPriceMinor: z.number().int(), deliveryDays: z.number().int(), maxQuantity: z.number().int().nullable() }).nullable(),
}).meta({ id: 'Bidding' });

const bidBody = z.strictObject({
  unitPriceMinor: price.meta({ description: 'What the merchant asks per unit, delivery included' }),
  currency: currency.meta({ description: "The round's currency" }),
  deliveryDays: z.number().int().min(0).max(MAX_DELIVERY_DAYS),
  conditions: z.string().max(MAX_CONDITIONS_LENGTH).optional().meta({ description: 'Free text shown to operators' }),
});
const BID_KEYS = new Set(['unitPriceMinor', 'currency', 'deliveryDays', 'conditions']);
/** A well-formed bid, checked without zod (the hot path; else zod parses it and names the first problem). */
function isWellFormedBid(x: unknown): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const b = x as Record<string, unknown>;
  for (const k in b) if (!BID_KEYS.has(k)) return false;
  const int = (v: unknown, min: number, max: number) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
  return int(b.unitPriceMinor, 1, MAX_ORDER_TOTAL_MINOR) && typeof b.currency === 'string' && PATTERNS.currency.test(b.currency)
    && int(b.deliveryDays, 0, MAX_DELIVERY_DAYS) && (b.conditions === undefined || (typeof b.conditions === 'string' && b.conditions.length <= MAX_CONDITIONS_LENGTH));
}
const bidSchema = z.object({
  object: z.literal('bid'), roundId: z.string(), merchantId: z.string(), unitPriceMinor: z.number().int(), deliveryDays: z.number().int(),
  conditions: z.string().nullable(), placed: z.number().int().meta({ description: `Bids placed in the round (at most ${MAX_BIDS_PER_MERCHANT})` }),
  placedAt: timestamp, updatedAt: timestamp,
}).meta({ id: 'Bid' });
const bidView = (b: PlacedBid) => ({ object: 'bid' as const, ...b, placedAt: b.placedAt.toISOString(), updatedAt: b.updatedAt.toISOString() });

const roundStates = z.enum(['authorizing', 'open', 'quoted', 'accepting', 'awarded', 'fulfilling', 'no_award', 'no_quote', 'expired', 'failed']);
const failure = z.object({ code: z.string(), message: z.string() }).nullable();
const awardSchema = z.object({ merchantId: z.string(), unitPriceMinor: z.number().int(), deliveryDays: z.number().int(), orderId: z.string(),
  outcome: z.enum(['awaiting_fulfilment', 'fulfilling', 'released']) });
const roundSchema = z.object({
  id: z.string(), object: z.literal('bid_round'), mode: z.enum(['sell_first', 'quote_first']), itemClassId: z.string(), quantity: z.number().int(),
  currency: z.string(), state: roundStates, biddingOpen: z.boolean().meta({ description: 'Whether bids are taken now' }),
  closesAt: nullableTimestamp, maxAcceptableUnitPriceMinor: z.number().int().nullable()
    .meta({ description: 'Sell first: the highest unit bid that can win; quote first: null (the lowest wins)' }),
  yourBid: bidSchema.nullable().meta({ description: "A merchant's own bid (operators: null; they see `bids`)" }),
  outcome: z.enum(['pending', 'won', 'lost', 'withdrawn']).meta({ description: "For a merchant: its bid's outcome (pending until decided)" }),
  orderId: z.string().nullable().meta({ description: 'A merchant that won: the order to fulfil' }),
  bids: z.array(bidSchema).optional().meta({ description: 'Operators: every bid' }),
  awards: z.array(awardSchema).optional().meta({ description: 'Operators: who was awarded, in turn' }),
  createdAt: timestamp,
}).meta({ id: 'BidRound' });

const purchaseSchema = z.object({
  id: z.string(), object: z.enum(['purchase', 'quote']), itemClassId: z.string(), quantity: z.number().int(), currency: z.string(),
  customerId: z.string(),
  state: roundStates.meta({ description: 'sell first: authorizing, open (merchants bidding), awarded (a merchant fulfils), fulfilling, no_award '
    + '(nothing charged), failed (not authorized). Quote first: open (collecting bids), quoted, accepting, awarded, fulfilling, no_quote, '
    + 'expired, no_award' }),
  unitPriceMinor: z.number().int().nullable().meta({ description: 'What the customer pays per unit (quote first: once quoted)' }),
  totalMinor: z.number().int().nullable(),
  biddingClosesAt: nullableTimestamp, quoteExpiresAt: nullableTimestamp,
  merchantId: z.string().nullable().meta({ description: 'The merchant supplying it, once awarded' }),
  deliveryDays: z.number().int().nullable(), orderId: z.string().nullable(),
  failure: failure.meta({ description: 'Why it failed, or why the last acceptance was not authorized' }),
  createdAt: timestamp,
}).meta({ id: 'Purchase' });

/** A purchase or a quote as its buyer app sees it: what the customer pays and who supplies it, never a bid. */
function purchaseView(row: RoundRow, v: RoundView) {
  const award = v.awards.at(-1);
  const live = award && award.outcome !== 'released' ? award : undefined;
  return {
    id: row.id, object: v.mode === 'sell_first' ? 'purchase' as const : 'quote' as const, itemClassId: v.itemClassId, quantity: v.quantity,
    currency: v.currency, customerId: v.customerId, state: v.state, unitPriceMinor: v.sale?.unitPriceMinor ?? null, totalMinor: v.sale?.totalMinor ?? null,
    biddingClosesAt: v.closesAt, quoteExpiresAt: v.quoteExpiresAt, merchantId: live?.merchantId ?? null, deliveryDays: live?.deliveryDays ?? null,
    orderId: live?.orderId ?? null, failure: v.failure, createdAt: row.createdAt.toISOString(),
  };
}

const purchaseBody = z.strictObject({
  itemClass: itemClassId.meta({ description: 'The item class to buy' }),
  quantity, customerId: clientId.meta({ description: "The buyer app's name for the customer" }),
  shipping: z.strictObject({ address }).optional().meta({ description: 'Required when the class ships (hard goods)' }),
  payment: cardPayment,
});
const quoteBody = z.strictObject({
  itemClass: purchaseBody.shape.itemClass, quantity, customerId: purchaseBody.shape.customerId,
  destination: z.strictObject({ country, region: region.optional(), postalCode: postalCode.optional() }).optional()
    .meta({ description: 'Where it would go: required when the class ships' }),
  windowSeconds: z.number().int().min(MIN_QUOTE_WINDOW_SECONDS).max(MAX_QUOTE_WINDOW_SECONDS).optional()
    .meta({ description: 'How long merchants may bid (default 5 seconds)' }),
});
const acceptBody = z.strictObject({ payment: cardPayment, shipping: purchaseBody.shape.shipping });

export function bidOperations(services: Services): Operation[] {
  const { bids } = services;

  /** The round as a merchant the round was opened to sees it, or as an operator does. */
  const roundShown = async (row: RoundRow, principal: Principal, v: RoundView) => {
    const mine = principal.kind === 'merchant' ? await bids.bid(row.id, principal.id) : undefined;
    const awards = v.awards.filter((a) => a.merchantId === principal.id);
    const mineNow = awards.at(-1);
    const decided = v.awards.length > 0 || FINAL_ROUND_STATES.has(v.state);
    const outcome = mineNow ? (mineNow.outcome === 'released' ? 'withdrawn' : 'won') : decided && v.state !== 'awarded' ? 'lost' : 'pending';
    const input = row.input as { saleUnitPriceMinor: number | null; itemClass: ItemClass };
    const open = row.closedAt === null && row.closesAt !== null && row.closesAt.getTime() > Date.now();
    return {
      id: row.id, object: 'bid_round' as const, mode: row.mode, itemClassId: row.itemClassId, quantity: row.quantity, currency: row.currency,
      state: v.state, biddingOpen: open, closesAt: row.closesAt?.toISOString() ?? null,
      maxAcceptableUnitPriceMinor: row.mode === 'sell_first' && input.saleUnitPriceMinor !== null ? maxAcceptableUnit(input.itemClass, input.saleUnitPriceMinor) : null,
      yourBid: mine ? bidView(mine) : null, outcome: principal.kind === 'merchant' ? outcome : 'pending' as const,
      orderId: mineNow && mineNow.outcome !== 'released' ? mineNow.orderId : null,
      ...(principal.kind === 'operator' ? { bids: (await bids.bids(row.id)).map(bidView), awards: v.awards } : {}),
      createdAt: row.createdAt.toISOString(),
    };
  };
  /** The round, when this principal may see it: an operator, or a merchant it was opened to (else 404). */
  const visibleRound = async (principal: Principal, id: string): Promise<RoundRow> => {
    const row = await bids.round(id);
    if (!row || (principal.kind === 'merchant' && !(await bids.openedTo(id, principal.id)))) throw notFound('bid round');
    return row;
  };
  /** A purchase or quote, when this principal may see it (its buyer app, operators). */
  const visiblePurchase = async (principal: Principal, id: string, mode: 'sell_first' | 'quote_first'): Promise<RoundRow> => {
    const row = await bids.round(id);
    const what = mode === 'sell_first' ? 'purchase' : 'quote';
    if (!row || row.mode !== mode) throw notFound(what);
    assertCanSee(principal, row.requesterId, what);
    return row;
  };
  const purchases = (mode: 'sell_first' | 'quote_first', path: string, what: string) => operation({
    method: 'get', path, allow: ['buyer_app', 'operator'], summary: `${what}, newest first (a buyer app: its own; operators: all)`,
    query: z.strictObject(pageQuery),
    responses: { 200: { description: 'OK', schema: pageOf(purchaseSchema) } },
    async handler({ res, principal, query }) {
      const page = await bids.listRounds({ ...pageRequest(query), mode, requesterId: principal.kind === 'operator' ? undefined : principal.id });
      res.json(pageAnswer(page, (r) => purchaseView(r, bids.saved(r))));
    },
  });

  return [
    // --- the catalogue -------------------------------------------------------------------------------
    operation({
      method: 'put', path: '/item-classes/:id', params: classPath, allow: ['operator'], body: itemClassBody,
      summary: 'Define (or redefine) a biddable item class (operator); rounds already begun keep the terms they began with',
      responses: { 201: { description: 'Defined', schema: itemClassSchema }, 200: { description: 'Redefined', schema: itemClassSchema } },
      async handler({ res, params, body }) {
        const { itemClass, created } = await bids.putItemClass({ id: params.id, ...body });
        res.status(created ? 201 : 200).json(itemClassView(itemClass));
      },
    }),
    operation({
      method: 'get', path: '/item-classes', allow: 'any', summary: 'Biddable item classes, oldest first', query: z.strictObject(pageQuery),
      responses: { 200: { description: 'OK', schema: pageOf(itemClassSchema) } },
      async handler({ res, query }) {
        res.json(pageAnswer(await bids.listItemClasses(pageRequest(query)), itemClassView));
      },
    }),
    operation({
      method: 'get', path: '/item-classes/:id', params: classPath, allow: 'any', summary: 'An item class',
      responses: { 200: { description: 'OK', schema: itemClassSchema } },
      async handler({ res, params }) {
        const c = await bids.itemClass(params.id);
        if (!c) throw notFound('item class');
        res.json(itemClassView(c));
      },
    }),
    operation({
      method: 'put', path: '/item-classes/:id/bidding', params: classPath, allow: ['merchant'], body: z.strictObject({ autoBid: autoBid.nullable().default(null) }),
      bodyRequired: false,
      summary: "Opt in to bid on the class's rounds (merchant), with an optional auto-bid placed for you as each round opens",
      responses: { 200: { description: 'OK', schema: biddingSchema } },
      async handler({ res, principal, params, body }) {
        const terms = await bids.optIn(params.id, principal.id, body.autoBid);
        res.json({ object: 'bidding', merchantId: principal.id, ...terms });
      },
    }),
    operation({
      method: 'get', path: '/item-classes/:id/bidding', params: classPath, allow: ['merchant'], summary: "Whether you bid on the class's rounds, and your auto-bid",
      responses: { 200: { description: 'OK', schema: biddingSchema } },
      async handler({ res, principal, params }) {
        const b = await bids.bidder(params.id, principal.id);
        if (!b) throw notFound('bidding on this item class');
        res.json({ object: 'bidding', itemClassId: params.id, merchantId: principal.id, autoBid: b.autoBid });
      },
    }),
    operation({
      method: 'delete', path: '/item-classes/:id/bidding', params: classPath, allow: ['merchant'], summary: "Opt out: rounds opening from now on are not opened to you",
      responses: { 200: { description: 'OK', schema: z.object({ object: z.literal('bidding'), itemClassId: z.string(), deleted: z.boolean() }) } },
      async handler({ res, principal, params }) {
        res.json({ object: 'bidding', itemClassId: params.id, deleted: await bids.optOut(params.id, principal.id) });
      },
    }),

    // --- rounds and bids -----------------------------------------------------------------------------
    operation({
      method: 'get', path: '/bid-rounds', allow: ['merchant', 'operator'], query: z.strictObject(pageQuery),
      summary: 'Bid rounds, newest first: a merchant sees those open to it now; operators see all',
      responses: { 200: { description: 'OK', schema: pageOf(roundSchema) } },
      async handler({ res, principal, query }) {
        const page = await bids.listRounds({ ...pageRequest(query), openTo: principal.kind === 'merchant' ? principal.id : undefined });
        const data = await Promise.all(page.data.map((r) => roundShown(r, principal, bids.saved(r))));
        res.json({ object: 'list', data, has_more: page.hasMore });
      },
    }),
    operation({
      method: 'get', path: '/bid-rounds/:id', allow: ['merchant', 'operator'],
      summary: 'A bid round: a merchant it was opened to sees its own bid and, once decided, whether it won; operators see every bid',
      responses: { 200: { description: 'OK', schema: roundSchema } },
      async handler({ res, principal, params }) {
        const row = await visibleRound(principal, params.id);
        res.json(await roundShown(row, principal, await bids.current(row)));
      },
    }),
    operation({
      method: 'post', path: '/bid-rounds/:id/bids', allow: ['merchant'], idempotency: 'names', body: bidBody, fastBody: isWellFormedBid,
      // (the bid's row is its record: who, when, under which key, how many times replaced)
      audit: false,
      summary: 'Bid to supply a round (merchant): placed, or replacing your bid, while the round is open',
      description: `One bid per merchant per round; a new bid replaces yours until the round closes (at most ${MAX_BIDS_PER_MERCHANT} in all). `
        + 'The Idempotency-Key names the bid: a repeat answers it again (200). A round not open to you is 404; a bid after the close '
        + '409 round_closed (the database decides, at the close); a price above what the round takes 422 price_too_high; another '
        + 'currency 422 currency_mismatch; too many bids 409 too_many_bids.',
      responses: { 201: { description: 'Placed', schema: bidSchema }, 200: { description: 'The same bid again', schema: bidSchema } },
      async handler({ req, res, principal, params, body }) {
        const given = req.get('idempotency-key');
        if (given !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(given)) {
          throw badRequest('parameter_invalid', 'Idempotency-Key: letters, digits, _ and -, at most 64', 'Idempotency-Key');
        }
        const key = given ?? `bid_${randomBytes(12).toString('base64url')}`;
        const { bid, replayed } = await bids.placeBid(params.id, principal.id, key, body);
        res.status(replayed ? 200 : 201).json(bidView(bid));
      },
    }),

    // --- purchases and quotes ------------------------------------------------------------------------
    operation({
      method: 'post', path: '/purchases', allow: ['buyer_app'], idempotency: 'stored', body: purchaseBody,
      summary: "Buy an item at the broker's price (sell first): the card is authorized, then merchants bid to supply it",
      description: 'Answers once the authorization is decided (or after 5 seconds: state authorizing). Then the round is open to the '
        + "class's merchants; the best acceptable bid (lowest price, then fastest delivery, best rating, earliest) wins and its merchant "
        + 'fulfils the order (purchase.awarded, purchase.fulfilling). With no acceptable bid the round reopens once, then the authorization '
        + 'is voided (purchase.cancelled): nothing is charged.',
      responses: { 201: { description: 'Created', schema: purchaseSchema } },
      async handler({ req, res, principal, body }) {
        const { row, round } = await bids.purchase(principal.id, req.get('idempotency-key')!, body);
        res.status(201).json(purchaseView(row, round));
      },
    }),
    purchases('sell_first', '/purchases', 'Purchases'),
    operation({
      method: 'get', path: '/purchases/:id', allow: ['buyer_app', 'operator'], summary: 'A purchase (its buyer app, operators)',
      responses: { 200: { description: 'OK', schema: purchaseSchema } },
      async handler({ res, principal, params }) {
        const row = await visiblePurchase(principal, params.id, 'sell_first');
        res.json(purchaseView(row, await bids.current(row)));
      },
    }),
    operation({
      method: 'post', path: '/quotes', allow: ['buyer_app'], idempotency: 'stored', body: quoteBody,
      summary: 'Ask for a quote (quote first): merchants bid for a few seconds; the best bid plus the margin is the quote',
      description: 'Answers at once (state open); wait for the quote with GET /v1/quotes/{id}?waitSeconds=N, or hear quote.ready '
        + '(quote.unavailable when no merchant bid). Accept it before quoteExpiresAt with POST /v1/quotes/{id}/accept.',
      responses: { 201: { description: 'Created', schema: purchaseSchema } },
      async handler({ req, res, principal, body }) {
        const { row, round } = await bids.quote(principal.id, req.get('idempotency-key')!, body);
        res.status(201).json(purchaseView(row, round));
      },
    }),
    purchases('quote_first', '/quotes', 'Quotes'),
    operation({
      method: 'get', path: '/quotes/:id', allow: ['buyer_app', 'operator'], summary: 'A quote (its buyer app, operators)',
      query: z.strictObject({ waitSeconds: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS).default(0)
        .meta({ description: `Wait up to this long for the quote while bids are collected (long poll, at most ${MAX_WAIT_SECONDS})` }) }),
      responses: { 200: { description: 'OK', schema: purchaseSchema } },
      async handler({ res, principal, params, query }) {
        const row = await visiblePurchase(principal, params.id, 'quote_first');
        res.json(purchaseView(row, await bids.waitFor(row, ['open'], query.waitSeconds * 1000)));
      },
    }),
    operation({
      method: 'post', path: '/quotes/:id/accept', allow: ['buyer_app'], idempotency: 'stored', body: acceptBody,
      summary: 'Accept a quote: the card is authorized for exactly the quoted total and the best bid is awarded',
      description: 'Answers once the authorization is decided: awarded, or quoted again with `failure` (another card may be tried '
        + 'until the quote expires). 409 quote_expired after quoteExpiresAt; 409 quote_not_ready while bids are collected.',
      responses: { 200: { description: 'OK', schema: purchaseSchema } },
      async handler({ res, principal, params, body }) {
        const row = await visiblePurchase(principal, params.id, 'quote_first');
        res.json(purchaseView(row, await bids.accept(row, { payment: body.payment, address: body.shipping?.address ?? null })));
      },
    }),
  ];
}
