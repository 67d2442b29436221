// Second step of every entry command (after npm packages): the Temporal CLI, the PostgreSQL binaries and the
// API fuzzer's virtual environment (.tools/venv).
import { loadConfig } from '../config';
import { ensureFuzzer } from './fuzzer';
import { ensureTemporalCli } from './temporal-cli';
import { findPgBinDir, PG_MISSING_MESSAGE } from './postgres';

const say = (msg: string) => console.log(`[paybroker] ${msg}`);
try {
  say(`Temporal CLI: ${await ensureTemporalCli(say)}`);
  if (loadConfig().databaseUrl) {
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

// Only the tests use the fuzzer: `npm test` and CI (.ci/run passes --fuzzer) install it and stop without it.
if (process.env.npm_lifecycle_event === 'test' || process.argv.includes('--fuzzer')) {
  try {
    say(`API fuzzer: ${ensureFuzzer(say)}`);
  } catch (err) {
    console.error(`[paybroker] ${(err as Error).message}`);
    process.exit(1);
  }
}
