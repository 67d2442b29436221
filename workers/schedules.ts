// Temporal Schedules the worker keeps in place at start: settlement batches every settlementIntervalMs.
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { type SettlementBatchInput, settlementBatchWorkflow, settlementScheduleId } from '../workflows/settlementBatch';

export async function ensureSettlementSchedule(client: Client, taskQueue: string, intervalMs: number): Promise<void> {
  const options = {
    scheduleId: settlementScheduleId(taskQueue),
    spec: { intervals: [{ every: intervalMs }] },
    action: { type: 'startWorkflow' as const, workflowType: settlementBatchWorkflow, taskQueue, args: [{}] as [SettlementBatchInput] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(settlementScheduleId(taskQueue)).update((prev) => ({ ...prev, spec: options.spec, action: options.action }));
  }
}
