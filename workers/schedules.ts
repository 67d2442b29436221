// Temporal Schedules the worker keeps in place at start: settlement batches every settlementIntervalMs, the
// close of a micro-payment settlement period every periodMs, a run of merchant payouts every payoutIntervalMs, and
// the reconciliation of the day before every reconciliationIntervalMs.
import { type Client, ScheduleAlreadyRunning, type ScheduleOptionsStartWorkflowAction, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { type PayoutRunInput, payoutScheduleId } from '../workflows/payout.contract';
import { type ReconciliationInput, reconciliationScheduleId } from '../workflows/reconciliation.contract';
import { type SettlementBatchInput, settlementScheduleId } from '../workflows/settlementBatch.contract';
import { type SettlementPeriodInput, settlementPeriodScheduleId } from '../workflows/settlementPeriod.contract';

export async function ensureSettlementSchedule(client: Client, taskQueue: string, intervalMs: number): Promise<void> {
  await ensureSchedule(client, settlementScheduleId(taskQueue), intervalMs,
    { type: 'startWorkflow', workflowType: 'settlementBatchWorkflow', taskQueue, args: [{}] as [SettlementBatchInput] });
}

export async function ensureSettlementPeriodSchedule(client: Client, taskQueue: string, periodMs: number,
  close: Pick<SettlementPeriodInput, 'graceMs' | 'dunningDelaysMs'>): Promise<void> {
  await ensureSchedule(client, settlementPeriodScheduleId(taskQueue), periodMs,
    { type: 'startWorkflow', workflowType: 'settlementPeriodWorkflow', taskQueue, args: [close] as [SettlementPeriodInput] });
}

export async function ensurePayoutSchedule(client: Client, taskQueue: string, intervalMs: number, run: Pick<PayoutRunInput, 'retryDelaysMs'>): Promise<void> {
  await ensureSchedule(client, payoutScheduleId(taskQueue), intervalMs,
    { type: 'startWorkflow', workflowType: 'payoutRunWorkflow', taskQueue, args: [run] as [PayoutRunInput] });
}

export async function ensureReconciliationSchedule(client: Client, taskQueue: string, intervalMs: number): Promise<void> {
  await ensureSchedule(client, reconciliationScheduleId(taskQueue), intervalMs,
    { type: 'startWorkflow', workflowType: 'reconciliationWorkflow', taskQueue, args: [{}] as [ReconciliationInput] });
}

/** Creates the schedule, or brings an existing one's interval and action up to date. */
async function ensureSchedule(client: Client, scheduleId: string, everyMs: number,
  action: ScheduleOptionsStartWorkflowAction<Workflow>): Promise<void> {
  const options = {
    scheduleId, spec: { intervals: [{ every: everyMs }] }, action,
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec: options.spec, action: options.action }));
  }
}
