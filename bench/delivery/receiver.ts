// The delivery benchmark's webhook receiver, run as its own process so it does not share an event loop with the
// enqueuer: POST /hooks records each message's webhook-id and its body's group and sequence number (first arrival
// per webhook-id, duplicates counted) and verifies the Standard Webhooks signature when BENCH_RECEIVER_SECRET is
// set (otherwise it only checks that the three headers are present). GET /stats and GET /groups report what
// arrived; POST /reset forgets it. Answers 200 to every hook; it never fails one on purpose.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../webhooks/signature';

/** Largest hook body accepted, in bytes (Paybroker's own limit is 64 KiB). */
const MAX_BODY_BYTES = 128 * 1024;

const secret = process.env.BENCH_RECEIVER_SECRET || null;

interface State {
  received: number;
  duplicates: number;
  badSignatures: number;
  badBodies: number;
  /** First arrival per webhook-id. */
  seen: Set<string>;
  /** Sequence numbers per group, in order of first arrival. */
  groups: Map<string, number[]>;
  /** Epoch ms of the first and the last first arrival. */
  firstAt: number;
  lastAt: number;
  maxConnections: number;
}

const fresh = (): State => ({
  received: 0, duplicates: 0, badSignatures: 0, badBodies: 0, seen: new Set(), groups: new Map(), firstAt: 0, lastAt: 0, maxConnections: 0,
});
let s = fresh();
let connections = 0;

function hook(headers: Record<string, string | string[] | undefined>, raw: Buffer): void {
  s.received++;
  const id = headers['webhook-id'];
  if (typeof id !== 'string' || typeof headers['webhook-timestamp'] !== 'string' || typeof headers['webhook-signature'] !== 'string') {
    s.badSignatures++;
    return;
  }
  if (secret) {
    try {
      verifyWebhook(secret, headers, raw);
    } catch {
      s.badSignatures++;
      return;
    }
  }
  if (s.seen.has(id)) {
    s.duplicates++;
    return;
  }
  let body: { group?: unknown; seq?: unknown };
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    s.badBodies++;
    return;
  }
  if (typeof body.group !== 'string' || typeof body.seq !== 'number') {
    s.badBodies++;
    return;
  }
  const now = Date.now();
  s.seen.add(id);
  if (s.firstAt === 0) s.firstAt = now;
  s.lastAt = now;
  let seqs = s.groups.get(body.group);
  if (!seqs) s.groups.set(body.group, (seqs = []));
  seqs.push(body.seq);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY_BYTES) chunks.push(c);
  });
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/hooks') {
      if (size > MAX_BODY_BYTES) {
        s.badBodies++;
        res.writeHead(413).end();
        return;
      }
      hook(req.headers, Buffer.concat(chunks));
      res.writeHead(200).end();
    } else if (req.method === 'GET' && req.url === '/stats') {
      const { seen, groups, ...rest } = s;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...rest, unique: seen.size, groups: groups.size }));
    } else if (req.method === 'GET' && req.url === '/groups') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Object.fromEntries(s.groups)));
    } else if (req.method === 'POST' && req.url === '/reset') {
      s = fresh();
      s.maxConnections = connections;
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
});
server.keepAliveTimeout = 60_000;
server.on('connection', (socket) => {
  connections++;
  s.maxConnections = Math.max(s.maxConnections, connections);
  socket.once('close', () => { connections--; });
});

server.listen(Number(process.env.BENCH_RECEIVER_PORT ?? 0), '127.0.0.1', () => {
  console.log(`receiver listening on http://127.0.0.1:${(server.address() as AddressInfo).port} (signatures ${secret ? 'verified' : 'NOT verified'})`);
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
