// A real webhook receiver on loopback: verifies each request's Standard Webhooks signature, records what
// arrived, and can be taken down (its listener closed: connection refused), slowed, or made to answer errors.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../webhooks/signature';

export interface Received {
  webhookId: string;
  timestamp: number;
  body: any;
  verified: boolean;
  /** As received, to verify with other secrets. */
  raw: string;
  headers: IncomingHttpHeaders;
}

export class Receiver {
  received: Received[] = [];
  /** Status to answer per webhook id (else 200); a function may count attempts. */
  answer: (webhookId: string, body: any) => number = () => 200;
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  private server: Server;
  port = 0;
  secret: string | null = null;

  constructor() {
    this.server = this.make();
  }

  private make(): Server {
    return createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        try {
          if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
          const raw = Buffer.concat(chunks).toString();
          const webhookId = String(req.headers['webhook-id']);
          let verified = false;
          try {
            if (this.secret) verified = !!verifyWebhook(this.secret, req.headers, raw);
          } catch {
            verified = false;
          }
          const body = JSON.parse(raw);
          const status = this.answer(webhookId, body);
          if (status >= 200 && status < 300) {
            this.received.push({ webhookId, timestamp: Number(req.headers['webhook-timestamp']), body, verified, raw, headers: req.headers });
          }
          res.writeHead(status).end();
        } finally {
          this.inFlight--;
        }
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Closes the listener and every connection: senders get connection refused until up(). */
  async down(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server = this.make();
  }

  async up(): Promise<void> {
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** First arrival of each webhook id, in arrival order. */
  unique(): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => (seen.has(r.webhookId) ? false : (seen.add(r.webhookId), true)));
  }
}
