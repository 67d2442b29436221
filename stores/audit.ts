// The audit log: one row per successful non-GET authenticated API operation (the API writes it generically, see
// api/audit.ts), listed by operators newest first.
import { randomBytes } from 'node:crypto';
import type { Db } from '../ledger/db';
import { given, type Page, type PageRequest, pageOf } from './page';

export interface AuditEntry {
  principalId: string;
  apiKeyId: string;
  requestId: string;
  method: string;
  path: string;
  status: number;
  /** The object the operation acted on: its `object` kind, id and state (or status), as its answer names them. */
  objectType: string | null;
  objectId: string | null;
  objectState: string | null;
  requestBody: unknown;
  /** The object before (where the route read it anyway) and after (the answer, secrets left out). */
  before: unknown;
  after: unknown;
}

export interface AuditEvent extends AuditEntry { id: string; createdAt: Date }

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const eventOf = (r: Record<string, any>): AuditEvent => ({
  id: r.id, createdAt: r.created_at, principalId: r.principal_id, apiKeyId: r.api_key_id, requestId: r.request_id, method: r.method,
  path: r.path, status: r.status, objectType: r.object_type, objectId: r.object_id, objectState: r.object_state,
  requestBody: r.request_body, before: r.before, after: r.after,
});

export class AuditStore {
  constructor(private readonly db: Db) {}

  async record(e: AuditEntry): Promise<void> {
    await this.db('audit_events').insert({
      id: `ae_${randomBytes(12).toString('hex')}`, principal_id: e.principalId, api_key_id: e.apiKeyId, request_id: e.requestId,
      method: e.method, path: e.path, status: e.status, object_type: e.objectType, object_id: e.objectId, object_state: e.objectState,
      request_body: json(e.requestBody), before: json(e.before), after: json(e.after),
    });
  }

  /** Newest first, a page at a time; all principals' or one's. */
  list(req: PageRequest & { principalId?: string }): Promise<Page<AuditEvent>> {
    return pageOf(() => this.db('audit_events').where(given({ principal_id: req.principalId })), req, eventOf);
  }
}
