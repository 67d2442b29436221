// The federation gateway's server: other services' gateways call it over mutual TLS (a client certificate from the
// federation CA is required by the handshake), and before anything is decided each request must come from a gateway
// the directory lists as approved with the very certificate presented, carry a valid signature by that certificate's
// key over its method, path, time, nonce and body, be recent (5 minutes) and not be a replay (its nonce is new).
// Routes (processors/federation/gateway.ts is their client):
//   POST /federation/v1/authorizations                       decide a transaction (idempotent by its id)
//   POST /federation/v1/authorizations/:transactionId/cancel the payee gives up: an approved one is refunded
// Errors are { error: { code, message } }: 400 invalid_request, 401 unsigned|bad_signature|stale|wrong_gateway|replayed,
// 403 gateway_not_trusted, 409 transaction_id_reused, 503 directory_unavailable.
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { z } from 'zod';
import { MAX_FEDERATED_MINOR, TRANSACTION_ID } from '../domain/federation';
import { baseApp, jsonBody } from '../runtime/http';
import type { Logger } from '../runtime/log';
import { FederationRefused, type FederationService, type GatewayCredentials, gatewayTls } from '../services/federation';
import { NettingRefused, type NettingService } from '../services/netting';

/** How often the nonces of old signed requests are purged. */
const NONCE_PURGE_EVERY_MS = 60_000;
/** Largest request body: a netting window's list of transactions. */
export const MAX_GATEWAY_BODY_BYTES = 16 * 1024 * 1024;

const authorizationBody = z.strictObject({
  transactionId: z.string().regex(TRANSACTION_ID),
  alias: z.string().min(3).max(128),
  amountMinor: z.number().int().min(1).max(MAX_FEDERATED_MINOR),
  currency: z.string().regex(/^[A-Z]{3}$/),
  payee: z.strictObject({ sellerId: z.string().min(1).max(100), itemId: z.string().min(1).max(100), category: z.string().min(1).max(40) }),
});

/** A closed window as its coordinator sends it (at most MAX_WINDOW_TRANSACTIONS transactions). */
const MAX_WINDOW_TRANSACTIONS = 1_000_000;
const gatewayIdText = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);
const windowBody = z.strictObject({
  transactions: z.array(z.strictObject({ transactionId: z.string().regex(TRANSACTION_ID), payerGateway: gatewayIdText, payeeGateway: gatewayIdText,
    currency: z.string().regex(/^[A-Z]{3}$/), amountMinor: z.number().int().min(1).max(MAX_FEDERATED_MINOR) })).max(MAX_WINDOW_TRANSACTIONS),
  positions: z.array(z.strictObject({ currency: z.string().regex(/^[A-Z]{3}$/), owedByFirst: z.number().int().min(0), owedBySecond: z.number().int().min(0),
    debtor: gatewayIdText.nullable(), creditor: gatewayIdText.nullable(), netMinor: z.number().int().min(0) })),
});

class GatewayError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The gateway's express app (exported for tests over plain sockets: it expects a TLS socket with a peer certificate). */
export function gatewayApp(federation: FederationService, netting: NettingService, logger: Logger): express.Express {
  const app = baseApp();
  // (a window's list of transactions is the largest body: about 150 bytes a transaction)
  app.use(jsonBody(MAX_GATEWAY_BODY_BYTES, { keepRaw: true }));
  const authenticate: RequestHandler = (req, res, next) => {
    const cert = (req.socket as TLSSocket).getPeerCertificate?.();
    if (!cert?.raw) throw new GatewayError(401, 'unsigned', 'A client certificate is required');
    federation.authenticate({ certDer: cert.raw, fingerprint256: cert.fingerprint256, headers: req.headers, method: req.method, path: req.originalUrl,
      body: (req as { rawBody?: Buffer }).rawBody?.toString('utf8') ?? '' })
      .then((peer) => { res.locals.peer = peer; next(); }, next);
  };
  app.post('/federation/v1/authorizations', authenticate, async (req, res) => {
    const body = authorizationBody.safeParse(req.body);
    if (!body.success) throw new GatewayError(400, 'invalid_request', `${body.error.issues[0].path.join('.') || 'body'}: ${body.error.issues[0].message}`);
    res.json(await federation.authorize(res.locals.peer as string, body.data));
  });
  app.post('/federation/v1/authorizations/:transactionId/cancel', authenticate, async (req, res) => {
    const transactionId = String(req.params.transactionId);
    if (!TRANSACTION_ID.test(transactionId)) throw new GatewayError(400, 'invalid_request', 'transactionId: not a transaction id');
    res.json(await federation.cancel(res.locals.peer as string, transactionId));
  });
  const seqOf = (raw: unknown) => {
    const seq = Number(raw);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new GatewayError(400, 'invalid_request', 'seq: not a window number');
    return seq;
  };
  app.post('/federation/v1/windows/:seq/close', authenticate, async (req, res) => {
    const body = windowBody.safeParse(req.body);
    if (!body.success) throw new GatewayError(400, 'invalid_request', `${body.error.issues[0].path.join('.') || 'body'}: ${body.error.issues[0].message}`);
    res.json(await netting.agree(res.locals.peer as string, seqOf(req.params.seq), body.data.transactions, body.data.positions));
  });
  app.post('/federation/v1/windows/:seq/pay', authenticate, async (req, res) => {
    const currency = (req.body as { currency?: unknown } | undefined)?.currency;
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw new GatewayError(400, 'invalid_request', 'currency: an ISO 4217 code');
    res.json(await netting.pay(res.locals.peer as string, seqOf(req.params.seq), currency));
  });
  app.post('/federation/v1/windows/:seq/settled', authenticate, async (req, res) => {
    res.json(await netting.settled(res.locals.peer as string, seqOf(req.params.seq)));
  });
  app.get('/health', (_req, res) => { res.json({ ok: true }); });
  app.use(() => { throw new GatewayError(404, 'route_not_found', 'No such route'); });
  const errors: ErrorRequestHandler = (err, req, res, _next) => {
    const e = err instanceof GatewayError ? err
      : err instanceof FederationRefused || err instanceof NettingRefused ? new GatewayError(err.status, err.code, err.message)
        : (err as { type?: string }).type === 'entity.parse.failed' ? new GatewayError(400, 'invalid_request', 'The body is not JSON')
          : (err as { type?: string }).type === 'entity.too.large' ? new GatewayError(413, 'body_too_large', 'The body is too large')
            : undefined;
    if (!e) logger.error({ err, path: req.originalUrl }, 'federation gateway request failed');
    if (e && e.status === 401) logger.warn({ code: e.code, peer: res.locals.peer }, 'federation gateway refused a request');
    if (res.headersSent) return;
    const out = e ?? new GatewayError(500, 'internal_error', 'The gateway failed');
    res.status(out.status).set(out.status === 503 ? { 'Retry-After': '1' } : {}).json({ error: { code: out.code, message: out.message } });
  };
  app.use(errors);
  return app;
}

/** Serves the gateway on port over mutual TLS (only clients with a certificate from the federation CA get through). */
export function serveGateway(credentials: GatewayCredentials, federation: FederationService, netting: NettingService, logger: Logger,
  port: number, host: string): Server {
  const server = createServer(gatewayTls(credentials), gatewayApp(federation, netting, logger));
  server.listen(port, host);
  // the nonces of signed requests are kept as long as a replay could still pass the time check, then purged
  const purge = setInterval(() => { federation.purgeNonces().catch((err: unknown) => logger.warn({ err }, 'purging federation nonces failed')); }, NONCE_PURGE_EVERY_MS);
  purge.unref();
  server.once('close', () => clearInterval(purge));
  return server;
}
