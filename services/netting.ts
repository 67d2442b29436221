// Netting between payment services, this service's part. As a pair's coordinator it starts (signal-with-start) the
// open window's workflow each time a transaction with the peer is authorized (note), and posts the windows it
// settles. As the other member it answers the coordinator's gateway: agree to a closed window's list (checked
// against its own records, positions recomputed, never taken on trust), pay the net amount it owes (once: the
// processor's payout under the window's key), and post the settled window in its ledger.
import type { Client } from '@temporalio/client';
import {
  netPositions, type NetPosition, type NettedTransaction, nettingCoordinator, nettingTransferKey, settlementPostings,
} from '../domain/federation';
import { accounts, buyerReceivable, sellerPayable } from '../ledger/accounts';
import type { Ledger } from '../ledger/ledger';
import type { ProcessorClient } from '../processors/client';
import type { NettingStore } from '../stores/netting';
import type { ProblemStore } from '../stores/problems';
import { federationParty } from '../workflows/federatedPayment.contract';
import { authorizedSignal, type NettingWindowWorkflow, nettingWindowWorkflowId } from '../workflows/nettingWindow.contract';

/** A refusal of the peer's request (the gateway answers it with this status and code). */
export class NettingRefused extends Error {
  constructor(readonly status: 403 | 404 | 409, readonly code: string, message: string) {
    super(message);
    this.name = 'NettingRefused';
  }
}

export interface NettingSettings { maxTransactions: number; periodMs: number }

/**
 * Posts a settled window's positions in this service's ledger, one entry per currency (idempotent by the window):
 * the receivable from the peer and the payable to it cleared, the net moved as cash at the processor.
 */
export async function postWindow(ledger: Ledger, me: string, peer: string, first: string, seq: number, positions: NetPosition[]): Promise<void> {
  const party = federationParty(peer);
  for (const p of positions) {
    const { receivableMinor, payableMinor, cashMinor } = settlementPostings(me, first, p);
    const receivable = buyerReceivable(party, p.currency);
    const payable = sellerPayable(party, p.currency);
    const cash = accounts(p.currency, '-').clearing;
    await Promise.all([ledger.openAccount(receivable), ledger.openAccount(payable), ledger.openAccount(cash)]);
    const postings = [
      { accountId: receivable.id, amountMinor: receivableMinor, currency: p.currency },
      { accountId: payable.id, amountMinor: payableMinor, currency: p.currency },
      { accountId: cash.id, amountMinor: cashMinor, currency: p.currency },
    ].filter((x) => x.amountMinor !== 0);
    if (postings.length === 0) continue;
    await ledger.post({ idempotencyKey: `netting:${first}:${first === me ? peer : me}:${seq}:${p.currency}`,
      description: `Netting window ${seq} with ${peer} settled`, postings, metadata: { peer, seq, netMinor: p.netMinor, debtor: p.debtor } });
  }
}

export class NettingService {
  constructor(private readonly deps: {
    netting: NettingStore; ledger: Ledger; problems: ProblemStore; processor: ProcessorClient; temporal: Client; taskQueue: string;
    gatewayId: string; settings: NettingSettings;
    /** A peer gateway's settlement account (the directory's entry). */
    settlementAccountOf: (gatewayId: string) => Promise<string>;
  }) {}

  /**
   * A transaction with the peer was authorized: when this gateway coordinates the pair, the open window counts it, and
   * its workflow is started by the first (signal-with-start) and woken each time the count reaches a multiple of
   * maxTransactions (it counts again in the database): one UPDATE per transaction, not a signal, which costs the
   * Temporal server a workflow task. The transaction waits in the database whatever happens here: a failure is the
   * caller's to log, and the repair loop (wakeWindows) starts a window whose start was lost.
   */
  async note(peer: string): Promise<void> {
    const { gatewayId: me, netting, settings } = this.deps;
    if (nettingCoordinator(me, peer) !== me) return;
    const { seq, noted } = await netting.note(peer);
    if (noted === 1 || noted % settings.maxTransactions === 0) await this.wake(peer, seq);
  }

  /** The repair loop's pass: every open window told of a transaction has its workflow running (started if it is not). */
  async wakeWindows(): Promise<number> {
    let woken = 0;
    for (const { peer, seq } of await this.deps.netting.openWithTransactions()) {
      const described = await this.deps.temporal.workflow.getHandle(nettingWindowWorkflowId(peer, seq)).describe().catch(() => undefined);
      if (described?.status.name === 'RUNNING' || described?.status.name === 'COMPLETED') continue;
      await this.wake(peer, seq);
      woken++;
    }
    return woken;
  }

  private async wake(peer: string, seq: number): Promise<void> {
    const { gatewayId: me, temporal, taskQueue, settings } = this.deps;
    await temporal.workflow.signalWithStart<NettingWindowWorkflow, []>('nettingWindowWorkflow', {
      workflowId: nettingWindowWorkflowId(peer, seq), taskQueue, signal: authorizedSignal, signalArgs: [],
      staticSummary: `Netting window ${seq} with ${peer}: net the payments between the two services, settle once`,
      args: [{ me, peer, seq, maxTransactions: settings.maxTransactions, periodMs: settings.periodMs }],
    });
  }

  /** The coordinator's closed window: agreed when it is this service's view too (the mismatches otherwise, kept as a problem here). */
  async agree(coordinator: string, seq: number, txs: NettedTransaction[], positions: NetPosition[]) {
    const { gatewayId: me, netting, problems } = this.deps;
    this.assertCoordinator(coordinator);
    const ours = netPositions(coordinator, me, txs);
    const key = (ps: NetPosition[]) => JSON.stringify(ps.map((p) => [p.currency, p.owedByFirst, p.owedBySecond, p.debtor, p.creditor, p.netMinor]));
    if (key(ours) !== key(positions)) throw new NettingRefused(409, 'positions_wrong', 'The positions do not follow from the transactions');
    const answer = await netting.agree(me, coordinator, seq, txs, ours);
    if ('waiting' in answer) {
      throw new NettingRefused(409, 'transactions_undecided', `${answer.waiting.length} listed payment(s) are still being decided here (${answer.waiting.slice(0, 5).join(', ')}): ask again`);
    }
    if (!answer.agreed) {
      await problems.record({ workflowId: `netting-${coordinator}-${seq}`, merchantId: null, kind: 'netting_mismatch',
        message: `Netting window ${seq} of ${coordinator}: ${answer.mismatches.length} transaction(s) do not match our records`,
        details: { key: String(seq), coordinator, mismatches: answer.mismatches.slice(0, 50) } });
    }
    return answer;
  }

  /** The coordinator asks this service to pay what it owes in `currency` for the agreed window: paid once, its transfer id. */
  async pay(coordinator: string, seq: number, currency: string): Promise<{ transferId: string }> {
    const { gatewayId: me, netting, processor } = this.deps;
    this.assertCoordinator(coordinator);
    const w = await netting.window(coordinator, seq);
    if (!w || (w.state !== 'agreed' && w.state !== 'settled')) throw new NettingRefused(409, 'window_not_agreed', `Window ${seq} is not agreed here`);
    const p = w.positions?.find((x) => x.currency === currency);
    if (!p || p.debtor !== me || p.netMinor <= 0) throw new NettingRefused(409, 'nothing_owed', `This service owes nothing in ${currency} for window ${seq}`);
    const payout = await processor.payout(await this.deps.settlementAccountOf(coordinator), p.netMinor, currency, nettingTransferKey(coordinator, me, seq, currency));
    await netting.transferred(coordinator, seq, { currency, transferId: payout.id });
    return { transferId: payout.id };
  }

  /** The coordinator says the window is settled: this service posts it too. */
  async settled(coordinator: string, seq: number): Promise<{ settled: true }> {
    const { gatewayId: me, netting, ledger } = this.deps;
    this.assertCoordinator(coordinator);
    const w = await netting.window(coordinator, seq);
    if (!w || (w.state !== 'agreed' && w.state !== 'settled')) throw new NettingRefused(409, 'window_not_agreed', `Window ${seq} is not agreed here`);
    await postWindow(ledger, me, coordinator, coordinator, seq, w.positions ?? []);
    await netting.settled(coordinator, seq);
    return { settled: true };
  }

  /** The windows with every peer (this service's part of them), newest first. */
  windows(limit: number) {
    return this.deps.netting.windows(limit);
  }

  private assertCoordinator(coordinator: string): void {
    if (nettingCoordinator(this.deps.gatewayId, coordinator) !== coordinator) {
      throw new NettingRefused(403, 'not_coordinator', `${coordinator} does not coordinate netting with ${this.deps.gatewayId}`);
    }
  }
}
