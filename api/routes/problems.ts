// GET /v1/problems: the failures that need a person (operators only), newest first.
import { z } from 'zod';
import type { ProblemStore } from '../../stores/problems';
import { type Operation, operation } from '../operations';
import { listOf, nullableTimestamp, timestamp } from '../schemas';

export const MAX_PROBLEMS_PAGE = 200;

const problemSchema = z.object({
  id: z.string(), workflowId: z.string(), merchantId: z.string().nullable(), kind: z.string(), message: z.string(),
  details: z.record(z.string(), z.unknown()), createdAt: timestamp, resolvedAt: nullableTimestamp,
}).meta({ id: 'Problem' });

export function problemOperations(problems: ProblemStore): Operation[] {
  return [operation({
    method: 'get', path: '/problems', summary: 'Failures that need a person (operator), newest first', allow: ['operator'],
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(MAX_PROBLEMS_PAGE).default(50),
      workflowId: z.string().max(200).optional(),
      open: z.enum(['true', 'false']).optional().meta({ description: 'true: only the unresolved ones' }),
    }),
    responses: { 200: { description: 'OK', schema: listOf(problemSchema) } },
    async handler({ res, query }) {
      const rows = await problems.list({ limit: query.limit, workflowId: query.workflowId, open: query.open === 'true' });
      res.json({ object: 'list', data: rows.map((p) => ({ ...p, createdAt: p.createdAt.toISOString(), resolvedAt: p.resolvedAt?.toISOString() ?? null })) });
    },
  })];
}
