// Reconciliation of the ledger with the processor's records, for operators: run a day now (again), the days
// reconciled, one day's figures. Each mismatch is a problem (GET /v1/problems?workflowId=<the day's workflowId>).
import { z } from 'zod';
import { isDay, previousDay } from '../../domain/reconciliation';
import type { Services } from '../../services';
import type { Reconciliation } from '../../stores/reconciliation';
import { notFound, unprocessable } from '../errors';
import { type Operation, operation } from '../operations';
import { listOperation } from '../paging';
import { nullableTimestamp, timestamp } from '../schemas';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a UTC day such as 2026-12-05');

const reconciliationSchema = z.object({
  id: z.string().meta({ description: 'The UTC day reconciled (YYYY-MM-DD)' }), object: z.literal('reconciliation'),
  workflowId: z.string(), state: z.enum(['running', 'done']),
  processorRecords: z.number().int().meta({ description: "The processor's records of the day, each looked up in the ledger" }),
  ledgerRecords: z.number().int().meta({ description: "The ledger's records of the day, each looked up at the processor" }),
  mismatches: z.number().int().meta({ description: 'Records missing on either side or with another amount: each a reconciliation_mismatch problem' }),
  createdAt: timestamp, finishedAt: nullableTimestamp,
}).meta({ id: 'Reconciliation' });

const view = (r: Reconciliation): z.infer<typeof reconciliationSchema> => ({
  id: r.day, object: 'reconciliation', workflowId: r.workflowId, state: r.state, processorRecords: r.processorRecords,
  ledgerRecords: r.ledgerRecords, mismatches: r.mismatches, createdAt: r.createdAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null,
});

export function reconciliationOperations(services: Services): Operation[] {
  const store = services.stores.reconciliation;
  return [
    operation({
      method: 'post', path: '/reconciliations', allow: ['operator'], idempotency: 'stored',
      summary: "Reconcile a day's ledger records with the processor's now (operator); the Schedule does the day before each day",
      description: 'A day reconciled before is reconciled again (a mismatch still there opens its problem again); one running is not started twice (started: false).',
      body: z.strictObject({ day: day.optional().meta({ description: 'Default: yesterday (UTC)' }) }),
      responses: { 202: { description: 'Started (or running)', schema: z.object({ object: z.literal('reconciliation_run'), day: z.string(),
        workflowId: z.string(), started: z.boolean() }) } },
      async handler({ res, body }) {
        const d = body.day ?? previousDay(new Date());
        if (!isDay(d)) throw unprocessable('parameter_invalid', `${d} is not a calendar day`, 'day');
        if (d > new Date().toISOString().slice(0, 10)) throw unprocessable('parameter_invalid', 'A day in the future has no records yet', 'day');
        res.status(202).json({ object: 'reconciliation_run', ...await services.reconciliation.run(d) });
      },
    }),
    listOperation({ path: '/reconciliations', summary: 'Reconciled days, newest first, a page at a time (operator)', allow: ['operator'],
      schema: reconciliationSchema, list: (req) => store.list(req), view }),
    operation({
      method: 'get', path: '/reconciliations/:day', allow: ['operator'], summary: "A day's reconciliation (operator)",
      responses: { 200: { description: 'OK', schema: reconciliationSchema } },
      async handler({ res, params }) {
        const r = isDay(params.day) ? await store.get(params.day) : undefined;
        if (!r) throw notFound('reconciliation');
        res.json(view(r));
      },
    }),
  ];
}
