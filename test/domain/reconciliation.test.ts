import { describe, expect, it } from 'vitest';
import { dayBounds, isDay, mismatchOf, previousDay } from '../../domain/reconciliation';

const rec = (amountMinor: number, kind = 'capture', currency = 'USD') => ({ id: 'cap_1', kind, amountMinor, currency });

describe('reconciliation rules', () => {
  it('a record on one side only, or another amount, currency or kind, is a mismatch', () => {
    expect(mismatchOf(rec(100), rec(100))).toBeNull();
    expect(mismatchOf(rec(100), undefined)).toBe('missing_in_ledger');
    expect(mismatchOf(undefined, rec(100))).toBe('missing_at_processor');
    expect(mismatchOf(rec(100), rec(99))).toBe('amount_differs');
    expect(mismatchOf(rec(100), rec(100, 'capture', 'EUR'))).toBe('amount_differs');
    expect(mismatchOf(rec(100), rec(100, 'refund'))).toBe('amount_differs');
  });
  it('days are real UTC calendar days', () => {
    expect(isDay('2026-12-05')).toBe(true);
    expect(isDay('2024-02-29')).toBe(true);
    for (const bad of ['2026-02-30', '0000-00-00', '2026-13-01', '2026-1-01', '20261205', '2026-12-05T00:00:00Z']) expect(isDay(bad), bad).toBe(false);
    expect(dayBounds('2026-12-05')).toEqual({ from: new Date('2026-12-05T00:00:00Z'), to: new Date('2026-12-06T00:00:00Z') });
    expect(previousDay(new Date('2026-12-06T00:30:00Z'))).toBe('2026-12-05');
  });
});
