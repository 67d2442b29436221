// The workflow side of request-id propagation: the request id a workflow was started with (its start header) goes
// on with every activity, local activity and child workflow it schedules, and across continue-as-new, so activity
// logs name the request that began the process. Headers are not part of a replay's comparison: adding or
// removing this changes no recorded history's outcome.
import type { Payload } from '@temporalio/common';
import type { Next, WorkflowInterceptorsFactory, WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';
import { REQUEST_ID_HEADER } from './requestId.contract';

export const interceptors: WorkflowInterceptorsFactory = () => {
  let requestId: Payload | undefined;
  const carry = <I extends { headers: Record<string, Payload> }>(input: I): I =>
    (requestId ? { ...input, headers: { ...input.headers, [REQUEST_ID_HEADER]: requestId } } : input);
  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) => next(carry(input)),
    scheduleLocalActivity: (input, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>) => next(carry(input)),
    startChildWorkflowExecution: (input, next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>) => next(carry(input)),
    continueAsNew: (input, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) => next(carry(input)),
  };
  return {
    inbound: [{
      execute: (input, next) => {
        requestId = input.headers[REQUEST_ID_HEADER];
        return next(input);
      },
    }],
    outbound: [outbound],
  };
};
