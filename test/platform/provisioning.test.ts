// What the launcher does before anything runs: find (or build) the Temporal CLI, and say clearly when a port is taken.
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startPrivateCluster } from '../../scripts/postgres';
import { freePort } from '../../scripts/ports';
import { buildTemporalCli, findTemporalCli, startTemporalDevServer, TEMPORAL_CLI_MODULE, TEMPORAL_CLI_VERSION } from '../../scripts/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';

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

describe('the dev server kept under .data', () => {
  it('is given the search attributes it lacks at start (its database predates them), so workflows that set them start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pb-attrs-'));
    const start = async () => startTemporalDevServer({ cli: inject('temporalCliPath'), port: await freePort(), dbFile: join(dir, 'temporal.db'),
      logFile: join(dir, 'temporal.log'), fast: true });
    try {
      let server = await start();
      let conn = await Connection.connect({ address: server.address });
      // (as a database made before bid rounds: without their attributes)
      await conn.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['ItemClass', 'BidRoundState'] });
      expect(Object.keys((await conn.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes ?? {})).not.toContain('ItemClass');
      await conn.close();
      await server.stop();
      server = await start();
      conn = await Connection.connect({ address: server.address });
      const attrs = (await conn.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes ?? {};
      expect(Object.keys(attrs)).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
      await conn.close();
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('Temporal CLI build', () => {
  /** A stand-in for `go` that prints what `go install -v` would (a line per package), then fails or makes the binary. */
  function fakeGo(dir: string, outcome: 'builds' | 'fails'): string {
    const go = join(dir, 'go');
    writeFileSync(go, `#!/bin/sh
i=0; while [ $i -lt 1450 ]; do echo "github.com/example/pkg$i" >&2; i=$((i+1)); done
sleep 0.5
${outcome === 'builds' ? 'echo binary > "$GOBIN/temporal"; exit 0' : 'echo "go: cannot reach proxy.golang.org" >&2; exit 1'}
`);
    chmodSync(go, 0o755);
    return go;
  }

  it('prints progress while it builds, not go\'s package lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pb-go-'));
    const logged: string[] = [];
    try {
      const built = await buildTemporalCli({ go: fakeGo(dir, 'builds'), binDir: join(dir, 'bin'), log: (m) => logged.push(m), progressIntervalMs: 100 });
      expect(built).toBe(join(dir, 'bin', 'temporal'));
      expect(existsSync(built)).toBe(true);
      expect(logged.at(-1)).toMatch(/^The Temporal CLI built in \d+ s: /);
      const progress = logged.slice(0, -1);
      expect(progress.length).toBeGreaterThan(0);
      for (const line of progress) expect(line).toMatch(/^still building the Temporal CLI \(\d+ s\) \.\.\.$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows go\'s output when the build fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pb-go-'));
    try {
      const failed = buildTemporalCli({ go: fakeGo(dir, 'fails'), binDir: join(dir, 'bin'), log: () => {} });
      await expect(failed).rejects.toThrow(`'go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}' failed (exit code 1)`);
      await expect(failed).rejects.toThrow(/go: cannot reach proxy\.golang\.org$/);
      await expect(failed).rejects.not.toThrow(/pkg1349\n/); // (the last 100 lines only)
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
