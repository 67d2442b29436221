// Calls to the Temporal server that must answer within a bounded time: when the server cannot be reached (or does
// not answer in time) they fail with TemporalUnavailable, which the API answers with 503 temporal_unavailable and
// a Retry-After, instead of the client's own retries running on for tens of seconds.
import { type Client, isGrpcServiceError } from '@temporalio/client';

/** How long a call to the Temporal server may take before the server counts as unavailable. */
export const TEMPORAL_CALL_DEADLINE_MS = 3000;
/** How long a reachability probe may take. */
export const TEMPORAL_PROBE_DEADLINE_MS = 1000;

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

/** Runs fn with a deadline on every Temporal call in it; an unreachable server becomes TemporalUnavailable. */
export async function withinDeadline<T>(client: Client, fn: () => Promise<T>, ms = TEMPORAL_CALL_DEADLINE_MS): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + ms, fn);
  } catch (err) {
    throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
  }
}

/** Resolves when the Temporal frontend answers within the probe deadline; else TemporalUnavailable. */
export async function temporalReachable(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // (the deadline bounds the call; the timer also bounds a connection attempt that has not got as far as a call)
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer in time')), TEMPORAL_PROBE_DEADLINE_MS); });
  try {
    await Promise.race([client.withDeadline(Date.now() + TEMPORAL_PROBE_DEADLINE_MS, () => client.workflowService.getSystemInfo({})), late]);
  } catch (err) {
    throw new TemporalUnavailable(err);
  } finally {
    clearTimeout(timer);
  }
}
