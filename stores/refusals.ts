// Inputs the broker refused from outside (unsigned, stale or replayed gateway webhooks, replies from unknown numbers,
// forged or replayed device answers, ...), counted by kind and reason: what an operator watches for an attack or a
// misconfigured partner (GET /v1/refusals). The refusal itself is logged by its caller, without personal data.
import type { Db } from '../ledger/db';

export interface RefusalCount {
  kind: string;
  reason: string;
  count: number;
  lastAt: Date;
}

export class RefusalStore {
  constructor(private readonly db: Db) {}

  async count(kind: string, reason: string): Promise<void> {
    await this.db.raw(`INSERT INTO refusals (kind, reason, count) VALUES (?, ?, 1)
      ON CONFLICT (kind, reason) DO UPDATE SET count = refusals.count + 1, last_at = now()`, [kind, reason]);
  }

  async list(): Promise<RefusalCount[]> {
    const rows = await this.db('refusals').orderBy(['kind', 'reason']);
    return rows.map((r) => ({ kind: r.kind, reason: r.reason, count: Number(r.count), lastAt: r.last_at }));
  }
}
