// The customer's side of an order, on other channels: the messaging gateway's signed webhooks (offers' receipts and
// customers' replies), customers' devices (a registration code from the merchant, the device's key, its signed polls
// and answers) and the authentication requests sent to them, and the count of what was refused. The gateway's
// webhooks and the devices' calls carry no API key: a signature is their credential (services/confirmations.ts,
// services/authentications.ts), and each refusal is counted and logged (without personal data).
import { z } from 'zod';
import { DEVICE_ALGORITHMS } from '../../domain/stepUp';
import type { Services } from '../../services';
import { MAX_PENDING_PER_POLL } from '../../services/authentications';
import type { AuthenticationRow, DeviceRow } from '../../stores/devices';
import { assertCanSee } from '../auth';
import { logRefusal } from '../errors';
import { type Operation, operation } from '../operations';
import { clientId, currency, listOf, timestamp } from '../schemas';

const b64url = (max: number) => z.string().regex(/^[A-Za-z0-9_-]+$/, 'base64url').max(max);
const deviceId = z.string().regex(/^dev_[A-Za-z0-9_-]{1,40}$/);

const deviceSchema = z.object({
  id: z.string(), object: z.literal('device'), merchantId: z.string(), customerId: z.string(), algorithm: z.enum(DEVICE_ALGORITHMS),
  name: z.string().nullable(), createdAt: timestamp,
}).meta({ id: 'Device' });
const deviceView = (d: DeviceRow) => ({ id: d.id, object: 'device' as const, merchantId: d.merchantId, customerId: d.customerId,
  algorithm: d.algorithm, name: d.name, createdAt: d.createdAt.toISOString() });

const requestSchema = z.object({
  id: z.string(), deviceId: z.string(), merchantId: z.string(), merchantName: z.string(), orderId: z.string(), amountMinor: z.number().int(),
  currency: z.string(), reference: z.string(), challenge: z.string(), issuedAt: timestamp, expiresAt: timestamp, serverKeyId: z.string(),
  serverSignature: z.string().meta({ description: "Ed25519 over the request's signing input (see the README), by the key the device got at registration" }),
}).meta({ id: 'AuthenticationRequest' });

const authenticationSchema = z.object({
  id: z.string(), object: z.literal('authentication'), orderId: z.string(), merchantId: z.string(), customerId: z.string(),
  state: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled']), amountMinor: z.number().int(), currency: z.string(),
  reference: z.string(), deviceIds: z.array(z.string()), answeredBy: z.string().nullable(), expiresAt: timestamp, decidedAt: timestamp.nullable(),
}).meta({ id: 'Authentication' });
const authenticationView = (a: AuthenticationRow) => ({
  id: a.id, object: 'authentication' as const, orderId: a.orderId, merchantId: a.merchantId, customerId: a.customerId, state: a.state,
  amountMinor: a.request.amountMinor, currency: a.request.currency, reference: a.request.reference, deviceIds: a.deviceIds,
  answeredBy: a.answeredBy, expiresAt: a.expiresAt.toISOString(), decidedAt: a.decidedAt?.toISOString() ?? null,
});

export function customerOperations(services: Services): { open: Operation[]; authenticated: Operation[] } {
  const { confirmations, authentications, clock } = services;
  const open: Operation[] = [
    operation({
      method: 'post', path: '/messaging/webhooks', allow: 'public',
      summary: "The messaging gateway's signed webhooks: delivery receipts of offers and customers' replies (the gateway calls it)",
      description: 'Signed with the shared secret (headers gateway-webhook-id, -timestamp, -signature: v1=HMAC-SHA256 of "<timestamp>.<id>.<raw body>"); '
        + 'refused 401 when unsigned, forged or more than 5 minutes off, 409 when its id was received before. A reply from a number with nothing '
        + 'waiting is answered 200 with outcome refused (counted; nothing changes).',
      body: z.object({ type: z.string().max(64), data: z.record(z.string(), z.unknown()) }),
      responses: { 200: { description: 'Received', schema: z.object({ received: z.literal(true), outcome: z.string(), reason: z.string().optional() }) } },
      async handler({ req, res }) {
        const raw = (req as { rawBody?: Buffer }).rawBody ?? Buffer.from(JSON.stringify(req.body));
        const out = await confirmations.receive(req.headers, raw, clock()).catch(logRefusal(res, 'gateway webhook'));
        if (out.outcome === 'refused') res.locals.logger?.warn({ requestId: res.locals.requestId, refused: 'confirmation reply', reason: out.reason }, 'a reply was refused');
        if (out.warning) res.locals.logger?.warn({ requestId: res.locals.requestId, outcome: out.outcome }, out.warning);
        res.json({ received: true, outcome: out.outcome, ...(out.reason ? { reason: out.reason } : {}) });
      },
    }),
    operation({
      method: 'post', path: '/devices', allow: 'public',
      summary: "Register a customer's device with a one-time registration code (the device calls it; the code is its credential)",
      description: 'The answer carries the server key the device checks every authentication request with.',
      body: z.strictObject({
        registrationCode: z.string().max(40).meta({ description: 'PBDEV-XXXXX-XXXXX-XXXXX-XXXXX, from the merchant (POST /v1/device-registrations)' }),
        algorithm: z.enum(DEVICE_ALGORITHMS),
        publicKey: b64url(256).meta({ description: 'base64url of the SPKI DER of an Ed25519 or P-256 key' }),
        name: z.string().trim().min(1).max(100).optional(),
      }),
      responses: { 201: { description: 'Registered', schema: z.object({ ...deviceSchema.shape,
        serverKey: z.object({ id: z.string(), algorithm: z.literal('ed25519'), publicKey: z.string() }) }) } },
      async handler({ res, body }) {
        const { device, serverKey } = await authentications.register(body).catch(logRefusal(res, 'device registration'));
        res.status(201).json({ ...deviceView(device), serverKey });
      },
    }),
    operation({
      method: 'get', path: '/devices/:id/authentications', allow: 'public', params: { id: deviceId },
      summary: 'The authentication requests waiting for the device (the device calls it, signing the poll)',
      description: `Authorization: Device <device id>:<unix seconds>:<signature of the poll>. At most ${MAX_PENDING_PER_POLL}, oldest first.`,
      responses: { 200: { description: 'OK', schema: listOf(requestSchema) } },
      async handler({ req, res, params }) {
        const data = await authentications.pending(params.id, req.get('authorization'), clock()).catch(logRefusal(res, 'device poll'));
        res.json({ object: 'list', data });
      },
    }),
    operation({
      method: 'post', path: '/authentications/:id/response', allow: 'public',
      summary: "The device's signed answer to an authentication request (the device calls it; the signature is its credential)",
      description: 'Refused (and nothing changes) when the device was not asked or is unknown (401/403), the answer is bound to another request '
        + '(422 answer_binding_mismatch), the signature is not the device\'s (401 signature_invalid), it was signed more than 5 minutes from now '
        + '(401 signature_stale), the request expired (410 authentication_expired) or was answered already (409 authentication_already_answered).',
      body: z.strictObject({
        authenticationId: z.string().max(100), deviceId: z.string().max(100), decision: z.enum(['approve', 'reject']), challenge: b64url(100),
        amountMinor: z.number().int().min(0), currency, merchantId: z.string().max(100), reference: z.string().max(200),
        signedAt: z.string().max(40), signature: b64url(200),
      }),
      responses: { 200: { description: 'Taken: the order goes on with it', schema: authenticationSchema } },
      async handler({ res, params, body }) {
        const { authentication, warning } = await authentications.respond(params.id, body, clock()).catch(logRefusal(res, 'device answer'));
        if (warning) res.locals.logger?.warn({ requestId: res.locals.requestId }, warning);
        res.json(authenticationView(authentication));
      },
    }),
  ];
  const authenticated: Operation[] = [
    operation({
      method: 'post', path: '/device-registrations', allow: ['merchant'],
      summary: "A one-time code with which the merchant's customer registers a device for step-up authentication",
      description: 'Shown once; valid 15 minutes. Show it to the customer (it fits a QR code\'s alphanumeric mode).',
      body: z.strictObject({ customerId: clientId }),
      responses: { 201: { description: 'Created', schema: z.object({ id: z.string(), object: z.literal('device_registration'), customerId: z.string(),
        code: z.string().meta({ description: 'PBDEV-XXXXX-XXXXX-XXXXX-XXXXX, shown once' }), expiresAt: timestamp }) } },
      async handler({ res, principal, body }) {
        const r = await authentications.createRegistration(principal.id, body.customerId);
        res.locals.redactFields = ['code'];
        res.status(201).json({ id: r.id, object: 'device_registration', customerId: r.customerId, code: r.code, expiresAt: r.expiresAt.toISOString() });
      },
    }),
    operation({
      method: 'get', path: '/customers/:customerId/devices', allow: ['merchant'], params: { customerId: clientId },
      summary: "The customer's registered devices (not revoked)",
      responses: { 200: { description: 'OK', schema: listOf(deviceSchema) } },
      async handler({ res, principal, params }) {
        res.json({ object: 'list', data: (await authentications.devices(principal.id, params.customerId)).map(deviceView) });
      },
    }),
    operation({
      method: 'delete', path: '/devices/:id', allow: ['merchant'], params: { id: deviceId },
      summary: "Revoke a customer's device: it is sent no more requests and its answers are refused",
      responses: { 200: { description: 'Revoked', schema: deviceSchema } },
      async handler({ res, principal, params }) {
        const d = await authentications.device(params.id);
        assertCanSee(principal, d?.merchantId, 'device');
        await authentications.revoke(params.id);
        res.json(deviceView(d!));
      },
    }),
    operation({
      method: 'get', path: '/authentications/:id', allow: ['merchant', 'operator'], summary: 'An authentication request and how it stands',
      responses: { 200: { description: 'OK', schema: authenticationSchema } },
      async handler({ res, principal, params }) {
        const a = await authentications.authentication(params.id);
        assertCanSee(principal, a?.merchantId, 'authentication');
        res.json(authenticationView(a!));
      },
    }),
    operation({
      method: 'get', path: '/refusals', allow: ['operator'],
      summary: 'What was refused from outside, counted by kind and reason (forged or replayed webhooks and device answers, unknown numbers, ...)',
      responses: { 200: { description: 'OK', schema: listOf(z.object({ kind: z.string(), reason: z.string(), count: z.number().int(), lastAt: timestamp })) } },
      async handler({ res }) {
        const rows = await services.stores.refusals.list();
        res.json({ object: 'list', data: rows.map((r) => ({ ...r, lastAt: r.lastAt.toISOString() })) });
      },
    }),
  ];
  return { open, authenticated };
}
