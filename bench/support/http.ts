// A small JSON client over node:http with keep-alive, lighter than fetch, so the load generator spends as
// little of the machine as it can.
import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/** Longest a benchmark request may take before it counts as failed. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface JsonReply { status: number; body: any; retryAfterSeconds?: number; headers: IncomingHttpHeaders }

export class JsonClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(base: string, maxSockets: number) {
    this.url = new URL(base);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
    return this.send('POST', path, JSON.stringify(body), headers);
  }

  /** A form's POST (application/x-www-form-urlencoded), as a browser sends one; a redirect is answered, not followed. */
  postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<JsonReply> {
    return this.send('POST', path, new URLSearchParams(fields).toString(), headers, 'application/x-www-form-urlencoded');
  }

  put(path: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
    return this.send('PUT', path, JSON.stringify(body), headers);
  }

  get(path: string, headers: Record<string, string> = {}): Promise<JsonReply> {
    return this.send('GET', path, undefined, headers);
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, payload: string | undefined, headers: Record<string, string>, contentType = 'application/json'): Promise<JsonReply> {
    return new Promise((resolve, reject) => {
      const req = request({
        agent: this.agent, host: this.url.hostname, port: this.url.port, method, path: this.url.pathname.replace(/\/$/, '') + path,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          const retryAfter = res.headers['retry-after'];
          const retryAfterSeconds = retryAfter === undefined ? undefined : Number(retryAfter);
          try {
            resolve({ status, body: text ? JSON.parse(text) : undefined, retryAfterSeconds, headers: res.headers });
          } catch {
            resolve({ status, body: text, retryAfterSeconds, headers: res.headers });
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
