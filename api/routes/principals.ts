// Merchants (with their order settings) and buyer apps, made by operators with a first API key each;
// further keys; and "who am I".
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../ledger/db';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, notFound } from '../errors';
import { idempotent } from '../idempotency';
import { getMerchant, merchantSettingsSchema, merchantView, settingsColumns } from '../merchants';
import { activeKeyCount, createPrincipal, getPrincipal, issueKey, MAX_ACTIVE_KEYS_PER_PRINCIPAL, type PrincipalKind } from '../principals';
import { name, parseBody, pathId } from '../validation';

const merchantBody = z.strictObject({ name, ...merchantSettingsSchema });
const merchantPatch = z.strictObject({ name: name.optional(), ...merchantSettingsSchema });
const buyerAppBody = z.strictObject({ name });
const keyBody = z.strictObject({ principalId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/) });

const view = (p: { id: string; kind: PrincipalKind; name: string; createdAt?: Date }) =>
  ({ id: p.id, object: p.kind, name: p.name, createdAt: p.createdAt?.toISOString() });

export function principalRoutes(db: Db): Router {
  const r = Router();

  r.post('/merchants', allow('operator'), idempotent(db), async (req, res) => {
    const { name: merchantName, ...settings } = parseBody(merchantBody, req);
    const { principal, apiKey } = await createPrincipal(db, 'merchant', merchantName, settingsColumns(settings));
    res.locals.idempotencyRedact = ['apiKey'];
    res.status(201).json({ ...merchantView((await getMerchant(db, principal.id))!), apiKey });
  });

  r.get('/merchants/:id', async (req, res) => {
    const m = await getMerchant(db, pathId(req, 'id'));
    assertCanSee(principalOf(res), m?.id, 'merchant');
    res.json(merchantView(m!));
  });

  r.patch('/merchants/:id', allow('operator'), async (req, res) => {
    const id = pathId(req, 'id');
    const { name: newName, ...settings } = parseBody(merchantPatch, req);
    if (!(await getMerchant(db, id))) throw notFound('merchant');
    await db.transaction(async (trx) => {
      const cols = settingsColumns(settings);
      if (newName !== undefined) {
        cols.name = newName;
        await trx('principals').where({ id }).update({ name: newName });
      }
      if (Object.keys(cols).length) await trx('merchants').where({ id }).update(cols);
    });
    res.json(merchantView((await getMerchant(db, id))!));
  });

  r.post('/buyer-apps', allow('operator'), idempotent(db), async (req, res) => {
    const body = parseBody(buyerAppBody, req);
    const { principal, apiKey } = await createPrincipal(db, 'buyer_app', body.name);
    res.locals.idempotencyRedact = ['apiKey'];
    res.status(201).json({ ...view((await getPrincipal(db, principal.id))!), apiKey });
  });

  r.get('/buyer-apps/:id', async (req, res) => {
    const p = await getPrincipal(db, pathId(req, 'id'));
    assertCanSee(principalOf(res), p?.kind === 'buyer_app' ? p.id : undefined, 'buyer app');
    res.json(view(p!));
  });

  r.post('/api-keys', allow('operator'), idempotent(db), async (req, res) => {
    const body = parseBody(keyBody, req);
    const p = await getPrincipal(db, body.principalId);
    if (!p) throw notFound('principal');
    if (await activeKeyCount(db, p.id) >= MAX_ACTIVE_KEYS_PER_PRINCIPAL) {
      throw new ApiError(422, 'unprocessable_error', 'too_many_api_keys',
        `A principal may hold at most ${MAX_ACTIVE_KEYS_PER_PRINCIPAL} active API keys`, 'principalId');
    }
    res.locals.idempotencyRedact = ['apiKey'];
    res.status(201).json({ principalId: p.id, apiKey: await issueKey(db, p.id) });
  });

  r.get('/me', async (_req, res) => {
    res.json(view(principalOf(res)));
  });

  return r;
}
