// The operator's side of the problems log: resolving a problem with a note. When the problem was an order's and no
// other open problem of its kind is left there, the order is told (an update of its workflow), so it stops asking
// for attention: its NeedsAttention search attribute and its view clear, and its merchant hears
// order.needs_attention_resolved. A repeat of a resolve tells the order again (after a 503, say), changing nothing else.
import type { Problem, ProblemStore } from '../stores/problems';
import { OrderError, type OrderService } from './orders';

export class ProblemService {
  constructor(private readonly deps: { problems: ProblemStore; orders: OrderService }) {}

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
