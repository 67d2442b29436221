// The simulator's card rules: Luhn and expiry checks at tokenization, brand by number prefix, the
// deterministic test cards that decide authorizations (and reservations), the debit and prepaid test cards with a
// balance at their issuer, the cards whose captures are disputed, and AVS codes by billing postal code.
//
// Test cards (any future expiry, any CVC):
//   4242424242424242  visa        approved
//   4000000000000002  visa        declined  card_declined
//   4000000000009995  visa        declined  insufficient_funds
//   4000000000000069  visa        declined  expired_card (at authorization; it tokenizes fine)
//   5555555555554444  mastercard  approved
//   4000002760003184  visa        authentication_required, then approved once authenticated
//   4000008260003178  visa        authentication_required, then declined insufficient_funds once authenticated
// The two step-up cards behave like 3-D Secure test cards: every authorization on them answers status
// authentication_required (declineCode authentication_required, no expiry), and the broker completes it with the
// outcome of the cardholder's authentication (POST /v1/authorizations/:id/authentication). Authenticated, the card
// then decides as it would otherwise (AVS by postal code, expiry, its decline); not authenticated, it is declined
// authentication_failed. A charge line of a batch file on them fails authentication_required (a batch charge has
// no cardholder to step up). A reauthorization is merchant-initiated, so it is not asked for authentication: the
// card decides as after one (see processor.ts, reauthorize).
// Any other number that passes the Luhn check is approved. A card whose real expiry date has passed is
// refused at tokenization (400 invalid_card) and declined expired_card at authorization.
//
// Test cards with a balance at their issuer (approved like 4242424242424242 otherwise):
//   4000056655665556  visa        debit    50000 minor units available (USD)
//   5105105105105100  mastercard  prepaid  10000 minor units available (USD)
// A balance belongs to the token: each tokenization of one of these cards starts a balance of its own at the card's
// initial amount (tests set it with PUT /admin/tokens/:token/balance). A balance inquiry answers it; a reservation
// takes its amount from it (declined insufficient_funds when less is available, nothing reserved), a capture of the
// reservation keeps what it captures, and a release or an expiry gives the rest back (see reservations.ts). Every
// other card is a credit card: it has no balance (an inquiry answers 409 balance_not_available) and a reservation on
// it is limited by nothing, as a credit line. The declining and step-up cards above decline reservations as they do
// authorizations; a step-up card declines authentication_required (a reservation has no step-up).
//
// Test cards whose cardholder disputes every capture (approved like 4242424242424242 otherwise):
//   4000000000000259  visa        dispute  fraudulent
//   4000000000001976  visa        dispute  provisioning_failed
// Right after each capture on them (of an authorization or a reservation; not a batch charge line: a charge is
// disputed by the admin API only, POST /admin/charges/:id/disputes, whatever its card), a dispute of the capture's
// whole amount is opened, status needs_response, and dispute.created is sent to the broker (see disputes.ts). A refund
// covering a provisioning_failed dispute's amount resolves it 'refunded', without a fee.
//
// AVS by billing postal code:
//   00000 → N (no match)     11111 → A (address only)   22222 → Z (postal code only)
//   33333 → U (unavailable)  44444 → S (not supported)  55555 → R (retry)   anything else → Y (full match)
// An authorization on an unknown token is declined invalid_token with AVS U.
import type { AvsCode, DisputeReason } from '../client';

export interface TestCard {
  brand: string;
  /**
   * undefined approves; otherwise the decline code every authorization on this card gets (on a card that requires
   * authentication: once authenticated).
   */
  declineCode?: string;
  /** Every cardholder-initiated authorization asks for step-up authentication first (3-D Secure). */
  requiresAuthentication?: boolean;
  /** A debit or prepaid card: the balance each of its tokens starts with at the issuer. Absent: a credit card. */
  funds?: CardFunds;
  /** Its cardholder disputes every capture on it at once, for this reason (approved otherwise). */
  disputeReason?: DisputeReason;
}

export type FundsKind = 'debit' | 'prepaid';

export interface CardFunds {
  kind: FundsKind;
  initialMinor: number;
  currency: string;
}

export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  '4242424242424242': { brand: 'visa' },
  '4000000000000002': { brand: 'visa', declineCode: 'card_declined' },
  '4000000000009995': { brand: 'visa', declineCode: 'insufficient_funds' },
  '4000000000000069': { brand: 'visa', declineCode: 'expired_card' },
  '5555555555554444': { brand: 'mastercard' },
  '4000002760003184': { brand: 'visa', requiresAuthentication: true },
  '4000008260003178': { brand: 'visa', requiresAuthentication: true, declineCode: 'insufficient_funds' },
  '4000056655665556': { brand: 'visa', funds: { kind: 'debit', initialMinor: 50_000, currency: 'USD' } },
  '5105105105105100': { brand: 'mastercard', funds: { kind: 'prepaid', initialMinor: 10_000, currency: 'USD' } },
  '4000000000000259': { brand: 'visa', disputeReason: 'fraudulent' },
  '4000000000001976': { brand: 'visa', disputeReason: 'provisioning_failed' },
};

export const AVS_BY_POSTAL_CODE: Readonly<Record<string, AvsCode>> = {
  '00000': 'N',
  '11111': 'A',
  '22222': 'Z',
  '33333': 'U',
  '44444': 'S',
  '55555': 'R',
};

export const avsCodeFor = (postalCode: string): AvsCode => AVS_BY_POSTAL_CODE[postalCode] ?? 'Y';

export function luhnValid(cardNumber: string): boolean {
  if (!/^\d{12,19}$/.test(cardNumber)) return false;
  let sum = 0;
  for (let i = 0; i < cardNumber.length; i++) {
    let d = cardNumber.charCodeAt(cardNumber.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function brandOf(cardNumber: string): string {
  const known = TEST_CARDS[cardNumber];
  if (known) return known.brand;
  if (/^4/.test(cardNumber)) return 'visa';
  if (/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/.test(cardNumber)) return 'mastercard';
  if (/^3[47]/.test(cardNumber)) return 'amex';
  if (/^(6011|65)/.test(cardNumber)) return 'discover';
  return 'unknown';
}

/** A card is good through the last day of its expiry month (UTC). */
export function cardExpired(expMonth: number, expYear: number, nowMs: number): boolean {
  return nowMs >= Date.UTC(expYear, expMonth, 1);
}
