// Federation as PostgreSQL keeps it (migration 030). The buyer's side: aliases and the authorization requests of
// other services' gateways, whose row decides each request once (a reserved use of the alias, then approved, or
// declined and the use given back). The seller's side: the federated payments its sellers asked for, named by the
// seller's clientId. Both: the nonces of signed gateway requests seen.
import type { AliasTerms, FederatedDecision, FederationRefusal } from '../domain/federation';
import { aliasUsable, MAX_OPEN_ALIASES_PER_BUYER } from '../domain/federation';
import type { BuyerRules } from '../domain/rules';
import type { Db } from '../ledger/db';
import { type Page, pageOf, type PageRequest } from './page';
import { StoreRefusal } from './refusal';

export interface Alias extends AliasTerms {
  alias: string;
  buyerId: string;
  ruleSetId: string;
  createdAt: Date;
}

/** An alias with what decides its payments: the buyer's standing and the rule set it is bound to. */
export interface AliasForDecision {
  alias: Alias;
  buyer: { id: string; currency: string; buyerClass: string; suspended: boolean };
  rules: BuyerRules | undefined;
}

export interface Authorization {
  fromGateway: string;
  transactionId: string;
  requestSha256: string;
  alias: string;
  buyerId: string | null;
  counterparty: string;
  category: string;
  currency: string;
  amountMinor: number;
  state: 'approving' | FederatedDecision;
  code: FederationRefusal | null;
  message: string | null;
  paymentId: string | null;
  expiresAt: Date | null;
  decidedAt: Date | null;
  createdAt: Date;
}

export interface FederatedPayment {
  id: string;
  sellerId: string;
  clientId: string;
  requestSha256: string;
  alias: string;
  payeeGateway: string;
  payerGateway: string;
  itemId: string;
  category: string;
  currency: string;
  amountMinor: number;
  feeMinor: number;
  state: 'pending' | 'authorized' | 'declined';
  code: string | null;
  message: string | null;
  paymentId: string | null;
  decidedAt: Date | null;
  createdAt: Date;
}

const aliasOf = (r: Record<string, any>): Alias => ({
  alias: r.alias, buyerId: r.buyer_id, ruleSetId: r.rule_set_id, expiresAt: r.expires_at, maxUses: r.max_uses, uses: r.uses,
  askAboveMinor: r.ask_above_minor === null ? null : Number(r.ask_above_minor), revokedAt: r.revoked_at, createdAt: r.created_at,
});
const authorizationOf = (r: Record<string, any>): Authorization => ({
  fromGateway: r.from_gateway, transactionId: r.transaction_id, requestSha256: r.request_sha256, alias: r.alias, buyerId: r.buyer_id,
  counterparty: r.counterparty, category: r.category, currency: r.currency.trim(), amountMinor: Number(r.amount_minor), state: r.state,
  code: r.code, message: r.message, paymentId: r.payment_id === null ? null : String(r.payment_id), expiresAt: r.expires_at,
  decidedAt: r.decided_at, createdAt: r.created_at,
});
const paymentOf = (r: Record<string, any>): FederatedPayment => ({
  id: r.id, sellerId: r.seller_id, clientId: r.client_id, requestSha256: r.request_sha256, alias: r.alias, payeeGateway: r.payee_gateway,
  payerGateway: r.payer_gateway, itemId: r.item_id, category: r.category, currency: r.currency.trim(), amountMinor: Number(r.amount_minor),
  feeMinor: Number(r.fee_minor), state: r.state, code: r.code, message: r.message,
  paymentId: r.payment_id === null ? null : String(r.payment_id), decidedAt: r.decided_at, createdAt: r.created_at,
});

/** The new request of a transaction, as the buyer's service first sees it. */
export type AuthorizationRequest = Pick<Authorization, 'fromGateway' | 'transactionId' | 'requestSha256' | 'alias' | 'counterparty'
  | 'category' | 'currency' | 'amountMinor'>;

const requestRow = (a: AuthorizationRequest) => ({
  from_gateway: a.fromGateway, transaction_id: a.transactionId, request_sha256: a.requestSha256, alias: a.alias,
  counterparty: a.counterparty, category: a.category, currency: a.currency, amount_minor: a.amountMinor,
});

export class FederationStore {
  constructor(private readonly db: Db) {}

  // --- aliases (the buyer's service) -----------------------------------------------------------------------

  /** A new alias of the buyer, bound to one of its active rule sets (at most MAX_OPEN_ALIASES_PER_BUYER open). */
  createAlias(a: { alias: string; buyerId: string; ruleSetId: string; expiresAt: Date; maxUses: number | null; askAboveMinor: number | null }): Promise<Alias> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT 1 FROM buyers WHERE id = ? FOR UPDATE', [a.buyerId]); // (one buyer's aliases made one at a time)
      const rs = await trx('rule_sets').where({ id: a.ruleSetId, owner_id: a.buyerId, party: 'buyer' }).whereNull('revoked_at').first('id');
      if (!rs) throw new StoreRefusal('unknown_rule_set', `The buyer has no active rule set ${a.ruleSetId}`, 'ruleSetId');
      const [{ n }] = await trx('federation_aliases').where({ buyer_id: a.buyerId }).whereNull('revoked_at')
        .where('expires_at', '>', trx.fn.now()).count({ n: '*' });
      if (Number(n) >= MAX_OPEN_ALIASES_PER_BUYER) {
        throw new StoreRefusal('too_many_aliases', `A buyer may hold at most ${MAX_OPEN_ALIASES_PER_BUYER} open aliases`);
      }
      const [row] = await trx('federation_aliases').insert({ alias: a.alias, buyer_id: a.buyerId, rule_set_id: a.ruleSetId,
        expires_at: a.expiresAt, max_uses: a.maxUses, ask_above_minor: a.askAboveMinor }).returning('*');
      return aliasOf(row);
    });
  }

  async alias(alias: string): Promise<Alias | undefined> {
    const r = await this.db('federation_aliases').where({ alias }).first();
    return r && aliasOf(r);
  }

  /** The buyer's aliases, newest first. */
  aliases(buyerId: string, page: PageRequest): Promise<Page<Alias>> {
    return pageOf(() => this.db('federation_aliases').where({ buyer_id: buyerId }), page, aliasOf, { key: ['created_at', 'alias'] });
  }

  /** Revokes the buyer's alias (a second revocation keeps the first time); undefined when it is not the buyer's. */
  async revokeAlias(buyerId: string, alias: string): Promise<Alias | undefined> {
    const [row] = await this.db('federation_aliases').where({ alias, buyer_id: buyerId })
      .update({ revoked_at: this.db.raw('coalesce(revoked_at, now())') }).returning('*');
    return row && aliasOf(row);
  }

  /** The alias with its buyer's standing and its rule set's rules (undefined rules: the rule set was revoked). */
  async forDecision(alias: string): Promise<AliasForDecision | undefined> {
    const { rows } = await this.db.raw(`
      SELECT a.*, b.currency, b.buyer_class, b.suspended_at, CASE WHEN r.revoked_at IS NULL THEN r.rules END AS rules
      FROM federation_aliases a JOIN buyers b ON b.id = a.buyer_id JOIN rule_sets r ON r.id = a.rule_set_id
      WHERE a.alias = ?`, [alias]) as { rows: Array<Record<string, any>> };
    const r = rows[0];
    return r && { alias: aliasOf(r), rules: r.rules ?? undefined,
      buyer: { id: r.buyer_id, currency: r.currency.trim(), buyerClass: r.buyer_class, suspended: r.suspended_at !== null } };
  }

  // --- authorization requests (the buyer's service) ---------------------------------------------------------

  async authorization(fromGateway: string, transactionId: string): Promise<Authorization | undefined> {
    const r = await this.db('federated_authorizations').where({ from_gateway: fromGateway, transaction_id: transactionId }).first();
    return r && authorizationOf(r);
  }

  /**
   * The transaction's row, written now with the given outcome when it is new: declined (with its reason), cancelled
   * (by the payee's service before it was seen: a late request is not approved) or pending (the buyer is asked until
   * expiresAt). A known transaction answers its row as it stands.
   */
  async open(a: AuthorizationRequest, outcome: { state: 'declined' | 'cancelled'; code: FederationRefusal | null; message: string; buyerId: string | null }
    | { state: 'pending'; expiresAt: Date; buyerId: string }): Promise<{ row: Authorization; created: boolean }> {
    const [inserted] = await this.db('federated_authorizations').insert({
      ...requestRow(a), state: outcome.state, buyer_id: outcome.buyerId,
      ...(outcome.state === 'pending' ? { expires_at: outcome.expiresAt } : { code: outcome.code, message: outcome.message, decided_at: this.db.fn.now() }),
    }).onConflict(['from_gateway', 'transaction_id']).ignore().returning('*');
    if (inserted) return { row: authorizationOf(inserted), created: true };
    return { row: (await this.authorization(a.fromGateway, a.transactionId))!, created: false };
  }

  /**
   * Reserves a use of the alias for the transaction (its row becomes 'approving', new or from pending), under a lock on
   * the alias, so parallel requests cannot together pass its uses: the row, or the reason the alias may not pay now.
   */
  reserve(a: AuthorizationRequest, buyerId: string, atMs: number): Promise<{ row: Authorization } | { refused: FederationRefusal }> {
    return this.db.transaction(async (trx) => {
      const lockedRow = (await trx('federation_aliases').where({ alias: a.alias }).forUpdate().first());
      const existing = await trx('federated_authorizations').where({ from_gateway: a.fromGateway, transaction_id: a.transactionId }).forUpdate().first();
      if (existing && existing.state !== 'pending') return { row: authorizationOf(existing) };
      const refused = aliasUsable(lockedRow && aliasOf(lockedRow), atMs);
      if (refused) return { refused };
      await trx('federation_aliases').where({ alias: a.alias }).increment('uses', 1);
      const [row] = existing
        ? await trx('federated_authorizations').where({ from_gateway: a.fromGateway, transaction_id: a.transactionId })
          .update({ state: 'approving' }).returning('*')
        : await trx('federated_authorizations').insert({ ...requestRow(a), state: 'approving', buyer_id: buyerId }).returning('*');
      return { row: authorizationOf(row) };
    });
  }

  /** The reserved transaction is approved: its micro-payment was recorded. */
  async approved(fromGateway: string, transactionId: string, paymentId: string): Promise<Authorization> {
    const [row] = await this.db('federated_authorizations').where({ from_gateway: fromGateway, transaction_id: transactionId })
      .whereIn('state', ['approving', 'approved']).update({ state: 'approved', payment_id: paymentId, decided_at: this.db.raw('coalesce(decided_at, now())') })
      .returning('*');
    return row ? authorizationOf(row) : (await this.authorization(fromGateway, transactionId))!;
  }

  /**
   * Ends an undecided transaction (approving or pending) as declined or cancelled, giving back the alias use an
   * approving one holds: the row as it ends up (a decided one is left as it is).
   */
  end(fromGateway: string, transactionId: string, state: 'declined' | 'cancelled', code: FederationRefusal | null, message: string | null): Promise<Authorization> {
    return this.db.transaction(async (trx) => {
      const key = { from_gateway: fromGateway, transaction_id: transactionId };
      const before = await trx('federated_authorizations').where(key).forUpdate().first();
      if (before.state !== 'approving' && before.state !== 'pending') return authorizationOf(before);
      const [row] = await trx('federated_authorizations').where(key).update({ state, code, message, decided_at: trx.fn.now() }).returning('*');
      if (before.state === 'approving') await trx('federation_aliases').where({ alias: row.alias }).where('uses', '>', 0).decrement('uses', 1);
      return authorizationOf(row);
    });
  }

  /** An approved transaction is cancelled by its payee's service (its micro-payment refunded by the caller). */
  async cancelApproved(fromGateway: string, transactionId: string): Promise<Authorization | undefined> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('federated_authorizations').where({ from_gateway: fromGateway, transaction_id: transactionId, state: 'approved' })
        .update({ state: 'cancelled' }).returning('*');
      if (row) await trx('federation_aliases').where({ alias: row.alias }).where('uses', '>', 0).decrement('uses', 1);
      return row && authorizationOf(row);
    });
  }

  /** The buyer's transactions waiting for its answer (oldest first), and those decided, newest first. */
  async buyerAuthorizations(buyerId: string, state: Authorization['state'] | undefined, limit: number): Promise<Authorization[]> {
    const rows = await this.db('federated_authorizations').where({ buyer_id: buyerId }).modify((q) => { if (state) q.where({ state }); })
      .orderBy('created_at', 'desc').limit(limit);
    return rows.map(authorizationOf);
  }

  // --- federated payments (the seller's service) ------------------------------------------------------------

  /** The seller's payment under its clientId: made now, the same request's, or another request's (a reused clientId). */
  async claimPayment(p: Omit<FederatedPayment, 'state' | 'code' | 'message' | 'paymentId' | 'decidedAt' | 'createdAt'>, input: object):
  Promise<{ row: FederatedPayment; claim: 'created' | 'same' | 'different' }> {
    const [inserted] = await this.db('federated_payments').insert({ input: JSON.stringify(input),
      id: p.id, seller_id: p.sellerId, client_id: p.clientId, request_sha256: p.requestSha256, alias: p.alias, payee_gateway: p.payeeGateway,
      payer_gateway: p.payerGateway, item_id: p.itemId, category: p.category, currency: p.currency, amount_minor: p.amountMinor, fee_minor: p.feeMinor,
    }).onConflict(['seller_id', 'client_id']).ignore().returning('*');
    if (inserted) return { row: paymentOf(inserted), claim: 'created' };
    const existing = paymentOf(await this.db('federated_payments').where({ seller_id: p.sellerId, client_id: p.clientId }).first());
    return { row: existing, claim: existing.requestSha256 === p.requestSha256 ? 'same' : 'different' };
  }

  async payment(id: string): Promise<FederatedPayment | undefined> {
    const r = await this.db('federated_payments').where({ id }).first();
    return r && paymentOf(r);
  }

  async paymentBySellerClient(sellerId: string, clientId: string): Promise<FederatedPayment | undefined> {
    const r = await this.db('federated_payments').where({ seller_id: sellerId, client_id: clientId }).first();
    return r && paymentOf(r);
  }

  /** The payment's outcome, written once (a decided payment keeps its first outcome). */
  async decidePayment(id: string, outcome: { state: 'authorized'; paymentId: string } | { state: 'declined'; code: string; message: string }): Promise<FederatedPayment> {
    const [row] = await this.db('federated_payments').where({ id, state: 'pending' }).update(outcome.state === 'authorized'
      ? { state: 'authorized', payment_id: outcome.paymentId, decided_at: this.db.fn.now() }
      : { state: 'declined', code: outcome.code, message: outcome.message, decided_at: this.db.fn.now() }).returning('*');
    return row ? paymentOf(row) : (await this.payment(id))!;
  }

  /** The payment was handed to its workflow (the repair loop leaves it alone). */
  async workflowStarted(id: string): Promise<void> {
    await this.db('federated_payments').where({ id, workflow_started: false }).update({ workflow_started: true });
  }

  /** Payments neither decided at once nor handed to their workflow for olderThanMs (an API stopped between the two): their inputs. */
  async stranded(olderThanMs: number, limit: number): Promise<Array<{ id: string; input: unknown }>> {
    return this.db('federated_payments').where({ state: 'pending', workflow_started: false })
      .where('created_at', '<', this.db.raw("now() - ?::interval", [`${olderThanMs} milliseconds`])).orderBy('created_at').limit(limit).select('id', 'input');
  }

  /** The seller's federated payments, newest first. */
  payments(sellerId: string, page: PageRequest): Promise<Page<FederatedPayment>> {
    return pageOf(() => this.db('federated_payments').where({ seller_id: sellerId }), page, paymentOf);
  }

  // --- nonces -------------------------------------------------------------------------------------------

  /** Whether a signed request's nonce is new for its gateway (recorded now); false: a replay. */
  async firstUse(gatewayId: string, nonce: string): Promise<boolean> {
    const rows = await this.db('federation_nonces').insert({ gateway_id: gatewayId, nonce }).onConflict(['gateway_id', 'nonce']).ignore().returning('nonce');
    return rows.length === 1;
  }

  /** Forgets nonces older than the signatures' tolerance (a request that old is refused as stale anyway). */
  async purgeNonces(olderThanMs: number): Promise<number> {
    return this.db('federation_nonces').where('seen_at', '<', new Date(Date.now() - olderThanMs)).delete();
  }
}
