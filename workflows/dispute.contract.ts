// The dispute workflow's contract: its id, its input and the messages it answers. The API's dispute service, the
// processor's webhooks, the history recorder and tests import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { DisputeInput, DisputeView } from '../domain/disputes';

export type { DisputeInput, DisputeView } from '../domain/disputes';

/** The merchant submits the evidence drafted on the dispute's row (answered once the processor has it). */
export const submitUpdate = wf.defineUpdate<DisputeView>('submit');
/** The merchant accepts the dispute: lost at once, the money stays with the customer. */
export const acceptUpdate = wf.defineUpdate<DisputeView>('accept');
/** A digital good whose provisioning failed: refund the capture at once (the issuer then closes it, no fee). */
export const refundUpdate = wf.defineUpdate<DisputeView>('refund');
/** The processor closed the dispute (its webhook): won, lost or refunded, and the fee it charged. */
export const closedSignal = wf.defineSignal<[{ status: 'won' | 'lost' | 'refunded'; feeMinor: number }]>('closed');
export const disputeQuery = wf.defineQuery<DisputeView>('dispute');

export type DisputeWorkflow = (input: DisputeInput) => Promise<DisputeView>;

export const disputeWorkflowId = (disputeId: string) => `dispute-${disputeId}`;
