// GET /v1/audit-events: the audit log (api/audit.ts writes it), for operators, newest first.
import { z } from 'zod';
import type { AuditEvent, AuditStore } from '../../stores/audit';
import { type Operation, operation, PATH_ID } from '../operations';
import { pageAnswer, pageRequest } from '../paging';
import { pageOf, pageQuery, timestamp } from '../schemas';

const auditEventSchema = z.object({
  id: z.string(), object: z.literal('audit_event'), createdAt: timestamp,
  principalId: z.string(), apiKeyId: z.string(), requestId: z.string(),
  method: z.string(), path: z.string(), status: z.number().int(),
  objectType: z.string().nullable().meta({ description: "The answer's object kind (merchant, order, api_key, ...)" }),
  objectId: z.string().nullable().meta({ description: 'The id of the object acted on' }),
  objectState: z.string().nullable().meta({ description: 'Its state (or status) after the operation, when it has one' }),
  requestBody: z.unknown().meta({ description: 'The request body as sent (null: none)' }),
  before: z.unknown().meta({ description: 'The object before the operation, where the route read it (settings, keys); else null' }),
  after: z.unknown().meta({ description: 'The answer: the object after the operation (secrets shown once left out)' }),
}).meta({ id: 'AuditEvent' });

const auditEventView = (e: AuditEvent) => ({ ...e, object: 'audit_event' as const, createdAt: e.createdAt.toISOString() });

export function auditOperations(audit: AuditStore): Operation[] {
  return [
    operation({
      method: 'get', path: '/audit-events', allow: ['operator'],
      summary: 'The audit log (operator): every successful change made through the API, newest first, a page at a time',
      description: 'Every non-GET authenticated operation that succeeded, except micro-payments and grant redemptions '
        + '(recorded in their own tables).',
      query: z.strictObject({ ...pageQuery, principalId: PATH_ID.optional().meta({ description: "Only this principal's" }) }),
      responses: { 200: { description: 'OK', schema: pageOf(auditEventSchema) } },
      async handler({ res, query: { principalId, ...page } }) {
        res.json(pageAnswer(await audit.list({ ...pageRequest(page), principalId }), auditEventView));
      },
    }),
  ];
}
