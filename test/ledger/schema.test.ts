// The constants the code shares with the schema's migrations (which keep their own literals: a migration is history
// and never changes) agree with the database as migrated.
import { afterAll, describe, expect, it } from 'vitest';
import { ID_BLOCK } from '../../ledger/idBlocks';
import { STALE_GENERATION_SQLSTATE } from '../../ledger/micropayments';
import { PERIOD_LOCK_KEY } from '../../ledger/periods';
import { testDatabase } from '../support/env';

const { db, close } = testDatabase(2);
afterAll(() => close());

describe('the schema and the code', () => {
  it('step micro-payment ids by the block the code takes', async () => {
    const { rows: [s] } = await db.raw("SELECT increment_by FROM pg_sequences WHERE sequencename = 'micro_payments_id_seq'");
    expect(Number(s.increment_by)).toBe(ID_BLOCK);
  });

  it('raise the SQLSTATE the code reads as a stale generation', async () => {
    await expect(db.raw('SELECT recording_generation_is(-1)')).rejects.toMatchObject({ code: STALE_GENERATION_SQLSTATE });
  });

  it('take the period lock that a freeze takes, shared, while recording', async () => {
    const { rows: [f] } = await db.raw("SELECT prosrc FROM pg_proc WHERE proname = 'open_period_for_recording'");
    expect(f.prosrc).toContain(`pg_advisory_xact_lock_shared(${PERIOD_LOCK_KEY})`);
  });
});
