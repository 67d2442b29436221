// Merchants' order settings: what POST /v1/merchants accepts beside the name, and how an order reads them.
import { z } from 'zod';
import { AVS_CODES, type AvsPolicy, DEFAULT_AVS_POLICY } from '../domain/avs';
import type { MerchantPricing } from '../domain/pricing';
import type { Db } from '../ledger/db';

export const MAX_SHIPPING_OPTIONS = 20;
export const MAX_TAX_RATES = 500;

const code = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
export const merchantSettingsSchema = {
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
  feeBps: z.number().int().min(0).max(5000).optional(),
  avsPolicy: z.partialRecord(z.enum(AVS_CODES), z.enum(['accept', 'review', 'reject'])).optional(),
  shippingOptions: z.array(z.strictObject({ id: code, label: z.string().min(1).max(100), priceMinor: z.number().int().min(0).max(10_000_000) }))
    .max(MAX_SHIPPING_OPTIONS).optional()
    .refine((opts) => !opts || new Set(opts.map((o) => o.id)).size === opts.length, 'shipping option ids must be unique'),
  taxRatesBps: z.record(z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/), z.number().int().min(0).max(5000)).optional()
    .refine((r) => !r || Object.keys(r).length <= MAX_TAX_RATES, `at most ${MAX_TAX_RATES} tax rates`),
  reviewTimeoutSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
};

const settingsObject = z.object(merchantSettingsSchema);
export type MerchantSettings = z.infer<typeof settingsObject>;

export interface MerchantConfig extends MerchantPricing {
  id: string;
  name: string;
  feeBps: number;
  avsPolicy: AvsPolicy;
  reviewTimeoutSeconds: number;
  createdAt: Date;
}

export function settingsColumns(s: MerchantSettings): Record<string, unknown> {
  const cols: Record<string, unknown> = {};
  if (s.currency !== undefined) cols.currency = s.currency;
  if (s.feeBps !== undefined) cols.fee_bps = s.feeBps;
  if (s.avsPolicy !== undefined) cols.avs_policy = JSON.stringify(s.avsPolicy);
  if (s.shippingOptions !== undefined) cols.shipping_options = JSON.stringify(s.shippingOptions);
  if (s.taxRatesBps !== undefined) cols.tax_rates_bps = JSON.stringify(s.taxRatesBps);
  if (s.reviewTimeoutSeconds !== undefined) cols.review_timeout_seconds = s.reviewTimeoutSeconds;
  return cols;
}

export async function getMerchant(db: Db, id: string): Promise<MerchantConfig | undefined> {
  const r = await db('merchants').where({ id }).first();
  if (!r) return undefined;
  return {
    id: r.id, name: r.name, currency: r.currency, feeBps: r.fee_bps, avsPolicy: { ...DEFAULT_AVS_POLICY, ...r.avs_policy },
    shippingOptions: r.shipping_options, taxRatesBps: r.tax_rates_bps, reviewTimeoutSeconds: r.review_timeout_seconds,
    createdAt: r.created_at,
  };
}

export function merchantView(m: MerchantConfig) {
  return {
    id: m.id, object: 'merchant', name: m.name, currency: m.currency, feeBps: m.feeBps, avsPolicy: m.avsPolicy,
    shippingOptions: m.shippingOptions, taxRatesBps: m.taxRatesBps, reviewTimeoutSeconds: m.reviewTimeoutSeconds,
    createdAt: m.createdAt.toISOString(),
  };
}
