// MessagingGateway: what Paybroker needs of an SMS gateway (real gateways plug in behind it), its HTTP client over
// the simulator's API (processors/messaging/server.ts), and MessagingGatewayAdmin over the simulator's admin API
// (the customer's phone and the faults) for tests and scripts.
// Failure mapping, as processors/http-client.ts does for the processor: no answer (network error, connection
// refused or closed, timeout), a 5xx or an unreadable success → MessagingUnavailableError (retry with the same
// idempotency key); a 4xx → MessagingRejectedError(code, message, status).
import type { MessagingFaultSettings, MessagingFaultState } from './server';

export const DEFAULT_MESSAGING_TIMEOUT_MS = 10_000;

export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'received';

export interface GatewayMessage {
  id: string;
  direction: 'outbound' | 'inbound';
  from: string;
  to: string;
  body: string;
  status: MessageStatus;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
}

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

type Json = Record<string, unknown>;

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

function errorOf(body: unknown): { code: string; message: string } | undefined {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return e && typeof e.code === 'string' ? { code: e.code, message: typeof e.message === 'string' ? e.message : '' } : undefined;
}

async function call(what: string, url: string, init: { method: string; headers: Record<string, string>; body?: unknown }, timeoutMs: number): Promise<Json> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method: init.method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new MessagingUnavailableError(`${what}: no response (${describe(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (status >= 500) {
    const e = errorOf(parsed);
    throw new MessagingUnavailableError(`${what}: ${status}${e ? ` ${e.code}: ${e.message}` : ''}`);
  }
  if (status >= 400) {
    const e = errorOf(parsed);
    throw new MessagingRejectedError(e?.code ?? `http_${status}`, `${what}: ${status} ${e?.message ?? text.slice(0, 200)}`, status);
  }
  if (!parsed || typeof parsed !== 'object') throw new MessagingUnavailableError(`${what}: ${status} with an unreadable body`);
  return parsed as Json;
}

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
    return call(`messaging gateway ${method} /v1${path}`, `${this.baseUrl}/v1${path}`,
      { method, body, headers: { authorization: `Bearer ${this.opts.apiKey}`, ...extra } }, this.timeoutMs);
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
    return call(`messaging gateway admin ${method} ${path}`, `${this.adminUrl}${path}`, { method, body, headers: {} }, this.timeoutMs);
  }
}
