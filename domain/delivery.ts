// Ordered delivery: the rules of one serialization group. Messages of a group leave one at a time in the order
// they were enqueued; a failed attempt is retried with capped exponential backoff until the give-up time, then
// the message is a dead letter, which holds the group (default, to keep order) or is skipped.

export type DeadLetterPolicy = 'hold' | 'skip';

export interface QueuedMessage {
  /** Unique and stable: the receiver's de-duplication key (webhook-id). */
  id: string;
}

/** What a delivery attempt came to. */
export type AttemptOutcome = 'delivered' | 'retry' | 'permanent';

/** 2xx delivered; 408, 429 and 5xx (and no answer at all) retried; any other 4xx is permanent. */
export function classifyStatus(status: number | null): AttemptOutcome {
  if (status === null) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** The pause before retry n (n = 1 for the first retry): initial × 2^(n−1), capped. */
export function backoffMs(retry: number, p: BackoffPolicy): number {
  const exp = Math.min(retry - 1, 30);
  return Math.min(p.initialMs * 2 ** exp, p.maxMs);
}

/** Ids remembered per group to drop duplicate enqueues (an at-least-once producer may signal twice). */
export const REMEMBERED_IDS = 1000;

export interface GroupSnapshot<M extends QueuedMessage> {
  queue: M[];
  /** Most recent ids last. */
  recentIds: string[];
}

export class DeliveryGroup<M extends QueuedMessage> {
  queue: M[];
  private recent: string[];
  private recentSet: Set<string>;
  /** Operators' decisions on held dead letters: message id → action. */
  private resolutions = new Map<string, 'redeliver' | 'drop'>();

  constructor(snapshot: GroupSnapshot<M> = { queue: [], recentIds: [] }) {
    this.queue = [...snapshot.queue];
    this.recent = [...snapshot.recentIds];
    this.recentSet = new Set(this.recent);
    for (const m of this.queue) this.remember(m.id);
  }

  private remember(id: string): void {
    if (this.recentSet.has(id)) return;
    this.recent.push(id);
    this.recentSet.add(id);
    while (this.recent.length > REMEMBERED_IDS) this.recentSet.delete(this.recent.shift()!);
  }

  /** False for a duplicate of a message already queued or recently handled. */
  enqueue(m: M, force = false): boolean {
    if (!force && this.recentSet.has(m.id)) return false;
    if (force && this.queue.some((q) => q.id === m.id)) return false;
    this.queue.push(m);
    this.remember(m.id);
    return true;
  }

  get next(): M | undefined {
    return this.queue[0];
  }

  /** The head has been delivered, dropped or skipped. */
  shift(): void {
    this.queue.shift();
  }

  resolve(messageId: string, action: 'redeliver' | 'drop'): void {
    this.resolutions.set(messageId, action);
  }

  resolution(messageId: string): 'redeliver' | 'drop' | undefined {
    return this.resolutions.get(messageId);
  }

  clearResolution(messageId: string): void {
    this.resolutions.delete(messageId);
  }

  snapshot(): GroupSnapshot<M> {
    return { queue: [...this.queue], recentIds: [...this.recent] };
  }
}
