// Step-up authentication's pure rules: the exact texts each side signs (pinned, and unambiguous whatever the field
// values), the binding of an answer to its request, the device's time checks, and the registration code's shape.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  answerBindingMismatch, answerSigningInput, AUTHENTICATION_TIMEOUT_MS, DEVICE_CLOCK_TOLERANCE_MS, MAX_DEVICES_PER_CUSTOMER,
  pollSigningInput, REGISTRATION_CODE_ALPHABET, REGISTRATION_CODE_TTL_MS, registrationCodeValid, requestSigningInput,
  requestTimingProblem, type AuthenticationRequest, type DeviceAnswer,
} from '../../domain/stepUp';

const request: AuthenticationRequest = {
  id: 'authn_1', deviceId: 'dev_1', merchantId: 'mer_1', merchantName: 'Demo shop', orderId: 'ord_1', amountMinor: 1234,
  currency: 'USD', reference: 'auth_ref_1', challenge: 'Y2hhbGxlbmdl', issuedAt: '2025-01-01T00:00:00.000Z',
  expiresAt: '2025-01-01T00:10:00.000Z', serverKeyId: 'authn-0123456789abcdef',
};

const answer: DeviceAnswer = {
  authenticationId: 'authn_1', deviceId: 'dev_1', decision: 'approve', challenge: 'Y2hhbGxlbmdl', amountMinor: 1234, currency: 'USD',
  merchantId: 'mer_1', reference: 'auth_ref_1', signedAt: '2025-01-01T00:01:00.000Z',
};

describe('signing inputs', () => {
  it('are the exact texts of the protocol (server and device must produce them byte for byte)', () => {
    expect(requestSigningInput(request)).toBe('["paybroker-authn-request/v1","authn_1","dev_1","mer_1","Demo shop","ord_1",1234,"USD",'
      + '"auth_ref_1","Y2hhbGxlbmdl","2025-01-01T00:00:00.000Z","2025-01-01T00:10:00.000Z","authn-0123456789abcdef"]');
    expect(answerSigningInput(answer)).toBe('["paybroker-authn-response/v1","authn_1","dev_1","approve","Y2hhbGxlbmdl",1234,"USD",'
      + '"mer_1","auth_ref_1","2025-01-01T00:01:00.000Z"]');
    expect(pollSigningInput('dev_1', 1735689600)).toBe('["paybroker-device-poll/v1","dev_1",1735689600]');
  });

  it('do not depend on the order of an object\'s keys nor on fields outside the protocol', () => {
    const reordered = Object.fromEntries(Object.entries(request).reverse()) as unknown as AuthenticationRequest;
    expect(requestSigningInput(reordered)).toBe(requestSigningInput(request));
    expect(requestSigningInput({ ...request, serverSignature: 'x', status: 'pending' } as AuthenticationRequest)).toBe(requestSigningInput(request));
    expect(answerSigningInput({ ...answer, signature: 'x' } as DeviceAnswer)).toBe(answerSigningInput(answer));
  });

  it('cannot be shared by two requests that move quotes, commas or newlines from one field into the next', () => {
    const a = { ...request, merchantName: 'Shop","ord_2', orderId: 'x' };
    const b = { ...request, merchantName: 'Shop', orderId: 'ord_2","x' };
    expect(requestSigningInput(a)).not.toBe(requestSigningInput(b));
    const c = { ...request, merchantName: 'Shop\n', orderId: 'ord_1' };
    const d = { ...request, merchantName: 'Shop', orderId: '\nord_1' };
    expect(requestSigningInput(c)).not.toBe(requestSigningInput(d));
    expect(requestSigningInput({ ...request, merchantName: 'a\\' })).not.toBe(requestSigningInput({ ...request, merchantName: 'a\\\\' }));
  });

  it('differ for any two different requests, and any two different answers (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const field = fc.constantFrom(...(Object.keys(request) as Array<keyof AuthenticationRequest>).filter((k) => k !== 'amountMinor'));
    fc.assert(fc.property(fc.dictionary(field, text), fc.dictionary(field, text), (x, y) => {
      const a = { ...request, ...x };
      const b = { ...request, ...y };
      const same = (Object.keys(request) as Array<keyof AuthenticationRequest>).every((k) => a[k] === b[k]);
      expect(requestSigningInput(a) === requestSigningInput(b)).toBe(same);
    }));
    const answerField = fc.constantFrom<keyof DeviceAnswer>('authenticationId', 'deviceId', 'challenge', 'currency', 'merchantId', 'reference', 'signedAt');
    fc.assert(fc.property(fc.dictionary(answerField, text), fc.dictionary(answerField, text), fc.integer(), fc.integer(), (x, y, m, n) => {
      const a = { ...answer, ...x, amountMinor: m };
      const b = { ...answer, ...y, amountMinor: n };
      const same = (Object.keys(answer) as Array<keyof DeviceAnswer>).every((k) => a[k] === b[k]);
      expect(answerSigningInput(a) === answerSigningInput(b)).toBe(same);
    }));
  });

  it('name their message, so a signature over one kind of message never passes for another', () => {
    expect(JSON.parse(requestSigningInput(request))[0]).toBe('paybroker-authn-request/v1');
    expect(JSON.parse(answerSigningInput(answer))[0]).toBe('paybroker-authn-response/v1');
    expect(JSON.parse(pollSigningInput('dev_1', 1))[0]).toBe('paybroker-device-poll/v1');
    expect(answerSigningInput({ ...answer, decision: 'reject' })).not.toBe(answerSigningInput(answer));
  });
});

describe('answerBindingMismatch', () => {
  it('accepts an answer that repeats its request, whichever the decision and whichever device sent it', () => {
    expect(answerBindingMismatch(request, answer)).toBeNull();
    expect(answerBindingMismatch(request, { ...answer, decision: 'reject', deviceId: 'dev_other' })).toBeNull();
  });

  it('names each field of the answer that differs from its request', () => {
    const changes: Array<[keyof DeviceAnswer, Partial<DeviceAnswer>]> = [
      ['authenticationId', { authenticationId: 'authn_2' }],
      ['challenge', { challenge: 'b3RoZXI' }],
      ['amountMinor', { amountMinor: 1235 }],
      ['currency', { currency: 'EUR' }],
      ['merchantId', { merchantId: 'mer_2' }],
      ['reference', { reference: 'auth_ref_2' }],
    ];
    for (const [name, change] of changes) expect(answerBindingMismatch(request, { ...answer, ...change })).toBe(name);
  });

  it('compares amounts exactly (a string or a rounded amount is not the amount)', () => {
    expect(answerBindingMismatch(request, { ...answer, amountMinor: '1234' as unknown as number })).toBe('amountMinor');
    expect(answerBindingMismatch(request, { ...answer, amountMinor: 1234.0000001 })).toBe('amountMinor');
  });

  it('names the first differing field when several differ', () => {
    expect(answerBindingMismatch(request, { ...answer, challenge: 'x', reference: 'y' })).toBe('challenge');
    expect(answerBindingMismatch(request, { ...answer, currency: 'EUR', amountMinor: 1 })).toBe('amountMinor');
  });
});

describe('requestTimingProblem', () => {
  const issued = Date.parse(request.issuedAt);
  const expires = Date.parse(request.expiresAt);

  it('lets a device answer until just before expiresAt, and not at it', () => {
    expect(requestTimingProblem(request, issued)).toBeNull();
    expect(requestTimingProblem(request, expires - 1)).toBeNull();
    expect(requestTimingProblem(request, expires)).toBe('expired');
    expect(requestTimingProblem(request, expires + 1)).toBe('expired');
  });

  it('accepts a request issued up to the clock tolerance ahead of the device, and not past it', () => {
    expect(requestTimingProblem(request, issued - DEVICE_CLOCK_TOLERANCE_MS)).toBeNull();
    expect(requestTimingProblem(request, issued - DEVICE_CLOCK_TOLERANCE_MS - 1)).toBe('not_yet_valid');
  });

  it('refuses a request whose times cannot be read', () => {
    expect(requestTimingProblem({ ...request, expiresAt: 'soon' }, issued)).toBe('expired');
    expect(requestTimingProblem({ ...request, issuedAt: 'now' }, issued)).toBe('not_yet_valid');
  });
});

describe('registrationCodeValid', () => {
  const group = (n: number, letter = 'A') => letter.repeat(n);
  const code = (groups: string[]) => ['PBDEV', ...groups].join('-');

  it('accepts PBDEV- and 4 groups of 5 letters of the alphabet', () => {
    expect(registrationCodeValid('PBDEV-ABCDE-FGH23-JKLMN-PQRST')).toBe(true);
    expect(registrationCodeValid(code(['ABCDE', 'FGHJK', 'LMNPQ', 'RSTUV']))).toBe(true);
    expect(registrationCodeValid(code(['WXYZ2', '34567', '89AAA', 'ZZ999']))).toBe(true);
  });

  it('has a 32-letter alphabet without the look-alikes I, O, 0 and 1', () => {
    expect(REGISTRATION_CODE_ALPHABET).toHaveLength(32);
    expect(new Set(REGISTRATION_CODE_ALPHABET).size).toBe(32);
    for (const c of 'IO01') {
      expect(REGISTRATION_CODE_ALPHABET).not.toContain(c);
      expect(registrationCodeValid(code([group(4) + c, group(5), group(5), group(5)]))).toBe(false);
    }
  });

  it('accepts groups of exactly 5 letters: refuses 4 and 6', () => {
    expect(registrationCodeValid(code([group(5), group(5), group(5), group(5)]))).toBe(true);
    expect(registrationCodeValid(code([group(4), group(5), group(5), group(5)]))).toBe(false);
    expect(registrationCodeValid(code([group(5), group(5), group(5), group(6)]))).toBe(false);
  });

  it('accepts exactly 4 groups: refuses 3 and 5', () => {
    expect(registrationCodeValid(code([group(5), group(5), group(5)]))).toBe(false);
    expect(registrationCodeValid(code([group(5), group(5), group(5), group(5), group(5)]))).toBe(false);
  });

  it('refuses lower case, another prefix, other separators and anything around the code', () => {
    for (const bad of ['pbdev-abcde-fgh23-jklmn-pqrst', 'PBDEV-abcde-FGH23-JKLMN-PQRST', 'PBDEX-ABCDE-FGH23-JKLMN-PQRST',
      'ABCDE-FGH23-JKLMN-PQRST', 'PBDEVABCDEFGH23JKLMNPQRST', 'PBDEV_ABCDE_FGH23_JKLMN_PQRST', 'PBDEV-ABCDE-FGH23-JKLMN-PQRST-',
      ' PBDEV-ABCDE-FGH23-JKLMN-PQRST', 'PBDEV-ABCDE-FGH23-JKLMN-PQRST\n', 'PBDEV-ABCDE-FGH23-JKLMN-PQRS\u0422', '']) {
      expect(registrationCodeValid(bad)).toBe(false);
    }
    expect(registrationCodeValid(undefined as unknown as string)).toBe(false);
  });
});

it('keeps the limits of the protocol', () => {
  expect(AUTHENTICATION_TIMEOUT_MS).toBe(600_000);
  expect(DEVICE_CLOCK_TOLERANCE_MS).toBe(300_000);
  expect(MAX_DEVICES_PER_CUSTOMER).toBe(5);
  expect(REGISTRATION_CODE_TTL_MS).toBe(900_000);
});
