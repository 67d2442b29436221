// Disputes (chargebacks) for merchants: the disputes of their captures, the evidence they draft and submit, accepting
// one, and answering a failed provisioning (re-provisioned with proof, or refunded at once); and the processor's signed
// webhooks that open and close disputes and tell of reservations its issuers ended.
import { z } from 'zod';
import {
  DISPUTE_REASONS, EVIDENCE_REFERENCE_FIELDS, EVIDENCE_TEXT_FIELDS, MAX_EVIDENCE_REFERENCE_CHARS, MAX_EVIDENCE_TEXT_CHARS, MAX_EVIDENCE_TOTAL_CHARS,
} from '../../domain/disputes';
import type { Services } from '../../services';
import type { DisputeRow } from '../../stores/disputes';
import type { Principal } from '../../stores/principals';
import { logRefusal, notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

const STATES = ['needs_response', 'under_review', 'won', 'lost', 'refunded'] as const;
const text = z.string().max(MAX_EVIDENCE_TEXT_CHARS);
const reference = z.string().max(MAX_EVIDENCE_REFERENCE_CHARS);
const evidenceFields = {
  ...Object.fromEntries(EVIDENCE_TEXT_FIELDS.map((f) => [f, text.optional()])) as Record<(typeof EVIDENCE_TEXT_FIELDS)[number], z.ZodOptional<typeof text>>,
  ...Object.fromEntries(EVIDENCE_REFERENCE_FIELDS.map((f) => [f, reference.optional()])) as Record<(typeof EVIDENCE_REFERENCE_FIELDS)[number], z.ZodOptional<typeof reference>>,
};
const evidenceSchema = z.object(evidenceFields).meta({ id: 'DisputeEvidence' });

const disputeSchema = z.object({
  id: z.string().meta({ description: "The processor's dispute id" }), object: z.literal('dispute'),
  merchantId: z.string().nullable().meta({ description: "The capture's merchant; null for a period charge's dispute (the broker's, answered by operators)" }),
  captureId: z.string().nullable(), orderId: z.string().nullable(), holdId: z.string().nullable(),
  chargeId: z.string().nullable().meta({ description: 'The period charge disputed (a buyer\'s invoice of micro-payments)' }),
  invoice: z.object({ periodSeq: z.number().int(), buyerId: z.string() }).nullable(),
  state: z.enum(STATES).meta({ description: 'needs_response (evidence or acceptance awaited), under_review (evidence submitted; the issuer '
    + 'decides), won (the amount returned; the fee kept), lost (the money stays with the customer), refunded (resolved by a refund; no fee)' }),
  resolution: z.enum(['decided', 'accepted', 'deadline', 'refunded']).nullable()
    .meta({ description: "How it closed: the issuer's decision, the merchant's acceptance, the deadline passed without evidence, a refund" }),
  reason: z.enum(DISPUTE_REASONS), amountMinor: z.number().int(),
  feeMinor: z.number().int().meta({ description: "The processor's dispute fee, withdrawn with the amount when it opened" }),
  feeChargedMinor: z.number().int().nullable().meta({ description: 'What was finally charged (0 when waived); null while open' }),
  currency: z.string(), evidenceDueBy: timestamp, evidenceSubmittedAt: nullableTimestamp,
  evidence: evidenceSchema.meta({ description: 'As drafted (and, once submitted, as submitted)' }),
  refundId: z.string().nullable(), closedAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'Dispute' });

export function disputeOperations(services: Services): { open: Operation[]; authenticated: Operation[] } {
  const { disputes, clock } = services;
  /** The dispute, if this principal may see it: a merchant its own, an operator any (a period charge's is the broker's). */
  const mine = async (id: string, principal: Principal) => {
    const row = await disputes.dispute(id);
    if (!row || (principal.kind !== 'operator' && row.merchantId !== principal.id)) throw notFound('dispute');
    return row;
  };
  /** A dispute as its workflow has it now (live), or as it last saved it (lists: one read for the page). */
  const shown = async (row: DisputeRow, live = true) => {
    const view = live ? await disputes.current(row) : row.view;
    return {
      id: row.id, object: 'dispute' as const, merchantId: row.merchantId, captureId: row.captureId, orderId: view?.orderId ?? null,
      holdId: view?.holdId ?? null, chargeId: row.chargeId, invoice: view?.invoice ?? null, state: view?.state ?? row.state, resolution: view?.resolution ?? null, reason: row.reason,
      amountMinor: row.amountMinor, feeMinor: row.feeMinor, feeChargedMinor: view?.feeChargedMinor ?? null, currency: row.currency,
      evidenceDueBy: row.evidenceDueBy.toISOString(), evidenceSubmittedAt: row.evidenceSubmittedAt?.toISOString() ?? null, evidence: row.evidence,
      refundId: view?.refundId ?? null, closedAt: view?.closedAt ?? null, createdAt: row.createdAt.toISOString(),
    };
  };
  const open: Operation[] = [
    operation({
      method: 'post', path: '/processor/webhooks', allow: 'public',
      summary: "The card processor's signed webhooks: disputes opened and closed, reservations its issuers ended (the processor calls it)",
      description: 'Signed with the shared secret (headers processor-webhook-id, -timestamp, -signature: v1=HMAC-SHA256 of "<timestamp>.<id>.<raw body>"); '
        + 'refused 401 when unsigned, forged or more than 5 minutes off. A repeated notice changes nothing (one dispute per processor dispute id); '
        + 'a dispute for a capture the broker does not know is recorded as a problem for an operator (outcome unknown_capture).',
      body: z.object({ id: z.string().max(128), type: z.string().max(64), data: z.record(z.string(), z.unknown()) }),
      responses: { 200: { description: 'Received', schema: z.object({ received: z.literal(true), outcome: z.string() }) } },
      async handler({ req, res }) {
        const raw = (req as { rawBody?: Buffer }).rawBody ?? Buffer.from(JSON.stringify(req.body));
        const out = await disputes.receive(req.headers, raw, clock()).catch(logRefusal(res, 'processor webhook'));
        res.json({ received: true, outcome: out.outcome });
      },
    }),
  ];
  const authenticated: Operation[] = [
    operation({
      method: 'get', path: '/disputes', allow: ['merchant', 'operator'], summary: "The merchant's disputes (an operator's: every dispute), newest first",
      query: z.strictObject({ ...pageQuery, state: z.enum(STATES).optional() }),
      responses: { 200: { description: 'OK', schema: pageOf(disputeSchema) } },
      async handler({ res, principal, query }) {
        const page = await disputes.list({ ...pageRequest(query), merchantId: principal.kind === 'operator' ? undefined : principal.id, state: query.state });
        res.json(pageAnswer({ data: await Promise.all(page.data.map((r) => shown(r, false))), hasMore: page.hasMore }, (d) => d));
      },
    }),
    operation({
      method: 'get', path: '/disputes/:id', allow: ['merchant', 'operator'], summary: 'A dispute (its merchant, operators)',
      responses: { 200: { description: 'OK', schema: disputeSchema } },
      async handler({ res, principal, params }) {
        res.json(await shown(await mine(params.id, principal)));
      },
    }),
    operation({
      method: 'post', path: '/disputes/:id/evidence', allow: ['merchant', 'operator'],
      body: z.strictObject({ ...evidenceFields, submit: z.boolean().default(false)
        .meta({ description: 'true: submit the evidence as drafted (then it can no longer change)' }) }),
      summary: 'Draft (and submit) evidence for a dispute',
      description: `Fields given replace the draft's ('' removes one); text fields take at most ${MAX_EVIDENCE_TEXT_CHARS} characters, references `
        + `(trackingNumber, shippingCarrier) ${MAX_EVIDENCE_REFERENCE_CHARS}, all together ${MAX_EVIDENCE_TOTAL_CHARS} (422 evidence_too_large). `
        + 'Editable until submitted and before evidenceDueBy: 409 dispute_not_open, 409 evidence_past_due.',
      responses: { 200: { description: 'The dispute with its evidence', schema: disputeSchema } },
      async handler({ res, principal, params, body }) {
        const { submit, ...change } = body;
        res.json(await shown(await disputes.evidence(await mine(params.id, principal), change, submit)));
      },
    }),
    operation({
      method: 'post', path: '/disputes/:id/accept', allow: ['merchant', 'operator'], summary: 'Accept a dispute: it is lost at once, the money stays with the customer',
      responses: { 200: { description: 'The closed dispute', schema: disputeSchema } },
      async handler({ res, principal, params }) {
        const row = await mine(params.id, principal);
        await disputes.accept(row);
        res.json(await shown(row));
      },
    }),
    operation({
      method: 'post', path: '/disputes/:id/reprovision', allow: ['merchant', 'operator'],
      body: z.strictObject({ deliveryProof: text.min(1), provisioningLog: text.optional() }),
      summary: 'A failed provisioning done again: the proof of delivery (and its log) become the evidence',
      description: 'Only for reason provisioning_failed (422 not_provisioning_failure); then submit it with POST /v1/disputes/:id/evidence {"submit": true}.',
      responses: { 200: { description: 'The dispute with its evidence', schema: disputeSchema } },
      async handler({ res, principal, params, body }) {
        res.json(await shown(await disputes.reprovisioned(await mine(params.id, principal), body)));
      },
    }),
    operation({
      method: 'post', path: '/disputes/:id/refund', allow: ['merchant', 'operator'],
      summary: 'A failed provisioning refunded at once: the customer gets the disputed amount back and the issuer closes the dispute with no fee',
      description: 'Only for reason provisioning_failed (422 not_provisioning_failure), while it needs a response.',
      responses: { 200: { description: 'The dispute with its refund', schema: disputeSchema } },
      async handler({ res, principal, params }) {
        const row = await mine(params.id, principal);
        await disputes.refund(row);
        res.json(await shown(row));
      },
    }),
  ];
  return { open, authenticated };
}
