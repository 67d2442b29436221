// Assembles every activity the worker registers, over the real dependencies.
import type { Client } from '@temporalio/client';
import type { Db } from '../ledger/db';
import { Ledger } from '../ledger/ledger';
import type { ProcessorClient } from '../processors/client';
import { createOrderActivities, createOrderBooksActivity } from './orders';
import { createPlatformActivities } from './platform';
import { createSettlementBatchActivities } from './settlementBatches';
import { createSettlementPeriodActivities } from './settlementPeriods';
import { createDeliveryActivities, type DeliverySettings } from './delivery';
import { createWebhookEventActivities } from './webhookEvents';

export interface ActivityDeps {
  db: Db;
  processor: ProcessorClient;
  /** For enqueuing outbound messages (signal-with-start of delivery groups). */
  temporal: Client;
  taskQueue: string;
  delivery: DeliverySettings;
  /** Delays of the dunning retries after a failed period charge. */
  dunningDelaysMs?: number[];
}

export function createActivities(deps: ActivityDeps) {
  const ledger = new Ledger(deps.db);
  const orders = createOrderActivities({ ...deps, ledger });
  const events = createWebhookEventActivities(deps);
  return {
    ...createPlatformActivities(deps),
    ...orders,
    ...createOrderBooksActivity(orders, events),
    ...createSettlementBatchActivities(deps),
    ...createSettlementPeriodActivities({ ...deps, ledger }),
    ...createDeliveryActivities({ db: deps.db, settings: deps.delivery }),
    ...events,
  };
}
