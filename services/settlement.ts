// Settlement periods as operators and parties see them: an operator closes the open period now (the same workflow
// the Schedule starts) or resumes a failed close; a period's state with its totals and progress (operators) or the
// party's own invoice or credit; a buyer's or seller's statement.
import type { Client } from '@temporalio/client';
import { periodId } from '../domain/micropayments';
import { buyerInvoice, sellerCredit } from '../domain/settlement';
import type { Periods } from '../ledger/periods';
import { MAX_BATCH_FILE_LINES } from '../processors/client';
import type { PartyStore } from '../stores/parties';
import { startOnce } from './temporal';
import { type SettlementPeriodWorkflow, settlementPeriodWorkflowId } from '../workflows/settlementPeriod.contract';

/** Lines of one processor charge or payout file (the processor's limit). */
export const MAX_FILE_LINES = MAX_BATCH_FILE_LINES;

export class SettlementError extends Error {
  constructor(readonly code: 'unknown_period' | 'period_not_frozen', message: string, readonly param?: string) {
    super(message);
    this.name = 'SettlementError';
  }
}

export interface CloseSettings {
  /** The grace a close waits before freezing the period, unless the request says otherwise. */
  graceMs: number;
  /** Delays of the dunning retries of a failed charge. */
  dunningDelaysMs: number[];
}

export class SettlementService {
  constructor(private readonly deps: { periods: Periods; parties: PartyStore; temporal: Client; taskQueue: string; settings: CloseSettings }) {}

  /**
   * Closes the open period now: freeze after graceMs (default: the configured grace), invoice, credit. With a
   * period, resumes the close of a frozen period whose close failed (every step is idempotent); a close that is
   * running or has finished is not started again (started: false).
   */
  async close(o: { graceMs?: number; fileLines?: number; periodSeq?: number }): Promise<{ periodId: string; workflowId: string; started: boolean }> {
    const { periods } = this.deps;
    let seq: number;
    if (o.periodSeq !== undefined) {
      const p = await periods.get(o.periodSeq);
      if (!p) throw new SettlementError('unknown_period', `No settlement period ${periodId(o.periodSeq)}`, 'periodId');
      if (p.state !== 'frozen') {
        throw new SettlementError('period_not_frozen', `${periodId(p.seq)} is ${p.state}: only a frozen period's close is resumed`, 'periodId');
      }
      seq = p.seq;
    } else {
      seq = await periods.openSeq();
    }
    const workflowId = settlementPeriodWorkflowId(this.deps.taskQueue, seq);
    const { temporal } = this.deps;
    const started = await startOnce(temporal, () => temporal.workflow.start<SettlementPeriodWorkflow>('settlementPeriodWorkflow', {
      workflowId, taskQueue: this.deps.taskQueue, workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      staticSummary: `Settlement period ${periodId(seq)}: close it, charge the buyers, credit the sellers`,
      // (a frozen period's grace is over: its close resumes at once)
      args: [{ periodSeq: seq, graceMs: o.graceMs ?? (o.periodSeq !== undefined ? 0 : this.deps.settings.graceMs), fileLines: o.fileLines,
        dunningDelaysMs: this.deps.settings.dunningDelaysMs }],
    }));
    return { periodId: periodId(seq), workflowId, started };
  }

  /** A period as an operator sees it (totals, live while open, and progress) or as a party does (its invoice or credit). */
  async period(seq: number, who: { kind: string; id: string }) {
    const { periods } = this.deps;
    const p = await periods.get(seq);
    if (!p) return undefined;
    if (who.kind !== 'operator') {
      const [invoice, credit] = await Promise.all([periods.invoice(seq, who.id), periods.credit(seq, who.id)]);
      return { kind: 'party' as const, period: p, invoice, credit };
    }
    const [totals, progress] = await Promise.all([
      p.state === 'open' ? periods.liveTotals(seq) : p.totals ?? periods.totals(seq),
      periods.progress(seq),
    ]);
    return { kind: 'operator' as const, period: p, totals, progress };
  }

  /** A buyer's or seller's statement for one period (default: the latest); undefined when there is no such party. */
  async statement(accountId: string, seq: number | undefined) {
    const { periods, parties } = this.deps;
    const [buyer, seller] = await Promise.all([parties.getBuyer(accountId), parties.getSeller(accountId)]);
    if (!buyer && !seller) return undefined;
    const period = await periods.get(seq ?? await periods.latestSeq());
    if (!period) return { kind: 'no_period' as const };
    if (buyer) {
      const s = await periods.buyerStatement(buyer.id, buyer.currency, period.seq);
      return { kind: 'buyer' as const, period, buyer, ...s, netMinor: buyerInvoice(s.grossMinor, s.refundedMinor) };
    }
    const s = await periods.sellerStatement(seller!.id, seller!.currency, period.seq);
    return { kind: 'seller' as const, period, seller: seller!, ...s,
      netMinor: sellerCredit({ salesMinor: s.salesMinor, feeMinor: s.feeMinor, refundedMinor: s.refundedMinor,
        refundedFeeMinor: s.refundedFeeMinor, cardNetMinor: 0n }) };
  }
}
