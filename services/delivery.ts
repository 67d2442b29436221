// Enqueuing outbound messages: the message's row first (idempotent by message id, within the group's depth and the
// size limit), then signal-with-start of its group's workflow, which delivers the group's messages in order. Used by
// the API (dead letters) and by activities (order events); safe to repeat: the group drops duplicate ids.
import type { Client } from '@temporalio/client';
import type { DeliveryStore, OutboundMessage } from '../stores/delivery';
import {
  type DeliveryGroupInput, type DeliveryGroupWorkflow, deliveryGroupWorkflowId, enqueueSignal, resolveSignal,
} from '../workflows/deliveryGroup.contract';

export class DeliveryService {
  constructor(private readonly store: DeliveryStore, private readonly temporal: Client, private readonly taskQueue: string) {}

  async enqueue(m: OutboundMessage): Promise<{ created: boolean }> {
    const created = await this.store.enqueue(m);
    await this.temporal.workflow.signalWithStart<DeliveryGroupWorkflow, [{ id: string }]>('deliveryGroupWorkflow', {
      ...this.groupStart(m.destinationId, m.groupKey), signal: enqueueSignal, signalArgs: [{ id: m.id }],
    });
    return { created };
  }

  /** An operator's decision on a dead letter: deliver it again, or drop it and let the group go on. False: it is not dead. */
  async resolveDeadLetter(messageId: string, action: 'redeliver' | 'drop'): Promise<boolean> {
    const group = await this.store.resolveDead(messageId, action);
    if (!group) return false;
    await this.temporal.workflow.signalWithStart<DeliveryGroupWorkflow, [{ messageId: string; action: 'redeliver' | 'drop' }]>('deliveryGroupWorkflow', {
      ...this.groupStart(group.destinationId, group.groupKey), signal: resolveSignal, signalArgs: [{ messageId, action }],
    });
    return true;
  }

  private groupStart(destinationId: string, groupKey: string) {
    return {
      workflowId: deliveryGroupWorkflowId(destinationId, groupKey), taskQueue: this.taskQueue,
      args: [{ destinationId, groupKey }] as [DeliveryGroupInput],
    };
  }
}
