// The simulator as npm start runs it (its own process, configured by environment), and its first start on a
// fresh database when two instances race to create the schema.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { startSimulator } from '../../processors/simulator/server';
import type { Db } from '../../ledger/db';
import { freePort } from '../../scripts/ports';
import { testDb, uid } from '../support/env';
import { spawnService } from '../support/processes';

let db: Db;
beforeAll(() => { db = testDb(1); });
afterAll(async () => { await db.destroy(); });

const EXP_YEAR = new Date().getUTCFullYear() + 3;

describe('the simulator process', () => {
  it('serves the public and admin APIs on their configured ports, takes the authorization validity from the environment, and exits 0 on SIGTERM', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const proc = spawnService('processors/simulator/main.ts', {
      PAYBROKER_SIMULATOR_PORT: String(port),
      PAYBROKER_SIMULATOR_ADMIN_PORT: String(adminPort),
      PAYBROKER_SIM_AUTH_VALIDITY_SECONDS: '3600',
    });
    try {
      await proc.waitForOutput(/processor simulator listening on/);
      expect(proc.output()).toContain(`http://127.0.0.1:${port} (admin http://127.0.0.1:${adminPort})`);
      expect(await new SimulatorAdmin({ adminUrl: `http://127.0.0.1:${adminPort}` }).config()).toEqual({ authValiditySeconds: 3600, disputeFeeMinor: 1500, disputeEvidenceSeconds: 7 * 24 * 3600, disputeDecisionDelayMs: 3000 });
      const client = new HttpProcessorClient({ baseUrl: `http://127.0.0.1:${port}` });
      const { token } = await client.tokenize({ cardNumber: '4242424242424242', expMonth: 1, expYear: EXP_YEAR }, uid());
      const a = await client.authorize({ token, amountMinor: 100, currency: 'USD', postalCode: '1', reference: uid() }, uid());
      const hours = (Date.parse(a.expiresAt!) - Date.now()) / 3_600_000;
      expect(hours).toBeGreaterThan(0.9);
      expect(hours).toBeLessThanOrEqual(1);
      expect(await proc.stop('SIGTERM')).toBe(0);
    } finally {
      await proc.stop('SIGKILL');
    }
  });

  it('refuses to start on an invalid PAYBROKER_SIM_AUTH_VALIDITY_SECONDS', async () => {
    const proc = spawnService('processors/simulator/main.ts', {
      PAYBROKER_SIMULATOR_PORT: String(await freePort()),
      PAYBROKER_SIMULATOR_ADMIN_PORT: String(await freePort()),
      PAYBROKER_SIM_AUTH_VALIDITY_SECONDS: '0',
    });
    const code = proc.child.exitCode ?? await new Promise((resolve) => proc.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(proc.output()).toMatch(/PAYBROKER_SIM_AUTH_VALIDITY_SECONDS must be an integer/);
  });
});

describe('first start on a fresh database', () => {
  it('lets two simulators starting at once both create the schema and serve', async () => {
    const name = uid('simrace_');
    await db.raw(`CREATE DATABASE ${name}`);
    const url = inject('databaseUrl').replace(/\/[^/]*$/, `/${name}`);
    try {
      const sims = await Promise.all([0, 1].map(() => startSimulator({ databaseUrl: url, port: 0 })));
      try {
        for (const s of sims) {
          const client = new HttpProcessorClient({ baseUrl: s.url });
          expect((await client.tokenize({ cardNumber: '5555555555554444', expMonth: 1, expYear: EXP_YEAR }, uid())).brand).toBe('mastercard');
        }
      } finally {
        await Promise.all(sims.map((s) => s.stop()));
      }
    } finally {
      await db.raw(`DROP DATABASE ${name} WITH (FORCE)`);
    }
  });
});
