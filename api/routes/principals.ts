// Merchants and buyer apps (made by operators, each with its first API key), more keys, and "who am I".
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../ledger/db';
import { allow, assertCanSee, principalOf } from '../auth';
import { ApiError, notFound } from '../errors';
import { idempotent } from '../idempotency';
import { activeKeyCount, createPrincipal, getPrincipal, issueKey, MAX_ACTIVE_KEYS_PER_PRINCIPAL, type PrincipalKind } from '../principals';
import { name, parseBody, pathId } from '../validation';

const createBody = z.strictObject({ name });
const keyBody = z.strictObject({ principalId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/) });

const view = (p: { id: string; kind: PrincipalKind; name: string; createdAt?: Date }) =>
  ({ id: p.id, object: p.kind, name: p.name, createdAt: p.createdAt?.toISOString() });

export function principalRoutes(db: Db): Router {
  const r = Router();

  for (const [path, kind] of [['/merchants', 'merchant'], ['/buyer-apps', 'buyer_app']] as const) {
    r.post(path, allow('operator'), idempotent(db), async (req, res) => {
      const body = parseBody(createBody, req);
      const { principal, apiKey } = await createPrincipal(db, kind, body.name);
      const created = await getPrincipal(db, principal.id);
      res.locals.idempotencyRedact = ['apiKey'];
      res.status(201).json({ ...view(created!), apiKey });
    });

    r.get(`${path}/:id`, async (req, res) => {
      const id = pathId(req, 'id');
      const p = await getPrincipal(db, id);
      assertCanSee(principalOf(res), p?.id, kind);
      if (!p || p.kind !== kind) throw notFound(kind);
      res.json(view(p));
    });
  }

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
