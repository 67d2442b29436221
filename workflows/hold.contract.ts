// The hold workflow's contract: its id and the messages it answers. The API's hold service, the processor's webhooks,
// the history recorder and tests import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { HoldInput, HoldView } from '../domain/holds';

export type { HoldInput, HoldView } from '../domain/holds';

/** Answered once the hold is placed, declined or failed. */
export const placedUpdate = wf.defineUpdate<HoldView>('placed');
/** Captures amountMinor (the rest when absent); a repeat under the request's key answers the capture it made. */
export const captureUpdate = wf.defineUpdate<HoldView, [{ requestKey: string; amountMinor?: number }]>('capture');
/** Releases what is left (answered once released); a released hold answers as it stands. */
export const releaseUpdate = wf.defineUpdate<HoldView>('release');
/** The issuer says it ended the reservation (its webhook): the hold has expired, early if before its own time. */
export const issuerExpiredSignal = wf.defineSignal<[{ reservationId: string }]>('issuerExpired');
export const holdQuery = wf.defineQuery<HoldView>('hold');

export type HoldWorkflow = (input: HoldInput) => Promise<HoldView>;

export const holdWorkflowId = (holdId: string) => `hold-${holdId}`;
