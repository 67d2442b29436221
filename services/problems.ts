// The operator's side of the problems log: resolving a problem with a note. When the problem was an order's and no
// other open problem of its kind is left there, the order is told (an update of its workflow), so it stops asking
// for attention: its NeedsAttention search attribute and its view clear, and its merchant hears
// order.needs_attention_resolved. A repeat of a resolve tells the order again (after a 503, say), changing nothing else.
import type { PayoutStore } from '../stores/payouts';
import type { Problem, ProblemStore } from '../stores/problems';
import { StoreRefusal } from '../stores/refusal';
import type { DeliveryService } from './delivery';
import { OrderError, type OrderService } from './orders';
import type { PayoutService } from './payouts';

/** What a retry started: a payout run of the merchant (the failed payout carried into it), or a redelivery. */
export type Retry = { kind: 'payout'; payoutIds: string[] } | { kind: 'redelivery'; messageId: string };

export class ProblemService {
  constructor(private readonly deps: { problems: ProblemStore; orders: OrderService; payouts: PayoutService; payoutStore: PayoutStore;
    delivery: DeliveryService }) {}

  /**
   * Retries the step that failed, then resolves the problem with a note saying what was started: a failed merchant
   * payout is carried into a payout of the merchant now; a dead letter that holds its group is delivered again.
   * Undefined when there is no such problem; refused (StoreRefusal) when its kind has no retry, or it was retried.
   */
  async retry(id: string, by: string): Promise<{ problem: Problem; retry: Retry } | undefined> {
    const { problems, payouts, payoutStore, delivery } = this.deps;
    const problem = await problems.get(id);
    if (!problem) return undefined;
    const d = problem.details as { payoutId?: string; messageId?: string };
    let retry: Retry;
    if (problem.kind === 'payout_failed' && d.payoutId) {
      const failed = await payoutStore.get(d.payoutId);
      if (failed?.carriedInto) throw new StoreRefusal('already_retried', `Payout ${d.payoutId} was carried into payout ${failed.carriedInto}`);
      retry = { kind: 'payout', payoutIds: (await payouts.payNow(problem.merchantId!))!.map((p) => p.id) };
    } else if (problem.kind === 'delivery_held' && d.messageId) {
      if (!await delivery.resolveDeadLetter(d.messageId, 'redeliver')) {
        throw new StoreRefusal('already_retried', `Message ${d.messageId} is no longer a dead letter`);
      }
      retry = { kind: 'redelivery', messageId: d.messageId };
    } else {
      throw new StoreRefusal('not_retryable', `A ${problem.kind} problem has no retry: resolve it with a note once it is dealt with`);
    }
    const note = retry.kind === 'payout' ? `Retried: payout ${retry.payoutIds.join(', ')}` : `Retried: message ${retry.messageId} redelivered`;
    return { problem: (await problems.resolve(id, by, note))!, retry };
  }

  /** A dead letter redelivered or dropped from the dead letters: the problem that said its group holds is resolved. */
  async deadLetterResolved(messageId: string, by: string, action: 'redeliver' | 'drop'): Promise<void> {
    await this.deps.problems.resolveAbout('delivery_held', messageId, by, action === 'redeliver' ? 'Redelivered' : 'Dropped');
  }

  /** The problem as resolved (now, or before: its first resolution stands); undefined when there is no such problem. */
  async resolve(id: string, by: string, note: string): Promise<Problem | undefined> {
    const { problems, orders } = this.deps;
    const problem = await problems.resolve(id, by, note);
    if (!problem || await problems.hasOpen(problem.workflowId, problem.kind)) return problem;
    const order = await orders.row(problem.workflowId);
    if (order) {
      await orders.resolveProblem(order, { problemId: problem.id, kind: problem.kind }).catch((err: unknown) => {
        // a closed order (it ended before the problem was resolved) asks nobody for attention any more
        if (!(err instanceof OrderError && err.code === 'order_closed')) throw err;
      });
    }
    return problem;
  }
}
