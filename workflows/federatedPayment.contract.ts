// federatedPaymentWorkflow's contract: a seller's payment by the identifier of another service's buyer, asked of that
// service's gateway until it decides or the deadline passes. The API's federation service, the history recorder and
// tests import this, never the workflow itself.
import * as wf from '@temporalio/workflow';

/** Another service's gateway, as the directory listed it when the payment started (its certificate pinned). */
export interface PeerRef { gatewayId: string; endpoint: string; fingerprint256: string }

export interface FederatedPaymentInput {
  paymentId: string;
  sellerId: string;
  itemId: string;
  clientId: string;
  /** The buyer's identifier at its service (an alias): all this service ever learns of the buyer. */
  alias: string;
  payeeGateway: string;
  payer: PeerRef;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  category: string;
  grantSeconds: number;
  /** How long the buyer's service may stay unreachable (or undecided past its own deadline) before the payment is declined. */
  deadlineMs: number;
}

export interface FederatedPaymentView {
  id: string;
  state: 'pending' | 'authorized' | 'declined';
  sellerId: string;
  clientId: string;
  buyerIdentifier: string;
  payerGateway: string;
  payeeGateway: string;
  itemId: string;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  /** The micro-payment recorded for the seller when authorized (credited with the seller's others). */
  micropaymentId: string | null;
  failure: { code: string; message: string } | null;
  decidedAt: string | null;
  createdAt: string;
}

/** Answered once the payment is authorized or declined (its view), or the buyer's service asks its buyer (null). */
export const decidedUpdate = wf.defineUpdate<FederatedPaymentView | null>('decided');
export const federatedPaymentQuery = wf.defineQuery<FederatedPaymentView | null>('payment');

export type FederatedPaymentWorkflow = (input: FederatedPaymentInput) => Promise<FederatedPaymentView>;

export const federatedPaymentWorkflowId = (paymentId: string) => `fedpay-${paymentId}`;

/** The party another service is in this service's micro-payments: buyer at the payee's side, seller at the payer's. */
export const federationParty = (gatewayId: string) => `federation:${gatewayId}`;
