// Bid rounds as PostgreSQL keeps them (migration 024): item classes and the merchants that bid on them, rounds (their
// row before their workflow, then what the workflow saves) and their bids. A bid is one statement: it is taken only
// while its round's row says the round is open to the merchant, holding that row against a close meanwhile, so a bid
// is either in time and read by the close, or refused as late; a replacement keeps the bid's place.
import type { Bid, ItemClass, RoundMode, RoundView } from '../domain/bids';
import type { Db, Statements } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';
import { StoreRefusal } from './refusal';

/** A merchant's rule for bidding on every round of a class at once, as the round opens. */
export interface AutoBid { unitPriceMinor: number; deliveryDays: number; maxQuantity: number | null }

export interface RoundRow {
  id: string;
  mode: RoundMode;
  itemClassId: string;
  currency: string;
  quantity: number;
  requesterId: string;
  input: unknown;
  state: string;
  closesAt: Date | null;
  closedAt: Date | null;
  view: RoundView | null;
  createdAt: Date;
}

export interface PlacedBid {
  roundId: string;
  merchantId: string;
  unitPriceMinor: number;
  deliveryDays: number;
  conditions: string | null;
  /** Bids the merchant placed in the round so far (its first and its replacements). */
  placed: number;
  placedAt: Date;
  updatedAt: Date;
}

export interface BidRequest {
  roundId: string;
  merchantId: string;
  currency: string;
  unitPriceMinor: number;
  deliveryDays: number;
  conditions: string | null;
  idempotencyKey: string;
  requestSha256: Buffer;
}

/** A refusal of a bid: its code says why (the API maps each to its status). */
export class BidRefusal extends StoreRefusal {}

const roundOf = (r: Record<string, any>): RoundRow => ({
  id: r.id, mode: r.mode, itemClassId: r.item_class_id, currency: r.currency.trim(), quantity: r.quantity, requesterId: r.requester_id,
  input: r.input, state: r.state, closesAt: r.closes_at, closedAt: r.closed_at, view: r.view, createdAt: r.created_at,
});
const bidOf = (roundId: string, r: Record<string, any>): PlacedBid => ({
  roundId, merchantId: r.merchant_id, unitPriceMinor: Number(r.unit_price_minor), deliveryDays: r.delivery_days, conditions: r.conditions,
  placed: r.placed, placedAt: r.placed_at, updatedAt: r.updated_at,
});

export class BidStore {
  constructor(private readonly db: Db, private readonly statements: Statements) {}

  // --- item classes and their bidders ----------------------------------------------------------------

  /** Defines or redefines a class (rounds already begun keep the terms they began with); whether it is new. */
  async putItemClass(c: ItemClass): Promise<boolean> {
    const [row] = await this.db('item_classes').insert({ id: c.id, terms: JSON.stringify(c) })
      .onConflict('id').merge({ terms: JSON.stringify(c), updated_at: this.db.fn.now() }).returning(this.db.raw('(xmax = 0) AS created'));
    return row.created;
  }

  async itemClass(id: string): Promise<ItemClass | undefined> {
    return (await this.db('item_classes').where({ id }).first())?.terms;
  }

  listItemClasses(req: PageRequest): Promise<Page<ItemClass>> {
    return pageOf(() => this.db('item_classes'), req, (r) => r.terms, { oldestFirst: true });
  }

  /**
   * The merchant bids on the class's rounds from now on (with an auto-bid rule, or none); false when the class already
   * has `maxBidders` others (the class's row held meanwhile, so two opting in at once cannot both be the last).
   */
  async optIn(itemClassId: string, merchantId: string, autoBid: AutoBid | null, maxBidders: number): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await trx('item_classes').where({ id: itemClassId }).forUpdate().first('id');
      const [{ n }] = await trx('item_class_bidders').where({ item_class_id: itemClassId }).whereNot({ merchant_id: merchantId }).count({ n: '*' });
      if (Number(n) >= maxBidders) return false;
      await trx('item_class_bidders').insert({ item_class_id: itemClassId, merchant_id: merchantId, auto_bid: autoBid && JSON.stringify(autoBid) })
        .onConflict(['item_class_id', 'merchant_id']).merge({ auto_bid: autoBid && JSON.stringify(autoBid) });
      return true;
    });
  }

  async optOut(itemClassId: string, merchantId: string): Promise<boolean> {
    return (await this.db('item_class_bidders').where({ item_class_id: itemClassId, merchant_id: merchantId }).delete()) > 0;
  }

  async bidder(itemClassId: string, merchantId: string): Promise<{ autoBid: AutoBid | null } | undefined> {
    const r = await this.db('item_class_bidders').where({ item_class_id: itemClassId, merchant_id: merchantId }).first();
    return r && { autoBid: r.auto_bid };
  }

  /** The class's latest winning unit bids (what recent_bids pricing takes the median of), newest first. */
  async recentWinningUnitBids(itemClassId: string, n: number): Promise<number[]> {
    const rows = await this.db('bid_rounds').where({ item_class_id: itemClassId }).whereNotNull('won_unit_minor')
      .orderBy('won_at', 'desc').limit(n).select('won_unit_minor');
    return rows.map((r) => Number(r.won_unit_minor));
  }

  // --- rounds ----------------------------------------------------------------------------------------

  /** Writes a round's row once per requester and key: the new row, or the existing one with whether it is the same request. */
  async claimRound(r: { id: string; mode: RoundMode; itemClassId: string; currency: string; quantity: number; requesterId: string;
    idempotencyKey: string; requestSha256: Buffer; input: unknown; state: string; maxUnitPriceMinor: number; enoughBids: number | null;
    /** Sell first: the highest unit bid that can win (only those count toward enoughBids); quote first: null. */
    acceptableMaxMinor: number | null }):
  Promise<{ row: RoundRow; claim: 'created' | 'same' | 'different' }> {
    const [inserted] = await this.db('bid_rounds').insert({
      id: r.id, mode: r.mode, item_class_id: r.itemClassId, currency: r.currency, quantity: r.quantity, requester_id: r.requesterId,
      idempotency_key: r.idempotencyKey, request_sha256: r.requestSha256, input: JSON.stringify(r.input), state: r.state,
      max_unit_price_minor: r.maxUnitPriceMinor, enough_bids: r.enoughBids, acceptable_max_minor: r.acceptableMaxMinor,
    }).onConflict(['requester_id', 'idempotency_key']).ignore().returning('*');
    if (inserted) return { row: roundOf(inserted), claim: 'created' };
    const existing = await this.db('bid_rounds').where({ requester_id: r.requesterId, idempotency_key: r.idempotencyKey }).first();
    return { row: roundOf(existing), claim: (existing.request_sha256 as Buffer).equals(r.requestSha256) ? 'same' : 'different' };
  }

  async round(id: string): Promise<RoundRow | undefined> {
    const r = await this.db('bid_rounds').where({ id }).first();
    return r && roundOf(r);
  }

  /**
   * Opens (or reopens) the round until closesAt (early once enoughBids are in, when given) to the class's bidders (a reopening: to those it was opened to and any
   * new ones), and places the auto-bids of those whose rule covers the quantity. Answers the merchants it is open to
   * and how many bids it holds. Safe to repeat.
   */
  async openRound(roundId: string, itemClassId: string, quantity: number, closesAt: Date, enoughBids: number | null):
  Promise<{ merchants: string[]; bidCount: number }> {
    return this.db.transaction(async (trx) => {
      await trx('bid_rounds').where({ id: roundId }).update({ closes_at: closesAt, closed_at: null, state: 'open', enough_bids: enoughBids });
      await trx.raw(`
        INSERT INTO bid_round_merchants (round_id, merchant_id)
        SELECT ?, merchant_id FROM item_class_bidders WHERE item_class_id = ? ON CONFLICT DO NOTHING`, [roundId, itemClassId]);
      await trx.raw(`
        INSERT INTO bids (round_id, merchant_id, unit_price_minor, delivery_days, idempotency_key, request_sha256, idempotency_keys)
        SELECT ?, b.merchant_id, (b.auto_bid->>'unitPriceMinor')::bigint, (b.auto_bid->>'deliveryDays')::int, 'auto', '\\x'::bytea, '{auto}'
        FROM item_class_bidders b JOIN bid_rounds r ON r.id = ?
        WHERE b.item_class_id = ? AND b.auto_bid IS NOT NULL
          AND (b.auto_bid->>'maxQuantity' IS NULL OR (b.auto_bid->>'maxQuantity')::int >= ?)
          AND (b.auto_bid->>'unitPriceMinor')::bigint <= r.max_unit_price_minor
        ON CONFLICT DO NOTHING`, [roundId, roundId, itemClassId, quantity]);
      const merchants = (await trx('bid_round_merchants').where({ round_id: roundId }).orderBy('merchant_id').select('merchant_id'))
        .map((r) => r.merchant_id as string);
      return { merchants, bidCount: await acceptableBids(trx, roundId) };
    });
  }

  /**
   * Closes the round (once: a repeat finds it closed) and answers its bids with their merchants' ratings as they were
   * at the close (a repeat answers the same). The close waits for a bid being placed meanwhile, which is then read; a
   * later one finds the round closed.
   */
  async closeRound(roundId: string): Promise<Bid[]> {
    // (one call of a function, close_bid_round in migration 024: its statements each see what committed before them)
    const rows = await this.statements.query<Record<string, any>>('close_bid_round', 'SELECT * FROM close_bid_round($1)', [roundId]);
    return rows.map((r): Bid => ({ merchantId: r.merchant_id, unitPriceMinor: Number(r.unit_price_minor), deliveryDays: r.delivery_days,
      rating: r.rating, seq: Number(r.seq), conditions: r.conditions }));
  }

  /** The round as its workflow now shows it; a fulfilled round's winning bid joins the class's pricing history. */
  async saveRound(view: RoundView): Promise<void> {
    const fulfilling = view.state === 'fulfilling' ? view.awards.at(-1) : undefined;
    await this.db('bid_rounds').where({ id: view.id }).update({
      view: JSON.stringify(view), state: view.state,
      ...(fulfilling ? { won_unit_minor: fulfilling.unitPriceMinor, won_at: this.db.raw('coalesce(won_at, now())') } : {}),
    });
  }

  /**
   * Rounds newest first: those open to a merchant now (`openTo`), a requester's own, or (neither) all of them.
   */
  listRounds(req: PageRequest & { openTo?: string; requesterId?: string; mode?: RoundMode }): Promise<Page<RoundRow>> {
    const list = () => {
      const q = this.db('bid_rounds as r').select('r.*');
      if (req.openTo) {
        q.join('bid_round_merchants as m', 'm.round_id', 'r.id').where('m.merchant_id', req.openTo)
          .whereNull('r.closed_at').whereRaw('r.closes_at > clock_timestamp()');
      }
      if (req.requesterId) q.where('r.requester_id', req.requesterId);
      if (req.mode) q.where('r.mode', req.mode);
      return q;
    };
    return pageOf(list, req, roundOf, { key: ['r.created_at', 'r.id'] });
  }

  /** Whether the round was opened to the merchant (it may bid, and see the round). */
  async openedTo(roundId: string, merchantId: string): Promise<boolean> {
    return !!(await this.db('bid_round_merchants').where({ round_id: roundId, merchant_id: merchantId }).first('merchant_id'));
  }

  async bid(roundId: string, merchantId: string): Promise<PlacedBid | undefined> {
    const r = await this.db('bids').where({ round_id: roundId, merchant_id: merchantId }).first();
    return r && bidOf(roundId, r);
  }

  async bids(roundId: string): Promise<PlacedBid[]> {
    return (await this.db('bids').where({ round_id: roundId }).orderBy('seq')).map((r) => bidOf(roundId, r));
  }

  // --- bids ------------------------------------------------------------------------------------------

  /**
   * Places (or replaces) the merchant's bid in one statement, while the round is open to it. Answers the bid, whether
   * it is a replay of the same request, and whether the round now has enough bids that could win (it may close early).
   */
  async placeBid(b: BidRequest, maxPlaced: number): Promise<{ bid: PlacedBid; replayed: boolean; enough: boolean }> {
    // (a prepared statement: planned once per connection; knex and a plan per bid cost bench:bids a third of its rate)
    const rows = await this.statements.query<Record<string, any>>('place_bid', PLACE_BID, [b.roundId, b.merchantId, b.currency, b.unitPriceMinor,
      b.deliveryDays, b.conditions, b.idempotencyKey, b.requestSha256, maxPlaced]);
    const row = rows[0];
    if (row) {
      let enough = false;
      if (row.enough_bids !== null) {
        // (counted after the bid committed: of bids racing to be the last needed, the last to count sees them all; a
        // replacement counts too, as it may make a bid acceptable)
        enough = (await acceptableBids(this.db, b.roundId)) >= row.enough_bids;
      }
      return { bid: bidOf(b.roundId, row), replayed: false, enough };
    }
    return { bid: await this.whyNot(b, maxPlaced), replayed: true, enough: false };
  }

  /** Why a bid was not placed (a refusal), or the bid it repeats. */
  private async whyNot(b: BidRequest, maxPlaced: number): Promise<PlacedBid> {
    const { rows: [r] } = await this.db.raw(`
      SELECT r.currency, r.max_unit_price_minor, r.closed_at IS NULL AND clock_timestamp() < r.closes_at AS open,
        m.merchant_id IS NOT NULL AS opened_to, b.idempotency_key, b.request_sha256, b.idempotency_keys, b.placed
      FROM bid_rounds r
      LEFT JOIN bid_round_merchants m ON m.round_id = r.id AND m.merchant_id = :merchant
      LEFT JOIN bids b ON b.round_id = r.id AND b.merchant_id = :merchant
      WHERE r.id = :round`, { round: b.roundId, merchant: b.merchantId });
    if (!r || !r.opened_to) throw new BidRefusal('round_not_found', 'No such bid round open to this merchant');
    if (r.idempotency_key === b.idempotencyKey) {
      if (!(r.request_sha256 as Buffer).equals(b.requestSha256)) {
        throw new BidRefusal('idempotency_key_reused', 'A bid was placed under this Idempotency-Key with a different request', 'Idempotency-Key');
      }
      return (await this.bid(b.roundId, b.merchantId))!;
    }
    if (r.idempotency_keys?.includes(b.idempotencyKey)) {
      throw new BidRefusal('bid_replaced', 'The bid placed under this Idempotency-Key has been replaced by a later one', 'Idempotency-Key');
    }
    if (!r.open) throw new BidRefusal('round_closed', 'The round is closed: bids are no longer taken');
    if (r.currency.trim() !== b.currency) {
      throw new BidRefusal('currency_mismatch', `The round is in ${r.currency.trim()}, not ${b.currency}`, 'currency');
    }
    if (b.unitPriceMinor > Number(r.max_unit_price_minor)) {
      throw new BidRefusal('price_too_high', `unitPriceMinor may be at most ${r.max_unit_price_minor} in this round`, 'unitPriceMinor');
    }
    if (r.placed >= maxPlaced) throw new BidRefusal('too_many_bids', `A merchant may place ${maxPlaced} bids in a round (its first and replacements)`);
    throw new BidRefusal('round_closed', 'The round closed while the bid was placed');
  }
}

/** The round's bids that could win (sell first: at most its acceptable price; quote first: all). */
async function acceptableBids(db: Db, roundId: string): Promise<number> {
  const { rows: [{ n }] } = await db.raw(`
    SELECT count(*) AS n FROM bids b JOIN bid_rounds r ON r.id = b.round_id
    WHERE b.round_id = ? AND (r.acceptable_max_minor IS NULL OR b.unit_price_minor <= r.acceptable_max_minor)`, [roundId]);
  return Number(n);
}

/**
 * A bid, placed or replacing the merchant's, while the round is open to it: the round's row held (FOR SHARE) until the
 * bid commits, so a close waits for it and then reads it; a bid that waited for a close finds the round closed.
 */
const PLACE_BID = `
  WITH r AS (
    SELECT r.id, r.enough_bids FROM bid_rounds r JOIN bid_round_merchants m ON m.round_id = r.id AND m.merchant_id = $2
    WHERE r.id = $1 AND r.closed_at IS NULL AND clock_timestamp() < r.closes_at AND r.currency = $3 AND $4::bigint <= r.max_unit_price_minor
    FOR SHARE OF r
  ), placed AS (
    INSERT INTO bids (round_id, merchant_id, unit_price_minor, delivery_days, conditions, idempotency_key, request_sha256, idempotency_keys)
    SELECT r.id, $2, $4, $5, $6, $7, $8, ARRAY[$7::text] FROM r
    ON CONFLICT (round_id, merchant_id) DO UPDATE SET unit_price_minor = EXCLUDED.unit_price_minor,
      delivery_days = EXCLUDED.delivery_days, conditions = EXCLUDED.conditions, idempotency_key = EXCLUDED.idempotency_key,
      request_sha256 = EXCLUDED.request_sha256, idempotency_keys = bids.idempotency_keys || EXCLUDED.idempotency_key,
      placed = bids.placed + 1, updated_at = clock_timestamp()
    WHERE NOT (EXCLUDED.idempotency_key = ANY (bids.idempotency_keys)) AND bids.placed < $9
    RETURNING *, (xmax = 0) AS inserted
  )
  SELECT placed.*, r.enough_bids FROM placed, r`;
