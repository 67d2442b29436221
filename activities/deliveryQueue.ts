// Enqueuing an outbound message: its row first (idempotent by message id, within the group's depth and the
// size limit), then signal-with-start of its group's workflow, which delivers the group's messages in order.
// Used by the API and by activities (order events); safe to repeat: the group drops duplicate ids.
import type { Client } from '@temporalio/client';
import type { Db } from '../ledger/db';
import { deliveryGroupWorkflow, deliveryGroupWorkflowId, enqueueSignal, resolveSignal } from '../workflows/deliveryGroup';

/** Largest message body, in bytes. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Messages waiting in one group; past it enqueue is refused (the destination is far behind). */
export const MAX_QUEUE_DEPTH_PER_GROUP = 1000;

export class DeliveryError extends Error {
  constructor(readonly code: 'message_too_large' | 'queue_full' | 'unknown_destination' | 'invalid_group_key', message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface DeliveryQueueDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
}

export interface OutboundMessage {
  id: string;
  destinationId: string;
  groupKey: string;
  eventType?: string;
  body: string;
}

export async function enqueueMessage(deps: DeliveryQueueDeps, m: OutboundMessage): Promise<{ created: boolean }> {
  const bytes = Buffer.byteLength(m.body);
  if (bytes > MAX_MESSAGE_BYTES) throw new DeliveryError('message_too_large', `A message body may be at most ${MAX_MESSAGE_BYTES} bytes, not ${bytes}`);
  if (!/^[A-Za-z0-9_.:-]{1,150}$/.test(m.groupKey)) throw new DeliveryError('invalid_group_key', 'A group key is 1 to 150 of A-Z a-z 0-9 _ . : -');
  const created = await deps.db.transaction(async (trx) => {
    const dest = await trx('delivery_destinations').where({ id: m.destinationId }).first('id');
    if (!dest) throw new DeliveryError('unknown_destination', `No destination ${m.destinationId}`);
    // One enqueuer at a time per group, so the depth check holds under concurrency.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`${m.destinationId}\n${m.groupKey}`]);
    if (await trx('delivery_messages').where({ id: m.id }).first('id')) return false;
    const { n } = (await trx('delivery_messages').where({ destination_id: m.destinationId, group_key: m.groupKey, state: 'queued' })
      .count({ n: '*' }).first())!;
    if (Number(n) >= MAX_QUEUE_DEPTH_PER_GROUP) {
      throw new DeliveryError('queue_full', `Group ${m.groupKey} already has ${MAX_QUEUE_DEPTH_PER_GROUP} messages waiting`);
    }
    await trx('delivery_messages').insert({
      id: m.id, destination_id: m.destinationId, group_key: m.groupKey, event_type: m.eventType ?? null, body: m.body,
    });
    return true;
  });
  await deps.temporal.workflow.signalWithStart(deliveryGroupWorkflow, {
    ...groupStart(deps, m.destinationId, m.groupKey), signal: enqueueSignal, signalArgs: [{ id: m.id }],
  });
  return { created };
}

/** An operator's decision on a dead letter: deliver it again, or drop it and let the group go on. */
export async function resolveDeadLetter(deps: DeliveryQueueDeps, messageId: string, action: 'redeliver' | 'drop'): Promise<boolean> {
  const row = await deps.db('delivery_messages').where({ id: messageId, state: 'dead' })
    .update({ state: action === 'redeliver' ? 'queued' : 'dropped' }).returning(['destination_id', 'group_key']);
  if (row.length === 0) return false;
  await deps.temporal.workflow.signalWithStart(deliveryGroupWorkflow, {
    ...groupStart(deps, row[0].destination_id, row[0].group_key), signal: resolveSignal, signalArgs: [{ messageId, action }],
  });
  return true;
}

function groupStart(deps: DeliveryQueueDeps, destinationId: string, groupKey: string) {
  return {
    workflowId: deliveryGroupWorkflowId(destinationId, groupKey), taskQueue: deps.taskQueue,
    args: [{ destinationId, groupKey }] as [{ destinationId: string; groupKey: string }],
  };
}
