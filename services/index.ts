// What the API (and scripts) work through: the stores of the process's database and the services that combine
// them with Temporal. Built once per process by its entry point.
import type { Client } from '@temporalio/client';
import type { Database } from '../ledger/db';
import { createStores, type Stores } from '../stores';
import { DeliveryService } from './delivery';
import { type EndpointSettings, WebhookEndpoints } from './endpoints';
import { GrantSigner } from './grants';
import { type OrderTiming, OrderService } from './orders';
import { PayoutService } from './payouts';
import { ProblemService } from './problems';
import { Recorder } from './recorder';
import { type CloseSettings, SettlementService } from './settlement';

export interface ServiceSettings {
  taskQueue: string;
  orders: OrderTiming;
  periods: CloseSettings;
  /** Delays between tries of a refused payout. */
  payoutRetryDelaysMs: number[];
  webhooks: EndpointSettings;
  /** Milliseconds since the epoch (default Date.now; tests drive it): API keys' expiry and use, rate limits. */
  clock?: () => number;
}

export interface Services {
  stores: Stores;
  orders: OrderService;
  problems: ProblemService;
  recorder: Recorder;
  grants: GrantSigner;
  delivery: DeliveryService;
  endpoints: WebhookEndpoints;
  settlement: SettlementService;
  payouts: PayoutService;
  temporal: Client;
  clock: () => number;
}

export async function createServices(database: Database, temporal: Client, settings: ServiceSettings): Promise<Services> {
  const clock = settings.clock ?? Date.now;
  const stores = createStores(database, clock);
  const { taskQueue } = settings;
  const orders = new OrderService({ orders: stores.orders, merchants: stores.merchants, temporal, taskQueue, timing: settings.orders });
  return {
    stores, temporal, orders, clock,
    problems: new ProblemService({ problems: stores.problems, orders }),
    recorder: new Recorder(stores.parties, stores.micropayments),
    grants: await GrantSigner.load(stores.grants),
    delivery: new DeliveryService(stores.delivery, temporal, taskQueue),
    endpoints: new WebhookEndpoints(stores.delivery, settings.webhooks),
    payouts: new PayoutService({ payouts: stores.payouts, merchants: stores.merchants, parties: stores.parties, temporal, taskQueue,
      retryDelaysMs: settings.payoutRetryDelaysMs }),
    settlement: new SettlementService({ periods: stores.periods, parties: stores.parties, temporal, taskQueue, settings: settings.periods }),
  };
}
