// What the API (and scripts) work through: the stores of the process's database and the services that combine
// them with Temporal. Built once per process by its entry point.
import type { Client } from '@temporalio/client';
import type { Database } from '../ledger/db';
import { HttpMessagingGateway } from '../processors/messaging/client';
import { createStores, type Stores } from '../stores';
import { AuthenticationService } from './authentications';
import { BidService } from './bids';
import { CartService } from './carts';
import { CheckoutService } from './checkout';
import { DisputeService } from './disputes';
import { HttpProcessorClient } from '../processors/http-client';
import { HoldService } from './holds';
import { IssuerService } from './issuer';
import { ConfirmationService } from './confirmations';
import { DeliveryService } from './delivery';
import { type EndpointSettings, WebhookEndpoints } from './endpoints';
import { EventService } from './events';
import { ASK_AT_ONCE_TIMEOUT_MS, CachedDirectory, FederationService, type GatewayCredentials, settlementAccountOf } from './federation';
import { FederationGatewayClient } from '../processors/federation/gateway';
import { NettingService, type NettingSettings } from './netting';
import { DirectoryClient } from '../processors/directory/client';
import { GrantSigner } from './grants';
import { type OrderTiming, OrderService } from './orders';
import { PayoutService } from './payouts';
import { ProblemService } from './problems';
import { ReconciliationService } from './reconciliation';
import { Recorder } from './recorder';
import { type CloseSettings, SettlementService } from './settlement';

export interface ServiceSettings {
  taskQueue: string;
  orders: OrderTiming;
  periods: CloseSettings;
  /** Delays between tries of a refused payout. */
  payoutRetryDelaysMs: number[];
  webhooks: EndpointSettings;
  /** Where customers reach the hosted pages, and where their browsers reach the processor's tokenization. */
  pages: { publicUrl: string; processorPublicUrl: string };
  /** The messaging gateway (polite answers to customers' replies): where, the broker's key, and the secret of its webhooks. */
  messaging: { url: string; apiKey: string; webhookSecret: string };
  /** Where the API reaches the card processor (issuer assistance: loyalty rewards, provisioning failures). */
  processor: { url: string };
  /** The secret of the card processor's signed webhooks (disputes, reservations), and how often an undecided dispute asks it. */
  processorWebhooks: { secret: string; decisionPollMs?: number };
  /** Federation: this deployment's gateway, its key (it signs the directory calls), the directory, deadlines (none: off). */
  federation?: { credentials: GatewayCredentials; directoryUrl: string; directoryCacheTtlMs: number; deadlineMs: number; confirmationTimeoutMs: number;
    netting: NettingSettings };
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
  events: EventService;
  settlement: SettlementService;
  payouts: PayoutService;
  reconciliation: ReconciliationService;
  checkout: CheckoutService;
  holds: HoldService;
  disputes: DisputeService;
  issuer: IssuerService;
  carts: CartService;
  bids: BidService;
  confirmations: ConfirmationService;
  authentications: AuthenticationService;
  /** The federation gateway's service (undefined: this deployment has none). */
  federation: FederationService | undefined;
  /** Netting windows with other services (the gateway's part of them); undefined with federation off. */
  netting: NettingService | undefined;
  /** Where customers reach the hosted pages, and where their browsers reach the processor's tokenization. */
  pages: { publicUrl: string; processorPublicUrl: string };
  temporal: Client;
  clock: () => number;
}

export async function createServices(database: Database, temporal: Client, settings: ServiceSettings): Promise<Services> {
  const clock = settings.clock ?? Date.now;
  const stores = createStores(database, clock);
  const { taskQueue } = settings;
  const delivery = new DeliveryService(stores.delivery, temporal, taskQueue);
  const orders = new OrderService({ ...stores, temporal, taskQueue, timing: settings.orders });
  const payouts = new PayoutService({ payouts: stores.payouts, merchants: stores.merchants, parties: stores.parties, temporal, taskQueue,
    retryDelaysMs: settings.payoutRetryDelaysMs });
  const { publicUrl } = settings.pages;
  const checkout = new CheckoutService({ checkout: stores.checkout, merchants: stores.merchants, orders, temporal, taskQueue, timing: settings.orders,
    publicUrl, clock });
  const holds = new HoldService({ holds: stores.holds, merchants: stores.merchants, temporal, taskQueue });
  const carts = await CartService.create({ checkout: stores.checkout, merchants: stores.merchants, grants: stores.grants, temporal, taskQueue,
    timing: settings.orders, publicUrl, clock });
  const f = settings.federation;
  const gatewayId = f?.credentials.gatewayId;
  const directory = f && new CachedDirectory(new DirectoryClient({ baseUrl: f.directoryUrl, gatewayId: gatewayId!, keyPem: f.credentials.keyPem }),
    f.directoryCacheTtlMs, clock);
  const netting = f && new NettingService({ netting: stores.netting, ledger: stores.ledger, problems: stores.problems, temporal, taskQueue,
    processor: new HttpProcessorClient({ baseUrl: settings.processor.url }), gatewayId: gatewayId!, settings: f.netting,
    settlementAccountOf: settlementAccountOf(directory!) });
  const federation = f && new FederationService({
    federation: stores.federation, parties: stores.parties, micropayments: stores.micropayments, temporal, taskQueue, clock, directory: directory!,
    netting: netting!, gatewayId: gatewayId!, gateways: new FederationGatewayClient(f.credentials, ASK_AT_ONCE_TIMEOUT_MS), deadlineMs: f.deadlineMs, confirmationTimeoutMs: f.confirmationTimeoutMs,
  });
  return {
    stores, temporal, orders, payouts, delivery, clock, checkout, carts, pages: settings.pages, federation, netting,
    bids: new BidService({ bids: stores.bids, temporal, taskQueue, timing: settings.orders, clock }),
    confirmations: new ConfirmationService({ ...stores, temporal, webhookSecret: settings.messaging.webhookSecret,
      gateway: new HttpMessagingGateway({ baseUrl: settings.messaging.url, apiKey: settings.messaging.apiKey }) }),
    authentications: new AuthenticationService({ ...stores, temporal }),
    issuer: new IssuerService({ processor: new HttpProcessorClient({ baseUrl: settings.processor.url }), orders, orderStore: stores.orders }),
    holds, disputes: new DisputeService({ disputes: stores.disputes, problems: stores.problems, refusals: stores.refusals, holds, temporal, taskQueue,
      webhookSecret: settings.processorWebhooks.secret, decisionPollMs: settings.processorWebhooks.decisionPollMs }),
    problems: new ProblemService({ problems: stores.problems, orders, payouts, payoutStore: stores.payouts, delivery }),
    recorder: new Recorder(stores.parties, stores.micropayments),
    grants: await GrantSigner.load(stores.grants),
    endpoints: new WebhookEndpoints(stores.delivery, settings.webhooks),
    events: new EventService(stores.events, stores.delivery, delivery),
    reconciliation: new ReconciliationService({ reconciliation: stores.reconciliation, temporal, taskQueue }),
    settlement: new SettlementService({ periods: stores.periods, parties: stores.parties, temporal, taskQueue, settings: settings.periods }),
  };
}
