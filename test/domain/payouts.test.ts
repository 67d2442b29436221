import { describe, expect, it } from 'vitest';
import { isPayoutDay, payoutAmount, reserveHold, reserveReleaseOn, scheduledPeriodKey } from '../../domain/payouts';

const NONE = { capturesMinor: 0n, feesMinor: 0n, refundsMinor: 0n, releasedMinor: 0n, carriedMinor: 0n };
const PLAIN = { reserveBps: 0, reserveDays: 0, minimumMinor: 0n };

describe('payout schedules', () => {
  const monday = new Date('2026-12-07T03:00:00Z');
  it('daily pays every day, weekly on its anchor (UTC), manual never', () => {
    expect(isPayoutDay({ interval: 'daily', weeklyAnchor: 1 }, monday)).toBe(true);
    expect(isPayoutDay({ interval: 'weekly', weeklyAnchor: 1 }, monday)).toBe(true);
    expect(isPayoutDay({ interval: 'weekly', weeklyAnchor: 2 }, monday)).toBe(false);
    expect(isPayoutDay({ interval: 'manual', weeklyAnchor: 1 }, monday)).toBe(false);
    // a Sunday evening west of UTC is already Monday in UTC
    expect(isPayoutDay({ interval: 'weekly', weeklyAnchor: 1 }, new Date('2026-12-06T23:30:00-05:00'))).toBe(true);
  });
  it('a scheduled run is named by its UTC day', () => {
    expect(scheduledPeriodKey(monday)).toBe('2026-12-07');
    expect(reserveReleaseOn(monday, 7).toISOString()).toBe('2026-12-14T03:00:00.000Z');
  });
});

describe('what a payout comes to', () => {
  it('captures less fees less refunds', () => {
    expect(payoutAmount({ ...NONE, capturesMinor: 10_000n, feesMinor: 250n, refundsMinor: 1_000n }, PLAIN))
      .toEqual({ heldMinor: 0n, amountMinor: 8_750n, state: 'pending' });
  });
  it('holds the reserve back from net sales, rounded down, and gives released reserves back', () => {
    expect(reserveHold(9_999n, { reserveBps: 1000, reserveDays: 7 })).toBe(999n);
    expect(reserveHold(9_999n, { reserveBps: 1000, reserveDays: 0 })).toBe(0n);
    expect(reserveHold(-500n, { reserveBps: 1000, reserveDays: 7 })).toBe(0n);
    expect(payoutAmount({ ...NONE, capturesMinor: 10_000n, releasedMinor: 300n }, { ...PLAIN, reserveBps: 500, reserveDays: 30 }))
      .toEqual({ heldMinor: 500n, amountMinor: 9_800n, state: 'pending' });
  });
  it('carries a negative amount, or one below the minimum, and adds what was carried', () => {
    expect(payoutAmount({ ...NONE, capturesMinor: 1_000n, refundsMinor: 3_000n }, PLAIN)).toMatchObject({ amountMinor: -2_000n, state: 'carried' });
    expect(payoutAmount({ ...NONE, capturesMinor: 1_000n }, { ...PLAIN, minimumMinor: 1_001n })).toMatchObject({ state: 'carried' });
    expect(payoutAmount({ ...NONE, capturesMinor: 1_000n }, { ...PLAIN, minimumMinor: 1_000n })).toMatchObject({ state: 'pending' });
    expect(payoutAmount({ ...NONE, capturesMinor: 5_000n, carriedMinor: -2_000n }, PLAIN)).toMatchObject({ amountMinor: 3_000n, state: 'pending' });
    expect(payoutAmount(NONE, PLAIN)).toMatchObject({ amountMinor: 0n, state: 'carried' });
  });
});
