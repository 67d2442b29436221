// GET /v1/problems: the failures that need a person (operators only), newest first; POST /v1/problems/:id/resolve
// closes one with a note (and an order whose last open problem of that kind it was stops asking for attention).
import { z } from 'zod';
import type { Services } from '../../services';
import type { Problem } from '../../stores/problems';
import { notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

export const MAX_RESOLUTION_NOTE = 2000;

const problemSchema = z.object({
  id: z.string(), workflowId: z.string(), merchantId: z.string().nullable(), kind: z.string(), message: z.string(),
  details: z.record(z.string(), z.unknown()), createdAt: timestamp,
  seenAt: timestamp.meta({ description: 'When the failure was last seen (a repeat of it, or a reconciliation finding it again)' }),
  resolvedAt: nullableTimestamp,
  resolvedBy: z.string().nullable().meta({ description: 'The principal that resolved it' }),
  resolutionNote: z.string().nullable(),
}).meta({ id: 'Problem' });

const problemView = (p: Problem) => ({ ...p, createdAt: p.createdAt.toISOString(), seenAt: p.seenAt.toISOString(), resolvedAt: p.resolvedAt?.toISOString() ?? null });

export function problemOperations(services: Services): Operation[] {
  return [
    operation({
      method: 'get', path: '/problems', summary: 'Failures that need a person (operator), newest first, a page at a time', allow: ['operator'],
      query: z.strictObject({
        ...pageQuery,
        workflowId: z.string().max(200).optional(),
        open: z.enum(['true', 'false']).optional().meta({ description: 'true: only the unresolved ones' }),
      }),
      responses: { 200: { description: 'OK', schema: pageOf(problemSchema) } },
      async handler({ res, query }) {
        const page = await services.stores.problems.list({ ...pageRequest(query), workflowId: query.workflowId, open: query.open === 'true' });
        res.json(pageAnswer(page, problemView));
      },
    }),
    operation({
      method: 'post', path: '/problems/:id/resolve', allow: ['operator'],
      summary: 'Resolve a problem with a note (operator)',
      description: 'A problem resolved before keeps its first resolution (200 all the same). When it was the last open problem '
        + "of its kind on a running order, the order no longer needs attention for it (its view's needsAttention, the "
        + 'NeedsAttention search attribute) and the merchant hears order.needs_attention_resolved. The same failure again '
        + 'opens the problem again.',
      body: z.strictObject({ note: z.string().min(1).max(MAX_RESOLUTION_NOTE).regex(/\S/, 'more than spaces').meta({ description: 'What was done' }) }),
      responses: { 200: { description: 'Resolved', schema: problemSchema } },
      async handler({ res, principal, params, body }) {
        const problem = await services.problems.resolve(params.id, principal.id, body.note);
        if (!problem) throw notFound('problem');
        res.json(problemView(problem));
      },
    }),
    operation({
      method: 'post', path: '/problems/:id/retry', allow: ['operator'], bodyRequired: false,
      summary: 'Retry the step that failed, and resolve the problem saying so (operator)',
      description: 'payout_failed (a merchant payout): the merchant is paid now, the failed payout carried into the new one. '
        + 'delivery_held (a dead letter holding its group): the message is delivered again, and the group goes on in order. '
        + 'Other kinds: 422 not_retryable (resolve them with a note). Retried before: 409 already_retried.',
      responses: { 200: { description: 'Retried', schema: z.object({ problem: problemSchema, retry: z.union([
        z.object({ kind: z.literal('payout'), payoutIds: z.array(z.string()) }),
        z.object({ kind: z.literal('redelivery'), messageId: z.string() }),
      ]) }) } },
      async handler({ res, principal, params }) {
        const r = await services.problems.retry(params.id, principal.id);
        if (!r) throw notFound('problem');
        res.json({ problem: problemView(r.problem), retry: r.retry });
      },
    }),
  ];
}
