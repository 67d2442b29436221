// Disputes (chargebacks) on captures and on charge lines, as the processor runs them for the issuer, and what the
// merchant tells the issuer about a capture (a provisioning failure, a loyalty reward). Same short transactions, helpers
// and refusals as processor.ts.
//
// A dispute is opened on a capture (of an authorization or a reservation) by the admin API, or right after each
// capture on a card that disputes them (cards.ts); or on a succeeded charge line of a batch file, by the admin API
// only. At most one of a capture, or of a charge, is open at once (409 dispute_exists). It asks for evidence by
// evidence_due_by (needs_response). Evidence puts it under review until decide_at, when the pump decides it: its
// planned outcome if the admin set one, else lost when any evidence field contains LOSING_EVIDENCE, else won.
// Accepted, or left unanswered past its due date, it is lost. A refund of the capture covering the disputed amount
// resolves an open provisioning_failed dispute of a capture as 'refunded', with no fee (a charge has no refunds).
// Opening and closing queue dispute.created and dispute.closed (events.ts) to the endpoint of the process that opened
// it; the dispute object names its capture (captureId) or its charge (chargeId), the other null.
import type { Knex } from 'knex';
import type { DisputeEvidence, DisputeReason } from '../client';
import { conflict, type EffectName, type IssuerContext, iso, newId, notFound, num, type Outcome, type Row, T } from './common';
import { queueEvents } from './events';

/** Evidence containing this text (in any field) loses, unless the dispute's outcome was planned. */
export const LOSING_EVIDENCE = 'losing_evidence';
export const MAX_EVIDENCE_FIELD_CHARS = 20_000;
/** Largest body of POST /v1/disputes/:id/evidence (413 body_too_large past it). */
export const MAX_EVIDENCE_BODY_BYTES = 64 * 1024;
export const DEFAULT_DISPUTE_FEE_MINOR = 1500;
export const DEFAULT_DISPUTE_EVIDENCE_SECONDS = 7 * 24 * 3600;
export const DEFAULT_DISPUTE_DECISION_DELAY_MS = 3000;
/** Disputes decided per pump tick. */
export const DECISION_BATCH = 200;

const OPEN = ['needs_response', 'under_review'];

export function disputeView(r: Row) {
  return {
    object: 'dispute', id: r.id, captureId: r.capture_id ?? null, chargeId: r.charge_id ?? null, amountMinor: num(r.amount_minor), currency: r.currency,
    feeMinor: num(r.fee_minor), reason: r.reason, status: r.status, evidenceDueBy: iso(r.evidence_due_by),
    evidence: r.evidence ?? undefined, evidenceSubmittedAt: iso(r.evidence_submitted_at), closedAt: iso(r.closed_at),
    createdAt: iso(r.created_at),
  };
}

export interface OpenDispute {
  reason: DisputeReason;
  /** Default: what is left of the capture after its refunds, or the whole charge. */
  amountMinor?: number;
  /** Default: the process's disputeEvidenceSeconds. */
  evidenceSeconds?: number;
  outcome?: 'won' | 'lost';
}

/** What a dispute belongs to: exactly one of a capture or a succeeded charge line (disputes_of_one_check). */
type DisputedRecord = { capture_id: string } | { charge_id: string };

/** 409 dispute_exists when the capture or charge (locked by the caller) has an open dispute. */
async function refuseSecondOpen(trx: Knex.Transaction, of: DisputedRecord, what: string): Promise<void> {
  const open = await trx(T('disputes')).where(of).whereIn('status', OPEN).first('id');
  if (open) throw conflict('dispute_exists', `${what} already has an open dispute: ${open.id}`);
}

/** The dispute of amountMinor (of the capture or charge, checked by the caller), and its dispute.created. */
async function insertDispute(trx: Knex.Transaction, of: DisputedRecord, amountMinor: bigint, currency: string, d: OpenDispute,
  ctx: IssuerContext): Promise<Row> {
  const [row] = await trx(T('disputes')).insert({
    id: newId('dp'), ...of, amount_minor: amountMinor.toString(), currency, reason: d.reason,
    fee_minor: ctx.disputeFeeMinor, status: 'needs_response', planned_outcome: d.outcome ?? null, webhook_url: ctx.webhookUrl,
    evidence_due_by: trx.raw('clock_timestamp() + make_interval(secs => ?)', [d.evidenceSeconds ?? ctx.disputeEvidenceSeconds]),
  }).returning('*');
  await queueEvents(trx, 'dispute.created', [{ object: disputeView(row), url: row.webhook_url }]);
  return row;
}

/** Opens a dispute on a capture (locked), and queues dispute.created. 409 dispute_exists, over_dispute, capture_refunded. */
export async function openDispute(trx: Knex.Transaction, captureId: string, d: OpenDispute, ctx: IssuerContext): Promise<Row> {
  const cap = await trx(T('captures')).where({ id: captureId }).forUpdate().first();
  if (!cap) throw notFound('capture', captureId);
  await refuseSecondOpen(trx, { capture_id: cap.id }, `Capture ${cap.id}`);
  const left = BigInt(cap.amount_minor) - BigInt(cap.refunded_minor);
  if (left <= 0n) throw conflict('capture_refunded', `Capture ${cap.id} is refunded in full: nothing to dispute`);
  const amount = d.amountMinor === undefined ? left : BigInt(d.amountMinor);
  if (amount > left) throw conflict('over_dispute', `Disputing ${amount} exceeds the ${left} left on capture ${cap.id} after its refunds`);
  return insertDispute(trx, { capture_id: cap.id }, amount, cap.currency, d, ctx);
}

/**
 * Opens a dispute on a succeeded charge line of a batch file (locked), and queues dispute.created: of the charge's
 * amount by default, never more. 404 for an unknown id (a failed line has none); 409 dispute_exists, over_dispute.
 */
export async function openChargeDispute(trx: Knex.Transaction, chargeId: string, d: OpenDispute, ctx: IssuerContext): Promise<Row> {
  const ch = await trx(T('charges')).where({ id: chargeId, status: 'succeeded' }).forUpdate().first();
  if (!ch) throw notFound('charge', chargeId);
  await refuseSecondOpen(trx, { charge_id: ch.id }, `Charge ${ch.id}`);
  const whole = BigInt(ch.amount_minor);
  const amount = d.amountMinor === undefined ? whole : BigInt(d.amountMinor);
  if (amount > whole) throw conflict('over_dispute', `Disputing ${amount} exceeds the ${whole} of charge ${ch.id}`);
  return insertDispute(trx, { charge_id: ch.id }, amount, ch.currency, d, ctx);
}

/** The dispute a capture on this card brings at once (a test card that disputes its captures), or none. */
export async function disputeIfTheCardDoes(trx: Knex.Transaction, captureId: string, token: string, ctx: IssuerContext): Promise<EffectName[]> {
  const card = await trx(T('card_tokens')).where({ token }).first('dispute_reason');
  if (!card?.dispute_reason) return [];
  await openDispute(trx, captureId, { reason: card.dispute_reason as DisputeReason }, ctx);
  return ['disputes', 'webhookEvents'];
}

async function closeDispute(trx: Knex.Transaction, d: Row, status: 'won' | 'lost' | 'refunded'): Promise<Row> {
  const [row] = await trx(T('disputes')).where({ id: d.id })
    .update({ status, closed_at: trx.raw('clock_timestamp()'), ...(status === 'refunded' ? { fee_minor: 0 } : {}) }).returning('*');
  await queueEvents(trx, 'dispute.closed', [{ object: disputeView(row), url: row.webhook_url }]);
  return row;
}

async function lockDispute(trx: Knex.Transaction, id: string): Promise<Row> {
  const row = await trx(T('disputes')).where({ id }).forUpdate()
    .first('*', trx.raw('(evidence_due_by <= clock_timestamp()) AS past_due'));
  if (!row) throw notFound('dispute', id);
  return row;
}

/**
 * The merchant's evidence, once: the dispute goes under review, to be decided disputeDecisionDelayMs from now.
 * 409 evidence_already_submitted, evidence_past_due (after evidence_due_by), dispute_closed.
 */
export async function submitEvidence(trx: Knex.Transaction, id: string, evidence: DisputeEvidence, ctx: IssuerContext): Promise<Outcome> {
  const d = await lockDispute(trx, id);
  if (d.evidence_submitted_at) throw conflict('evidence_already_submitted', `Evidence for dispute ${id} was submitted at ${iso(d.evidence_submitted_at)}`);
  if (d.past_due) throw conflict('evidence_past_due', `Evidence for dispute ${id} was due by ${iso(d.evidence_due_by)}`);
  if (d.status !== 'needs_response') throw conflict('dispute_closed', `Dispute ${id} is closed (${d.status})`);
  const [row] = await trx(T('disputes')).where({ id }).update({
    status: 'under_review', evidence: JSON.stringify(evidence), evidence_submitted_at: trx.raw('clock_timestamp()'),
    decide_at: trx.raw('clock_timestamp() + make_interval(secs => ?)', [ctx.disputeDecisionDelayMs / 1000]),
  }).returning('*');
  return { status: 200, body: disputeView(row), effects: ['disputeEvidence'] };
}

/** The merchant does not contest: lost at once. 409 evidence_already_submitted (under review), dispute_closed. */
export async function acceptDispute(trx: Knex.Transaction, id: string): Promise<Outcome> {
  const d = await lockDispute(trx, id);
  if (d.status === 'under_review') throw conflict('evidence_already_submitted', `Dispute ${id} is under review; it can no longer be accepted`);
  if (d.status !== 'needs_response') throw conflict('dispute_closed', `Dispute ${id} is closed (${d.status})`);
  const row = await closeDispute(trx, d, 'lost');
  return { status: 200, body: disputeView(row), effects: ['closedDisputes', 'webhookEvents'] };
}

/** The issuer's decision on evidence: the planned outcome, else lost when a field contains LOSING_EVIDENCE, else won. */
export function decisionOn(planned: 'won' | 'lost' | null, evidence: DisputeEvidence | null): 'won' | 'lost' {
  if (planned) return planned;
  return Object.values(evidence ?? {}).some((v) => typeof v === 'string' && v.includes(LOSING_EVIDENCE)) ? 'lost' : 'won';
}

/**
 * The pump's decisions: disputes under review past decide_at (decisionOn), and disputes left unanswered past their
 * evidence_due_by (lost), at most limit, each closed with dispute.closed. Rows another process holds are skipped.
 */
export async function decideDueDisputes(db: Knex, limit = DECISION_BATCH): Promise<EffectName[]> {
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw(`SELECT * FROM ${T('disputes')}
      WHERE (status = 'under_review' AND decide_at <= clock_timestamp()) OR (status = 'needs_response' AND evidence_due_by <= clock_timestamp())
      ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, [limit]) as { rows: Row[] };
    for (const d of rows) await closeDispute(trx, d, d.status === 'needs_response' ? 'lost' : decisionOn(d.planned_outcome, d.evidence));
    return rows.flatMap((): EffectName[] => ['closedDisputes', 'webhookEvents']);
  });
}

/**
 * After a refund of refundMinor on a capture (locked): an open provisioning_failed dispute of it whose amount the
 * refund covers is resolved 'refunded', its fee waived.
 */
export async function resolveByRefund(trx: Knex.Transaction, captureId: string, refundMinor: number): Promise<EffectName[]> {
  const d = await trx(T('disputes')).where({ capture_id: captureId, reason: 'provisioning_failed' }).whereIn('status', OPEN)
    .where('amount_minor', '<=', refundMinor).forUpdate().first();
  if (!d) return [];
  await closeDispute(trx, d, 'refunded');
  return ['closedDisputes', 'webhookEvents'];
}

export async function getDispute(db: Knex, id: string): Promise<Row | undefined> {
  return db(T('disputes')).where({ id }).first();
}

/** The disputes of a capture, or of a charge line, oldest first. */
export async function disputesOf(db: Knex, of: DisputedRecord) {
  const rows = await db(T('disputes')).where(of).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(disputeView);
}

/** The merchant tells the issuer a capture's purchase could not be provisioned: 201, the first report's time on a repeat. */
export async function reportProvisioningFailure(trx: Knex.Transaction, captureId: string): Promise<Outcome> {
  const cap = await trx(T('captures')).where({ id: captureId }).first('id');
  if (!cap) throw notFound('capture', captureId);
  const inserted = await trx(T('provisioning_failures')).insert({ capture_id: captureId }).onConflict('capture_id').ignore().returning('*');
  const row = inserted[0] ?? await trx(T('provisioning_failures')).where({ capture_id: captureId }).first();
  return {
    status: 201, body: { object: 'provisioning_failure', captureId, reportedAt: iso(row.reported_at) },
    effects: inserted.length ? ['provisioningFailures'] : [],
  };
}

export function loyaltyView(r: Row) {
  return { object: 'loyalty_signal', id: r.id, captureId: r.capture_id, program: r.program, points: num(r.points), createdAt: iso(r.created_at) };
}

/** A loyalty reward tied to a capture, forwarded to the card's issuer. */
export async function sendLoyalty(trx: Knex.Transaction, captureId: string, reward: { program: string; points: number }): Promise<Outcome> {
  const cap = await trx(T('captures')).where({ id: captureId }).first('id');
  if (!cap) throw notFound('capture', captureId);
  const [row] = await trx(T('loyalty_signals')).insert({ id: newId('loy'), capture_id: captureId, program: reward.program, points: reward.points }).returning('*');
  return { status: 201, body: loyaltyView(row), effects: ['loyaltySignals'] };
}
