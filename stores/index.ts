// Every store of a process over its database: the ledger's books and the stores beside them. Built once by each
// entry point (the API, the worker, scripts, tests) and handed to what needs it.
import type { Database } from '../ledger/db';
import { Ledger } from '../ledger/ledger';
import { Micropayments } from '../ledger/micropayments';
import { Periods } from '../ledger/periods';
import { DeliveryStore } from './delivery';
import { EventStore } from './events';
import { FederationStore } from './federation';
import { NettingStore } from './netting';
// What the edge (api/) needs of the books besides the stores themselves: it imports them from here, never ledger/.
export { LedgerError } from '../ledger/ledger';
export { isDatabaseUnavailable } from '../ledger/unavailable';
export type { RecordedPayment } from '../ledger/micropayments';
export type { Credit, Invoice, Period } from '../ledger/periods';
import { AuditStore } from './audit';
import { BidStore } from './bids';
import { CheckoutStore } from './checkout';
import { ConfirmationStore } from './confirmations';
import { DeviceStore } from './devices';
import { DisputeStore } from './disputes';
import { GrantStore } from './grants';
import { HoldStore } from './holds';
import { IdempotencyStore } from './idempotency';
import { MerchantStore } from './merchants';
import { OrderStore } from './orders';
import { PayoutStore } from './payouts';
import { PhoneStore } from './phones';
import { SettlementLists } from './settlementLists';
import { PartyStore } from './parties';
import { PrincipalStore } from './principals';
import { ProblemStore } from './problems';
import { ReconciliationStore } from './reconciliation';
import { RefusalStore } from './refusals';

export interface Stores {
  ledger: Ledger;
  micropayments: Micropayments;
  periods: Periods;
  principals: PrincipalStore;
  merchants: MerchantStore;
  parties: PartyStore;
  orders: OrderStore;
  payouts: PayoutStore;
  settlementLists: SettlementLists;
  delivery: DeliveryStore;
  events: EventStore;
  problems: ProblemStore;
  reconciliation: ReconciliationStore;
  idempotency: IdempotencyStore;
  grants: GrantStore;
  audit: AuditStore;
  checkout: CheckoutStore;
  bids: BidStore;
  phones: PhoneStore;
  confirmations: ConfirmationStore;
  refusals: RefusalStore;
  devices: DeviceStore;
  holds: HoldStore;
  disputes: DisputeStore;
  federation: FederationStore;
  netting: NettingStore;
}

/** `clock` (ms since the epoch; tests drive it) decides when rolled API keys expire and stamps keys' uses. */
export function createStores({ db, statements }: Database, clock: () => number = Date.now): Stores {
  return {
    ledger: new Ledger(db),
    micropayments: new Micropayments(db, statements),
    periods: new Periods(db),
    principals: new PrincipalStore(db, statements, clock),
    merchants: new MerchantStore(db),
    parties: new PartyStore(db, statements),
    orders: new OrderStore(db),
    payouts: new PayoutStore(db),
    settlementLists: new SettlementLists(db),
    delivery: new DeliveryStore(db),
    events: new EventStore(db),
    problems: new ProblemStore(db),
    reconciliation: new ReconciliationStore(db),
    idempotency: new IdempotencyStore(db),
    grants: new GrantStore(db),
    audit: new AuditStore(db),
    checkout: new CheckoutStore(db),
    bids: new BidStore(db, statements),
    phones: new PhoneStore(db),
    confirmations: new ConfirmationStore(db),
    refusals: new RefusalStore(db),
    devices: new DeviceStore(db),
    holds: new HoldStore(db),
    disputes: new DisputeStore(db),
    federation: new FederationStore(db),
    netting: new NettingStore(db),
  };
}
