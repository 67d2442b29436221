// The codec server: Temporal's remote codec protocol over HTTP, so the Web UI (and `temporal --codec-endpoint`)
// show decoded payloads while the server keeps ciphertext. POST <prefix>/decode and <prefix>/encode take and give
// Payloads as proto3 JSON ({ payloads: [{ metadata: { key: base64 }, data: base64 }] }); only the last path segment
// says which. Access: the token as `Authorization: Bearer <token>`, or as the first path segment
// (`/<token>/decode`: how the dev server's UI is given it, since it sends no credentials of its own). CORS answers
// only the Web UI origins configured; a browser on another page gets nothing it may read.
import { timingSafeEqual } from 'node:crypto';
import type express from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { baseApp, jsonBody } from './http';

/** Largest request accepted (Temporal's own payload limit is 2 MB; a batch of them, base64). */
const MAX_CODEC_BODY = 8 * 1024 * 1024;
const MAX_PAYLOADS = 1000;

export interface CodecServerOptions {
  codec: PayloadCodec;
  token: string;
  /** Origins whose pages may call it (the Web UI's). */
  allowedOrigins: readonly string[];
}

const sameSecret = (given: string | undefined, token: string) => {
  if (given === undefined) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  return a.length === b.length && timingSafeEqual(a, b);
};

const problem = (res: express.Response, status: number, code: string, message: string) =>
  res.status(status).json({ error: { type: status === 401 ? 'authentication_error' : 'invalid_request_error', code, message } });

/** A payload as proto3 JSON has it (histories, the codec protocol): base64 metadata values and data. */
export type JsonPayload = { metadata?: Record<string, string>; data?: string };
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const payloadFromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

export const payloadsToJson = (payloads: Payload[]): { payloads: JsonPayload[] } => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  })),
});

function fromJson(body: unknown): Payload[] | string {
  const payloads = (body as { payloads?: unknown })?.payloads;
  if (!Array.isArray(payloads)) return 'the body is { "payloads": [...] }';
  if (payloads.length > MAX_PAYLOADS) return `at most ${MAX_PAYLOADS} payloads at once`;
  for (const p of payloads as JsonPayload[]) {
    if (typeof p !== 'object' || p === null) return 'each payload is an object';
    for (const [k, v] of Object.entries(p.metadata ?? {})) {
      if (typeof v !== 'string' || !BASE64.test(v)) return `metadata '${k}' is not base64`;
    }
    if (p.data !== undefined && (typeof p.data !== 'string' || !BASE64.test(p.data))) return 'data is not base64';
  }
  return (payloads as JsonPayload[]).map(payloadFromJson);
}

export function codecApp(o: CodecServerOptions): express.Express {
  const app = baseApp();
  app.get('/health', (_req, res) => { res.json({ status: 'ok' }); });
  app.use((req, res, next) => {
    const origin = req.headers.origin;
    if (origin && o.allowedOrigins.includes(origin)) {
      res.set({ 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'origin' });
      if (req.method === 'OPTIONS') {
        res.set({ 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type, x-namespace, authorization',
          'access-control-max-age': '600' });
        return void res.status(204).end();
      }
    }
    next();
  });
  const parse = jsonBody(MAX_CODEC_BODY);
  app.post(/(?:encode|decode)$/, (req, res, next) => {
    const m = /^\/(?:([^/]*)\/(?:.*\/)?)?(encode|decode)$/.exec(req.path);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!m || (!sameSecret(bearer, o.token) && !sameSecret(m[1], o.token))) {
      return void problem(res, 401, 'unauthorized', 'The codec server needs its token (Authorization: Bearer, or /<token>/decode)');
    }
    res.locals.op = m[2];
    parse(req, res, next);
  }, async (req, res) => {
    const payloads = fromJson(req.body);
    if (typeof payloads === 'string') return void problem(res, 400, 'bad_payloads', payloads);
    try {
      res.json(payloadsToJson(res.locals.op === 'decode' ? await o.codec.decode(payloads) : await o.codec.encode(payloads)));
    } catch (err) {
      problem(res, 422, 'undecodable', (err as Error).message);
    }
  });
  app.use((_req, res) => { problem(res, 404, 'not_found', 'POST /decode or /encode'); });
  // (a body that is not JSON, or too large: the parser's error, answered like every other refusal)
  app.use((err: { status?: number; type?: string; message: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 400;
    problem(res, status, status === 413 ? 'body_too_large' : 'bad_json', err.message);
  });
  return app;
}
