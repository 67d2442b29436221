// Paged lists at the edge: the query every list takes (schemas.ts pageQuery) as a store's PageRequest, and a page
// as the answer { object: 'list', data, has_more }.
import { z } from 'zod';
import type { Page, PageRequest } from '../stores/page';
import type { Principal, PrincipalKind } from '../stores/principals';
import { unprocessable } from './errors';
import { type Operation, operation } from './operations';
import { pageOf, pageQuery } from './schemas';

interface PageQuery { limit: number; starting_after?: string; ending_before?: string; created_gte?: string; created_lte?: string }

export function pageRequest(q: PageQuery): PageRequest {
  if (q.starting_after !== undefined && q.ending_before !== undefined) {
    throw unprocessable('parameter_not_allowed', 'Send starting_after or ending_before, not both', 'ending_before');
  }
  return {
    limit: q.limit, startingAfter: q.starting_after, endingBefore: q.ending_before,
    createdGte: q.created_gte === undefined ? undefined : new Date(q.created_gte),
    createdLte: q.created_lte === undefined ? undefined : new Date(q.created_lte),
  };
}

/**
 * Whose objects a list shows: an operator's, everyone's or the one party it names in `param`; anyone else's, its
 * own (naming a party is refused: 422 parameter_not_allowed).
 */
export function listedFor(principal: Principal, asked: string | undefined, param: string): string | undefined {
  if (principal.kind === 'operator') return asked;
  if (asked !== undefined) throw unprocessable('parameter_not_allowed', `${param} is for operators: you list your own`, param);
  return principal.id;
}

export const pageAnswer = <T, U>(page: Page<T>, view: (item: T) => U) => ({ object: 'list' as const, data: page.data.map(view), has_more: page.hasMore });

/**
 * GET of a list that takes no filter but the page's: its pages of what `list` shows this principal, each object as
 * `view` shows it.
 */
export function listOperation<T>(o: { path: string; summary: string; description?: string; allow: readonly PrincipalKind[];
  schema: z.ZodType; list: (req: PageRequest, principal: Principal) => Promise<Page<T>>; view: (item: T) => unknown }): Operation {
  return operation({
    method: 'get', path: o.path, summary: o.summary, description: o.description, allow: o.allow,
    query: z.strictObject(pageQuery),
    responses: { 200: { description: 'OK', schema: pageOf(o.schema) } },
    async handler({ res, principal, query }) {
      res.json(pageAnswer(await o.list(pageRequest(query), principal), o.view));
    },
  });
}
