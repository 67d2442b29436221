// Platform activities: the no-op the harness and the benchmarks' ceiling run, and reachability checks.
import { type Database, reachable } from '../ledger/db';

export function createPlatformActivities(deps: { database: Database }) {
  return {
    /** Does no work: a workflow running only this measures the cost of Temporal itself. */
    async echo(message: string): Promise<string> {
      return message;
    },
    /** The ledger database answers. */
    async ledgerReachable(): Promise<boolean> {
      await reachable(deps.database.db);
      return true;
    },
  };
}

export type PlatformActivities = ReturnType<typeof createPlatformActivities>;
