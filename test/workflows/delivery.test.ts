// Ordered delivery on the real server with the real activities, to a real receiver over HTTP: order within
// groups, parallel groups, outages, dead letters (hold and skip), continue-as-new hand-over, and the limits.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryService } from '../../services/delivery';
import { DeliveryError, MAX_MESSAGE_BYTES, MAX_QUEUE_DEPTH_PER_GROUP } from '../../stores/delivery';
import { deliveryGroupWorkflowId, type DeliveryGroupWorkflow, groupStatusQuery } from '../../workflows/deliveryGroup.contract';
import { newWebhookSecret } from '../../webhooks/signature';
import { orderHarness, type OrderHarness } from '../support/orders';
import { Receiver } from '../support/receiver';
import { uid } from '../support/env';

let h: OrderHarness;
let deps: DeliveryService;
let receiver: Receiver;

beforeAll(async () => {
  h = await orderHarness();
  deps = new DeliveryService(h.stores.delivery, h.client, h.taskQueue);
});
afterAll(() => h.close());
afterEach(async () => { await receiver?.stop().catch(() => {}); });

async function destination(opts: { onDeadLetter?: 'hold' | 'skip'; giveUpSeconds?: number } = {}): Promise<string> {
  receiver = new Receiver();
  await receiver.start();
  receiver.secret = newWebhookSecret();
  const id = `we_${randomBytes(8).toString('hex')}`;
  await h.db('delivery_destinations').insert({
    id, url: receiver.url, secret: receiver.secret, on_dead_letter: opts.onDeadLetter ?? 'hold', give_up_seconds: opts.giveUpSeconds ?? 3600,
  });
  return id;
}

const message = (destinationId: string, group: string, seq: number) => ({
  id: `${group}-${seq}-${uid()}`, destinationId, groupKey: group, body: JSON.stringify({ group, seq }),
});
const seqsOf = (r: Receiver, group: string) => r.unique().filter((x) => x.body.group === group).map((x) => x.body.seq);

describe('order and parallelism', () => {
  it('delivers 1,000 messages over 50 groups through an outage: all arrive, in order per group, signed', async () => {
    const dest = await destination();
    await receiver.down();
    const groups = Array.from({ length: 50 }, (_, g) => `g${g}-${uid()}`);
    const reopen = setTimeout(() => { void receiver.up(); }, 3_000);
    try {
      await Promise.all(groups.map(async (group) => {
        for (let seq = 0; seq < 20; seq++) await deps.enqueue(message(dest, group, seq));
      }));
      await expect.poll(() => receiver.unique().length, { timeout: 90_000, interval: 500 }).toBe(1000);
    } finally {
      clearTimeout(reopen);
    }
    for (const group of groups) expect(seqsOf(receiver, group)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    const states = await h.db('delivery_messages').where({ destination_id: dest }).groupBy('state').select('state').count({ n: '*' });
    expect(states).toEqual([{ state: 'delivered', n: '1000' }]);
  });

  it('keeps order across a continue-as-new hand-over with messages still queued', async () => {
    const dest = await destination();
    receiver.delayMs = 50;
    const group = `can-${uid()}`;
    const workflowId = deliveryGroupWorkflowId(dest, group);
    const first = await h.client.workflow.start<DeliveryGroupWorkflow>('deliveryGroupWorkflow', {
      taskQueue: h.taskQueue, workflowId, args: [{ destinationId: dest, groupKey: group, continueAsNewAfter: 3 }],
    });
    for (let seq = 0; seq < 10; seq++) await deps.enqueue(message(dest, group, seq));
    await expect.poll(() => seqsOf(receiver, group).length, { timeout: 30_000 }).toBe(10);
    expect(seqsOf(receiver, group)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const firstRun = h.client.workflow.getHandle(workflowId, first.firstExecutionRunId);
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
    expect((await h.client.workflow.getHandle(workflowId).query(groupStatusQuery)).queued).toEqual([]);
  });

  it('drops a duplicate enqueue of the same message id', async () => {
    const dest = await destination();
    const group = `dup-${uid()}`;
    const m = message(dest, group, 0);
    expect(await deps.enqueue(m)).toEqual({ created: true });
    expect(await deps.enqueue(m)).toEqual({ created: false });
    await deps.enqueue(message(dest, group, 1));
    await expect.poll(() => seqsOf(receiver, group), { timeout: 15_000 }).toEqual([0, 1]);
    expect(receiver.received.filter((r) => r.webhookId === m.id)).toHaveLength(1);
  });
});

describe('dead letters', () => {
  it('holds the group on a permanent failure until an operator redelivers; same webhook-id, order kept', async () => {
    const dest = await destination();
    const group = `hold-${uid()}`;
    const msgs = [0, 1, 2].map((seq) => message(dest, group, seq));
    let fixed = false;
    receiver.answer = (id) => (id === msgs[0].id && !fixed ? 400 : 200);
    for (const m of msgs) await deps.enqueue(m);
    await expect.poll(async () => (await h.db('delivery_messages').where({ id: msgs[0].id }).first()).state, { timeout: 15_000 }).toBe('dead');
    // the group holds at the dead letter: the later messages, queued behind it, cannot have gone out
    await expect.poll(async () => (await h.client.workflow.getHandle(deliveryGroupWorkflowId(dest, group)).query(groupStatusQuery)).holding,
      { timeout: 15_000 }).toBe(msgs[0].id);
    expect(seqsOf(receiver, group)).toEqual([]);

    fixed = true;
    expect(await deps.resolveDeadLetter(msgs[0].id, 'redeliver')).toBe(true);
    await expect.poll(() => seqsOf(receiver, group), { timeout: 15_000 }).toEqual([0, 1, 2]);
    expect(receiver.unique()[0].webhookId).toBe(msgs[0].id);
    expect((await h.db('delivery_messages').where({ id: msgs[0].id }).first()).state).toBe('delivered');
  });

  it('an operator may drop a held dead letter; the group goes on', async () => {
    const dest = await destination();
    const group = `drop-${uid()}`;
    const msgs = [0, 1].map((seq) => message(dest, group, seq));
    receiver.answer = (id) => (id === msgs[0].id ? 410 : 200);
    for (const m of msgs) await deps.enqueue(m);
    await expect.poll(async () => (await h.db('delivery_messages').where({ id: msgs[0].id }).first()).state, { timeout: 15_000 }).toBe('dead');
    await deps.resolveDeadLetter(msgs[0].id, 'drop');
    await expect.poll(() => seqsOf(receiver, group), { timeout: 15_000 }).toEqual([1]);
    expect((await h.db('delivery_messages').where({ id: msgs[0].id }).first()).state).toBe('dropped');
    expect(await deps.resolveDeadLetter(msgs[0].id, 'redeliver')).toBe(false);
  });

  it('skips a dead letter when the destination says so, after its give-up time on 5xx', async () => {
    const dest = await destination({ onDeadLetter: 'skip', giveUpSeconds: 1 });
    const group = `skip-${uid()}`;
    const msgs = [0, 1, 2].map((seq) => message(dest, group, seq));
    receiver.answer = (id) => (id === msgs[1].id ? 503 : 200);
    for (const m of msgs) await deps.enqueue(m);
    await expect.poll(() => seqsOf(receiver, group), { timeout: 15_000 }).toEqual([0, 2]);
    const dead = await h.db('delivery_messages').where({ id: msgs[1].id }).first();
    expect(dead.state).toBe('dead');
    expect(dead.attempts).toBeGreaterThan(1);
    expect(dead.last_status).toBe(503);
  });

  it('retries 408 and 429 rather than giving up on them', async () => {
    const dest = await destination();
    const group = `retry-${uid()}`;
    const attempts = new Map<string, number>();
    receiver.answer = (id) => {
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      return n === 1 ? 408 : n === 2 ? 429 : 200;
    };
    await deps.enqueue(message(dest, group, 0));
    await expect.poll(() => seqsOf(receiver, group), { timeout: 15_000 }).toEqual([0]);
    expect([...attempts.values()]).toEqual([3]);
  });
});

describe('limits', () => {
  it('refuses a message body one byte over the limit and takes one at it', async () => {
    const dest = await destination();
    const group = `size-${uid()}`;
    const body = (n: number) => JSON.stringify({ pad: 'x'.repeat(n - JSON.stringify({ pad: '' }).length) });
    await expect(deps.enqueue({ id: uid(), destinationId: dest, groupKey: group, body: body(MAX_MESSAGE_BYTES + 1) }))
      .rejects.toMatchObject({ code: 'message_too_large' });
    await expect(deps.enqueue({ id: uid(), destinationId: dest, groupKey: group, body: body(MAX_MESSAGE_BYTES) }))
      .resolves.toEqual({ created: true });
  });

  it('refuses to queue past the group depth, and takes the last one at the limit', async () => {
    const dest = await destination();
    await receiver.down(); // nothing drains while we fill the group
    const group = `depth-${uid()}`;
    await h.db('delivery_messages').insert(Array.from({ length: MAX_QUEUE_DEPTH_PER_GROUP - 1 }, (_, i) => ({
      id: `${group}-filler-${i}`, destination_id: dest, group_key: group, body: '{}',
    })));
    await expect(deps.enqueue({ id: uid(), destinationId: dest, groupKey: group, body: '{}' })).resolves.toEqual({ created: true });
    const past = deps.enqueue({ id: uid(), destinationId: dest, groupKey: group, body: '{}' });
    await expect(past).rejects.toBeInstanceOf(DeliveryError);
    await expect(past).rejects.toMatchObject({ code: 'queue_full' });
    await h.client.workflow.getHandle(deliveryGroupWorkflowId(dest, group)).terminate('test done');
  });

  it('keeps at most the configured deliveries in flight to one destination, the other groups waiting their turn', async () => {
    const narrow = await orderHarness({ perDestinationInFlight: 2 });
    try {
      const dest = await destination();
      receiver.delayMs = 150;
      const groups = Array.from({ length: 12 }, (_, g) => `par${g}-${uid()}`);
      const narrowDeps = new DeliveryService(narrow.stores.delivery, narrow.client, narrow.taskQueue);
      await Promise.all(groups.map((g) => narrowDeps.enqueue(message(dest, g, 0))));
      await expect.poll(() => receiver.unique().length, { timeout: 30_000 }).toBe(12);
      expect(receiver.maxInFlight).toBe(2);
    } finally {
      await narrow.close();
    }
  });
});
