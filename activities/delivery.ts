// Delivering one queued message to its destination: signed with Standard Webhooks headers (the webhook-id is
// the message id, the same on every attempt, so receivers can de-duplicate; one signature per secret during a
// rotation), posted with a timeout, the attempt recorded, and its outcome classified for the group workflow, which
// owns retries, give-up and dead letters.
import { Agent, fetch } from 'undici';
import { classifyStatus, type AttemptOutcome, type BackoffPolicy, type DeadLetterPolicy } from '../domain/delivery';
import { webhookHeaders } from '../webhooks/signature';
import { guardedLookup, validateWebhookUrl, WebhookUrlError } from '../webhooks/url';
import { Context } from '@temporalio/activity';
import type { DeliveryStore } from '../stores/delivery';
import type { ProblemStore } from '../stores/problems';
import { metrics } from '../runtime/metrics';

export interface DeliverySettings {
  /** Refuse destinations that resolve to private or loopback addresses unless true (tests, local use). */
  allowPrivate: boolean;
  timeoutMs: number;
  backoff: BackoffPolicy;
  /** Concurrent deliveries per destination from this worker; past it a group waits its turn. */
  perDestinationInFlight: number;
}

export interface DeliveryPolicy {
  giveUpMs: number;
  onDeadLetter: DeadLetterPolicy;
  backoff: BackoffPolicy;
}

export interface DeliverResult {
  /** 'gone': the message was delivered or dropped already; 'busy': too many deliveries to this destination now. */
  outcome: AttemptOutcome | 'gone' | 'busy';
  status?: number;
  error?: string;
  policy: DeliveryPolicy | null;
}

export function createDeliveryActivities(deps: { messages: DeliveryStore; problems: ProblemStore; settings: DeliverySettings }) {
  const { messages, problems, settings } = deps;
  const inFlight = new Map<string, number>();
  // Connections go only to addresses checked at connect time (no DNS rebinding past validateWebhookUrl).
  const dispatcher = new Agent({ connect: { lookup: guardedLookup(settings.allowPrivate) }, keepAliveTimeout: 10_000 });

  return {
    async deliver(messageId: string): Promise<DeliverResult> {
      const m = await messages.messageToDeliver(messageId);
      if (!m || m.state === 'delivered' || m.state === 'dropped') return { outcome: 'gone', policy: null };
      const policy: DeliveryPolicy = { giveUpMs: m.giveUpSeconds * 1000, onDeadLetter: m.onDeadLetter, backoff: settings.backoff };
      if (m.disabled) return record(messageId, { outcome: 'permanent', error: 'the destination is disabled', policy });

      const busy = inFlight.get(m.destinationId) ?? 0;
      if (busy >= settings.perDestinationInFlight) return { outcome: 'busy', policy };
      inFlight.set(m.destinationId, busy + 1);
      try {
        await validateWebhookUrl(m.url, { allowPrivate: settings.allowPrivate });
        const headers = webhookHeaders(m.secrets, m.id, m.body, Math.floor(Date.now() / 1000));
        let status: number | null = null;
        let error: string | undefined;
        const sentAt = performance.now();
        try {
          const res = await fetch(m.url, {
            method: 'POST', body: m.body, redirect: 'manual', signal: AbortSignal.timeout(settings.timeoutMs), dispatcher,
            headers: { 'content-type': 'application/json', 'user-agent': 'Paybroker-Webhooks/1', ...headers },
          });
          status = res.status;
          await res.body?.cancel();
          if (status >= 300) error = `HTTP ${status}`;
        } catch (err) {
          const cause = (err as { cause?: Error & { code?: string } }).cause;
          if (cause instanceof WebhookUrlError) throw cause; // refused at connect time: permanent, below
          error = cause?.code ?? (err as Error).name ?? 'network error';
        }
        const outcome = classifyStatus(status);
        metrics.deliveryAttempts.inc({ endpoint: m.destinationId, outcome });
        if (outcome === 'delivered') metrics.deliveryLag.observe({ endpoint: m.destinationId }, (Date.now() - m.createdAt.getTime()) / 1000);
        return record(messageId, { outcome, status: status ?? undefined, error, policy }, Math.round(performance.now() - sentAt));
      } catch (err) {
        if (!(err instanceof WebhookUrlError)) throw err;
        // A name that does not resolve may resolve later; a refused address or URL will not change.
        const outcome = err.code === 'url_unresolvable' ? 'retry' : 'permanent';
        return record(messageId, { outcome, error: `${err.code}: ${err.message}`, policy });
      } finally {
        inFlight.set(m.destinationId, (inFlight.get(m.destinationId) ?? 1) - 1);
      }
    },

    /**
     * The message is a dead letter (operators list, redeliver or drop it). When its group holds behind it, the
     * problems log says so (an operator retries it from there: POST /v1/problems/:id/retry redelivers it).
     */
    async markDead(messageId: string, reason: string): Promise<void> {
      await messages.markDead(messageId, reason, (d, trx) => problems.record({
        workflowId: Context.current().info.workflowExecution?.workflowId ?? d.destinationId, merchantId: d.merchantId, kind: 'delivery_held',
        message: `Message ${messageId} to ${d.destinationId} is a dead letter (${reason}); the messages after it in its group wait`,
        details: { key: messageId, messageId, destinationId: d.destinationId, reason },
      }, trx));
    },
  };

  /** The attempt's row (latencyMs: from sending the request to its answer; null: none was sent), then its result. */
  async function record(messageId: string, r: DeliverResult & { outcome: AttemptOutcome }, latencyMs: number | null = null): Promise<DeliverResult> {
    await messages.recordAttempt(messageId, { outcome: r.outcome, status: r.status ?? null, error: r.error ?? null, latencyMs });
    return r;
  }
}

export type DeliveryActivities = ReturnType<typeof createDeliveryActivities>;
