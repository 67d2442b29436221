// The settlement batch workflow's contract: started by its Schedule (one per task queue).

export interface SettlementBatchInput { capturesPerBatch?: number }
export interface SettlementBatchResult { batches: Array<{ id: string; captureCount: number; totals: Record<string, number> }> }

export type SettlementBatchWorkflow = (input?: SettlementBatchInput) => Promise<SettlementBatchResult>;

/** One schedule per task queue (a deployment runs one; tests run several side by side). */
export const settlementScheduleId = (taskQueue: string) => `settlement-batches-${taskQueue}`;
