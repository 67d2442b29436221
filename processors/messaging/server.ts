// The messaging gateway simulator: a real HTTP service with its state in PostgreSQL (schema messaging_sim),
// modelled on SMS gateway APIs (Twilio, Vonage). Two listeners:
//
// public API, JSON, base /v1, every call with `Authorization: Bearer <API key>` (401 without a known one):
//   POST /v1/senders    {id}                 book a sender id (alphanumeric, 1-11 characters with a letter, or E.164):
//                                            201 booked, 200 already yours (booking is idempotent by the id itself),
//                                            409 sender_taken by another account
//   POST /v1/messages   {from, to, body}     Idempotency-Key required. from: a sender id the account booked (else
//                                            422 sender_not_booked); to: E.164; body: 1..1600 characters.
//                                            201 the message, status 'queued'. The same key and request again: the
//                                            first message as it stands (Idempotent-Replayed: true); the key with
//                                            another request: 422 idempotency_key_reused
//   GET  /v1/messages/:id                    the message: queued → sent → delivered as the gateway works, or 404
//   GET|PUT /v1/account {webhookUrl|null}    where the account's webhooks go (else PAYBROKER_MESSAGING_WEBHOOK_URL)
//   GET  /health
// Errors are { error: { code, message } }: 4xx for refusals, 503 (Retry-After) only for the down fault.
//
// Webhooks, POSTed to the account's URL, signed (processors/messaging/signature.ts), retried with a doubling pause
// until a 2xx (at most MAX_WEBHOOK_ATTEMPTS tries), kept in the database so a restart resumes them:
//   {type: 'message.delivered', data: {messageId, status, from, to, deliveredAt}}   the delivery receipt
//   {type: 'message.inbound', data: <the inbound message>}                           a reply from a phone
//
// admin API (its own port, loopback, no auth): the customer's phone and the fault controls
//   GET  /admin/phones/:number/messages[?limit]   messages sent to the number, newest first
//   POST /admin/phones/:number/replies {to, body}  an inbound message from the number to a booked sender id
//   GET|PUT /admin/faults {mode: 'none'|'down'|'slow'|'lost_receipts', latencyMs?}
//     down: the public API answers 503; slow: each public call waits latencyMs first; lost_receipts: messages
//     accepted meanwhile are delivered but send no receipt webhook
//   GET  /admin/stats[?scope=database]   GET /health
import { createServer } from 'node:http';
import { close, listen, urlHost } from '../serve';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { createDb } from '../../ledger/db';
import {
  accountByKey, accountView, bookSender, databaseStats, E164, ensureAccount, GatewayError, getMessage, isSenderId,
  MAX_MESSAGE_BODY_CHARS, phoneMessages, Pump, receiveReply, sendMessage, setWebhookUrl, type PumpSettings,
} from './gateway';
import { migrateMessaging } from './migrations';

export { MAX_MESSAGE_BODY_CHARS, MAX_WEBHOOK_ATTEMPTS } from './gateway';

export const MAX_BODY_BYTES = 64 * 1024;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const MAX_LATENCY_MS = 120_000;
export const DEFAULT_LATENCY_MS = 1_000;
/** Messages a phone listing shows at most. */
export const MAX_PHONE_MESSAGES = 100;
export const DEFAULT_TICK_MS = 100;

export const DEFAULT_PUMP_SETTINGS: PumpSettings = {
  sendDelayMs: 100, deliveryDelayMs: 500, initialBackoffMs: 1_000, maxBackoffMs: 5 * 60_000, webhookTimeoutMs: 10_000,
};

export const FAULT_MODES = ['none', 'down', 'slow', 'lost_receipts'] as const;
export const faultSettingsSchema = z.strictObject({
  mode: z.enum(FAULT_MODES),
  latencyMs: z.number().int().min(0).max(MAX_LATENCY_MS).optional(),
});
export type MessagingFaultSettings = z.infer<typeof faultSettingsSchema>;
export interface MessagingFaultState { mode: (typeof FAULT_MODES)[number]; latencyMs: number }

export interface MessagingGatewayOptions {
  databaseUrl: string;
  /** Public API port (0: any free port). */
  port: number;
  /** Admin API port; default port + 1 (any free port when port is 0). */
  adminPort?: number;
  host?: string;
  /** Interface of the admin API; default 127.0.0.1 (loopback only: it has no authentication). */
  adminHost?: string;
  /** The account this gateway serves: its API key, its webhook secret, and (when given) its webhook URL. */
  apiKey: string;
  webhookSecret: string;
  webhookUrl?: string;
  /** How often the pump runs. */
  tickMs?: number;
  pump?: Partial<PumpSettings>;
}

export interface RunningMessagingGateway {
  url: string;
  adminUrl: string;
  accountId: string;
  stop(): Promise<void>;
}

const phone = z.string().regex(E164, 'must be an E.164 number such as +14155550100');
const senderBody = z.strictObject({ id: z.string().refine(isSenderId, 'must be alphanumeric (1 to 11 characters, a letter among them) or an E.164 number') });
const messageBody = z.strictObject({
  from: z.string().min(1).max(16),
  to: phone,
  body: z.string().min(1).max(MAX_MESSAGE_BODY_CHARS),
});
const accountBody = z.strictObject({ webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable() });
const replyBody = z.strictObject({ to: z.string().refine(isSenderId, 'must be a sender id'), body: z.string().min(1).max(MAX_MESSAGE_BODY_CHARS) });

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') throw new GatewayError(400, 'unknown_parameter', `Unknown parameter: ${issue.keys[0]}`);
  const path = issue.path.join('.');
  const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], body);
  throw new GatewayError(400, value === undefined ? 'parameter_missing' : 'parameter_invalid', path ? `${path}: ${issue.message}` : issue.message);
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let e: GatewayError;
  const t = (err as { type?: string }).type;
  if (err instanceof GatewayError) e = err;
  else if (t === 'entity.too.large') e = new GatewayError(413, 'body_too_large', `The request body exceeds ${MAX_BODY_BYTES} bytes`);
  else if (t === 'entity.parse.failed') e = new GatewayError(400, 'invalid_json', 'The request body is not valid JSON');
  else {
    console.error(`messaging gateway: ${req.method} ${req.originalUrl} failed:`, err);
    e = new GatewayError(500, 'internal_error', 'An internal error occurred');
  }
  if (!res.headersSent) res.status(e.status).json(errorBody(e.code, e.message));
};

const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) throw new GatewayError(415, 'unsupported_media_type', 'Send request bodies as application/json');
  next();
};

declare module 'express-serve-static-core' {
  interface Locals {
    /** The account of the request's API key. */
    accountId?: string;
  }
}


/** Migrates the gateway's schema, ensures its account, serves both APIs and runs the pump until stop(). */
export async function startMessagingGateway(opts: MessagingGatewayOptions): Promise<RunningMessagingGateway> {
  const host = opts.host ?? '127.0.0.1';
  const adminHost = opts.adminHost ?? '127.0.0.1';
  const db = createDb(opts.databaseUrl, { applicationName: 'messaging-gateway' });
  const publicServer = createServer();
  const adminServer = createServer();
  const since = new Date().toISOString();
  const requests = { senders: 0, send: 0, query: 0, account: 0, refusedUnavailable: 0 };
  let faults: MessagingFaultState = { mode: 'none', latencyMs: DEFAULT_LATENCY_MS };
  try {
    await migrateMessaging(db);
    const accountId = await ensureAccount(db, { apiKey: opts.apiKey, webhookSecret: opts.webhookSecret, webhookUrl: opts.webhookUrl });
    const accounts = [accountId];
    const pump = new Pump(db, accounts, { ...DEFAULT_PUMP_SETTINGS, ...opts.pump });

    // ---- public API ----
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.get('/health', async (_req, res) => {
      await db.raw('SELECT 1');
      res.status(faults.mode === 'down' ? 503 : 200).json({ status: faults.mode === 'down' ? 'down' : 'ok', service: 'messaging-gateway' });
    });
    const v1 = express.Router();
    const count = (k: keyof typeof requests): RequestHandler => (_req, _res, next) => { requests[k] += 1; next(); };
    const fault: RequestHandler = async (_req, res, next) => {
      if (faults.mode === 'down') {
        requests.refusedUnavailable += 1;
        res.status(503).set('Retry-After', '1').json(errorBody('gateway_unavailable', 'The gateway is unavailable; retry with the same Idempotency-Key'));
        return;
      }
      if (faults.mode === 'slow') await new Promise((r) => setTimeout(r, faults.latencyMs));
      next();
    };
    const auth: RequestHandler = async (req, res, next) => {
      const m = /^Bearer ([\x21-\x7e]{1,200})$/.exec(req.get('authorization') ?? '');
      const id = m ? await accountByKey(db, m[1]) : undefined;
      if (!id || !accounts.includes(id)) throw new GatewayError(401, 'unauthorized', 'Send a valid API key as Authorization: Bearer <key>');
      res.locals.accountId = id;
      next();
    };
    // the body is read before the fault, so a slow call whose client has given up still takes effect
    v1.use(jsonOnly, express.json({ limit: MAX_BODY_BYTES, strict: true }), fault, auth);
    v1.post('/senders', count('senders'), async (req, res) => {
      const { id } = parse(senderBody, req.body ?? {});
      const r = await bookSender(db, res.locals.accountId!, id);
      res.status(r.created ? 201 : 200).json({ object: 'sender', ...r.sender });
    });
    v1.post('/messages', count('send'), async (req: Request, res: Response) => {
      const key = req.get('idempotency-key');
      if (key === undefined) throw new GatewayError(400, 'idempotency_key_missing', 'Send an Idempotency-Key header with every message');
      if (key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
        throw new GatewayError(400, 'idempotency_key_invalid', `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters`);
      }
      const input = parse(messageBody, req.body ?? {});
      const r = await sendMessage(db, res.locals.accountId!, key, input, faults.mode === 'lost_receipts');
      if (r.replayed) res.set('Idempotent-Replayed', 'true');
      res.status(201).json(r.message);
    });
    v1.get('/messages/:id', count('query'), async (req, res) => {
      const id = String(req.params.id);
      const m = /^msg_[0-9a-f]{24}$/.test(id) ? await getMessage(db, res.locals.accountId!, id) : undefined;
      if (!m) throw new GatewayError(404, 'resource_missing', `No message ${id}`);
      res.json(m);
    });
    v1.get('/account', count('account'), async (_req, res) => { res.json(await accountView(db, res.locals.accountId!)); });
    v1.put('/account', count('account'), async (req, res) => {
      const { webhookUrl } = parse(accountBody, req.body ?? {});
      await setWebhookUrl(db, res.locals.accountId!, webhookUrl);
      res.json(await accountView(db, res.locals.accountId!));
    });
    app.use('/v1', v1);
    app.use((req) => { throw new GatewayError(404, 'route_not_found', `No route ${req.method} ${req.path}`); });
    app.use(errorHandler);
    publicServer.on('request', app);

    // ---- admin API ----
    const admin = express();
    admin.disable('x-powered-by');
    admin.set('etag', false);
    admin.use(jsonOnly, express.json({ limit: MAX_BODY_BYTES, strict: true }));
    const number = (req: Request) => parse(phone, String(req.params.number));
    admin.get('/health', (_req, res) => { res.json({ status: 'ok', service: 'messaging-gateway-admin' }); });
    admin.get('/admin/phones/:number/messages', async (req, res) => {
      const limit = req.query.limit === undefined ? MAX_PHONE_MESSAGES : parse(z.coerce.number().int().min(1).max(MAX_PHONE_MESSAGES), req.query.limit);
      res.json({ data: await phoneMessages(db, accounts, number(req), limit) });
    });
    admin.post('/admin/phones/:number/replies', async (req, res) => {
      const b = parse(replyBody, req.body ?? {});
      res.status(201).json(await receiveReply(db, accounts, number(req), b.to, b.body));
    });
    admin.get('/admin/faults', (_req, res) => { res.json(faults); });
    admin.put('/admin/faults', (req, res) => {
      const s = parse(faultSettingsSchema, req.body ?? {});
      faults = { mode: s.mode, latencyMs: s.latencyMs ?? DEFAULT_LATENCY_MS };
      res.json(faults);
    });
    admin.get('/admin/stats', async (req, res) => {
      const scope = req.query.scope ?? 'process';
      if (scope === 'database') {
        res.json({ scope, since, ...(await databaseStats(db, accounts)) });
        return;
      }
      if (scope !== 'process') throw new GatewayError(400, 'parameter_invalid', "scope must be 'process' or 'database'");
      res.json({ scope, since, ...pump.counts, requests: { ...requests } });
    });
    admin.use((req) => { throw new GatewayError(404, 'route_not_found', `No route ${req.method} ${req.path}`); });
    admin.use(errorHandler);
    adminServer.on('request', admin);

    const port = await listen(publicServer, opts.port, host);
    const adminPort = await listen(adminServer, opts.adminPort ?? (opts.port === 0 ? 0 : opts.port + 1), adminHost);

    // ---- the pump ----
    const tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    const loop = () => {
      running = pump.tick().catch((err: unknown) => { if (!stopped) console.error('messaging gateway: pump tick failed:', err); })
        .then(() => { if (!stopped) timer = setTimeout(loop, tickMs); });
    };
    loop();

    return {
      url: `http://${urlHost(host)}:${port}`,
      adminUrl: `http://${urlHost(adminHost)}:${adminPort}`,
      accountId,
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await running;
        await Promise.all([close(publicServer), close(adminServer)]);
        await db.destroy();
      },
    };
  } catch (err) {
    await Promise.all([close(publicServer), close(adminServer)]);
    await db.destroy();
    throw err;
  }
}
