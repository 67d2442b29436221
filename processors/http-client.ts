// ProcessorClient over the processor simulator's HTTP API (processors/simulator/server.ts), and SimulatorAdmin
// over its admin API for tests and benchmarks.
// Failure mapping: no answer (network error, connection refused, connection closed without a response,
// timeout), a 5xx or an unreadable success → ProcessorUnavailableError (retry with the same idempotency key);
// a 4xx → ProcessorRejectedError(code, message, status). A decline is not an error: it is an Authorization
// with status 'declined' (an unknown token is declined 'invalid_token'), and so is a request for step-up
// authentication (status 'authentication_required'); a failed line of a batch file is a result with status 'failed'.
import {
  DISPUTE_REASONS, ProcessorRejectedError, ProcessorUnavailableError,
  type Authorization, type AuthorizeRequest, type AvsCode, type Balance, type BatchFileResult, type CardInput, type CardToken, type Capture,
  type ChargeLine, type ChargeLineResult, type Dispute, type DisputeEvidence, type DisputeReason, type LineItem, type LoyaltySignal,
  type Payout, type PayoutLine, type PayoutLineResult, type ProcessorClient, type ProcessorRecord, type ProcessorWebhookEvent, type Refund, type Reservation,
  type ReserveRequest, type SettlementBatch, type VoidResult,
} from './client';
import { metrics } from '../runtime/metrics';
import { type CallFailures, callJson, type Json } from './jsonCall';
import type { FaultSettings, FaultState } from './simulator/faults';
import type { SimulatorConfig, SimulatorStats } from './simulator/server';

export const DEFAULT_PROCESSOR_TIMEOUT_MS = 10_000;


export interface HttpProcessorClientOptions {
  /** The processor's base URL without /v1, e.g. http://127.0.0.1:3100. */
  baseUrl: string;
  /** Per call, including reading the response; default 10 s. */
  timeoutMs?: number;
}

const PROCESSOR_FAILURES: CallFailures = {
  unavailable: (message) => new ProcessorUnavailableError(message),
  rejected: (code, message, status) => new ProcessorRejectedError(code, message, status),
};

export class HttpProcessorClient implements ProcessorClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(opts: HttpProcessorClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PROCESSOR_TIMEOUT_MS;
  }

  async tokenize(card: CardInput, idempotencyKey: string): Promise<CardToken> {
    const b = await this.post('/tokens', card, idempotencyKey);
    return { token: str(b, 'token'), last4: str(b, 'last4'), brand: str(b, 'brand') };
  }

  async authorize(req: AuthorizeRequest, idempotencyKey: string): Promise<Authorization> {
    const { token, amountMinor, currency, postalCode, reference } = req;
    return toAuthorization(await this.post('/authorizations', { token, amountMinor, currency, postalCode, reference }, idempotencyKey));
  }

  async capture(authorizationId: string, amountMinor: number, idempotencyKey: string, lineItems?: LineItem[]): Promise<Capture> {
    const b = await this.post(`/authorizations/${enc(authorizationId)}/captures`, captureBody(amountMinor, lineItems), idempotencyKey);
    return { ...toCapture(b), authorizationId: str(b, 'authorizationId') };
  }

  async void(authorizationId: string, idempotencyKey: string, amountMinor?: number): Promise<VoidResult> {
    const b = await this.post(`/authorizations/${enc(authorizationId)}/void`, amountMinor === undefined ? {} : { amountMinor }, idempotencyKey);
    return { authorizationId: str(b, 'authorizationId'), releasedMinor: int(b, 'releasedMinor'), remainingMinor: b.remainingMinor === undefined ? undefined : int(b, 'remainingMinor') };
  }

  async refund(captureId: string, amountMinor: number, idempotencyKey: string): Promise<Refund> {
    const b = await this.post(`/captures/${enc(captureId)}/refunds`, { amountMinor }, idempotencyKey);
    return { id: str(b, 'id'), captureId: str(b, 'captureId'), amountMinor: int(b, 'amountMinor'), currency: str(b, 'currency') };
  }

  async completeAuthentication(authorizationId: string, result: { authenticated: boolean; authenticationId: string },
    idempotencyKey: string): Promise<Authorization> {
    const { authenticated, authenticationId } = result;
    return toAuthorization(await this.post(`/authorizations/${enc(authorizationId)}/authentication`, { authenticated, authenticationId }, idempotencyKey));
  }

  async reauthorize(authorizationId: string, amountMinor: number, idempotencyKey: string): Promise<Authorization> {
    return toAuthorization(await this.post(`/authorizations/${enc(authorizationId)}/reauthorize`, { amountMinor }, idempotencyKey));
  }

  async settleBatch(captureIds: string[], idempotencyKey: string): Promise<SettlementBatch> {
    const b = await this.post('/settlement-batches', { captureIds }, idempotencyKey);
    if (!Array.isArray(b.captureIds) || !b.totals || typeof b.totals !== 'object') throw malformed('captureIds/totals');
    return { id: str(b, 'id'), captureIds: b.captureIds as string[], totals: b.totals as Record<string, number> };
  }

  async payout(destination: string, amountMinor: number, currency: string, idempotencyKey: string): Promise<Payout> {
    const b = await this.post('/payouts', { destination, amountMinor, currency }, idempotencyKey);
    return { id: str(b, 'id'), destination: str(b, 'destination'), amountMinor: int(b, 'amountMinor'), currency: str(b, 'currency') };
  }

  async submitChargeBatch(lines: ChargeLine[], idempotencyKey: string): Promise<BatchFileResult<ChargeLineResult>> {
    const body = { lines: lines.map(({ idempotencyKey: k, token, amountMinor, currency, reference }) =>
      ({ idempotencyKey: k, token, amountMinor, currency, reference })) };
    const b = await this.post('/charge-batches', body, idempotencyKey);
    return { id: str(b, 'id'), results: resultsOf(b, lines.length).map(toChargeLineResult) };
  }

  async submitPayoutBatch(lines: PayoutLine[], idempotencyKey: string): Promise<BatchFileResult<PayoutLineResult>> {
    const body = { lines: lines.map(({ idempotencyKey: k, destination, amountMinor, currency, reference }) =>
      ({ idempotencyKey: k, destination, amountMinor, currency, reference })) };
    const b = await this.post('/payout-batches', body, idempotencyKey);
    return { id: str(b, 'id'), results: resultsOf(b, lines.length).map(toPayoutLineResult) };
  }

  async balance(token: string): Promise<Balance> {
    const b = await this.call('GET', `/tokens/${enc(token)}/balance`);
    const kind = str(b, 'kind');
    if (kind !== 'debit' && kind !== 'prepaid') throw malformed('kind');
    return { token: str(b, 'token'), kind, availableMinor: int(b, 'availableMinor'), currency: str(b, 'currency') };
  }

  async reserve(req: ReserveRequest, idempotencyKey: string): Promise<Reservation> {
    const { token, amountMinor, currency, reference, expiresInSeconds } = req;
    return toReservation(await this.post('/reservations', { token, amountMinor, currency, reference, expiresInSeconds }, idempotencyKey));
  }

  async extendReservation(reservationId: string, expiresInSeconds: number, idempotencyKey: string): Promise<Reservation> {
    return toReservation(await this.post(`/reservations/${enc(reservationId)}/extend`, { expiresInSeconds }, idempotencyKey));
  }

  async captureReservation(reservationId: string, amountMinor: number, idempotencyKey: string,
    lineItems?: LineItem[]): Promise<Capture & { reservationId: string }> {
    const b = await this.post(`/reservations/${enc(reservationId)}/captures`, captureBody(amountMinor, lineItems), idempotencyKey);
    // (a capture of a reservation has no authorization: authorizationId is empty)
    return { ...toCapture(b), authorizationId: '', reservationId: str(b, 'reservationId') };
  }

  async releaseReservation(reservationId: string, idempotencyKey: string): Promise<Reservation> {
    return toReservation(await this.post(`/reservations/${enc(reservationId)}/release`, {}, idempotencyKey));
  }

  async getReservation(reservationId: string): Promise<Reservation | undefined> {
    const b = await this.getOrUndefined(`/reservations/${enc(reservationId)}`);
    return b && toReservation(b);
  }

  async getDispute(disputeId: string): Promise<Dispute | undefined> {
    const b = await this.getOrUndefined(`/disputes/${enc(disputeId)}`);
    return b && toDispute(b);
  }

  async submitDisputeEvidence(disputeId: string, evidence: DisputeEvidence, idempotencyKey: string): Promise<Dispute> {
    return toDispute(await this.post(`/disputes/${enc(disputeId)}/evidence`, evidence, idempotencyKey));
  }

  async acceptDispute(disputeId: string, idempotencyKey: string): Promise<Dispute> {
    return toDispute(await this.post(`/disputes/${enc(disputeId)}/accept`, {}, idempotencyKey));
  }

  async reportProvisioningFailure(captureId: string, idempotencyKey: string): Promise<{ captureId: string; reportedAt: string }> {
    const b = await this.post(`/captures/${enc(captureId)}/provisioning-failures`, {}, idempotencyKey);
    return { captureId: str(b, 'captureId'), reportedAt: str(b, 'reportedAt') };
  }

  async sendLoyalty(captureId: string, reward: { program: string; points: number }, idempotencyKey: string): Promise<LoyaltySignal> {
    const b = await this.post(`/captures/${enc(captureId)}/loyalty`, { program: reward.program, points: reward.points }, idempotencyKey);
    return { id: str(b, 'id'), captureId: str(b, 'captureId'), program: str(b, 'program'), points: int(b, 'points'), createdAt: str(b, 'createdAt') };
  }

  async getTransaction(id: string): Promise<Record<string, unknown> | undefined> {
    return this.getOrUndefined(`/transactions/${enc(id)}`);
  }

  /** A GET whose 404 resource_missing means "no such object". */
  private async getOrUndefined(path: string): Promise<Json | undefined> {
    try {
      return await this.call('GET', path);
    } catch (err) {
      if (err instanceof ProcessorRejectedError && err.status === 404 && err.code === 'resource_missing') return undefined;
      throw err;
    }
  }

  async records(from: Date, to: Date, cursor: string | null, limit: number) {
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: String(limit) });
    if (cursor !== null) q.set('cursor', cursor);
    const b = await this.call('GET', `/reports/records?${q.toString()}`);
    if (!Array.isArray(b.data) || typeof b.has_more !== 'boolean') throw malformed('data/has_more');
    return { data: b.data as ProcessorRecord[], hasMore: b.has_more, next: (b.next as string | null) ?? null };
  }

  async recordsById(ids: string[]): Promise<ProcessorRecord[]> {
    const b = await this.call('POST', '/reports/records/lookup', { ids });
    if (!Array.isArray(b.data)) throw malformed('data');
    return b.data as ProcessorRecord[];
  }

  private post(path: string, body: unknown, idempotencyKey: string): Promise<Json> {
    return this.call('POST', path, body, idempotencyKey);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<Json> {
    // (the operation is the path with its ids blanked: one series per kind of call, not per object)
    const operation = `${method} ${path.split('?')[0].split('/').map((s) => (/[0-9_]/.test(s) ? ':id' : s)).join('/')}`;
    const end = metrics.processorCalls.startTimer({ operation });
    try {
      const answer = await callJson(`processor ${method} /v1${path}`, `${this.baseUrl}/v1${path}`,
        { method, body, headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }, timeoutMs: this.timeoutMs }, PROCESSOR_FAILURES);
      end({ outcome: 'ok' });
      return answer;
    } catch (err) {
      const kind = err instanceof ProcessorRejectedError ? 'rejected' : 'unavailable';
      end({ outcome: kind });
      metrics.processorErrors.inc({ operation, kind });
      throw err;
    }
  }
}

const enc = encodeURIComponent;

const malformed = (field: string) => new ProcessorUnavailableError(`processor response lacks a valid '${field}'`);

function str(b: Json, field: string): string {
  const v = b[field];
  if (typeof v !== 'string') throw malformed(field);
  return v;
}

function strOrNull(b: Json, field: string): string | null {
  const v = b[field];
  if (v !== null && typeof v !== 'string') throw malformed(field);
  return v;
}

function int(b: Json, field: string): number {
  const v = b[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw malformed(field);
  return v;
}

const captureBody = (amountMinor: number, lineItems: LineItem[] | undefined) =>
  (lineItems === undefined ? { amountMinor } : { amountMinor, lineItems });

/** A capture's common fields (the caller adds what it was a capture of). */
function toCapture(b: Json): Omit<Capture, 'authorizationId'> {
  const c: Omit<Capture, 'authorizationId'> = { id: str(b, 'id'), amountMinor: int(b, 'amountMinor'), currency: str(b, 'currency') };
  if (b.feeMinor !== undefined) c.feeMinor = int(b, 'feeMinor');
  return c;
}

const RESERVATION_STATUSES: ReadonlyArray<Reservation['status']> = ['active', 'declined', 'captured', 'released', 'expired'];

function toReservation(b: Json): Reservation {
  const status = str(b, 'status') as Reservation['status'];
  if (!RESERVATION_STATUSES.includes(status)) throw malformed('status');
  const r: Reservation = {
    id: str(b, 'id'), status, amountMinor: int(b, 'amountMinor'), currency: str(b, 'currency'), reference: str(b, 'reference'),
    capturedMinor: int(b, 'capturedMinor'), releasedMinor: int(b, 'releasedMinor'),
  };
  if (typeof b.declineCode === 'string') r.declineCode = b.declineCode;
  if (typeof b.expiresAt === 'string') r.expiresAt = b.expiresAt;
  if (typeof b.endedAt === 'string') r.endedAt = b.endedAt;
  return r;
}

const DISPUTE_STATUSES: ReadonlyArray<Dispute['status']> = ['needs_response', 'under_review', 'won', 'lost', 'refunded'];

function toDispute(b: Json): Dispute {
  const status = str(b, 'status') as Dispute['status'];
  if (!DISPUTE_STATUSES.includes(status)) throw malformed('status');
  const reason = str(b, 'reason') as DisputeReason;
  if (!DISPUTE_REASONS.includes(reason)) throw malformed('reason');
  const captureId = strOrNull(b, 'captureId');
  const chargeId = strOrNull(b, 'chargeId');
  // of exactly one: a capture or a charge
  if ((captureId === null) === (chargeId === null)) throw malformed('captureId');
  return {
    id: str(b, 'id'), captureId, chargeId, amountMinor: int(b, 'amountMinor'), currency: str(b, 'currency'),
    feeMinor: int(b, 'feeMinor'), reason, status, evidenceDueBy: str(b, 'evidenceDueBy'), createdAt: str(b, 'createdAt'),
  };
}

function toAuthorization(b: Json): Authorization {
  const status = str(b, 'status');
  if (status !== 'approved' && status !== 'declined' && status !== 'authentication_required') throw malformed('status');
  const a: Authorization = {
    id: str(b, 'id'), status, avsCode: str(b, 'avsCode') as AvsCode, amountMinor: int(b, 'amountMinor'),
    currency: str(b, 'currency'), reference: str(b, 'reference'),
  };
  if (typeof b.declineCode === 'string') a.declineCode = b.declineCode;
  if (typeof b.expiresAt === 'string') a.expiresAt = b.expiresAt;
  if (typeof b.authenticationId === 'string') a.authenticationId = b.authenticationId;
  return a;
}

/** A batch file's results: one object per line. */
function resultsOf(b: Json, lineCount: number): Json[] {
  const r = b.results;
  if (!Array.isArray(r) || r.length !== lineCount || !r.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
    throw malformed('results');
  }
  return r as Json[];
}

function toChargeLineResult(b: Json): ChargeLineResult {
  const status = str(b, 'status');
  if (status !== 'succeeded' && status !== 'failed') throw malformed('status');
  const r: ChargeLineResult = {
    idempotencyKey: str(b, 'idempotencyKey'), reference: str(b, 'reference'), status, amountMinor: int(b, 'amountMinor'),
    currency: str(b, 'currency'),
  };
  if (status === 'succeeded') r.chargeId = str(b, 'chargeId');
  else r.declineCode = str(b, 'declineCode');
  return r;
}

function toPayoutLineResult(b: Json): PayoutLineResult {
  const status = str(b, 'status');
  if (status !== 'paid' && status !== 'failed') throw malformed('status');
  const r: PayoutLineResult = {
    idempotencyKey: str(b, 'idempotencyKey'), reference: str(b, 'reference'), status, amountMinor: int(b, 'amountMinor'),
    currency: str(b, 'currency'),
  };
  if (status === 'paid') r.payoutId = str(b, 'payoutId');
  else r.failureCode = str(b, 'failureCode');
  return r;
}

// ---- the simulator's admin API ----

/** An authorization as the simulator keeps it (the contract's fields and its capture/void state). */
export interface SimulatorAuthorization extends Authorization {
  object: 'authorization';
  capturedMinor: number;
  voided: boolean;
  releasedMinor?: number;
  reauthorizedFrom?: string;
  createdAt: string;
}

export interface SimulatorCapture extends Capture {
  object: 'capture';
  /** Set on a capture of a reservation (authorizationId is then absent). */
  reservationId?: string;
  refundedMinor: number;
  batchId?: string;
  lineItems?: LineItem[];
  createdAt: string;
}

/** A reservation as the simulator keeps it. */
export interface SimulatorReservation extends Reservation {
  object: 'reservation';
  token: string;
  extensions: number;
  createdAt: string;
}

/** A dispute as the simulator keeps it. */
export interface SimulatorDispute extends Dispute {
  object: 'dispute';
  evidence?: DisputeEvidence;
  evidenceSubmittedAt?: string;
  closedAt?: string;
}

/** An event of the simulator's webhook outbox. */
export interface SimulatorWebhookEvent {
  object: 'webhook_event';
  id: string;
  type: ProcessorWebhookEvent['type'];
  objectId: string;
  /** The endpoint it goes to (absent: made by a simulator without one; never sent). */
  url?: string;
  attempts: number;
  deliveredAt?: string;
  failedAt?: string;
  lastError?: string;
  payload: ProcessorWebhookEvent;
  createdAt: string;
}

/** A charge line as the simulator keeps it (a failed one has no id). */
export interface SimulatorCharge {
  object: 'charge';
  id?: string;
  idempotencyKey: string;
  fileId: string;
  status: 'succeeded' | 'failed';
  declineCode?: string;
  token: string;
  amountMinor: number;
  currency: string;
  reference: string;
  createdAt: string;
}

/** A payout line as the simulator keeps it (a failed one has no id). */
export interface SimulatorBatchPayout {
  object: 'batch_payout';
  id?: string;
  idempotencyKey: string;
  fileId: string;
  status: 'paid' | 'failed';
  failureCode?: string;
  destination: string;
  amountMinor: number;
  currency: string;
  reference: string;
  createdAt: string;
}

export type { FaultSettings, FaultState, SimulatorConfig, SimulatorStats };

/** The simulator's admin API (fault controls, configuration, counts), for tests and benchmarks. */
export class SimulatorAdmin {
  private readonly adminUrl: string;

  constructor(opts: { adminUrl: string }) {
    this.adminUrl = opts.adminUrl.replace(/\/+$/, '');
  }

  /** Replaces the fault settings; resolves once they are in force (a 'refuse' listener is closed). */
  setFaults(settings: FaultSettings): Promise<FaultState> {
    return this.call('PUT', '/admin/faults', settings);
  }

  faults(): Promise<FaultState> {
    return this.call('GET', '/admin/faults');
  }

  clearFaults(): Promise<FaultState> {
    return this.call('POST', '/admin/reset-faults');
  }

  /** Changes the given settings; the others stay. */
  setConfig(config: Partial<SimulatorConfig>): Promise<SimulatorConfig> {
    return this.call('PUT', '/admin/config', config);
  }

  config(): Promise<SimulatorConfig> {
    return this.call('GET', '/admin/config');
  }

  /** Effects applied by this simulator process since it started ('database': rows over every process). */
  stats(scope: 'process' | 'database' = 'process'): Promise<SimulatorStats> {
    return this.call('GET', `/admin/stats?scope=${scope}`);
  }

  async authorizationsByReference(reference: string): Promise<SimulatorAuthorization[]> {
    return (await this.call<{ data: SimulatorAuthorization[] }>('GET', `/admin/authorizations?reference=${enc(reference)}`)).data;
  }

  async capturesByAuthorization(authorizationId: string): Promise<SimulatorCapture[]> {
    return (await this.call<{ data: SimulatorCapture[] }>('GET', `/admin/captures?authorizationId=${enc(authorizationId)}`)).data;
  }

  async capturesByReservation(reservationId: string): Promise<SimulatorCapture[]> {
    return (await this.call<{ data: SimulatorCapture[] }>('GET', `/admin/captures?reservationId=${enc(reservationId)}`)).data;
  }

  async reservationsByReference(reference: string): Promise<SimulatorReservation[]> {
    return (await this.call<{ data: SimulatorReservation[] }>('GET', `/admin/reservations?reference=${enc(reference)}`)).data;
  }

  /** Sets a debit or prepaid card's available balance at its issuer (a credit card's token is refused: 409). */
  setBalance(token: string, availableMinor: number): Promise<Balance> {
    return this.call('PUT', `/admin/tokens/${enc(token)}/balance`, { availableMinor });
  }

  /** The issuer ends an active reservation before its expiry (reservation.expired); 409 if it has ended. */
  expireReservation(reservationId: string): Promise<SimulatorReservation> {
    return this.call('POST', `/admin/reservations/${enc(reservationId)}/expire`);
  }

  /**
   * The issuer opens a dispute on a capture (dispute.created to this simulator's broker): amountMinor defaults to what
   * is left after refunds, evidenceSeconds to the configured disputeEvidenceSeconds; outcome plans the decision.
   */
  openDispute(captureId: string, d: { reason: DisputeReason; amountMinor?: number; evidenceSeconds?: number; outcome?: 'won' | 'lost' }):
    Promise<SimulatorDispute> {
    return this.call('POST', `/admin/captures/${enc(captureId)}/disputes`, d);
  }

  /**
   * The issuer opens a dispute on a succeeded charge line of a batch file (its chargeId; dispute.created to this
   * simulator's broker): amountMinor defaults to the charge's amount, at most it. 404 for an unknown id or a failed line.
   */
  openChargeDispute(chargeId: string, d: { reason: DisputeReason; amountMinor?: number; evidenceSeconds?: number; outcome?: 'won' | 'lost' }):
    Promise<SimulatorDispute> {
    return this.call('POST', `/admin/charges/${enc(chargeId)}/disputes`, d);
  }

  async disputesOfCapture(captureId: string): Promise<SimulatorDispute[]> {
    return (await this.call<{ data: SimulatorDispute[] }>('GET', `/admin/disputes?captureId=${enc(captureId)}`)).data;
  }

  async disputesOfCharge(chargeId: string): Promise<SimulatorDispute[]> {
    return (await this.call<{ data: SimulatorDispute[] }>('GET', `/admin/disputes?chargeId=${enc(chargeId)}`)).data;
  }

  /** The webhook events about an object (a dispute, a reservation), oldest first, with their delivery state. */
  async webhookEvents(objectId: string): Promise<SimulatorWebhookEvent[]> {
    return (await this.call<{ data: SimulatorWebhookEvent[] }>('GET', `/admin/webhook-events?objectId=${enc(objectId)}`)).data;
  }

  /** Charge lines (of batch files) with this reference, as applied (a repeated line adds none). */
  async chargesByReference(reference: string): Promise<SimulatorCharge[]> {
    return (await this.call<{ data: SimulatorCharge[] }>('GET', `/admin/charges?reference=${enc(reference)}`)).data;
  }

  /** Changes a record's amount, or drops it, behind the broker's back (reconciliation's fault tests). */
  async tamper(id: string, change: { amountMinor: number } | { drop: true }): Promise<void> {
    await this.call('POST', `/admin/records/${enc(id)}/tamper`, change);
  }

  /** Payout lines (of batch files) with this reference, as applied. */
  async batchPayoutsByReference(reference: string): Promise<SimulatorBatchPayout[]> {
    return (await this.call<{ data: SimulatorBatchPayout[] }>('GET', `/admin/payouts?reference=${enc(reference)}`)).data;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.adminUrl + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(DEFAULT_PROCESSOR_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator admin ${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}
