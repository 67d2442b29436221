// A settlement period's charge step in the SDK's activity environment, over fakes injected through its factory: it
// heartbeats while it runs, posts the ledger entries of the charges that succeeded before it marks any invoice, and
// hands the failed buyers (now, or in an earlier try of the step) back for dunning.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createSettlementPeriodActivities } from '../../activities/settlementPeriods';
import type { EntryInput, Ledger } from '../../ledger/ledger';
import type { InvoiceToCharge, Periods } from '../../ledger/periods';
import type { ChargeLine, ProcessorClient } from '../../processors/client';
import type { ProblemStore } from '../../stores/problems';

function step(invoices: InvoiceToCharge[], declined: Set<string>, slowMs = 0) {
  const order: string[] = [];
  const posted: EntryInput[] = [];
  const periods = {
    invoicesAfter: async () => invoices,
    markCharged: async (_seq: number, results: Array<{ buyerId: string; ok: boolean }>) => { order.push(`mark ${results.map((r) => `${r.buyerId}:${r.ok}`).join(' ')}`); },
  } as unknown as Periods;
  const ledger = {
    openAccount: async () => {},
    postMany: async (entries: EntryInput[]) => { order.push(`post ${entries.length}`); posted.push(...entries); return entries.length; },
  } as unknown as Ledger;
  const processor = {
    submitChargeBatch: async (lines: ChargeLine[], key: string) => {
      order.push(`file ${key.split(':')[0]} ${lines.length}`);
      await new Promise((r) => setTimeout(r, slowMs)); // a file that takes a while at the processor
      return { id: 'file_1', results: lines.map((l) => (declined.has(l.reference.split(':')[2])
        ? { ...l, status: 'failed', declineCode: 'card_declined' } : { ...l, status: 'succeeded', chargeId: `ch_${l.reference}` })) };
    },
  } as unknown as ProcessorClient;
  const acts = createSettlementPeriodActivities({ periods, ledger, processor, problems: {} as ProblemStore, events: { emitEvent: async () => 0 } });
  return { acts, order, posted };
}

const invoice = (buyerId: string, state = 'pending'): InvoiceToCharge => ({ buyerId, currency: 'USD', amountMinor: 100, state, chargeToken: `tok_${buyerId}` });

describe('chargeInvoices', () => {
  it('posts the successful charges, then marks every invoice, and returns the declined buyers with those failed before', async () => {
    const { acts, order, posted } = step([invoice('b1'), invoice('b2'), invoice('b3', 'failed'), invoice('b4', 'paid')], new Set(['b2']));
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const r = await env.run(acts.chargeInvoices, 7, null, 100);
    expect(r).toEqual({ last: 'b4', submitted: 2, succeeded: 1, failed: 1, failedBuyerIds: ['b3', 'b2'] });
    expect(order).toEqual(['file charges 2', 'post 1', 'mark b1:true b2:false']);
    expect(posted[0]).toMatchObject({ idempotencyKey: 'charge:sp_7:b1', postings: [{ amountMinor: 100 }, { amountMinor: -100 }] });
  });

  it('charges nothing when every invoice of the page was charged before, still naming those that failed', async () => {
    const { acts, order } = step([invoice('b1', 'paid'), invoice('b2', 'failed')], new Set());
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    expect(await env.run(acts.chargeInvoices, 7, 'b0', 100)).toEqual({ last: 'b2', submitted: 0, succeeded: 0, failed: 0, failedBuyerIds: ['b2'] });
    expect(order).toEqual([]);
  });

  it('heartbeats while a long file is at the processor, so a dead worker is noticed within the heartbeat timeout', async () => {
    const { acts } = step([invoice('b1')], new Set(), 2_500);
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    let beats = 0;
    env.on('heartbeat', () => { beats++; });
    await env.run(acts.chargeInvoices, 7, null, 100);
    expect(beats).toBeGreaterThanOrEqual(2);
  });
});
