// API keys: a principal lists, creates, rolls and revokes its own (operators any principal's). The secret is shown
// once, when a key is made; a list shows each key's id (the visible part of pb_<id>_<secret>) and last four.
import { z } from 'zod';
import type { ApiKey, Principal, PrincipalStore } from '../../stores/principals';
import { KEY_MODES, MAX_ACTIVE_KEYS_PER_PRINCIPAL, MAX_ROLL_OVERLAP_SECONDS } from '../../stores/principals';
import { assertCanSee } from '../auth';
import { type Operation, operation, PATH_ID } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { nullableTimestamp, pageOf, pageQuery, shownOnce, timestamp } from '../schemas';

const apiKeySchema = z.object({
  id: z.string().meta({ description: 'The key\'s id, which is also its visible part: pb_<id>_<secret>' }),
  object: z.literal('api_key'), principalId: z.string(),
  mode: z.enum(KEY_MODES).meta({ description: 'full, or read_only: GET and HEAD only (anything else is 403 api_key_read_only)' }),
  last4: z.string().nullable().meta({ description: "The secret's last four characters (null for keys made before they were kept)" }),
  createdAt: timestamp,
  lastUsedAt: nullableTimestamp.meta({ description: 'When the key was last used, to within a minute' }),
  expiresAt: nullableTimestamp.meta({ description: 'A rolled key works until then' }),
  revokedAt: nullableTimestamp,
}).meta({ id: 'ApiKey' });
const withSecret = z.object({ ...apiKeySchema.shape, apiKey: shownOnce('The new API key') });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const apiKeyView = (k: ApiKey): z.infer<typeof apiKeySchema> => ({
  id: k.id, object: 'api_key', principalId: k.principalId, mode: k.mode, last4: k.last4, createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt), expiresAt: iso(k.expiresAt), revokedAt: iso(k.revokedAt),
});

export function apiKeyOperations(principals: PrincipalStore): Operation[] {
  /** The principal whose keys a request names (absent: the caller's own); others' are 404 but to operators. */
  const whose = async (caller: Principal, principalId: string | undefined) => {
    if (principalId === undefined || principalId === caller.id) return caller.id;
    const p = await principals.get(principalId);
    assertCanSee(caller, p?.id, 'principal');
    return p.id;
  };
  const visibleKey = async (caller: Principal, id: string) => {
    const key = await principals.getKey(id);
    assertCanSee(caller, key?.principalId, 'API key');
    return key!;
  };
  return [
    operation({
      method: 'post', path: '/api-keys', allow: 'any', idempotency: 'stored', bodyRequired: false,
      summary: 'Create another API key: your own (operators: any principal\'s)',
      description: `A principal holds at most ${MAX_ACTIVE_KEYS_PER_PRINCIPAL} working keys (422 too_many_api_keys).`,
      body: z.strictObject({
        principalId: PATH_ID.optional().meta({ description: 'Whose key (operators); default: yours' }),
        mode: z.enum(KEY_MODES).default('full').meta({ description: 'read_only: the key may only GET' }),
      }),
      responses: { 201: { description: 'Created', schema: withSecret } },
      async handler({ res, principal, body }) {
        const { key, apiKey } = await principals.issueKey(await whose(principal, body.principalId), body.mode);
        res.locals.redactFields = ['apiKey'];
        res.status(201).json({ ...apiKeyView(key), apiKey });
      },
    }),
    operation({
      method: 'get', path: '/api-keys', allow: 'any',
      summary: 'API keys, newest first, a page at a time: yours (operators: any principal\'s); never their secrets',
      query: z.strictObject({ ...pageQuery, principalId: PATH_ID.optional().meta({ description: 'Whose keys (operators); default: yours' }) }),
      responses: { 200: { description: 'OK', schema: pageOf(apiKeySchema) } },
      async handler({ res, principal, query: { principalId, ...page } }) {
        res.json(pageAnswer(await principals.listKeys(await whose(principal, principalId), pageRequest(page)), apiKeyView));
      },
    }),
    operation({
      method: 'post', path: '/api-keys/:id/roll', allow: 'any', idempotency: 'stored', bodyRequired: false,
      summary: 'Replace a key with a new one (same principal and mode); the old one works until the overlap ends',
      description: 'A revoked key (409 api_key_revoked) or one rolled before (409 api_key_rolled: roll its successor) cannot be rolled.',
      body: z.strictObject({
        overlapSeconds: z.number().int().min(0).max(MAX_ROLL_OVERLAP_SECONDS).default(0)
          .meta({ description: 'How long the old key goes on working (0, the default: it stops now)' }),
      }),
      responses: { 201: { description: 'The new key', schema: withSecret } },
      async handler({ res, principal, params, body }) {
        const old = await visibleKey(principal, params.id);
        res.locals.auditBefore = apiKeyView(old);
        const rolled = await principals.roll(old, body.overlapSeconds);
        res.locals.redactFields = ['apiKey'];
        res.status(201).json({ ...apiKeyView(rolled.key), apiKey: rolled.apiKey });
      },
    }),
    operation({
      method: 'post', path: '/api-keys/:id/revoke', allow: 'any',
      summary: 'Revoke a key now; revoking it again changes nothing',
      description: 'Your own last full key that does not expire is not revoked (409 last_api_key: create or roll another first); '
        + 'an operator may revoke another principal\'s last key.',
      responses: { 200: { description: 'Revoked', schema: apiKeySchema } },
      async handler({ res, principal, params }) {
        const key = await visibleKey(principal, params.id);
        res.locals.auditBefore = apiKeyView(key);
        res.json(apiKeyView(await principals.revoke(key, { keepOneFull: key.principalId === principal.id })));
      },
    }),
  ];
}
