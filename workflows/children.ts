// Children that outlive the workflow that starts them (a close's dunning, a Schedule tick's close, a payout run's
// payouts), each started once: a second start of the same id finds it started.
import { WorkflowExecutionAlreadyStartedError, type WithWorkflowArgs, type Workflow } from '@temporalio/common';
import * as wf from '@temporalio/workflow';

/**
 * Starts the child abandoned by its parent (REJECT_DUPLICATE unless the options say otherwise); false when a
 * workflow of its id was started before.
 */
export async function startOnce<T extends Workflow>(workflow: T | string, options: WithWorkflowArgs<T, wf.ChildWorkflowOptions>): Promise<boolean> {
  try {
    // (by its type's name: the function's, as startChild(workflow) would take it; a name for a workflow known by its contract)
    await wf.startChild<T>(typeof workflow === 'string' ? workflow : workflow.name, {
      parentClosePolicy: wf.ParentClosePolicy.ABANDON, workflowIdReusePolicy: wf.WorkflowIdReusePolicy.REJECT_DUPLICATE, ...options,
    } as WithWorkflowArgs<T, wf.ChildWorkflowOptions>);
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}
