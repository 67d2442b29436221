// A hold: funds on a customer's debit or prepaid card reserved with the card's issuer before an expensive or risky
// sale, captured in part or in whole (once or several times, up to the amount) and released at expiry when unused.
// This class holds a hold's state and decides what it accepts; the workflow (workflows/hold.ts) is the story.
//
//   placing → active → captured (all of it taken) | released (the merchant let the rest go) | expired (its timer,
//                      or the issuer ended the reservation first: expiredEarly)
//   placing → declined (the balance or the card said no) | failed (the processor refused or could not be reached)
import { applyBps } from './pricing';
import { formatMoney } from './money';

/** Shortest and longest a hold can be placed for (the issuers' own limit is 7 days). */
export const MIN_HOLD_SECONDS = 60;
export const MAX_HOLD_SECONDS = 7 * 24 * 3600;
export const DEFAULT_HOLD_SECONDS = 24 * 3600;
/** Captures one hold takes at most. */
export const MAX_HOLD_CAPTURES = 50;
/** The largest amount a hold can reserve (minor units). */
export const MAX_HOLD_AMOUNT_MINOR = 100_000_000;

export type HoldState = 'placing' | 'active' | 'declined' | 'failed' | 'captured' | 'released' | 'expired';
const FINAL: readonly HoldState[] = ['declined', 'failed', 'captured', 'released', 'expired'];

export interface HoldInput {
  holdId: string;
  merchantId: string;
  customerId: string | null;
  token: string;
  amountMinor: number;
  currency: string;
  expiresInSeconds: number;
  /** The merchant's fee when the hold was placed (basis points of each capture). */
  feeBps: number;
  description: string | null;
}

export interface HoldCapture {
  /** The processor's capture. */
  id: string;
  amountMinor: number;
  feeMinor: number;
  /** The request's Idempotency-Key: a repeat answers this capture. */
  requestKey: string;
  capturedAt: string;
}

export interface HoldView {
  id: string;
  merchantId: string;
  customerId: string | null;
  state: HoldState;
  amountMinor: number;
  currency: string;
  capturedMinor: number;
  /** Given back to the customer (released, or expired). */
  releasedMinor: number;
  reservationId: string | null;
  /** When the hold releases itself (the issuer's reservation ends then too). */
  expiresAt: string | null;
  captures: HoldCapture[];
  failure: { code: string; message: string } | null;
  /** The issuer ended the reservation before the hold's own expiry. */
  expiredEarly: boolean;
  description: string | null;
  endedAt: string | null;
}

/** A request the hold refuses: its code (the API's), and the field it is about. */
export class HoldError extends Error {
  constructor(readonly code: 'hold_not_active' | 'over_capture' | 'too_many_captures' | 'invalid_amount', message: string,
    readonly param?: string) {
    super(message);
    this.name = 'HoldError';
  }
}

export class Hold {
  state: HoldState = 'placing';
  reservationId: string | null = null;
  expiresAt: string | null = null;
  captures: HoldCapture[] = [];
  /** Captures asked for and not yet answered by the processor (what they take is not left to capture). */
  pending: Array<{ requestKey: string; amountMinor: number }> = [];
  releasedMinor = 0;
  failure: { code: string; message: string } | null = null;
  expiredEarly = false;
  endedAt: string | null = null;

  constructor(readonly input: HoldInput) {}

  /** A hold as its ended workflow last saved it (its rules answer requests that come after). */
  static ended(input: HoldInput, view: HoldView): Hold {
    const h = new Hold(input);
    Object.assign(h, { state: view.state, reservationId: view.reservationId, expiresAt: view.expiresAt, captures: view.captures,
      releasedMinor: view.releasedMinor, failure: view.failure, expiredEarly: view.expiredEarly, endedAt: view.endedAt });
    return h;
  }

  get capturedMinor(): number {
    return this.captures.reduce((s, c) => s + c.amountMinor, 0);
  }

  get remainingMinor(): number {
    return this.state === 'active' ? this.input.amountMinor - this.capturedMinor - this.pending.reduce((s, p) => s + p.amountMinor, 0) : 0;
  }

  get isFinal(): boolean {
    return FINAL.includes(this.state);
  }

  placed(reservation: { id: string; expiresAt: string }): void {
    this.state = 'active';
    this.reservationId = reservation.id;
    this.expiresAt = reservation.expiresAt;
  }

  /** Declined by the issuer (the balance, the card), or failed (refused, unreachable): nothing is reserved. */
  notPlaced(state: 'declined' | 'failed', code: string, message: string, nowMs: number): void {
    this.state = state;
    this.failure = { code, message };
    this.endedAt = new Date(nowMs).toISOString();
  }

  /** The capture a request under this key made before, if any. */
  captureOf(requestKey: string): HoldCapture | undefined {
    return this.captures.find((c) => c.requestKey === requestKey);
  }

  /**
   * The amount a capture request takes (the rest when it names none), or the capture a repeat of it made; refused when
   * the hold is not active, the amount is more than is left, or the hold has taken its most captures.
   */
  admitCapture(requestKey: string, amountMinor?: number): number | HoldCapture {
    const made = this.captureOf(requestKey);
    if (made) return made;
    const asked = this.pending.find((p) => p.requestKey === requestKey);
    if (asked) return asked.amountMinor;
    if (this.state !== 'active') throw new HoldError('hold_not_active', `The hold is ${this.state}: nothing can be captured`);
    const left = this.remainingMinor;
    const take = amountMinor ?? left;
    if (!Number.isSafeInteger(take) || take <= 0) throw new HoldError('invalid_amount', 'A capture takes a positive amount', 'amountMinor');
    if (take > left) throw new HoldError('over_capture', `Only ${left} is left to capture of this hold`, 'amountMinor');
    if (this.captures.length >= MAX_HOLD_CAPTURES) {
      throw new HoldError('too_many_captures', `A hold takes at most ${MAX_HOLD_CAPTURES} captures`);
    }
    return take;
  }

  /** The broker's fee on a capture of this hold. */
  feeOf(amountMinor: number): number {
    return applyBps(amountMinor, this.input.feeBps);
  }

  /** A capture request admitted: in flight until captured() or captureFailed(); a repeat of one in flight or made adds nothing. */
  requestCapture(requestKey: string, amountMinor?: number): void {
    const take = this.admitCapture(requestKey, amountMinor);
    if (typeof take === 'number' && !this.pending.some((p) => p.requestKey === requestKey)) this.pending.push({ requestKey, amountMinor: take });
  }

  captureFailed(requestKey: string): void {
    this.pending = this.pending.filter((p) => p.requestKey !== requestKey);
  }

  captured(c: HoldCapture): void {
    this.captureFailed(c.requestKey);
    if (this.captureOf(c.requestKey)) return;
    this.captures.push(c);
    if (this.capturedMinor >= this.input.amountMinor) this.end('captured', c.capturedAt);
  }

  /** A release request: accepted while active, answered as it stands once released; refused otherwise. */
  admitRelease(): boolean {
    if (this.state === 'active') return true;
    if (this.state === 'released') return false;
    throw new HoldError('hold_not_active', `The hold is ${this.state}: there is nothing to release`);
  }

  /** What was not captured went back to the customer: the merchant released it, or the hold expired. */
  ended(how: 'released' | 'expired', atIso: string, early = false): void {
    if (this.state !== 'active') return;
    this.pending = [];
    this.releasedMinor = this.input.amountMinor - this.capturedMinor;
    this.expiredEarly = how === 'expired' && early;
    this.end(how, atIso);
  }

  private end(state: HoldState, atIso: string): void {
    this.state = state;
    this.endedAt = atIso;
  }

  view(): HoldView {
    const i = this.input;
    return {
      id: i.holdId, merchantId: i.merchantId, customerId: i.customerId, state: this.state, amountMinor: i.amountMinor, currency: i.currency,
      capturedMinor: this.capturedMinor, releasedMinor: this.releasedMinor, reservationId: this.reservationId, expiresAt: this.expiresAt,
      captures: [...this.captures], failure: this.failure, expiredEarly: this.expiredEarly, description: i.description, endedAt: this.endedAt,
    };
  }
}

/** The Web UI's current details of a hold's workflow (what it waits for, what has moved). */
export function holdDetails(v: HoldView): string {
  const money = (m: number) => formatMoney(m, v.currency);
  if (v.failure) return `${v.state}: ${v.failure.code}`;
  const moved = `${money(v.capturedMinor)} of ${money(v.amountMinor)} captured${v.releasedMinor ? `, ${money(v.releasedMinor)} released` : ''}`;
  return v.expiresAt && !v.endedAt ? `${v.state}: ${moved}; releases itself at ${v.expiresAt}` : `${v.state}: ${moved}`;
}
