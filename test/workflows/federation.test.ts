// federatedPaymentWorkflow and nettingWindowWorkflow on the real server with mocked activities (one worker for the
// file; each test's mocks are found by its payment id or peer, each unique). Each test checks which activities ran,
// with what, and in which order against what the test did (signals), and the workflow's answer.
import { WorkflowNotFoundError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetPosition, NettedTransaction } from '../../domain/federation';
import type { FederationActivities } from '../../activities/federation';
import type { NettingActivities } from '../../activities/netting';
import type { AuthorizationAnswer } from '../../processors/federation/gateway';
import {
  decidedUpdate, federatedPaymentQuery, federatedPaymentWorkflowId, type FederatedPaymentInput, type FederatedPaymentView,
} from '../../workflows/federatedPayment.contract';
import {
  authorizedSignal, type NettingWindowInput, type NettingWindowResult, nettingWindowWorkflowId,
} from '../../workflows/nettingWindow.contract';
import { startWorker, temporalClient, uid } from '../support/env';

type Fed = Pick<FederationActivities, 'askPayer' | 'recordFederatedPayment' | 'declineFederatedPayment' | 'cancelAtPayer'>;
type Net = Omit<NettingActivities, never>;

const fedMocks = new Map<string, Partial<Fed>>();
const netMocks = new Map<string, Partial<Net>>();
const fedOf = (paymentId: string) => fedMocks.get(paymentId) ?? {};
const netOf = (peer: string) => netMocks.get(peer) ?? {};
const missing = (name: string): never => { throw ApplicationFailure.nonRetryable(`the test did not mock ${name}`, 'NotMocked'); };

/** The worker's activities: each call goes to the mock of its payment (by id) or its window (by peer). */
const activities: Fed & Net = {
  askPayer: (input) => (fedOf(input.paymentId).askPayer ?? (() => missing('askPayer')))(input),
  recordFederatedPayment: (input) => (fedOf(input.paymentId).recordFederatedPayment ?? (() => missing('recordFederatedPayment')))(input),
  declineFederatedPayment: (id, code, message) => (fedOf(id).declineFederatedPayment ?? (() => missing('declineFederatedPayment')))(id, code, message),
  cancelAtPayer: (input) => (fedOf(input.paymentId).cancelAtPayer ?? (() => missing('cancelAtPayer')))(input),
  pendingNetting: (peer) => (netOf(peer).pendingNetting ?? (() => missing('pendingNetting')))(peer),
  closeWindow: (peer, seq) => (netOf(peer).closeWindow ?? (() => missing('closeWindow')))(peer, seq),
  agreeWithPeer: (peer, seq, txs, ps) => (netOf(peer).agreeWithPeer ?? (() => missing('agreeWithPeer')))(peer, seq, txs, ps),
  windowAgreed: (peer, seq, ps) => (netOf(peer).windowAgreed ?? (() => missing('windowAgreed')))(peer, seq, ps),
  windowMismatch: (peer, seq, ms) => (netOf(peer).windowMismatch ?? (() => missing('windowMismatch')))(peer, seq, ms),
  payNet: (peer, seq, p) => (netOf(peer).payNet ?? (() => missing('payNet')))(peer, seq, p),
  askPeerToPay: (peer, seq, currency) => (netOf(peer).askPeerToPay ?? (() => missing('askPeerToPay')))(peer, seq, currency),
  windowTransferred: (peer, seq, t) => (netOf(peer).windowTransferred ?? (() => missing('windowTransferred')))(peer, seq, t),
  postWindow: (peer, seq, ps) => (netOf(peer).postWindow ?? (() => missing('postWindow')))(peer, seq, ps),
  tellPeerSettled: (peer, seq) => (netOf(peer).tellPeerSettled ?? (() => missing('tellPeerSettled')))(peer, seq),
  windowSettled: (peer, seq) => (netOf(peer).windowSettled ?? (() => missing('windowSettled')))(peer, seq),
};

let temporal: Awaited<ReturnType<typeof temporalClient>>;
let worker: Awaited<ReturnType<typeof startWorker>>;
beforeAll(async () => {
  temporal = await temporalClient();
  worker = await startWorker(activities);
});
afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
});

async function until(ok: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------------------------
// federatedPaymentWorkflow

function paymentInput(over: Partial<FederatedPaymentInput> = {}): FederatedPaymentInput {
  const paymentId = uid('fp_');
  return {
    paymentId, sellerId: 'seller_test', itemId: 'article', clientId: paymentId, alias: 'fa-test2345678abcdef', payeeGateway: 'gw-a',
    payer: { gatewayId: 'gw-b', endpoint: 'https://127.0.0.1:9', fingerprint256: 'AA:BB' }, currency: 'USD', amountMinor: 25, feeMinor: 2,
    category: 'news', grantSeconds: 3600, deadlineMs: 60_000, ...over,
  };
}
const viewOf = (input: FederatedPaymentInput, decided: Pick<FederatedPaymentView, 'state' | 'micropaymentId' | 'failure'>): FederatedPaymentView => ({
  id: input.paymentId, sellerId: input.sellerId, clientId: input.clientId, buyerIdentifier: input.alias, payerGateway: input.payer.gatewayId,
  payeeGateway: input.payeeGateway, itemId: input.itemId, currency: input.currency, amountMinor: input.amountMinor, feeMinor: input.feeMinor,
  decidedAt: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z', ...decided,
});
const answer = (input: FederatedPaymentInput, decision: AuthorizationAnswer['decision'], over: Partial<AuthorizationAnswer> = {}): AuthorizationAnswer => ({
  transactionId: input.paymentId, decision, code: null, message: null, expiresAt: null, ...over,
});

/** Mocks for one payment: askPayer answers from `ask` (by attempt), the books record what they are asked. */
function mockPayment(input: FederatedPaymentInput, ask: (attempt: number) => Promise<AuthorizationAnswer>, cancel: (attempt: number) => Promise<void> = async () => {}) {
  const calls = { asked: 0, recorded: [] as FederatedPaymentInput[], declined: [] as Array<[string, string, string]>, cancelled: 0 };
  fedMocks.set(input.paymentId, {
    askPayer: async () => ask(++calls.asked),
    recordFederatedPayment: async (i) => {
      calls.recorded.push(i);
      return viewOf(i, { state: 'authorized', micropaymentId: 'mp_1', failure: null });
    },
    declineFederatedPayment: async (id, code, message) => {
      calls.declined.push([id, code, message]);
      return viewOf(input, { state: 'declined', micropaymentId: null, failure: { code, message } });
    },
    cancelAtPayer: async () => cancel(++calls.cancelled),
  });
  return calls;
}
const startPayment = (input: FederatedPaymentInput) => temporal.client.workflow.start('federatedPaymentWorkflow', {
  taskQueue: worker.taskQueue, workflowId: federatedPaymentWorkflowId(input.paymentId), args: [input],
});

describe('federatedPaymentWorkflow', () => {
  it('approved at once: recorded once, authorized, and the decided update answers the view', async () => {
    const input = paymentInput();
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    // (the buyer's service answers once the update is in: it is accepted while the payment is undecided)
    const calls = mockPayment(input, async () => { await gate; return answer(input, 'approved'); });
    const handle = await startPayment(input);
    const update = await handle.startUpdate(decidedUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    open();
    const decided = await update.result();
    expect(decided).toMatchObject({ id: input.paymentId, state: 'authorized', micropaymentId: 'mp_1', failure: null });
    expect(await handle.result()).toEqual(decided);
    expect(calls).toMatchObject({ asked: 1, declined: [], cancelled: 0 });
    expect(calls.recorded).toEqual([input]);
    expect(await handle.query(federatedPaymentQuery)).toEqual(decided);
  });

  it("declined by the buyer's service: declined with its code and message, never recorded", async () => {
    const input = paymentInput();
    const calls = mockPayment(input, async () => answer(input, 'declined', { code: 'category_not_allowed', message: 'No news for this buyer' }));
    const end = await (await startPayment(input)).result();
    expect(end).toMatchObject({ state: 'declined', failure: { code: 'category_not_allowed', message: 'No news for this buyer' } });
    expect(calls).toMatchObject({ asked: 1, recorded: [], cancelled: 0 });
    expect(calls.declined).toEqual([[input.paymentId, 'category_not_allowed', 'No news for this buyer']]);
  });

  it('pending twice (the buyer asked) then approved: asked three times, the update answers null meanwhile, recorded once', async () => {
    const input = paymentInput();
    const calls = mockPayment(input, async (n) => (n < 3
      ? answer(input, 'pending', { expiresAt: new Date(Date.now() + 60_000).toISOString() }) : answer(input, 'approved')));
    const handle = await startPayment(input);
    await until(() => calls.asked >= 1, 'the first ask');
    expect(await handle.executeUpdate(decidedUpdate)).toBeNull();
    expect(calls.recorded).toHaveLength(0);
    expect(await handle.query(federatedPaymentQuery)).toBeNull();
    const end = await handle.result();
    expect(end).toMatchObject({ state: 'authorized', micropaymentId: 'mp_1' });
    expect(calls).toMatchObject({ asked: 3, declined: [], cancelled: 0 });
    expect(calls.recorded).toEqual([input]);
    expect(await handle.query(federatedPaymentQuery)).toEqual(end);
  });

  it("the buyer's service unreachable until the deadline: declined payer_unreachable, then told to cancel until it hears", async () => {
    const input = paymentInput({ deadlineMs: 3000 });
    const calls = mockPayment(input, async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:9'); },
      async (n) => { if (n < 2) throw new Error('connect ECONNREFUSED 127.0.0.1:9'); });
    const started = Date.now();
    const end = await (await startPayment(input)).result();
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(end).toMatchObject({ state: 'declined', failure: { code: 'payer_unreachable' } });
    expect(calls.asked).toBeGreaterThanOrEqual(2); // (retried: 500 ms, then 1 s, ... within the 3 s)
    expect(calls.declined.map((d) => d[1])).toEqual(['payer_unreachable']);
    expect(calls.recorded).toEqual([]);
    expect(calls.cancelled).toBe(2); // (failed once, retried until it succeeded)
  });

  it("the buyer's gateway refuses (GatewayRefused, not retried): declined payer_refused with its message, no cancel", async () => {
    const input = paymentInput();
    const calls = mockPayment(input, async () => { throw ApplicationFailure.nonRetryable('gateway gw-b refused: unknown_alias', 'GatewayRefused', 'unknown_alias'); });
    const end = await (await startPayment(input)).result();
    expect(end).toMatchObject({ state: 'declined', failure: { code: 'payer_refused', message: 'gateway gw-b refused: unknown_alias' } });
    expect(calls).toMatchObject({ asked: 1, recorded: [], cancelled: 0 });
    expect(calls.declined).toEqual([[input.paymentId, 'payer_refused', 'gateway gw-b refused: unknown_alias']]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// nettingWindowWorkflow

const ME = 'gw-a';
const tx = (transactionId: string, payerGateway: string, payeeGateway: string, amountMinor: number, currency = 'USD'): NettedTransaction =>
  ({ transactionId, payerGateway, payeeGateway, currency, amountMinor });

interface Window {
  peer: string;
  /** Activity calls and the test's own steps ('signal n'), in order. */
  log: string[];
  /** The database's count of transactions waiting, as pendingNetting answers it. */
  waiting: number;
  at: Record<string, number>;
  /** What pendingNetting answered, each time. */
  counts: number[];
  args: Record<string, unknown[][]>;
}

/** Mocks for one window with a new peer: closeWindow answers `txs`, agreeWithPeer `agreement`. */
function mockWindow(txs: NettedTransaction[], over: { waiting?: number; agreement?: { agreed: boolean; mismatches: Array<{ transactionId: string; reason: string }> };
  afterSettled?: number; firstCount?: (stale: number) => Promise<number> } = {}): Window & { txs: NettedTransaction[] } {
  const peer = uid('gw-p').toLowerCase(); // (sorts after ME: this side coordinates)
  const w: Window & { txs: NettedTransaction[] } = { peer, log: [], waiting: over.waiting ?? 0, at: {}, counts: [], args: {}, txs: txs.map((t) => ({
    ...t, payerGateway: t.payerGateway === 'peer' ? peer : t.payerGateway, payeeGateway: t.payeeGateway === 'peer' ? peer : t.payeeGateway })) };
  const seen = <A extends unknown[], R>(name: string, f: (...a: A) => R) => (...a: A): R => {
    w.log.push(name);
    w.at[name] = Date.now();
    (w.args[name] ??= []).push(a);
    return f(...a);
  };
  netMocks.set(peer, {
    pendingNetting: seen('pendingNetting', async () => {
      const n = w.counts.length === 0 && over.firstCount ? await over.firstCount(w.waiting) : w.waiting;
      w.counts.push(n);
      return n;
    }),
    closeWindow: seen('closeWindow', async () => { w.waiting = 0; return w.txs; }), // (every transaction waiting is the window's now)
    agreeWithPeer: seen('agreeWithPeer', async () => over.agreement ?? { agreed: true, mismatches: [] }),
    windowAgreed: seen('windowAgreed', async () => {}),
    windowMismatch: seen('windowMismatch', async () => {}),
    payNet: seen('payNet', async (_p: string, s: number, p: NetPosition) => `po_${s}_${p.currency}`),
    askPeerToPay: seen('askPeerToPay', async (_p: string, s: number, currency: string) => `peer_po_${s}_${currency}`),
    windowTransferred: seen('windowTransferred', async () => {}),
    postWindow: seen('postWindow', async () => {}),
    tellPeerSettled: seen('tellPeerSettled', async () => {}),
    windowSettled: seen('windowSettled', async () => { if (over.afterSettled !== undefined) w.waiting = over.afterSettled; }),
  });
  return w;
}
const startWindow = (w: Window, over: Partial<NettingWindowInput> = {}): Promise<WorkflowHandle> => {
  const input: NettingWindowInput = { me: ME, peer: w.peer, seq: 1, maxTransactions: 2, periodMs: 60_000, ...over };
  return temporal.client.workflow.start('nettingWindowWorkflow', {
    taskQueue: worker.taskQueue, workflowId: nettingWindowWorkflowId(w.peer, input.seq), args: [input],
  });
};
const windowResult = (h: WorkflowHandle) => h.result() as Promise<NettingWindowResult>;

/** The activities the workflow has scheduled so far (its history's). */
async function scheduled(h: WorkflowHandle): Promise<string[]> {
  const { events } = await h.fetchHistory();
  return (events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : []));
}
/** Waits until the workflow has taken its `n`th signal: a workflow task completed after it (whatever that task decided is in the history). */
async function signalTaken(h: WorkflowHandle, n: number): Promise<void> {
  await until(async () => {
    const events = (await h.fetchHistory()).events ?? [];
    const signals = events.flatMap((e, i) => (e.workflowExecutionSignaledEventAttributes ? [i] : []));
    return signals.length >= n && events.some((e, i) => i > signals[n - 1] && e.workflowTaskCompletedEventAttributes);
  }, `signal ${n} taken`);
}
/** Tells the window of one more authorized transaction (the database's count first, as the API's note does). */
async function authorized(h: WorkflowHandle, w: Window, n: number): Promise<void> {
  w.waiting++;
  w.log.push(`signal ${n}`);
  await h.signal(authorizedSignal);
}

describe('nettingWindowWorkflow', () => {
  it('closes once a signal has it count maxTransactions in the database, not before (each signal only says: count again)', async () => {
    const w = mockWindow([tx('t1', 'peer', ME, 10), tx('t2', 'peer', ME, 20), tx('t3', ME, 'peer', 5)]);
    const h = await startWindow(w, { maxTransactions: 3 });
    await until(() => w.log.length > 0, 'the first count');
    for (const n of [1, 2]) {
      await authorized(h, w, n);
      await signalTaken(h, n);
      expect(await scheduled(h), `after signal ${n}`).not.toContain('closeWindow');
    }
    await authorized(h, w, 3);
    const end = await windowResult(h);
    expect(end).toMatchObject({ state: 'settled', transactions: 3 });
    const closed = w.log.indexOf('closeWindow');
    expect(closed).toBeGreaterThan(w.log.indexOf('signal 3'));
    expect(w.log[closed - 1]).toBe('pendingNetting');
    expect(w.counts.at(-2), 'the count it closed on').toBe(3); // (the last count is after settling)
    expect(w.counts.slice(0, -2).every((n) => n < 3)).toBe(true);
  });

  it('counts again for signals that came while it counted (that count may predate their transactions): no wakeup lost', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const w = mockWindow([tx('t1', 'peer', ME, 10), tx('t2', 'peer', ME, 20)], { firstCount: async (stale) => { await held; return stale; } });
    const h = await startWindow(w, { maxTransactions: 2 });
    await until(() => w.log.length > 0, 'the first count under way'); // (it read 0)
    await authorized(h, w, 1);
    await authorized(h, w, 2);
    await signalTaken(h, 2);
    release();
    expect(await windowResult(h)).toMatchObject({ state: 'settled', transactions: 2 });
    expect(w.counts.slice(0, 2)).toEqual([0, 2]);
  });

  it('with fewer signals than its maximum it closes at its period (not before), with what waits', async () => {
    const w = mockWindow([tx('t1', 'peer', ME, 10), tx('t2', 'peer', ME, 20)], { waiting: 1 });
    const started = Date.now();
    const h = await startWindow(w, { maxTransactions: 10, periodMs: 2000 });
    await until(() => w.log.length > 0, 'the first count');
    await authorized(h, w, 1);
    await signalTaken(h, 1);
    expect(await scheduled(h)).not.toContain('closeWindow');
    const end = await windowResult(h);
    expect(w.at.closeWindow - started).toBeGreaterThanOrEqual(1900);
    expect(w.log.indexOf('closeWindow')).toBeGreaterThan(w.log.indexOf('signal 1'));
    expect(Math.max(...w.counts), 'never counted its maximum').toBeLessThan(10);
    expect(end).toMatchObject({ state: 'settled', transactions: 2 });
  });

  it('this side the net debtor: payNet once per currency with a non-zero net, nothing for a zero net; posted, peer told, settled; no next window', async () => {
    const w = mockWindow([
      tx('t1', ME, 'peer', 100), tx('t2', 'peer', ME, 30), // USD: 70 from ME
      tx('t3', ME, 'peer', 50, 'EUR'), tx('t4', 'peer', ME, 50, 'EUR'), // EUR: nothing moves
      tx('t5', ME, 'peer', 20, 'GBP'), // GBP: 20 from ME
    ], { waiting: 5 });
    const h = await startWindow(w, { seq: 4, maxTransactions: 5 });
    const end = await windowResult(h);
    expect(end.state).toBe('settled');
    expect(end.positions.map((p) => [p.currency, p.debtor, p.netMinor])).toEqual([['EUR', null, 0], ['GBP', ME, 20], ['USD', ME, 70]]);
    expect(w.args.payNet.map(([peer, seq, p]) => [peer, seq, (p as NetPosition).currency, (p as NetPosition).netMinor]))
      .toEqual([[w.peer, 4, 'GBP', 20], [w.peer, 4, 'USD', 70]]);
    expect(w.args.askPeerToPay).toBeUndefined();
    expect(end.transfers).toEqual([{ currency: 'GBP', transferId: 'po_4_GBP' }, { currency: 'USD', transferId: 'po_4_USD' }]);
    expect(w.args.windowTransferred).toEqual([[w.peer, 4, { currency: 'GBP', transferId: 'po_4_GBP' }], [w.peer, 4, { currency: 'USD', transferId: 'po_4_USD' }]]);
    expect(w.args.postWindow).toEqual([[w.peer, 4, end.positions]]);
    expect(w.log).toEqual(['pendingNetting', 'closeWindow', 'agreeWithPeer', 'windowAgreed', 'payNet', 'windowTransferred', 'payNet', 'windowTransferred',
      'postWindow', 'tellPeerSettled', 'windowSettled', 'pendingNetting']);
    await expect(temporal.client.workflow.getHandle(nettingWindowWorkflowId(w.peer, 5)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('the peer the net debtor: the peer is asked to pay (askPeerToPay), nothing paid from here', async () => {
    const w = mockWindow([tx('t1', 'peer', ME, 40), tx('t2', ME, 'peer', 15)], { waiting: 2 });
    const end = await windowResult(await startWindow(w, { seq: 2 }));
    expect(end).toMatchObject({ state: 'settled', transfers: [{ currency: 'USD', transferId: 'peer_po_2_USD' }] });
    expect(end.positions).toEqual([{ currency: 'USD', owedByFirst: 15, owedBySecond: 40, debtor: w.peer, creditor: ME, netMinor: 25 }]);
    expect(w.args.askPeerToPay).toEqual([[w.peer, 2, 'USD']]);
    expect(w.args.payNet).toBeUndefined();
    expect(w.args.windowSettled).toEqual([[w.peer, 2]]);
  });

  it('the peer does not agree to the list: windowMismatch with its mismatches, no transfer, nothing posted, state mismatch', async () => {
    const mismatches = [{ transactionId: 't2', reason: 'unknown here' }];
    const w = mockWindow([tx('t1', 'peer', ME, 40), tx('t2', 'peer', ME, 15)], { waiting: 2, agreement: { agreed: false, mismatches } });
    const end = await windowResult(await startWindow(w, { seq: 3 }));
    expect(end.state).toBe('mismatch');
    expect(end.transfers).toEqual([]);
    expect(w.args.windowMismatch).toEqual([[w.peer, 3, mismatches]]);
    expect(w.log).toEqual(['pendingNetting', 'closeWindow', 'agreeWithPeer', 'windowMismatch']);
    for (const never of ['windowAgreed', 'payNet', 'askPeerToPay', 'windowTransferred', 'postWindow', 'tellPeerSettled']) expect(w.args[never], never).toBeUndefined();
  });

  it('closed at its period with no transactions: empty, settled in the database, the peer never asked', async () => {
    const w = mockWindow([], { waiting: 0 });
    const end = await windowResult(await startWindow(w, { periodMs: 1000 }));
    expect(end).toEqual({ state: 'empty', transactions: 0, positions: [], transfers: [] });
    expect(w.log).toEqual(['pendingNetting', 'closeWindow', 'windowSettled', 'pendingNetting']);
  });

  it(`transactions waiting after it settled: the next window (netting-<peer>-<seq+1>) is started as its child`, async () => {
    const w = mockWindow([tx('t1', 'peer', ME, 40), tx('t2', 'peer', ME, 15)], { waiting: 2, afterSettled: 1 });
    const parent = await startWindow(w, { seq: 7 });
    const end = await windowResult(parent);
    expect(end.state).toBe('settled');
    const child = temporal.client.workflow.getHandle(nettingWindowWorkflowId(w.peer, 8));
    try {
      const d = await child.describe();
      expect(d.type).toBe('nettingWindowWorkflow');
      expect(d.parentExecution?.workflowId).toBe(parent.workflowId);
      await until(() => (w.args.pendingNetting?.length ?? 0) >= 3, "the child's first count"); // (it waits for its own window)
      expect(w.args.closeWindow).toEqual([[w.peer, 7]]);
    } finally {
      await child.terminate('test over').catch(() => {});
    }
  });
});
