// Address verification: a per-merchant policy maps each AVS code the processor returns to a decision.
//   Y  address and postal code match        A  address matches, postal code does not
//   Z  postal code matches, address does not N  neither matches
//   U  information unavailable              S  AVS not supported by the issuer
//   R  issuer system unavailable, retry

export const AVS_CODES = ['Y', 'A', 'Z', 'N', 'U', 'S', 'R'] as const;
export type AvsCode = (typeof AVS_CODES)[number];
export type AvsDecision = 'accept' | 'review' | 'reject';
export type AvsPolicy = Record<AvsCode, AvsDecision>;

/** What a merchant gets unless it says otherwise: full matches pass, no match fails, the rest go to review. */
export const DEFAULT_AVS_POLICY: AvsPolicy = { Y: 'accept', A: 'review', Z: 'review', N: 'reject', U: 'review', S: 'accept', R: 'review' };

export function avsDecision(policy: Partial<AvsPolicy>, code: string): AvsDecision {
  if (!(AVS_CODES as readonly string[]).includes(code)) return 'review'; // a code we do not know is a person's call
  return policy[code as AvsCode] ?? DEFAULT_AVS_POLICY[code as AvsCode];
}
