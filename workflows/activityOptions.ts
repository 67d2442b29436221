// The activity options the workflows share, each said once: how a processor call is tried, and how books that must be
// written are retried.
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';

/**
 * A processor call (as a local activity: it runs in the worker within the workflow task): a few quick tries, each
 * with its idempotency key, so the processor answers a repeat with its first result; longer outages are waited out
 * by the workflow itself (the order's withProcessor, reachable() of carts and bid rounds). A refusal is not retried.
 */
export const PROCESSOR_CALL: LocalActivityOptions = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 3, nonRetryableErrorTypes: ['ProcessorRejected'] },
};

/** Books that must be written (rows, postings, events, problems; short PostgreSQL writes): retried until they are. */
export const UNTIL_WRITTEN: ActivityOptions & LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Infinity },
};
