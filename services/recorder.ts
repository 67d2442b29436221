// Recording micro-payments, behind one call: record(caller, payments, nowMs). It resolves each payment's parties,
// terms and rule sets through per-process caches (a handful of queries for a batch of a thousand), admits or
// refuses each by the rules of domain/micropayments.ts, and records the admitted ones in the ledger, which applies
// the caps and writes them (ledger/micropayments.ts). What the caches hold is tagged with the recording generation
// read before it (see ledger/migrations/007): the recording statement is refused if that generation has moved
// on, so nothing cached is used once a change to it has committed; the payments are then resolved afresh.
import { admitPayment, type Caller, isRefusal, type PaymentRefusal, type PaymentRequest, type PaymentToRecord } from '../domain/micropayments';
import { type Micropayments, type RecordedPayment, type RecordOutcome, StaleGeneration } from '../ledger/micropayments';
import type { Item, PartyStore, RuleSetWithBuyer, SellerWithRules } from '../stores/parties';
import { GenerationCache } from './generationCache';

export type RecordAnswer = PaymentRefusal | { kind: 'recorded' | 'replayed'; payment: RecordedPayment };
export const isRefused = (a: RecordAnswer): a is PaymentRefusal => 'code' in a;

/** Tries of a request whose reads turned out stale (parties or terms changed meanwhile) before it gives up. */
export const RECORD_TRIES = 3;

/** Parties or terms kept changing while the payments were recorded: nothing was written. */
export class TermsChanging extends Error {
  constructor() {
    super('Parties or terms kept changing while the payments were recorded; nothing was written, try again');
    this.name = 'TermsChanging';
  }
}

const splitItemKey = (k: string) => { const i = k.indexOf('/'); return { sellerId: k.slice(0, i), itemId: k.slice(i + 1) }; };

export class Recorder {
  private readonly ruleSets = new GenerationCache<RuleSetWithBuyer>();
  private readonly sellers = new GenerationCache<SellerWithRules>();
  private readonly items = new GenerationCache<Item>();
  /** The latest generation this process knows (read from PostgreSQL once, and again after a stale recording). */
  private known: Promise<number> | undefined;
  private knownValue: number | undefined;

  constructor(private readonly parties: PartyStore, private readonly micropayments: Micropayments) {}

  /**
   * One answer per payment, in order: recorded, replayed (same clientId and content as before) or refused. Throws
   * TermsChanging, having written nothing, if what the payments were resolved from kept changing.
   */
  async record(caller: Caller, requests: PaymentRequest[], nowMs: number): Promise<RecordAnswer[]> {
    for (let attempt = 1; ; attempt++) {
      const generation = await this.generation();
      const resolved = await this.resolve(generation, caller, requests, nowMs);
      const accepted = resolved.flatMap((x, i) => (isRefusal(x) ? [] : [i]));
      let outcomes: RecordOutcome[] = [];
      try {
        // the recording statement confirms that what the refusals were decided on is current too; without one, a read does
        if (accepted.length > 0) outcomes = await this.micropayments.record(accepted.map((i) => resolved[i] as PaymentToRecord), nowMs, generation);
        else await this.micropayments.confirmGeneration(generation);
      } catch (err) {
        if (!(err instanceof StaleGeneration)) throw err;
        this.stale(generation);
        if (attempt < RECORD_TRIES) continue;
        throw new TermsChanging();
      }
      const answers = resolved as RecordAnswer[];
      accepted.forEach((i, k) => {
        const o = outcomes[k];
        answers[i] = o.status === 'refused'
          ? { status: 422, code: o.code, message: o.message, param: o.code === 'client_id_reused' ? 'clientId' : 'buyerToken' }
          : { kind: o.status, payment: o.payment };
      });
      return answers;
    }
  }

  private generation(): Promise<number> {
    return this.known ??= this.micropayments.generation().then(
      (g) => { this.knownValue = g; return g; },
      (e: unknown) => { this.known = undefined; throw e; });
  }

  /** A recording under `generation` was refused as stale: read the generation again. */
  private stale(generation: number): void {
    if (this.knownValue === generation) {
      this.known = undefined;
      this.knownValue = undefined;
    }
  }

  /** Each payment admitted (priced, with its caps) or refused; the lookups of the whole batch in a few queries. */
  private async resolve(generation: number, caller: Caller, requests: PaymentRequest[], nowMs: number): Promise<Array<PaymentToRecord | PaymentRefusal>> {
    const tokens = new Set<string>();
    const sellerIds = new Set<string>();
    const itemKeys = requests.map((r) => {
      tokens.add(r.buyerToken);
      if (r.sellerToken) tokens.add(r.sellerToken);
      sellerIds.add(r.sellerId);
      return `${r.sellerId}/${r.itemId}`;
    });
    const [ruleSets, sellers, items] = await Promise.all([
      this.ruleSets.getMany(generation, [...tokens], (missing) => this.parties.ruleSetsByToken(missing)),
      this.sellers.getMany(generation, [...sellerIds], (missing) => this.parties.sellersById(missing)),
      this.items.getMany(generation, [...new Set(itemKeys)], (missing) => this.parties.itemsByKey(missing.map(splitItemKey))),
    ]);
    return requests.map((r, k) => admitPayment(r, {
      buyerRuleSet: ruleSets.get(r.buyerToken), sellerRuleSet: r.sellerToken ? ruleSets.get(r.sellerToken) : undefined,
      seller: sellers.get(r.sellerId), item: items.get(itemKeys[k]),
    }, caller, nowMs));
  }
}
