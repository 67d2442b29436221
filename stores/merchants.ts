// Merchants and their order settings (currency, broker fee, AVS policy, shipping options, tax rates, review
// timeout): written by operators, read by every new order.
import { type AvsPolicy, DEFAULT_AVS_POLICY } from '../domain/avs';
import type { ConfirmationPolicy } from '../domain/confirmation';
import type { PayoutSchedule } from '../domain/payouts';
import type { MerchantPricing, ShippingOption } from '../domain/pricing';
import type { Db } from '../ledger/db';
import { insertPrincipal } from './principals';
import { type Page, pageOf, type PageRequest } from './page';

/** What an operator may set on a merchant; unset fields keep their value (or the default). */
export interface MerchantSettings {
  currency?: string;
  feeBps?: number;
  avsPolicy?: Partial<AvsPolicy>;
  shippingOptions?: ShippingOption[];
  taxRatesBps?: Record<string, number>;
  reviewTimeoutSeconds?: number;
  /** Where payouts go (the processor's destination id); null: none yet (payouts fail until there is one). */
  payoutDestination?: string | null;
  payoutSchedule?: Partial<PayoutSchedule>;
  payoutMinimumMinor?: number;
  reserveBps?: number;
  reserveDays?: number;
  /** Hundredths of a star, 0 to 500 (bid rounds' tie-break). */
  rating?: number;
  /** The sender id the merchant's offers come from (unique among merchants); null: the broker's. */
  smsSenderId?: string | null;
  /** Which orders must be confirmed by their customer by message. */
  confirmationPolicy?: Partial<ConfirmationPolicy>;
  /** Captures carry the order's line items to the card's issuer (a lower processor fee). */
  shareLineItems?: boolean;
}

export interface MerchantConfig extends MerchantPricing {
  id: string;
  name: string;
  feeBps: number;
  avsPolicy: AvsPolicy;
  reviewTimeoutSeconds: number;
  payoutDestination: string | null;
  payoutSchedule: PayoutSchedule;
  payoutMinimumMinor: number;
  reserveBps: number;
  reserveDays: number;
  rating: number;
  smsSenderId: string | null;
  confirmationPolicy: ConfirmationPolicy;
  shareLineItems: boolean;
  createdAt: Date;
}

/** The merchants row's columns for the settings given. */
export function settingsColumns(s: MerchantSettings): Record<string, unknown> {
  const cols: Record<string, unknown> = {};
  if (s.currency !== undefined) cols.currency = s.currency;
  if (s.feeBps !== undefined) cols.fee_bps = s.feeBps;
  if (s.avsPolicy !== undefined) cols.avs_policy = JSON.stringify(s.avsPolicy);
  if (s.shippingOptions !== undefined) cols.shipping_options = JSON.stringify(s.shippingOptions);
  if (s.taxRatesBps !== undefined) cols.tax_rates_bps = JSON.stringify(s.taxRatesBps);
  if (s.reviewTimeoutSeconds !== undefined) cols.review_timeout_seconds = s.reviewTimeoutSeconds;
  if (s.payoutDestination !== undefined) cols.payout_destination = s.payoutDestination;
  if (s.payoutSchedule?.interval !== undefined) cols.payout_interval = s.payoutSchedule.interval;
  if (s.payoutSchedule?.weeklyAnchor !== undefined) cols.payout_weekly_anchor = s.payoutSchedule.weeklyAnchor;
  if (s.payoutMinimumMinor !== undefined) cols.payout_minimum_minor = s.payoutMinimumMinor;
  if (s.reserveBps !== undefined) cols.reserve_bps = s.reserveBps;
  if (s.reserveDays !== undefined) cols.reserve_days = s.reserveDays;
  if (s.rating !== undefined) cols.rating = s.rating;
  if (s.smsSenderId !== undefined) cols.sms_sender_id = s.smsSenderId;
  if (s.confirmationPolicy?.aboveMinor !== undefined) cols.confirm_above_minor = s.confirmationPolicy.aboveMinor;
  if (s.confirmationPolicy?.firstOrders !== undefined) cols.confirm_first_orders = s.confirmationPolicy.firstOrders;
  if (s.shareLineItems !== undefined) cols.share_line_items = s.shareLineItems;
  return cols;
}

const merchantOf = (r: Record<string, any>): MerchantConfig => ({
  id: r.id, name: r.name, currency: r.currency, feeBps: r.fee_bps, avsPolicy: { ...DEFAULT_AVS_POLICY, ...r.avs_policy },
  shippingOptions: r.shipping_options, taxRatesBps: r.tax_rates_bps, reviewTimeoutSeconds: r.review_timeout_seconds,
  payoutDestination: r.payout_destination, payoutSchedule: { interval: r.payout_interval, weeklyAnchor: r.payout_weekly_anchor },
  payoutMinimumMinor: Number(r.payout_minimum_minor), reserveBps: r.reserve_bps, reserveDays: r.reserve_days, rating: r.rating,
  smsSenderId: r.sms_sender_id ?? null,
  confirmationPolicy: { aboveMinor: r.confirm_above_minor === null ? null : Number(r.confirm_above_minor), firstOrders: r.confirm_first_orders },
  shareLineItems: r.share_line_items,
  createdAt: r.created_at,
});

/** Another merchant has booked the sender id. */
export class SenderIdTakenError extends Error {
  constructor(readonly senderId: string) {
    super(`Sender id ${senderId} is another merchant's`);
    this.name = 'SenderIdTakenError';
  }
}

/** A unique sender id is the database's to decide: its refusal becomes SenderIdTakenError. */
function senderIdClash(settings: MerchantSettings) {
  return (err: unknown): never => {
    if ((err as { constraint?: string }).constraint === 'merchants_sms_sender_id_key') throw new SenderIdTakenError(settings.smsSenderId!);
    throw err;
  };
}

export class MerchantStore {
  constructor(private readonly db: Db) {}

  /** A merchant with its first API key (inside `trx` when given, for rows that belong with it). */
  async create(name: string, settings: MerchantSettings = {}, trx?: Db): Promise<{ merchant: MerchantConfig; apiKey: string }> {
    const write = async (t: Db) => {
      const { principal, apiKey } = await insertPrincipal(t, 'merchant', name);
      const [row] = await t('merchants').insert({ id: principal.id, name, ...settingsColumns(settings) }).returning('*');
      return { merchant: merchantOf(row), apiKey };
    };
    return (trx ? write(trx) : this.db.transaction(write)).catch(senderIdClash(settings));
  }

  /** A page of merchants, newest first (operators). */
  async list(req: PageRequest): Promise<Page<MerchantConfig>> {
    return pageOf(() => this.db('merchants'), req, merchantOf);
  }

  async get(id: string): Promise<MerchantConfig | undefined> {
    const r = await this.db('merchants').where({ id }).first();
    return r && merchantOf(r);
  }

  /** Changes the name and settings given; undefined when there is no such merchant. */
  update(id: string, change: MerchantSettings & { name?: string }): Promise<MerchantConfig | undefined> {
    return this.db.transaction(async (trx) => {
      const { name, ...settings } = change;
      const cols = settingsColumns(settings);
      if (name !== undefined) {
        cols.name = name;
        await trx('principals').where({ id, kind: 'merchant' }).update({ name });
      }
      const [row] = Object.keys(cols).length
        ? await trx('merchants').where({ id }).update(cols).returning('*')
        : [await trx('merchants').where({ id }).first()];
      return row && merchantOf(row);
    }).catch(senderIdClash(change));
  }
}
