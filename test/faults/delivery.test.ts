// The worker process SIGKILLed while a webhook is being delivered: after restart every message arrives, the
// interrupted one again with the same webhook-id (at least once), and the group's order holds.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { DeliveryService } from '../../services/delivery';
import { newWebhookSecret } from '../../webhooks/signature';
import { testDatabase, uid, testDataConverter } from '../support/env';
import { Receiver } from '../support/receiver';
import { startServices } from '../support/services';

const { db, stores, close } = testDatabase(2);
afterAll(() => close());

describe('worker killed mid-delivery', () => {
  it('redelivers the interrupted message with the same webhook-id and keeps the order', async () => {
    const svc = await startServices({ PAYBROKER_WEBHOOK_ALLOW_PRIVATE: 'true', PAYBROKER_DELIVERY_INITIAL_BACKOFF: '100ms' });
    const receiver = new Receiver();
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      await receiver.start();
      receiver.secret = newWebhookSecret();
      receiver.delayMs = 1_500;
      const dest = `we_${randomBytes(8).toString('hex')}`;
      await db('delivery_destinations').insert({ id: dest, url: receiver.url, secret: receiver.secret, give_up_seconds: 3600 });
      const delivery = new DeliveryService(stores.delivery, new Client({ connection, dataConverter: testDataConverter() }), svc.taskQueue);
      const group = `kill-${uid()}`;
      const ids = [0, 1, 2, 3].map((seq) => `${group}-${seq}`);
      for (const [seq, id] of ids.entries()) {
        await delivery.enqueue({ id, destinationId: dest, groupKey: group, body: JSON.stringify({ seq }) });
      }
      // The first is in, the second is on the wire: kill the worker now.
      await expect.poll(() => receiver.received.length === 1 && receiver.inFlight === 1, { timeout: 20_000, interval: 20 }).toBe(true);
      expect(await svc.kill('worker', 'SIGKILL')).toBe('SIGKILL');
      receiver.delayMs = 0;
      await svc.start('worker');

      await expect.poll(() => receiver.unique().map((r) => r.body.seq), { timeout: 60_000, interval: 250 }).toEqual([0, 1, 2, 3]);
      const arrivals = receiver.received.map((r) => r.webhookId);
      expect(arrivals.filter((id) => id === ids[1]).length).toBeGreaterThanOrEqual(2);
      expect(arrivals.indexOf(ids[2])).toBeGreaterThan(arrivals.indexOf(ids[1]));
      expect(receiver.received.every((r) => r.verified)).toBe(true);
    } finally {
      await connection.close();
      await receiver.stop();
      await svc.stopAll();
    }
  });
});
