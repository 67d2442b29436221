// Ledger account ids by role, one set per currency.
import type { AccountInput } from '../ledger/ledger';

export function accounts(currency: string, merchantId: string): Record<'clearing' | 'merchant' | 'fees', AccountInput> {
  return {
    clearing: { id: `processor-clearing:${currency}`, kind: 'processor_clearing', currency, name: 'Processor clearing (cash in transit)' },
    merchant: { id: `merchant-payable:${merchantId}:${currency}`, kind: 'merchant_payable', currency, ownerId: merchantId },
    fees: { id: `broker-fees:${currency}`, kind: 'broker_fee_revenue', currency, name: 'Broker fee revenue' },
  };
}
