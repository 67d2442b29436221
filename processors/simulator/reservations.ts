// The issuer's side of debit and prepaid cards: balance inquiries and reservations (holds of funds), over the same
// short transactions, helpers and refusals as processor.ts.
//
// A reservation is decided by the card like an authorization (declineCodeOf: invalid_token, authentication_required
// for a step-up card, the test card's decline, expired_card), then by its balance: currency_mismatch when the card's
// balance is in another currency, insufficient_funds when less is available. A declined one is a row with status
// 'declined' and reserves nothing. A placed one takes its amount from the card's available balance (a credit card has
// none: nothing is taken, as from a credit line) until it ends: captured in full, released (what was not captured
// goes back), or expired (the same, by time or early by the issuer).
//
// Expiry happens by time: every call that touches a card or a reservation first expires that card's (or that
// reservation's) due ones, and the periodic sweep (the pump in webhooks.ts) expires the rest. So a balance never
// shows funds held by a reservation past its expiry for longer than a sweep. Locks are taken in one order:
// reservations first, then the card's row.
import type { Knex } from 'knex';
import { MAX_RESERVATION_SECONDS, type LineItem } from '../client';
import { conflict, type EffectName, type IssuerContext, newId, notFound, type Outcome, type Row, SimError, T } from './common';
import { queueEvents } from './events';
import { captureView, checkLineItems, declineCodeOf, insertCapture, reservationView } from './processor';

export { MAX_RESERVATION_SECONDS };
/** The shortest reservation (and extension): 1 s (issuers keep holds for days; tests and demos watch one expire). */
export const MIN_RESERVATION_SECONDS = 1;
/** Reservations expired per sweep (the pump's tick). */
export const EXPIRY_SWEEP_BATCH = 500;

export function balanceView(card: Row) {
  return { object: 'balance', token: card.token, kind: card.funds_kind, availableMinor: Number(card.available_minor), currency: card.balance_currency };
}

/** The effects of each expiry (a SimError or an Outcome carries them): the expiry and its reservation.expired event. */
export const expiries = (rows: Row[]): EffectName[] => rows.flatMap((): EffectName[] => ['reservationExpiries', 'webhookEvents']);

/**
 * Expires active reservations and gives back what they did not capture: the due ones (expires_at passed) of a token,
 * or one reservation, or any (the sweep, at most limit); with early, the one reservation even before it is due (the
 * issuer ending the hold). Rows another transaction holds are skipped (it expires them itself, or the next sweep does).
 * Returns the expired rows.
 */
export async function expireReservations(trx: Knex.Transaction,
  filter: { token?: string; id?: string; early?: boolean }, limit = EXPIRY_SWEEP_BATCH): Promise<Row[]> {
  const conditions = ["status = 'active'"];
  const params: Array<string | number> = [];
  if (!filter.early) conditions.push('expires_at <= clock_timestamp()');
  if (filter.token !== undefined) {
    conditions.push('token = ?');
    params.push(filter.token);
  }
  if (filter.id !== undefined) {
    conditions.push('id = ?');
    params.push(filter.id);
  }
  const { rows } = await trx.raw(`
    WITH due AS (
      SELECT id FROM ${T('reservations')} WHERE ${conditions.join(' AND ')} ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED
    ), ended AS (
      UPDATE ${T('reservations')} r
      SET status = 'expired', released_minor = r.amount_minor - r.captured_minor, ended_at = clock_timestamp()
      FROM due WHERE r.id = due.id
      RETURNING r.*
    ), given_back AS (
      UPDATE ${T('card_tokens')} c SET available_minor = c.available_minor + g.back
      FROM (SELECT token, sum(released_minor) AS back FROM ended WHERE from_balance GROUP BY token) g
      WHERE c.token = g.token
    )
    SELECT * FROM ended ORDER BY id`, [...params, limit]) as { rows: Row[] };
  await queueEvents(trx, 'reservation.expired', rows.map((r) => ({ object: reservationView(r), url: r.webhook_url ?? null })));
  return rows;
}

/** The periodic sweep: expires up to limit due reservations of any card. */
export async function sweepExpiredReservations(db: Knex, limit = EXPIRY_SWEEP_BATCH): Promise<Row[]> {
  return db.transaction((trx) => expireReservations(trx, {}, limit));
}

/** A card's balance at its issuer (after expiring its due reservations). 404 unknown token, 409 for a credit card. */
export async function balance(db: Knex, token: string): Promise<Outcome> {
  return db.transaction(async (trx) => {
    const expired = await expireReservations(trx, { token });
    const card = await trx(T('card_tokens')).where({ token }).first();
    // (a refusal rolls back the expiries too: the next call or sweep applies them)
    if (!card) throw notFound('card token', token);
    if (card.funds_kind === null) throw conflict('balance_not_available', `Card token ${token} is a credit card: its issuer reports no balance`);
    return { status: 200, body: balanceView(card), effects: expiries(expired) };
  });
}

/** Admin: sets a debit or prepaid card's available balance (404 unknown token, 409 a credit card). */
export async function setBalance(db: Knex, token: string, availableMinor: number): Promise<Outcome> {
  return db.transaction(async (trx) => {
    const expired = await expireReservations(trx, { token });
    const card = await trx(T('card_tokens')).where({ token }).forUpdate().first();
    if (!card) throw notFound('card token', token);
    if (card.funds_kind === null) throw conflict('balance_not_available', `Card token ${token} is a credit card: it has no balance`);
    const [row] = await trx(T('card_tokens')).where({ token }).update({ available_minor: availableMinor }).returning('*');
    return { status: 200, body: balanceView(row), effects: expiries(expired) };
  });
}

export interface NewReservation {
  token: string;
  amountMinor: number;
  currency: string;
  reference: string;
  expiresInSeconds: number;
}

/**
 * Places a reservation, or records its decline (201 either way): the card decides (declineCodeOf, asking for step-up:
 * a reservation has none, so a step-up card declines authentication_required), then its balance (currency_mismatch,
 * insufficient_funds). A placed one on a debit or prepaid card takes its amount from the available balance.
 */
export async function reserve(trx: Knex.Transaction, r: NewReservation, ctx: IssuerContext): Promise<Outcome> {
  const expired = await expireReservations(trx, { token: r.token });
  const card = await trx(T('card_tokens')).where({ token: r.token }).forUpdate().first();
  let declineCode = declineCodeOf(card, Date.now());
  const fromBalance = declineCode === null && card.funds_kind !== null;
  if (fromBalance && card.balance_currency !== r.currency) declineCode = 'currency_mismatch';
  else if (fromBalance && BigInt(card.available_minor) < BigInt(r.amountMinor)) declineCode = 'insufficient_funds';
  const placed = declineCode === null;
  // one reading of the clock for its placement and its expiry, so the 7-day bound holds to the microsecond
  const { rows: [{ now }] } = await trx.raw('SELECT clock_timestamp() AS now') as { rows: Array<{ now: Date }> };
  const [row] = await trx(T('reservations')).insert({
    id: newId('rsv'), token: r.token, amount_minor: r.amountMinor, currency: r.currency, reference: r.reference,
    status: placed ? 'active' : 'declined', decline_code: declineCode, from_balance: placed && fromBalance,
    expires_at: placed ? trx.raw('?::timestamptz + make_interval(secs => ?)', [now, r.expiresInSeconds]) : null, created_at: now,
    // where its reservation.expired goes: this process's broker
    webhook_url: ctx.webhookUrl,
  }).returning('*');
  if (placed && fromBalance) await trx(T('card_tokens')).where({ token: r.token }).decrement('available_minor', r.amountMinor);
  const effects: EffectName[] = placed ? ['reservations', 'placedReservations'] : ['reservations'];
  return { status: 201, body: reservationView(row), effects: [...effects, ...expiries(expired)] };
}

/** The reservation, locked, after expiring it if it is due; with the expiries that applied (one or none). */
async function lockReservation(trx: Knex.Transaction, id: string): Promise<{ row: Row; expired: EffectName[] }> {
  const found = await trx(T('reservations')).where({ id }).forUpdate().first();
  if (!found) throw notFound('reservation', id);
  const [expired] = await expireReservations(trx, { id });
  return { row: expired ?? found, expired: expiries(expired ? [expired] : []) };
}

/** Refuses what only an active reservation takes: 409 reservation_declined, reservation_ended (expired included). */
function mustBeActive(r: Row, expired: EffectName[]): void {
  if (r.status === 'declined') throw conflict('reservation_declined', `Reservation ${r.id} was declined (${r.decline_code})`).after(expired);
  if (r.status !== 'active') {
    throw conflict('reservation_ended', `Reservation ${r.id} has ended (${r.status} at ${(r.ended_at as Date).toISOString()})`).after(expired);
  }
}

/**
 * Moves an active reservation's expiry to expiresInSeconds from now: shorter or longer, but at most
 * MAX_RESERVATION_SECONDS after it was placed (409 extension_too_long).
 */
export async function extendReservation(trx: Knex.Transaction, id: string, expiresInSeconds: number): Promise<Outcome> {
  const { row: r, expired } = await lockReservation(trx, id);
  mustBeActive(r, expired);
  const [row] = await trx(T('reservations')).where({ id })
    .whereRaw('clock_timestamp() + make_interval(secs => ?) <= created_at + make_interval(secs => ?)', [expiresInSeconds, MAX_RESERVATION_SECONDS])
    .update({ expires_at: trx.raw('clock_timestamp() + make_interval(secs => ?)', [expiresInSeconds]), extensions: trx.raw('extensions + 1') })
    .returning('*');
  if (!row) {
    throw conflict('extension_too_long',
      `Reservation ${id} can be held at most ${MAX_RESERVATION_SECONDS} s after it was placed (${(r.created_at as Date).toISOString()})`);
  }
  return { status: 200, body: reservationView(row), effects: ['reservationExtensions'] };
}

/** Captures part or all of what is left of an active reservation (409 over_capture); in full, it ends 'captured'. */
export async function captureReservation(trx: Knex.Transaction, id: string, amountMinor: number, lineItems: LineItem[] | undefined,
  ctx: IssuerContext): Promise<Outcome> {
  checkLineItems(amountMinor, lineItems);
  const { row: r, expired } = await lockReservation(trx, id);
  mustBeActive(r, expired);
  const left = BigInt(r.amount_minor) - BigInt(r.captured_minor);
  if (BigInt(amountMinor) > left) throw conflict('over_capture', `Capturing ${amountMinor} exceeds the ${left} left on reservation ${id}`);
  const full = BigInt(amountMinor) === left;
  await trx(T('reservations')).where({ id }).update({
    captured_minor: trx.raw('captured_minor + ?', [amountMinor]),
    ...(full ? { status: 'captured', ended_at: trx.raw('clock_timestamp()') } : {}),
  });
  const { row, effects } = await insertCapture(trx, { reservationId: id, token: r.token, amountMinor, currency: r.currency, lineItems }, ctx);
  return { status: 201, body: captureView(row), effects: [...effects, 'reservationCaptures'] };
}

/** Ends an active reservation and gives back what it did not capture; one already ended (or declined) answers as it stands. */
export async function releaseReservation(trx: Knex.Transaction, id: string): Promise<Outcome> {
  const { row: r, expired } = await lockReservation(trx, id);
  if (r.status !== 'active') return { status: 200, body: reservationView(r), effects: expired };
  const back = BigInt(r.amount_minor) - BigInt(r.captured_minor);
  const [row] = await trx(T('reservations')).where({ id })
    .update({ status: 'released', released_minor: back.toString(), ended_at: trx.raw('clock_timestamp()') }).returning('*');
  if (r.from_balance) await trx(T('card_tokens')).where({ token: r.token }).increment('available_minor', Number(back));
  return { status: 200, body: reservationView(row), effects: ['reservationReleases'] };
}

/** A reservation as it stands (expired first if it is due). */
export async function getReservation(db: Knex, id: string): Promise<Outcome> {
  return db.transaction(async (trx) => {
    const { row, expired } = await lockReservation(trx, id);
    return { status: 200, body: reservationView(row), effects: expired };
  });
}

/** Admin: the issuer ends an active hold before its expiry (as an expiry: the rest goes back); 409 reservation_ended otherwise. */
export async function expireEarly(db: Knex, id: string): Promise<Outcome> {
  return db.transaction(async (trx) => {
    const { row: r, expired } = await lockReservation(trx, id);
    mustBeActive(r, expired);
    const [row] = await expireReservations(trx, { id, early: true });
    if (!row) throw new SimError(500, 'internal_error', `reservation ${id} locked and active but not expired`);
    return { status: 200, body: reservationView(row), effects: expiries([row]) };
  });
}

export async function reservationsByReference(db: Knex, reference: string) {
  const rows = await db(T('reservations')).where({ reference }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(reservationView);
}
