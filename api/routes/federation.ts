// Federation through the API. A buyer of this service makes aliases (temporary identifiers bound to one of its rule
// sets) to pay sellers of other services, and answers the transactions its rules leave to it. A seller of this
// service takes a payment from another service's buyer by the buyer's identifier: federatedPaymentWorkflow asks the
// buyer's service. The gateways' own protocol (mutual TLS) is api/gateway.ts.
import { z } from 'zod';
import { ALIAS_PATTERN, DEFAULT_ALIAS_SECONDS, MAX_ALIAS_SECONDS, MAX_ALIAS_USES, MAX_FEDERATED_MINOR, TRANSACTION_ID } from '../../domain/federation';
import type { Services } from '../../services';
import { type FederationService, viewOf } from '../../services/federation';
import type { Alias, Authorization } from '../../stores/federation';
import { ApiError, notFound } from '../errors';
import { type Operation, operation } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { clientId, currency, itemId, nullableTimestamp, pageOf, pageQuery, timestamp } from '../schemas';

const aliasSchema = z.object({
  alias: z.string().meta({ description: 'The identifier a seller of another service takes' }), object: z.literal('federation_alias'),
  ruleSetId: z.string(), expiresAt: timestamp, maxUses: z.number().int().nullable(), uses: z.number().int(),
  askAboveMinor: z.number().int().nullable().meta({ description: 'Above this amount the buyer is asked (GET /v1/federation/transactions?state=pending)' }),
  revokedAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'FederationAlias' });
const aliasView = (a: Alias) => ({
  alias: a.alias, object: 'federation_alias' as const, ruleSetId: a.ruleSetId, expiresAt: a.expiresAt.toISOString(), maxUses: a.maxUses,
  uses: a.uses, askAboveMinor: a.askAboveMinor, revokedAt: a.revokedAt?.toISOString() ?? null, createdAt: a.createdAt.toISOString(),
});

const TX_STATES = ['approving', 'approved', 'declined', 'pending', 'cancelled'] as const;
const transactionSchema = z.object({
  object: z.literal('federated_transaction'), gatewayId: z.string().meta({ description: "The payee service's gateway" }),
  transactionId: z.string(), alias: z.string(), counterparty: z.string().meta({ description: '<gateway id>:<seller id> of the payee' }),
  category: z.string(), currency: z.string(), amountMinor: z.number().int(), state: z.enum(TX_STATES),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(), micropaymentId: z.string().nullable(),
  expiresAt: nullableTimestamp.meta({ description: 'pending: until when the buyer may answer' }), decidedAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'FederatedTransaction' });
const transactionView = (t: Authorization) => ({
  object: 'federated_transaction' as const, gatewayId: t.fromGateway, transactionId: t.transactionId, alias: t.alias, counterparty: t.counterparty,
  category: t.category, currency: t.currency, amountMinor: t.amountMinor, state: t.state,
  failure: t.code ? { code: t.code, message: t.message ?? t.code } : null, micropaymentId: t.paymentId === null ? null : `mp_${t.paymentId}`,
  expiresAt: t.expiresAt?.toISOString() ?? null, decidedAt: t.decidedAt?.toISOString() ?? null, createdAt: t.createdAt.toISOString(),
});

const paymentSchema = z.object({
  id: z.string(), object: z.literal('federated_payment'),
  state: z.enum(['pending', 'authorized', 'declined']).meta({ description: "pending (the buyer's service deciding or asking its buyer), authorized "
    + '(the purchase may proceed: micropaymentId is credited with the seller\'s others), declined (failure.code)' }),
  sellerId: z.string(), clientId: z.string(), buyerIdentifier: z.string(), payerGateway: z.string(), payeeGateway: z.string(), itemId: z.string(),
  currency: z.string(), amountMinor: z.number().int(), feeMinor: z.number().int(), micropaymentId: z.string().nullable(),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(), decidedAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'FederatedPayment' });

const gatewayParam = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a gateway id');
const transactionParam = z.string().regex(TRANSACTION_ID, 'a transaction id');

const positionSchema = z.object({ currency: z.string(), owedByFirst: z.number().int(), owedBySecond: z.number().int(), debtor: z.string().nullable(),
  creditor: z.string().nullable(), netMinor: z.number().int() }).meta({ description: "first: the pair's coordinator" });
const windowSchema = z.object({
  object: z.literal('netting_window'), peerGateway: z.string(), seq: z.number().int(),
  role: z.enum(['coordinator', 'member']).meta({ description: 'coordinator: this service closes the window (its gateway id sorts first)' }),
  state: z.enum(['open', 'closed', 'agreed', 'settled', 'mismatch']), transactions: z.number().int(), positions: z.array(positionSchema).nullable(),
  transfers: z.array(z.object({ currency: z.string(), transferId: z.string() })).meta({ description: "The processor's transfer of each net amount" }),
  mismatches: z.array(z.object({ transactionId: z.string(), reason: z.string() })).nullable(),
  openedAt: timestamp, closedAt: nullableTimestamp, settledAt: nullableTimestamp,
}).meta({ id: 'NettingWindow' });

export function federationOperations(services: Services): Operation[] {
  const on = (): FederationService => {
    if (!services.federation) throw new ApiError(404, 'not_found_error', 'federation_not_enabled', 'This deployment runs no federation gateway');
    return services.federation;
  };
  const answer = (approve: boolean) => operation({
    method: 'post', path: `/federation/transactions/:gatewayId/:transactionId/${approve ? 'approve' : 'decline'}`, allow: ['buyer'],
    params: { gatewayId: gatewayParam, transactionId: transactionParam },
    summary: approve ? 'Approve a federated transaction your rules left to you' : 'Decline a federated transaction your rules left to you',
    description: approve ? 'Approved within your rule set\'s caps (a cap it would pass declines it: failure.code)' : undefined,
    responses: { 200: { description: 'The transaction as it ends up', schema: transactionSchema } },
    async handler({ res, principal, params }) {
      res.json(transactionView(await on().answer(principal.id, params.gatewayId, params.transactionId, approve)));
    },
  });
  return [
    operation({
      method: 'get', path: '/federation/windows', allow: ['operator'], summary: 'Netting windows with other payment services, newest first (operator)',
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
      responses: { 200: { description: 'OK', schema: z.object({ object: z.literal('list'), data: z.array(windowSchema) }) } },
      async handler({ res, query }) {
        on();
        const windows = await services.netting!.windows(query.limit);
        res.json({ object: 'list', data: windows.map((w) => ({ object: 'netting_window', ...w, openedAt: w.openedAt.toISOString(),
          closedAt: w.closedAt?.toISOString() ?? null, settledAt: w.settledAt?.toISOString() ?? null })) });
      },
    }),
    operation({
      method: 'post', path: '/federation/aliases', allow: ['buyer'], idempotency: 'stored',
      summary: 'A temporary identifier for paying sellers of other payment services',
      description: 'Bound to one of your rule sets (its caps, categories and counterparties decide each payment) and registered with the '
        + 'gateway directory. Sellers of other services learn only the alias. 503 directory_unavailable: nothing was made.',
      body: z.strictObject({
        ruleSetId: z.string().regex(/^rs_[A-Za-z0-9]{1,40}$/, 'a rule set id (rs_...)'),
        expiresInSeconds: z.number().int().min(60).max(MAX_ALIAS_SECONDS).optional().meta({ description: `Default ${DEFAULT_ALIAS_SECONDS} (30 days)` }),
        maxUses: z.number().int().min(1).max(MAX_ALIAS_USES).optional(),
        askAboveMinor: z.number().int().min(0).max(MAX_FEDERATED_MINOR).optional().meta({ description: 'Ask me above this amount (0: always)' }),
      }),
      responses: { 201: { description: 'Created', schema: aliasSchema } },
      async handler({ res, principal, body }) {
        res.status(201).json(aliasView(await on().createAlias(principal.id, body)));
      },
    }),
    operation({
      method: 'get', path: '/federation/aliases', allow: ['buyer'], summary: 'Your aliases, newest first', query: z.strictObject(pageQuery),
      responses: { 200: { description: 'OK', schema: pageOf(aliasSchema) } },
      async handler({ res, principal, query }) {
        res.json(pageAnswer(await on().aliases(principal.id, pageRequest(query)), aliasView));
      },
    }),
    operation({
      method: 'post', path: '/federation/aliases/:alias/revoke', allow: ['buyer'], params: { alias: z.string().regex(ALIAS_PATTERN, 'an alias (fa-...)') },
      summary: 'Revoke an alias: it pays nothing from now on', responses: { 200: { description: 'Revoked', schema: aliasSchema } },
      async handler({ res, principal, params }) {
        res.json(aliasView(await on().revokeAlias(principal.id, params.alias)));
      },
    }),
    operation({
      method: 'get', path: '/federation/transactions', allow: ['buyer'], summary: 'Payments of yours that sellers of other services asked for, newest first',
      query: z.strictObject({ state: z.enum(TX_STATES).optional(), limit: z.coerce.number().int().min(1).max(100).default(20) }),
      responses: { 200: { description: 'OK', schema: z.object({ object: z.literal('list'), data: z.array(transactionSchema) }) } },
      async handler({ res, principal, query }) {
        res.json({ object: 'list', data: (await on().buyerTransactions(principal.id, query.state, query.limit)).map(transactionView) });
      },
    }),
    answer(true),
    answer(false),
    operation({
      method: 'post', path: '/federation/payments', allow: ['merchant'],
      summary: "Take a payment from another service's buyer, by the buyer's identifier",
      description: "The identifier is looked up in the gateway directory and the buyer's service asked (federatedPaymentWorkflow). "
        + 'Answered once it decides (201 authorized or declined) or after a few seconds as pending (202: GET it again). A repeat of the same '
        + 'clientId and request answers the same payment (200). 503 directory_unavailable: nothing was asked.',
      body: z.strictObject({
        clientId: clientId.meta({ description: 'Makes the payment idempotent per seller' }),
        buyerIdentifier: z.string().min(3).max(128).regex(/^[A-Za-z0-9._@+:-]+$/, 'letters, digits and . _ @ + : -'),
        itemId, currency,
        amountMinor: z.number().int().min(1).max(MAX_FEDERATED_MINOR).optional().meta({ description: 'The price expected; refused (price_mismatch) when the item costs another' }),
      }),
      responses: { 201: { description: 'Decided', schema: paymentSchema }, 202: { description: 'Pending', schema: paymentSchema },
        200: { description: 'The existing payment', schema: paymentSchema } },
      async handler({ res, principal, body }) {
        const { payment, created } = await on().pay(principal.id, body);
        res.status(!created ? 200 : payment.state === 'pending' ? 202 : 201).json({ ...payment, object: 'federated_payment' });
      },
    }),
    operation({
      method: 'get', path: '/federation/payments', allow: ['merchant'], summary: 'Your federated payments, newest first', query: z.strictObject(pageQuery),
      responses: { 200: { description: 'OK', schema: pageOf(paymentSchema) } },
      async handler({ res, principal, query }) {
        res.json(pageAnswer(await on().payments(principal.id, pageRequest(query)), (p) => ({ ...viewOf(p), object: 'federated_payment' })));
      },
    }),
    operation({
      method: 'get', path: '/federation/payments/:id', allow: ['merchant', 'operator'], summary: 'A federated payment (its seller, operators)',
      responses: { 200: { description: 'OK', schema: paymentSchema } },
      async handler({ res, principal, params }) {
        const p = await on().payment(params.id);
        if (!p || (principal.kind !== 'operator' && p.sellerId !== principal.id)) throw notFound('federated payment');
        res.json({ ...viewOf(p), object: 'federated_payment' });
      },
    }),
  ];
}
