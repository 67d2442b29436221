// Calls to the Temporal server that must answer within a bounded time: when the server cannot be reached (or does
// not answer in time) they fail with TemporalUnavailable, which the API answers with 503 temporal_unavailable and
// a Retry-After, instead of the client's own retries running on for tens of seconds.
import {
  type Client, isGrpcServiceError, ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

/** How long a call to the Temporal server may take before the server counts as unavailable. */
export const TEMPORAL_CALL_DEADLINE_MS = 3000;
/** How long a reachability probe may take. */
export const TEMPORAL_PROBE_DEADLINE_MS = 1000;
/**
 * The longest pause between a client's attempts to reconnect to the Temporal server. grpc-js's own grows from 1 s by
 * 1.6 a try up to 120 s while the server is away, so once it was back an API process went on answering 503 until its
 * next try (7 s after a 10 s outage in the Temporal fault test, up to 2 minutes after a long one). A try is one TCP
 * connect.
 */
export const TEMPORAL_RECONNECT_MAX_BACKOFF_MS = 1000;
/** The channel options of a client connection (Connection's channelArgs). */
export const TEMPORAL_CHANNEL_ARGS = { 'grpc.max_reconnect_backoff_ms': TEMPORAL_RECONNECT_MAX_BACKOFF_MS };

export class TemporalUnavailable extends Error {
  constructor(cause?: unknown) {
    super('The Temporal server cannot be reached right now', { cause });
    this.name = 'TemporalUnavailable';
  }
}

// gRPC status codes: UNAVAILABLE (no connection), DEADLINE_EXCEEDED (no answer in time)
const UNAVAILABLE_CODES = new Set([14, 4]);

/** The error (or the error it wraps) says the server could not be reached or did not answer in time. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && UNAVAILABLE_CODES.has(e.code)) return true;
  }
  return false;
}

/**
 * Runs fn with a deadline on every Temporal call in it; an unreachable server becomes TemporalUnavailable. The
 * deadline alone does not bound the wait: the client retries a call that found no server (UNAVAILABLE) after a
 * backoff it does not shorten to the deadline (100 ms growing by 1.7 each try, so a pause near 1.4 s straddles a 3 s
 * deadline, and a first query to a killed server took 4.9 s), so a timer ends the wait at the deadline itself.
 */
export async function withinDeadline<T>(client: Client, fn: () => Promise<T>, ms = TEMPORAL_CALL_DEADLINE_MS): Promise<T> {
  try {
    return await beforeDeadline(client.withDeadline(Date.now() + ms, fn), ms);
  } catch (err) {
    throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
  }
}

/**
 * Starts a workflow (`start` calls client.workflow.start) within the deadline; false when a workflow of its id is
 * running, or its reuse policy refuses a new one.
 */
export async function startOnce(client: Client, start: () => Promise<unknown>): Promise<boolean> {
  try {
    await withinDeadline(client, start);
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/** Resolves when the Temporal frontend answers within the probe deadline; else TemporalUnavailable. */
export async function temporalReachable(client: Client): Promise<void> {
  const ms = TEMPORAL_PROBE_DEADLINE_MS;
  try {
    // (the timer also bounds a connection attempt that has not got as far as a call)
    await beforeDeadline(client.withDeadline(Date.now() + ms, () => client.workflowService.getSystemInfo({})), ms);
  } catch (err) {
    throw err instanceof TemporalUnavailable ? err : new TemporalUnavailable(err);
  }
}

/** The call's outcome, or TemporalUnavailable once ms have passed (the call is left to end on its own). */
async function beforeDeadline<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TemporalUnavailable(new Error(`no answer within ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
    call.catch(() => {});
  }
}

/**
 * The reply if it comes within ms, else undefined (the call goes on by itself, its failure then ignored): a request
 * that starts something long answers with how it stands instead of waiting it out.
 */
export async function replyWithin<T>(reply: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
  const first = await Promise.race([reply, waited]).finally(() => clearTimeout(timer));
  if (first === undefined) reply.catch(() => {});
  return first;
}

/**
 * The refusal an update's validator or handler gave (a rule's failure: its type the code, its first detail the field),
 * or undefined for any other error.
 */
export function updateRefusal(err: unknown): { code: string; message: string; param?: string } | undefined {
  if (!(err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)) return undefined;
  const param = err.cause.details?.[0];
  return { code: err.cause.type ?? 'refused', message: err.cause.message, param: typeof param === 'string' ? param : undefined };
}

/**
 * An update call, asked again (up to `tries` times, briefly apart) when the server ended it without an answer: a
 * generic service error or an update RPC cut short, never a refusal, a workflow gone or an unreachable server. (A
 * dispute's accept once answered 500 under a loaded machine, its cause not pinned down.) For the updates that are
 * idempotent by design (a hold's capture by its request key, its release; a dispute's submit, accept, refund), so a
 * second ask has no second effect.
 */
export async function askAgain<T>(fn: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const aborted = err instanceof ServiceError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
      if (!aborted || i >= tries || isTemporalUnavailable(err)) throw err;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}
