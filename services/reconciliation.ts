// Reconciliation as operators run it: a day reconciled now (again, if it was before: the same workflow the
// Schedule starts), unless its reconciliation is running.
import type { Client } from '@temporalio/client';
import type { ReconciliationStore } from '../stores/reconciliation';
import { type ReconciliationWorkflow, reconciliationWorkflowId } from '../workflows/reconciliation.contract';
import { startOnce } from './temporal';

export class ReconciliationService {
  constructor(private readonly deps: { reconciliation: ReconciliationStore; temporal: Client; taskQueue: string }) {}

  /** The day's row says running from the answer on (a read right after sees no earlier run's figures). */
  async run(day: string): Promise<{ day: string; workflowId: string; started: boolean }> {
    const { temporal, taskQueue } = this.deps;
    const workflowId = reconciliationWorkflowId(taskQueue, day);
    await this.deps.reconciliation.begin(day, workflowId);
    const started = await startOnce(temporal, () => temporal.workflow.start<ReconciliationWorkflow>('reconciliationWorkflow', {
      workflowId, taskQueue, workflowIdReusePolicy: 'ALLOW_DUPLICATE', args: [{ day }],
      staticSummary: `Reconciliation of ${day}: the processor's report against the ledger`,
    }));
    return { day, workflowId, started };
  }
}
