// What every part of the simulator's operations shares (processor.ts, reservations.ts): the refusal type, the effects
// a call applied, ids, table names and the conversions between PostgreSQL rows and JSON.
import { randomBytes } from 'node:crypto';

/** Effects a call applied, counted by GET /admin/stats once its transaction has committed. */
export const EFFECT_NAMES = [
  'tokens', 'authorizations', 'approvedAuthorizations', 'captures', 'voids', 'refunds', 'reauthorizations', 'batches', 'payouts',
  // step-up authentications completed (an approval that follows one also counts as an approved authorization)
  'authentications',
  // batch files, and the lines they applied (a repeated or refused line is not applied)
  'chargeFiles', 'chargeLines', 'succeededChargeLines', 'payoutFiles', 'payoutLines', 'paidPayoutLines',
  // reservations made (declined ones too) and placed; extensions, captures (each also one of captures), releases and
  // expiries of them (by time, in a call or the periodic sweep, or early by the admin API)
  'reservations', 'placedReservations', 'reservationExtensions', 'reservationCaptures', 'reservationReleases', 'reservationExpiries',
  // disputes opened (by a test card or the admin API) and closed (decided, accepted, unanswered past due, or refunded);
  // evidence submitted; what the merchant told the issuer
  'disputes', 'closedDisputes', 'disputeEvidence', 'provisioningFailures', 'loyaltySignals',
  // webhook events queued; delivered, attempts that failed, and events given up after MAX_WEBHOOK_ATTEMPTS (the pump)
  'webhookEvents', 'webhooksDelivered', 'webhookAttemptsFailed', 'webhooksGivenUp',
] as const;
export type EffectName = (typeof EFFECT_NAMES)[number];

/**
 * A refusal or fault with its HTTP status and code: { error: { code, message } }. A refusal is checked before any
 * write of the call, with one exception: a reservation found past its expiry is expired first (that happened by time,
 * whatever the call), and `effects` counts it.
 */
export class SimError extends Error {
  effects: EffectName[] = [];

  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'SimError';
  }

  /** The same refusal, with the effects the call applied before it (kept: they commit with the stored refusal). */
  after(effects: EffectName[]): this {
    this.effects = [...effects];
    return this;
  }
}

export const notFound = (what: string, id: string) => new SimError(404, 'resource_missing', `No such ${what}: ${id}`);
export const conflict = (code: string, message: string) => new SimError(409, code, message);

export interface Outcome {
  status: number;
  body: Record<string, unknown>;
  /** One each. */
  effects: EffectName[];
  /** Many of a kind (a batch file's lines). */
  counts?: Partial<Record<EffectName, number>>;
}

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
export const T = (table: string) => `processor_sim.${table}`;
export const num = (v: string | number | bigint) => Number(v);
export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);

export type Row = Record<string, any>;

/** What an operation needs of the process it runs in: its webhook endpoint and the dispute settings (admin config). */
export interface IssuerContext {
  /** The endpoint (webhook_endpoints.url) of this process's broker; null: its events are kept, never sent. */
  webhookUrl: string | null;
  disputeFeeMinor: number;
  disputeEvidenceSeconds: number;
  disputeDecisionDelayMs: number;
}
