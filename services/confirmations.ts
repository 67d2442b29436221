// The messaging gateway's signed webhooks: delivery receipts of offers, and customers' replies to them. A delivery
// is verified (signature over the raw body, timestamp within the tolerance) before anything else, and its id is
// remembered in the transaction of what it does (a replay is refused 409); a reply is decided by the database (stores/confirmations.ts) and then told to
// its order (customerAnswerSignal). A reply too late, or one the broker cannot read, is answered politely by message.
// Every refusal is counted (stores/refusals.ts) and thrown as WebhookRefused for the API to log and answer.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { type ConfirmationOutcome, decidedText, E164, expiredText, HELP_TEXT, parseReply } from '../domain/confirmation';
import type { MessagingGateway } from '../processors/messaging/client';
import {
  DEFAULT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS, GatewayWebhookError, verifyGatewayWebhook,
} from '../processors/messaging/signature';
import type { ConfirmationStore, SeenWebhook } from '../stores/confirmations';
import type { PhoneStore } from '../stores/phones';
import type { RefusalStore } from '../stores/refusals';
import { type CustomerAnswer, customerAnswerSignal } from '../workflows/order.contract';

/** A webhook delivery refused: nothing changed. The status and code are the API's answer. */
export class WebhookRefused extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'WebhookRefused';
  }
}

/** What a delivery did (the API's answer to the gateway, and its log line). */
export interface WebhookOutcome {
  outcome: 'decided' | 'late' | 'wrong_code' | 'unreadable' | 'refused' | 'receipt' | 'ignored';
  /** A reply from a number with nothing waiting (unknown_number, nothing_open): refused, counted, nothing changed. */
  reason?: string;
  /** A problem on the way that did not undo the decision (a signal or a polite reply that could not be sent now). */
  warning?: string;
}

/** Ids are remembered at least this long: a replay of an older one is already refused as stale. */
const REMEMBER_MS = 4 * DEFAULT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS * 1000;

const SEEN_NONE = { has: () => false, add: () => undefined };

export class ConfirmationService {
  constructor(private readonly deps: {
    confirmations: ConfirmationStore; phones: PhoneStore; refusals: RefusalStore; temporal: Client;
    gateway: MessagingGateway; webhookSecret: string;
  }) {}

  /** Verifies and handles one webhook delivery (the raw body as it arrived); throws WebhookRefused when refused. */
  async receive(headers: Record<string, string | string[] | undefined>, rawBody: Buffer | string, nowMs: number): Promise<WebhookOutcome> {
    const { confirmations } = this.deps;
    let verified;
    try {
      // (the signature and the timestamp here; whether the id was seen, in the database below)
      verified = verifyGatewayWebhook(this.deps.webhookSecret, headers, rawBody, nowMs, SEEN_NONE);
    } catch (err) {
      if (!(err instanceof GatewayWebhookError)) throw err;
      throw await this.refused('gateway_webhook', err.code, 401, `webhook_${err.code}`, `The webhook was refused: ${err.message}`);
    }
    const payload = verified.payload as { type?: unknown; data?: Record<string, unknown> };
    const type = typeof payload.type === 'string' ? payload.type.slice(0, 64) : 'unknown';
    // (the id is recorded as seen with what the webhook does, in one transaction: a crash before it commits leaves the
    // gateway's redelivery to be handled, not refused as a replay)
    const seen: SeenWebhook = { id: verified.id, type, keepMs: REMEMBER_MS };
    const data = payload.data ?? {};
    let out: WebhookOutcome | 'replayed';
    if (type === 'message.delivered' && typeof data.messageId === 'string') {
      out = await confirmations.offerDelivered(data.messageId, seen) === 'replayed' ? 'replayed' : { outcome: 'receipt' };
    } else if (type !== 'message.inbound' || typeof data.from !== 'string' || typeof data.to !== 'string' || typeof data.body !== 'string') {
      out = await confirmations.rememberWebhook(seen) === 'replayed' ? 'replayed' : { outcome: 'ignored' };
    } else {
      out = await this.reply(data.from, data.to, data.body, seen);
    }
    if (out === 'replayed') throw await this.refused('gateway_webhook', 'replayed', 409, 'webhook_replayed', `Webhook ${verified.id} was received before`);
    return out;
  }

  /** A customer's reply from `phone` to the sender id `to`. */
  private async reply(phone: string, to: string, body: string, seen: SeenWebhook): Promise<WebhookOutcome | 'replayed'> {
    const token = E164.test(phone) ? await this.deps.phones.find(phone) : undefined;
    if (!token) return await this.deps.confirmations.rememberWebhook(seen) === 'replayed' ? 'replayed' : this.refusedReply('unknown_number');
    const reply = parseReply(body);
    const decision = await this.deps.confirmations.decideReply(token, reply, seen);
    if (decision === 'replayed') return decision;
    const answer = (text: string) => this.deps.gateway.sendMessage(to, phone, text, `reply:${seen.id}`).then(() => undefined,
      (err: unknown) => `the answer to the customer was not sent: ${(err as Error).message}`);
    switch (decision.kind) {
      case 'decided':
        return { outcome: 'decided', warning: await this.tell(decision.orderId, decision.outcome) };
      case 'late': {
        const told = decision.expiredNow ? await this.tell(decision.orderId, 'expired') : undefined;
        const text = decision.outcome === 'expired' ? expiredText(decision.code!) : decidedText(decision.code!, decision.outcome);
        await this.deps.refusals.count('confirmation_reply', 'late');
        const answered = await answer(text);
        return { outcome: 'late', warning: told ?? answered };
      }
      case 'wrong_code': {
        await this.deps.refusals.count('confirmation_reply', 'wrong_code');
        const warnings = await Promise.all(decision.failed.map((orderId) => this.tell(orderId, 'failed')));
        return { outcome: 'wrong_code', warning: warnings.find((w) => w !== undefined) };
      }
      case 'unreadable':
        await this.deps.refusals.count('confirmation_reply', 'unreadable');
        return { outcome: 'unreadable', warning: await answer(HELP_TEXT) };
      case 'nothing_open':
        return this.refusedReply('nothing_open');
    }
  }

  private async refusedReply(reason: 'unknown_number' | 'nothing_open'): Promise<WebhookOutcome> {
    await this.deps.refusals.count('confirmation_reply', reason);
    return { outcome: 'refused', reason };
  }

  private tell(orderId: string, outcome: ConfirmationOutcome): Promise<string | undefined> {
    return tellOrder(this.deps.temporal, orderId, { outcome });
  }

  private async refused(kind: string, reason: string, status: number, code: string, message: string): Promise<WebhookRefused> {
    await this.deps.refusals.count(kind, reason);
    return new WebhookRefused(status, code, message);
  }
}

/**
 * Tells an order its customer's answer (how a confirmation or an authentication ended). The database has decided
 * already: if the order cannot hear now (the Temporal server away), it reads the outcome when its deadline closes the
 * question; a closed order needs nothing. Returns a warning for the log, or undefined.
 */
export async function tellOrder(temporal: Client, orderId: string, answer: CustomerAnswer): Promise<string | undefined> {
  try {
    await temporal.workflow.getHandle(orderId).signal(customerAnswerSignal, answer);
    return undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    return `order ${orderId} was not told now (${(err as Error).message}); it reads the outcome at its deadline`;
  }
}
