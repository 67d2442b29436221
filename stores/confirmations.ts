// Confirmations by message in PostgreSQL: one row per order that asks its customer. The row, not a race between a
// reply and the order's deadline timer, decides how it ends: a reply is taken only while the row is open and before
// its deadline (decideReply, under a lock on the phone's rows), and the order's deadline closes only a row still open
// (close returns the outcome that won). Each transaction is short; messages are sent outside them.
import { randomInt } from 'node:crypto';
import {
  CONFIRMATION_CODE_DIGITS, type ConfirmationOutcome, type ConfirmationState, decideReply, type Reply, type ReplyDecision,
} from '../domain/confirmation';
import type { Db } from '../ledger/db';

export interface ConfirmationRow {
  orderId: string;
  merchantId: string;
  phoneToken: string;
  code: string;
  sender: string;
  body: string;
  state: ConfirmationState;
  wrongCodes: number;
  messageId: string | null;
  sentAt: Date | null;
  deliveredAt: Date | null;
  deadlineAt: Date | null;
  decidedAt: Date | null;
}

const rowOf = (r: Record<string, any>): ConfirmationRow => ({
  orderId: r.order_id, merchantId: r.merchant_id, phoneToken: r.phone_token, code: r.code, sender: r.sender, body: r.body,
  state: r.state, wrongCodes: r.wrong_codes, messageId: r.message_id, sentAt: r.sent_at, deliveredAt: r.delivered_at,
  deadlineAt: r.deadline_at, decidedAt: r.decided_at,
});

const OPEN = ['sending', 'pending'];
/** Tries at a code unique among the phone's open confirmations (each clashes with at most ten in a million). */
const CODE_TRIES = 8;
/** Ended confirmations of a phone a reply's code is looked for among (the newest). */
const LATE_CANDIDATES = 20;

const newCode = () => String(randomInt(0, 10 ** CONFIRMATION_CODE_DIGITS)).padStart(CONFIRMATION_CODE_DIGITS, '0');
const isOpenCodeClash = (err: unknown) => (err as { constraint?: string }).constraint === 'confirmations_open_code_idx';

export class ConfirmationStore {
  constructor(private readonly db: Db) {}

  /**
   * The order's confirmation, opened with a fresh code and the offer's text (bodyFor(code)) unless it exists: a
   * repeat (a retried activity) returns the row as it stands, with the code it was given.
   */
  async open(o: { orderId: string; merchantId: string; phoneToken: string; sender: string; bodyFor: (code: string) => string }): Promise<ConfirmationRow> {
    for (let i = 0; ; i++) {
      const code = newCode();
      try {
        const [row] = await this.db('confirmations').insert({
          order_id: o.orderId, merchant_id: o.merchantId, phone_token: o.phoneToken, code, sender: o.sender, body: o.bodyFor(code),
        }).onConflict('order_id').ignore().returning('*');
        if (row) return rowOf(row);
        return (await this.get(o.orderId))!;
      } catch (err) {
        if (!isOpenCodeClash(err) || i + 1 >= CODE_TRIES) throw err;
      }
    }
  }

  async get(orderId: string): Promise<ConfirmationRow | undefined> {
    const row = await this.db('confirmations').where({ order_id: orderId }).first();
    return row && rowOf(row);
  }

  /** Confirmations of the phone still open (offer being sent, or waiting for the reply). */
  async countOpen(phoneToken: string): Promise<number> {
    const [{ n }] = await this.db('confirmations').where({ phone_token: phoneToken }).whereIn('state', OPEN).count({ n: '*' });
    return Number(n);
  }

  /** The gateway accepted the offer: the reply is awaited from now until the deadline. A repeat changes nothing. */
  async offerSent(orderId: string, messageId: string, timeoutMs: number): Promise<ConfirmationRow> {
    const [row] = await this.db('confirmations').where({ order_id: orderId, state: 'sending' })
      .update({ state: 'pending', message_id: messageId, sent_at: this.db.fn.now(),
        deadline_at: this.db.raw('now() + make_interval(secs => ?)', [timeoutMs / 1000]) }).returning('*');
    return row ? rowOf(row) : (await this.get(orderId))!;
  }

  /** The gateway's receipt (webhook `webhook`): the offer reached the phone. 'replayed' when the webhook was seen before. */
  async offerDelivered(messageId: string, webhook: SeenWebhook): Promise<'recorded' | 'replayed'> {
    return this.db.transaction(async (trx) => {
      if (!await firstSight(trx, webhook)) return 'replayed';
      await trx('confirmations').where({ message_id: messageId }).whereNull('delivered_at').update({ delivered_at: trx.fn.now() });
      return 'recorded';
    });
  }

  /**
   * Ends the confirmation as `outcome` if it is still open (the deadline, the merchant's cancel, an offer not sent),
   * and returns how it ended: `outcome`, or what a reply decided first.
   */
  async close(orderId: string, outcome: Extract<ConfirmationOutcome, 'expired' | 'cancelled' | 'not_sent'>): Promise<ConfirmationOutcome> {
    const [row] = await this.db('confirmations').where({ order_id: orderId }).whereIn('state', OPEN)
      .update({ state: outcome, decided_at: this.db.fn.now() }).returning('state');
    if (row) return row.state;
    const found = await this.get(orderId);
    if (!found) return outcome; // (never opened: the offer could not be written either)
    return found.state as ConfirmationOutcome;
  }

  /**
   * Decides a reply from the phone (null: unreadable) in one transaction, with the phone's open confirmations and the
   * newest ended ones with its code locked: records the decision, an expiry it finds due, or the wrong code, and the
   * webhook that brought it as seen (a redelivery after a crash before the commit is decided then; one after it is a replay).
   */
  async decideReply(phoneToken: string, reply: Reply | null, webhook: SeenWebhook): Promise<(ReplyDecision & { code?: string }) | 'replayed'> {
    return this.db.transaction(async (trx) => {
      if (!await firstSight(trx, webhook)) return 'replayed';
      const { rows } = await trx.raw(`
        SELECT order_id, code, state, deadline_at, wrong_codes, now() AS db_now FROM confirmations
        WHERE order_id IN (
          SELECT order_id FROM confirmations WHERE phone_token = :phone AND state IN ('sending', 'pending')
          UNION ALL
          (SELECT order_id FROM confirmations WHERE phone_token = :phone AND code = :code AND state NOT IN ('sending', 'pending')
           ORDER BY created_at DESC LIMIT :late))
        ORDER BY created_at DESC FOR UPDATE`, { phone: phoneToken, code: reply?.code ?? '', late: LATE_CANDIDATES }) as { rows: Array<Record<string, any>> };
      const nowMs = rows.length ? (rows[0].db_now as Date).getTime() : Date.now();
      const decision = decideReply(rows.map((r) => ({ orderId: r.order_id, code: r.code, state: r.state, wrongCodes: r.wrong_codes,
        deadlineAtMs: r.deadline_at ? (r.deadline_at as Date).getTime() : null })), reply, nowMs);
      const set = (ids: string[], cols: Record<string, unknown>) => trx('confirmations').whereIn('order_id', ids).whereIn('state', OPEN).update(cols);
      if (decision.kind === 'decided') await set([decision.orderId], { state: decision.outcome, decided_at: trx.fn.now() });
      if (decision.kind === 'late' && decision.expiredNow) await set([decision.orderId], { state: 'expired', decided_at: trx.fn.now() });
      if (decision.kind === 'wrong_code') {
        await set(decision.counted, { wrong_codes: trx.raw('wrong_codes + 1') });
        if (decision.failed.length) await set(decision.failed, { state: 'failed', decided_at: trx.fn.now() });
      }
      return { ...decision, code: reply?.code };
    });
  }

  /**
   * Remembers a gateway webhook that changes nothing here (a reply from a number with nothing waiting): 'replayed'
   * when it was seen before.
   */
  async rememberWebhook(webhook: SeenWebhook): Promise<'recorded' | 'replayed'> {
    return (await firstSight(this.db, webhook)) ? 'recorded' : 'replayed';
  }
}

/** A verified gateway webhook: its id, its type, and how long ids are kept (a replay of an older one is refused as stale). */
export interface SeenWebhook { id: string; type: string; keepMs: number }

/** Records the webhook's id (inside the transaction of what it does): false when it was seen before. Old ids go now and then. */
async function firstSight(db: Db, w: SeenWebhook): Promise<boolean> {
  const inserted = await db('gateway_webhooks').insert({ id: w.id, type: w.type }).onConflict('id').ignore().returning('id');
  if (Math.random() < 0.01) {
    await db('gateway_webhooks').where('received_at', '<', db.raw('now() - make_interval(secs => ?)', [w.keepMs / 1000])).delete();
  }
  return inserted.length === 1;
}
