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

export async function recordProblem(db: Db, p: ProblemInput): Promise<void> {
  await db('problems').insert({
    key: `${p.workflowId}:${p.kind}:${(p.details?.key as string | undefined) ?? ''}`,
    workflow_id: p.workflowId, merchant_id: p.merchantId, kind: p.kind, message: p.message,
    details: JSON.stringify(p.details ?? {}),
  }).onConflict('key').ignore();
}
