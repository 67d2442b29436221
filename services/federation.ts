// Federation: this service's gateway, in both roles. As the buyer's service (B) it keeps its buyers' aliases (bound in
// the directory to this gateway) and decides other gateways' authorization requests, each once: from the alias and
// the buyer's rule set, or by asking the buyer (answered through the API within a deadline); an approved one is a
// micro-payment from the buyer to the payee service (`federation:<gateway>`), invoiced with the buyer's others. As
// the seller's service (A) it starts a seller's federated payment: the identifier is looked up in the directory (a
// short-lived cache serves while the directory is away), and federatedPaymentWorkflow asks the buyer's gateway.
import { createHash, randomBytes } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { canonical } from '../domain/canonical';
import { formatMoney } from '../domain/money';
import {
  aliasFrom, type AuthorizationFacts, decideAuthorization, DEFAULT_ALIAS_SECONDS, type FederationRefusal, MAX_FEDERATED_MINOR,
} from '../domain/federation';
import { microFee, type PaymentToRecord } from '../domain/micropayments';
import { type Micropayments, type RecordOutcome, StaleGeneration } from '../ledger/micropayments';
import { DirectoryClient, DirectoryRefusal, DirectoryUnavailable, type PeerGateway } from '../processors/directory/client';
import { type AuthorizationAnswer, type AuthorizationRequestBody, type FederationGatewayClient, GatewayRefused } from '../processors/federation/gateway';
import { DEFAULT_SIGNATURE_TOLERANCE_MS, type GatewayCredentials, gatewayIdOf, loadGatewayCredentials, tlsServerOptions, verifyRequest } from '../processors/federation/pki';
import type { Alias, Authorization, FederatedPayment, FederationStore } from '../stores/federation';
import type { PartyStore } from '../stores/parties';
import type { NettingService } from './netting';
import type { Page, PageRequest } from '../stores/page';
import {
  decidedUpdate, federatedPaymentWorkflowId, type FederatedPaymentInput, type FederatedPaymentView, type FederatedPaymentWorkflow,
  federationParty,
} from '../workflows/federatedPayment.contract';
import { isTemporalUnavailable, replyWithin, TemporalUnavailable, withinDeadline } from './temporal';

/** How long the API waits for the buyer's service to answer at once before a workflow takes over the asking. */
export const ASK_AT_ONCE_TIMEOUT_MS = 5_000;
/** How long the API waits for a federated payment's decision (or the buyer's service asking its buyer) before answering it pending. */
export const FEDERATED_REPLY_WAIT_MS = 10_000;

/** A refusal the API answers with its status and code. */
export class FederationRefused extends Error {
  constructor(readonly status: 401 | 403 | 404 | 409 | 422 | 503, readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'FederationRefused';
  }
}

const sha256 = (x: unknown) => createHash('sha256').update(canonical(x)).digest('hex');

/** What the directory said, remembered for a short while: lookups and gateway entries (the hot path's second call). */
export class CachedDirectory {
  private readonly lookups = new Map<string, { at: number; peer: PeerGateway | undefined }>();
  private readonly entries = new Map<string, { at: number; entry: Awaited<ReturnType<DirectoryClient['gateway']>> }>();

  constructor(readonly client: DirectoryClient, private readonly ttlMs: number, private readonly clock: () => number = Date.now) {}

  /** The gateway holding an identifier (undefined: none); from the cache while fresh. Throws DirectoryUnavailable. */
  async lookup(identifier: string): Promise<PeerGateway | undefined> {
    return this.cached(this.lookups, identifier, async () => ({ peer: (await this.client.lookup(identifier))?.gateway }), (c) => c.peer);
  }

  /** A gateway's entry (status, certificate); from the cache while fresh. Throws DirectoryUnavailable. */
  async gateway(gatewayId: string) {
    return this.cached(this.entries, gatewayId, async () => ({ entry: await this.client.gateway(gatewayId) }), (c) => c.entry);
  }

  private async cached<C extends { at: number }, T>(map: Map<string, C>, key: string, load: () => Promise<Omit<C, 'at'>>, pick: (c: C) => T): Promise<T> {
    const hit = map.get(key);
    if (hit && this.clock() - hit.at < this.ttlMs) return pick(hit);
    const fresh = { ...(await load()), at: this.clock() } as C;
    if (map.size >= 10_000) map.clear();
    map.set(key, fresh);
    return pick(fresh);
  }
}

/** The recording generation each process last read (per books): a recording under a stale one is refused, then read again. */
const generations = new WeakMap<Micropayments, number>();

/**
 * Records one micro-payment through the ledger (caps, idempotency by buyer and clientId). The federated payment
 * carries its own terms (nothing cached is read), so the generation only has to be current: the last one read is
 * tried, and read afresh when the recording refuses it.
 */
export async function recordOne(micropayments: Micropayments, p: PaymentToRecord, nowMs: number): Promise<RecordOutcome> {
  for (let attempt = 1; ; attempt++) {
    let generation = generations.get(micropayments);
    if (generation === undefined) generations.set(micropayments, generation = await micropayments.generation());
    try {
      return (await micropayments.record([p], nowMs, generation))[0];
    } catch (err) {
      if (!(err instanceof StaleGeneration) || attempt >= 5) throw err;
      generations.delete(micropayments);
    }
  }
}

export interface FederationDeps {
  federation: FederationStore;
  parties: PartyStore;
  micropayments: Micropayments;
  directory: CachedDirectory;
  /** Other services' gateways as the API asks them (at once, before a workflow takes over). */
  gateways: FederationGatewayClient;
  netting: NettingService;
  temporal: Client;
  taskQueue: string;
  gatewayId: string;
  deadlineMs: number;
  confirmationTimeoutMs: number;
  clock: () => number;
}

export interface AliasRequest { ruleSetId: string; expiresInSeconds?: number; maxUses?: number; askAboveMinor?: number }

export class FederationService {
  constructor(private readonly deps: FederationDeps) {}

  get gatewayId(): string {
    return this.deps.gatewayId;
  }

  /**
   * A peer gateway may talk to this one: the directory lists it as approved, with the certificate it presented (the
   * TLS handshake already checked the CA and the validity). Throws FederationRefused: 403 gateway_not_trusted, or 503
   * directory_unavailable when the directory cannot say (and no fresh answer is cached).
   */
  async trustPeer(gatewayId: string, fingerprint256: string): Promise<void> {
    let entry;
    try {
      entry = await this.deps.directory.gateway(gatewayId);
    } catch (err) {
      throw directoryFailure(err);
    }
    if (!entry || entry.status !== 'approved') throw new FederationRefused(403, 'gateway_not_trusted', `Gateway ${gatewayId} is not approved in the directory`);
    if (entry.fingerprint256 !== fingerprint256) {
      throw new FederationRefused(403, 'gateway_not_trusted', `Gateway ${gatewayId} presented a certificate the directory does not list for it`);
    }
  }

  /**
   * The gateway a request comes from, having checked everything but the TLS handshake (which checked the CA and the
   * certificate's validity): the certificate names a gateway, the request is signed by its key, recent and not seen
   * before, and the directory lists the gateway as approved with this certificate. Throws FederationRefused (401 with
   * the signature's fault, 403 gateway_not_trusted, 503 directory_unavailable).
   */
  async authenticate(r: { certDer: Buffer; fingerprint256: string; headers: Record<string, string | string[] | undefined>; method: string; path: string; body: string }):
  Promise<string> {
    const certPem = `-----BEGIN CERTIFICATE-----\n${r.certDer.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    const gatewayId = gatewayIdOf(certPem);
    if (!gatewayId) throw new FederationRefused(403, 'gateway_not_trusted', 'The certificate names no gateway');
    const check = verifyRequest(certPem, r.headers, { method: r.method, path: r.path, body: r.body }, this.deps.clock());
    if (!check.ok) throw new FederationRefused(401, check.reason, `The request's signature is not valid (${check.reason})`);
    await this.trustPeer(gatewayId, r.fingerprint256);
    if (!(await this.deps.federation.firstUse(gatewayId, check.nonce))) throw new FederationRefused(401, 'replayed', 'This request was received before');
    return gatewayId;
  }

  /** Forgets the nonces of requests older than twice the signatures' tolerance (a request that old is refused as stale). */
  purgeNonces(): Promise<number> {
    return this.deps.federation.purgeNonces(2 * DEFAULT_SIGNATURE_TOLERANCE_MS);
  }

  // --- the buyer's service --------------------------------------------------------------------------------

  /** A new alias of the buyer, bound to this gateway in the directory (nothing is kept if the directory is away). */
  async createAlias(buyerId: string, req: AliasRequest): Promise<Alias> {
    const alias = await this.deps.federation.createAlias({
      alias: aliasFrom(randomBytes(16)), buyerId, ruleSetId: req.ruleSetId,
      expiresAt: new Date(this.deps.clock() + (req.expiresInSeconds ?? DEFAULT_ALIAS_SECONDS) * 1000),
      maxUses: req.maxUses ?? null, askAboveMinor: req.askAboveMinor ?? null,
    });
    try {
      await this.deps.directory.client.bindIdentifier(alias.alias);
    } catch (err) {
      await this.deps.federation.revokeAlias(buyerId, alias.alias);
      throw directoryFailure(err);
    }
    return alias;
  }

  aliases(buyerId: string, page: PageRequest): Promise<Page<Alias>> {
    return this.deps.federation.aliases(buyerId, page);
  }

  /** Revokes the buyer's alias here (it pays nothing from now on) and unbinds it in the directory when it can. */
  async revokeAlias(buyerId: string, alias: string): Promise<Alias> {
    const revoked = await this.deps.federation.revokeAlias(buyerId, alias);
    if (!revoked) throw new FederationRefused(404, 'resource_missing', 'No such alias');
    await this.deps.directory.client.unbindIdentifier(alias).catch(() => { /* refused here anyway: a lookup finds an alias that pays nothing */ });
    return revoked;
  }

  /**
   * Another gateway's authorization request, decided once per (gateway, transaction id): a repeat with the same
   * request answers the same decision; a transaction id reused for another request is refused.
   */
  async authorize(fromGateway: string, body: AuthorizationRequestBody): Promise<AuthorizationAnswer> {
    const { federation } = this.deps;
    const req = {
      fromGateway, transactionId: body.transactionId, requestSha256: sha256(body), alias: body.alias,
      counterparty: `${fromGateway}:${body.payee.sellerId}`, category: body.payee.category, currency: body.currency, amountMinor: body.amountMinor,
    };
    const known = await federation.authorization(fromGateway, body.transactionId);
    if (known && known.requestSha256 !== req.requestSha256) {
      throw new FederationRefused(409, 'transaction_id_reused', `Transaction ${body.transactionId} was asked before with another request`);
    }
    if (known && known.state !== 'approving') return this.answerOf(await this.expireIfDue(known));
    const now = this.deps.clock();
    const found = await federation.forDecision(body.alias);
    const facts: AuthorizationFacts = { amountMinor: body.amountMinor, currency: body.currency, counterparty: req.counterparty, category: req.category, atMs: now };
    const verdict = decideAuthorization(found?.alias, found?.buyer, found?.rules, facts);
    if (verdict.decision === 'decline') {
      return this.answerOf((await federation.open(req, { state: 'declined', code: verdict.code, message: verdict.message, buyerId: found?.buyer.id ?? null })).row);
    }
    if (verdict.decision === 'ask' && !known) {
      return this.answerOf((await federation.open(req, { state: 'pending', expiresAt: new Date(now + this.deps.confirmationTimeoutMs), buyerId: found!.buyer.id })).row);
    }
    return this.answerOf(await this.approve(req, found!.alias.ruleSetId, found!.buyer.id, verdict.decision === 'approve' ? verdict.caps : NO_CAPS));
  }

  /**
   * The payee's service gives up on a transaction: an undecided one ends cancelled, an approved one is cancelled and
   * its micro-payment refunded, an unseen one is refused from now on. Asking again finishes what a crash left undone
   * (the refund of a cancelled transaction's payment, if one was recorded).
   */
  async cancel(fromGateway: string, transactionId: string): Promise<AuthorizationAnswer> {
    const { federation } = this.deps;
    const known = await federation.authorization(fromGateway, transactionId);
    if (!known) {
      const tomb = { fromGateway, transactionId, requestSha256: '-', alias: '-', counterparty: `${fromGateway}:-`, category: '-', currency: 'XXX', amountMinor: 1 };
      return this.answerOf((await federation.open(tomb, { state: 'cancelled', code: null, message: 'Cancelled by the payee service', buyerId: null })).row);
    }
    let row = known;
    if (known.state === 'approved') row = (await federation.cancelApproved(fromGateway, transactionId)) ?? (await federation.authorization(fromGateway, transactionId))!;
    else if (known.state === 'approving' || known.state === 'pending') row = await federation.end(fromGateway, transactionId, 'cancelled', null, 'Cancelled by the payee service');
    if (row.state === 'cancelled') await this.refundRecorded(row);
    return this.answerOf(row);
  }

  /** Refunds the micro-payment a cancelled transaction may have recorded (none: nothing to do; refunded before: nothing either). */
  private async refundRecorded(row: Authorization): Promise<void> {
    if (!row.buyerId) return;
    const p = await this.deps.micropayments.byClient(row.buyerId, clientIdOf(row.fromGateway, row.transactionId));
    if (p && !p.refundedAt) await this.deps.micropayments.refund(p, `federated transaction ${row.transactionId} cancelled by ${row.fromGateway}`);
  }

  /** The buyer's federated transactions (those waiting for its answer: state 'pending'), newest first. */
  async buyerTransactions(buyerId: string, state: Authorization['state'] | undefined, limit: number): Promise<Authorization[]> {
    const rows = await this.deps.federation.buyerAuthorizations(buyerId, state, limit);
    return Promise.all(rows.map((r) => this.expireIfDue(r)));
  }

  /** The buyer answers a transaction it was asked about: approved (within its caps), or declined. */
  async answer(buyerId: string, fromGateway: string, transactionId: string, approve: boolean): Promise<Authorization> {
    const { federation } = this.deps;
    const known = await federation.authorization(fromGateway, transactionId);
    if (!known || known.buyerId !== buyerId) throw new FederationRefused(404, 'resource_missing', 'No such federated transaction');
    const row = await this.expireIfDue(known);
    if (row.state !== 'pending') {
      throw new FederationRefused(409, 'transaction_decided', `The transaction is ${row.state}${row.code ? ` (${row.code})` : ''}`);
    }
    if (!approve) return federation.end(fromGateway, transactionId, 'declined', 'buyer_declined', 'The buyer declined');
    const found = await federation.forDecision(row.alias);
    const verdict = decideAuthorization(found?.alias, found?.buyer, found?.rules, {
      amountMinor: row.amountMinor, currency: row.currency, counterparty: row.counterparty, category: row.category, atMs: this.deps.clock(),
    });
    if (verdict.decision === 'decline') return federation.end(fromGateway, transactionId, 'declined', verdict.code, verdict.message);
    return this.approve(row, found!.alias.ruleSetId, buyerId, verdict.decision === 'approve' ? verdict.caps : NO_CAPS);
  }

  /** Reserves a use of the alias, records the micro-payment (the ledger applies the caps), and approves, or declines and gives the use back. */
  private async approve(req: Pick<Authorization, 'fromGateway' | 'transactionId' | 'requestSha256' | 'alias' | 'counterparty' | 'category' | 'currency' | 'amountMinor'>,
    ruleSetId: string, buyerId: string, caps: PaymentToRecord['caps']): Promise<Authorization> {
    const { federation, micropayments, clock } = this.deps;
    const reserved = await federation.reserve(req, buyerId, clock());
    if ('refused' in reserved) {
      return (await federation.open(req, { state: 'declined', code: reserved.refused, message: 'The identifier cannot pay now', buyerId })).row;
    }
    if (reserved.row.state !== 'approving') return reserved.row;
    const outcome = await recordOne(micropayments, {
      buyerId, sellerId: federationParty(req.fromGateway), itemId: req.counterparty.slice(0, 100), clientId: clientIdOf(req.fromGateway, req.transactionId),
      ruleSetId, currency: req.currency, amountMinor: req.amountMinor, feeMinor: 0, grantSeconds: 0, caps,
    }, clock());
    if (outcome.status === 'refused') return federation.end(req.fromGateway, req.transactionId, 'declined', outcome.code as FederationRefusal, outcome.message);
    const approved = await federation.approved(req.fromGateway, req.transactionId, outcome.payment.id);
    if (approved.state === 'cancelled') { // (the payee's service cancelled it while it was recorded: refund it)
      await this.refundRecorded(approved);
      return approved;
    }
    // (the transaction waits for its netting window in the database; this only wakes the window)
    await this.deps.netting.note(req.fromGateway).catch(() => { /* the next transaction, or the window before, starts it */ });
    return approved;
  }

  private async expireIfDue(row: Authorization): Promise<Authorization> {
    if (row.state === 'pending' && row.expiresAt && row.expiresAt.getTime() <= this.deps.clock()) {
      return this.deps.federation.end(row.fromGateway, row.transactionId, 'declined', 'buyer_confirmation_expired', 'The buyer did not answer in time');
    }
    return row;
  }

  private answerOf(a: Authorization): AuthorizationAnswer {
    return {
      transactionId: a.transactionId, decision: a.state === 'approving' ? 'pending' : a.state, code: a.code, message: a.message,
      expiresAt: a.state === 'pending' || a.state === 'approving' ? (a.expiresAt?.toISOString() ?? null) : null,
    };
  }

  // --- the seller's service -------------------------------------------------------------------------------

  /**
   * A seller's federated payment by a buyer's identifier, looked up in the directory. The buyer's service is asked at
   * once; its decision (approved: the payment is recorded here; declined) is the answer. When it cannot decide at once
   * (it asks its buyer, or cannot be reached), federatedPaymentWorkflow takes over and asks until the deadline: the
   * answer is then its decision, or pending after FEDERATED_REPLY_WAIT_MS. The payment's row, written first, holds the
   * workflow's input, so a payment whose API stopped in between is handed to its workflow by the repair loop.
   */
  async pay(sellerId: string, req: { clientId: string; buyerIdentifier: string; itemId: string; currency: string; amountMinor?: number }):
  Promise<{ payment: FederatedPaymentView; created: boolean }> {
    const { parties, federation } = this.deps;
    const [seller, item] = await Promise.all([parties.getSeller(sellerId), parties.getItem(sellerId, req.itemId)]);
    if (!seller) throw new FederationRefused(422, 'unknown_seller', `No seller ${sellerId}`, 'sellerId');
    if (!item) throw new FederationRefused(422, 'unknown_item', `Seller ${sellerId} has no item ${req.itemId}`, 'itemId');
    if (req.currency !== item.currency) throw new FederationRefused(422, 'currency_mismatch', `The item is sold in ${item.currency}`, 'currency');
    if (req.amountMinor !== undefined && req.amountMinor !== item.priceMinor) {
      throw new FederationRefused(422, 'price_mismatch', `The item costs ${item.priceMinor}, not ${req.amountMinor}`, 'amountMinor');
    }
    if (item.priceMinor > MAX_FEDERATED_MINOR) throw new FederationRefused(422, 'amount_too_large', `A federated payment is at most ${MAX_FEDERATED_MINOR}`, 'itemId');
    const requestSha256 = sha256(req);
    const existing = await federation.paymentBySellerClient(sellerId, req.clientId);
    if (existing && existing.requestSha256 !== requestSha256) {
      throw new FederationRefused(409, 'client_id_reused', `clientId '${req.clientId}' was used for another payment`, 'clientId');
    }
    if (existing && existing.state !== 'pending') return { payment: viewOf(existing), created: false };
    const peer = await this.lookupPayer(req.buyerIdentifier);
    const id = existing?.id ?? `fp_${randomBytes(12).toString('base64url')}`;
    const fresh: FederatedPaymentInput = {
      paymentId: id, sellerId, itemId: item.id, clientId: req.clientId, alias: req.buyerIdentifier, payeeGateway: this.deps.gatewayId,
      payer: { gatewayId: peer.gatewayId, endpoint: peer.endpoint, fingerprint256: peer.fingerprint256 },
      currency: item.currency, amountMinor: item.priceMinor, feeMinor: microFee(item.priceMinor, seller.feeBps), category: item.category,
      grantSeconds: item.grantSeconds, deadlineMs: this.deps.deadlineMs,
    };
    const { row, claim } = await federation.claimPayment({
      id, sellerId, clientId: req.clientId, requestSha256, alias: fresh.alias, payeeGateway: fresh.payeeGateway, payerGateway: peer.gatewayId,
      itemId: item.id, category: item.category, currency: item.currency, amountMinor: fresh.amountMinor, feeMinor: fresh.feeMinor,
    }, fresh);
    if (claim === 'different') throw new FederationRefused(409, 'client_id_reused', `clientId '${req.clientId}' was used for another payment`, 'clientId');
    if (row.state !== 'pending') return { payment: viewOf(row), created: false };
    const input = claim === 'created' ? fresh : { ...fresh, paymentId: row.id };
    if (claim === 'created') {
      const decided = await this.askOnce(input);
      if (decided) return { payment: decided, created: true };
    }
    const reply = this.startWorkflow(input);
    const decided = await replyWithin(reply, FEDERATED_REPLY_WAIT_MS);
    return { payment: decided ?? viewOf(row), created: claim === 'created' };
  }

  /** Asks the buyer's service once: its decision recorded here (the view), or undefined when it cannot decide now. */
  private async askOnce(input: FederatedPaymentInput): Promise<FederatedPaymentView | undefined> {
    let answer: AuthorizationAnswer;
    try {
      answer = await this.deps.gateways.authorize(input.payer, authorizationBody(input));
    } catch (err) {
      if (err instanceof GatewayRefused) return declinePayment(this.deps.federation, input.paymentId, 'payer_refused', err.message);
      return undefined; // (unreachable: the workflow asks again, with the same transaction id, until the deadline)
    }
    if (answer.decision === 'approved') return recordAuthorized({ ...this.deps }, input);
    if (answer.decision === 'pending') return undefined;
    return declinePayment(this.deps.federation, input.paymentId, answer.code ?? answer.decision, answer.message ?? `The buyer's service answered ${answer.decision}`);
  }

  /** Hands the payment to its workflow (a second start finds the first): answered by its `decided` update. */
  private startWorkflow(input: FederatedPaymentInput): Promise<FederatedPaymentView | null> {
    const { temporal, taskQueue, federation } = this.deps;
    return withinDeadline(temporal, () => temporal.workflow.executeUpdateWithStart(decidedUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation<FederatedPaymentWorkflow>('federatedPaymentWorkflow', {
        workflowId: federatedPaymentWorkflowId(input.paymentId), taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING',
        staticSummary: federatedPaymentSummary(input),
      }),
    }), 30_000).then(async (v) => { await federation.workflowStarted(input.paymentId); return v; },
      (err: unknown) => { throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err; });
  }

  /** A federated payment as its row says (undefined: none, or another seller's). */
  async payment(id: string): Promise<FederatedPayment | undefined> {
    return this.deps.federation.payment(id);
  }

  payments(sellerId: string, page: PageRequest): Promise<Page<FederatedPayment>> {
    return this.deps.federation.payments(sellerId, page);
  }

  private async lookupPayer(identifier: string): Promise<PeerGateway> {
    let peer: PeerGateway | undefined;
    try {
      peer = await this.deps.directory.lookup(identifier);
    } catch (err) {
      throw directoryFailure(err);
    }
    if (!peer) throw new FederationRefused(422, 'unknown_identifier', 'No payment service holds this identifier', 'buyerIdentifier');
    if (peer.gatewayId === this.deps.gatewayId) {
      throw new FederationRefused(422, 'identifier_is_local', "The identifier is this service's own: record a micro-payment instead", 'buyerIdentifier');
    }
    return peer;
  }
}

/** The clientId of the buyer's micro-payment for another gateway's transaction (what makes its recording idempotent). */
const clientIdOf = (fromGateway: string, transactionId: string) => `fed:${fromGateway}:${transactionId}`;

/** What the payee's service asks the buyer's about a payment (the transaction id is the payment's). */
export const authorizationBody = (input: FederatedPaymentInput): AuthorizationRequestBody => ({
  transactionId: input.paymentId, alias: input.alias, amountMinor: input.amountMinor, currency: input.currency,
  payee: { sellerId: input.sellerId, itemId: input.itemId, category: input.category },
});

/**
 * An approved payment recorded at the payee's service: a micro-payment from the buyer's service to the seller
 * (idempotent by its clientId; credited with the seller's others, settled by netting), the row authorized, and the
 * netting window told (the payment waits for it in the database whatever happens to that).
 */
export async function recordAuthorized(deps: { federation: FederationStore; micropayments: Micropayments; netting?: NettingService },
  input: FederatedPaymentInput): Promise<FederatedPaymentView> {
  const outcome = await recordOne(deps.micropayments, {
    buyerId: federationParty(input.payer.gatewayId), sellerId: input.sellerId, itemId: input.itemId, clientId: `fed:${input.paymentId}`,
    ruleSetId: 'federation', currency: input.currency, amountMinor: input.amountMinor, feeMinor: input.feeMinor,
    grantSeconds: input.grantSeconds, caps: NO_CAPS,
  }, Date.now());
  if (outcome.status === 'refused') throw new Error(`recording federated payment ${input.paymentId} was refused: ${outcome.code}`); // (no caps: cannot happen)
  const view = viewOf(await deps.federation.decidePayment(input.paymentId, { state: 'authorized', paymentId: outcome.payment.id }));
  await deps.netting?.note(input.payer.gatewayId).catch(() => { /* the next transaction, or the repair loop, wakes the window */ });
  return view;
}

export async function declinePayment(federation: FederationStore, paymentId: string, code: string, message: string): Promise<FederatedPaymentView> {
  return viewOf(await federation.decidePayment(paymentId, { state: 'declined', code, message }));
}

/**
 * The repair loop's pass: payments neither decided at once nor handed to their workflow for olderThanMs (their API
 * stopped in between) are handed to it now. The number handed.
 */
export async function startStrandedPayments(deps: { federation: FederationStore; temporal: Client; taskQueue: string }, olderThanMs = 10_000, limit = 100): Promise<number> {
  let started = 0;
  for (const s of await deps.federation.stranded(olderThanMs, limit)) {
    const input = s.input as FederatedPaymentInput;
    await withinDeadline(deps.temporal, () => deps.temporal.workflow.start<FederatedPaymentWorkflow>('federatedPaymentWorkflow', {
      workflowId: federatedPaymentWorkflowId(input.paymentId), taskQueue: deps.taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: federatedPaymentSummary(input),
    }));
    await deps.federation.workflowStarted(input.paymentId);
    started++;
  }
  return started;
}

const NO_CAPS = { perDayMinor: null, perPeriodMinor: null };

function directoryFailure(err: unknown): Error {
  if (err instanceof DirectoryUnavailable) return new FederationRefused(503, 'directory_unavailable', 'The gateway directory cannot be reached; try again shortly');
  if (err instanceof DirectoryRefusal) return new FederationRefused(503, 'directory_refused', `The gateway directory refused this gateway: ${err.code}`);
  return err as Error;
}

/** A peer's settlement account, as the directory lists it (cached). */
export const settlementAccountOf = (directory: CachedDirectory) => async (gatewayId: string): Promise<string> => {
  const e = await directory.gateway(gatewayId);
  if (!e) throw new Error(`gateway ${gatewayId} is not in the directory`);
  return e.settlementAccount;
};

/** This deployment's gateway credentials, from the federation folder (made by `npm run federation:ca`). */
export const gatewayCredentials = (dir: string, gatewayId: string): GatewayCredentials => loadGatewayCredentials(dir, gatewayId);
/** The gateway server's TLS options: mutual TLS, clients of the federation CA only. */
export const gatewayTls = (c: GatewayCredentials) => tlsServerOptions(c);
export type { GatewayCredentials };

/**
 * Registers this gateway with the directory (the same registration again changes nothing; an operator approves it),
 * or, when the directory holds it with another certificate or endpoint, renews it (signed with the key it holds now).
 */
export async function registerGateway(c: GatewayCredentials, r: { directoryUrl: string; serviceName: string; endpoint: string; settlementAccount: string }) {
  const directory = new DirectoryClient({ baseUrl: r.directoryUrl, gatewayId: c.gatewayId, keyPem: c.keyPem });
  try {
    return await directory.register({ gatewayId: c.gatewayId, serviceName: r.serviceName, endpoint: r.endpoint, certificate: c.certPem, settlementAccount: r.settlementAccount });
  } catch (err) {
    if (err instanceof DirectoryRefusal && err.code === 'gateway_exists') return directory.renew(c.certPem, r.endpoint);
    throw err;
  }
}

export function viewOf(p: FederatedPayment): FederatedPaymentView {
  return {
    id: p.id, state: p.state, sellerId: p.sellerId, clientId: p.clientId, buyerIdentifier: p.alias, payerGateway: p.payerGateway,
    payeeGateway: p.payeeGateway, itemId: p.itemId, currency: p.currency, amountMinor: p.amountMinor, feeMinor: p.feeMinor,
    micropaymentId: p.paymentId === null ? null : `mp_${p.paymentId}`, failure: p.code ? { code: p.code, message: p.message ?? p.code } : null,
    decidedAt: p.decidedAt?.toISOString() ?? null, createdAt: p.createdAt.toISOString(),
  };
}

/** The Web UI's one line for a federated payment's workflow. */
const federatedPaymentSummary = (i: FederatedPaymentInput) =>
  `Federated payment ${i.paymentId}: ${formatMoney(i.amountMinor, i.currency)} from ${i.alias}@${i.payer.gatewayId} to seller ${i.sellerId}`;
