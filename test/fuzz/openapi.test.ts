// The API fuzzed from its own OpenAPI document: schemathesis (test/fuzz/requirements.txt, installed into .tools/venv
// by the bootstrap) runs every operation of the live /v1/openapi.json against the real services, once with an
// operator's key, once with a merchant's and once with a buyer app's (purchases, quotes), from a fixed seed and a bounded number of examples per operation, with
// its checks for server errors, response-schema conformance, status-code conformance, content types, and that a
// request the document admits is not refused as malformed. Any failure fails the test; schemathesis's summary is
// printed either way.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMATHESIS_BIN } from '../../scripts/fuzzer';
import { uid } from '../support/env';
import { freshDatabase } from '../support/micro';
import { call } from '../support/http';
import { startServices, type Services } from '../support/services';

/** Fixed, so a run generates the same requests as the last one (and a failure can be replayed). */
const SEED = 1;
/** Per operation and phase: about 40 s per key for the 41 operations on 2 cores (50 took 60-70 s). */
const MAX_EXAMPLES = 30;
const CHECKS = ['not_a_server_error', 'response_schema_conformance', 'status_code_conformance', 'content_type_conformance',
  'positive_data_acceptance']; // schema-valid requests are not refused as malformed: see schemathesis.toml
/** One run (one key) may take this long before it is stopped and the test fails. */
const RUN_TIMEOUT_MS = 150_000;
const HOOKS_DIR = fileURLToPath(new URL('.', import.meta.url));

let database: Awaited<ReturnType<typeof freshDatabase>>;
let svc: Services;
const keys: Record<'operator' | 'merchant' | 'buyer_app', string> = { operator: '', merchant: '', buyer_app: '' };
let scratch: string;

beforeAll(async () => {
  if (!existsSync(SCHEMATHESIS_BIN)) {
    throw new Error(`${SCHEMATHESIS_BIN} is missing: run 'node scripts/bootstrap.mjs' (npm test does) to install the fuzzer`);
  }
  scratch = mkdtempSync(join(tmpdir(), 'pb-fuzz-'));
  // a database of its own: what the fuzzer finds by listing (orders, problems) is its own, served by its own worker,
  // not what other test files left behind with their workers gone (a command to such an order is rightly a 503)
  database = await freshDatabase();
  svc = await startServices({ DATABASE_URL: database.url });
  keys.operator = (await database.stores.principals.create('operator', 'Fuzz operator')).apiKey;
  const merchant = await call(svc.base, '/merchants', { key: keys.operator, idem: uid(), body: { name: 'Fuzz shop' } });
  expect(merchant.status).toBe(201);
  keys.merchant = merchant.body.apiKey;
  const app = await call(svc.base, '/buyer-apps', { key: keys.operator, idem: uid(), body: { name: 'Fuzz storefront' } });
  expect(app.status).toBe(201);
  keys.buyer_app = app.body.apiKey;
});
afterAll(async () => {
  await svc?.stopAll();
  await database?.drop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs schemathesis against the live API with this key; resolves with its exit code and everything it printed. */
function schemathesis(key: string): Promise<{ code: number | null; output: string }> {
  const args = [
    '--config-file', join(HOOKS_DIR, 'schemathesis.toml'),
    'run', `${svc.base}/openapi.json`, '--url', svc.base,
    '--header', `Authorization: Bearer ${key}`,
    '--checks', CHECKS.join(','),
    '--seed', String(SEED), '--max-examples', String(MAX_EXAMPLES),
    '--generation-database', 'none', // nothing remembered between runs: the seed alone decides
    // One worker: CPython 3.11's parser is not thread-safe, and Hypothesis parses source while it describes a
    // strategy ("SystemError: AST constructor recursion depth mismatch" with --workers 2).
    '--workers', '1',
    '--request-timeout', '10', '--no-color',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS_BIN, args, {
      cwd: scratch, // its reports and Hypothesis's files stay out of the work tree
      env: { ...process.env, SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: HOOKS_DIR, PYTHONDONTWRITEBYTECODE: '1', COLUMNS: '120',
        PAYBROKER_FUZZ_KEY_ID: key.split('_')[1] }, // (hooks.py: the run never rolls or revokes its own key)
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => { output += `\n[fuzz test] stopped after ${RUN_TIMEOUT_MS} ms\n`; child.kill('SIGKILL'); }, RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

const section = (output: string, title: string) => {
  const start = output.search(new RegExp(`=+ ${title} =+`));
  if (start < 0) return '';
  const next = output.slice(start + 1).search(/\n=+ [A-Z]+ =+\n/);
  return next < 0 ? output.slice(start) : output.slice(start, start + 1 + next);
};

describe('the OpenAPI document, fuzzed against the live API', () => {
  it.each(['operator', 'merchant', 'buyer_app'] as const)('every operation with the %s key: no server error, every answer as documented', async (who) => {
    const document = (await call(svc.base, '/openapi.json')).body as { paths: Record<string, object> };
    const operations = Object.values(document.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    const { code, output } = await schemathesis(keys[who]);
    const summary = section(output, 'SUMMARY') || output.slice(-4000);
    // Its '==== 3 warnings in 26.49s ====' banners read like pytest's closing line (a run of no test) to CI's log
    // reader, which takes the suite's own closing line for a pytest one: they are printed as plain headings.
    console.log(`[fuzz] schemathesis with the ${who} key (exit ${code}):\n${summary.replace(/^=+ (.*?) =+$/gm, '-- $1 --')}`);
    const problems = [section(output, 'FAILURES'), section(output, 'ERRORS')].filter(Boolean).join('\n') || output.slice(-4000);
    expect(code, problems).toBe(0);
    // every documented operation selected and tested (schemathesis leaves out GET /openapi.json, the document itself)
    expect(summary).toContain(`Selected: ${operations - 1}/${operations - 1}`);
    expect(summary).toContain(`Tested: ${operations - 1}`);
    // (the run did not lock itself out: a later operation with a dead key would only ever have met 401)
    expect((await call(svc.base, '/me', { key: keys[who] })).status).toBe(200);
  }, RUN_TIMEOUT_MS + 30_000);
});
