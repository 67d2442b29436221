// The zod schemas the API shares between operations: ids and codes, the shapes of its objects, lists and errors.
// Request schemas are strict (unknown fields are refused); response schemas describe exactly what is sent, and the
// OpenAPI document is generated from both (api/openapi.ts). Objects with an `id` in their metadata become named
// components of the document.
import { z } from 'zod';

/** The patterns of ids and codes, for the schemas below and for checks that skip zod on hot paths. */
export const PATTERNS = {
  currency: /^[A-Z]{3}$/, itemId: /^[A-Za-z0-9_.-]{1,100}$/, ruleSetToken: /^rst_[A-Za-z0-9_-]{43}$/, partyId: /^[A-Za-z0-9_-]{1,100}$/,
  clientId: /^[A-Za-z0-9_-]{1,64}$/,
} as const;

export const name = z.string().trim().min(1).max(200);
export const currency = z.string().regex(PATTERNS.currency, 'an ISO 4217 code such as USD');
export const partyId = z.string().regex(PATTERNS.partyId, 'letters, digits, _ and -, at most 100');
export const clientId = z.string().regex(PATTERNS.clientId, 'letters, digits, _ and -, at most 64');
export const category = z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lower-case letters, digits, _ and -, at most 40');
export const itemId = z.string().regex(PATTERNS.itemId, 'letters, digits, _ . and -, at most 100');
export const ruleSetToken = z.string().regex(PATTERNS.ruleSetToken, 'a rule-set token (rst_...)');
export const postalCode = z.string().regex(/^[A-Za-z0-9 -]{2,12}$/);
export const country = z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166 alpha-2 code such as US');
export const region = z.string().regex(/^[A-Z0-9]{1,3}$/);
/** A shipping address. */
export const address = z.strictObject({
  name: z.string().max(200).optional(),
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  region: region.optional(),
  postalCode,
  country,
});
/** A card as the processor tokenized it, and the postal code AVS checks. */
export const cardPayment = z.strictObject({
  token: z.string().regex(/^tok_[A-Za-z0-9_-]{1,100}$/).meta({ description: "The processor's card token" }),
  billingPostalCode: postalCode.meta({ description: 'Checked by AVS' }),
});
export const isoTime = z.iso.datetime({ offset: true });
/** An integer amount in minor units, as JSON numbers carry them exactly. */
export const minor = z.number().int();
/** A timestamp as the API writes it (ISO 8601, UTC). */
export const timestamp = z.string().meta({ format: 'date-time' });
export const nullableTimestamp = timestamp.nullable();

/** A page of objects: { object: 'list', data }. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ object: z.literal('list'), data: z.array(item) });

/** The most objects one page of a paged list holds. */
export const MAX_PAGE = 100;
/** The query of every paged list (Stripe's names): its page size, a cursor, a created range. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(10),
  starting_after: z.string().min(1).max(200).optional().meta({ description: "An object's id: the page after it" }),
  ending_before: z.string().min(1).max(200).optional().meta({ description: "An object's id: the page before it (not with starting_after)" }),
  created_gte: isoTime.optional().meta({ description: 'Only objects created at or after this time' }),
  created_lte: isoTime.optional().meta({ description: 'Only objects created at or before this time' }),
};
/** A paged list's answer: { object: 'list', data, has_more }. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean().meta({ description: 'Whether more objects follow this page' }) });

export const errorBody = z.object({
  error: z.object({
    type: z.string(),
    code: z.string().meta({ description: 'Machine-readable; act on this' }),
    message: z.string(),
    param: z.string().nullable(),
  }),
}).meta({ id: 'Error' });

export const principalView = z.object({
  id: z.string(), object: z.enum(['merchant', 'buyer_app', 'operator', 'buyer']), name: z.string(), createdAt: timestamp.optional(),
}).meta({ id: 'Principal' });

/** A response field that holds a secret shown once: null when the response is an idempotent replay. */
export const shownOnce = (description: string) => z.string().nullable().meta({ description: `${description}, shown once; null on an idempotent replay` });

export const probe = z.object({ ok: z.boolean(), latencyMs: z.number().int(), error: z.string().optional() }).meta({ id: 'Probe' });
