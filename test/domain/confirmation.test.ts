// Confirmation by message: the pure rules. How a reply is read, how a number is shown, when the merchant's policy
// asks, what the texts tell the customer, and what a reply does to a phone's confirmations (decideReply).
import { describe, expect, it } from 'vitest';
import {
  CONFIRMATION_CODE_DIGITS, type ConfirmationOutcome, DEFAULT_SENDER_ID, decidedText, decideReply, E164, expiredText,
  isSenderId, maskPhone, MAX_WRONG_CODES, offerText, parseReply, policyReason, type ReplyCandidate,
} from '../../domain/confirmation';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');

function candidate(over: Partial<ReplyCandidate> & { orderId: string; code: string }): ReplyCandidate {
  return { state: 'pending', deadlineAtMs: NOW + 60_000, wrongCodes: 0, ...over };
}

describe('parseReply', () => {
  it('reads YES as accept and NO as reject, in any case', () => {
    for (const yes of ['YES 123456', 'yes 123456', 'Yes 123456', 'yEs 123456']) {
      expect(parseReply(yes)).toEqual({ decision: 'accept', code: '123456' });
    }
    for (const no of ['NO 654321', 'no 654321', 'No 654321', 'nO 654321']) {
      expect(parseReply(no)).toEqual({ decision: 'reject', code: '654321' });
    }
  });

  it('takes spaces, a colon or a dash between the word and the code', () => {
    for (const body of ['YES 012345', 'YES    012345', 'YES\t012345', 'YES:012345', 'YES: 012345', 'YES : 012345', 'YES-012345', 'YES - 012345']) {
      expect(parseReply(body), body).toEqual({ decision: 'accept', code: '012345' });
    }
  });

  it('takes a final full stop or exclamation mark, and spaces around the reply', () => {
    expect(parseReply('YES 123456.')).toEqual({ decision: 'accept', code: '123456' });
    expect(parseReply('no 123456!')).toEqual({ decision: 'reject', code: '123456' });
    expect(parseReply('  YES 123456 .  ')).toEqual({ decision: 'accept', code: '123456' });
    expect(parseReply('YES 123456\n')).toEqual({ decision: 'accept', code: '123456' });
  });

  it('keeps the code as text, leading zeros included', () => {
    expect(parseReply('YES 000001')?.code).toBe('000001');
  });

  it('needs exactly six digits: five or seven are refused', () => {
    expect(CONFIRMATION_CODE_DIGITS).toBe(6);
    expect(parseReply('YES 123456')).not.toBeNull();
    expect(parseReply('YES 12345')).toBeNull();
    expect(parseReply('YES 1234567')).toBeNull();
    expect(parseReply('NO 12345.')).toBeNull();
    expect(parseReply('NO 1234567!')).toBeNull();
    expect(parseReply('YES 123 456')).toBeNull();
  });

  it('refuses other words, a missing word or code, and empty bodies', () => {
    for (const body of ['OK 123456', 'Y 123456', 'YEP 123456', 'YESS 123456', 'NOPE 123456', 'N 123456', '123456', 'YES', 'NO', '', '   ']) {
      expect(parseReply(body), JSON.stringify(body)).toBeNull();
    }
  });

  it('refuses text around the reply and more than one final mark', () => {
    for (const body of ['please YES 123456', 'YES 123456 thanks', 'YES 123456 NO 654321', 'YES 123456..', 'YES 123456!!', 'YES 123456?', 'YES :- 123456']) {
      expect(parseReply(body), body).toBeNull();
    }
  });
});

describe('maskPhone', () => {
  it('hides all but the last four digits and keeps the length', () => {
    expect(maskPhone('+15555550100')).toBe('+*******0100');
    expect(maskPhone('+15555550100')).toHaveLength('+15555550100'.length);
    expect(maskPhone('+491511234567890')).toBe('+***********7890');
  });

  it('at the shortest E.164 number, still shows only four digits', () => {
    expect(maskPhone('+1234567')).toBe('+***4567');
  });
});

describe('policyReason', () => {
  it('asks for an amount strictly above the threshold: not at it, yes one minor unit past it', () => {
    const policy = { aboveMinor: 10_000, firstOrders: false };
    expect(policyReason(policy, 9_999, false)).toBeNull();
    expect(policyReason(policy, 10_000, false)).toBeNull();
    expect(policyReason(policy, 10_001, false)).toBe('amount');
  });

  it('a threshold of zero asks for every non-zero amount', () => {
    expect(policyReason({ aboveMinor: 0, firstOrders: false }, 0, false)).toBeNull();
    expect(policyReason({ aboveMinor: 0, firstOrders: false }, 1, false)).toBe('amount');
  });

  it('a null threshold never asks for the amount, however large', () => {
    expect(policyReason({ aboveMinor: null, firstOrders: false }, Number.MAX_SAFE_INTEGER, false)).toBeNull();
  });

  it('asks for a first order only when the policy covers first orders', () => {
    expect(policyReason({ aboveMinor: null, firstOrders: true }, 100, true)).toBe('first_order');
    expect(policyReason({ aboveMinor: null, firstOrders: true }, 100, false)).toBeNull();
    expect(policyReason({ aboveMinor: null, firstOrders: false }, 100, true)).toBeNull();
  });

  it('the amount wins over first_order when both apply; first_order still applies below the threshold', () => {
    expect(policyReason({ aboveMinor: 10_000, firstOrders: true }, 10_001, true)).toBe('amount');
    expect(policyReason({ aboveMinor: 10_000, firstOrders: true }, 10_000, true)).toBe('first_order');
  });
});

describe('texts to the customer', () => {
  it('the offer names the merchant, the amount as given, the code, how to reply and the minutes left', () => {
    const text = offerText({ merchantName: 'Demo Shop', amount: '$109.37', code: '042917', timeoutMs: 15 * 60_000 });
    expect(text).toContain('Demo Shop');
    expect(text).toContain('$109.37');
    expect(text).toContain('YES 042917');
    expect(text).toContain('NO 042917');
    expect(text).toContain('15 minutes');
    // the reply the text suggests is one the broker reads
    expect(parseReply('YES 042917')).toEqual({ decision: 'accept', code: '042917' });
  });

  it('the offer rounds the timeout to whole minutes, at least one', () => {
    const minutesIn = (timeoutMs: number) => /expires in (\d+) minute/.exec(offerText({ merchantName: 'M', amount: '€1.00', code: '123456', timeoutMs }))?.[1];
    expect(minutesIn(60_000)).toBe('1');
    expect(minutesIn(29_999)).toBe('1');
    expect(minutesIn(0)).toBe('1');
    expect(minutesIn(89_999)).toBe('1');
    expect(minutesIn(90_000)).toBe('2');
    expect(minutesIn(60 * 60_000)).toBe('60');
  });

  it('the late answer names the code and says nothing was charged', () => {
    const text = expiredText('042917');
    expect(text).toContain('042917');
    expect(text).toMatch(/expired/);
    expect(text).toMatch(/nothing was charged/);
  });

  it('the answer to a decided confirmation names the code and says whether it was confirmed', () => {
    expect(decidedText('042917', 'accepted')).toContain('042917');
    expect(decidedText('042917', 'accepted')).toMatch(/already confirmed/);
    for (const outcome of ['rejected', 'failed', 'expired', 'cancelled', 'not_sent'] as ConfirmationOutcome[]) {
      const text = decidedText('042917', outcome);
      expect(text, outcome).toContain('042917');
      expect(text, outcome).toMatch(/nothing was charged/);
      expect(text, outcome).not.toMatch(/confirmed/);
    }
  });
});

describe('decideReply', () => {
  it('a YES with the code of an open confirmation accepts it, a NO rejects it', () => {
    const c = [candidate({ orderId: 'ord_1', code: '111111' })];
    expect(decideReply(c, { decision: 'accept', code: '111111' }, NOW)).toEqual({ kind: 'decided', orderId: 'ord_1', outcome: 'accepted' });
    expect(decideReply(c, { decision: 'reject', code: '111111' }, NOW)).toEqual({ kind: 'decided', orderId: 'ord_1', outcome: 'rejected' });
  });

  it('a reply one millisecond before the deadline decides; at the deadline or after it is late and expires it now', () => {
    const c = [candidate({ orderId: 'ord_1', code: '111111', deadlineAtMs: NOW })];
    const yes = { decision: 'accept' as const, code: '111111' };
    expect(decideReply(c, yes, NOW - 1)).toEqual({ kind: 'decided', orderId: 'ord_1', outcome: 'accepted' });
    expect(decideReply(c, yes, NOW)).toEqual({ kind: 'late', orderId: 'ord_1', outcome: 'expired', expiredNow: true });
    expect(decideReply(c, yes, NOW + 1)).toEqual({ kind: 'late', orderId: 'ord_1', outcome: 'expired', expiredNow: true });
    expect(decideReply(c, { decision: 'reject', code: '111111' }, NOW)).toEqual({ kind: 'late', orderId: 'ord_1', outcome: 'expired', expiredNow: true });
  });

  it('a confirmation whose offer is still being sent (no deadline yet) counts as open and is decided', () => {
    const c = [candidate({ orderId: 'ord_1', code: '111111', state: 'sending', deadlineAtMs: null })];
    expect(decideReply(c, { decision: 'accept', code: '111111' }, NOW + 365 * 86_400_000))
      .toEqual({ kind: 'decided', orderId: 'ord_1', outcome: 'accepted' });
    expect(decideReply(c, null, NOW)).toEqual({ kind: 'unreadable' });
    expect(decideReply(c, { decision: 'accept', code: '999999' }, NOW)).toEqual({ kind: 'wrong_code', counted: ['ord_1'], failed: [] });
  });

  it('the code of an ended confirmation is late with the outcome it ended in, not expired now', () => {
    for (const outcome of ['accepted', 'rejected', 'failed', 'expired', 'cancelled', 'not_sent'] as ConfirmationOutcome[]) {
      const c = [candidate({ orderId: 'ord_old', code: '222222', state: outcome, deadlineAtMs: NOW - 60_000 })];
      expect(decideReply(c, { decision: 'accept', code: '222222' }, NOW), outcome)
        .toEqual({ kind: 'late', orderId: 'ord_old', outcome, expiredNow: false });
    }
  });

  it('the code of an ended confirmation is late even while other confirmations of the phone are open (no wrong code counted)', () => {
    const c = [
      candidate({ orderId: 'ord_new', code: '333333', wrongCodes: MAX_WRONG_CODES - 1 }),
      candidate({ orderId: 'ord_old', code: '222222', state: 'accepted' }),
    ];
    expect(decideReply(c, { decision: 'accept', code: '222222' }, NOW)).toEqual({ kind: 'late', orderId: 'ord_old', outcome: 'accepted', expiredNow: false });
  });

  it('with several pending for one phone the code decides which one', () => {
    const c = [
      candidate({ orderId: 'ord_3', code: '333333' }),
      candidate({ orderId: 'ord_2', code: '222222', state: 'sending', deadlineAtMs: null }),
      candidate({ orderId: 'ord_1', code: '111111' }),
    ];
    expect(decideReply(c, { decision: 'accept', code: '111111' }, NOW)).toEqual({ kind: 'decided', orderId: 'ord_1', outcome: 'accepted' });
    expect(decideReply(c, { decision: 'reject', code: '222222' }, NOW)).toEqual({ kind: 'decided', orderId: 'ord_2', outcome: 'rejected' });
    expect(decideReply(c, { decision: 'accept', code: '333333' }, NOW)).toEqual({ kind: 'decided', orderId: 'ord_3', outcome: 'accepted' });
  });

  it('an open confirmation with the code wins over an ended one with the same code, whichever is newer', () => {
    const open = candidate({ orderId: 'ord_open', code: '444444' });
    const ended = candidate({ orderId: 'ord_ended', code: '444444', state: 'rejected' });
    const yes = { decision: 'accept' as const, code: '444444' };
    expect(decideReply([ended, open], yes, NOW)).toEqual({ kind: 'decided', orderId: 'ord_open', outcome: 'accepted' });
    expect(decideReply([open, ended], yes, NOW)).toEqual({ kind: 'decided', orderId: 'ord_open', outcome: 'accepted' });
  });

  it('of two ended confirmations with the code, the newest (first) answers', () => {
    const c = [
      candidate({ orderId: 'ord_newer', code: '555555', state: 'expired' }),
      candidate({ orderId: 'ord_older', code: '555555', state: 'accepted' }),
    ];
    expect(decideReply(c, { decision: 'accept', code: '555555' }, NOW)).toEqual({ kind: 'late', orderId: 'ord_newer', outcome: 'expired', expiredNow: false });
  });

  it('a wrong code counts against every open confirmation of the phone, not the ended ones', () => {
    const c = [
      candidate({ orderId: 'ord_3', code: '333333' }),
      candidate({ orderId: 'ord_2', code: '222222', state: 'accepted' }),
      candidate({ orderId: 'ord_1', code: '111111', state: 'sending', deadlineAtMs: null }),
    ];
    expect(decideReply(c, { decision: 'accept', code: '999999' }, NOW)).toEqual({ kind: 'wrong_code', counted: ['ord_3', 'ord_1'], failed: [] });
  });

  it(`a wrong code fails the confirmations it brings to ${MAX_WRONG_CODES} wrong codes, not those one short`, () => {
    expect(MAX_WRONG_CODES).toBe(3);
    const c = [
      candidate({ orderId: 'ord_at_limit', code: '111111', wrongCodes: MAX_WRONG_CODES - 1 }),
      candidate({ orderId: 'ord_one_before', code: '222222', wrongCodes: MAX_WRONG_CODES - 2 }),
      candidate({ orderId: 'ord_fresh', code: '333333', wrongCodes: 0 }),
    ];
    expect(decideReply(c, { decision: 'reject', code: '999999' }, NOW))
      .toEqual({ kind: 'wrong_code', counted: ['ord_at_limit', 'ord_one_before', 'ord_fresh'], failed: ['ord_at_limit'] });
  });

  it('an unreadable reply is unreadable while something is open, nothing_open otherwise', () => {
    expect(decideReply([candidate({ orderId: 'ord_1', code: '111111' })], null, NOW)).toEqual({ kind: 'unreadable' });
    expect(decideReply([candidate({ orderId: 'ord_1', code: '111111', state: 'accepted' })], null, NOW)).toEqual({ kind: 'nothing_open' });
    expect(decideReply([], null, NOW)).toEqual({ kind: 'nothing_open' });
  });

  it('a readable reply when nothing is open and no confirmation has its code is nothing_open, and counts no wrong code', () => {
    expect(decideReply([], { decision: 'accept', code: '111111' }, NOW)).toEqual({ kind: 'nothing_open' });
    expect(decideReply([candidate({ orderId: 'ord_1', code: '111111', state: 'expired' })], { decision: 'accept', code: '999999' }, NOW))
      .toEqual({ kind: 'nothing_open' });
  });
});

describe('E164 and isSenderId', () => {
  it('E164 takes a plus and 7 to 15 digits, the first not zero', () => {
    expect(E164.test('+1234567')).toBe(true); // 7 digits
    expect(E164.test('+123456')).toBe(false); // 6
    expect(E164.test('+123456789012345')).toBe(true); // 15
    expect(E164.test('+1234567890123456')).toBe(false); // 16
    expect(E164.test('+15555550100')).toBe(true);
  });

  it('E164 refuses a leading zero, a missing plus, spaces, dashes and letters', () => {
    for (const s of ['+0123456789', '15555550100', '+1 555 555 0100', '+1-555-555-0100', '+1555555010A', '+', '']) {
      expect(E164.test(s), s).toBe(false);
    }
  });

  it('an alphanumeric sender id has 1 to 11 letters or digits: 11 taken, 12 refused', () => {
    expect(isSenderId('A')).toBe(true);
    expect(isSenderId('ABCDEFGHIJK')).toBe(true);
    expect(isSenderId('Shop2Go2025')).toBe(true);
    expect(isSenderId('ABCDEFGHIJKL')).toBe(false);
    expect(isSenderId('Shop2Go20256')).toBe(false);
    expect(isSenderId('')).toBe(false);
    expect(isSenderId(DEFAULT_SENDER_ID)).toBe(true);
  });

  it('an alphanumeric sender id needs a letter: all digits are refused, whatever the length', () => {
    for (const s of ['1', '12345', '12345678901']) expect(isSenderId(s), s).toBe(false);
    expect(isSenderId('1234567890A')).toBe(true);
  });

  it('an alphanumeric sender id refuses spaces and punctuation', () => {
    for (const s of ['PAY BROKER', 'PAY-BROKER', 'Shop_1', 'Café']) expect(isSenderId(s), s).toBe(false);
  });

  it('an E.164 number is a sender id at its limits too', () => {
    expect(isSenderId('+15555550100')).toBe(true);
    expect(isSenderId('+1234567')).toBe(true);
    expect(isSenderId('+123456789012345')).toBe(true);
    expect(isSenderId('+123456')).toBe(false);
    expect(isSenderId('+1234567890123456')).toBe(false);
  });
});

describe('decideReply and the texts, after review', () => {
  it('a wrong code does not count against a confirmation already past its deadline (it is expiring, not guessed at)', () => {
    const due = candidate({ orderId: 'ord_due', code: '111111', deadlineAtMs: NOW, wrongCodes: MAX_WRONG_CODES - 1 });
    expect(decideReply([due], { decision: 'accept', code: '999999' }, NOW)).toEqual({ kind: 'nothing_open' });
    const live = candidate({ orderId: 'ord_live', code: '222222', deadlineAtMs: NOW + 1 });
    expect(decideReply([due, live], { decision: 'accept', code: '999999' }, NOW)).toEqual({ kind: 'wrong_code', counted: ['ord_live'], failed: [] });
  });

  it('the offer says "1 minute" for a one-minute deadline and "15 minutes" for fifteen', () => {
    expect(offerText({ merchantName: 'Acme', amount: '$1.00', code: '123456', timeoutMs: 60_000 })).toContain('expires in 1 minute.');
    expect(offerText({ merchantName: 'Acme', amount: '$1.00', code: '123456', timeoutMs: 15 * 60_000 })).toContain('expires in 15 minutes.');
  });
});
