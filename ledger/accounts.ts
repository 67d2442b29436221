// Ledger account ids by role, one set per currency.
import type { AccountInput } from './ledger';

export function accounts(currency: string, merchantId: string): Record<'clearing' | 'merchant' | 'fees' | 'processorFees', AccountInput> {
  return {
    clearing: { id: `processor-clearing:${currency}`, kind: 'processor_clearing', currency, name: 'Processor clearing (cash in transit)' },
    merchant: { id: `merchant-payable:${merchantId}:${currency}`, kind: 'merchant_payable', currency, ownerId: merchantId },
    fees: { id: `broker-fees:${currency}`, kind: 'broker_fee_revenue', currency, name: 'Broker fee revenue' },
    processorFees: { id: `processor-fees:${currency}`, kind: 'processor_fees', currency, name: "The processor's fees on captures (the broker's cost)" },
  };
}

/** A micro-payment buyer's and seller's accounts (the ids the compact payment rows imply; see migrations/005). */
export const buyerReceivable = (buyerId: string, currency: string): AccountInput =>
  ({ id: `buyer-receivable:${buyerId}:${currency}`, kind: 'buyer_receivable', currency, ownerId: buyerId });
export const sellerPayable = (sellerId: string, currency: string): AccountInput =>
  ({ id: `seller-payable:${sellerId}:${currency}`, kind: 'seller_payable', currency, ownerId: sellerId });
/** What a merchant's payouts hold back as a rolling reserve (owed to the merchant, released by a later payout). */
export const merchantReserve = (merchantId: string, currency: string): AccountInput =>
  ({ id: `merchant-reserve:${merchantId}:${currency}`, kind: 'merchant_reserve', currency, ownerId: merchantId });
/** What open disputes have withdrawn from a merchant's balance (the amounts and fees), until each closes. */
export const disputesHeld = (merchantId: string, currency: string): AccountInput =>
  ({ id: `disputes-held:${merchantId}:${currency}`, kind: 'disputes_held', currency, ownerId: merchantId });
/** What open disputes of period charges (the broker's, as the merchant of record of buyers' invoices) hold, until each closes. */
export const brokerDisputesHeld = (currency: string): AccountInput =>
  ({ id: `disputes-held:broker:${currency}`, kind: 'disputes_held', currency, name: "Disputes of period charges (the broker's)" });
