// A dispute (chargeback) as the broker handles it for a merchant: the disputed amount and the processor's fee are
// withdrawn from the merchant's balance at once (held while the dispute runs); the merchant accepts, or submits
// evidence before the deadline (no evidence by then counts as accepted); the issuer decides. Won returns the amount
// (not the fee) to the merchant; lost leaves the money with the customer; a refund the issuer allows instead (a
// digital good whose provisioning failed) resolves it with no fee. This file holds the rules and the ledger's
// arithmetic; the workflow (workflows/dispute.ts) is the story.
//
//   needs_response → under_review (evidence submitted) → won | lost
//   needs_response → lost (accepted, or the deadline passed) | refunded (refunded at once)

import { formatMoney } from './money';

export type DisputeState = 'needs_response' | 'under_review' | 'won' | 'lost' | 'refunded';
/** How a closed dispute ended: the issuer's decision, the merchant's acceptance, the deadline, or a refund. */
export type DisputeResolution = 'decided' | 'accepted' | 'deadline' | 'refunded';
export const DISPUTE_REASONS = ['fraudulent', 'product_not_received', 'product_unacceptable', 'provisioning_failed', 'duplicate',
  'credit_not_processed', 'general'] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];

/** A dispute's workflow input: the processor's notice, and the capture it is about. */
export interface DisputeInput {
  /** The processor's dispute id. */
  disputeId: string;
  /** A capture's merchant; null for a period charge's (the broker's: its operators answer). */
  merchantId: string | null;
  /** What is disputed: a capture (an order's or a hold's), or a period charge (a buyer's invoice of micro-payments). */
  captureId: string | null;
  orderId: string | null;
  holdId: string | null;
  chargeId: string | null;
  invoice: { periodSeq: number; buyerId: string } | null;
  amountMinor: number;
  feeMinor: number;
  currency: string;
  reason: DisputeReason;
  evidenceDueBy: string;
  /** The broker's fee on the capture, for a refund's posting (its share of it goes back); 0 for a charge. */
  captureFeeMinor: number;
  captureAmountMinor: number;
  /** How often, while the issuer decides, the processor is asked for its decision (its webhook may be lost); default an hour. */
  decisionPollMs?: number;
}

export interface DisputeView {
  id: string;
  merchantId: string | null;
  captureId: string | null;
  orderId: string | null;
  holdId: string | null;
  chargeId: string | null;
  invoice: { periodSeq: number; buyerId: string } | null;
  state: DisputeState;
  resolution: DisputeResolution | null;
  reason: DisputeReason;
  amountMinor: number;
  /** The processor's dispute fee, withdrawn with the amount when the dispute opened. */
  feeMinor: number;
  /** What the processor finally charged once closed (0 when it waived the fee); null while open. */
  feeChargedMinor: number | null;
  currency: string;
  evidenceDueBy: string;
  evidenceSubmittedAt: string | null;
  /** The refund that resolved it (provisioning failed, refunded at once). */
  refundId: string | null;
  closedAt: string | null;
}

/** The evidence a merchant may give: free text fields and references, each bounded. */
export const EVIDENCE_TEXT_FIELDS = ['productDescription', 'customerCommunication', 'deliveryProof', 'provisioningLog', 'refundPolicy', 'uncategorized'] as const;
export const EVIDENCE_REFERENCE_FIELDS = ['trackingNumber', 'shippingCarrier'] as const;
export type EvidenceField = (typeof EVIDENCE_TEXT_FIELDS)[number] | (typeof EVIDENCE_REFERENCE_FIELDS)[number];
export type Evidence = Partial<Record<EvidenceField, string>>;
export const MAX_EVIDENCE_TEXT_CHARS = 20_000;
export const MAX_EVIDENCE_REFERENCE_CHARS = 100;
/** All fields together (the processor takes at most 64 KiB of evidence). */
export const MAX_EVIDENCE_TOTAL_CHARS = 50_000;

/** Reminders before the evidence deadline, while no evidence has been submitted. */
export const EVIDENCE_REMINDERS_MS = [3 * 86_400_000, 86_400_000] as const;

export class DisputeError extends Error {
  constructor(readonly code: 'dispute_not_open' | 'evidence_past_due' | 'evidence_too_large' | 'evidence_empty' | 'not_provisioning_failure',
    message: string, readonly param?: string) {
    super(message);
    this.name = 'DisputeError';
  }
}

/** Evidence merged over a draft: a field set to '' is removed. Refused when it is too large, field by field or in all. */
export function mergeEvidence(draft: Evidence, change: Evidence): Evidence {
  const merged: Evidence = { ...draft };
  for (const [k, v] of Object.entries(change) as Array<[EvidenceField, string | undefined]>) {
    if (v === undefined) continue;
    const max = (EVIDENCE_REFERENCE_FIELDS as readonly string[]).includes(k) ? MAX_EVIDENCE_REFERENCE_CHARS : MAX_EVIDENCE_TEXT_CHARS;
    if (v.length > max) throw new DisputeError('evidence_too_large', `${k} takes at most ${max} characters`, k);
    if (v === '') delete merged[k];
    else merged[k] = v;
  }
  const total = Object.values(merged).reduce((s, v) => s + (v?.length ?? 0), 0);
  if (total > MAX_EVIDENCE_TOTAL_CHARS) throw new DisputeError('evidence_too_large', `Evidence takes at most ${MAX_EVIDENCE_TOTAL_CHARS} characters in all`);
  return merged;
}

/** Whether the merchant may still change or submit evidence (and accept): open, not submitted, before the deadline. */
export function assertOpen(d: { state: DisputeState; evidenceDueBy: string }, nowMs: number): void {
  if (d.state !== 'needs_response') throw new DisputeError('dispute_not_open', `The dispute is ${d.state}: it takes no more evidence`);
  if (nowMs >= Date.parse(d.evidenceDueBy)) throw new DisputeError('evidence_past_due', 'The evidence deadline has passed');
}

/** When each reminder is due (those still ahead of `fromMs`), in order. */
export function reminderTimes(evidenceDueBy: string, fromMs: number): number[] {
  const due = Date.parse(evidenceDueBy);
  return EVIDENCE_REMINDERS_MS.map((before) => due - before).filter((t) => t > fromMs);
}

// ---- the ledger's arithmetic ----

/** The accounts a dispute moves: the merchant's payable balance, what disputes hold of it, and cash at the processor. */
export type DisputeAccount = 'merchant' | 'held' | 'clearing';
export type DisputeStep = 'opened' | 'won' | 'lost' | 'refunded';

/**
 * What each step posts (positive debits, negative credits; each step balances). Opened: the amount and the fee leave
 * the merchant's balance for disputes held. At the close, what the processor keeps (the amount when lost, the fee it
 * finally charged) goes to cash at the processor, and the rest returns to the merchant: won, the amount; refunded, the
 * amount (the refund itself then takes it, as any refund does) and a waived fee.
 */
export function disputePostings(step: DisputeStep, amountMinor: number, feeMinor: number, feeChargedMinor = feeMinor):
Array<{ account: DisputeAccount; amountMinor: number }> {
  const held = amountMinor + feeMinor;
  const returned = (step === 'lost' ? 0 : amountMinor) + (feeMinor - feeChargedMinor);
  const postings = step === 'opened'
    ? [{ account: 'merchant' as const, amountMinor: held }, { account: 'held' as const, amountMinor: -held }]
    : [{ account: 'held' as const, amountMinor: held }, { account: 'merchant' as const, amountMinor: -returned },
      { account: 'clearing' as const, amountMinor: -(held - returned) }];
  return postings.filter((p) => p.amountMinor !== 0);
}

/**
 * A period charge's dispute, which the broker bears as the merchant of record: the buyer's debt reopens while it is
 * open (the buyer's receivable), the fee is the broker's cost, and both are held. At the close what the processor keeps
 * goes to cash at the processor; won, the buyer's debt is settled again; lost, the buyer owes it (to be collected).
 */
export function chargeDisputePostings(step: 'opened' | 'won' | 'lost', amountMinor: number, feeMinor: number, feeChargedMinor = feeMinor):
Array<{ account: 'buyer' | 'processorFees' | 'held' | 'clearing'; amountMinor: number }> {
  const held = amountMinor + feeMinor;
  const returnedAmount = step === 'won' ? amountMinor : 0;
  const returnedFee = feeMinor - feeChargedMinor;
  const postings = step === 'opened'
    ? [{ account: 'buyer' as const, amountMinor }, { account: 'processorFees' as const, amountMinor: feeMinor }, { account: 'held' as const, amountMinor: -held }]
    : [{ account: 'held' as const, amountMinor: held }, { account: 'buyer' as const, amountMinor: -returnedAmount },
      { account: 'processorFees' as const, amountMinor: -returnedFee }, { account: 'clearing' as const, amountMinor: -(held - returnedAmount - returnedFee) }];
  return postings.filter((p) => p.amountMinor !== 0);
}

/** The step that closes a dispute in this state (none while it is open). */
export const closingStep = (state: DisputeState): DisputeStep | null =>
  state === 'won' || state === 'lost' || state === 'refunded' ? state : null;

/** The broker's fee a refund of part of a capture gives back: its share of the capture's fee. */
export const refundFeeShare = (refundMinor: number, captureAmountMinor: number, captureFeeMinor: number): number =>
  captureAmountMinor === 0 ? 0 : Math.round((refundMinor * captureFeeMinor) / captureAmountMinor);

export class Dispute {
  state: DisputeState = 'needs_response';
  resolution: DisputeResolution | null = null;
  evidenceSubmittedAt: string | null = null;
  refundId: string | null = null;
  closedAt: string | null = null;
  /** What the processor finally charged (its fee, or 0 when waived). */
  feeChargedMinor: number;

  constructor(readonly input: DisputeInput) {
    this.feeChargedMinor = input.feeMinor;
  }

  get isClosed(): boolean {
    return closingStep(this.state) !== null;
  }

  /** The merchant may accept, submit its evidence, or (a provisioning failure) refund: open and before the deadline. */
  admit(what: 'accept' | 'submit' | 'refund', nowMs: number): void {
    assertOpen({ state: this.state, evidenceDueBy: this.input.evidenceDueBy }, nowMs);
    if (what === 'refund' && (this.input.reason !== 'provisioning_failed' || this.input.captureId === null)) {
      throw new DisputeError('not_provisioning_failure', 'Only a dispute for a failed provisioning is resolved by refunding it at once');
    }
  }

  submitted(atIso: string): void {
    if (this.state !== 'needs_response') return;
    this.state = 'under_review';
    this.evidenceSubmittedAt = atIso;
  }

  refunded(refundId: string): void {
    this.refundId ??= refundId;
  }

  closed(status: 'won' | 'lost' | 'refunded', resolution: DisputeResolution, feeChargedMinor: number, atIso: string): void {
    if (this.isClosed) return;
    this.state = status;
    this.resolution = resolution;
    this.feeChargedMinor = feeChargedMinor;
    this.closedAt = atIso;
  }

  view(): DisputeView {
    const i = this.input;
    return {
      id: i.disputeId, merchantId: i.merchantId, captureId: i.captureId, orderId: i.orderId, holdId: i.holdId, chargeId: i.chargeId,
      invoice: i.invoice, state: this.state,
      resolution: this.resolution, reason: i.reason, amountMinor: i.amountMinor, feeMinor: i.feeMinor,
      feeChargedMinor: this.isClosed ? this.feeChargedMinor : null,
      currency: i.currency, evidenceDueBy: i.evidenceDueBy, evidenceSubmittedAt: this.evidenceSubmittedAt, refundId: this.refundId,
      closedAt: this.closedAt,
    };
  }
}

/** The Web UI's current details of a dispute's workflow. */
export function disputeDetails(v: DisputeView): string {
  const amount = formatMoney(v.amountMinor, v.currency);
  if (v.closedAt) return `${v.state}${v.resolution ? ` (${v.resolution})` : ''}: ${amount}, ${v.reason}`;
  return `${v.state}: ${amount}, ${v.reason}; ${v.evidenceSubmittedAt ? `evidence submitted ${v.evidenceSubmittedAt}` : `evidence due by ${v.evidenceDueBy}`}`;
}
