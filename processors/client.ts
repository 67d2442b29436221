// The processor interface the broker's activities use. The simulator (processors/simulator) and real
// processors plug in behind it; processors/http-client.ts speaks the simulator's HTTP API.
// Amounts are integer minor units. Every mutating call carries an idempotency key: repeating a call with the
// same key returns the first result and has no second effect.

export type AvsCode = 'Y' | 'A' | 'Z' | 'N' | 'U' | 'S' | 'R';

export interface CardInput {
  cardNumber: string;
  expMonth: number;
  expYear: number;
  cvc?: string;
}

export interface CardToken {
  token: string;
  last4: string;
  brand: string;
}

export interface AuthorizeRequest {
  token: string;
  amountMinor: number;
  currency: string;
  /** Billing postal code, checked by AVS. */
  postalCode: string;
  /** The broker's reference (e.g. the order's workflow id), kept on the processor's record. */
  reference: string;
}

export interface Authorization {
  /** With status authentication_required: the transaction reference the broker passes on to the authentication. */
  id: string;
  /**
   * authentication_required: the card asks for step-up authentication (3-D Secure) before the processor decides;
   * completeAuthentication gives the outcome. A caller that accepts only 'approved' fails it with its declineCode.
   */
  status: 'approved' | 'declined' | 'authentication_required';
  /**
   * Set unless approved: card_declined, insufficient_funds, expired_card, invalid_token, authentication_failed, ...;
   * with status authentication_required, 'authentication_required'.
   */
  declineCode?: string;
  avsCode: AvsCode;
  amountMinor: number;
  currency: string;
  /** ISO timestamp after which the authorization can no longer be captured (approved only). */
  expiresAt?: string;
  reference: string;
  /** The step-up authentication that completed it (completeAuthentication), if one did. */
  authenticationId?: string;
}

export interface Capture {
  id: string;
  /** The authorization captured; '' on a capture of a reservation (captureReservation gives its reservationId). */
  authorizationId: string;
  amountMinor: number;
  currency: string;
  /**
   * The processor's fee for this capture (interchange and scheme fees), lower when the capture carried line items
   * (level 2/3 data). Absent in an answer replayed from before fees were reported.
   */
  feeMinor?: number;
}

// Level 2/3 purchase data (the issuer lowers the fee for captures that carry it): the broker's own rules say what a
// line is (domain/pricing.ts), and the processor accepts the same.
export { type CaptureLineItem as LineItem, MAX_LINE_ITEMS } from '../domain/pricing';
import type { CaptureLineItem as LineItem } from '../domain/pricing';

/** A debit or prepaid card's funds at its issuer (a credit card has none: 409 balance_not_available). */
export interface Balance {
  token: string;
  kind: 'debit' | 'prepaid';
  availableMinor: number;
  currency: string;
}

export interface ReserveRequest {
  token: string;
  amountMinor: number;
  currency: string;
  reference: string;
  /** How long the issuer keeps the funds reserved: 1 s to MAX_RESERVATION_SECONDS. */
  expiresInSeconds: number;
}

/** The longest a reservation can be placed or extended for: 7 days. */
export const MAX_RESERVATION_SECONDS = 7 * 24 * 3600;

/**
 * Funds reserved at the issuer (a hold). Declined (insufficient_funds, card_declined, expired_card, invalid_token,
 * authentication_required, currency_mismatch) is a status, not an error. While active, captures take from it (each a
 * Capture, refundable and settled like an authorization's); a release or its expiry gives the rest back; fully captured
 * it is 'captured'.
 */
export interface Reservation {
  id: string;
  status: 'active' | 'declined' | 'captured' | 'released' | 'expired';
  declineCode?: string;
  amountMinor: number;
  currency: string;
  reference: string;
  capturedMinor: number;
  releasedMinor: number;
  /** Not on a declined one. */
  expiresAt?: string;
  /** When it stopped being active (captured in full, released, expired). */
  endedAt?: string;
}

export { DISPUTE_REASONS, type DisputeReason } from '../domain/disputes';
import type { DisputeReason } from '../domain/disputes';

/**
 * A chargeback on a capture or on a charge (a succeeded line of a charge batch file), as the processor knows it.
 * needs_response until evidence is submitted or the merchant accepts; under_review while the issuer decides; then won,
 * lost (accepted is lost), or refunded (a capture's only: resolved by a refund the issuer allowed instead, no fee).
 */
export interface Dispute {
  id: string;
  /** The disputed capture; null when the dispute is of a charge (then chargeId is set). */
  captureId: string | null;
  /** The disputed charge of a batch file (ChargeLineResult.chargeId); null when the dispute is of a capture. */
  chargeId: string | null;
  amountMinor: number;
  currency: string;
  /** What the processor charges the merchant for the dispute; 0 once waived (refunded). */
  feeMinor: number;
  reason: DisputeReason;
  status: 'needs_response' | 'under_review' | 'won' | 'lost' | 'refunded';
  /** ISO time by which the processor must have the evidence. */
  evidenceDueBy: string;
  createdAt: string;
}

/** Evidence for a dispute: bounded text fields and references; the processor refuses a body over 64 KiB. */
export interface DisputeEvidence {
  productDescription?: string;
  customerCommunication?: string;
  trackingNumber?: string;
  shippingCarrier?: string;
  deliveryProof?: string;
  provisioningLog?: string;
  refundPolicy?: string;
  uncategorized?: string;
}

/** A loyalty reward tied to a purchase, forwarded to the card's issuer. */
export interface LoyaltySignal {
  id: string;
  captureId: string;
  /** 1-64 characters: the merchant's loyalty programme. */
  program: string;
  /** Points (or the programme's units) awarded, 1..10_000_000. */
  points: number;
  createdAt: string;
}

/**
 * A signed webhook of the processor (verify it with verifyProcessorWebhook, processors/webhookSignature.ts): the body
 * is this JSON, its id the same on every retry. dispute.created: a dispute opened on a capture or a charge (status
 * needs_response); dispute.closed: it was decided (won, lost) or resolved by a refund (refunded); reservation.expired:
 * a reservation ended by time, or early by its issuer (what it did not capture is back on the card).
 */
export type ProcessorWebhookEvent =
  | { id: string; type: 'dispute.created'; createdAt: string; data: { object: Dispute } }
  | { id: string; type: 'dispute.closed'; createdAt: string; data: { object: Dispute } }
  | { id: string; type: 'reservation.expired'; createdAt: string; data: { object: Reservation } };

export const PROCESSOR_WEBHOOK_EVENT_TYPES: ReadonlyArray<ProcessorWebhookEvent['type']> = ['dispute.created', 'dispute.closed', 'reservation.expired'];

export interface VoidResult {
  authorizationId: string;
  /** Uncaptured amount released by this void. */
  releasedMinor: number;
  /** What is left to capture after it (0: the authorization is voided); absent in a void replayed from before partial voids. */
  remainingMinor?: number;
}

export interface Refund {
  id: string;
  captureId: string;
  amountMinor: number;
  currency: string;
}

export interface SettlementBatch {
  id: string;
  captureIds: string[];
  /** Total captured per currency in the batch. */
  totals: Record<string, number>;
}

export interface Payout {
  id: string;
  destination: string;
  amountMinor: number;
  currency: string;
}

/** Lines per batch file (charge or payout); the simulator refuses a larger file, and an empty one, with 400. */
export const MAX_BATCH_FILE_LINES = 5000;

/**
 * One line of a charge batch file: a direct sale on the card behind the token (no separate authorize/capture).
 * Its idempotency key is the line's own, global across files: a key already applied returns its first result.
 */
export interface ChargeLine {
  idempotencyKey: string;
  token: string;
  amountMinor: number;
  currency: string;
  reference: string;
}

export interface ChargeLineResult {
  idempotencyKey: string;
  reference: string;
  status: 'succeeded' | 'failed';
  /** Set when succeeded. */
  chargeId?: string;
  /**
   * Set when failed: card_declined, insufficient_funds, invalid_token, expired_card, idempotency_key_reused,
   * authentication_required (a card that requires step-up authentication: a batch charge cannot step up), ...
   */
  declineCode?: string;
  amountMinor: number;
  currency: string;
}

/** One line of a payout batch file, with its own idempotency key (global across files, like a charge line's). */
export interface PayoutLine {
  idempotencyKey: string;
  destination: string;
  amountMinor: number;
  currency: string;
  reference: string;
}

export interface PayoutLineResult {
  idempotencyKey: string;
  reference: string;
  status: 'paid' | 'failed';
  /** Set when paid. */
  payoutId?: string;
  /** Set when failed: destination_rejected, idempotency_key_reused, ... */
  failureCode?: string;
  amountMinor: number;
  currency: string;
}

export interface BatchFileResult<R> {
  id: string;
  /** One per line, in the order of the lines. */
  results: R[];
}

/** A record of money moved, as the processor's reports give it (reconciliation compares these with the ledger). */
export interface ProcessorRecord {
  id: string;
  kind: 'capture' | 'refund' | 'charge' | 'payout' | 'batch';
  amountMinor: number;
  /** A settlement batch's: its currencies joined by '+', its amount their totals summed. */
  currency: string;
  createdAt: string;
}

/** Records per page of the processor's reports (and ids per lookup). */
export const MAX_REPORT_PAGE = 1000;

export interface ProcessorClient {
  tokenize(card: CardInput, idempotencyKey: string): Promise<CardToken>;
  authorize(req: AuthorizeRequest, idempotencyKey: string): Promise<Authorization>;
  /**
   * Partial and multiple captures, up to the authorized amount, before expiry. Line items (at most MAX_LINE_ITEMS,
   * adding up to the amount) lower the processor's fee.
   */
  capture(authorizationId: string, amountMinor: number, idempotencyKey: string, lineItems?: LineItem[]): Promise<Capture>;
  /**
   * Releases the uncaptured remainder of an authorization, or only amountMinor of it (a partial void: the rest
   * stays capturable; over_release if more than is left).
   */
  void(authorizationId: string, idempotencyKey: string, amountMinor?: number): Promise<VoidResult>;
  /** Partial refunds, up to the captured amount less earlier refunds. */
  refund(captureId: string, amountMinor: number, idempotencyKey: string): Promise<Refund>;
  /**
   * Completes the step-up authentication an authorization awaits (status authentication_required) with the
   * cardholder's outcome: authenticated, the card decides (approved with expiresAt, or declined); not, it is
   * declined authentication_failed. One already completed is returned as it stands, whatever result says (a retry
   * under a new key is harmless); unknown: rejected 404 resource_missing; one that never awaited authentication:
   * rejected 409 authentication_not_required.
   */
  completeAuthentication(authorizationId: string, result: { authenticated: boolean; authenticationId: string }, idempotencyKey: string): Promise<Authorization>;
  /**
   * A new authorization for amountMinor on the same card (the old one is left as it is). Merchant-initiated: a card
   * that requires step-up authentication is not asked for it, but the old authorization must have been authenticated
   * (else rejected 409 authorization_not_authenticated).
   */
  reauthorize(authorizationId: string, amountMinor: number, idempotencyKey: string): Promise<Authorization>;
  /** Submits captures for settlement; a capture can be in one batch only. */
  settleBatch(captureIds: string[], idempotencyKey: string): Promise<SettlementBatch>;
  payout(destination: string, amountMinor: number, currency: string, idempotencyKey: string): Promise<Payout>;
  /**
   * Charges up to MAX_BATCH_FILE_LINES lines in one file. A declined line is a result with status 'failed', not
   * an error; a line whose key was applied before (in this or an earlier file) returns its first result, and
   * the same key with a different token, amount or currency fails that line with idempotency_key_reused.
   */
  submitChargeBatch(lines: ChargeLine[], idempotencyKey: string): Promise<BatchFileResult<ChargeLineResult>>;
  /** Pays out up to MAX_BATCH_FILE_LINES lines in one file, with the same per-line idempotency as charges. */
  submitPayoutBatch(lines: PayoutLine[], idempotencyKey: string): Promise<BatchFileResult<PayoutLineResult>>;
  /** The card's available funds at its issuer; 409 balance_not_available for a credit card, 404 for an unknown token. */
  balance(token: string): Promise<Balance>;
  /** Reserves funds at the issuer (a declined one is a Reservation with status 'declined'). */
  reserve(req: ReserveRequest, idempotencyKey: string): Promise<Reservation>;
  /** Moves an active reservation's expiry to expiresInSeconds from now (at most MAX_RESERVATION_SECONDS after it was placed); 409 reservation_ended. */
  extendReservation(reservationId: string, expiresInSeconds: number, idempotencyKey: string): Promise<Reservation>;
  /** Captures part or all of what is left of an active reservation; 409 over_capture, reservation_ended (expired included). */
  captureReservation(reservationId: string, amountMinor: number, idempotencyKey: string, lineItems?: LineItem[]): Promise<Capture & { reservationId: string }>;
  /** Gives back what is left of an active reservation; one already ended is returned as it stands. */
  releaseReservation(reservationId: string, idempotencyKey: string): Promise<Reservation>;
  getReservation(reservationId: string): Promise<Reservation | undefined>;
  getDispute(disputeId: string): Promise<Dispute | undefined>;
  /** Submits the evidence (once: 409 evidence_already_submitted; after evidenceDueBy: 409 evidence_past_due). */
  submitDisputeEvidence(disputeId: string, evidence: DisputeEvidence, idempotencyKey: string): Promise<Dispute>;
  /** The merchant does not contest: lost at once. */
  acceptDispute(disputeId: string, idempotencyKey: string): Promise<Dispute>;
  /** Tells the issuer the purchase behind a capture could not be provisioned (after the broker refunded it). */
  reportProvisioningFailure(captureId: string, idempotencyKey: string): Promise<{ captureId: string; reportedAt: string }>;
  /** Forwards a loyalty reward tied to a capture to the card's issuer. */
  sendLoyalty(captureId: string, reward: { program: string; points: number }, idempotencyKey: string): Promise<LoyaltySignal>;
  /** Any transaction by id (authorization, capture, refund, batch, payout), or undefined. */
  getTransaction(id: string): Promise<Record<string, unknown> | undefined>;
  /** A page of the records made in [from, to), oldest first, after the cursor a previous page gave (next). */
  records(from: Date, to: Date, cursor: string | null, limit: number): Promise<{ data: ProcessorRecord[]; hasMore: boolean; next: string | null }>;
  /** The records with these ids that the processor has (at most MAX_REPORT_PAGE ids). */
  recordsById(ids: string[]): Promise<ProcessorRecord[]>;
}

/** The processor could not be reached or failed (network error, timeout, 5xx): retry with the same key. */
export class ProcessorUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProcessorUnavailableError';
  }
}

/** The processor refused the request for a business reason (4xx): retrying will not help. */
export class ProcessorRejectedError extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
    this.name = 'ProcessorRejectedError';
  }
}
