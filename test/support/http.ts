// An app under test on a real port, and a small fetch wrapper for it.
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

export async function listen(app: Express): Promise<{ base: string; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface Call {
  method?: string;
  key?: string;
  idem?: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export async function call(base: string, path: string, c: Call = {}) {
  const headers: Record<string, string> = { ...c.headers };
  if (c.key) headers.authorization = `Bearer ${c.key}`;
  if (c.idem) headers['idempotency-key'] = c.idem;
  const body = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
  if (body !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
  const res = await fetch(base + path, { method: c.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
