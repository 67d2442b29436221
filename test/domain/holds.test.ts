// A hold's rules: placing, captures up to the amount (in flight ones counted), repeats under one request key, the
// release and the expiry (early or not), and what each leaves to the customer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Hold, HoldError, type HoldInput, MAX_HOLD_CAPTURES } from '../../domain/holds';

const input = (over: Partial<HoldInput> = {}): HoldInput => ({
  holdId: 'hold_1', merchantId: 'm1', customerId: null, token: 'tok_1', amountMinor: 10_000, currency: 'USD', expiresInSeconds: 3600,
  feeBps: 250, description: null, ...over,
});
const placed = (over: Partial<HoldInput> = {}) => {
  const h = new Hold(input(over));
  h.placed({ id: 'res_1', expiresAt: '2026-01-01T01:00:00.000Z' });
  return h;
};
const code = (fn: () => unknown) => { try { fn(); return 'none'; } catch (e) { return (e as HoldError).code; } };
const capture = (h: Hold, key: string, amountMinor?: number) => {
  h.requestCapture(key, amountMinor);
  const p = h.pending.find((x) => x.requestKey === key)!;
  h.captured({ id: `cap_${key}`, amountMinor: p.amountMinor, feeMinor: h.feeOf(p.amountMinor), requestKey: key, capturedAt: '2026-01-01T00:10:00.000Z' });
};

describe('a hold', () => {
  it('is placing until the issuer decides; declined or failed, it ends with the reason and reserves nothing', () => {
    const h = new Hold(input());
    expect(h.view()).toMatchObject({ state: 'placing', capturedMinor: 0, releasedMinor: 0, reservationId: null });
    expect(code(() => h.admitCapture('k1', 100))).toBe('hold_not_active');
    h.notPlaced('declined', 'insufficient_funds', 'short', 0);
    expect(h.view()).toMatchObject({ state: 'declined', failure: { code: 'insufficient_funds' }, endedAt: '1970-01-01T00:00:00.000Z' });
    expect(h.isFinal).toBe(true);
    expect(code(() => h.admitRelease())).toBe('hold_not_active');
  });

  it('captures part, then the rest (no amount: all that is left), then is captured', () => {
    const h = placed();
    capture(h, 'k1', 2500);
    expect(h.view()).toMatchObject({ state: 'active', capturedMinor: 2500 });
    expect(h.remainingMinor).toBe(7500);
    capture(h, 'k2');
    expect(h.view()).toMatchObject({ state: 'captured', capturedMinor: 10_000, releasedMinor: 0 });
    expect(h.view().captures.map((c) => [c.amountMinor, c.feeMinor])).toEqual([[2500, 63], [7500, 188]]);
  });

  it('refuses a capture beyond what is left, counting captures in flight; at the limit exactly it is taken', () => {
    const h = placed();
    h.requestCapture('k1', 6000);
    expect(h.remainingMinor).toBe(4000);
    expect(code(() => h.admitCapture('k2', 4001))).toBe('over_capture');
    expect(h.admitCapture('k2', 4000)).toBe(4000);
    expect(code(() => h.admitCapture('k3', 0))).toBe('invalid_amount');
    h.captureFailed('k1');
    expect(h.remainingMinor).toBe(10_000);
  });

  it('answers a repeated request key with its capture (or its amount while in flight), whatever amount it names', () => {
    const h = placed();
    h.requestCapture('k1', 3000);
    expect(h.admitCapture('k1', 9999)).toBe(3000);
    h.requestCapture('k1', 3000);
    expect(h.pending).toHaveLength(1);
    h.captured({ id: 'cap_1', amountMinor: 3000, feeMinor: 75, requestKey: 'k1', capturedAt: 'x' });
    h.captured({ id: 'cap_1', amountMinor: 3000, feeMinor: 75, requestKey: 'k1', capturedAt: 'x' });
    expect(h.admitCapture('k1')).toMatchObject({ id: 'cap_1' });
    expect(h.capturedMinor).toBe(3000);
  });

  it(`takes at most ${MAX_HOLD_CAPTURES} captures`, () => {
    const h = placed({ amountMinor: 1000 });
    for (let i = 0; i < MAX_HOLD_CAPTURES; i++) capture(h, `k${i}`, 1);
    expect(code(() => h.admitCapture('one-more', 1))).toBe('too_many_captures');
  });

  it('released or expired, gives the rest back; a released hold answers a release as it stands, an expired one refuses it', () => {
    const r = placed();
    capture(r, 'k1', 4000);
    expect(r.admitRelease()).toBe(true);
    r.ended('released', '2026-01-01T00:20:00.000Z');
    expect(r.view()).toMatchObject({ state: 'released', capturedMinor: 4000, releasedMinor: 6000, expiredEarly: false });
    expect(r.admitRelease()).toBe(false);
    expect(code(() => r.admitCapture('k2', 1))).toBe('hold_not_active');

    const e = placed();
    e.ended('expired', '2026-01-01T00:30:00.000Z', true);
    expect(e.view()).toMatchObject({ state: 'expired', releasedMinor: 10_000, expiredEarly: true });
    expect(code(() => e.admitRelease())).toBe('hold_not_active');
    e.ended('released', 'later');
    expect(e.state).toBe('expired');
  });

  it('never captures more than its amount, and captured + released is the amount once it has ended (any sequence)', () => {
    fc.assert(fc.property(fc.array(fc.record({ amount: fc.option(fc.integer({ min: 1, max: 12_000 }), { nil: undefined }), fail: fc.boolean() }),
      { maxLength: 20 }), fc.constantFrom('released', 'expired'), (asks, end) => {
      const h = placed();
      asks.forEach((a, i) => {
        try {
          h.requestCapture(`k${i}`, a.amount);
        } catch (e) {
          expect(e).toBeInstanceOf(HoldError);
          return;
        }
        if (a.fail) h.captureFailed(`k${i}`);
        else capture(h, `k${i}`);
      });
      expect(h.capturedMinor).toBeLessThanOrEqual(10_000);
      h.ended(end, 'x');
      expect(h.isFinal).toBe(true);
      expect(h.capturedMinor + h.releasedMinor).toBe(10_000);
    }));
  });
});
