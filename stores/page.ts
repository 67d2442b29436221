// Cursor pagination, one shape for every list (Stripe's): newest first (or oldest first where a queue says so),
// `limit` rows, `startingAfter` / `endingBefore` naming an object of the list as the cursor, an optional created
// range; the page says whether there are more. The cursor is the object's (created_at, id) key, so a page is one
// index range scan however deep it goes.
import type { Knex } from 'knex';
import { StoreRefusal } from './refusal';

export interface PageRequest {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
  createdGte?: Date;
  createdLte?: Date;
}

export interface Page<T> { data: T[]; hasMore: boolean }

/** A list's filters as a where: column → value, those given only (undefined or '' filters nothing). */
export const given = (filters: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(filters).filter((f): f is [string, string] => f[1] !== undefined && f[1] !== ''));

/**
 * One page of `list()` (a query over a table with created_at and id, filtered to what the caller may see), in the
 * list's order, each row as `as` makes it. A cursor that names no object of the list is refused (cursor_unknown), as is one `validId` refuses;
 * a queue whose objects leave it (decided reviews, say) names where a cursor may be from (`cursors`: the caller's
 * rows of the same table), so a page can go on after the object it started from has left.
 */
export async function pageOf<T>(list: () => Knex.QueryBuilder, req: PageRequest, as: (row: Record<string, any>) => T, opts: {
  oldestFirst?: boolean; validId?: (id: string) => boolean; cursors?: () => Knex.QueryBuilder;
  /** The key's columns, time first (default created_at, id; a join names its table's). */
  key?: [string, string];
} = {}): Promise<Page<T>> {
  const cursors = opts.cursors ?? list;
  const [at, id] = opts.key ?? ['created_at', 'id'];
  const [param, cursorId] = req.startingAfter !== undefined ? ['startingAfter', req.startingAfter] : ['endingBefore', req.endingBefore];
  const backwards = req.startingAfter === undefined && req.endingBefore !== undefined;
  const q = list();
  if (req.createdGte) q.where(at, '>=', req.createdGte);
  if (req.createdLte) q.where(at, '<=', req.createdLte);
  // the list's order, or its reverse when paging back from the cursor
  const dir = (opts.oldestFirst ?? false) !== backwards ? 'asc' : 'desc';
  if (cursorId !== undefined) {
    const known = !(opts.validId && !opts.validId(cursorId)) && await cursors().where(id, cursorId).first(id);
    if (!known) throw new StoreRefusal('cursor_unknown', `${param} names no object of this list`, param);
    // (the cursor's key compared in SQL: a JavaScript Date would drop created_at's microseconds, and with them rows)
    q.whereRaw(`(??, ??) ${dir === 'asc' ? '>' : '<'} ?`, [at, id, cursors().where(id, cursorId).select(at, id)]);
  }
  const rows = await q.orderBy([{ column: at, order: dir }, { column: id, order: dir }]).limit(req.limit + 1);
  const data = (rows as Array<Record<string, any>>).slice(0, req.limit).map(as);
  return { data: backwards ? data.reverse() : data, hasMore: rows.length > req.limit };
}
