// The problems log: every failure that needs a person (GET /v1/problems). One row per workflow, kind of problem
// and key (details.key: the step or party it is about), so a repeated step records it once.
import type { Db } from '../ledger/db';

export interface ProblemInput {
  workflowId: string;
  merchantId: string | null;
  kind: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface Problem extends Required<ProblemInput> {
  id: string;
  createdAt: Date;
  resolvedAt: Date | null;
}

export class ProblemStore {
  constructor(private readonly db: Db) {}

  /** Records the problem once (inside `trx` when given, with the change it explains). */
  async record(p: ProblemInput, trx: Db = this.db): Promise<void> {
    await trx('problems').insert({
      key: `${p.workflowId}:${p.kind}:${(p.details?.key as string | undefined) ?? ''}`,
      workflow_id: p.workflowId, merchant_id: p.merchantId, kind: p.kind, message: p.message, details: JSON.stringify(p.details ?? {}),
    }).onConflict('key').ignore();
  }

  /** Newest first, at most `limit`; of one workflow, or only the unresolved ones. */
  async list(q: { limit: number; workflowId?: string; open?: boolean }): Promise<Problem[]> {
    const rows = this.db('problems').orderBy('id', 'desc').limit(q.limit);
    if (q.workflowId) rows.where({ workflow_id: q.workflowId });
    if (q.open) rows.whereNull('resolved_at');
    return (await rows).map((p) => ({
      id: String(p.id), workflowId: p.workflow_id, merchantId: p.merchant_id, kind: p.kind, message: p.message, details: p.details,
      createdAt: p.created_at, resolvedAt: p.resolved_at,
    }));
  }
}
