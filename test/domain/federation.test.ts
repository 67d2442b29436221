// The federation's pure rules (domain/federation.ts): aliases are well formed and drawn only from the caller's bytes;
// an alias pays until it is revoked, expires (at the exact instant) or is used up; the buyer's service declines each
// request for its reason, asks the buyer above the alias's threshold and approves with the rule set's caps; a netting
// window's positions are each direction's sum and the one transfer that settles both; both sides agree who nets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALIAS_PATTERN, aliasFrom, type AliasTerms, aliasUsable, type AuthorizationFacts, decideAuthorization, type NettedTransaction, netPositions,
  nettingCoordinator,
} from '../../domain/federation';
import type { BuyerRules } from '../../domain/rules';

const T0 = Date.parse('2026-11-22T12:00:00Z');
const terms = (t: Partial<AliasTerms> = {}): AliasTerms =>
  ({ expiresAt: new Date(T0 + 3600_000), maxUses: null, uses: 0, revokedAt: null, askAboveMinor: null, ...t });
const buyer = (b: Partial<{ currency: string; buyerClass: string; suspended: boolean }> = {}) =>
  ({ currency: 'USD', buyerClass: 'standard', suspended: false, ...b });
const facts = (f: Partial<AuthorizationFacts> = {}): AuthorizationFacts =>
  ({ amountMinor: 25, currency: 'USD', counterparty: 'gw-a:sel_1', category: 'news', atMs: T0, ...f });

describe('aliases', () => {
  it('are fa- and 16 characters of the alphabet, the same for the same bytes, another for other bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 32 }), (bytes) => {
      const a = aliasFrom(bytes);
      expect(a).toMatch(ALIAS_PATTERN);
      expect(aliasFrom(Uint8Array.from(bytes))).toBe(a);
      // only the first 16 bytes count
      expect(aliasFrom(bytes.slice(0, 16))).toBe(a);
    }));
    expect(aliasFrom(new Uint8Array(16))).toBe('fa-aaaaaaaaaaaaaaaa');
    expect(aliasFrom(new Uint8Array(16).fill(1))).not.toBe(aliasFrom(new Uint8Array(16)));
  });

  it('need 16 random bytes: 15 are refused', () => {
    expect(() => aliasFrom(new Uint8Array(15))).toThrow(/16 random bytes/);
    expect(() => aliasFrom(new Uint8Array(16))).not.toThrow();
  });

  it('the pattern refuses look-alikes, upper case and wrong lengths', () => {
    for (const bad of ['fa-aaaaaaaaaaaaaaa', 'fa-aaaaaaaaaaaaaaaaa', 'fa-aaaaaaaaaaaaaaal', 'fa-aaaaaaaaaaaaaaa0', 'fa-aaaaaaaaaaaaaaa1',
      'fa-aaaaaaaaaaaaaaao', 'fa-aaaaaaaaaaaaaaai', 'fa-AAAAAAAAAAAAAAAA', 'fb-aaaaaaaaaaaaaaaa']) {
      expect(ALIAS_PATTERN.test(bad), bad).toBe(false);
    }
    expect(ALIAS_PATTERN.test('fa-abcdefghjkmnpq29')).toBe(true);
  });
});

describe('whether an alias may pay', () => {
  it('pays while valid: unexpired, unrevoked, uses left', () => {
    expect(aliasUsable(terms(), T0)).toBeNull();
    expect(aliasUsable(terms({ maxUses: 3, uses: 2 }), T0)).toBeNull();
  });

  it('an unknown or revoked alias is unknown (a revoked one says nothing more, even expired or used up)', () => {
    expect(aliasUsable(undefined, T0)).toBe('unknown_alias');
    expect(aliasUsable(terms({ revokedAt: new Date(T0 - 1) }), T0)).toBe('unknown_alias');
    expect(aliasUsable(terms({ revokedAt: new Date(T0 - 1), expiresAt: new Date(T0 - 1), maxUses: 1, uses: 1 }), T0)).toBe('unknown_alias');
  });

  it('expires at the exact instant of its expiry, pays the millisecond before', () => {
    const expiresAt = new Date(T0);
    expect(aliasUsable(terms({ expiresAt }), T0 - 1)).toBeNull();
    expect(aliasUsable(terms({ expiresAt }), T0)).toBe('alias_expired');
    expect(aliasUsable(terms({ expiresAt }), T0 + 1)).toBe('alias_expired');
  });

  it('is used up at its maximum of uses, pays one short of it; no maximum: never used up', () => {
    expect(aliasUsable(terms({ maxUses: 5, uses: 4 }), T0)).toBeNull();
    expect(aliasUsable(terms({ maxUses: 5, uses: 5 }), T0)).toBe('alias_used_up');
    expect(aliasUsable(terms({ maxUses: 1, uses: 1 }), T0)).toBe('alias_used_up');
    expect(aliasUsable(terms({ maxUses: null, uses: 1_000_000 }), T0)).toBeNull();
  });
});

describe("the buyer's service decides an authorization request", () => {
  const rules: BuyerRules = { maxPerPaymentMinor: 100, maxPerDayMinor: 500, maxPerPeriodMinor: 2000 };

  it('approves within the rules, passing the caps on to the ledger', () => {
    expect(decideAuthorization(terms(), buyer(), rules, facts())).toEqual({ decision: 'approve', caps: { perDayMinor: 500, perPeriodMinor: 2000 } });
    expect(decideAuthorization(terms(), buyer(), {}, facts())).toEqual({ decision: 'approve', caps: { perDayMinor: null, perPeriodMinor: null } });
  });

  it('declines an unknown, revoked, expired or used-up alias, and one without a buyer or rule set, for the alias\'s reason', () => {
    for (const [alias, b, r, code] of [
      [undefined, buyer(), rules, 'unknown_alias'],
      [terms({ revokedAt: new Date(T0) }), buyer(), rules, 'unknown_alias'],
      [terms(), undefined, rules, 'unknown_alias'],
      [terms(), buyer(), undefined, 'unknown_alias'],
      [terms({ expiresAt: new Date(T0) }), buyer(), rules, 'alias_expired'],
      [terms({ maxUses: 2, uses: 2 }), buyer(), rules, 'alias_used_up'],
      // the alias's own reason comes first, even when the buyer is gone
      [terms({ expiresAt: new Date(T0) }), undefined, undefined, 'alias_expired'],
    ] as const) {
      const v = decideAuthorization(alias, b, r, facts());
      expect(v, code).toMatchObject({ decision: 'decline', code });
      expect(v.decision === 'decline' && v.message.length > 0).toBe(true);
    }
  });

  it('declines for a suspended buyer, before anything about the payment', () => {
    expect(decideAuthorization(terms(), buyer({ suspended: true }), rules, facts({ currency: 'EUR', amountMinor: 1000 })))
      .toMatchObject({ decision: 'decline', code: 'buyer_suspended' });
    expect(decideAuthorization(terms(), buyer({ suspended: false }), rules, facts()).decision).toBe('approve');
  });

  it("declines a payment in another currency than the buyer's", () => {
    expect(decideAuthorization(terms(), buyer({ currency: 'USD' }), rules, facts({ currency: 'EUR' })))
      .toMatchObject({ decision: 'decline', code: 'currency_mismatch', message: expect.stringContaining('USD') });
  });

  it('declines what the rule set refuses: over the per-payment limit (not at it), a category or a counterparty it does not allow', () => {
    expect(decideAuthorization(terms(), buyer(), rules, facts({ amountMinor: 101 }))).toMatchObject({ decision: 'decline', code: 'amount_over_payment_limit' });
    expect(decideAuthorization(terms(), buyer(), rules, facts({ amountMinor: 100 })).decision).toBe('approve');
    expect(decideAuthorization(terms(), buyer(), { allowedCategories: ['music'] }, facts({ category: 'news' })))
      .toMatchObject({ decision: 'decline', code: 'category_not_allowed' });
    expect(decideAuthorization(terms(), buyer(), { allowedCategories: ['news'] }, facts({ category: 'news' })).decision).toBe('approve');
  });

  it('names the counterparty as <gateway>:<seller>: a rule set allowing the seller at one gateway refuses the same seller id at another', () => {
    const only = { allowedSellers: ['gw-a:sel_1'] };
    expect(decideAuthorization(terms(), buyer(), only, facts({ counterparty: 'gw-a:sel_1' })).decision).toBe('approve');
    expect(decideAuthorization(terms(), buyer(), only, facts({ counterparty: 'gw-b:sel_1' }))).toMatchObject({ decision: 'decline', code: 'seller_not_allowed' });
    expect(decideAuthorization(terms(), buyer(), { allowedSellers: ['sel_1'] }, facts({ counterparty: 'gw-a:sel_1' })))
      .toMatchObject({ decision: 'decline', code: 'seller_not_allowed' });
  });

  it('asks the buyer above the alias\'s threshold, not at exactly it; 0 asks always; null never', () => {
    expect(decideAuthorization(terms({ askAboveMinor: 50 }), buyer(), rules, facts({ amountMinor: 51 }))).toEqual({ decision: 'ask' });
    expect(decideAuthorization(terms({ askAboveMinor: 50 }), buyer(), rules, facts({ amountMinor: 50 })))
      .toEqual({ decision: 'approve', caps: { perDayMinor: 500, perPeriodMinor: 2000 } });
    expect(decideAuthorization(terms({ askAboveMinor: 0 }), buyer(), rules, facts({ amountMinor: 1 }))).toEqual({ decision: 'ask' });
    expect(decideAuthorization(terms({ askAboveMinor: null }), buyer(), rules, facts({ amountMinor: 100 })).decision).toBe('approve');
  });

  it('declines by the rules before asking: a refused amount is never put to the buyer', () => {
    expect(decideAuthorization(terms({ askAboveMinor: 0 }), buyer(), rules, facts({ amountMinor: 101 })))
      .toMatchObject({ decision: 'decline', code: 'amount_over_payment_limit' });
  });
});

describe('netting a window between two gateways', () => {
  const G1 = 'gw-a';
  const G2 = 'gw-b';
  const tx = fc.record({
    firstPays: fc.boolean(),
    currency: fc.constantFrom('USD', 'EUR'),
    amountMinor: fc.integer({ min: 1, max: 100_000 }),
  });
  const window = fc.array(tx, { maxLength: 60 }).map((ts) => ts.map((t, i): NettedTransaction => ({
    transactionId: `t${i}`, payerGateway: t.firstPays ? G1 : G2, payeeGateway: t.firstPays ? G2 : G1, currency: t.currency, amountMinor: t.amountMinor,
  })));

  it('per currency: each direction\'s sum, the net, the debtor and creditor; the one transfer settles both sides exactly', () => {
    fc.assert(fc.property(window, fc.boolean(), (txs, swap) => {
      const [first, second] = swap ? [G2, G1] : [G1, G2];
      const positions = netPositions(first, second, txs);
      const currencies = [...new Set(txs.map((t) => t.currency))].sort();
      expect(positions.map((p) => p.currency)).toEqual(currencies);
      for (const p of positions) {
        const of = (payer: string) => txs.filter((t) => t.currency === p.currency && t.payerGateway === payer).reduce((s, t) => s + t.amountMinor, 0);
        expect(p.owedByFirst).toBe(of(first));
        expect(p.owedBySecond).toBe(of(second));
        expect(p.netMinor).toBe(Math.abs(p.owedByFirst - p.owedBySecond));
        if (p.owedByFirst > p.owedBySecond) expect([p.debtor, p.creditor]).toEqual([first, second]);
        else if (p.owedByFirst < p.owedBySecond) expect([p.debtor, p.creditor]).toEqual([second, first]);
        else expect([p.debtor, p.creditor, p.netMinor]).toEqual([null, null, 0]);
        // each side's balance: what its sellers were paid by the other's buyers, less what its buyers spent there
        const balance = new Map([[first, p.owedBySecond - p.owedByFirst], [second, p.owedByFirst - p.owedBySecond]]);
        if (p.debtor !== null && p.creditor !== null) {
          balance.set(p.debtor, balance.get(p.debtor)! + p.netMinor);
          balance.set(p.creditor, balance.get(p.creditor)! - p.netMinor);
        }
        expect([balance.get(first), balance.get(second)]).toEqual([0, 0]);
      }
    }));
  });

  it('the same window from either side: the same sums swapped, the same debtor, creditor and net', () => {
    fc.assert(fc.property(window, (txs) => {
      const one = netPositions(G1, G2, txs);
      const other = netPositions(G2, G1, txs);
      expect(other).toEqual(one.map((p) => ({ ...p, owedByFirst: p.owedBySecond, owedBySecond: p.owedByFirst })));
    }));
  });

  it('an empty window nets nothing; equal spending both ways moves nothing', () => {
    expect(netPositions(G1, G2, [])).toEqual([]);
    const both = [
      { transactionId: 'x', payerGateway: G1, payeeGateway: G2, currency: 'USD', amountMinor: 40 },
      { transactionId: 'y', payerGateway: G2, payeeGateway: G1, currency: 'USD', amountMinor: 40 },
    ];
    expect(netPositions(G1, G2, both)).toEqual([{ currency: 'USD', owedByFirst: 40, owedBySecond: 40, debtor: null, creditor: null, netMinor: 0 }]);
  });

  it('a transaction of another pair, or of a gateway with itself, is an error', () => {
    fc.assert(fc.property(window, fc.nat(), fc.constantFrom(
      { payerGateway: G1, payeeGateway: 'gw-c' }, { payerGateway: 'gw-c', payeeGateway: G2 }, { payerGateway: 'gw-c', payeeGateway: 'gw-d' },
      { payerGateway: G1, payeeGateway: G1 }, { payerGateway: G2, payeeGateway: G2 },
    ), (txs, at, pair) => {
      const stray: NettedTransaction = { transactionId: 'stray', currency: 'USD', amountMinor: 1, ...pair };
      const mixed = [...txs];
      mixed.splice(at % (txs.length + 1), 0, stray);
      expect(() => netPositions(G1, G2, mixed)).toThrow(/stray is not between gw-a and gw-b/);
    }));
  });
});

describe('the netting coordinator', () => {
  it('is the id that sorts first, whichever side asks', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), (a, b) => {
      const c = nettingCoordinator(a, b);
      expect(nettingCoordinator(b, a)).toBe(c);
      expect([a, b]).toContain(c);
      expect(c <= a && c <= b).toBe(true);
    }));
    expect(nettingCoordinator('b-1', 'a-2')).toBe('a-2');
  });
});
