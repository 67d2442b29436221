// Activities that heartbeat while they run, so a worker that dies in the middle of one is noticed within the
// workflow's heartbeatTimeout (seconds), not the step's start-to-close timeout (minutes, for large files).
import { Context } from '@temporalio/activity';

/** How often a step heartbeats while it runs (a workflow's heartbeatTimeout is a few of these). */
export const HEARTBEAT_EVERY_MS = 1_000;

async function heartbeating<T>(step: () => Promise<T>): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return step(); // called outside an activity (a test, a script)
  }
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await step();
  } finally {
    clearInterval(timer);
  }
}

/** The same activities, each heartbeating every HEARTBEAT_EVERY_MS while it runs. */
export function withHeartbeats<A extends Record<string, (...args: any[]) => Promise<unknown>>>(activities: A): A {
  return Object.fromEntries(Object.entries(activities).map(([name, step]) =>
    [name, (...args: unknown[]) => heartbeating(() => step(...args))])) as A;
}
