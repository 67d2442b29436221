// The broker prices an order from the merchant's configuration: items, shipping by option, and tax by
// destination. Tax is computed per unit (rounded half up), so any subset of units carries an exact share and
// per-shipment captures add up to the authorized total to the cent.

export type ItemKind = 'hard' | 'soft';

export interface LineItemInput {
  sku: string;
  description?: string;
  quantity: number;
  unitPriceMinor: number;
  kind: ItemKind;
}

export interface ShippingOption {
  id: string;
  label: string;
  priceMinor: number;
}

export interface Destination {
  country: string;
  region?: string;
}

export interface MerchantPricing {
  currency: string;
  shippingOptions: ShippingOption[];
  /** Basis points by destination: "US-CA" (country-region) wins over "US" (country); none → 0. */
  taxRatesBps: Record<string, number>;
}

export interface PricedLine extends LineItemInput {
  unitTaxMinor: number;
}

export interface PricedOrder {
  currency: string;
  lines: PricedLine[];
  shippingOptionId: string | null;
  shippingMinor: number;
  shippingTaxMinor: number;
  taxRateBps: number;
  itemsMinor: number;
  taxMinor: number;
  totalMinor: number;
}

export const MAX_LINE_ITEMS = 100;
export const MAX_QUANTITY = 10_000;
/** Largest order total: far below 2^53 so every sum stays an exact JS integer. */
export const MAX_ORDER_TOTAL_MINOR = 100_000_000_00;

export class PricingError extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'PricingError';
  }
}

/** Half-up rounding of amount × bps / 10 000, in integers. */
export function applyBps(amountMinor: number, bps: number): number {
  return Math.floor((amountMinor * bps + 5_000) / 10_000);
}

export function taxRateFor(rates: Record<string, number>, dest: Destination): number {
  const regional = dest.region ? rates[`${dest.country}-${dest.region}`] : undefined;
  return regional ?? rates[dest.country] ?? 0;
}

export function priceOrder(
  items: LineItemInput[], shippingOptionId: string | null, dest: Destination | null, m: MerchantPricing,
): PricedOrder {
  if (items.length < 1 || items.length > MAX_LINE_ITEMS) {
    throw new PricingError('parameter_invalid', `An order has 1 to ${MAX_LINE_ITEMS} line items`, 'items');
  }
  const skus = new Set<string>();
  for (const [i, it] of items.entries()) {
    if (skus.has(it.sku)) throw new PricingError('duplicate_sku', `sku ${it.sku} appears twice; use quantity`, `items.${i}.sku`);
    skus.add(it.sku);
    if (!Number.isInteger(it.quantity) || it.quantity < 1 || it.quantity > MAX_QUANTITY) {
      throw new PricingError('parameter_invalid', `quantity must be 1 to ${MAX_QUANTITY}`, `items.${i}.quantity`);
    }
    if (!Number.isSafeInteger(it.unitPriceMinor) || it.unitPriceMinor < 0) {
      throw new PricingError('parameter_invalid', 'unitPriceMinor must be a non-negative integer', `items.${i}.unitPriceMinor`);
    }
  }
  const hasHard = items.some((i) => i.kind === 'hard');
  let shippingMinor = 0;
  if (hasHard) {
    if (!shippingOptionId || !dest) throw new PricingError('shipping_required', 'Hard goods need a shipping option and address', 'shipping');
    const option = m.shippingOptions.find((o) => o.id === shippingOptionId);
    if (!option) throw new PricingError('unknown_shipping_option', `No shipping option '${shippingOptionId}'`, 'shipping.optionId');
    shippingMinor = option.priceMinor;
  } else if (shippingOptionId) {
    throw new PricingError('shipping_not_applicable', 'An order of soft goods only has no shipping', 'shipping');
  }
  const taxRateBps = dest ? taxRateFor(m.taxRatesBps, dest) : 0;
  const lines = items.map((it) => ({ ...it, unitTaxMinor: applyBps(it.unitPriceMinor, taxRateBps) }));
  const itemsMinor = lines.reduce((s, l) => s + l.unitPriceMinor * l.quantity, 0);
  const shippingTaxMinor = applyBps(shippingMinor, taxRateBps);
  const taxMinor = lines.reduce((s, l) => s + l.unitTaxMinor * l.quantity, 0) + shippingTaxMinor;
  const totalMinor = itemsMinor + shippingMinor + taxMinor;
  if (totalMinor > MAX_ORDER_TOTAL_MINOR) {
    throw new PricingError('amount_too_large', `An order's total may not exceed ${MAX_ORDER_TOTAL_MINOR} minor units`, 'items');
  }
  if (totalMinor < 1) throw new PricingError('amount_too_small', 'An order must total at least 1 minor unit', 'items');
  return { currency: m.currency, lines, shippingOptionId: hasHard ? shippingOptionId : null, shippingMinor, shippingTaxMinor,
    taxRateBps, itemsMinor, taxMinor, totalMinor };
}

/** The amount for some units of some lines: price plus their per-unit tax. */
export function unitsAmount(order: PricedOrder, units: Array<{ sku: string; quantity: number }>): number {
  return units.reduce((sum, u) => {
    const line = order.lines.find((l) => l.sku === u.sku)!;
    return sum + (line.unitPriceMinor + line.unitTaxMinor) * u.quantity;
  }, 0);
}

/** Level 2/3 purchase data for the card's issuer: one line of what a capture took. */
export interface CaptureLineItem {
  /** 1-26 characters: the product's code at the merchant (its sku, cut to 26). */
  productCode: string;
  /** 1-100 characters. */
  description: string;
  /** 1..10_000. */
  quantity: number;
  /** Each unit's amount, its tax included. */
  unitAmountMinor: number;
  /** The line's tax (included in its amount); default 0. */
  taxMinor?: number;
}

/**
 * The line items of a capture of these units of the order: each sku's units at their price with tax, and what the capture
 * takes beyond them (shipping and its tax) as one line of its own; they add up to the amount exactly. None when they
 * cannot (the amount is less than the units', or there are too many lines).
 */
export function captureLineItems(order: PricedOrder, units: Array<{ sku: string; quantity: number }>, amountMinor: number): CaptureLineItem[] | undefined {
  const lines: CaptureLineItem[] = units.filter((u) => u.quantity > 0).map((u) => {
    const line = order.lines.find((l) => l.sku === u.sku)!;
    return { productCode: u.sku.slice(0, 26), description: (line.description ?? line.sku).slice(0, 100), quantity: u.quantity,
      unitAmountMinor: line.unitPriceMinor + line.unitTaxMinor, taxMinor: line.unitTaxMinor * u.quantity };
  });
  const rest = amountMinor - lines.reduce((s, l) => s + l.quantity * l.unitAmountMinor, 0);
  if (rest < 0) return undefined;
  if (rest > 0) lines.push({ productCode: 'SHIPPING', description: 'Shipping and its tax', quantity: 1, unitAmountMinor: rest });
  return lines.length > 0 && lines.length <= MAX_LINE_ITEMS ? lines : undefined;
}
