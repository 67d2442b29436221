// A netting window between two payment services, at the pair's coordinator: it waits until enough transactions are
// authorized with the peer (or its period passes), closes (the transactions waiting are assigned to it), has the
// peer agree to the list, moves each currency's net amount once (the processor's payout from the net debtor to the
// net creditor's settlement account, under a key of the window's), and has both ledgers post it. A list the peer does
// not agree to is a problem on both sides and moves nothing. The arithmetic is domain/federation.ts's.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { NettingActivities } from '../activities/netting';
import { netPositions } from '../domain/federation';
import { UNTIL_WRITTEN } from './activityOptions';
import {
  authorizedSignal, type NettingWindowInput, type NettingWindowResult, nettingWindowWorkflowId,
} from './nettingWindow.contract';

const books = wf.proxyActivities<NettingActivities>(UNTIL_WRITTEN);
/** Calls to the peer's gateway and the processor: retried (each idempotent) until they are heard, however long. */
const outside = wf.proxyActivities<NettingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: Infinity },
});

export async function nettingWindowWorkflow(input: NettingWindowInput): Promise<NettingWindowResult> {
  const { peer, seq } = input;
  let signalled = 0;
  wf.setHandler(authorizedSignal, () => { signalled++; });

  // wait: the database counts what waits; a signal only says when to count again (one that comes while it counts
  // is a reason to count again: the signals are taken before each count, never after)
  const closesAt = Date.now() + input.periodMs;
  let since = signalled;
  let waiting = await books.pendingNetting(peer);
  while (waiting < input.maxTransactions) {
    const remaining = closesAt - Date.now();
    if (remaining <= 0 || !(await wf.condition(() => signalled > since, remaining))) break;
    since = signalled;
    waiting = await books.pendingNetting(peer);
  }

  const txs = await books.closeWindow(peer, seq);
  const result: NettingWindowResult = { state: 'empty', transactions: txs.length, positions: [], transfers: [] };
  if (txs.length > 0) {
    result.positions = netPositions(input.me, peer, txs);
    const agreement = await outside.agreeWithPeer(peer, seq, txs, result.positions);
    if (!agreement.agreed) {
      await books.windowMismatch(peer, seq, agreement.mismatches);
      return { ...result, state: 'mismatch' };
    }
    await books.windowAgreed(peer, seq, result.positions);
    for (const p of result.positions.filter((x) => x.netMinor > 0)) {
      const transferId = p.debtor === input.me ? await outside.payNet(peer, seq, p) : await outside.askPeerToPay(peer, seq, p.currency);
      await books.windowTransferred(peer, seq, { currency: p.currency, transferId });
      result.transfers.push({ currency: p.currency, transferId });
    }
    await books.postWindow(peer, seq, result.positions);
    await outside.tellPeerSettled(peer, seq);
    result.state = 'settled';
  }
  await books.windowSettled(peer, seq);

  // transactions that came while this one settled wait for the next window: start it if nothing has
  if (await books.pendingNetting(peer) > 0) {
    await wf.startChild('nettingWindowWorkflow', {
      workflowId: nettingWindowWorkflowId(peer, seq + 1), args: [{ ...input, seq: seq + 1 }],
      parentClosePolicy: wf.ParentClosePolicy.ABANDON,
    }).catch((err: unknown) => { if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; });
  }
  return result;
}
