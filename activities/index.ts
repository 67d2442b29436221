// Assembles every activity the worker registers, over the real dependencies.
import type { Db } from '../ledger/db';
import { Ledger } from '../ledger/ledger';
import type { ProcessorClient } from '../processors/client';
import { createOrderActivities } from './orders';
import { createPlatformActivities } from './platform';
import { createSettlementBatchActivities } from './settlementBatches';

export interface ActivityDeps {
  db: Db;
  processor: ProcessorClient;
}

export function createActivities(deps: ActivityDeps) {
  const ledger = new Ledger(deps.db);
  return {
    ...createPlatformActivities(deps),
    ...createOrderActivities({ ...deps, ledger }),
    ...createSettlementBatchActivities(deps),
  };
}
