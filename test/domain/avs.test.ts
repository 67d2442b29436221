import { describe, expect, it } from 'vitest';
import { AVS_CODES, type AvsDecision, avsDecision, type AvsPolicy, DEFAULT_AVS_POLICY } from '../../domain/avs';

describe('avsDecision', () => {
  it('decides every known code under the default policy: full matches and unsupported pass, no match fails, the rest go to review', () => {
    const expected: AvsPolicy = { Y: 'accept', A: 'review', Z: 'review', N: 'reject', U: 'review', S: 'accept', R: 'review' };
    for (const code of AVS_CODES) expect(avsDecision(DEFAULT_AVS_POLICY, code), code).toBe(expected[code]);
    // An empty merchant policy is the default policy.
    for (const code of AVS_CODES) expect(avsDecision({}, code), code).toBe(expected[code]);
    expect(Object.keys(DEFAULT_AVS_POLICY).sort()).toEqual([...AVS_CODES].sort());
  });

  it('a partial merchant policy overrides only the codes it names', () => {
    const policy: Partial<AvsPolicy> = { A: 'accept', N: 'review', Y: 'review' };
    const got = Object.fromEntries(AVS_CODES.map((c) => [c, avsDecision(policy, c)]));
    expect(got).toEqual({ Y: 'review', A: 'accept', Z: 'review', N: 'review', U: 'review', S: 'accept', R: 'review' });
    // The override does not leak into the default other merchants get.
    expect(avsDecision(DEFAULT_AVS_POLICY, 'A')).toBe('review');
    expect(avsDecision({}, 'N')).toBe('reject');
  });

  it('a strict merchant can reject what the default would review or accept', () => {
    const strict: Partial<AvsPolicy> = { A: 'reject', Z: 'reject', S: 'reject' };
    expect(avsDecision(strict, 'A')).toBe('reject');
    expect(avsDecision(strict, 'Z')).toBe('reject');
    expect(avsDecision(strict, 'S')).toBe('reject');
    expect(avsDecision(strict, 'Y')).toBe('accept');
  });

  it('sends a code it does not know to review, whatever the policy says about known codes', () => {
    const everything = (d: AvsDecision) => Object.fromEntries(AVS_CODES.map((c) => [c, d])) as AvsPolicy;
    for (const code of ['X', 'y', '', 'YY', ' Y', 'toString', '__proto__']) {
      expect(avsDecision(DEFAULT_AVS_POLICY, code), code).toBe('review');
      expect(avsDecision(everything('accept'), code), code).toBe('review');
      expect(avsDecision(everything('reject'), code), code).toBe('review');
    }
    expect(avsDecision(everything('reject'), 'Y')).toBe('reject');
  });
});
