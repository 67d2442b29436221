// A scanner for card numbers (PANs) in text the broker leaves behind: database dumps, log files, workflow
// histories. A card number is 13 to 19 digits that pass the Luhn check, written as one run or in groups
// separated by single spaces or dashes ("4242 4242 4242 4242", "4242-4242-4242-4242").
//
// The scan is strict and its exceptions are narrow, each for text that cannot be a card number as written:
// - a run that touches a digit on either side is part of a longer number (a 20-digit run is not a card);
// - a run that touches a letter is a piece of an identifier, a hex string or a UUID. The broker's dump holds
//   sha256 digests as bytea hex (api_keys.secret_sha256): 64 hex characters hold a 13-digit run about 5 % of
//   the time and Luhn passes a tenth of those; the first runs of card-data.test.ts met such runs twice. A JSON
//   or COPY escape (`\n`, `\t`, `\r`) before a run counts as a separator, not a letter; an underscore, colon
//   or quote is a boundary: `tok_4242424242424242` is found;
// - a 13-digit run that begins with 1 is a time in epoch milliseconds (1e12 to 2e12 is 2001 to 2033). None is
//   in today's sources (pino writes ISO times, historyToJSON too), but one logger left at pino's default would
//   put one on every line and fail a tenth of them. No card scheme issues 13-digit numbers outside Visa's 4
//   range, so no card number is lost with them.
import { luhnValid as simulatorLuhnValid } from '../../processors/simulator/cards';

export const CARD_MIN_DIGITS = 13;
export const CARD_MAX_DIGITS = 19;

/** The Luhn (mod 10) check over a string of digits, 13 to 19 of them. */
export function luhnValid(digits: string): boolean {
  return digits.length >= CARD_MIN_DIGITS && digits.length <= CARD_MAX_DIGITS && simulatorLuhnValid(digits);
}

export interface CardHit {
  /** The digits alone. */
  digits: string;
  /** Offset of the first digit in the text scanned. */
  offset: number;
  /** The text around it, for the failure message. */
  context: string;
}

const CONTEXT_CHARS = 60;
/** Groups of digits joined by single spaces or dashes; the regex is greedy, so a run never starts after a digit. */
const DIGIT_GROUPS = /\d+(?:[ -]\d+)*/g;
const LETTER = /[A-Za-z]/;

/** A letter next to a run, unless it is the letter of a `\n`, `\t` or `\r` escape before it. */
function letterBefore(text: string, at: number): boolean {
  const c = text[at - 1];
  if (c === undefined || !LETTER.test(c)) return false;
  return !(text[at - 2] === '\\' && 'ntr'.includes(c));
}
const letterAfter = (text: string, end: number) => end < text.length && LETTER.test(text[end]);

/** A time in epoch milliseconds, 2001 to 2033: see the head of this file. */
const epochMillis = (digits: string) => digits.length === 13 && digits[0] === '1';

/** Every card number in the text (one hit per distinct place and length). */
export function findCardNumbers(text: string): CardHit[] {
  const hits: CardHit[] = [];
  for (const m of text.matchAll(DIGIT_GROUPS)) {
    // each group with its offset in the text; a card may be any consecutive groups of the match
    const groups: Array<{ start: number; end: number }> = [];
    for (const g of m[0].matchAll(/\d+/g)) groups.push({ start: m.index + g.index, end: m.index + g.index + g[0].length });
    for (let i = 0; i < groups.length; i++) {
      if (letterBefore(text, groups[i].start)) continue;
      let digits = '';
      for (let j = i; j < groups.length; j++) {
        digits += text.slice(groups[j].start, groups[j].end);
        if (digits.length > CARD_MAX_DIGITS) break;
        if (letterAfter(text, groups[j].end) || !luhnValid(digits) || epochMillis(digits)) continue;
        hits.push({ digits, offset: groups[i].start,
          context: text.slice(Math.max(0, groups[i].start - CONTEXT_CHARS), groups[j].end + CONTEXT_CHARS) });
      }
    }
  }
  return hits;
}
