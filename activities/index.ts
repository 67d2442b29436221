// Assembles every activity the worker registers, over the real dependencies.
import type { Client } from '@temporalio/client';
import type { Database } from '../ledger/db';
import type { ProcessorClient } from '../processors/client';
import type { FederationGatewayClient } from '../processors/federation/gateway';
import type { MessagingGateway } from '../processors/messaging/client';
import { AuthenticationService } from '../services/authentications';
import { DeliveryService } from '../services/delivery';
import { EventService } from '../services/events';
import { createStores } from '../stores';
import { createAuthenticationActivities } from './authentications';
import { createBidActivities } from './bids';
import { createCheckoutActivities } from './checkout';
import { createConfirmationActivities } from './confirmations';
import { createDeliveryActivities, type DeliverySettings } from './delivery';
import { createDisputeActivities } from './disputes';
import { createFederationActivities } from './federation';
import { createNettingActivities } from './netting';
import { type CachedDirectory, settlementAccountOf } from '../services/federation';
import { NettingService, type NettingSettings } from '../services/netting';
import { createHoldActivities } from './holds';
import { createOrderActivities, createOrderBooksActivity } from './orders';
import { createPayoutActivities } from './payouts';
import { createPlatformActivities } from './platform';
import { createReconciliationActivities } from './reconciliation';
import { createSettlementBatchActivities } from './settlementBatches';
import { createSettlementPeriodActivities } from './settlementPeriods';
import { timedPhases } from '../runtime/metrics';
import { createWebhookEventActivities } from './webhookEvents';

export interface ActivityDeps {
  database: Database;
  processor: ProcessorClient;
  /** The messaging gateway (confirmation offers), and the sender id of merchants without their own (default PAYBROKER). */
  messaging: MessagingGateway;
  messagingSender?: string;
  /** For enqueuing outbound messages (signal-with-start of delivery groups). */
  temporal: Client;
  taskQueue: string;
  delivery: DeliverySettings;
  /** This deployment's federation gateway: other services' gateways as it calls them, the directory, netting (none: federation is off). */
  federation?: { gatewayId: string; gateways: FederationGatewayClient; directory: CachedDirectory; netting: NettingSettings };
}

export function createActivities(deps: ActivityDeps) {
  const stores = createStores(deps.database);
  const { processor } = deps;
  const f = deps.federation;
  const netting = f && new NettingService({ netting: stores.netting, ledger: stores.ledger, problems: stores.problems, processor, temporal: deps.temporal,
    taskQueue: deps.taskQueue, gatewayId: f.gatewayId, settings: f.netting, settlementAccountOf: settlementAccountOf(f.directory) });
  const orders = createOrderActivities({ processor, ledger: stores.ledger, orders: stores.orders, problems: stores.problems });
  const events = createWebhookEventActivities({
    events: new EventService(stores.events, stores.delivery, new DeliveryService(stores.delivery, deps.temporal, deps.taskQueue)) });
  return {
    ...createPlatformActivities({ database: deps.database }),
    ...orders,
    ...createOrderBooksActivity(orders, events),
    // (each settlement phase timed: paybroker_settlement_phase_duration_seconds{phase=<activity>})
    ...timedPhases(createSettlementBatchActivities({ processor, orders: stores.orders })),
    ...timedPhases(createSettlementPeriodActivities({ periods: stores.periods, ledger: stores.ledger, processor, problems: stores.problems, events })),
    ...timedPhases(createPayoutActivities({ payouts: stores.payouts, ledger: stores.ledger, processor, problems: stores.problems, events })),
    ...createReconciliationActivities({ reconciliation: stores.reconciliation, processor, problems: stores.problems }),
    ...createCheckoutActivities({ checkout: stores.checkout, orders: stores.orders, events }),
    ...createBidActivities({ bids: stores.bids, events }),
    ...createConfirmationActivities({ confirmations: stores.confirmations, phones: stores.phones, merchants: stores.merchants, messaging: deps.messaging,
      defaultSender: deps.messagingSender }),
    ...createAuthenticationActivities({ authentications: new AuthenticationService({ devices: stores.devices, merchants: stores.merchants,
      refusals: stores.refusals, temporal: deps.temporal }) }),
    ...createHoldActivities({ processor, ledger: stores.ledger, orders: stores.orders, holds: stores.holds, events }),
    ...createDisputeActivities({ processor, ledger: stores.ledger, orders: stores.orders, disputes: stores.disputes, events }),
    ...createDeliveryActivities({ messages: stores.delivery, problems: stores.problems, settings: deps.delivery }),
    ...createFederationActivities({ federation: stores.federation, micropayments: stores.micropayments, gateways: f?.gateways, netting }),
    ...createNettingActivities(f && { me: f.gatewayId, netting: stores.netting, ledger: stores.ledger, problems: stores.problems, processor,
      gateways: f.gateways, directory: f.directory }),
    ...events,
  };
}
