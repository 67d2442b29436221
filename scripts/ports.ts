import { createServer } from 'node:net';

/** True when nothing listens on host:port (we could bind it ourselves). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Ports freePort hands out: below the kernel's usual ephemeral range (32768-60999 on Linux), so an outgoing connection
 * (a pooled database connection, say) never takes one between the choice and the listen.
 */
const TEST_PORTS = { from: 20_000, to: 32_000 };

/** A port that is free right now (for tests, which run beside `npm start`), chosen at random below the ephemeral range. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = TEST_PORTS.from + Math.floor(Math.random() * (TEST_PORTS.to - TEST_PORTS.from));
    if (await isPortFree(port, host)) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export class PortInUseError extends Error {
  constructor(what: string, port: number, envVar: string) {
    super(`${what} cannot start: port ${port} on 127.0.0.1 is already in use by another process. ` +
      `Stop that process, or choose another port with ${envVar}=<port>.`);
    this.name = 'PortInUseError';
  }
}

export async function requirePortFree(what: string, port: number, envVar: string): Promise<void> {
  if (!(await isPortFree(port))) throw new PortInUseError(what, port, envVar);
}

export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
