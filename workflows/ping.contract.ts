// The ping workflow's contract: what a caller needs to start it and read its result.

export interface PingInput {
  message: string;
  /** Also check that the ledger database answers. */
  checkLedger?: boolean;
}

export interface PingResult {
  echoed: string;
  ledgerReachable: boolean | null;
}

export type PingWorkflow = (input: PingInput) => Promise<PingResult>;

export const pingWorkflowId = (name: string) => `ping-${name}`;
