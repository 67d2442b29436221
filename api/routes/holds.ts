// Fund holds for merchants: reserve an amount on a customer's debit or prepaid card with its issuer, capture part or
// all of it (once or several times), release the rest, or let it expire. A capture posts to the ledger like an order's.
import { z } from 'zod';
import { DEFAULT_HOLD_SECONDS, type HoldView, MAX_HOLD_AMOUNT_MINOR, MAX_HOLD_CAPTURES, MAX_HOLD_SECONDS, MIN_HOLD_SECONDS } from '../../domain/holds';
import type { Services } from '../../services';
import { assertCanSee } from '../auth';
import { notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { cardPayment, clientId, currency, nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

const STATES = ['placing', 'active', 'declined', 'failed', 'captured', 'released', 'expired'] as const;
const amount = z.number().int().min(1).max(MAX_HOLD_AMOUNT_MINOR);

const holdBody = z.strictObject({
  token: cardPayment.shape.token,
  amountMinor: amount.meta({ description: 'What to reserve, in minor units' }),
  currency: currency.optional().meta({ description: "Default the merchant's currency" }),
  expiresInSeconds: z.number().int().min(MIN_HOLD_SECONDS).max(MAX_HOLD_SECONDS).default(DEFAULT_HOLD_SECONDS)
    .meta({ description: `When the hold releases itself if not all captured: ${MIN_HOLD_SECONDS} s to 7 days, default 1 day` }),
  customerId: clientId.optional(),
  description: z.string().min(1).max(500).regex(/\S/, 'not only spaces').optional(),
});

const holdSchema = z.object({
  id: z.string(), object: z.literal('hold'), merchantId: z.string(), customerId: z.string().nullable(),
  state: z.enum(STATES).meta({ description: 'placing (the issuer deciding), active (capturable), declined (the balance or the card said no: '
    + 'failure.code, e.g. insufficient_funds), failed (the processor refused or could not be reached), captured (all of it), released '
    + '(the rest given back on request), expired (its time came, or the issuer ended it first: expiredEarly)' }),
  amountMinor: z.number().int(), currency: z.string(), capturedMinor: z.number().int(),
  releasedMinor: z.number().int().meta({ description: 'Given back to the customer when it was released or expired' }),
  reservationId: z.string().nullable().meta({ description: "The issuer's reservation (the processor's id)" }),
  expiresAt: nullableTimestamp.meta({ description: 'When the hold releases itself' }),
  captures: z.array(z.object({ id: z.string(), amountMinor: z.number().int(), feeMinor: z.number().int(), requestKey: z.string(), capturedAt: timestamp }))
    .meta({ description: "Each capture: the processor's capture id, the amount, the broker's fee, the Idempotency-Key it was asked under" }),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  expiredEarly: z.boolean().meta({ description: 'The issuer ended the reservation before the hold\'s own expiry' }),
  description: z.string().nullable(), endedAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'Hold' });

export function holdOperations(services: Services): Operation[] {
  const { holds } = services;
  const shown = (h: HoldView, createdAt: Date) => ({ ...h, object: 'hold' as const, createdAt: createdAt.toISOString() });
  const mine = async (id: string, principal: Parameters<typeof assertCanSee>[0]) => {
    const row = await holds.hold(id);
    if (!row) throw notFound('hold');
    assertCanSee(principal, row.merchantId, 'hold');
    return row;
  };
  return [
    operation({
      method: 'post', path: '/holds', allow: ['merchant'], idempotency: 'stored', body: holdBody,
      summary: "Reserve funds on a customer's card with its issuer",
      description: 'A debit or prepaid card\'s balance is checked first: a hold above it is declined (state declined, failure.code '
        + 'insufficient_funds) and nothing is reserved; on a credit card the issuer decides. Answered once the issuer has decided (or after '
        + 'a few seconds as placing: GET it again). Webhooks: hold.placed or hold.declined, then hold.captured per capture, hold.released '
        + 'or hold.expired. A repeat under the same Idempotency-Key answers the same hold.',
      responses: { 201: { description: 'Created (placed, or declined)', schema: holdSchema }, 200: { description: 'The existing hold', schema: holdSchema } },
      async handler({ req, res, principal, body }) {
        const { hold, created } = await holds.create(principal.id, req.get('idempotency-key')!, body);
        const row = await holds.hold(hold.id);
        res.status(created ? 201 : 200).json(shown(hold, row!.createdAt));
      },
    }),
    operation({
      method: 'get', path: '/holds', allow: ['merchant'], summary: "The merchant's holds, newest first",
      query: z.strictObject({ ...pageQuery, state: z.enum(STATES).optional() }),
      responses: { 200: { description: 'OK', schema: pageOf(holdSchema) } },
      async handler({ res, principal, query }) {
        const page = await holds.listRows({ ...pageRequest(query), merchantId: principal.id, state: query.state });
        res.json(pageAnswer(page, (r) => shown(r.view, r.createdAt)));
      },
    }),
    operation({
      method: 'get', path: '/holds/:id', allow: ['merchant', 'operator'], summary: 'A hold (its merchant, operators)',
      responses: { 200: { description: 'OK', schema: holdSchema } },
      async handler({ res, principal, params }) {
        const row = await mine(params.id, principal);
        res.json(shown(await holds.current(row), row.createdAt));
      },
    }),
    operation({
      method: 'post', path: '/holds/:id/capture', allow: ['merchant'], idempotency: 'stored',
      body: z.strictObject({ amountMinor: amount.optional().meta({ description: 'Default: all that is left' }) }), bodyRequired: false,
      summary: 'Capture part or all of what is left of an active hold',
      description: `Several captures may take a hold up to its amount (at most ${MAX_HOLD_CAPTURES}); each posts to the ledger like an order's `
        + 'capture. More than is left: 409 over_capture; a hold not active: 409 hold_not_active; a hold the issuer ended early: 409 '
        + 'reservation_ended (the hold is then expired, expiredEarly).',
      responses: { 200: { description: 'The hold with the capture', schema: holdSchema } },
      async handler({ req, res, principal, params, body }) {
        const row = await mine(params.id, principal);
        res.json(shown(await holds.capture(row, req.get('idempotency-key')!, body?.amountMinor), row.createdAt));
      },
    }),
    operation({
      method: 'post', path: '/holds/:id/release', allow: ['merchant'], idempotency: 'stored',
      summary: 'Give back what is left of an active hold',
      description: 'A released hold answers as it stands; one captured in full, declined or expired: 409 hold_not_active.',
      responses: { 200: { description: 'The released hold', schema: holdSchema } },
      async handler({ res, principal, params }) {
        const row = await mine(params.id, principal);
        res.json(shown(await holds.release(row), row.createdAt));
      },
    }),
  ];
}
