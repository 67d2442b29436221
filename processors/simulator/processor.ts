// The simulator's processor operations over PostgreSQL. Each runs inside the caller's short transaction (the
// one that also claims the Idempotency-Key and stores the response), locks the rows it changes, and checks
// every business rule before it writes, so a refusal (SimError, 4xx) leaves nothing behind but the stored
// response. Amounts are bigint in the database and safe integers on the wire. The issuer's side (balances and
// reservations of debit and prepaid cards) is in reservations.ts, over the same helpers.
import type { Knex } from 'knex';
import type { ChargeLine, LineItem, PayoutLine } from '../client';
export { MAX_REPORT_PAGE } from '../client';
import { avsCodeFor, brandOf, cardExpired, luhnValid, TEST_CARDS } from './cards';
import { disputeIfTheCardDoes, disputeView, loyaltyView, resolveByRefund } from './disputes';
import { captureFeeMinor } from './fees';

export {
  conflict, EFFECT_NAMES, iso, newId, notFound, num, SimError, T, type EffectName, type IssuerContext, type Outcome, type Row,
} from './common';
import { conflict, type IssuerContext, iso, newId, notFound, num, SimError, T, type EffectName, type Outcome, type Row } from './common';

// ---- views (the JSON objects; GET /v1/transactions/:id returns the same ones) ----

export function tokenView(r: Row) {
  return { object: 'card_token', token: r.token, last4: r.last4, brand: r.brand, expMonth: r.exp_month, expYear: r.exp_year,
    createdAt: iso(r.created_at) };
}

export function authorizationView(r: Row) {
  return {
    object: 'authorization', id: r.id, status: r.status, declineCode: r.decline_code ?? undefined, avsCode: r.avs_code,
    amountMinor: num(r.amount_minor), currency: r.currency, expiresAt: iso(r.expires_at), reference: r.reference,
    capturedMinor: num(r.captured_minor), voided: r.voided_at !== null,
    releasedMinor: r.released_minor === null ? undefined : num(r.released_minor), voidedAt: iso(r.voided_at),
    reauthorizedFrom: r.reauthorized_from ?? undefined, authenticationId: r.authentication_id ?? undefined,
    createdAt: iso(r.created_at),
  };
}

/**
 * A capture of an authorization (authorizationId) or of a reservation (reservationId), with the processor's fee (none
 * on a capture made before fees were kept) and the line items it was sent.
 */
export function captureView(r: Row) {
  return { object: 'capture', id: r.id, authorizationId: r.authorization_id ?? undefined, reservationId: r.reservation_id ?? undefined,
    amountMinor: num(r.amount_minor), currency: r.currency, feeMinor: r.fee_minor === null ? undefined : num(r.fee_minor),
    refundedMinor: num(r.refunded_minor), batchId: r.batch_id ?? undefined, lineItems: r.line_items ?? undefined, createdAt: iso(r.created_at) };
}

/** A reservation (hold of funds at the issuer; see reservations.ts). */
export function reservationView(r: Row) {
  return {
    object: 'reservation', id: r.id, status: r.status, declineCode: r.decline_code ?? undefined, token: r.token,
    amountMinor: num(r.amount_minor), currency: r.currency, reference: r.reference, capturedMinor: num(r.captured_minor),
    releasedMinor: num(r.released_minor), extensions: r.extensions, expiresAt: iso(r.expires_at), endedAt: iso(r.ended_at),
    createdAt: iso(r.created_at),
  };
}

export function refundView(r: Row) {
  return { object: 'refund', id: r.id, captureId: r.capture_id, amountMinor: num(r.amount_minor), currency: r.currency,
    createdAt: iso(r.created_at) };
}

export function batchView(r: Row) {
  return { object: 'settlement_batch', id: r.id, captureIds: r.capture_ids, totals: r.totals, createdAt: iso(r.created_at) };
}

export function payoutView(r: Row) {
  return { object: 'payout', id: r.id, destination: r.destination, amountMinor: num(r.amount_minor), currency: r.currency,
    createdAt: iso(r.created_at) };
}

/** A charge line as kept (admin lookups; GET /v1/transactions/:id for a succeeded one). */
export function chargeView(r: Row) {
  return {
    object: 'charge', id: r.id ?? undefined, idempotencyKey: r.idempotency_key, fileId: r.file_id, status: r.status,
    declineCode: r.decline_code ?? undefined, token: r.token, amountMinor: num(r.amount_minor), currency: r.currency,
    reference: r.reference, createdAt: iso(r.created_at),
  };
}

/** A payout line as kept (admin lookups; GET /v1/transactions/:id for a paid one). */
export function batchPayoutView(r: Row) {
  return {
    object: 'batch_payout', id: r.id ?? undefined, idempotencyKey: r.idempotency_key, fileId: r.file_id, status: r.status,
    failureCode: r.failure_code ?? undefined, destination: r.destination, amountMinor: num(r.amount_minor),
    currency: r.currency, reference: r.reference, createdAt: iso(r.created_at),
  };
}

export function batchFileView(r: Row) {
  return { object: r.kind === 'charge' ? 'charge_batch' : 'payout_batch', id: r.id, lineCount: r.line_count, createdAt: iso(r.created_at) };
}

// ---- operations ----

export async function tokenize(trx: Knex.Transaction, card: { cardNumber: string; expMonth: number; expYear: number; cvc?: string }): Promise<Outcome> {
  if (!luhnValid(card.cardNumber)) throw new SimError(400, 'invalid_card', 'The card number is not valid');
  if (cardExpired(card.expMonth, card.expYear, Date.now())) throw new SimError(400, 'invalid_card', 'The card has expired');
  const known = TEST_CARDS[card.cardNumber];
  const [row] = await trx(T('card_tokens')).insert({
    token: newId('tok'), last4: card.cardNumber.slice(-4), brand: brandOf(card.cardNumber),
    exp_month: card.expMonth, exp_year: card.expYear, decline_code: known?.declineCode ?? null,
    requires_authentication: known?.requiresAuthentication ?? false,
    // a debit or prepaid card: this token's own balance, from the card's initial amount
    funds_kind: known?.funds?.kind ?? null, available_minor: known?.funds?.initialMinor ?? null, balance_currency: known?.funds?.currency ?? null,
    // a card that disputes each capture on it
    dispute_reason: known?.disputeReason ?? null,
  }).returning('*');
  return { status: 201, body: tokenView(row), effects: ['tokens'] };
}

/** Status of an authorization that awaits the cardholder's step-up authentication, and its decline code. */
export const AUTHENTICATION_REQUIRED = 'authentication_required';
/** Decline code of an authorization whose cardholder failed (or abandoned) step-up authentication. */
const AUTHENTICATION_FAILED = 'authentication_failed';

interface NewAuthorization {
  token: string;
  amountMinor: number;
  currency: string;
  postalCode: string;
  reference: string;
  /** Set on a reauthorization: merchant-initiated, so the card does not ask for step-up authentication. */
  reauthorizedFrom?: string;
}

/** The status an authorization gets from the card's decision (declineCodeOf). */
const statusOf = (declineCode: string | null) =>
  declineCode === null ? 'approved' : declineCode === AUTHENTICATION_REQUIRED ? AUTHENTICATION_REQUIRED : 'declined';

/** When an approved authorization stops being capturable: validitySeconds from now, by the database clock. */
const expiryFrom = (trx: Knex.Transaction, validitySeconds: number) =>
  trx.raw('clock_timestamp() + make_interval(secs => ?)', [validitySeconds]);

/**
 * The card decides: unknown token, a card that asks for step-up authentication (askStepUp false: the cardholder
 * has authenticated, or none takes part, as in a merchant-initiated reauthorization), the test card's decline, a
 * card past its expiry date, else null (approved).
 */
export function declineCodeOf(card: Row | undefined, nowMs: number, askStepUp = true): string | null {
  if (!card) return 'invalid_token';
  if (card.requires_authentication && askStepUp) return AUTHENTICATION_REQUIRED;
  if (card.decline_code) return card.decline_code;
  if (cardExpired(card.exp_month, card.exp_year, nowMs)) return 'expired_card';
  return null;
}

async function insertAuthorization(trx: Knex.Transaction, a: NewAuthorization, validitySeconds: number): Promise<Row> {
  const card = await trx(T('card_tokens')).where({ token: a.token }).first();
  const declineCode = declineCodeOf(card, Date.now(), a.reauthorizedFrom === undefined);
  const [row] = await trx(T('authorizations')).insert({
    id: newId('auth'), token: a.token, amount_minor: a.amountMinor, currency: a.currency, postal_code: a.postalCode,
    reference: a.reference, status: statusOf(declineCode), decline_code: declineCode,
    avs_code: card ? avsCodeFor(a.postalCode) : 'U',
    expires_at: declineCode === null ? expiryFrom(trx, validitySeconds) : null,
    reauthorized_from: a.reauthorizedFrom ?? null,
  }).returning('*');
  return row;
}

export async function authorize(trx: Knex.Transaction, a: NewAuthorization, validitySeconds: number): Promise<Outcome> {
  const row = await insertAuthorization(trx, a, validitySeconds);
  const effects: EffectName[] = row.status === 'approved' ? ['authorizations', 'approvedAuthorizations'] : ['authorizations'];
  return { status: 201, body: authorizationView(row), effects };
}

/** The authorization, locked, with `expired` read from the database clock. */
async function lockAuthorization(trx: Knex.Transaction, id: string): Promise<Row> {
  const row = await trx(T('authorizations')).where({ id }).forUpdate()
    .first('*', trx.raw('(expires_at IS NOT NULL AND expires_at <= clock_timestamp()) AS expired'));
  if (!row) throw notFound('authorization', id);
  return row;
}

/** Capture and void of an authorization that is not approved: declined, or still awaiting authentication. */
const notApproved = (auth: Row) => conflict('authorization_declined', auth.status === AUTHENTICATION_REQUIRED
  ? `Authorization ${auth.id} awaits authentication; it is not approved`
  : `Authorization ${auth.id} was declined`);

/** What is left to capture or release: the authorized amount less what was captured and what was released. */
const leftOn = (auth: Row) => BigInt(auth.amount_minor) - BigInt(auth.captured_minor) - BigInt(auth.released_minor ?? 0);

export async function capture(trx: Knex.Transaction, authorizationId: string, amountMinor: number, lineItems: LineItem[] | undefined,
  ctx: IssuerContext): Promise<Outcome> {
  checkLineItems(amountMinor, lineItems);
  const auth = await lockAuthorization(trx, authorizationId);
  if (auth.status !== 'approved') throw notApproved(auth);
  if (auth.voided_at) throw conflict('authorization_voided', `Authorization ${auth.id} was voided`);
  if (auth.expired) throw conflict('authorization_expired', `Authorization ${auth.id} expired at ${iso(auth.expires_at)}`);
  const remaining = leftOn(auth);
  if (BigInt(amountMinor) > remaining) {
    throw conflict('over_capture', `Capturing ${amountMinor} exceeds the ${remaining} left on authorization ${auth.id}`);
  }
  await trx(T('authorizations')).where({ id: auth.id }).increment('captured_minor', amountMinor);
  const { row, effects } = await insertCapture(trx, { authorizationId: auth.id, token: auth.token, amountMinor, currency: auth.currency, lineItems }, ctx);
  return { status: 201, body: captureView(row), effects };
}

/** Refuses line items whose lines do not add up to the capture's amount (400 line_items_mismatch). */
export function checkLineItems(amountMinor: number, lineItems: LineItem[] | undefined): void {
  if (lineItems === undefined) return;
  const sum = lineItems.reduce((s, l) => s + BigInt(l.quantity) * BigInt(l.unitAmountMinor), 0n);
  if (sum !== BigInt(amountMinor)) {
    throw new SimError(400, 'line_items_mismatch', `The line items add up to ${sum}, not to the amount ${amountMinor}`);
  }
}

/**
 * The capture's row, of an authorization or of a reservation, with the processor's fee (lower with line items, see
 * fees.ts) and the line items it was sent; then the dispute a card that disputes its captures brings at once. The
 * caller has checked and booked the amount on what it captures.
 */
export async function insertCapture(trx: Knex.Transaction,
  c: { authorizationId?: string; reservationId?: string; token: string; amountMinor: number; currency: string; lineItems?: LineItem[] },
  ctx: IssuerContext): Promise<{ row: Row; effects: EffectName[] }> {
  const [row] = await trx(T('captures')).insert({
    id: newId('cap'), authorization_id: c.authorizationId ?? null, reservation_id: c.reservationId ?? null,
    amount_minor: c.amountMinor, currency: c.currency, fee_minor: captureFeeMinor(c.amountMinor, c.lineItems !== undefined),
    line_items: c.lineItems === undefined ? null : JSON.stringify(c.lineItems),
  }).returning('*');
  return { row, effects: ['captures', ...await disputeIfTheCardDoes(trx, row.id, c.token, ctx)] };
}

/**
 * Releases amountMinor of what is left (a partial void, or reversal), or all of it when amountMinor is not given.
 * The authorization stays open for captures of the rest; once nothing is left it is voided.
 */
export async function voidAuthorization(trx: Knex.Transaction, authorizationId: string, amountMinor?: number): Promise<Outcome> {
  const auth = await lockAuthorization(trx, authorizationId);
  if (auth.status !== 'approved') throw notApproved(auth);
  if (auth.voided_at) throw conflict('already_voided', `Authorization ${auth.id} was already voided`);
  const left = leftOn(auth);
  const released = amountMinor === undefined ? left : BigInt(amountMinor);
  if (released > left) {
    throw conflict('over_release', `Releasing ${amountMinor} exceeds the ${left} left uncaptured on authorization ${auth.id}`);
  }
  const remaining = left - released;
  await trx(T('authorizations')).where({ id: auth.id }).update({
    released_minor: (BigInt(auth.released_minor ?? 0) + released).toString(),
    ...(remaining === 0n ? { voided_at: trx.raw('clock_timestamp()') } : {}),
  });
  await trx(T('voids')).insert({ id: newId('vd'), authorization_id: auth.id, released_minor: released.toString() });
  return {
    status: 200,
    body: { object: 'void', authorizationId: auth.id, releasedMinor: Number(released), remainingMinor: Number(remaining) },
    effects: ['voids'],
  };
}

export async function refund(trx: Knex.Transaction, captureId: string, amountMinor: number): Promise<Outcome> {
  const cap = await trx(T('captures')).where({ id: captureId }).forUpdate().first();
  if (!cap) throw notFound('capture', captureId);
  const refundable = BigInt(cap.amount_minor) - BigInt(cap.refunded_minor);
  if (BigInt(amountMinor) > refundable) {
    throw conflict('over_refund', `Refunding ${amountMinor} exceeds the ${refundable} left to refund on capture ${cap.id}`);
  }
  await trx(T('captures')).where({ id: cap.id }).increment('refunded_minor', amountMinor);
  const [row] = await trx(T('refunds')).insert({
    id: newId('re'), capture_id: cap.id, amount_minor: amountMinor, currency: cap.currency,
  }).returning('*');
  return { status: 201, body: refundView(row), effects: ['refunds', ...await resolveByRefund(trx, cap.id, amountMinor)] };
}

/**
 * A new authorization on the old one's card. It is merchant-initiated (no cardholder present), so a card that
 * requires step-up authentication does not ask for it: the card decides as after an authentication. That exemption
 * rests on the cardholder having authenticated the original, so an authorization still awaiting authentication, or
 * whose authentication failed, is refused (409 authorization_not_authenticated) rather than approved behind it.
 */
export async function reauthorize(trx: Knex.Transaction, authorizationId: string, amountMinor: number, validitySeconds: number): Promise<Outcome> {
  // FOR SHARE: a concurrent void (or completed authentication) of the old authorization waits for (or precedes) this reauthorization
  const old = await trx(T('authorizations')).where({ id: authorizationId }).forShare().first();
  if (!old) throw notFound('authorization', authorizationId);
  if (old.voided_at) throw conflict('authorization_voided', `Authorization ${old.id} was voided`);
  if (old.status === AUTHENTICATION_REQUIRED || old.decline_code === AUTHENTICATION_FAILED) {
    throw conflict('authorization_not_authenticated', `Authorization ${old.id} was not authenticated by the cardholder`);
  }
  const row = await insertAuthorization(trx, {
    token: old.token, amountMinor, currency: old.currency, postalCode: old.postal_code, reference: old.reference,
    reauthorizedFrom: old.id,
  }, validitySeconds);
  const effects: EffectName[] = ['authorizations', 'reauthorizations'];
  if (row.status === 'approved') effects.push('approvedAuthorizations');
  return { status: 201, body: authorizationView(row), effects };
}

/**
 * Completes the step-up authentication an authorization awaits, with its outcome: authenticated, the card decides as
 * it would have without the step-up (approved with an expiry, or its decline); not authenticated, it is declined
 * authentication_failed. The authentication's id is kept on the authorization. An authorization already completed
 * answers as it stands, whatever the new outcome says (a retry under a new key is harmless); one that never awaited
 * authentication is refused 409 authentication_not_required.
 */
export async function completeAuthentication(trx: Knex.Transaction, authorizationId: string,
  result: { authenticated: boolean; authenticationId: string }, validitySeconds: number): Promise<Outcome> {
  const auth = await lockAuthorization(trx, authorizationId);
  if (auth.status !== AUTHENTICATION_REQUIRED) {
    if (auth.authentication_id !== null) return { status: 200, body: authorizationView(auth), effects: [] };
    throw conflict('authentication_not_required', `Authorization ${auth.id} does not await authentication`);
  }
  let declineCode: string | null = AUTHENTICATION_FAILED;
  if (result.authenticated) {
    const card = await trx(T('card_tokens')).where({ token: auth.token }).first();
    declineCode = declineCodeOf(card, Date.now(), false);
  }
  const [row] = await trx(T('authorizations')).where({ id: auth.id }).update({
    status: statusOf(declineCode), decline_code: declineCode, authentication_id: result.authenticationId,
    expires_at: declineCode === null ? expiryFrom(trx, validitySeconds) : null,
  }).returning('*');
  const effects: EffectName[] = declineCode === null ? ['authentications', 'approvedAuthorizations'] : ['authentications'];
  return { status: 200, body: authorizationView(row), effects };
}

export async function settleBatch(trx: Knex.Transaction, captureIds: string[]): Promise<Outcome> {
  // locked in id order, so two batches over overlapping captures cannot deadlock
  const rows: Row[] = await trx(T('captures')).whereIn('id', captureIds).orderBy('id').forUpdate();
  const found = new Map(rows.map((r) => [r.id as string, r]));
  const missing = captureIds.find((id) => !found.has(id));
  if (missing) throw notFound('capture', missing);
  const settled = rows.find((r) => r.batch_id !== null);
  if (settled) throw conflict('capture_already_settled', `Capture ${settled.id} is already in settlement batch ${settled.batch_id}`);
  const sums = new Map<string, bigint>();
  for (const r of rows) sums.set(r.currency, (sums.get(r.currency) ?? 0n) + BigInt(r.amount_minor));
  const totals: Record<string, number> = {};
  for (const [currency, sum] of sums) {
    if (sum > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new SimError(422, 'batch_total_too_large', `The ${currency} total of the batch exceeds a safe integer`);
    }
    totals[currency] = Number(sum);
  }
  const id = newId('bat');
  const [row] = await trx(T('settlement_batches')).insert({ id, capture_ids: captureIds, totals }).returning('*');
  await trx(T('captures')).whereIn('id', captureIds).update({ batch_id: id });
  return { status: 201, body: batchView(row), effects: ['batches'] };
}

export async function payout(trx: Knex.Transaction, p: { destination: string; amountMinor: number; currency: string }): Promise<Outcome> {
  const [row] = await trx(T('payouts')).insert({
    id: newId('po'), destination: p.destination, amount_minor: p.amountMinor, currency: p.currency,
  }).returning('*');
  return { status: 201, body: payoutView(row), effects: ['payouts'] };
}

// ---- batch files ----
//
// A file is applied set-based, whatever its size: one insert of the file, one read of the cards (charges), one
// multi-row insert of its lines from arrays (unnest) that skips keys already applied (ON CONFLICT DO NOTHING),
// and one read of the rows behind those keys. Lines are inserted in key order, so two files sharing keys
// that run at once wait on each other's keys in the same order and cannot deadlock; the second then finds the
// first's committed rows. A line is compared with its key's row (inserted now or by an earlier file, or an
// earlier line of this file): the same content returns that row's result, other content fails the line
// idempotency_key_reused without effect.

/** Payout lines to a destination starting with this fail with destination_rejected (for tests). */
export const REJECTED_DESTINATION_PREFIX = 'fail_';

/** An array parameter with null elements (pg sends them as NULL; knex's types allow no nulls in arrays). */
const withNulls = (values: Array<string | null>) => values as string[];

/** The first line of each key, in file order. */
function firstPerKey<L extends { idempotencyKey: string }>(lines: L[]): L[] {
  const seen = new Map<string, L>();
  for (const l of lines) if (!seen.has(l.idempotencyKey)) seen.set(l.idempotencyKey, l);
  return [...seen.values()];
}

/** What tells the two kinds of batch file apart; everything else about them is the same. */
interface BatchKind<L extends ChargeLine | PayoutLine> {
  kind: 'charge' | 'payout';
  table: string;
  fileIdPrefix: string;
  lineIdPrefix: string;
  /** The line's field and column naming what is charged or paid to. */
  target: 'token' | 'destination';
  ok: 'succeeded' | 'paid';
  codeColumn: 'decline_code' | 'failure_code';
  idField: 'chargeId' | 'payoutId';
  codeField: 'declineCode' | 'failureCode';
  effects: { file: EffectName; lines: EffectName; ok: EffectName };
  /** Each line's failure code, null when it goes through. */
  decide(trx: Knex.Transaction, lines: L[]): Promise<Array<string | null>>;
}

const CHARGES: BatchKind<ChargeLine> = {
  kind: 'charge', table: 'charges', fileIdPrefix: 'chf', lineIdPrefix: 'ch', target: 'token', ok: 'succeeded',
  codeColumn: 'decline_code', idField: 'chargeId', codeField: 'declineCode',
  effects: { file: 'chargeFiles', lines: 'chargeLines', ok: 'succeededChargeLines' },
  async decide(trx, lines) {
    const tokens = [...new Set(lines.map((l) => l.token))];
    const { rows: cards } = await trx.raw(`SELECT * FROM ${T('card_tokens')} WHERE token = ANY(?::text[])`, [tokens]);
    const cardOf = new Map<string, Row>((cards as Row[]).map((c) => [c.token, c]));
    const now = Date.now();
    // a card that requires step-up authentication fails authentication_required: no cardholder is there to step up
    return lines.map((l) => declineCodeOf(cardOf.get(l.token), now));
  },
};

const PAYOUTS: BatchKind<PayoutLine> = {
  kind: 'payout', table: 'batch_payouts', fileIdPrefix: 'pof', lineIdPrefix: 'bpo', target: 'destination', ok: 'paid',
  codeColumn: 'failure_code', idField: 'payoutId', codeField: 'failureCode',
  effects: { file: 'payoutFiles', lines: 'payoutLines', ok: 'paidPayoutLines' },
  decide: async (_trx, lines) => lines.map((l) => (l.destination.startsWith(REJECTED_DESTINATION_PREFIX) ? 'destination_rejected' : null)),
};

export const chargeBatch = (trx: Knex.Transaction, lines: ChargeLine[]) => applyBatch(trx, CHARGES, lines);
export const payoutBatch = (trx: Knex.Transaction, lines: PayoutLine[]) => applyBatch(trx, PAYOUTS, lines);

/**
 * The file's row, then its lines: the first line of each key inserted (in key order, ON CONFLICT DO NOTHING),
 * and the keys applied before read back; each line answered from its key's row.
 */
async function applyBatch<L extends ChargeLine | PayoutLine>(trx: Knex.Transaction, k: BatchKind<L>, lines: L[]): Promise<Outcome> {
  const targetOf = (l: L) => (l as unknown as Record<string, string>)[k.target];
  const [file] = await trx(T('batch_files')).insert({ id: newId(k.fileIdPrefix), kind: k.kind, line_count: lines.length }).returning('*');
  const firsts = firstPerKey(lines);
  const codes = await k.decide(trx, firsts);
  const { rows: inserted } = await trx.raw(`
    INSERT INTO ${T(k.table)} (idempotency_key, id, file_id, ${k.target}, amount_minor, currency, reference, status, ${k.codeColumn})
    SELECT l.key, l.id, ?, l.target, l.amount_minor, l.currency, l.reference,
           CASE WHEN l.code IS NULL THEN '${k.ok}' ELSE 'failed' END, l.code
    FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[])
         AS l(key, id, target, amount_minor, currency, reference, code)
    ORDER BY l.key
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *`, [
    file.id, firsts.map((l) => l.idempotencyKey), withNulls(codes.map((c) => (c === null ? newId(k.lineIdPrefix) : null))),
    firsts.map(targetOf), firsts.map((l) => l.amountMinor), firsts.map((l) => l.currency), firsts.map((l) => l.reference),
    withNulls(codes),
  ]) as { rows: Row[] };
  const byKey = new Map<string, Row>(inserted.map((r) => [r.idempotency_key, r]));
  const earlier = firsts.filter((l) => !byKey.has(l.idempotencyKey)).map((l) => l.idempotencyKey);
  if (earlier.length > 0) {
    const { rows } = await trx.raw(`SELECT * FROM ${T(k.table)} WHERE idempotency_key = ANY(?::text[])`, [earlier]);
    for (const r of rows as Row[]) byKey.set(r.idempotency_key, r);
  }
  const results = lines.map((l) => {
    const r = byKey.get(l.idempotencyKey);
    if (!r) throw new Error(`batch file ${file.id}: no row for line key ${l.idempotencyKey} after ON CONFLICT DO NOTHING`);
    if (r[k.target] !== targetOf(l) || num(r.amount_minor) !== l.amountMinor || r.currency !== l.currency) {
      return { idempotencyKey: l.idempotencyKey, reference: l.reference, status: 'failed', amountMinor: l.amountMinor, currency: l.currency,
        [k.codeField]: 'idempotency_key_reused' };
    }
    return {
      idempotencyKey: r.idempotency_key, reference: r.reference, status: r.status, [k.idField]: r.id ?? undefined,
      [k.codeField]: r[k.codeColumn] ?? undefined, amountMinor: num(r.amount_minor), currency: r.currency,
    };
  });
  return {
    status: 201,
    body: { ...batchFileView(file), results },
    effects: [k.effects.file],
    counts: { [k.effects.lines]: inserted.length, [k.effects.ok]: inserted.filter((r) => r.status === k.ok).length },
  };
}

// ---- reads ----

const BY_PREFIX: Array<[string, string, (r: Row) => Record<string, unknown>]> = [
  ['tok_', 'card_tokens', tokenView],
  ['auth_', 'authorizations', authorizationView],
  ['cap_', 'captures', captureView],
  ['re_', 'refunds', refundView],
  ['bat_', 'settlement_batches', batchView],
  ['po_', 'payouts', payoutView],
  ['ch_', 'charges', chargeView],
  ['bpo_', 'batch_payouts', batchPayoutView],
  ['chf_', 'batch_files', batchFileView],
  ['rsv_', 'reservations', reservationView],
  ['dp_', 'disputes', disputeView],
  ['loy_', 'loyalty_signals', loyaltyView],
  ['pof_', 'batch_files', batchFileView],
];

export async function getTransaction(db: Knex, id: string): Promise<Record<string, unknown> | undefined> {
  const kind = BY_PREFIX.find(([prefix]) => id.startsWith(prefix));
  if (!kind) return undefined;
  const [, table, view] = kind;
  const row = await db(T(table)).where(table === 'card_tokens' ? { token: id } : { id }).first();
  return row ? view(row) : undefined;
}

export async function authorizationsByReference(db: Knex, reference: string) {
  const rows = await db(T('authorizations')).where({ reference }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(authorizationView);
}

export async function chargesByReference(db: Knex, reference: string) {
  const rows = await db(T('charges')).where({ reference }).orderBy([{ column: 'created_at' }, { column: 'idempotency_key' }]);
  return rows.map(chargeView);
}

export async function batchPayoutsByReference(db: Knex, reference: string) {
  const rows = await db(T('batch_payouts')).where({ reference }).orderBy([{ column: 'created_at' }, { column: 'idempotency_key' }]);
  return rows.map(batchPayoutView);
}

export async function capturesByAuthorization(db: Knex, authorizationId: string) {
  const rows = await db(T('captures')).where({ authorization_id: authorizationId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(captureView);
}

export async function capturesByReservation(db: Knex, reservationId: string) {
  const rows = await db(T('captures')).where({ reservation_id: reservationId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(captureView);
}

/** Effect counts over the whole database (every simulator process that shares it, since it was created). */
export async function databaseStats(db: Knex): Promise<Record<EffectName, number>> {
  const { rows: [r] } = await db.raw(`
    SELECT
      (SELECT count(*) FROM processor_sim.card_tokens) AS tokens,
      (SELECT count(*) FROM processor_sim.authorizations) AS authorizations,
      (SELECT count(*) FROM processor_sim.authorizations WHERE status = 'approved') AS approved_authorizations,
      (SELECT count(*) FROM processor_sim.captures) AS captures,
      (SELECT count(*) FROM processor_sim.voids) AS voids,
      (SELECT count(*) FROM processor_sim.refunds) AS refunds,
      (SELECT count(*) FROM processor_sim.authorizations WHERE reauthorized_from IS NOT NULL) AS reauthorizations,
      (SELECT count(*) FROM processor_sim.settlement_batches) AS batches,
      (SELECT count(*) FROM processor_sim.payouts) AS payouts,
      (SELECT count(*) FROM processor_sim.authorizations WHERE authentication_id IS NOT NULL) AS authentications,
      (SELECT count(*) FROM processor_sim.batch_files WHERE kind = 'charge') AS charge_files,
      (SELECT count(*) FROM processor_sim.charges) AS charge_lines,
      (SELECT count(*) FROM processor_sim.charges WHERE status = 'succeeded') AS succeeded_charge_lines,
      (SELECT count(*) FROM processor_sim.batch_files WHERE kind = 'payout') AS payout_files,
      (SELECT count(*) FROM processor_sim.batch_payouts) AS payout_lines,
      (SELECT count(*) FROM processor_sim.batch_payouts WHERE status = 'paid') AS paid_payout_lines,
      (SELECT count(*) FROM processor_sim.reservations) AS reservations,
      (SELECT count(*) FROM processor_sim.reservations WHERE status <> 'declined') AS placed_reservations,
      (SELECT coalesce(sum(extensions), 0) FROM processor_sim.reservations) AS reservation_extensions,
      (SELECT count(*) FROM processor_sim.captures WHERE reservation_id IS NOT NULL) AS reservation_captures,
      (SELECT count(*) FROM processor_sim.reservations WHERE status = 'released') AS reservation_releases,
      (SELECT count(*) FROM processor_sim.reservations WHERE status = 'expired') AS reservation_expiries,
      (SELECT count(*) FROM processor_sim.disputes) AS disputes,
      (SELECT count(*) FROM processor_sim.disputes WHERE closed_at IS NOT NULL) AS closed_disputes,
      (SELECT count(*) FROM processor_sim.disputes WHERE evidence IS NOT NULL) AS dispute_evidence,
      (SELECT count(*) FROM processor_sim.provisioning_failures) AS provisioning_failures,
      (SELECT count(*) FROM processor_sim.loyalty_signals) AS loyalty_signals,
      (SELECT count(*) FROM processor_sim.webhook_events) AS webhook_events,
      (SELECT count(*) FROM processor_sim.webhook_events WHERE delivered_at IS NOT NULL) AS webhooks_delivered,
      -- every attempt leased but the successful ones (an attempt under way counts as failed until it ends)
      (SELECT coalesce(sum(attempts), 0) - count(delivered_at) FROM processor_sim.webhook_events) AS webhook_attempts_failed,
      (SELECT count(*) FROM processor_sim.webhook_events WHERE failed_at IS NOT NULL) AS webhooks_given_up`);
  return {
    tokens: num(r.tokens), authorizations: num(r.authorizations), approvedAuthorizations: num(r.approved_authorizations),
    captures: num(r.captures), voids: num(r.voids), refunds: num(r.refunds), reauthorizations: num(r.reauthorizations),
    batches: num(r.batches), payouts: num(r.payouts), authentications: num(r.authentications),
    chargeFiles: num(r.charge_files), chargeLines: num(r.charge_lines), succeededChargeLines: num(r.succeeded_charge_lines),
    payoutFiles: num(r.payout_files), payoutLines: num(r.payout_lines), paidPayoutLines: num(r.paid_payout_lines),
    reservations: num(r.reservations), placedReservations: num(r.placed_reservations),
    reservationExtensions: num(r.reservation_extensions), reservationCaptures: num(r.reservation_captures),
    reservationReleases: num(r.reservation_releases), reservationExpiries: num(r.reservation_expiries),
    disputes: num(r.disputes), closedDisputes: num(r.closed_disputes), disputeEvidence: num(r.dispute_evidence),
    provisioningFailures: num(r.provisioning_failures), loyaltySignals: num(r.loyalty_signals), webhookEvents: num(r.webhook_events),
    webhooksDelivered: num(r.webhooks_delivered), webhookAttemptsFailed: num(r.webhook_attempts_failed), webhooksGivenUp: num(r.webhooks_given_up),
  };
}

// ---- reports: the processor's records of money moved, for reconciliation ----

/**
 * Every record of money moved, one row each: captures, refunds, succeeded charge lines, paid payouts (lines of
 * payout files and single payouts), settlement batches (their totals summed; currency: their codes joined by '+').
 */
const RECORDS = `
  SELECT id, 'capture' AS kind, amount_minor, currency, created_at FROM processor_sim.captures
  UNION ALL SELECT id, 'refund', amount_minor, currency, created_at FROM processor_sim.refunds
  UNION ALL SELECT id, 'charge', amount_minor, currency, created_at FROM processor_sim.charges WHERE status = 'succeeded'
  UNION ALL SELECT id, 'payout', amount_minor, currency, created_at FROM processor_sim.batch_payouts WHERE status = 'paid'
  UNION ALL SELECT id, 'payout', amount_minor, currency, created_at FROM processor_sim.payouts
  UNION ALL SELECT b.id, 'batch', t.amount, t.currency, b.created_at FROM processor_sim.settlement_batches b,
    LATERAL (SELECT sum(value::bigint) AS amount, string_agg(key, '+' ORDER BY key) AS currency FROM jsonb_each_text(b.totals)) t`;

const recordView = (r: Row) => ({ id: r.id, kind: r.kind, amountMinor: num(r.amount_minor), currency: r.currency, createdAt: iso(r.created_at) });

/**
 * A page of the records made in [from, to), oldest first. The cursor is opaque: the last record's time (to the
 * microsecond, as text) and id, so no record is skipped or repeated between pages.
 */
export async function recordsBetween(db: Knex, from: Date, to: Date, cursor: string | undefined, limit: number) {
  const [at, id] = cursor === undefined ? [null, null] : cursor.split('|', 2);
  const { rows } = await db.raw(`SELECT r.*, r.created_at::text || '|' || r.id AS cursor FROM (${RECORDS}) r
    WHERE r.created_at >= ? AND r.created_at < ? AND (?::timestamptz IS NULL OR (r.created_at, r.id) > (?::timestamptz, ?::text))
    ORDER BY r.created_at, r.id LIMIT ?`, [from, to, at, at, id, limit + 1]) as { rows: Row[] };
  const page = rows.slice(0, limit);
  return { data: page.map(recordView), has_more: rows.length > limit, next: page.at(-1)?.cursor ?? null };
}

/** The records with these ids (those the processor has). */
export async function recordsById(db: Knex, ids: string[]) {
  const { rows } = await db.raw(`SELECT r.* FROM (${RECORDS}) r WHERE r.id = ANY(?::text[]) ORDER BY r.id`, [ids]) as { rows: Row[] };
  return { data: rows.map(recordView) };
}

/** Admin: a record's amount changed, or the record dropped, behind everyone's back (reconciliation's fault tests). */
export async function tamperRecord(db: Knex, id: string, change: { amountMinor: number } | 'drop'): Promise<boolean> {
  const table = BY_PREFIX.find(([prefix]) => id.startsWith(prefix))?.[1];
  if (!table || !['captures', 'refunds', 'charges', 'batch_payouts', 'payouts'].includes(table)) return false;
  if (change === 'drop') {
    if (table === 'captures') {
      for (const t of ['refunds', 'disputes', 'provisioning_failures', 'loyalty_signals']) await db(T(t)).where({ capture_id: id }).delete();
    }
    if (table === 'charges') await db(T('disputes')).where({ charge_id: id }).delete();
    return (await db(T(table)).where({ id }).delete()) > 0;
  }
  return (await db(T(table)).where({ id }).update({ amount_minor: change.amountMinor })) > 0;
}
