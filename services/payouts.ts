// Merchant payouts as merchants and operators use them: pay a merchant now (a manual run: what has built up since
// its last payout, sent by the same payout workflow the Schedule's runs start), a payout with the balance
// transactions it pays out, the lists, and a merchant's statement for a date range.
import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { MerchantStore } from '../stores/merchants';
import type { PartyStore } from '../stores/parties';
import type { Payout, PayoutStore } from '../stores/payouts';
import { StoreRefusal } from '../stores/refusal';
import { type PayoutWorkflow, payoutWorkflowId } from '../workflows/payout.contract';
import { startOnce } from './temporal';

export class PayoutService {
  constructor(private readonly deps: { payouts: PayoutStore; merchants: MerchantStore; parties: PartyStore; temporal: Client; taskQueue: string;
    retryDelaysMs: number[] }) {}

  /**
   * The merchant's payouts of a run now (one per currency with anything to pay or carry; none when nothing is),
   * each one to send started; and any payout of the merchant still waiting for its workflow. Undefined when there is
   * no such merchant. A micro-payment seller is paid with its period credits.
   */
  async payNow(merchantId: string, request?: { principalId: string; idempotencyKey: string }): Promise<Payout[] | undefined> {
    const { payouts, merchants } = this.deps;
    if (!await merchants.get(merchantId)) return undefined;
    // a request repeated under its Idempotency-Key (after a 503, say) finds the payouts its first try made
    const run = request ? createHash('sha256').update(`${request.principalId}\n${request.idempotencyKey}`).digest('hex').slice(0, 32) : randomUUID();
    const made = await payouts.prepare(merchantId, new Date(), `manual-${run}`);
    if (made.length === 0 && await this.deps.parties.getSeller(merchantId)) {
      throw new StoreRefusal('paid_with_seller_credits', `${merchantId} is a micro-payment seller: its card orders are paid out with its period credits`,
        'merchantId');
    }
    for (const id of await payouts.pendingOf(merchantId)) await this.start(id);
    return made;
  }

  private start(payoutId: string): Promise<boolean> {
    const { temporal } = this.deps;
    return startOnce(temporal, () => temporal.workflow.start<PayoutWorkflow>('payoutWorkflow', {
      workflowId: payoutWorkflowId(payoutId), taskQueue: this.deps.taskQueue, workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      args: [{ payoutId, retryDelaysMs: this.deps.retryDelaysMs }], staticSummary: `Payout ${payoutId}: send it, retry until it lands or fails`,
    }));
  }
}
