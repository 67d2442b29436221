// Micro-payment ids in blocks: the id sequence steps by 1024, so one nextval reserves the 1024 ids from the value
// it returns. API processes take blocks (ledger/idBlocks.ts, ID_BLOCK; test/ledger/schema.test.ts checks the two
// agree) and write ids themselves, so the recording INSERT needs nothing back per row. A row written with the
// column's default uses the first id of a block; ids stay unique, and are no longer in the order of writing
// across processes.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw('ALTER SEQUENCE micro_payments_id_seq INCREMENT BY 1024');
}

export async function down(db: Knex): Promise<void> {
  await db.raw('ALTER SEQUENCE micro_payments_id_seq INCREMENT BY 1');
}
