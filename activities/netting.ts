// A netting window's I/O at the pair's coordinator: the database's count and close, the peer's gateway (agree, pay,
// settled), the processor's payout of what this service owes (under the window's key: moved once however often
// retried), and the ledger's entries. The peer's endpoint and settlement account are the directory's (cached).
import { ApplicationFailure } from '@temporalio/activity';
import { type NetPosition, type NettedTransaction, nettingTransferKey } from '../domain/federation';
import type { Ledger } from '../ledger/ledger';
import type { ProcessorClient } from '../processors/client';
import type { FederationGatewayClient, Peer } from '../processors/federation/gateway';
import type { CachedDirectory } from '../services/federation';
import { postWindow } from '../services/netting';
import type { NettingStore } from '../stores/netting';
import type { ProblemStore } from '../stores/problems';

export interface NettingDeps {
  me: string;
  netting: NettingStore;
  ledger: Ledger;
  problems: ProblemStore;
  processor: ProcessorClient;
  gateways: FederationGatewayClient;
  directory: CachedDirectory;
}

export function createNettingActivities(deps: NettingDeps | undefined) {
  const d = () => {
    if (!deps) throw ApplicationFailure.nonRetryable('this deployment has no federation gateway (PAYBROKER_GATEWAY_ID)', 'GatewayRefused');
    return deps;
  };
  const entry = async (peer: string) => {
    const e = await d().directory.gateway(peer);
    if (!e || e.status !== 'approved') throw new Error(`gateway ${peer} is not approved in the directory`); // (retried: an operator may approve it again)
    return e;
  };
  const peerOf = async (peer: string): Promise<Peer> => {
    const e = await entry(peer);
    return { gatewayId: e.gatewayId, endpoint: e.endpoint, fingerprint256: e.fingerprint256 };
  };
  return {
    async pendingNetting(peer: string): Promise<number> {
      return d().netting.pending(d().me, peer);
    },
    async closeWindow(peer: string, seq: number): Promise<NettedTransaction[]> {
      return d().netting.close(d().me, peer, seq);
    },
    async agreeWithPeer(peer: string, seq: number, transactions: NettedTransaction[], positions: NetPosition[]) {
      return d().gateways.agreeWindow(await peerOf(peer), seq, { transactions, positions });
    },
    async windowAgreed(peer: string, seq: number, positions: NetPosition[]): Promise<void> {
      await d().netting.decided(peer, seq, { positions });
    },
    async windowMismatch(peer: string, seq: number, mismatches: Array<{ transactionId: string; reason: string }>): Promise<void> {
      await d().netting.decided(peer, seq, { mismatches });
      await d().problems.record({ workflowId: `netting-${peer}-${seq}`, merchantId: null, kind: 'netting_mismatch',
        message: `Netting window ${seq} with ${peer}: ${mismatches.length} transaction(s) do not match the peer's records`,
        details: { key: String(seq), peer, mismatches: mismatches.slice(0, 50) } });
    },
    /** This service owes the peer: the processor pays the peer's settlement account, once per window and currency. */
    async payNet(peer: string, seq: number, p: NetPosition): Promise<string> {
      const e = await entry(peer);
      return (await d().processor.payout(e.settlementAccount, p.netMinor, p.currency, nettingTransferKey(d().me, peer, seq, p.currency))).id;
    },
    async askPeerToPay(peer: string, seq: number, currency: string): Promise<string> {
      return d().gateways.payWindow(await peerOf(peer), seq, currency);
    },
    async windowTransferred(peer: string, seq: number, t: { currency: string; transferId: string }): Promise<void> {
      await d().netting.transferred(peer, seq, t);
    },
    async postWindow(peer: string, seq: number, positions: NetPosition[]): Promise<void> {
      await postWindow(d().ledger, d().me, peer, d().me, seq, positions);
    },
    async tellPeerSettled(peer: string, seq: number): Promise<void> {
      await d().gateways.windowSettled(await peerOf(peer), seq);
    },
    async windowSettled(peer: string, seq: number): Promise<void> {
      await d().netting.settled(peer, seq);
    },
  };
}

export type NettingActivities = ReturnType<typeof createNettingActivities>;
