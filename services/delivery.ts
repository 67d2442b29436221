// Enqueuing outbound messages: the message's row first (idempotent by message id, within the group's depth and the
// size limit), then signal-with-start of its group's workflow, which delivers the group's messages in order. Used by
// the API (dead letters) and by activities (order events); safe to repeat: the group drops duplicate ids. Every
// call to the Temporal server is bounded (TemporalUnavailable past its deadline).
import type { Client } from '@temporalio/client';
import type { DeliveryStore, OutboundMessage } from '../stores/delivery';
import {
  type DeliveryGroupInput, type DeliveryGroupWorkflow, deliveryGroupWorkflowId, enqueueSignal, resolveSignal,
} from '../workflows/deliveryGroup.contract';
import { withinDeadline } from './temporal';

export class DeliveryService {
  constructor(private readonly store: DeliveryStore, private readonly temporal: Client, private readonly taskQueue: string) {}

  async enqueue(m: OutboundMessage): Promise<{ created: boolean }> {
    const created = await this.store.enqueue(m);
    await withinDeadline(this.temporal, () => this.temporal.workflow.signalWithStart<DeliveryGroupWorkflow, [{ id: string }]>('deliveryGroupWorkflow', {
      ...this.groupStart(m.destinationId, m.groupKey), signal: enqueueSignal, signalArgs: [{ id: m.id }],
    }));
    return { created };
  }

  /**
   * An operator's decision on a dead letter: deliver it again, or drop it and let the group go on. False: it is not
   * dead. The group hears first and the row changes after, so a failure between the two leaves the message a dead
   * letter that the operator resolves again (a redelivered message goes at least once).
   */
  async resolveDeadLetter(messageId: string, action: 'redeliver' | 'drop'): Promise<boolean> {
    const group = await this.store.deadLetterGroup(messageId);
    if (!group) return false;
    await withinDeadline(this.temporal, () => this.temporal.workflow.signalWithStart<DeliveryGroupWorkflow, [{ messageId: string; action: 'redeliver' | 'drop' }]>('deliveryGroupWorkflow', {
      ...this.groupStart(group.destinationId, group.groupKey), signal: resolveSignal, signalArgs: [{ messageId, action }],
    }));
    await this.store.resolveDead(messageId, action);
    return true;
  }

  private groupStart(destinationId: string, groupKey: string) {
    return {
      workflowId: deliveryGroupWorkflowId(destinationId, groupKey), taskQueue: this.taskQueue,
      args: [{ destinationId, groupKey }] as [DeliveryGroupInput],
      staticSummary: `Ordered delivery to ${destinationId}, group ${groupKey}`,
    };
  }
}
