// MessagingGateway: what Paybroker needs of an SMS gateway (real gateways plug in behind it), its HTTP client over
// the simulator's API (processors/messaging/server.ts), and MessagingGatewayAdmin over the simulator's admin API
// (the customer's phone and the faults) for tests and scripts.
// Failure mapping (processors/jsonCall.ts, as for the processor): no answer, a 5xx or an unreadable success →
// MessagingUnavailableError (retry with the same idempotency key); a 4xx → MessagingRejectedError(code, message, status).
import { type CallFailures, callJson, type Json } from '../jsonCall';
import type { Message, MessageStatus } from './gateway';
import type { MessagingFaultSettings, MessagingFaultState } from './server';

export const DEFAULT_MESSAGING_TIMEOUT_MS = 10_000;

export type { MessageStatus } from './gateway';
/** A message as the gateway's API shows it. */
export type GatewayMessage = Omit<Message, 'object'>;

export interface BookedSender {
  id: string;
  createdAt: string;
}

export interface MessagingGateway {
  /** Sends body from a booked sender id to an E.164 number; the same key again returns the first message. */
  sendMessage(from: string, to: string, body: string, idempotencyKey: string): Promise<GatewayMessage>;
  /** The message, or undefined when the gateway does not know it. */
  getMessage(id: string): Promise<GatewayMessage | undefined>;
  /** Books a sender id for the account (idempotent: booking one already ours returns it). */
  bookSender(id: string): Promise<BookedSender>;
}

/** No answer, or a 5xx: the call may be retried with the same idempotency key. */
export class MessagingUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessagingUnavailableError';
  }
}

/** The gateway refused the call (4xx): retrying the same call will not help. */
export class MessagingRejectedError extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
    this.name = 'MessagingRejectedError';
  }
}

const MESSAGING_FAILURES: CallFailures = {
  unavailable: (message) => new MessagingUnavailableError(message),
  rejected: (code, message, status) => new MessagingRejectedError(code, message, status),
};

function toMessage(b: Json): GatewayMessage {
  for (const k of ['id', 'from', 'to', 'body', 'status', 'direction', 'createdAt'] as const) {
    if (typeof b[k] !== 'string') throw new MessagingUnavailableError(`messaging gateway: malformed message (${k})`);
  }
  return {
    id: b.id as string, direction: b.direction as GatewayMessage['direction'], from: b.from as string, to: b.to as string,
    body: b.body as string, status: b.status as MessageStatus, createdAt: b.createdAt as string,
    sentAt: (b.sentAt as string | null) ?? null, deliveredAt: (b.deliveredAt as string | null) ?? null,
  };
}

export interface HttpMessagingGatewayOptions {
  /** The gateway's base URL without /v1, e.g. http://127.0.0.1:3200. */
  baseUrl: string;
  apiKey: string;
  /** Per call, including reading the response; default 10 s. */
  timeoutMs?: number;
}

export class HttpMessagingGateway implements MessagingGateway {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: HttpMessagingGatewayOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_MESSAGING_TIMEOUT_MS;
  }

  async sendMessage(from: string, to: string, body: string, idempotencyKey: string): Promise<GatewayMessage> {
    return toMessage(await this.call('POST', '/messages', { from, to, body }, { 'idempotency-key': idempotencyKey }));
  }

  async getMessage(id: string): Promise<GatewayMessage | undefined> {
    try {
      return toMessage(await this.call('GET', `/messages/${encodeURIComponent(id)}`));
    } catch (err) {
      if (err instanceof MessagingRejectedError && err.status === 404 && err.code === 'resource_missing') return undefined;
      throw err;
    }
  }

  async bookSender(id: string): Promise<BookedSender> {
    const b = await this.call('POST', '/senders', { id });
    return { id: String(b.id), createdAt: String(b.createdAt) };
  }

  /** Where the account's webhooks go (null: nowhere until set). */
  async setWebhookUrl(url: string | null): Promise<void> {
    await this.call('PUT', '/account', { webhookUrl: url });
  }

  private call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Json> {
    return callJson(`messaging gateway ${method} /v1${path}`, `${this.baseUrl}/v1${path}`,
      { method, body, headers: { authorization: `Bearer ${this.opts.apiKey}`, ...extra }, timeoutMs: this.timeoutMs }, MESSAGING_FAILURES);
  }
}

/** The simulator's admin API: the customer's phone, the faults, the counts. */
export class MessagingGatewayAdmin {
  private readonly adminUrl: string;
  private readonly timeoutMs: number;

  constructor(opts: { adminUrl: string; timeoutMs?: number }) {
    this.adminUrl = opts.adminUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_MESSAGING_TIMEOUT_MS;
  }

  /** Messages sent to the number, newest first. */
  async phoneMessages(number: string): Promise<GatewayMessage[]> {
    const b = await this.call('GET', `/admin/phones/${encodeURIComponent(number)}/messages`);
    return (b.data as Json[]).map(toMessage);
  }

  /** The customer answers from `number` to the sender id `to`: the gateway delivers it to the webhook. */
  async reply(number: string, to: string, body: string): Promise<GatewayMessage> {
    return toMessage(await this.call('POST', `/admin/phones/${encodeURIComponent(number)}/replies`, { to, body }));
  }

  async setFaults(settings: MessagingFaultSettings): Promise<MessagingFaultState> {
    return await this.call('PUT', '/admin/faults', settings) as unknown as MessagingFaultState;
  }

  async clearFaults(): Promise<MessagingFaultState> {
    return this.setFaults({ mode: 'none' });
  }

  async stats(scope: 'process' | 'database' = 'process'): Promise<Record<string, unknown>> {
    return this.call('GET', `/admin/stats?scope=${scope}`);
  }

  private call(method: string, path: string, body?: unknown): Promise<Json> {
    return callJson(`messaging gateway admin ${method} ${path}`, `${this.adminUrl}${path}`, { method, body, timeoutMs: this.timeoutMs },
      MESSAGING_FAILURES);
  }
}
