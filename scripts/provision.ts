// Second step of every entry command (after npm packages): the Temporal CLI and the PostgreSQL binaries.
import { ensureTemporalCli } from './temporal-cli';
import { findPgBinDir, PG_MISSING_MESSAGE } from './postgres';

const say = (msg: string) => console.log(`[paybroker] ${msg}`);
try {
  say(`Temporal CLI: ${await ensureTemporalCli(say)}`);
  if (process.env.DATABASE_URL) {
    say('PostgreSQL: DATABASE_URL is set; no private cluster needed');
  } else {
    const bin = findPgBinDir();
    if (!bin) throw new Error(PG_MISSING_MESSAGE);
    say(`PostgreSQL binaries: ${bin}`);
  }
} catch (err) {
  console.error(`[paybroker] ${(err as Error).message}`);
  process.exit(1);
}
