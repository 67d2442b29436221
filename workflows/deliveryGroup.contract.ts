// The delivery group workflow's contract: its id, the messages it takes and answers, and how long its runs are.
// Enqueuers (the delivery service, dead-letter resolution) import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { GroupSnapshot, QueuedMessage } from '../domain/delivery';

export interface DeliveryGroupInput {
  destinationId: string;
  groupKey: string;
  snapshot?: GroupSnapshot<QueuedMessage>;
  /** Smaller in tests, to exercise the hand-over. */
  continueAsNewAfter?: number;
}

export interface DeliveryGroupStatus {
  destinationId: string;
  groupKey: string;
  queued: string[];
  holding: string | null;
  delivered: number;
}

export const enqueueSignal = wf.defineSignal<[QueuedMessage]>('enqueue');
export const resolveSignal = wf.defineSignal<[{ messageId: string; action: 'redeliver' | 'drop' }]>('resolveDeadLetter');
export const groupStatusQuery = wf.defineQuery<DeliveryGroupStatus>('status');

export type DeliveryGroupWorkflow = (input: DeliveryGroupInput) => Promise<DeliveryGroupStatus>;

export const deliveryGroupWorkflowId = (destinationId: string, groupKey: string) => `delivery-${destinationId}-${groupKey}`;

/** Messages handled per run before continuing as new (the history stays far below Temporal's limits). */
export const CONTINUE_AS_NEW_AFTER = 500;
