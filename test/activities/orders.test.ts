// The order's activities in the SDK's activity environment, over fakes injected through their factories: what a
// processor answer becomes for the workflow, and the order in which a step's books are written.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { createOrderActivities, createOrderBooksActivity, type OrderBooks } from '../../activities/orders';
import type { WebhookEventActivities } from '../../activities/webhookEvents';
import type { Ledger } from '../../ledger/ledger';
import { type ProcessorClient, ProcessorRejectedError, ProcessorUnavailableError } from '../../processors/client';
import type { OrderStore } from '../../stores/orders';
import type { ProblemStore } from '../../stores/problems';

/** Records every call made to it, by name; `answer` says what a call returns or throws. */
function fake<T>(calls: string[], answer: (name: string, args: unknown[]) => unknown = () => undefined): T {
  return new Proxy({}, { get: (_t, name: string) => async (...args: unknown[]) => { calls.push(`${name}(${args.map((a) => JSON.stringify(a)).join(', ')})`); return answer(name, args); } }) as T;
}

// (the failures planted here are asserted, not logged)
const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

function activities(processorAnswer: (name: string, args: unknown[]) => unknown) {
  const calls: string[] = [];
  const acts = createOrderActivities({
    processor: fake<ProcessorClient>(calls, processorAnswer), ledger: fake<Ledger>(calls, (name) => (name === 'post' ? { created: true } : undefined)),
    orders: fake<OrderStore>(calls), problems: fake<ProblemStore>(calls),
  });
  return { acts, calls };
}

describe('processor calls as activities', () => {
  it('pass the idempotency key the workflow derived to the processor, and its answer back', async () => {
    const { acts, calls } = activities(() => ({ id: 'cap_1', authorizationId: 'auth_1', amountMinor: 500, currency: 'USD' }));
    const lines = [{ productCode: 'book', description: 'A book', quantity: 1, unitAmountMinor: 500 }];
    expect(await env.run(acts.capture, 'auth_1', 500, 'order-1:capture:s1', lines)).toMatchObject({ id: 'cap_1' });
    expect(calls).toEqual([`capture("auth_1", 500, "order-1:capture:s1", ${JSON.stringify(lines)})`]);
  });

  it('turn a refusal into a non-retryable ProcessorRejected failure carrying its code', async () => {
    const { acts } = activities(() => { throw new ProcessorRejectedError('card_declined', 'declined', 402); });
    const failure = await env.run(acts.authorize, { token: 'tok_1', amountMinor: 1, currency: 'USD', postalCode: '1', reference: 'o' }, 'k')
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'ProcessorRejected', nonRetryable: true, details: ['card_declined'] });
  });

  it('leave an unreachable processor as a plain error, which Temporal retries', async () => {
    const { acts } = activities(() => { throw new ProcessorUnavailableError('connection refused'); });
    const failure = await env.run(acts.voidAuthorization, 'auth_1', 'k').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProcessorUnavailableError);
    expect(failure).not.toBeInstanceOf(ApplicationFailure);
  });
});

describe("a step's books", () => {
  it('are written postings first, then events in order, then the order as it now is', async () => {
    const { acts, calls } = activities(() => undefined);
    const events = fake<WebhookEventActivities>(calls, () => 1);
    const { commitOrderBooks } = createOrderBooksActivity(acts, events);
    const base = { orderId: 'o1', merchantId: 'm1', currency: 'USD', amountMinor: 1000, feeMinor: 25 };
    const books: OrderBooks = {
      captures: [{ ...base, captureId: 'cap_1' }],
      refunds: [{ ...base, captureId: 'cap_1', refundId: 're_1', amountMinor: 400, feeMinor: 10 }],
      events: [1, 2].map((n) => ({ merchantId: 'm1', groupKey: 'o1', type: 'order.captured' as const, eventKey: `e${n}`, data: {} })),
      view: { id: 'o1' } as OrderBooks['view'],
    };
    await env.run(commitOrderBooks, books);
    const kinds = calls.map((c) => c.slice(0, c.indexOf('(')));
    // the capture: accounts opened, entry posted, capture row; the refund: entry, refund row; then events, then the view
    expect(kinds).toEqual(['openAccount', 'openAccount', 'openAccount', 'post', 'addCapture', 'post', 'addCardRefund', 'emitEvent', 'emitEvent', 'save']);
    expect(calls.filter((c) => c.startsWith('emitEvent')).map((c) => JSON.parse(c.slice('emitEvent('.length, -1)).eventKey)).toEqual(['e1', 'e2']);
    const capturePosting = JSON.parse(calls[3].slice('post('.length, -1)) as { idempotencyKey: string; postings: Array<{ amountMinor: number }> };
    expect(capturePosting.idempotencyKey).toBe('capture:cap_1');
    expect(capturePosting.postings.map((p) => p.amountMinor)).toEqual([1000, -975, -25]);
  });
});
