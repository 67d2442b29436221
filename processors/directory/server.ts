// The federation's gateway directory (modelled on Mojaloop's account lookup service): a real HTTP service with its
// state in PostgreSQL (schema directory), where payment services' gateways register, bind their users' identifiers
// and find each other. Two listeners:
//
// public API, JSON, base /v1. Every request is signed by a gateway (processors/federation/pki.ts signRequest: the
// fed-* headers) and verified against the certificate the directory holds for it — for a registration, against the
// certificate in the body; a nonce the gateway sent before is refused. 401 unsigned | bad_signature | stale | replayed.
//   POST /v1/gateways {gatewayId, serviceName, endpoint, certificate, settlementAccount}
//                                   201 the entry, 'pending' until an operator approves it; 200 the same again;
//                                   422 certificate_invalid (not from the CA for that id, expired, ...); 403
//                                   gateway_revoked; 409 gateway_exists with other details (change them by renewal)
//   POST /v1/gateways/:id/renew {certificate, endpoint?}   signed with the gateway's current key: 200 the entry with
//                                   the new certificate (its status stays); 422 certificate_invalid; 404 unknown_gateway
//   GET  /v1/gateways/:id           the entry (any status: a peer sees a revoked one as revoked), or 404 unknown_gateway
//   PUT  /v1/identifiers/:identifier        binds the identifier to the caller: 201, 200 already its; 409 identifier_taken
//   DELETE /v1/identifiers/:identifier      204; 404 unknown_identifier; 403 identifier_not_yours
//   POST /v1/lookup {userIdentifier}        200 {userIdentifier, gateway}: the approved gateway holding it, else 404
//                                           unknown_identifier
//   Every call but register and renew needs an approved caller with a valid certificate: 403 gateway_not_approved.
//   GET /health
// Errors are { error: { code, message, field? } }: 400 invalid_request (with the field) for malformed input, 413 past
// the body limit, 503 directory_unavailable (Retry-After: 1) only for the down fault; never a 5xx for bad input.
//
// admin API (its own port, loopback, Authorization: Bearer <operator token>, 401 without):
//   GET  /admin/gateways                    every entry
//   POST /admin/gateways/:id/approve        pending → approved (404 unknown_gateway, 409 gateway_revoked)
//   POST /admin/gateways/:id/revoke         for good: refused everywhere, gone from lookups
//   GET|PUT /admin/faults {mode: 'none'|'down'}
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { createDb } from '../../ledger/db';
import { DEFAULT_SIGNATURE_TOLERANCE_MS, FED_HEADERS, GATEWAY_ID, verifyGatewayCert, verifyRequest } from '../federation/pki';
import { close, listen, urlHost } from '../serve';
import { migrateDirectory } from './migrations';
import {
  approveGateway, bindIdentifier, DirectoryError, type DirectoryEntry, gatewayEntry, listGateways, lookupIdentifier, peerOf, purgeNonces,
  registerGateway, rememberNonce, renewGateway, revokeGateway, unbindIdentifier,
} from './store';

export { DirectoryError } from './store';

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_CERTIFICATE_CHARS = 16 * 1024;
export const MAX_SERVICE_NAME_CHARS = 100;
export const MAX_ENDPOINT_CHARS = 2048;
export const IDENTIFIER = /^[A-Za-z0-9._@+:-]{3,128}$/;
export const SETTLEMENT_ACCOUNT = /^[A-Za-z0-9._:@-]{1,128}$/;
/** How often nonces too old to matter are deleted. */
export const DEFAULT_NONCE_PURGE_INTERVAL_MS = 60_000;

export const FAULT_MODES = ['none', 'down'] as const;
export type DirectoryFaultMode = (typeof FAULT_MODES)[number];
export const faultSettingsSchema = z.strictObject({ mode: z.enum(FAULT_MODES) });
export interface DirectoryFaultState { mode: DirectoryFaultMode }

export interface DirectoryOptions {
  databaseUrl: string;
  /** Public API port (0: any free port). */
  port: number;
  /** Admin API port; default port + 1 (any free port when port is 0). */
  adminPort?: number;
  host?: string;
  /** Interface of the admin API; default 127.0.0.1 (loopback only). */
  adminHost?: string;
  /** The operator's bearer token for the admin API. */
  adminToken: string;
  /** The federation CA's certificate: every gateway certificate must be issued by it. */
  caPem: string;
  /** Accepted clock difference of a signed request; default 5 minutes. */
  signatureToleranceMs?: number;
  /** How often old nonces are deleted; default a minute. */
  noncePurgeIntervalMs?: number;
}

export interface RunningDirectory {
  url: string;
  adminUrl: string;
  stop(): Promise<void>;
}

const certificate = z.string().min(1).max(MAX_CERTIFICATE_CHARS).refine((s) => s.includes('-----BEGIN CERTIFICATE-----'), 'must be a PEM certificate');
const endpoint = z.url({ protocol: /^https$/, error: 'must be an https URL' }).max(MAX_ENDPOINT_CHARS);
const registerBody = z.strictObject({
  gatewayId: z.string().regex(GATEWAY_ID, 'must be a gateway id (lower-case letters, digits and dashes, 1 to 63)'),
  serviceName: z.string().min(1).max(MAX_SERVICE_NAME_CHARS),
  endpoint,
  certificate,
  settlementAccount: z.string().regex(SETTLEMENT_ACCOUNT, 'must be 1 to 128 characters of letters, digits and ._:@-'),
});
const renewBody = z.strictObject({ certificate, endpoint: endpoint.optional() });
const identifier = z.string().regex(IDENTIFIER, 'must be 3 to 128 characters of letters, digits and ._@+:-');
const lookupBody = z.strictObject({ userIdentifier: identifier });

const invalid = (field: string, message: string) => Object.assign(new DirectoryError(400, 'invalid_request', field ? `${field}: ${message}` : message), { field });

function parse<T extends z.ZodType>(schema: T, body: unknown, field = ''): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') throw invalid(issue.keys[0], 'unknown field');
  throw invalid([field, ...issue.path.map(String)].filter(Boolean).join('.'), issue.message);
}

const errorBody = (code: string, message: string, field?: string) => ({ error: { code, message, ...(field ? { field } : {}) } });

const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let e: DirectoryError;
  const t = (err as { type?: string }).type;
  const status = (err as { status?: number }).status;
  if (err instanceof DirectoryError) e = err;
  else if (t === 'entity.too.large') e = new DirectoryError(413, 'body_too_large', `The request body exceeds ${MAX_BODY_BYTES} bytes`);
  else if (t === 'entity.parse.failed') e = invalid('body', 'not valid JSON');
  else if (typeof status === 'number' && status >= 400 && status < 500) e = new DirectoryError(status, 'invalid_request', String((err as Error).message));
  else {
    console.error(`directory: ${req.method} ${req.originalUrl} failed:`, err);
    e = new DirectoryError(500, 'internal_error', 'An internal error occurred');
  }
  if (!res.headersSent) res.status(e.status).json(errorBody(e.code, e.message, (e as { field?: string }).field));
};

const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) throw new DirectoryError(415, 'unsupported_media_type', 'Send request bodies as application/json');
  next();
};

const sha256 = (s: string) => createHash('sha256').update(s).digest();

declare module 'express-serve-static-core' {
  interface Locals {
    /** The approved gateway that signed the request. */
    callerGatewayId?: string;
  }
}

/** Migrates the directory's schema and serves both APIs until stop(). */
export async function startDirectory(opts: DirectoryOptions): Promise<RunningDirectory> {
  const host = opts.host ?? '127.0.0.1';
  const adminHost = opts.adminHost ?? '127.0.0.1';
  const toleranceMs = opts.signatureToleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS;
  const db = createDb(opts.databaseUrl, { applicationName: 'gateway-directory' });
  const publicServer = createServer();
  const adminServer = createServer();
  const rawBodies = new WeakMap<IncomingMessage, string>();
  let faults: DirectoryFaultState = { mode: 'none' };
  let purgeTimer: NodeJS.Timeout | undefined;
  try {
    await migrateDirectory(db);

    /** A certificate from the CA, valid now, for gatewayId; else 422 certificate_invalid with the reason. */
    const checkCertificate = (pem: string, gatewayId: string) => {
      const c = verifyGatewayCert(pem, opts.caPem, Date.now());
      if (!c.ok) throw new DirectoryError(422, 'certificate_invalid', `The certificate is not valid: ${c.reason}`);
      if (c.gatewayId !== gatewayId) throw new DirectoryError(422, 'certificate_invalid', `The certificate is for gateway ${c.gatewayId}, not ${gatewayId}`);
      return c;
    };

    /** Verifies the request's signature against certPem and records its nonce; 401 otherwise. */
    const authenticate = async (req: Request, certPem: string): Promise<string> => {
      const check = verifyRequest(certPem, req.headers, { method: req.method, path: req.originalUrl, body: rawBodies.get(req) ?? '' }, Date.now(), toleranceMs);
      if (!check.ok) {
        const why = {
          unsigned: 'Sign the request (fed-gateway, fed-timestamp, fed-nonce, fed-signature)',
          wrong_gateway: "fed-gateway does not name the certificate's gateway",
          bad_signature: 'The signature does not verify',
          stale: `The timestamp is more than ${toleranceMs} ms away from the directory's clock`,
        }[check.reason];
        throw new DirectoryError(401, check.reason === 'wrong_gateway' ? 'bad_signature' : check.reason, why);
      }
      if (!(await rememberNonce(db, check.gatewayId, check.nonce))) throw new DirectoryError(401, 'replayed', 'This nonce was used before');
      return check.gatewayId;
    };

    const notApproved = (id: string, why: string) => new DirectoryError(403, 'gateway_not_approved', `Gateway ${id} ${why}`);

    // ---- public API ----
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.get('/health', async (_req, res) => {
      await db.raw('SELECT 1');
      res.status(faults.mode === 'down' ? 503 : 200).json({ status: faults.mode === 'down' ? 'down' : 'ok', service: 'gateway-directory' });
    });
    const v1 = express.Router();
    const fault: RequestHandler = (_req, res, next) => {
      if (faults.mode === 'down') {
        res.status(503).set('Retry-After', '1').json(errorBody('directory_unavailable', 'The directory is unavailable; retry shortly'));
        return;
      }
      next();
    };
    const signedAtAll: RequestHandler = (req, _res, next) => {
      if (Object.values(FED_HEADERS).some((h) => !req.get(h))) {
        throw new DirectoryError(401, 'unsigned', 'Sign the request (fed-gateway, fed-timestamp, fed-nonce, fed-signature)');
      }
      next();
    };
    /** The caller: a known gateway whose signature verifies, approved, with a certificate valid now. */
    const approvedCaller: RequestHandler = async (req, res, next) => {
      const id = req.get(FED_HEADERS.gateway)!;
      const entry = GATEWAY_ID.test(id) ? await gatewayEntry(db, id) : undefined;
      if (!entry) throw notApproved(id.slice(0, 64), 'is not registered');
      await authenticate(req, entry.certificate);
      if (entry.status !== 'approved') throw notApproved(id, `is ${entry.status}`);
      const c = verifyGatewayCert(entry.certificate, opts.caPem, Date.now());
      if (!c.ok) throw notApproved(id, `has a certificate that is ${c.reason}: renew it`);
      res.locals.callerGatewayId = id;
      next();
    };
    const gatewayIdParam = (req: Request) => parse(z.string().regex(GATEWAY_ID, 'must be a gateway id'), String(req.params.id), 'id');
    const identifierParam = (req: Request) => parse(identifier, String(req.params.identifier), 'identifier');

    v1.use(fault, jsonOnly, express.json({
      limit: MAX_BODY_BYTES, strict: true, verify: (req, _res, buf) => { rawBodies.set(req, buf.toString('utf8')); },
    }), signedAtAll);

    v1.post('/gateways', async (req, res) => {
      const b = parse(registerBody, req.body ?? {});
      const c = checkCertificate(b.certificate, b.gatewayId);
      await authenticate(req, b.certificate);
      const r = await registerGateway(db, { ...b, fingerprint256: c.fingerprint256, notAfter: c.notAfter });
      if (r.outcome === 'revoked') throw new DirectoryError(403, 'gateway_revoked', `Gateway ${b.gatewayId} is revoked`);
      if (r.outcome === 'differs') {
        throw new DirectoryError(409, 'gateway_exists', `Gateway ${b.gatewayId} is registered with other details; renew to change its certificate or endpoint`);
      }
      res.status(r.outcome === 'created' ? 201 : 200).json(r.entry);
    });
    v1.post('/gateways/:id/renew', async (req, res) => {
      const id = gatewayIdParam(req);
      const entry = await gatewayEntry(db, id);
      if (!entry) throw new DirectoryError(404, 'unknown_gateway', `No gateway ${id}`);
      await authenticate(req, entry.certificate);
      if (entry.status === 'revoked') throw new DirectoryError(403, 'gateway_revoked', `Gateway ${id} is revoked`);
      const b = parse(renewBody, req.body ?? {});
      const c = checkCertificate(b.certificate, id);
      const renewed = await renewGateway(db, id, { certificate: b.certificate, fingerprint256: c.fingerprint256, notAfter: c.notAfter, endpoint: b.endpoint });
      if (!renewed) throw new DirectoryError(403, 'gateway_revoked', `Gateway ${id} is revoked`);
      res.json(renewed);
    });
    v1.get('/gateways/:id', approvedCaller, async (req, res) => {
      const id = gatewayIdParam(req);
      const entry = await gatewayEntry(db, id);
      if (!entry) throw new DirectoryError(404, 'unknown_gateway', `No gateway ${id}`);
      res.json(entry);
    });
    v1.put('/identifiers/:identifier', approvedCaller, async (req, res) => {
      const r = await bindIdentifier(db, identifierParam(req), res.locals.callerGatewayId!);
      if (r.outcome === 'taken') throw new DirectoryError(409, 'identifier_taken', `${r.binding.identifier} is bound to another gateway`);
      res.status(r.outcome === 'created' ? 201 : 200).json(r.binding);
    });
    v1.delete('/identifiers/:identifier', approvedCaller, async (req, res) => {
      const id = identifierParam(req);
      const r = await unbindIdentifier(db, id, res.locals.callerGatewayId!);
      if (r === 'unknown') throw new DirectoryError(404, 'unknown_identifier', `${id} is not bound`);
      if (r === 'not_yours') throw new DirectoryError(403, 'identifier_not_yours', `${id} is bound to another gateway`);
      res.status(204).end();
    });
    v1.post('/lookup', approvedCaller, async (req, res) => {
      const { userIdentifier } = parse(lookupBody, req.body ?? {});
      const entry = await lookupIdentifier(db, userIdentifier);
      if (!entry) throw new DirectoryError(404, 'unknown_identifier', `No approved gateway holds ${userIdentifier}`);
      res.json({ userIdentifier, gateway: peerOf(entry) });
    });
    app.use('/v1', v1);
    app.use((req) => { throw new DirectoryError(404, 'route_not_found', `No route ${req.method} ${req.path}`); });
    app.use(errorHandler);
    publicServer.on('request', app);

    // ---- admin API ----
    const admin = express();
    admin.disable('x-powered-by');
    admin.set('etag', false);
    admin.get('/health', (_req, res) => { res.json({ status: 'ok', service: 'gateway-directory-admin' }); });
    const tokenHash = sha256(opts.adminToken);
    admin.use((req, _res, next) => {
      const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.get('authorization') ?? '');
      if (!m || !timingSafeEqual(sha256(m[1]), tokenHash)) throw new DirectoryError(401, 'unauthorized', "Send the operator's token as Authorization: Bearer <token>");
      next();
    });
    admin.use(jsonOnly, express.json({ limit: MAX_BODY_BYTES, strict: true }));
    const known = (id: string, e: DirectoryEntry | undefined): DirectoryEntry => {
      if (!e) throw new DirectoryError(404, 'unknown_gateway', `No gateway ${id}`);
      return e;
    };
    admin.get('/admin/gateways', async (_req, res) => { res.json({ data: await listGateways(db) }); });
    admin.post('/admin/gateways/:id/approve', async (req, res) => {
      const id = gatewayIdParam(req);
      const e = known(id, await approveGateway(db, id));
      if (e.status === 'revoked') throw new DirectoryError(409, 'gateway_revoked', `Gateway ${id} is revoked for good`);
      res.json(e);
    });
    admin.post('/admin/gateways/:id/revoke', async (req, res) => {
      const id = gatewayIdParam(req);
      res.json(known(id, await revokeGateway(db, id)));
    });
    admin.get('/admin/faults', (_req, res) => { res.json(faults); });
    admin.put('/admin/faults', (req, res) => {
      faults = { mode: parse(faultSettingsSchema, req.body ?? {}).mode };
      res.json(faults);
    });
    admin.use((req) => { throw new DirectoryError(404, 'route_not_found', `No route ${req.method} ${req.path}`); });
    admin.use(errorHandler);
    adminServer.on('request', admin);

    // ---- nonces older than twice the tolerance cannot pass the timestamp check again ----
    const purge = () => {
      purgeNonces(db, 2 * toleranceMs).catch((err: unknown) => console.error('directory: purging nonces failed:', err));
    };
    purge();
    purgeTimer = setInterval(purge, opts.noncePurgeIntervalMs ?? DEFAULT_NONCE_PURGE_INTERVAL_MS);
    purgeTimer.unref();

    const port = await listen(publicServer, opts.port, host);
    const adminPort = await listen(adminServer, opts.adminPort ?? (opts.port === 0 ? 0 : opts.port + 1), adminHost);
    return {
      url: `http://${urlHost(host)}:${port}`,
      adminUrl: `http://${urlHost(adminHost)}:${adminPort}`,
      async stop() {
        clearInterval(purgeTimer);
        await Promise.all([close(publicServer), close(adminServer)]);
        await db.destroy();
      },
    };
  } catch (err) {
    clearInterval(purgeTimer);
    await Promise.all([close(publicServer), close(adminServer)]);
    await db.destroy();
    throw err;
  }
}
