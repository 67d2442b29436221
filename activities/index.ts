// Assembles every activity the worker registers, over the real dependencies.
import type { Db } from '../ledger/db';
import { createPlatformActivities } from './platform';

export interface ActivityDeps {
  db: Db;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPlatformActivities(deps),
  };
}
