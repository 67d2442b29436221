// Confirmation by message: before an order is authorized, the customer confirms it from their phone. The broker sends
// an offer (merchant, amount, a one-time code, how to reply) from the merchant's booked sender id; a reply
// "YES <code>" lets the order go on to authorization, "NO <code>" cancels it, and so do MAX_WRONG_CODES wrong codes or
// the deadline. The code decides which order a reply is for (a phone may have several pending). These are the rules
// and the texts; the database decides each reply (stores/confirmations.ts), the order workflow waits for it.

/** A phone number in E.164: a plus, a country code and at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{6,14}$/;
/**
 * A sender id: alphanumeric, 1 to 11 characters with at least one letter, or an E.164 number. Written without a
 * lookahead (k digits, a letter, at most 10 - k more), so the OpenAPI document's pattern says exactly this to any tool.
 */
export const SENDER_ID = new RegExp(`^(?:${Array.from({ length: 11 }, (_, k) => `[0-9]{${k}}[A-Za-z][A-Za-z0-9]{0,${10 - k}}`).join('|')}`
  + '|\\+[1-9][0-9]{6,14})$');
export const isSenderId = (s: string) => SENDER_ID.test(s);
/** The sender id of a merchant that has not booked its own. */
export const DEFAULT_SENDER_ID = 'PAYBROKER';

export const CONFIRMATION_CODE_DIGITS = 6;
/** Wrong codes from a phone before its pending confirmations fail (a guess counts against each of them). */
export const MAX_WRONG_CODES = 3;
/** How long the customer has to reply, counted from when the gateway accepted the offer. */
export const DEFAULT_CONFIRMATION_TIMEOUT_MS = 15 * 60_000;
/** How long an offer is tried while the gateway is unreachable before the order is cancelled unsent. */
export const DEFAULT_CONFIRMATION_SEND_DEADLINE_MS = 60 * 60_000;
/** Confirmations one phone may have waiting at once (more orders for it are refused until some are decided). */
export const MAX_OPEN_CONFIRMATIONS_PER_PHONE = 10;

/** Why an order asks its customer: the merchant asked for this order, or its policy (amount, first order). */
export type ConfirmationReason = 'requested' | 'amount' | 'first_order';

/** The merchant's policy: confirm every order above an amount, and every first order of a customer. */
export interface ConfirmationPolicy {
  /** null: no amount threshold. */
  aboveMinor: number | null;
  firstOrders: boolean;
}

/** Whether the policy asks this order to be confirmed, and why (null: it does not). */
export function policyReason(policy: ConfirmationPolicy, totalMinor: number, firstOrder: boolean): ConfirmationReason | null {
  if (policy.aboveMinor !== null && totalMinor > policy.aboveMinor) return 'amount';
  if (policy.firstOrders && firstOrder) return 'first_order';
  return null;
}

/**
 * How a confirmation ends: accepted (the order is authorized), rejected (NO), failed (wrong codes), expired (no reply
 * by the deadline), cancelled (by the merchant while waiting), not_sent (the offer could not be sent in time).
 */
export type ConfirmationOutcome = 'accepted' | 'rejected' | 'failed' | 'expired' | 'cancelled' | 'not_sent';
/** Where a confirmation stands: its offer being sent, waiting for the reply, or ended. */
export type ConfirmationState = 'sending' | 'pending' | ConfirmationOutcome;

/** The order's failure code when its confirmation ends without an accept. */
export const CONFIRMATION_FAILURE: Record<Exclude<ConfirmationOutcome, 'accepted'>, { code: string; message: string }> = {
  rejected: { code: 'confirmation_rejected', message: 'The customer declined the payment by message' },
  failed: { code: 'confirmation_failed', message: `The customer's phone sent ${MAX_WRONG_CODES} wrong codes` },
  expired: { code: 'confirmation_expired', message: 'The customer did not confirm before the deadline' },
  cancelled: { code: 'cancelled', message: 'Cancelled by the merchant while the customer was asked' },
  not_sent: { code: 'confirmation_not_sent', message: 'The offer could not be sent to the customer' },
};

export interface Reply { decision: 'accept' | 'reject'; code: string }

/** A reply "YES 123456" or "no 123456" (any case; spaces, a colon, a comma, a dash or nothing between; a final . or !); else null. */
export function parseReply(body: string): Reply | null {
  const m = /^\s*(yes|no)\s*[:,-]?\s*(\d{6})\s*[.!]?\s*$/i.exec(body);
  if (!m) return null;
  return { decision: m[1].toLowerCase() === 'yes' ? 'accept' : 'reject', code: m[2] };
}

/** The number with all but its last four digits hidden: "+*******0100". */
export function maskPhone(e164: string): string {
  return `+${'*'.repeat(Math.max(0, e164.length - 5))}${e164.slice(-4)}`;
}

const minutes = (ms: number) => {
  const n = Math.max(1, Math.round(ms / 60_000));
  return n === 1 ? '1 minute' : `${n} minutes`;
};

/** The offer: who asks, how much (formatted), the code and how to reply. */
export function offerText(o: { merchantName: string; amount: string; code: string; timeoutMs: number }): string {
  return `${o.merchantName} asks you to confirm a payment of ${o.amount}. Reply YES ${o.code} to confirm or NO ${o.code} to decline. `
    + `The code expires in ${minutes(o.timeoutMs)}.`;
}

/** The answer to a reply that came too late. */
export function expiredText(code: string): string {
  return `Sorry, the code ${code} has expired and nothing was charged. If you still want to pay, please start again with the merchant.`;
}

/** The answer to a reply for a confirmation already decided (a second YES, say). */
export function decidedText(code: string, outcome: ConfirmationOutcome): string {
  return outcome === 'accepted'
    ? `The payment with code ${code} is already confirmed. Thank you.`
    : `The payment with code ${code} is no longer waiting for you; nothing was charged.`;
}

/** The answer to a reply the broker cannot read, from a phone with confirmations waiting. */
export const HELP_TEXT = 'We could not read your reply. Reply YES followed by the code to confirm, or NO followed by the code to decline.';

/** A confirmation a reply may be for: the phone's open ones, and earlier ones with the reply's code. */
export interface ReplyCandidate {
  orderId: string;
  code: string;
  state: ConfirmationState;
  /** null while the offer is being sent. */
  deadlineAtMs: number | null;
  wrongCodes: number;
}

/** What a reply from a phone does. */
export type ReplyDecision =
  /** It decides the confirmation whose code it names. */
  | { kind: 'decided'; orderId: string; outcome: 'accepted' | 'rejected' }
  /** Its code names a confirmation no longer waiting (ended before, or past its deadline now: expiredNow). */
  | { kind: 'late'; orderId: string; outcome: ConfirmationOutcome; expiredNow: boolean }
  /** Its code names none: a wrong code against each open confirmation of the phone; `failed` reached the limit. */
  | { kind: 'wrong_code'; counted: string[]; failed: string[] }
  /** Not a reply the broker can read, from a phone with confirmations open. */
  | { kind: 'unreadable' }
  /** Nothing of this phone is waiting, nor has the code. */
  | { kind: 'nothing_open' };

const isOpen = (c: ReplyCandidate) => c.state === 'sending' || c.state === 'pending';

/**
 * Decides a reply (null: unreadable) against the candidates, newest first, at nowMs. The code decides which order it
 * is for: an open confirmation with that code first, else the newest ended one with it. A reply by the deadline
 * decides it; at or after, it is late (the confirmation expires now, if nothing closed it yet).
 */
export function decideReply(candidates: ReplyCandidate[], reply: Reply | null, nowMs: number): ReplyDecision {
  const open = candidates.filter(isOpen);
  if (!reply) return open.length ? { kind: 'unreadable' } : { kind: 'nothing_open' };
  const match = open.find((c) => c.code === reply.code) ?? candidates.find((c) => c.code === reply.code);
  if (match) {
    if (!isOpen(match)) return { kind: 'late', orderId: match.orderId, outcome: match.state as ConfirmationOutcome, expiredNow: false };
    if (match.deadlineAtMs !== null && nowMs >= match.deadlineAtMs) return { kind: 'late', orderId: match.orderId, outcome: 'expired', expiredNow: true };
    return { kind: 'decided', orderId: match.orderId, outcome: reply.decision === 'accept' ? 'accepted' : 'rejected' };
  }
  // (a confirmation past its deadline is expiring, not guessed at: a wrong code does not count against it)
  const live = open.filter((c) => c.deadlineAtMs === null || nowMs < c.deadlineAtMs);
  if (live.length === 0) return { kind: 'nothing_open' };
  return { kind: 'wrong_code', counted: live.map((c) => c.orderId), failed: live.filter((c) => c.wrongCodes + 1 >= MAX_WRONG_CODES).map((c) => c.orderId) };
}
