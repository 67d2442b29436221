// The messaging gateway simulator's state and its work: accounts, booked senders, messages and the webhook outbox
// in PostgreSQL (schema messaging_sim), and the pump that moves messages queued → sent → delivered and delivers
// webhooks (delivery receipts, inbound replies) with retries. Each transaction is short; no transaction spans an
// HTTP call: a due webhook is leased in one, posted outside, and its outcome recorded in another.
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../../ledger/db';
import { postSigned } from '../webhookSignature';
import { signGatewayWebhook } from './signature';

export const MAX_MESSAGE_BODY_CHARS = 1600;
export { E164, isSenderId } from '../../domain/confirmation';

/** Messages moved per pump tick, and webhooks leased per tick. */
export const PUMP_BATCH = 200;
/** Attempts of one webhook before the gateway gives up on it. */
export const MAX_WEBHOOK_ATTEMPTS = 20;

export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'received';

export interface Message {
  object: 'message';
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

export class GatewayError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'GatewayError';
  }
}

const T = {
  accounts: 'messaging_sim.accounts', senders: 'messaging_sim.senders',
  messages: 'messaging_sim.messages', webhooks: 'messaging_sim.webhooks',
} as const;

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
export const sha256 = (s: string) => createHash('sha256').update(s).digest();
/** The account an API key opens: stable, so a restart with the same key finds the same account. */
export const accountIdOf = (apiKey: string) => `acct_${sha256(apiKey).toString('hex').slice(0, 24)}`;

interface MessageRow {
  id: string; direction: 'outbound' | 'inbound'; sender: string; recipient: string; body: string; status: MessageStatus;
  created_at: Date; sent_at: Date | null; delivered_at: Date | null;
}

const toMessage = (r: MessageRow): Message => ({
  object: 'message', id: r.id, direction: r.direction, from: r.sender, to: r.recipient, body: r.body, status: r.status,
  createdAt: r.created_at.toISOString(), sentAt: r.sent_at?.toISOString() ?? null, deliveredAt: r.delivered_at?.toISOString() ?? null,
});

export interface AccountSettings {
  apiKey: string;
  webhookSecret: string;
  /** Set: replaces the stored URL; undefined: the stored one stays (or none). */
  webhookUrl?: string;
}

/** Creates the account of an API key, or updates its secret (and URL when given). Returns its id. */
export async function ensureAccount(db: Db, a: AccountSettings): Promise<string> {
  const id = accountIdOf(a.apiKey);
  const row: Record<string, unknown> = { id, api_key_sha256: sha256(a.apiKey), webhook_secret: a.webhookSecret };
  if (a.webhookUrl !== undefined) row.webhook_url = a.webhookUrl;
  await db(T.accounts).insert(row).onConflict('id').merge(a.webhookUrl !== undefined ? ['webhook_secret', 'webhook_url'] : ['webhook_secret']);
  return id;
}

export async function accountByKey(db: Db, apiKey: string): Promise<string | undefined> {
  const row = await db(T.accounts).where({ api_key_sha256: sha256(apiKey) }).first('id');
  return row?.id as string | undefined;
}

export async function setWebhookUrl(db: Db, accountId: string, url: string | null): Promise<void> {
  await db(T.accounts).where({ id: accountId }).update({ webhook_url: url });
}

export async function accountView(db: Db, accountId: string): Promise<{ id: string; webhookUrl: string | null }> {
  const row = await db(T.accounts).where({ id: accountId }).first('id', 'webhook_url');
  return { id: row.id, webhookUrl: row.webhook_url ?? null };
}

/** Books a sender id for the account: 201 when new, 200 when it already has it, 409 when another account has. */
export async function bookSender(db: Db, accountId: string, senderId: string): Promise<{ created: boolean; sender: { id: string; createdAt: string } }> {
  const inserted = await db(T.senders).insert({ id: senderId, account_id: accountId }).onConflict('id').ignore().returning(['id', 'created_at']);
  if (inserted.length === 1) return { created: true, sender: { id: senderId, createdAt: (inserted[0].created_at as Date).toISOString() } };
  const existing = await db(T.senders).where({ id: senderId }).first();
  if (existing.account_id !== accountId) throw new GatewayError(409, 'sender_taken', `Sender id ${senderId} is booked by another account`);
  return { created: false, sender: { id: senderId, createdAt: (existing.created_at as Date).toISOString() } };
}

export interface SendInput { from: string; to: string; body: string }

/**
 * Accepts one outbound message under its Idempotency-Key, in one transaction: a repeat of the same request returns
 * the first message (as it stands now); the key with another request is refused 422 idempotency_key_reused.
 */
export async function sendMessage(db: Db, accountId: string, key: string, input: SendInput, receiptLost: boolean): Promise<{ message: Message; replayed: boolean }> {
  const requestSha256 = sha256(JSON.stringify([input.from, input.to, input.body]));
  return db.transaction(async (trx) => {
    const booked = await trx(T.senders).where({ id: input.from, account_id: accountId }).first('id');
    const inserted = booked
      ? await trx(T.messages).insert({
        id: newId('msg'), account_id: accountId, direction: 'outbound', sender: input.from, recipient: input.to, body: input.body,
        status: 'queued', idempotency_key: key, request_sha256: requestSha256, receipt_lost: receiptLost,
      }).onConflict(['account_id', 'idempotency_key']).ignore().returning('*') as MessageRow[]
      : [];
    if (inserted.length === 1) return { message: toMessage(inserted[0]), replayed: false };
    const first = await trx(T.messages).where({ account_id: accountId, idempotency_key: key }).first();
    if (first) {
      if (!(first.request_sha256 as Buffer).equals(requestSha256)) {
        throw new GatewayError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different message; use a new key for a new message');
      }
      return { message: toMessage(first), replayed: true };
    }
    throw new GatewayError(422, 'sender_not_booked', `Sender id ${input.from} is not booked by this account; book it with POST /v1/senders`);
  });
}

export async function getMessage(db: Db, accountId: string, id: string): Promise<Message | undefined> {
  const row = await db(T.messages).where({ id, account_id: accountId }).first();
  return row ? toMessage(row) : undefined;
}

/** Messages the accounts sent to a phone number, newest first (what the customer's phone shows). */
export async function phoneMessages(db: Db, accountIds: string[], phone: string, limit: number): Promise<Message[]> {
  const rows = await db(T.messages).where({ direction: 'outbound', recipient: phone }).whereIn('account_id', accountIds)
    .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit);
  return rows.map(toMessage);
}

/** An inbound message from a phone to a booked sender id of one of the accounts: recorded, and its webhook queued. */
export async function receiveReply(db: Db, accountIds: string[], phone: string, to: string, body: string): Promise<Message> {
  return db.transaction(async (trx) => {
    const sender = await trx(T.senders).where({ id: to }).whereIn('account_id', accountIds).first();
    if (!sender) throw new GatewayError(404, 'sender_not_found', `No account of this gateway has booked sender id ${to}`);
    const [row] = await trx(T.messages).insert({
      id: newId('msg'), account_id: sender.account_id, direction: 'inbound', sender: phone, recipient: to, body, status: 'received',
    }).returning('*') as MessageRow[];
    const message = toMessage(row);
    await trx(T.webhooks).insert({
      id: newId('evt'), account_id: sender.account_id, message_id: message.id, type: 'message.inbound',
      payload: JSON.stringify({ type: 'message.inbound', data: message }),
    });
    return message;
  });
}

export interface PumpSettings {
  /** queued → sent after this long, and sent → delivered (with its receipt) this long after that. */
  sendDelayMs: number;
  deliveryDelayMs: number;
  /** Webhook retries: the pause doubles from initialBackoffMs to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** One webhook attempt, including the answer. */
  webhookTimeoutMs: number;
}

export interface PumpCounts {
  sent: number;
  delivered: number;
  receiptsLost: number;
  webhooksDelivered: number;
  webhookAttemptsFailed: number;
  webhooksGivenUp: number;
}

/** Moves the accounts' messages along and delivers their webhooks; one tick at a time. */
export class Pump {
  readonly counts: PumpCounts = { sent: 0, delivered: 0, receiptsLost: 0, webhooksDelivered: 0, webhookAttemptsFailed: 0, webhooksGivenUp: 0 };

  constructor(private readonly db: Db, private readonly accountIds: string[], private readonly s: PumpSettings) {}

  async tick(): Promise<void> {
    await this.advance();
    await this.deliverDue();
  }

  private async advance(): Promise<void> {
    const sent = await this.db.raw(`
      UPDATE ${T.messages} SET status = 'sent', sent_at = now()
      WHERE id IN (SELECT id FROM ${T.messages} WHERE account_id = ANY(?) AND status = 'queued'
                   AND created_at <= now() - make_interval(secs => ?) ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED)
      RETURNING id`, [this.accountIds, this.s.sendDelayMs / 1000, PUMP_BATCH]) as { rows: unknown[] };
    this.counts.sent += sent.rows.length;
    await this.db.transaction(async (trx) => {
      const { rows } = await trx.raw(`
        UPDATE ${T.messages} SET status = 'delivered', delivered_at = now()
        WHERE id IN (SELECT id FROM ${T.messages} WHERE account_id = ANY(?) AND status = 'sent'
                     AND sent_at <= now() - make_interval(secs => ?) ORDER BY sent_at LIMIT ? FOR UPDATE SKIP LOCKED)
        RETURNING *`, [this.accountIds, this.s.deliveryDelayMs / 1000, PUMP_BATCH]) as { rows: Array<MessageRow & { account_id: string; receipt_lost: boolean }> };
      const receipts = rows.filter((r) => !r.receipt_lost).map((r) => {
        const m = toMessage(r);
        return {
          id: newId('evt'), account_id: r.account_id, message_id: r.id, type: 'message.delivered',
          payload: JSON.stringify({ type: 'message.delivered', data: { messageId: m.id, status: m.status, from: m.from, to: m.to, deliveredAt: m.deliveredAt } }),
        };
      });
      if (receipts.length) await trx(T.webhooks).insert(receipts);
      this.counts.delivered += rows.length;
      this.counts.receiptsLost += rows.length - receipts.length;
    });
  }

  /** Leases the due webhooks (one short transaction), posts them, records each outcome. */
  private async deliverDue(): Promise<void> {
    const leaseSeconds = (this.s.webhookTimeoutMs + 5_000) / 1000;
    const { rows } = await this.db.raw(`
      UPDATE ${T.webhooks} w SET next_attempt_at = now() + make_interval(secs => ?), attempts = w.attempts + 1
      FROM ${T.accounts} a
      WHERE w.account_id = a.id AND a.webhook_url IS NOT NULL
        AND w.id IN (SELECT id FROM ${T.webhooks} WHERE account_id = ANY(?) AND delivered_at IS NULL AND failed_at IS NULL
                     AND next_attempt_at <= now() ORDER BY next_attempt_at, created_at LIMIT ? FOR UPDATE SKIP LOCKED)
      RETURNING w.id, w.payload, w.attempts, a.webhook_url, a.webhook_secret`,
    [leaseSeconds, this.accountIds, PUMP_BATCH]) as { rows: Array<{ id: string; payload: unknown; attempts: number; webhook_url: string; webhook_secret: string }> };
    await Promise.all(rows.map(async (w) => {
      const body = JSON.stringify(w.payload);
      const error = await postSigned(w.webhook_url, body, signGatewayWebhook(w.webhook_secret, w.id, body, Date.now()), this.s.webhookTimeoutMs);
      if (error === null) {
        await this.db(T.webhooks).where({ id: w.id }).update({ delivered_at: this.db.fn.now(), last_error: null });
        this.counts.webhooksDelivered += 1;
        return;
      }
      this.counts.webhookAttemptsFailed += 1;
      if (w.attempts >= MAX_WEBHOOK_ATTEMPTS) {
        await this.db(T.webhooks).where({ id: w.id }).update({ failed_at: this.db.fn.now(), last_error: error });
        this.counts.webhooksGivenUp += 1;
        return;
      }
      const backoffMs = Math.min(this.s.maxBackoffMs, this.s.initialBackoffMs * 2 ** (w.attempts - 1));
      await this.db(T.webhooks).where({ id: w.id })
        .update({ next_attempt_at: this.db.raw('now() + make_interval(secs => ?)', [backoffMs / 1000]), last_error: error });
    }));
  }
}

/** Rows of the accounts' state in the database (GET /admin/stats?scope=database). */
export async function databaseStats(db: Db | Knex.Transaction, accountIds: string[]): Promise<Record<string, number>> {
  const { rows } = await db.raw(`SELECT
      (SELECT count(*) FROM ${T.senders} WHERE account_id = ANY(:ids))::int AS senders,
      (SELECT count(*) FROM ${T.messages} WHERE account_id = ANY(:ids) AND direction = 'outbound')::int AS outbound,
      (SELECT count(*) FROM ${T.messages} WHERE account_id = ANY(:ids) AND status = 'queued')::int AS queued,
      (SELECT count(*) FROM ${T.messages} WHERE account_id = ANY(:ids) AND status = 'sent')::int AS sent,
      (SELECT count(*) FROM ${T.messages} WHERE account_id = ANY(:ids) AND status = 'delivered')::int AS delivered,
      (SELECT count(*) FROM ${T.messages} WHERE account_id = ANY(:ids) AND direction = 'inbound')::int AS inbound,
      (SELECT count(*) FROM ${T.webhooks} WHERE account_id = ANY(:ids) AND delivered_at IS NULL AND failed_at IS NULL)::int AS "webhooksPending",
      (SELECT count(*) FROM ${T.webhooks} WHERE account_id = ANY(:ids) AND delivered_at IS NOT NULL)::int AS "webhooksDelivered",
      (SELECT count(*) FROM ${T.webhooks} WHERE account_id = ANY(:ids) AND failed_at IS NOT NULL)::int AS "webhooksFailed"`,
  { ids: accountIds }) as { rows: Array<Record<string, number>> };
  return rows[0];
}
