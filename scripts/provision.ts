// Second step of every entry command (after npm packages): the Temporal CLI, the PostgreSQL binaries, and for the
// tests the API fuzzer's virtual environment (.tools/venv) and Chromium.
import { loadConfig } from '../config';
import { CHROMIUM_MISSING_MESSAGE, findChromium } from './chromium';
import { ensureFuzzer } from './fuzzer';
import { ensureTemporalCli } from './temporal-cli';
import { ensureClusterBinaries } from './temporal-cluster';
import { findPgBinDir, PG_MISSING_MESSAGE } from './postgres';

const say = (msg: string) => console.log(`[paybroker] ${msg}`);
const forTests = process.env.npm_lifecycle_event?.startsWith('test') || process.argv.includes('--fuzzer');
try {
  say(`Temporal CLI: ${await ensureTemporalCli(say)}`);
  // The cluster's binaries: for PAYBROKER_TEMPORAL=cluster, and for the tests (a fault test runs a cluster of its own).
  if (loadConfig().temporalMode === 'cluster' || forTests) {
    const binaries = await ensureClusterBinaries(say);
    say(`Temporal cluster: ${Object.values(binaries).join(', ')}`);
  }
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

// Only the tests use the fuzzer and Chromium: `npm test` and CI (.ci/run passes --fuzzer) stop without them.
if (forTests) {
  try {
    say(`API fuzzer: ${ensureFuzzer(say)}`);
    const chromium = findChromium();
    if (!chromium) throw new Error(CHROMIUM_MISSING_MESSAGE);
    say(`Chromium: ${chromium}`);
  } catch (err) {
    console.error(`[paybroker] ${(err as Error).message}`);
    process.exit(1);
  }
}
