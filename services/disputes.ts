// Disputes as merchants and the processor see them. The processor's signed webhooks (dispute.created, dispute.closed,
// reservation.expired) are verified over the raw body before anything else and handled idempotently: a repeated notice
// finds the dispute it made (one row, one workflow `dispute-<processor id>`); a dispute for a capture the broker does not
// know is recorded as a problem, never dropped. Merchants draft evidence on the dispute's row (the database decides
// whether it may still change), then submit it, accept, or refund at once through the dispute's workflow.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DisputeError, type DisputeInput, type DisputeView, type Evidence } from '../domain/disputes';
import { DISPUTE_REASONS, type Dispute as ProcessorDispute, type ProcessorWebhookEvent } from '../processors/client';
import { ProcessorWebhookError, verifyProcessorWebhook } from '../processors/webhookSignature';
import type { DisputeRow, DisputeStore } from '../stores/disputes';
import type { Page, PageRequest } from '../stores/page';
import type { ProblemStore } from '../stores/problems';
import type { RefusalStore } from '../stores/refusals';
import {
  acceptUpdate, closedSignal, disputeQuery, type DisputeWorkflow, disputeWorkflowId, refundUpdate, submitUpdate,
} from '../workflows/dispute.contract';
import { MerchantId } from '../workflows/searchAttributes';
import type { HoldService } from './holds';
import { WebhookRefused } from './confirmations';
import { askAgain, isTemporalUnavailable, startOnce, TemporalUnavailable, updateRefusal, withinDeadline } from './temporal';

/** A request about a dispute refused, with the API's code and the field it is about. */
export class DisputeRefused extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'DisputeRefused';
  }
}

const SEEN_NONE = { has: () => false, add: () => undefined };

export class DisputeService {
  constructor(private readonly deps: {
    disputes: DisputeStore; problems: ProblemStore; refusals: RefusalStore; holds: HoldService; temporal: Client; taskQueue: string;
    webhookSecret: string;
    /** How often a dispute under review asks the processor for its decision (default the workflow's: an hour). */
    decisionPollMs?: number;
  }) {}

  /** Verifies and handles one delivery of the processor's webhooks; throws WebhookRefused when refused (nothing changed). */
  async receive(headers: Record<string, string | string[] | undefined>, rawBody: Buffer | string, nowMs: number): Promise<{ outcome: string }> {
    let event: ProcessorWebhookEvent;
    try {
      event = verifyProcessorWebhook(this.deps.webhookSecret, headers, rawBody, nowMs, SEEN_NONE).payload as ProcessorWebhookEvent;
    } catch (err) {
      if (!(err instanceof ProcessorWebhookError)) throw err;
      await this.deps.refusals.count('processor_webhook', err.code);
      throw new WebhookRefused(401, `webhook_${err.code}`, `The webhook was refused: ${err.message}`);
    }
    switch (event?.type) {
      case 'dispute.created': return { outcome: await this.opened(event.data.object) };
      case 'dispute.closed': return { outcome: await this.closed(event.data.object) };
      case 'reservation.expired': return { outcome: await this.deps.holds.issuerExpired(event.data.object.id) ? 'hold_expired' : 'ignored' };
      default: return { outcome: 'ignored' };
    }
  }

  /**
   * A dispute the processor opened: its row and its workflow (once). Of a capture, its merchant's; of a period charge,
   * the broker's (the buyer's invoice). One the broker does not know is a problem for an operator, never dropped.
   */
  async opened(d: ProcessorDispute): Promise<'opened' | 'unknown_capture' | 'unknown_charge'> {
    const { disputes, problems } = this.deps;
    const workflowId = disputeWorkflowId(d.id);
    const unknown = async (kind: 'unknown_capture' | 'unknown_charge', of: string) => {
      await problems.record({ workflowId, merchantId: null, kind: `dispute_${kind}`, details: { dispute: d },
        message: `The processor opened dispute ${d.id} (${d.reason}, ${d.amountMinor} ${d.currency}) on ${of}, which the broker does not know` });
      return kind;
    };
    const reason = (DISPUTE_REASONS as readonly string[]).includes(d.reason) ? d.reason : 'general';
    const common = { disputeId: d.id, amountMinor: d.amountMinor, feeMinor: d.feeMinor, currency: d.currency, reason, evidenceDueBy: d.evidenceDueBy };
    let input: DisputeInput;
    if (d.captureId !== null) {
      const capture = await disputes.capture(d.captureId);
      if (!capture) return unknown('unknown_capture', `capture ${d.captureId}`);
      input = { ...common, merchantId: capture.merchantId, captureId: d.captureId, orderId: capture.orderId, holdId: capture.holdId,
        chargeId: null, invoice: null, captureFeeMinor: capture.feeMinor, captureAmountMinor: capture.amountMinor };
    } else {
      const invoice = d.chargeId === null ? undefined : await disputes.invoiceOfCharge(d.chargeId);
      if (!invoice) return unknown('unknown_charge', `charge ${d.chargeId}`);
      input = { ...common, merchantId: null, captureId: null, orderId: null, holdId: null, chargeId: d.chargeId,
        invoice: { periodSeq: invoice.periodSeq, buyerId: invoice.buyerId }, captureFeeMinor: 0, captureAmountMinor: 0 };
    }
    await disputes.open(input);
    const { temporal } = this.deps;
    await startOnce(temporal, () => temporal.workflow.start<DisputeWorkflow>('disputeWorkflow', {
      workflowId, taskQueue: this.deps.taskQueue, args: [{ ...input, decisionPollMs: this.deps.decisionPollMs }],
      workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Dispute ${input.disputeId} of ${input.orderId ? `order ${input.orderId}` : input.holdId ? `hold ${input.holdId}` : `charge ${input.chargeId}`}`,
      ...(input.merchantId ? { typedSearchAttributes: [{ key: MerchantId, value: input.merchantId }] } : {}),
    }));
    return 'opened';
  }

  /** The processor closed a dispute: its workflow hears it (a dispute the broker never opened: nothing to tell). */
  async closed(d: ProcessorDispute): Promise<'closed' | 'ignored'> {
    if (d.status !== 'won' && d.status !== 'lost' && d.status !== 'refunded') return 'ignored';
    try {
      await withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(disputeWorkflowId(d.id))
        .signal(closedSignal, { status: d.status as 'won' | 'lost' | 'refunded', feeMinor: d.feeMinor }));
      return 'closed';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'ignored';
      throw err;
    }
  }

  dispute(id: string): Promise<DisputeRow | undefined> {
    return this.deps.disputes.dispute(id);
  }

  /** A merchant's disputes, or (no merchant: an operator) every dispute, newest first. */
  list(req: PageRequest & { merchantId?: string; state?: string }): Promise<Page<DisputeRow>> {
    return this.deps.disputes.list(req);
  }

  /** The dispute as its workflow has it (briefly), else as its row was last saved. */
  async current(row: DisputeRow): Promise<DisputeView | null> {
    if (row.view && row.view.closedAt) return row.view;
    try {
      return await withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(disputeWorkflowId(row.id)).query(disputeQuery), 1000);
    } catch {
      return (await this.deps.disputes.dispute(row.id))?.view ?? row.view;
    }
  }

  /** Changes the draft evidence; with submit, then submits it (answered once the processor has it). */
  async evidence(row: DisputeRow, change: Evidence, submit: boolean): Promise<DisputeRow> {
    const drafted = await this.deps.disputes.draft(row.id, change).catch(refusal);
    if (submit) {
      if (Object.keys(drafted.evidence).length === 0) throw new DisputeRefused('evidence_empty', 'There is no evidence to submit', 'submit');
      await this.ask(row, submitUpdate);
    }
    return (await this.deps.disputes.dispute(row.id))!;
  }

  /** A failed provisioning re-provisioned: the proof of delivery (and its log) become evidence. */
  async reprovisioned(row: DisputeRow, proof: { deliveryProof: string; provisioningLog?: string }): Promise<DisputeRow> {
    if (row.reason !== 'provisioning_failed') {
      throw new DisputeRefused('not_provisioning_failure', 'Only a dispute for a failed provisioning is answered by re-provisioning');
    }
    return this.deps.disputes.draft(row.id, proof).catch(refusal);
  }

  accept(row: DisputeRow): Promise<void> {
    return this.ask(row, acceptUpdate);
  }

  refund(row: DisputeRow): Promise<void> {
    return this.ask(row, refundUpdate);
  }

  private async ask(row: DisputeRow, update: typeof acceptUpdate): Promise<void> {
    await askAgain(() => withinDeadline(this.deps.temporal, () => this.deps.temporal.workflow.getHandle(disputeWorkflowId(row.id)).executeUpdate(update), 30_000))
      .catch((err: unknown) => {
        const r = updateRefusal(err);
        if (r) throw new DisputeRefused(r.code, r.message, r.param);
        // (its workflow has ended: the dispute is closed)
        if (err instanceof WorkflowNotFoundError) throw new DisputeRefused('dispute_not_open', 'The dispute is closed: it takes no more answers');
        throw isTemporalUnavailable(err) ? new TemporalUnavailable(err) : err;
      });
  }
}

const refusal = (err: unknown): never => {
  if (err instanceof DisputeError) throw new DisputeRefused(err.code, err.message, err.param);
  throw err;
};
