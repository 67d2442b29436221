// A processor call from a workflow that holds a customer's payment (a cart's purchase, a bid round's authorization):
// an unreachable processor is waited out, with a capped exponential backoff, until a deadline; a refusal or the
// deadline comes back as why not, for the workflow to tell its customer.
import * as wf from '@temporalio/workflow';
import { processorRefusal } from './processorFailures';

export interface NotDone { failed: string; message: string }

export const UNREACHABLE_MESSAGE = 'The card network could not be reached in time. Try again later.';

/** The call's result, or why not; `whileWaiting` runs before each pause (to say the payment is waiting). */
export async function reachable<T>(call: () => Promise<T>, deadlineMs: number, whileWaiting?: () => Promise<void>): Promise<T | NotDone> {
  const deadline = Date.now() + deadlineMs;
  for (let backoffMs = 1000; ; backoffMs = Math.min(backoffMs * 2, 60_000)) {
    try {
      return await call();
    } catch (err) {
      const refusal = processorRefusal(err);
      if (refusal) return { failed: refusal.code, message: `The processor refused the payment: ${refusal.message}` };
      if (Date.now() >= deadline) return { failed: 'processor_unreachable', message: UNREACHABLE_MESSAGE };
      await whileWaiting?.();
      await wf.sleep(Math.min(backoffMs, deadline - Date.now()));
    }
  }
}

export const notDone = <T extends object>(x: T | NotDone): x is NotDone => 'failed' in x;
