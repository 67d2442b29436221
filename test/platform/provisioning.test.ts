// What the launcher does before anything runs: find the Temporal CLI, and say clearly when a port is taken.
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startPrivateCluster } from '../../scripts/postgres';
import { freePort } from '../../scripts/ports';
import { findTemporalCli, startTemporalDevServer } from '../../scripts/temporal-cli';

const saved = { ...process.env };
afterEach(() => { process.env = { ...saved }; });

async function occupy(): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, server };
}

describe('Temporal CLI lookup', () => {
  it('prefers TEMPORAL_CLI_PATH and refuses one that does not exist', () => {
    process.env.TEMPORAL_CLI_PATH = inject('temporalCliPath');
    expect(findTemporalCli()).toBe(inject('temporalCliPath'));
    process.env.TEMPORAL_CLI_PATH = '/nonexistent/temporal';
    expect(() => findTemporalCli()).toThrow(/TEMPORAL_CLI_PATH=\/nonexistent\/temporal does not exist/);
  });
});

describe('port clashes', () => {
  it('PostgreSQL: names the port and the variable to change, starts nothing', async () => {
    const { port, server } = await occupy();
    const dir = mkdtempSync(join(tmpdir(), 'pb-clash-'));
    chmodSync(dir, 0o755);
    try {
      await expect(startPrivateCluster({ dataDir: dir, port, fast: true }))
        .rejects.toThrow(`PostgreSQL cannot start: port ${port} on 127.0.0.1 is already in use by another process. Stop that process, or choose another port with PAYBROKER_PG_PORT=<port>.`);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Temporal: names the port and the variable to change', async () => {
    const { port, server } = await occupy();
    try {
      await expect(startTemporalDevServer({ cli: inject('temporalCliPath'), port, logFile: join(tmpdir(), 'pb-clash.log') }))
        .rejects.toThrow(/The Temporal dev server cannot start: port \d+ .* PAYBROKER_TEMPORAL_PORT=<port>/);
    } finally {
      server.close();
    }
  });
});
