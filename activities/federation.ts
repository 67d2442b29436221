// Federated payments' I/O at the seller's service: asking the buyer's gateway (processors/federation/gateway.ts, the
// transaction id is the payment's, so a repeat gets the same decision), recording the authorized payment as a
// micro-payment from the buyer's service to the seller (idempotent by its clientId), declining, and cancelling.
import { ApplicationFailure } from '@temporalio/activity';
import type { Micropayments } from '../ledger/micropayments';
import { type AuthorizationAnswer, type FederationGatewayClient, GatewayRefused } from '../processors/federation/gateway';
import { authorizationBody, declinePayment, recordAuthorized } from '../services/federation';
import type { NettingService } from '../services/netting';
import type { FederationStore } from '../stores/federation';
import type { FederatedPaymentInput, FederatedPaymentView } from '../workflows/federatedPayment.contract';

export function createFederationActivities(deps: { federation: FederationStore; micropayments: Micropayments; gateways: FederationGatewayClient | undefined;
  netting: NettingService | undefined }) {
  const gateways = () => {
    if (!deps.gateways) throw ApplicationFailure.nonRetryable('this deployment has no federation gateway (PAYBROKER_GATEWAY_ID)', 'GatewayRefused');
    return deps.gateways;
  };
  const refused = (err: unknown) => (err instanceof GatewayRefused ? ApplicationFailure.nonRetryable(err.message, 'GatewayRefused', err.code) : err);
  return {
    async askPayer(input: FederatedPaymentInput): Promise<AuthorizationAnswer> {
      try {
        return await gateways().authorize(input.payer, authorizationBody(input));
      } catch (err) {
        throw refused(err);
      }
    },

    async cancelAtPayer(input: FederatedPaymentInput): Promise<void> {
      try {
        await gateways().cancel(input.payer, input.paymentId);
      } catch (err) {
        throw refused(err);
      }
    },

    async recordFederatedPayment(input: FederatedPaymentInput): Promise<FederatedPaymentView> {
      return recordAuthorized(deps, input);
    },

    async declineFederatedPayment(paymentId: string, code: string, message: string): Promise<FederatedPaymentView> {
      return declinePayment(deps.federation, paymentId, code, message);
    },
  };
}

export type FederationActivities = ReturnType<typeof createFederationActivities>;
