// The problems log: every failure that needs a person (GET /v1/problems). One row per workflow, kind of problem
// and key (details.key: the step or party it is about), so a repeated step records it once; the same failure again
// after an operator resolved it opens it again. An operator resolves a problem with a note.
import type { Db } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';

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
  /** When the failure was last seen: recorded again, or found again by a reconciliation. */
  seenAt: Date;
  resolvedAt: Date | null;
  /** The principal that resolved it, and its note. */
  resolvedBy: string | null;
  resolutionNote: string | null;
}

const problemOf = (p: Record<string, any>): Problem => ({
  id: String(p.id), workflowId: p.workflow_id, merchantId: p.merchant_id, kind: p.kind, message: p.message, details: p.details,
  createdAt: p.created_at, seenAt: p.seen_at, resolvedAt: p.resolved_at, resolvedBy: p.resolved_by, resolutionNote: p.resolution_note,
});

/** Problem ids are bigserial numbers; anything else names no problem. */
const PROBLEM_ID = /^[1-9][0-9]{0,17}$/;

export class ProblemStore {
  constructor(private readonly db: Db) {}

  /**
   * Records the problem once (inside `trx` when given, with the change it explains); a resolved one opens again.
   * Either way it was seen now (seen_at).
   */
  async record(p: ProblemInput, trx: Db = this.db): Promise<void> {
    await trx('problems').insert({
      key: `${p.workflowId}:${p.kind}:${(p.details?.key as string | undefined) ?? ''}`,
      workflow_id: p.workflowId, merchant_id: p.merchantId, kind: p.kind, message: p.message, details: JSON.stringify(p.details ?? {}),
    }).onConflict('key').merge({ message: p.message, resolved_at: null, resolved_by: null, resolution_note: null, seen_at: trx.fn.now() });
  }

  async get(id: string): Promise<Problem | undefined> {
    if (!PROBLEM_ID.test(id)) return undefined;
    const row = await this.db('problems').where({ id }).first();
    return row && problemOf(row);
  }

  /** A page of problems, newest first; of one workflow, or only the unresolved ones. */
  async list(req: PageRequest & { workflowId?: string; open?: boolean }): Promise<Page<Problem>> {
    return pageOf(() => {
      const rows = this.db('problems');
      if (req.workflowId) rows.where({ workflow_id: req.workflowId });
      if (req.open) rows.whereNull('resolved_at');
      return rows;
    }, req, problemOf, { validId: (id) => PROBLEM_ID.test(id), cursors: () => this.db('problems') }); // (a cursor may be resolved since)
  }

  /** Marks the problem resolved by `by` with the note, once: a problem resolved before keeps its first resolution. */
  async resolve(id: string, by: string, note: string): Promise<Problem | undefined> {
    if (!PROBLEM_ID.test(id)) return undefined;
    const [row] = await this.db('problems').where({ id }).whereNull('resolved_at')
      .update({ resolved_at: this.db.fn.now(), resolved_by: by, resolution_note: note }).returning('*');
    return row ? problemOf(row) : this.get(id);
  }

  /** Resolves the open problems of this kind about `key` (details.key): what they were about was dealt with elsewhere. */
  async resolveAbout(kind: string, key: string, by: string, note: string): Promise<void> {
    await this.db('problems').where({ kind }).whereRaw("details->>'key' = ?", [key]).whereNull('resolved_at')
      .update({ resolved_at: this.db.fn.now(), resolved_by: by, resolution_note: note });
  }

  /** Whether the workflow has an unresolved problem of this kind. */
  async hasOpen(workflowId: string, kind: string): Promise<boolean> {
    return (await this.db('problems').where({ workflow_id: workflowId, kind }).whereNull('resolved_at').first('id')) !== undefined;
  }
}
