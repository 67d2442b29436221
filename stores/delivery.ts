// Ordered delivery as PostgreSQL keeps it: destinations (merchants' webhook endpoints, each with its signing
// secret, and the previous one while a rotation's overlap lasts) and the messages queued to them, with their state
// and every attempt; the dead letters operators work from.
// The group workflows order and retry; these rows hold each message's body and what became of it.
import { randomBytes } from 'node:crypto';
import type { AttemptOutcome, DeadLetterPolicy } from '../domain/delivery';
import type { Db } from '../ledger/db';
import { StoreRefusal } from './refusal';
import { type Page, pageOf, type PageRequest } from './page';

/** Largest message body, in bytes. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Messages waiting in one group; past it enqueue is refused (the destination is far behind). */
export const MAX_QUEUE_DEPTH_PER_GROUP = 1000;
/** Active webhook endpoints per merchant. */
export const MAX_ENDPOINTS_PER_MERCHANT = 10;
const GROUP_KEY = /^[A-Za-z0-9_.:-]{1,150}$/;

export class DeliveryError extends Error {
  constructor(readonly code: 'message_too_large' | 'queue_full' | 'unknown_destination' | 'invalid_group_key', message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface Endpoint {
  id: string;
  merchantId: string | null;
  url: string;
  description: string | null;
  events: string[] | null;
  onDeadLetter: DeadLetterPolicy;
  giveUpSeconds: number;
  createdAt: Date;
  disabledAt: Date | null;
  /** Until when the secret before the last rotation also signs (null: it was rotated without overlap, or never). */
  previousSecretExpiresAt: Date | null;
}

export interface OutboundMessage {
  id: string;
  destinationId: string;
  groupKey: string;
  eventType?: string;
  eventId?: string;
  body: string;
}

/** A queued message with what its delivery needs of its destination. */
export interface MessageToDeliver {
  id: string;
  body: string;
  state: 'queued' | 'delivered' | 'dead' | 'dropped';
  destinationId: string;
  url: string;
  /** Every secret that signs it now: the current one, and the previous one during a rotation's overlap. */
  secrets: string[];
  onDeadLetter: DeadLetterPolicy;
  giveUpSeconds: number;
  disabled: boolean;
  /** When it was queued. */
  createdAt: Date;
}

export interface DeadLetter {
  id: string;
  destinationId: string;
  url: string;
  merchantId: string | null;
  groupKey: string;
  eventType: string | null;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deadAt: Date;
}

/** One delivery attempt of a message: what its destination answered (or the error), and how long it took. */
export interface Attempt {
  id: string;
  destinationId: string;
  messageId: string;
  eventId: string | null;
  /** 1 for a message's first attempt. */
  attempt: number;
  outcome: AttemptOutcome;
  status: number | null;
  error: string | null;
  /** From sending the request to its answer's status (null: no request was sent). */
  latencyMs: number | null;
  createdAt: Date;
}

/** What an endpoint's update may change (absent: unchanged; events null: every event type). */
export interface EndpointChanges {
  url?: string;
  description?: string | null;
  events?: string[] | null;
  onDeadLetter?: DeadLetterPolicy;
  giveUpSeconds?: number;
  disabled?: boolean;
}

const endpointOf = (d: Record<string, any>): Endpoint => ({
  id: d.id, merchantId: d.merchant_id, url: d.url, description: d.description, events: d.events, onDeadLetter: d.on_dead_letter,
  giveUpSeconds: d.give_up_seconds, createdAt: d.created_at, disabledAt: d.disabled_at, previousSecretExpiresAt: d.previous_secret_expires_at,
});
const attemptOf = (a: Record<string, any>): Attempt => ({
  id: String(a.id), destinationId: a.destination_id, messageId: a.message_id, eventId: a.event_id, attempt: a.attempt, outcome: a.outcome,
  status: a.status, error: a.error, latencyMs: a.latency_ms, createdAt: a.created_at,
});
/** Attempt ids are bigserial numbers; anything else names no attempt. */
const ATTEMPT_ID = /^[1-9][0-9]{0,17}$/;

export class DeliveryStore {
  constructor(private readonly db: Db) {}

  // --- destinations ----------------------------------------------------------------------------------

  /** A merchant's new endpoint and its signing secret, within MAX_ENDPOINTS_PER_MERCHANT active ones. */
  createEndpoint(merchantId: string, e: { url: string; description?: string; events?: string[]; onDeadLetter: DeadLetterPolicy;
    giveUpSeconds: number; secret: string }): Promise<Endpoint> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`endpoints\n${merchantId}`]);
      const active = await trx('delivery_destinations').where({ merchant_id: merchantId }).whereNull('disabled_at').count({ n: '*' }).first();
      if (Number(active!.n) >= MAX_ENDPOINTS_PER_MERCHANT) {
        throw new StoreRefusal('too_many_endpoints', `A merchant may have at most ${MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints`);
      }
      const [row] = await trx('delivery_destinations').insert({
        id: `we_${randomBytes(12).toString('hex')}`, merchant_id: merchantId, url: e.url, description: e.description ?? null,
        secret: e.secret, events: e.events ?? null, on_dead_letter: e.onDeadLetter, give_up_seconds: e.giveUpSeconds,
      }).returning('*');
      return endpointOf(row);
    });
  }

  /** A page of endpoints, newest first: one merchant's, or everyone's (undefined). */
  async listEndpoints(merchantId: string | undefined, req: PageRequest): Promise<Page<Endpoint>> {
    return pageOf(() => (merchantId === undefined ? this.db('delivery_destinations')
      : this.db('delivery_destinations').where({ merchant_id: merchantId })), req, endpointOf);
  }

  async getEndpoint(id: string): Promise<Endpoint | undefined> {
    const row = await this.db('delivery_destinations').where({ id }).first();
    return row && endpointOf(row);
  }

  /**
   * Changes what is given of the endpoint; `disabled: false` enables a disabled one again, within
   * MAX_ENDPOINTS_PER_MERCHANT active ones. Messages queued for it go to its URL as it is when they are tried.
   */
  async updateEndpoint(id: string, p: EndpointChanges): Promise<Endpoint | undefined> {
    return this.db.transaction(async (trx) => {
      const row = await trx('delivery_destinations').where({ id }).forUpdate().first('merchant_id', 'disabled_at');
      if (!row) return undefined;
      if (p.disabled === false && row.disabled_at !== null) {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`endpoints\n${row.merchant_id}`]); // (counted as createEndpoint counts)
        const active = await trx('delivery_destinations').where({ merchant_id: row.merchant_id }).whereNull('disabled_at').count({ n: '*' }).first();
        if (Number(active!.n) >= MAX_ENDPOINTS_PER_MERCHANT) {
          throw new StoreRefusal('too_many_endpoints', `A merchant may have at most ${MAX_ENDPOINTS_PER_MERCHANT} active webhook endpoints`, 'disabled');
        }
      }
      const changes = {
        ...(p.url !== undefined && { url: p.url }), ...(p.description !== undefined && { description: p.description }),
        ...(p.events !== undefined && { events: p.events }), ...(p.onDeadLetter !== undefined && { on_dead_letter: p.onDeadLetter }),
        ...(p.giveUpSeconds !== undefined && { give_up_seconds: p.giveUpSeconds }),
        ...(p.disabled !== undefined && { disabled_at: p.disabled ? trx.raw('coalesce(disabled_at, now())') : null }),
      };
      const [updated] = Object.keys(changes).length === 0 // (nothing to change: the endpoint as it is)
        ? await trx('delivery_destinations').where({ id })
        : await trx('delivery_destinations').where({ id }).update(changes).returning('*');
      return endpointOf(updated);
    });
  }

  /**
   * A new signing secret; the one it replaces also signs for `overlapSeconds` more (0: not at all). A rotation during
   * an overlap ends the older secret's at once: at most two secrets sign.
   */
  async rotateSecret(id: string, secret: string, overlapSeconds: number): Promise<Endpoint | undefined> {
    const [row] = await this.db('delivery_destinations').where({ id }).update({
      secret,
      previous_secret: overlapSeconds > 0 ? this.db.ref('secret') : null,
      previous_secret_expires_at: overlapSeconds > 0 ? this.db.raw('now() + make_interval(secs => ?)', [overlapSeconds]) : null,
    }).returning('*');
    return row && endpointOf(row);
  }

  /** Disables the endpoint (it keeps its first disabling time); its queued messages become dead letters when tried. */
  async disableEndpoint(id: string): Promise<Endpoint | undefined> {
    const [row] = await this.db('delivery_destinations').where({ id })
      .update({ disabled_at: this.db.raw('coalesce(disabled_at, now())') }).returning('*');
    return row && endpointOf(row);
  }

  /** A merchant's active endpoints and the event types each subscribes to (null: all). */
  async activeEndpoints(merchantId: string): Promise<Array<{ id: string; events: string[] | null }>> {
    return this.db('delivery_destinations').where({ merchant_id: merchantId }).whereNull('disabled_at').select('id', 'events');
  }

  // --- messages --------------------------------------------------------------------------------------

  /**
   * Writes a message once (idempotent by id), within the group's depth and the size limit. Returns whether it is
   * new; either way the caller signals its group (a signal lost to a crash is sent again by a retry).
   */
  async enqueue(m: OutboundMessage): Promise<boolean> {
    const bytes = Buffer.byteLength(m.body);
    if (bytes > MAX_MESSAGE_BYTES) throw new DeliveryError('message_too_large', `A message body may be at most ${MAX_MESSAGE_BYTES} bytes, not ${bytes}`);
    if (!GROUP_KEY.test(m.groupKey)) throw new DeliveryError('invalid_group_key', 'A group key is 1 to 150 of A-Z a-z 0-9 _ . : -');
    return this.db.transaction(async (trx) => {
      const dest = await trx('delivery_destinations').where({ id: m.destinationId }).first('id');
      if (!dest) throw new DeliveryError('unknown_destination', `No destination ${m.destinationId}`);
      // one enqueuer at a time per group, so the depth check holds under concurrency
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`${m.destinationId}\n${m.groupKey}`]);
      if (await trx('delivery_messages').where({ id: m.id }).first('id')) return false;
      const { n } = (await trx('delivery_messages').where({ destination_id: m.destinationId, group_key: m.groupKey, state: 'queued' })
        .count({ n: '*' }).first())!;
      if (Number(n) >= MAX_QUEUE_DEPTH_PER_GROUP) {
        throw new DeliveryError('queue_full', `Group ${m.groupKey} already has ${MAX_QUEUE_DEPTH_PER_GROUP} messages waiting`);
      }
      await trx('delivery_messages').insert({
        id: m.id, destination_id: m.destinationId, group_key: m.groupKey, event_type: m.eventType ?? null, event_id: m.eventId ?? null, body: m.body,
      });
      return true;
    });
  }

  async messageToDeliver(id: string): Promise<MessageToDeliver | undefined> {
    const m = await this.db('delivery_messages as m').join('delivery_destinations as d', 'd.id', 'm.destination_id').where('m.id', id)
      .first('m.id', 'm.body', 'm.state', 'm.created_at', 'd.id as destination_id', 'd.url', 'd.secret', 'd.on_dead_letter', 'd.give_up_seconds', 'd.disabled_at',
        this.db.raw('CASE WHEN d.previous_secret_expires_at > now() THEN d.previous_secret END AS previous_secret'));
    return m && { id: m.id, body: m.body, state: m.state, destinationId: m.destination_id, url: m.url,
      secrets: m.previous_secret ? [m.secret, m.previous_secret] : [m.secret],
      onDeadLetter: m.on_dead_letter, giveUpSeconds: m.give_up_seconds, disabled: m.disabled_at !== null, createdAt: m.created_at };
  }

  /**
   * One attempt: the message's count and last outcome (a message delivered stays delivered; a dead letter being
   * redelivered counts too), and the attempt's own row, in one statement (one round trip on the delivery path).
   */
  async recordAttempt(id: string, a: { outcome: AttemptOutcome; status: number | null; error: string | null; latencyMs: number | null }): Promise<void> {
    const error = a.error?.slice(0, 1000) ?? null;
    await this.db.raw(`
      WITH m AS (
        UPDATE delivery_messages SET attempts = attempts + 1, last_status = :status, last_error = :error,
          state = CASE WHEN CAST(:delivered AS boolean) THEN 'delivered' ELSE state END,
          delivered_at = CASE WHEN CAST(:delivered AS boolean) THEN now() ELSE delivered_at END
        WHERE id = :id AND state IN ('queued', 'dead')
        RETURNING id, destination_id, event_id, attempts
      )
      INSERT INTO delivery_attempts (destination_id, message_id, event_id, attempt, outcome, status, error, latency_ms)
      SELECT destination_id, id, event_id, attempts, CAST(:outcome AS text), CAST(:status AS integer), CAST(:error AS text),
        CAST(:latencyMs AS integer) FROM m`,
    { id, status: a.status, error, delivered: a.outcome === 'delivered', outcome: a.outcome, latencyMs: a.latencyMs });
  }

  /** A page of an endpoint's delivery attempts, newest first. */
  async attempts(destinationId: string, req: PageRequest): Promise<Page<Attempt>> {
    return pageOf(() => this.db('delivery_attempts').where({ destination_id: destinationId }), req, attemptOf,
      { validId: (id) => ATTEMPT_ID.test(id) });
  }

  /**
   * The message is a dead letter (operators list, redeliver or drop it); `held` runs in the same transaction when its
   * destination holds its groups behind a dead letter (the problem that says so).
   */
  async markDead(id: string, reason: string, held: (d: { destinationId: string; merchantId: string | null }, trx: Db) => Promise<void>): Promise<void> {
    await this.db.transaction(async (trx) => {
      const n = await trx('delivery_messages').where({ id, state: 'queued' })
        .update({ state: 'dead', dead_at: trx.fn.now(), last_error: reason.slice(0, 1000) });
      const d = await trx('delivery_messages as m').join('delivery_destinations as d', 'd.id', 'm.destination_id').where('m.id', id)
        .first('d.id', 'd.merchant_id', 'd.on_dead_letter', 'm.state');
      // (a repeat of the step after a crash: the message is dead already, the problem written with it)
      if (n > 0 && d?.on_dead_letter === 'hold') await held({ destinationId: d.id, merchantId: d.merchant_id }, trx);
    });
  }

  /**
   * A page of dead letters, the latest to die first (the created range is of when they died): one merchant's, or
   * everyone's (undefined). A cursor may be a message redelivered or dropped since.
   */
  async deadLetters(merchantId: string | undefined, req: PageRequest): Promise<Page<DeadLetter>> {
    const visible = () => {
      const q = this.db('delivery_messages as m').join('delivery_destinations as d', 'd.id', 'm.destination_id');
      return merchantId === undefined ? q : q.where('d.merchant_id', merchantId);
    };
    return pageOf(() => visible().where('m.state', 'dead')
      .select('m.id', 'm.destination_id', 'm.group_key', 'm.event_type', 'm.attempts', 'm.last_status', 'm.last_error',
        'm.created_at', 'm.dead_at', 'd.merchant_id', 'd.url'), req, (m) => ({
      id: m.id, destinationId: m.destination_id, url: m.url, merchantId: m.merchant_id, groupKey: m.group_key, eventType: m.event_type,
      attempts: m.attempts, lastStatus: m.last_status, lastError: m.last_error, createdAt: m.created_at, deadAt: m.dead_at,
    }), { key: ['m.dead_at', 'm.id'], cursors: visible });
  }

  /** A message's state and the merchant whose endpoint it goes to (for who may resolve it). */
  async messageOwner(id: string): Promise<{ state: string; merchantId: string | null } | undefined> {
    const m = await this.db('delivery_messages as m').join('delivery_destinations as d', 'd.id', 'm.destination_id')
      .where('m.id', id).first('m.state', 'd.merchant_id');
    return m && { state: m.state, merchantId: m.merchant_id };
  }

  /** The group of a dead letter (undefined: the message is not dead). */
  async deadLetterGroup(id: string): Promise<{ destinationId: string; groupKey: string } | undefined> {
    const row = await this.db('delivery_messages').where({ id, state: 'dead' }).first('destination_id', 'group_key');
    return row && { destinationId: row.destination_id, groupKey: row.group_key };
  }

  /** A dead letter queued again or dropped; its group (undefined: it was not dead). */
  async resolveDead(id: string, action: 'redeliver' | 'drop'): Promise<{ destinationId: string; groupKey: string } | undefined> {
    const [row] = await this.db('delivery_messages').where({ id, state: 'dead' })
      .update({ state: action === 'redeliver' ? 'queued' : 'dropped' }).returning(['destination_id', 'group_key']);
    return row && { destinationId: row.destination_id, groupKey: row.group_key };
  }
}
