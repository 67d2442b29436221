// Federated payments' I/O at the seller's service: asking the buyer's gateway (processors/federation/gateway.ts, the
// transaction id is the payment's, so a repeat gets the same decision), recording the authorized payment as a
// micro-payment from the buyer's service to the seller (idempotent by its clientId), declining, and cancelling.
import { ApplicationFailure, log } from '@temporalio/activity';
import type { Micropayments } from '../ledger/micropayments';
import { type AuthorizationAnswer, type FederationGatewayClient, GatewayRefused } from '../processors/federation/gateway';
import { recordOne, viewOf } from '../services/federation';
import type { NettingService } from '../services/netting';
import type { FederationStore } from '../stores/federation';
import { federationParty, type FederatedPaymentInput, type FederatedPaymentView } from '../workflows/federatedPayment.contract';

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
        return await gateways().authorize(input.payer, {
          transactionId: input.paymentId, alias: input.alias, amountMinor: input.amountMinor, currency: input.currency,
          payee: { sellerId: input.sellerId, itemId: input.itemId, category: input.category },
        });
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
      const outcome = await recordOne(deps.micropayments, {
        buyerId: federationParty(input.payer.gatewayId), sellerId: input.sellerId, itemId: input.itemId, clientId: `fed:${input.paymentId}`,
        ruleSetId: 'federation', currency: input.currency, amountMinor: input.amountMinor, feeMinor: input.feeMinor,
        grantSeconds: input.grantSeconds, caps: { perDayMinor: null, perPeriodMinor: null },
      }, Date.now());
      if (outcome.status === 'refused') throw new Error(`recording federated payment ${input.paymentId} was refused: ${outcome.code}`); // (no caps: cannot happen)
      const view = viewOf(await deps.federation.decidePayment(input.paymentId, { state: 'authorized', paymentId: outcome.payment.id }));
      // (the payment waits for its netting window in the database; this only wakes the window: a failure here is a log line)
      await deps.netting?.note(input.payer.gatewayId).catch((err: unknown) => log.warn('netting window not told of a payment', { err, paymentId: input.paymentId }));
      return view;
    },

    async declineFederatedPayment(paymentId: string, code: string, message: string): Promise<FederatedPaymentView> {
      return viewOf(await deps.federation.decidePayment(paymentId, { state: 'declined', code, message }));
    },
  };
}

export type FederationActivities = ReturnType<typeof createFederationActivities>;
