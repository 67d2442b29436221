// `npm run histories:record [-- name ...]`: runs scenarios on a private stack (PostgreSQL, Temporal, processor
// simulator, a webhook receiver) with the real activities and writes each event history to
// test/histories/<name>.json; test/replay replays them all against today's code on every test run.
// Without names it records only the scenarios that have no history yet: the histories already there were
// made by earlier versions of the workflows and are what proves a change safe for running workflows. Name a
// scenario to record it anew (only while no workflow of the version it recorded can be running anywhere: see
// docs/architecture.md, "Changing a workflow").
import { createHash, X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, WorkflowContinuedAsNewError, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig, ROOT_DIR } from '../../config';
import { createActivities } from '../../activities';
import type { ItemClass } from '../../domain/bids';
import { microFee, type PaymentToRecord } from '../../domain/micropayments';
import { type Database, type Db, openDatabase } from '../../ledger/db';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { FederationGatewayClient } from '../../processors/federation/gateway';
import type { CachedDirectory } from '../../services/federation';
import { createCa, issueGatewayCert, tlsServerOptions } from '../../processors/federation/pki';
import type { Dispute as ProcessorDispute } from '../../processors/client';
import { HttpMessagingGateway, MessagingGatewayAdmin } from '../../processors/messaging/client';
import { signGatewayWebhook } from '../../processors/messaging/signature';
import { generateDeviceKeys, signAnswer } from '../../processors/devices/signatures';
import type { OrderInput } from '../../domain/order';
import { SCRATCH_MESSAGING_API_KEY, SCRATCH_MESSAGING_WEBHOOK_SECRET, startScratchStack } from '../../scripts/scratch-stack';
import { createServices, type Services } from '../../services';
import { DeliveryService } from '../../services/delivery';
import { createStores, type Stores } from '../../stores';
import type { AutoBid } from '../../stores/bids';
import { newWebhookSecret } from '../../webhooks/signature';
import { workerOptions } from '../../workers/options';
import { bidRoundWorkflowId } from '../../workflows/bidRound.contract';
import { cartWorkflowId } from '../../workflows/cart.contract';
import { checkoutSessionWorkflowId } from '../../workflows/checkoutSession.contract';
import { deliveryGroupWorkflowId } from '../../workflows/deliveryGroup.contract';
import { disputeWorkflowId } from '../../workflows/dispute.contract';
import { federatedPaymentWorkflowId, federationParty } from '../../workflows/federatedPayment.contract';
import { holdWorkflowId } from '../../workflows/hold.contract';
import { nettingWindowWorkflowId } from '../../workflows/nettingWindow.contract';
import { cancelUpdate, refundUpdate, reviewUpdate, shipUpdate, submitUpdate } from '../../workflows/order.contract';
import { buildOrderInput, insertOrderRow, MERCHANT_SETTINGS, type OrderSpec } from '../support/order-input';
import { Receiver } from '../support/receiver';
import { historiesDataConverter } from './payload-key';

interface Scenario {
  name: string;
  /** Starts the workflow; returns its handle. */
  start(ctx: Ctx): Promise<WorkflowHandle>;
  /** Drives the running workflow (updates) before its result is awaited. */
  drive?(h: WorkflowHandle, ctx: Ctx): Promise<void>;
}

interface Ctx {
  client: Client;
  processor: HttpProcessorClient;
  taskQueue: string;
  db: Db;
  stores: Stores;
  delivery: DeliveryService;
  receiver: Receiver;
  /** A webhook endpoint of the history merchant, at the receiver. */
  endpointId: string;
  database: Database;
  /** The services over the stack, with quick order timing (a refund window of 1 s). */
  services: Services;
  /** The history merchant. */
  merchantId: string;
  order(name: string, spec?: Partial<OrderSpec> & { card?: string; input?: Partial<OrderInput> }): Promise<WorkflowHandle>;
  /** The messaging gateway's admin API (the customer's phone). */
  phones: MessagingGatewayAdmin;
}

/** An order its customer confirms by message from `phone` (reply deadline timeoutMs). */
async function confirmed(c: Ctx, phone: string, timeoutMs = 60_000): Promise<Partial<OrderInput>> {
  const { token, masked } = await c.stores.phones.tokenize(phone);
  return { confirmation: { channel: 'sms', phoneToken: token, phoneMasked: masked, reason: 'requested', timeoutMs, sendDeadlineMs: 60_000 } };
}

/** The customer's reply to the offer on the phone, as the gateway delivers it (signed) to the confirmation service. */
async function replyToOffer(c: Ctx, phone: string, word: 'YES' | 'NO'): Promise<void> {
  let offer;
  while (!(offer = (await c.phones.phoneMessages(phone)).find((m) => /YES \d{6}/.test(m.body)))) await new Promise((r) => setTimeout(r, 100));
  const code = /YES (\d{6})/.exec(offer.body)![1];
  const raw = JSON.stringify({ type: 'message.inbound', data: { from: phone, to: offer.from, body: `${word} ${code}` } });
  await c.services.confirmations.receive(signGatewayWebhook(SCRATCH_MESSAGING_WEBHOOK_SECRET, `evt_history_${phone}`, raw, Date.now()), raw, Date.now());
}

const SOFT_SONG = [{ sku: 'song', quantity: 1, unitPriceMinor: 129, kind: 'soft' as const }];

const ship = (h: WorkflowHandle, shipmentId: string, items: Array<{ sku: string; quantity: number }>) =>
  h.executeUpdate(shipUpdate, { args: [{ shipmentId, items, trackingNumber: `TRK-${shipmentId}` }] });

async function shippedInTwoThenRefunded(h: WorkflowHandle): Promise<void> {
  await h.executeUpdate(submitUpdate);
  await ship(h, 's1', [{ sku: 'book', quantity: 2 }]);
  await ship(h, 's2', [{ sku: 'lamp', quantity: 1 }]);
  await h.executeUpdate(refundUpdate, { args: [{ refundId: 'r1', kind: 'refund', amountMinor: 1000 }] });
  await h.executeUpdate(refundUpdate, { args: [{ refundId: 'r2', kind: 'return', items: [{ sku: 'lamp', quantity: 1 }] }] });
}

const scenarios: Scenario[] = [
  { name: 'ping-echo', start: (c) => c.client.workflow.start('pingWorkflow', { taskQueue: c.taskQueue, workflowId: 'history-ping-echo', args: [{ message: 'hello' }] }) },
  { name: 'ping-with-ledger-check', start: (c) => c.client.workflow.start('pingWorkflow', { taskQueue: c.taskQueue, workflowId: 'history-ping-ledger', args: [{ message: 'hello', checkLedger: true }] }) },
  { name: 'order-shipped-in-two-then-refunded', start: (c) => c.order('two-shipments'), drive: shippedInTwoThenRefunded },
  {
    name: 'order-soft-goods', start: (c) => c.order('soft', { items: [{ sku: 'song', quantity: 2, unitPriceMinor: 129, kind: 'soft' }] }),
    async drive(h) { await h.executeUpdate(submitUpdate); },
  },
  { name: 'order-declined', start: (c) => c.order('declined', { card: '4000000000000002' }) },
  {
    name: 'order-confirmed-by-reply', start: async (c) => c.order('confirmed-by-reply', { items: SOFT_SONG, shipping: null, input: await confirmed(c, '+15550100001') }),
    async drive(_h, c) { await replyToOffer(c, '+15550100001', 'YES'); },
  },
  { name: 'order-confirmation-expired', start: async (c) => c.order('confirmation-expired', { items: SOFT_SONG, shipping: null, input: await confirmed(c, '+15550100002', 1_000) }) },
  {
    name: 'order-authenticated-on-device',
    async start(c) {
      const keys = generateDeviceKeys('ed25519');
      const { code } = await c.services.authentications.createRegistration(c.merchantId, 'history-device-customer');
      const { device } = await c.services.authentications.register({ registrationCode: code, algorithm: 'ed25519', publicKey: keys.publicKey });
      const h = await c.order('authenticated-on-device', { items: SOFT_SONG, shipping: null, card: '4000002760003184', input: { customerId: 'history-device-customer' } });
      let a;
      while (!(a = await c.stores.devices.authenticationOfOrder(h.workflowId))) await new Promise((r) => setTimeout(r, 100));
      await c.services.authentications.respond(a.id, signAnswer('ed25519', keys.privateKey, {
        authenticationId: a.id, deviceId: device.id, decision: 'approve', challenge: a.request.challenge, amountMinor: a.request.amountMinor,
        currency: a.request.currency, merchantId: a.merchantId, reference: a.request.reference, signedAt: new Date().toISOString() }), Date.now());
      return h;
    },
  },
  { name: 'order-avs-rejected', start: (c) => c.order('avs-rejected', { postalCode: '00000' }) },
  {
    name: 'order-avs-review-approved', start: (c) => c.order('review', { postalCode: '11111' }),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await h.executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] });
      await ship(h, 'all', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
    },
  },
  {
    name: 'order-cancelled', start: (c) => c.order('cancelled'),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await h.executeUpdate(cancelUpdate, { args: [{ cancelId: 'c1' }] });
    },
  },
  {
    name: 'order-with-webhook-events', start: (c) => c.order('webhooks'),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await ship(h, 's1', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
      await h.executeUpdate(refundUpdate, { args: [{ refundId: 'r1', kind: 'refund', amountMinor: 500 }] });
    },
  },
  {
    name: 'order-review-shipped-returned', start: (c) => c.order('review-returned', { postalCode: '11111' }),
    async drive(h) {
      await h.executeUpdate(submitUpdate);
      await h.executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] });
      await ship(h, 's1', [{ sku: 'book', quantity: 1 }]);
      await ship(h, 's2', [{ sku: 'book', quantity: 1 }, { sku: 'lamp', quantity: 1 }]);
      await h.executeUpdate(refundUpdate, { args: [{ refundId: 'r1', kind: 'return', items: [{ sku: 'lamp', quantity: 1 }] }] });
    },
  },
  {
    name: 'deliveryGroup-dead-letter-redelivered-then-continued-as-new',
    async start(c) {
      const group = 'history-group';
      const handle = await c.client.workflow.start('deliveryGroupWorkflow', {
        taskQueue: c.taskQueue, workflowId: deliveryGroupWorkflowId(c.endpointId, group),
        args: [{ destinationId: c.endpointId, groupKey: group, continueAsNewAfter: 3 }],
      });
      const ids = ['hist-m0', 'hist-m1', 'hist-m2', 'hist-m3'];
      let fixed = false;
      c.receiver.answer = (id) => (id === ids[0] && !fixed ? 400 : 200);
      for (const id of ids) await c.delivery.enqueue({ id, destinationId: c.endpointId, groupKey: group, body: JSON.stringify({ id }) });
      while ((await c.stores.delivery.messageOwner(ids[0]))?.state !== 'dead') await new Promise((r) => setTimeout(r, 100));
      fixed = true;
      await c.delivery.resolveDeadLetter(ids[0], 'redeliver');
      // The first run ends by continuing as new after three messages, with the fourth still queued.
      return c.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId, { followRuns: false });
    },
  },
  {
    name: 'settlementBatch-two-per-batch', start: (c) => c.client.workflow.start('settlementBatchWorkflow', {
      taskQueue: c.taskQueue, workflowId: 'history-settlement-batch', args: [{ capturesPerBatch: 2 }],
    }),
  },
  {
    // three buyers (one card declines) and two sellers, two lines per processor file
    name: 'settlementPeriod-close-two-per-file',
    async start(c) {
      const seller = [await microSeller(c, 'a', 500), await microSeller(c, 'b', 0)];
      const cards = ['4242424242424242', '4242424242424242', '4000000000000002'];
      const payments: PaymentToRecord[] = [];
      for (const [i, card] of cards.entries()) {
        const token = (await c.processor.tokenize({ cardNumber: card, expMonth: 12, expYear: 2099 }, `tok-close-${i}`)).token;
        const { buyer } = await c.stores.parties.createBuyer({ name: `History buyer ${i}`, currency: 'USD', paymentToken: token });
        const { ruleSet } = await c.stores.parties.createRuleSet(buyer.id, 'buyer', {});
        for (const [k, s] of seller.entries()) {
          payments.push({ buyerId: buyer.id, sellerId: s.id, itemId: 'article', clientId: `h-${i}-${k}`, ruleSetId: ruleSet.id, currency: 'USD',
            amountMinor: 25, feeMinor: microFee(25, s.feeBps), grantSeconds: 3600, caps: { perDayMinor: null, perPeriodMinor: null } });
        }
      }
      const { micropayments, periods } = c.stores;
      await micropayments.record(payments, Date.now(), await micropayments.generation());
      return c.client.workflow.start('settlementPeriodWorkflow', {
        taskQueue: c.taskQueue, workflowId: 'history-settlement-period',
        args: [{ periodSeq: await periods.openSeq(), graceMs: 100, fileLines: 2, dunningDelaysMs: [3_600_000] }],
      });
    },
  },
  {
    name: 'dunning-retried-then-suspended',
    async start(c) {
      const token = (await c.processor.tokenize({ cardNumber: '4000000000000002', expMonth: 12, expYear: 2099 }, 'tok-dunning')).token;
      const { buyer } = await c.stores.parties.createBuyer({ name: 'History debtor', currency: 'USD', paymentToken: token });
      const seq = await c.stores.periods.openSeq();
      await c.db('invoices').insert({ period_seq: seq, buyer_id: buyer.id, currency: 'USD', payment_count: 1, gross_minor: 40, refunded_minor: 0,
        amount_minor: 40, state: 'failed', charge_token: token, attempts: 1 });
      return c.client.workflow.start('dunningWorkflow', {
        taskQueue: c.taskQueue, workflowId: 'history-dunning', args: [{ periodSeq: seq, buyerId: buyer.id, delaysMs: [50, 50] }],
      });
    },
  },
  {
    // a daily merchant with one shipped order: the day's run prepares its payout and starts the payout, which is paid
    name: 'payoutRun-one-merchant-paid',
    async start(c) {
      const merchantId = await shippedOrderOf(c, 'payout-run', 'acct_history_run');
      await c.db('merchants').whereNot({ id: merchantId }).update({ payout_interval: 'manual' }); // (the run pays this merchant only)
      return c.client.workflow.start('payoutRunWorkflow', {
        taskQueue: c.taskQueue, workflowId: 'history-payout-run', args: [{ cutoff: new Date().toISOString(), retryDelaysMs: [50] }],
      });
    },
  },
  {
    name: 'payout-refused-then-failed',
    async start(c) {
      const merchantId = await shippedOrderOf(c, 'payout-refused', 'fail_history');
      const [payout] = await c.stores.payouts.prepare(merchantId, new Date(), 'history');
      return c.client.workflow.start('payoutWorkflow', {
        taskQueue: c.taskQueue, workflowId: `history-payout-refused`, args: [{ payoutId: payout.id, retryDelaysMs: [50] }],
      });
    },
  },
  {
    // the processor records a capture the ledger never saw
    name: 'reconciliation-day-with-stray-capture',
    async start(c) {
      await shippedOrderOf(c, 'reconciled', 'acct_history_reconciled');
      const token = (await c.processor.tokenize({ cardNumber: '4242424242424242', expMonth: 12, expYear: 2099 }, 'tok-stray')).token;
      const auth = await c.processor.authorize({ token, amountMinor: 1234, currency: 'USD', postalCode: '94107', reference: 'stray' }, 'auth-stray');
      await c.processor.capture(auth.id, 1234, 'cap-stray');
      return c.client.workflow.start('reconciliationWorkflow', {
        taskQueue: c.taskQueue, workflowId: 'history-reconciliation', args: [{ day: new Date().toISOString().slice(0, 10) }],
      });
    },
  },
  {
    // the first card declines, the session reopens, the second card pays: completed, its order started once
    name: 'checkoutSession-declined-then-paid',
    async start(c) {
      const session = await checkoutSession(c, 'declined-then-paid');
      const row = (await c.services.checkout.session(session.id))!;
      await c.services.checkout.pay(row, await softPayment(c, '4000000000000002', 'declined'));
      await c.services.checkout.pay(row, await softPayment(c, '4242424242424242', 'paid'));
      return c.client.workflow.getHandle(checkoutSessionWorkflowId(session.id));
    },
  },
  {
    // a checkout's order: it tells its session the authorization's outcome, captures the soft goods, closes
    name: 'order-of-checkout-tells-session',
    async start(c) {
      const session = await checkoutSession(c, 'order-of-checkout');
      const paid = await c.services.checkout.pay((await c.services.checkout.session(session.id))!, await softPayment(c, '4242424242424242', 'order'));
      return c.client.workflow.getHandle(paid.session.orderId!);
    },
  },
  {
    name: 'checkoutSession-expired',
    async start(c) {
      // (the services' clock a day behind, less 300 ms: the default 24-hour expiry is 300 ms away)
      const late = await createServices(c.database, c.client, { ...serviceSettings(c.taskQueue),
        clock: () => Date.now() - 86_400_000 + 300 });
      const session = await checkoutSession({ ...c, services: late }, 'expired');
      return c.client.workflow.getHandle(checkoutSessionWorkflowId(session.id));
    },
  },
  {
    // three merchants' items bought in one authorization: one order per merchant, each with its share
    name: 'cart-three-merchants-purchased',
    async start(c) {
      const { cartId } = await boughtCart(c, 'three', 3);
      return c.client.workflow.getHandle(cartWorkflowId(cartId));
    },
  },
  {
    // a cart's order whose merchant cancels: it releases only its share of the cart's authorization
    name: 'order-cart-share-cancelled',
    async start(c) {
      const { orders } = await boughtCart(c, 'share', 2, 'hard');
      const h = c.client.workflow.getHandle(orders[0].orderId);
      await h.executeUpdate(cancelUpdate, { args: [{ cancelId: 'c1' }] });
      return h;
    },
  },
  {
    name: 'cart-continued-as-new',
    async start(c) {
      const cartId = 'cart_history_continued';
      await c.stores.checkout.createCart(cartId, Buffer.from('history'));
      const handle = await c.client.workflow.start('cartWorkflow', { taskQueue: c.taskQueue, workflowId: cartWorkflowId(cartId),
        args: [{ cartId, updatesPerRun: 2 }] });
      const item = c.services.carts.openOffer((await c.services.carts.offer(c.merchantId, cartItem('continued', 300))).offer);
      const { available: _, ...line } = item;
      for (let i = 0; i < 3; i++) await handle.executeUpdate('add', { args: [{ line, quantity: 1 }] });
      return c.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId, { followRuns: false });
    },
  },
  {
    // sell first: two bids close the round early; the winner cancels before shipping, the award falls to the next, which ships
    name: 'bidRound-sell-first-winner-withdrew-then-fulfilled',
    async start(c) {
      const { roundId, bidders } = await soldRound(c, 'withdrew', 2);
      const first = await c.services.bids.waitFor((await c.services.bids.round(roundId))!, ['authorizing', 'open'], 20_000);
      await c.client.workflow.getHandle(first.awards[0].orderId).executeUpdate(cancelUpdate, { args: [{ cancelId: 'withdraw' }] });
      const second = await until(async () => (await c.services.bids.current((await c.services.bids.round(roundId))!)).awards[1]);
      if (second.merchantId !== bidders[1]) throw new Error(`the award fell to ${second.merchantId}, not ${bidders[1]}`);
      await ship(c.client.workflow.getHandle(second.orderId), 'all', [{ sku: 'history-isbn-withdrew', quantity: 1 }]);
      return c.client.workflow.getHandle(bidRoundWorkflowId(roundId));
    },
  },
  {
    // sell first with no acceptable bid: reopened once, then the authorization voided
    name: 'bidRound-sell-first-no-award',
    async start(c) {
      const { roundId } = await soldRound(c, 'no-award', 0, 1);
      return c.client.workflow.getHandle(bidRoundWorkflowId(roundId));
    },
  },
  {
    // quote first: auto-bids quoted; an acceptance declined, the next authorized and awarded (soft goods: captured at once)
    name: 'bidRound-quote-first-declined-then-accepted',
    async start(c) {
      const itemClass = await historyClass(c, 'quote', 'soft', 60);
      for (const price of [900, 800]) await optedIn(c, itemClass, `quote-${price}`, { unitPriceMinor: price, deliveryDays: 0, maxQuantity: null });
      const app = (await c.stores.principals.create('buyer_app', 'History storefront')).principal.id;
      const { round } = await c.services.bids.quote(app, 'history-quote', { itemClass: itemClass.id, quantity: 2, customerId: 'history', windowSeconds: 1 });
      await c.services.bids.waitFor((await c.services.bids.round(round.id))!, ['open'], 20_000);
      for (const card of ['4000000000000002', '4242424242424242']) {
        const token = (await c.processor.tokenize({ cardNumber: card, expMonth: 12, expYear: 2099 }, `tok-quote-${card}`)).token;
        await c.services.bids.accept((await c.services.bids.round(round.id))!, { payment: { token, billingPostalCode: '94107' }, address: null });
      }
      return c.client.workflow.getHandle(bidRoundWorkflowId(round.id));
    },
  },
  {
    // a bid round's order whose merchant cancels before capturing: it hands its share back to the round, nothing voided
    name: 'order-of-bid-round-handed-back',
    async start(c) {
      const { roundId } = await soldRound(c, 'handed-back', 1);
      const awarded = await c.services.bids.waitFor((await c.services.bids.round(roundId))!, ['authorizing', 'open'], 20_000);
      const h = c.client.workflow.getHandle(awarded.awards[0].orderId);
      await h.executeUpdate(cancelUpdate, { args: [{ cancelId: 'withdraw' }] });
      return h;
    },
  },
  {
    // a debit card's hold: two captures (each posted like an order's), then the rest released by the merchant
    name: 'hold-captured-then-released',
    async start(c) {
      const token = (await c.processor.tokenize({ cardNumber: '4000056655665556', expMonth: 12, expYear: 2099 }, 'tok-hold-released')).token;
      const { hold } = await c.services.holds.create(c.merchantId, 'history-hold-released', { token, amountMinor: 20_000, currency: 'USD', expiresInSeconds: 3600 });
      const row = async () => (await c.services.holds.hold(hold.id))!;
      await c.services.holds.capture(await row(), 'capture-1', 6000);
      await c.services.holds.capture(await row(), 'capture-2', 4000);
      await c.services.holds.release(await row());
      return c.client.workflow.getHandle(holdWorkflowId(hold.id));
    },
  },
  {
    // a hold nobody captures: its timer releases it at expiry
    name: 'hold-expired',
    async start(c) {
      const token = (await c.processor.tokenize({ cardNumber: '4000056655665556', expMonth: 12, expYear: 2099 }, 'tok-hold-expired')).token;
      const input = { holdId: 'hold_history_expired', merchantId: c.merchantId, customerId: null, token, amountMinor: 2500, currency: 'USD',
        expiresInSeconds: 1, feeBps: 250, description: null };
      await c.stores.holds.claim({ merchantId: c.merchantId, idempotencyKey: 'history-hold-expired', requestSha256: Buffer.alloc(32), input });
      return c.client.workflow.start('holdWorkflow', { taskQueue: c.taskQueue, workflowId: holdWorkflowId(input.holdId), args: [input] });
    },
  },
  {
    // a dispute on a hold's capture: evidence drafted and submitted, the issuer decides for the merchant
    name: 'dispute-won-with-evidence',
    async start(c) {
      const d = await disputed(c, 'won', 'product_not_received');
      const row = async () => (await c.services.disputes.dispute(d.id))!;
      await c.services.disputes.evidence(await row(), { trackingNumber: '1Z999AA10123456784' }, false);
      await c.services.disputes.evidence(await row(), { deliveryProof: 'Signed for on 2026-12-01' }, true);
      return c.client.workflow.getHandle(disputeWorkflowId(d.id));
    },
  },
  {
    // a dispute nobody answers: the deadline counts as accepted, lost
    name: 'dispute-lost-by-deadline',
    async start(c) {
      const d = await disputed(c, 'deadline', 'fraudulent', 2);
      return c.client.workflow.getHandle(disputeWorkflowId(d.id));
    },
  },
  {
    // a seller's payment by another service's buyer: that service asks its buyer first (pending), then approves
    name: 'federatedPayment-asked-then-approved',
    start: (c) => federatedPayment(c, 'fp_history_asked'),
  },
  {
    // the buyer's service declines (the buyer's rules refuse the category)
    name: 'federatedPayment-declined',
    start: (c) => federatedPayment(c, 'fp_history_declined'),
  },
  {
    // two payments by the payer gateway's buyers authorized here: the window (at most two) closes, the payer gateway
    // agrees to the list, is asked to pay the net (it owes it all), both sides are told, and it is posted
    name: 'nettingWindow-settled-peer-pays',
    async start(c) {
      for (const id of ['fp_history_netted_1', 'fp_history_netted_2']) await authorizedFederatedPayment(c, id);
      const seq = await c.stores.netting.openWindow('history-b');
      return c.client.workflow.start('nettingWindowWorkflow', { taskQueue: c.taskQueue, workflowId: nettingWindowWorkflowId('history-b', seq),
        args: [{ me: 'history-a', peer: 'history-b', seq, maxTransactions: 2, periodMs: 60_000 }] });
    },
  },
  {
    // the payer gateway does not know a transaction of the list: the window is a mismatch, nothing moves or is posted
    name: 'nettingWindow-mismatch',
    async start(c) {
      await authorizedFederatedPayment(c, 'fp_history_mismatch_1');
      const seq = await c.stores.netting.openWindow('history-b');
      return c.client.workflow.start('nettingWindowWorkflow', { taskQueue: c.taskQueue, workflowId: nettingWindowWorkflowId('history-b', seq),
        args: [{ me: 'history-a', peer: 'history-b', seq, maxTransactions: 1, periodMs: 60_000 }] });
    },
  },
];

/**
 * A federated payment of 25 by a buyer of the payer gateway (history-b) to a new seller, authorized here as its
 * workflow records it (the seller's micro-payment, the row authorized), without the workflow: it waits for a window.
 */
async function authorizedFederatedPayment(c: Ctx, paymentId: string): Promise<void> {
  const seller = await microSeller(c, paymentId, 500);
  const feeMinor = microFee(25, 500);
  const input = {
    paymentId, sellerId: seller.id, itemId: 'article', clientId: paymentId, alias: 'fa-history2345678abc', payeeGateway: 'history-a',
    payer: { gatewayId: 'history-b', endpoint: payerGateway.url, fingerprint256: payerGateway.fingerprint256 },
    currency: 'USD', amountMinor: 25, feeMinor, category: 'news', grantSeconds: 3600, deadlineMs: 60_000,
  };
  await c.stores.federation.claimPayment({ id: paymentId, sellerId: seller.id, clientId: paymentId, requestSha256: paymentId, alias: input.alias,
    payeeGateway: 'history-a', payerGateway: 'history-b', itemId: 'article', category: 'news', currency: 'USD', amountMinor: 25, feeMinor }, input);
  const { micropayments } = c.stores;
  const [outcome] = await micropayments.record([{ buyerId: federationParty('history-b'), sellerId: seller.id, itemId: 'article', clientId: `fed:${paymentId}`,
    ruleSetId: 'federation', currency: 'USD', amountMinor: 25, feeMinor, grantSeconds: 3600, caps: { perDayMinor: null, perPeriodMinor: null } }],
  Date.now(), await micropayments.generation());
  if (outcome.status === 'refused') throw new Error(`the micro-payment of ${paymentId} was refused: ${outcome.code}`);
  await c.stores.federation.decidePayment(paymentId, { state: 'authorized', paymentId: outcome.payment.id });
}

/**
 * A federated payment of 25 to a new seller, asked of the recorder's payer gateway (payerGateway below): a real
 * mutual-TLS server playing the buyer's service, which answers a transaction pending once and then approves it, or
 * declines it when its id says so.
 */
async function federatedPayment(c: Ctx, paymentId: string): Promise<WorkflowHandle> {
  const seller = await microSeller(c, paymentId, 500);
  const input = {
    paymentId, sellerId: seller.id, itemId: 'article', clientId: paymentId, alias: 'fa-history2345678abc', payeeGateway: 'history-a',
    payer: { gatewayId: 'history-b', endpoint: payerGateway.url, fingerprint256: payerGateway.fingerprint256 },
    currency: 'USD', amountMinor: 25, feeMinor: microFee(25, 500), category: 'news', grantSeconds: 3600, deadlineMs: 60_000,
  };
  await c.stores.federation.claimPayment({ id: paymentId, sellerId: seller.id, clientId: paymentId, requestSha256: paymentId, alias: input.alias,
    payeeGateway: 'history-a', payerGateway: 'history-b', itemId: 'article', category: 'news', currency: 'USD', amountMinor: 25, feeMinor: input.feeMinor }, input);
  return c.client.workflow.start('federatedPaymentWorkflow', { taskQueue: c.taskQueue, workflowId: federatedPaymentWorkflowId(paymentId), args: [input] });
}

/** The payer gateway of the federated payment scenarios (mutual TLS with a CA of the recorder's own). */
async function startPayerGateway() {
  const ca = createCa();
  const a = { gatewayId: 'history-a', ...issueGatewayCert(ca, 'history-a'), caPem: ca.certPem };
  const b = { gatewayId: 'history-b', ...issueGatewayCert(ca, 'history-b'), caPem: ca.certPem };
  const asked = new Set<string>();
  const server = createHttpsServer(tlsServerOptions(b), (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const window = /^\/federation\/v1\/windows\/(\d+)\/(close|pay|settled)$/.exec(req.url ?? '');
      if (window) { // (the netting scenarios: the payer gateway agrees to a list unless it names a mismatch, pays, hears it settled)
        const [, seq, call] = window;
        const unknown = call === 'close' ? (JSON.parse(body) as { transactions: Array<{ transactionId: string }> }).transactions
          .filter((t) => t.transactionId.includes('mismatch')).map((t) => ({ transactionId: t.transactionId, reason: 'unknown here' })) : [];
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(call === 'close' ? { agreed: unknown.length === 0, mismatches: unknown }
          : call === 'pay' ? { transferId: `po_history_b_${seq}_${(JSON.parse(body) as { currency: string }).currency}` } : { settled: true }));
        return;
      }
      const { transactionId } = JSON.parse(body) as { transactionId: string };
      const first = !asked.has(transactionId);
      asked.add(transactionId);
      const answer = transactionId.includes('declined')
        ? { transactionId, decision: 'declined', code: 'category_not_allowed', message: "The buyer's rule set does not allow category news", expiresAt: null }
        : first ? { transactionId, decision: 'pending', code: null, message: null, expiresAt: new Date(Date.now() + 60_000).toISOString() }
          : { transactionId, decision: 'approved', code: null, message: null, expiresAt: null };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new FederationGatewayClient(a);
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cert = new X509Certificate(b.certPem);
  const peer = { gatewayId: 'history-b', serviceName: 'History payer service', endpoint: url, certificate: b.certPem,
    fingerprint256: cert.fingerprint256, settlementAccount: 'acct_history_b' };
  /** The directory as the activities use it (these two calls): the payer gateway, approved, and nothing else. */
  const directory: Pick<CachedDirectory, 'gateway' | 'lookup'> = {
    gateway: async (id) => (id === peer.gatewayId ? { ...peer, status: 'approved', notAfter: new Date(cert.validTo).toISOString() } : undefined),
    lookup: async () => peer,
  };
  return {
    url, fingerprint256: cert.fingerprint256,
    client,
    /** The recorder's side as the worker's activities see it (the netting scenarios start their windows themselves). */
    federation: { gatewayId: 'history-a', gateways: client, netting: { maxTransactions: 1000, periodMs: 3_600_000 },
      directory: directory as CachedDirectory },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const SESSION_ITEMS = [{ sku: 'ebook', title: 'E-book', quantity: 1, unitPriceMinor: 1299, kind: 'soft' as const }];
const checkoutSession = async (c: Ctx, name: string) => (await c.services.checkout.create(c.merchantId, `history-${name}`, {
  items: SESSION_ITEMS, options: [{ id: 'note', label: 'Gift note', priceMinor: 100 }], successUrl: 'https://shop.example/ok',
  cancelUrl: 'https://shop.example/cancel' })).session;
const softPayment = async (c: Ctx, card: string, name: string) => ({
  token: (await c.processor.tokenize({ cardNumber: card, expMonth: 12, expYear: 2099 }, `tok-checkout-${name}-${card}`)).token,
  billingPostalCode: '94107', billingCountry: 'US', shippingOptionId: null, optionIds: ['note'], address: null,
});
const cartItem = (sku: string, unitPriceMinor: number, kind: 'hard' | 'soft' = 'soft') => ({ sku, title: `Item ${sku}`, unitPriceMinor, kind, minQuantity: 1, maxQuantity: 10 });

/** A cart with one item (hard goods: shipped by the standard option) from each of `merchants` merchants, bought: its id and orders. */
async function boughtCart(c: Ctx, name: string, merchants: number, kind: 'hard' | 'soft' = 'soft') {
  const customer = `history-${name}`;
  const shipping: Record<string, string> = {};
  for (let i = 0; i < merchants; i++) {
    const { merchant } = await c.stores.merchants.create(`History cart ${name} ${i}`, MERCHANT_SETTINGS);
    await c.services.carts.add(customer, (await c.services.carts.offer(merchant.id, cartItem(`${name}-${i}`, 1000 * (i + 1), kind))).offer, 1);
    if (kind === 'hard') shipping[merchant.id] = 'standard';
  }
  const cartId = (await c.stores.checkout.activeCartOf(createHash('sha256').update(customer).digest()))!;
  const view = await c.services.carts.current((await c.services.carts.owned(cartId, customer))!);
  const address = { line1: '1 Main St', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };
  const quote = await c.services.carts.quote(view, shipping, address);
  const token = (await c.processor.tokenize({ cardNumber: '4242424242424242', expMonth: 12, expYear: 2099 }, `tok-cart-${name}`)).token;
  const bought = await c.services.carts.purchase(view, { shipping, address, token, billingPostalCode: '94107', expectedTotalMinor: quote.totalMinor });
  return { cartId, orders: bought.orders };
}

async function historyClass(c: Ctx, name: string, kind: 'hard' | 'soft', windowSeconds: number, enoughBids: number | null = null): Promise<ItemClass> {
  return (await c.services.bids.putItemClass({ id: `history-isbn-${name}`, name: `History ${name}`, currency: 'USD', kind,
    pricing: { kind: 'list', listPriceMinor: 2500 }, minMarginMinor: 200, quoteMarginBps: 1000, windowSeconds, enoughBids,
    quoteLifetimeSeconds: 600, maxQuantity: 10 })).itemClass;
}
async function optedIn(c: Ctx, itemClass: ItemClass, name: string, autoBid: AutoBid | null = null): Promise<string> {
  const { merchant } = await c.stores.merchants.create(`History bidder ${name}`, MERCHANT_SETTINGS);
  await c.services.bids.optIn(itemClass.id, merchant.id, autoBid);
  return merchant.id;
}
/** A sell-first purchase of one unit with `bids` bids (2000, 2100, ...: all acceptable), closing once they are in. */
async function soldRound(c: Ctx, name: string, bids: number, windowSeconds = 3600): Promise<{ roundId: string; bidders: string[] }> {
  const itemClass = await historyClass(c, name, 'hard', windowSeconds, bids || null);
  const bidders: string[] = [];
  for (let i = 0; i < Math.max(bids, 1); i++) bidders.push(await optedIn(c, itemClass, `${name}-${i}`));
  const app = (await c.stores.principals.create('buyer_app', 'History storefront')).principal.id;
  const token = (await c.processor.tokenize({ cardNumber: '4242424242424242', expMonth: 12, expYear: 2099 }, `tok-round-${name}`)).token;
  const { round } = await c.services.bids.purchase(app, `history-${name}`, { itemClass: itemClass.id, quantity: 1, customerId: 'history',
    shipping: { address: { line1: '1 Main St', city: 'Austin', region: 'TX', postalCode: '73301', country: 'US' } },
    payment: { token, billingPostalCode: '73301' } });
  for (const [i, merchantId] of bidders.slice(0, bids).entries()) {
    await c.services.bids.placeBid(round.id, merchantId, `history-bid-${i}`, { unitPriceMinor: 2000 + 100 * i, currency: 'USD', deliveryDays: 2 });
  }
  return { roundId: round.id, bidders };
}
async function until<T>(f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

const serviceSettings = (taskQueue: string) => ({
  taskQueue, orders: { processorDeadlineMs: 60_000, processorMaxBackoffMs: 1_000, reauthLeadMs: 60_000, refundWindowMs: 1_000 },
  periods: { graceMs: 0, dunningDelaysMs: [50] }, payoutRetryDelaysMs: [50], webhooks: { allowPrivate: true, giveUpMs: 60_000 },
  pages: { publicUrl: 'http://127.0.0.1', processorPublicUrl: 'http://127.0.0.1' },
  messaging: { url: stack.messagingUrl, apiKey: SCRATCH_MESSAGING_API_KEY, webhookSecret: SCRATCH_MESSAGING_WEBHOOK_SECRET },
  processorWebhooks: { secret: loadConfig({}).processorWebhooks.secret, decisionPollMs: 500 },
  processor: { url: stack.simulatorUrl },
});

/** A dispute the processor opened on a new hold's capture, taken as its webhook would be. */
async function disputed(c: Ctx, name: string, reason: ProcessorDispute['reason'], evidenceSeconds?: number): Promise<ProcessorDispute> {
  const token = (await c.processor.tokenize({ cardNumber: '4000056655665556', expMonth: 12, expYear: 2099 }, `tok-disputed-${name}`)).token;
  const { hold } = await c.services.holds.create(c.merchantId, `history-disputed-${name}`, { token, amountMinor: 5000, currency: 'USD', expiresInSeconds: 3600 });
  const captured = await c.services.holds.capture((await c.services.holds.hold(hold.id))!, 'all');
  const d = await new SimulatorAdmin({ adminUrl: stack.simulatorAdminUrl }).openDispute(captured.captures[0].id, { reason, evidenceSeconds }) as unknown as ProcessorDispute;
  await c.services.disputes.opened(d);
  return d;
}

/** A new merchant paid to `destination`, with one order shipped in full (captured): the merchant's id. */
async function shippedOrderOf(c: Ctx, name: string, destination: string): Promise<string> {
  const { merchant } = await c.stores.merchants.create(`History ${name}`, { ...MERCHANT_SETTINGS, payoutDestination: destination });
  const token = (await c.processor.tokenize({ cardNumber: '4242424242424242', expMonth: 12, expYear: 2099 }, `tok-${name}`)).token;
  const input = buildOrderInput({ merchantId: merchant.id, clientOrderId: `history-${name}`, token, policy: { refundWindowMs: 1000 } });
  await insertOrderRow(c.db, input);
  const h = await c.client.workflow.start('orderWorkflow', { taskQueue: c.taskQueue, workflowId: input.orderId, args: [input] });
  await h.executeUpdate(submitUpdate);
  await ship(h, 'all', [{ sku: 'book', quantity: 2 }, { sku: 'lamp', quantity: 1 }]);
  return merchant.id;
}

async function microSeller(c: Ctx, name: string, feeBps: number) {
  const { seller } = await c.stores.parties.createSeller({ name: `History seller ${name}`, currency: 'USD', payoutDestination: `acct_history_${name}`, feeBps });
  await c.stores.parties.putItem(seller, 'article', { title: 'Article', category: 'news', priceMinor: 25, currency: 'USD', grantSeconds: 3600 });
  return { id: seller.id, feeBps };
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !scenarios.some((s) => s.name === n));
if (unknown.length) throw new Error(`no such scenario: ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);
const fileOf = (name: string) => join(ROOT_DIR, 'test', 'histories', `${name}.json`);
const toRecord = scenarios.filter((s) => (wanted.length ? wanted.includes(s.name) : !existsSync(fileOf(s.name))));
const say = (msg: string) => console.log(`[histories] ${msg}`);
if (toRecord.length === 0) {
  say('every scenario has a recorded history; name scenarios to record them anew');
  process.exit(0);
}
Runtime.install({ logger: new DefaultLogger('WARN') });
const stack = await startScratchStack(say);
const messaging = new HttpMessagingGateway({ baseUrl: stack.messagingUrl, apiKey: SCRATCH_MESSAGING_API_KEY });
const database = openDatabase(stack.databaseUrl);
const { db } = database;
const stores = createStores(database);
const processor = new HttpProcessorClient({ baseUrl: stack.simulatorUrl });
const payerGateway = await startPayerGateway();
const workerConnection = await NativeConnection.connect({ address: stack.temporalAddress });
const connection = await Connection.connect({ address: stack.temporalAddress });
try {
  const client = new Client({ connection, dataConverter: historiesDataConverter() });
  const taskQueue = 'record-histories';
  const { merchant: principal } = await stores.merchants.create('History merchant', MERCHANT_SETTINGS);
  const receiver = new Receiver();
  await receiver.start();
  receiver.secret = newWebhookSecret();
  const { id: endpointId } = await stores.delivery.createEndpoint(principal.id, { url: receiver.url, secret: receiver.secret,
    onDeadLetter: 'hold', giveUpSeconds: 3600 });
  const ctx: Ctx = {
    client, processor, taskQueue, db, stores, delivery: new DeliveryService(stores.delivery, client, taskQueue), receiver, endpointId, database,
    services: await createServices(database, client, serviceSettings(taskQueue)), merchantId: principal.id,
    phones: new MessagingGatewayAdmin({ adminUrl: stack.messagingAdminUrl }),
    async order(name, spec = {}) {
      const token = (await processor.tokenize({ cardNumber: spec.card ?? '4242424242424242', expMonth: 12, expYear: 2099 }, `tok-${name}`)).token;
      const input = { ...buildOrderInput({ ...spec, merchantId: principal.id, clientOrderId: `history-${name}`, token, policy: { refundWindowMs: 1000, ...spec.policy } }),
        ...spec.input };
      await insertOrderRow(db, input);
      return client.workflow.start('orderWorkflow', { taskQueue, workflowId: input.orderId, args: [input] });
    },
  };
  const worker = await Worker.create(workerOptions({
    connection: workerConnection, namespace: 'default', taskQueue,
    activities: createActivities({ database, processor, temporal: client, taskQueue, messaging, federation: payerGateway.federation,
      delivery: { allowPrivate: true, timeoutMs: 2_000, perDestinationInFlight: 8, backoff: { initialMs: 100, maxMs: 1_000 } } }),
    workflowBundlePath: stack.workflowBundlePath, dataConverter: historiesDataConverter(),
  }));
  await worker.runUntil(async () => {
    for (const s of toRecord) {
      const handle = await s.start(ctx);
      await s.drive?.(handle, ctx);
      await handle.result().catch((err) => { if (!(err instanceof WorkflowContinuedAsNewError)) throw err; });
      const file = fileOf(s.name);
      writeFileSync(file, historyToJSON(await handle.fetchHistory()) + '\n');
      say(`recorded ${file}`);
    }
  });
  await receiver.stop();
} finally {
  await payerGateway.client.close();
  await payerGateway.stop();
  await connection.close();
  await workerConnection.close();
  await database.close();
  await stack.stop();
}
