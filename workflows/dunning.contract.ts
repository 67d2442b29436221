// The dunning workflow's contract: one per (period, buyer) whose period charge failed; started as a child of the
// settlement period's close.
import * as wf from '@temporalio/workflow';

export interface DunningInput {
  periodSeq: number;
  buyerId: string;
  delaysMs: number[];
}
export interface DunningResult { outcome: 'paid' | 'settled' | 'suspended'; attempts: number }

export type DunningWorkflow = (input: DunningInput) => Promise<DunningResult>;

export const dunningWorkflowId = (periodId: string, buyerId: string) => `dunning-${periodId}-${buyerId}`;
export const dunningStatusQuery = wf.defineQuery<{ attempts: number; nextAttemptAt: string | null; outcome: string | null }>('status');
