// The smallest workflow: one activity round trip. It proves a worker, the server and the ledger connection
// work end to end, and its rate is the ceiling benchmarks compare business workflows with.
import * as wf from '@temporalio/workflow';
import type { PlatformActivities } from '../activities/platform';
import type { PingInput, PingResult } from './ping.contract';

const { echo, ledgerReachable } = wf.proxyActivities<PlatformActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5 },
});

export async function pingWorkflow(input: PingInput): Promise<PingResult> {
  const echoed = await echo(input.message);
  const reachable = input.checkLedger ? await ledgerReachable() : null;
  return { echoed, ledgerReachable: reachable };
}
