// GET /v1/problems: the failures that need a person (operators only), newest first.
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../ledger/db';
import { allow } from '../auth';
import { badRequest } from '../errors';

export const MAX_PROBLEMS_PAGE = 200;
const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PROBLEMS_PAGE).default(50),
  workflowId: z.string().max(200).optional(),
  open: z.enum(['true', 'false']).optional(),
});

export function problemRoutes(db: Db): Router {
  const r = Router();
  r.get('/problems', allow('operator'), async (req, res) => {
    const parsed = query.safeParse(req.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badRequest('parameter_invalid', `${issue.path.join('.') || 'query'}: ${issue.message}`, issue.path.join('.') || undefined);
    }
    const q = parsed.data;
    let rows = db('problems').orderBy('id', 'desc').limit(q.limit);
    if (q.workflowId) rows = rows.where({ workflow_id: q.workflowId });
    if (q.open === 'true') rows = rows.whereNull('resolved_at');
    res.json({ object: 'list', data: (await rows).map((p) => ({
      id: String(p.id), workflowId: p.workflow_id, merchantId: p.merchant_id, kind: p.kind, message: p.message,
      details: p.details, createdAt: p.created_at.toISOString(), resolvedAt: p.resolved_at?.toISOString() ?? null,
    })) });
  });
  return r;
}
