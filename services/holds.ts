// Fund holds as clients see them: a merchant's request becomes a hold (its row first, named by the Idempotency-Key,
// then its workflow, which places it), answered once the issuer has decided; captures and the release are the
// workflow's updates, answered once the processor has. The rules live in domain/holds.ts, the story in workflows/hold.ts.
import { createHash, randomBytes } from 'node:crypto';
import { type Client, WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { canonical } from '../domain/canonical';
import { formatMoney } from '../domain/money';
import type { HoldInput, HoldView } from '../domain/holds';
import { Hold, HoldError } from '../domain/holds';
import type { HoldRow, HoldStore } from '../stores/holds';
import type { MerchantStore } from '../stores/merchants';
import type { Page, PageRequest } from '../stores/page';
import {
  captureUpdate, holdQuery, type HoldWorkflow, holdWorkflowId, issuerExpiredSignal, placedUpdate, releaseUpdate,
} from '../workflows/hold.contract';
import { MerchantId } from '../workflows/searchAttributes';
import { askAgain, isTemporalUnavailable, replyWithin, TemporalUnavailable, updateRefusal, withinDeadline } from './temporal';

/** How long a request waits for the issuer (placing, a capture, the release) before answering the hold as it stands. */
export const HOLD_REPLY_WAIT_MS = 5000;

export interface HoldRequest {
  token: string;
  amountMinor: number;
  /** Default the merchant's. */
  currency?: string;
  expiresInSeconds: number;
  customerId?: string;
  description?: string;
}

/** A request the hold (or its service) refuses, with the API's code and the field it is about. */
export class HoldRefused extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'HoldRefused';
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class HoldService {
  constructor(private readonly deps: { holds: HoldStore; merchants: MerchantStore; temporal: Client; taskQueue: string }) {}

  /**
   * The hold under the merchant's key (a repeat answers the same one, created false; the key with another request is
   * refused), placed by its workflow: answered once the issuer decided, or after HOLD_REPLY_WAIT_MS as 'placing'.
   */
  async create(merchantId: string, idempotencyKey: string, req: HoldRequest): Promise<{ hold: HoldView; created: boolean }> {
    const merchant = await this.deps.merchants.get(merchantId);
    if (!merchant) throw new HoldRefused('unknown_merchant', 'No such merchant');
    const input: HoldInput = {
      holdId: `hold_${randomBytes(12).toString('base64url')}`, merchantId, customerId: req.customerId ?? null, token: req.token,
      amountMinor: req.amountMinor, currency: req.currency ?? merchant.currency, expiresInSeconds: req.expiresInSeconds,
      feeBps: merchant.feeBps, description: req.description ?? null,
    };
    const { row, claim } = await this.deps.holds.claim({ merchantId, idempotencyKey, requestSha256: sha256(canonical(req)), input });
    if (claim === 'different') {
      throw new HoldRefused('idempotency_key_reused', 'A hold exists under this Idempotency-Key with a different request', 'Idempotency-Key');
    }
    const { temporal } = this.deps;
    const reply = withinDeadline(temporal, () => temporal.workflow.executeUpdateWithStart(placedUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation<HoldWorkflow>('holdWorkflow', this.startOptions(row.input)),
    }), 30_000).catch((err: unknown) => { throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err; });
    return { hold: await replyWithin(reply, HOLD_REPLY_WAIT_MS) ?? await this.current(row), created: claim === 'created' };
  }

  hold(id: string): Promise<HoldRow | undefined> {
    return this.deps.holds.hold(id);
  }

  /** A merchant's holds as their rows show them, newest first. */
  listRows(req: PageRequest & { merchantId: string; state?: string }): Promise<Page<{ view: HoldView; createdAt: Date }>> {
    return this.deps.holds.list(req).then((p) => ({ data: p.data.map((r) => ({ view: viewOf(r), createdAt: r.createdAt })), hasMore: p.hasMore }));
  }

  /** Captures amountMinor (the rest when absent); the request's Idempotency-Key makes a repeat answer the same capture. */
  capture(row: HoldRow, requestKey: string, amountMinor?: number): Promise<HoldView> {
    return this.ask(row, (h) => h.executeUpdate(captureUpdate, { args: [{ requestKey, amountMinor }] }),
      (ended) => ended.admitCapture(requestKey, amountMinor));
  }

  release(row: HoldRow): Promise<HoldView> {
    return this.ask(row, (h) => h.executeUpdate(releaseUpdate), (ended) => ended.admitRelease());
  }

  /** The issuer ended a reservation (its webhook): its hold, if it is one, expires (early if before its time). */
  async issuerExpired(reservationId: string): Promise<boolean> {
    const row = await this.deps.holds.byReservation(reservationId);
    if (!row) return false;
    await withinDeadline(this.deps.temporal, () => this.handle(row).signal(issuerExpiredSignal, { reservationId }));
    return true;
  }

  /** As its row was last saved once it has ended; else from its workflow (briefly), else as saved. */
  async current(row: HoldRow): Promise<HoldView> {
    const saved = viewOf(row);
    if (saved.state !== 'placing' && saved.state !== 'active') return saved;
    try {
      return await withinDeadline(this.deps.temporal, () => this.handle(row).query(holdQuery), 1000);
    } catch {
      return viewOf((await this.deps.holds.hold(row.id)) ?? row);
    }
  }

  /**
   * The hold's answer to an update, within HOLD_REPLY_WAIT_MS (else the hold as it stands). A hold whose workflow has
   * ended answers by its saved view and the same rule (`admit`): a repeat of what it did, or the refusal.
   */
  private async ask(row: HoldRow, update: (h: ReturnType<HoldService['handle']>) => Promise<HoldView>, admit: (ended: Hold) => unknown): Promise<HoldView> {
    const reply = askAgain(() => withinDeadline(this.deps.temporal, () => update(this.handle(row)), 30_000)).catch(async (err: unknown) => {
      const refusal = updateRefusal(err);
      if (refusal) throw new HoldRefused(refusal.code, refusal.message, refusal.param);
      if (err instanceof WorkflowNotFoundError) {
        const saved = viewOf((await this.deps.holds.hold(row.id)) ?? row);
        try {
          admit(Hold.ended(row.input, saved));
        } catch (e) {
          if (e instanceof HoldError) throw new HoldRefused(e.code, e.message, e.param);
          throw e;
        }
        return saved;
      }
      throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
    });
    return await replyWithin(reply, HOLD_REPLY_WAIT_MS) ?? await this.current(row);
  }

  private handle(row: HoldRow) {
    return this.deps.temporal.workflow.getHandle<HoldWorkflow>(holdWorkflowId(row.id));
  }

  private startOptions(input: HoldInput) {
    return {
      workflowId: holdWorkflowId(input.holdId), taskQueue: this.deps.taskQueue, args: [input] as [HoldInput],
      workflowIdConflictPolicy: 'USE_EXISTING' as const, workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      typedSearchAttributes: [{ key: MerchantId, value: input.merchantId }],
      staticSummary: `Hold ${input.holdId} of ${input.merchantId}: ${formatMoney(input.amountMinor, input.currency)} for up to ${input.expiresInSeconds} s`,
    };
  }
}

/** A hold as its row shows it (before its workflow first saved it: placing). */
const viewOf = (row: HoldRow): HoldView => row.view ?? new Hold(row.input).view();
