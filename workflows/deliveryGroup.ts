// One serialization group of outbound messages to one destination (for example a merchant's webhook endpoint
// and one order). Started or signalled with signal-with-start; delivers its queue one message at a time, in
// enqueue order, through the deliver activity; waits out an unavailable destination with capped exponential
// backoff; turns a message into a dead letter at the give-up time (or at once on a permanent 4xx), then holds
// the group until an operator redelivers or drops it, or skips it, as the destination says. Continues as new
// before its history grows large, carrying the queue, so nothing queued is lost or reordered.
import * as wf from '@temporalio/workflow';
import type { DeliveryActivities } from '../activities/delivery';
import { backoffMs, DeliveryGroup, type QueuedMessage } from '../domain/delivery';
import { UNTIL_WRITTEN } from './activityOptions';
import {
  CONTINUE_AS_NEW_AFTER, type DeliveryGroupInput, type DeliveryGroupStatus, enqueueSignal, groupStatusQuery, resolveSignal,
} from './deliveryGroup.contract';

/** How long a group waits when its destination already has its share of deliveries in flight. */
export const BUSY_WAIT_MS = 250;
/** An idle group closes after this long; the next enqueue starts it again. */
export const IDLE_CLOSE_MS = 10 * 60_000;

const { deliver } = wf.proxyActivities<DeliveryActivities>({
  // Above the HTTP timeout (PAYBROKER_DELIVERY_TIMEOUT, 10 s by default); a worker that dies mid-attempt is
  // noticed after this long and the attempt made again, with the same webhook-id.
  startToCloseTimeout: '15 seconds',
  // One try per activity: the workflow owns the retry schedule (durable timers, give-up time, dead letters).
  retry: { maximumAttempts: 1 },
});
const books = wf.proxyActivities<DeliveryActivities>(UNTIL_WRITTEN);

export async function deliveryGroupWorkflow(input: DeliveryGroupInput): Promise<DeliveryGroupStatus> {
  const group = new DeliveryGroup<QueuedMessage>(input.snapshot);
  const limit = input.continueAsNewAfter ?? CONTINUE_AS_NEW_AFTER;
  let handled = 0;
  let holding: string | null = null;

  wf.setHandler(enqueueSignal, (m) => { group.enqueue(m); });
  wf.setHandler(resolveSignal, ({ messageId, action }) => {
    if (holding === messageId) group.resolve(messageId, action);
    else if (action === 'redeliver') group.enqueue({ id: messageId }, true); // a skipped dead letter goes again, at the end
  });
  const status = (): DeliveryGroupStatus => ({
    destinationId: input.destinationId, groupKey: input.groupKey, queued: group.queue.map((m) => m.id), holding, delivered: handled,
  });
  wf.setHandler(groupStatusQuery, status);

  for (;;) {
    if (!(await wf.condition(() => group.next !== undefined, IDLE_CLOSE_MS))) {
      await wf.condition(wf.allHandlersFinished);
      if (group.next === undefined) return status();
      continue;
    }
    const message = group.next!;
    await deliverOne(message.id);
    group.shift();
    handled++;
    if (handled >= limit || wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof deliveryGroupWorkflow>({ ...input, snapshot: group.snapshot() });
    }
  }

  /** Until delivered, dropped or skipped. */
  async function deliverOne(messageId: string): Promise<void> {
    let firstAttemptMs = Date.now();
    for (let retry = 1; ; retry++) {
      const r = await deliver(messageId).catch((err: unknown) => {
        if (err instanceof wf.ActivityFailure) return { outcome: 'retry' as const, error: err.cause?.message ?? err.message, policy: null };
        throw err;
      });
      if (r.outcome === 'delivered' || r.outcome === 'gone') return;
      if (r.outcome === 'busy') { // the destination has its share of deliveries in flight: wait a turn
        await wf.sleep(BUSY_WAIT_MS);
        retry--;
        continue;
      }
      const policy = r.policy ?? { giveUpMs: 24 * 3600_000, onDeadLetter: 'hold' as const, backoff: { initialMs: 1000, maxMs: 300_000 } };
      const givenUp = r.outcome === 'permanent' || Date.now() - firstAttemptMs >= policy.giveUpMs;
      if (!givenUp) {
        await wf.sleep(Math.min(backoffMs(retry, policy.backoff), Math.max(1, firstAttemptMs + policy.giveUpMs - Date.now())));
        continue;
      }
      await books.markDead(messageId, r.error ?? 'gave up');
      if (policy.onDeadLetter === 'skip') return;
      holding = messageId;
      await wf.condition(() => group.resolution(messageId) !== undefined);
      const action = group.resolution(messageId)!;
      group.clearResolution(messageId);
      holding = null;
      if (action === 'drop') return;
      firstAttemptMs = Date.now();
      retry = 0;
    }
  }
}
