// Serving a simulator's HTTP APIs (the card processor's, the messaging gateway's): listening on a port, closing with
// every connection, and the host to put in a URL of what listens.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on port (0: any free one) and answers the port taken; a port in use rejects. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops listening and ends the open connections (keep-alive ones too). */
export function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

/** The host of a URL that reaches what listens on host (a wildcard: loopback; IPv6 in brackets). */
export const urlHost = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host);
