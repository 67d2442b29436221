// Activities of confirmation by message: send the order's offer (its row opened with a one-time code first, so a
// retry sends the same offer under the same idempotency key, and the gateway answers with the first message), and
// close the confirmation at its deadline or a merchant's cancel (the database says how it ended).
import { ApplicationFailure } from '@temporalio/common';
import { type ConfirmationOutcome, DEFAULT_SENDER_ID, offerText } from '../domain/confirmation';
import { formatMoney } from '../domain/money';
import { type MessagingGateway, MessagingRejectedError } from '../processors/messaging/client';
import type { ConfirmationStore } from '../stores/confirmations';
import type { MerchantStore } from '../stores/merchants';
import type { PhoneStore } from '../stores/phones';

export interface OfferRequest {
  orderId: string;
  merchantId: string;
  phoneToken: string;
  amountMinor: number;
  currency: string;
  timeoutMs: number;
}

/** The offer was accepted by the gateway: the reply is awaited until the deadline (ISO 8601). */
export interface OfferSent { offerSentAt: string; deadline: string }

export function createConfirmationActivities(deps: {
  confirmations: ConfirmationStore; phones: PhoneStore; merchants: MerchantStore; messaging: MessagingGateway; defaultSender?: string;
}) {
  const { confirmations, phones, merchants, messaging, defaultSender = DEFAULT_SENDER_ID } = deps;
  return {
    /**
     * Sends the order's offer from the merchant's sender id. The gateway unreachable: retried (the deadline has not
     * started). The gateway refusing it (a number it cannot reach, say): OfferRefused, not retried.
     */
    async sendConfirmationOffer(r: OfferRequest): Promise<OfferSent> {
      const merchant = await merchants.get(r.merchantId);
      if (!merchant) throw ApplicationFailure.nonRetryable(`no merchant ${r.merchantId}`, 'OfferRefused');
      const row = await confirmations.open({
        orderId: r.orderId, merchantId: r.merchantId, phoneToken: r.phoneToken, sender: merchant.smsSenderId ?? defaultSender,
        bodyFor: (code) => offerText({ merchantName: merchant.name, amount: formatMoney(r.amountMinor, r.currency), code, timeoutMs: r.timeoutMs }),
      });
      let sent = row;
      if (row.state === 'sending') {
        try {
          await messaging.bookSender(row.sender);
          const message = await messaging.sendMessage(row.sender, await phones.reveal(row.phoneToken), row.body, `${r.orderId}:offer`);
          sent = await confirmations.offerSent(r.orderId, message.id, r.timeoutMs);
        } catch (err) {
          if (err instanceof MessagingRejectedError) throw ApplicationFailure.nonRetryable(`the gateway refused the offer: ${err.code}`, 'OfferRefused');
          throw err;
        }
      }
      if (!sent.sentAt || !sent.deadlineAt) throw ApplicationFailure.nonRetryable(`the confirmation of ${r.orderId} is ${sent.state}`, 'OfferRefused');
      return { offerSentAt: sent.sentAt.toISOString(), deadline: sent.deadlineAt.toISOString() };
    },

    /** Ends the confirmation as `outcome` unless a reply ended it first; returns how it ended. */
    async closeConfirmation(orderId: string, outcome: 'expired' | 'cancelled' | 'not_sent'): Promise<ConfirmationOutcome> {
      return confirmations.close(orderId, outcome);
    },
  };
}

export type ConfirmationActivities = ReturnType<typeof createConfirmationActivities>;
