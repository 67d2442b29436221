// Builds an order's workflow input the way POST /v1/orders does (priced by the domain rules), for the tests
// and the history recorder. No vitest imports here: scripts use it too.
import { DEFAULT_AVS_POLICY } from '../../domain/avs';
import type { OrderInput, OrderPolicy } from '../../domain/order';
import { priceOrder, type LineItemInput } from '../../domain/pricing';
import type { MerchantSettings } from '../../stores/merchants';
import type { Db } from '../../ledger/db';
import { orderWorkflowId } from '../../workflows/order.contract';

export const MERCHANT_SETTINGS: MerchantSettings = {
  currency: 'USD', feeBps: 250,
  shippingOptions: [{ id: 'standard', label: 'Standard', priceMinor: 500 }, { id: 'express', label: 'Express', priceMinor: 1500 }],
  taxRatesBps: { US: 0, 'US-CA': 725, DE: 1900 },
};

export const HARD_ITEMS: LineItemInput[] = [
  { sku: 'book', quantity: 2, unitPriceMinor: 1999, kind: 'hard' },
  { sku: 'lamp', quantity: 1, unitPriceMinor: 4500, kind: 'hard' },
];

export const FAST_POLICY: Omit<OrderPolicy, 'avsPolicy' | 'feeBps'> = {
  reviewTimeoutMs: 60_000, processorDeadlineMs: 60_000, processorMaxBackoffMs: 1_000, reauthLeadMs: 60_000, refundWindowMs: 2_000,
};

export interface OrderSpec {
  merchantId: string;
  clientOrderId: string;
  token: string;
  items?: LineItemInput[];
  postalCode?: string;
  policy?: Partial<OrderPolicy>;
  shipping?: string | null;
}

export function buildOrderInput(o: OrderSpec): OrderInput {
  const items = o.items ?? HARD_ITEMS;
  const hard = items.some((i) => i.kind === 'hard');
  const shippingId = o.shipping === undefined ? (hard ? 'standard' : null) : o.shipping;
  const address = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
  const priced = priceOrder(items, shippingId, hard ? address : null, {
    currency: 'USD', shippingOptions: MERCHANT_SETTINGS.shippingOptions!, taxRatesBps: MERCHANT_SETTINGS.taxRatesBps!,
  });
  return {
    orderId: orderWorkflowId(o.merchantId, o.clientOrderId), merchantId: o.merchantId, customerId: 'cust-1',
    clientOrderId: o.clientOrderId, priced,
    shipping: shippingId ? { optionId: shippingId, address } : null,
    payment: { token: o.token, billingPostalCode: o.postalCode ?? '94107' },
    policy: { avsPolicy: DEFAULT_AVS_POLICY, feeBps: MERCHANT_SETTINGS.feeBps!, ...FAST_POLICY, ...o.policy },
  };
}

/** The orders row the API writes before it starts the workflow. */
export async function insertOrderRow(db: Db, input: OrderInput): Promise<void> {
  await db('orders').insert({
    id: input.orderId, merchant_id: input.merchantId, client_order_id: input.clientOrderId, customer_id: input.customerId,
    request_sha256: Buffer.from('test'), currency: input.priced.currency, total_minor: input.priced.totalMinor, state: 'confirmed',
  });
}
