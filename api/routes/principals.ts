// Merchants (with their order settings) and buyer apps, made by operators with a first API key each; and "who am I".
import { z } from 'zod';
import { AVS_CODES } from '../../domain/avs';
import { SENDER_ID } from '../../domain/confirmation';
import { MAX_RATING } from '../../domain/bids';
import { PAYOUT_INTERVALS } from '../../domain/payouts';
import { type MerchantConfig, SenderIdTakenError } from '../../stores/merchants';
import type { Stores } from '../../stores';
import { assertCanSee } from '../auth';
import { conflict, notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { listOperation } from '../paging';
import { currency, name, principalView, shownOnce, timestamp } from '../schemas';

export const MAX_SHIPPING_OPTIONS = 20;
export const MAX_TAX_RATES = 500;

const code = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const avsDecision = z.enum(['accept', 'review', 'reject']);
const shippingOption = z.strictObject({ id: code, label: z.string().min(1).max(100), priceMinor: z.number().int().min(0).max(10_000_000) });
const taxRegion = z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/);
export const merchantSettings = {
  currency: currency.optional(),
  feeBps: z.number().int().min(0).max(5000).optional().meta({ description: "The broker's fee on every capture, in basis points" }),
  avsPolicy: z.partialRecord(z.enum(AVS_CODES), avsDecision).optional()
    .meta({ description: 'AVS code (Y A Z N U S R) → accept | review | reject; unnamed codes keep the default' }),
  shippingOptions: z.array(shippingOption).max(MAX_SHIPPING_OPTIONS).optional()
    .refine((opts) => !opts || new Set(opts.map((o) => o.id)).size === opts.length,
      { message: 'shipping option ids must be unique', params: { code: 'shipping_option_ids_not_unique' } })
    .meta({ description: 'The shipping options orders choose from (ids unique)' }),
  taxRatesBps: z.record(taxRegion, z.number().int().min(0).max(5000)).optional()
    .refine((r) => !r || Object.keys(r).length <= MAX_TAX_RATES, `at most ${MAX_TAX_RATES} tax rates`)
    .meta({ description: `"US-CA" (country-region, wins) or "DE" (country) → basis points`, maxProperties: MAX_TAX_RATES }),
  reviewTimeoutSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional()
    .meta({ description: 'How long an operator has to decide an AVS review; undecided orders are voided' }),
  payoutDestination: z.string().min(1).max(200).nullable().optional()
    .meta({ description: "Where payouts go: the processor's destination id (null: none; payouts fail until one is set)" }),
  payoutSchedule: z.strictObject({
    interval: z.enum(PAYOUT_INTERVALS).optional().meta({ description: 'daily (default), weekly, or manual (POST /v1/payouts only)' }),
    weeklyAnchor: z.number().int().min(0).max(6).optional().meta({ description: 'Weekday of a weekly payout, 0 Sunday … 6 Saturday (UTC); default 1' }),
  }).optional(),
  payoutMinimumMinor: z.number().int().min(0).max(1_000_000_000_000).optional()
    .meta({ description: 'A payout below this is not sent; its amount is carried into the next one' }),
  reserveBps: z.number().int().min(0).max(10_000).optional()
    .meta({ description: 'Rolling reserve: held back from each payout\'s net sales, in basis points' }),
  reserveDays: z.number().int().min(0).max(365).optional()
    .meta({ description: 'How many days a reserve is held before a payout releases it (0: no reserve)' }),
  rating: z.number().int().min(0).max(MAX_RATING).optional()
    .meta({ description: 'Hundredths of a star (0 to 5 stars): in bid rounds, a better rating wins a tie of price and delivery' }),
  smsSenderId: z.string().regex(SENDER_ID, 'alphanumeric, 1 to 11 characters with a letter among them, or an E.164 number').nullable().optional()
    .meta({ description: "The sender id the merchant's confirmation offers come from, unique among merchants (null: the broker's, PAYBROKER)" }),
  confirmationPolicy: z.strictObject({
    aboveMinor: z.number().int().min(0).max(1_000_000_000_000).nullable().optional()
      .meta({ description: 'Orders above this total must be confirmed by their customer by message (null: no threshold)' }),
    firstOrders: z.boolean().optional().meta({ description: "A customer's first order with the merchant must be confirmed by message" }),
  }).optional().meta({ description: 'Which orders must carry a confirmation phone (else they are refused with confirmation_required)' }),
  shareLineItems: z.boolean().optional()
    .meta({ description: "Captures carry the order's line items to the card's issuer (level 2/3 data), for a lower processor fee; default false" }),
};

export const merchantSchema = z.object({
  id: z.string(), object: z.literal('merchant'), name: z.string(), currency: z.string(), feeBps: z.number().int(),
  avsPolicy: z.record(z.enum(AVS_CODES), avsDecision), shippingOptions: z.array(z.object(shippingOption.shape)),
  taxRatesBps: z.record(z.string(), z.number().int()), reviewTimeoutSeconds: z.number().int(),
  payoutDestination: z.string().nullable(), payoutSchedule: z.object({ interval: z.enum(PAYOUT_INTERVALS), weeklyAnchor: z.number().int() }),
  payoutMinimumMinor: z.number().int(), reserveBps: z.number().int(), reserveDays: z.number().int(), rating: z.number().int(),
  smsSenderId: z.string().nullable(), confirmationPolicy: z.object({ aboveMinor: z.number().int().nullable(), firstOrders: z.boolean() }),
  shareLineItems: z.boolean(), createdAt: timestamp,
}).meta({ id: 'Merchant' });

export const merchantView = (m: MerchantConfig): z.infer<typeof merchantSchema> => ({
  id: m.id, object: 'merchant', name: m.name, currency: m.currency, feeBps: m.feeBps, avsPolicy: m.avsPolicy,
  shippingOptions: m.shippingOptions, taxRatesBps: m.taxRatesBps, reviewTimeoutSeconds: m.reviewTimeoutSeconds,
  payoutDestination: m.payoutDestination, payoutSchedule: m.payoutSchedule, payoutMinimumMinor: m.payoutMinimumMinor,
  reserveBps: m.reserveBps, reserveDays: m.reserveDays, rating: m.rating,
  smsSenderId: m.smsSenderId, confirmationPolicy: m.confirmationPolicy, shareLineItems: m.shareLineItems, createdAt: m.createdAt.toISOString(),
});

const senderTaken = (err: unknown): never => {
  if (err instanceof SenderIdTakenError) throw conflict('sms_sender_id_taken', err.message, 'smsSenderId');
  throw err;
};

const view = (p: { id: string; kind: z.infer<typeof principalView>['object']; name: string; createdAt?: Date }) =>
  ({ id: p.id, object: p.kind, name: p.name, createdAt: p.createdAt?.toISOString() });

export function principalOperations(stores: Stores): Operation[] {
  const { principals, merchants } = stores;
  return [
    operation({
      method: 'post', path: '/merchants', summary: 'Create a merchant with its order settings and first API key (operator)',
      allow: ['operator'], idempotency: 'stored',
      body: z.strictObject({ name, ...merchantSettings }),
      responses: { 201: { description: 'Created', schema: z.object({ ...merchantSchema.shape, apiKey: shownOnce('The new API key') }) } },
      async handler({ res, body: { name: merchantName, ...settings } }) {
        const { merchant, apiKey } = await merchants.create(merchantName, settings).catch(senderTaken);
        res.locals.redactFields = ['apiKey'];
        res.status(201).json({ ...merchantView(merchant), apiKey });
      },
    }),
    listOperation({ path: '/merchants', summary: 'Merchants, newest first, a page at a time (operator)', allow: ['operator'],
      schema: merchantSchema, list: (req) => merchants.list(req), view: merchantView }),
    operation({
      method: 'get', path: '/merchants/:id', summary: 'A merchant (operators: any; a merchant: itself)', allow: 'any',
      responses: { 200: { description: 'OK', schema: merchantSchema } },
      async handler({ res, principal, params }) {
        const m = await merchants.get(params.id);
        assertCanSee(principal, m?.id, 'merchant');
        res.json(merchantView(m));
      },
    }),
    operation({
      method: 'patch', path: '/merchants/:id', allow: ['operator'],
      summary: "Change a merchant's name or order settings (operator); running orders keep the settings they started with",
      body: z.strictObject({ name: name.optional(), ...merchantSettings }),
      responses: { 200: { description: 'OK', schema: merchantSchema } },
      async handler({ res, params, body }) {
        const old = await merchants.get(params.id);
        if (!old) throw notFound('merchant');
        res.locals.auditBefore = merchantView(old);
        const m = await merchants.update(params.id, body).catch(senderTaken);
        if (!m) throw notFound('merchant');
        res.json(merchantView(m));
      },
    }),
    operation({
      method: 'post', path: '/buyer-apps', summary: 'Create a buyer app and its first API key (operator)',
      allow: ['operator'], idempotency: 'stored', body: z.strictObject({ name }),
      responses: { 201: { description: 'Created', schema: z.object({ ...principalView.shape, apiKey: shownOnce('The new API key') }) } },
      async handler({ res, body }) {
        const { principal, apiKey } = await principals.create('buyer_app', body.name);
        res.locals.redactFields = ['apiKey'];
        res.status(201).json({ ...view((await principals.get(principal.id))!), apiKey });
      },
    }),
    operation({
      method: 'get', path: '/buyer-apps/:id', summary: 'A buyer app (operators: any; the app: itself)', allow: 'any',
      responses: { 200: { description: 'OK', schema: principalView } },
      async handler({ res, principal, params }) {
        const p = await principals.get(params.id);
        assertCanSee(principal, p?.kind === 'buyer_app' ? p.id : undefined, 'buyer app');
        res.json(view(p!));
      },
    }),
    operation({
      method: 'get', path: '/me', summary: 'The principal of the API key', allow: 'any',
      responses: { 200: { description: 'OK', schema: principalView } },
      async handler({ res, principal }) {
        res.json(view(principal));
      },
    }),
  ];
}
