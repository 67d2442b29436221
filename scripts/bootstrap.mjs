// First step of `npm start`, `npm test` and the other entry commands, on a fresh clone included.
// Uses only Node built-ins: it installs the npm packages when they are missing or stale, then hands over
// to scripts/provision.ts (Temporal CLI, PostgreSQL binaries, the API fuzzer's venv, Chromium), which may use them.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => console.log(`[paybroker] ${msg}`);

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 10)) {
  console.error(`[paybroker] Node.js >= 20.10 is required; this is ${process.version}.`);
  process.exit(1);
}

function run(cmd, args) {
  // No npm package downloads a browser: the browser tests use Debian's chromium (scripts/chromium.ts).
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' } });
  if (r.status !== 0) {
    console.error(`[paybroker] '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}

const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
const stale = !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs);
if (stale) {
  // Not `npm ci`: the registry reachable here lacks some platforms' optional binaries (e.g. @swc/core-darwin-*),
  // which npm leaves out of the lock file and `npm ci` then refuses; `npm install` follows the lock file all the same.
  // --no-save: npm install also rewrites package-lock.json when the registry serves more or fewer of those binaries
  // than when it was written, and a first run must leave the clone as it found it. Checked with npm 11 on a lock
  // file lacking the other platforms' @swc binaries: `npm install` added them, `npm install --no-save` installed
  // exactly the lock file's versions and left the file byte for byte as it was.
  const args = ['install', '--no-save', '--no-audit', '--no-fund'];
  say(`installing npm packages (npm ${args.slice(0, 2).join(' ')}) ...`);
  run('npm', args);
} else {
  say('npm packages: up to date');
}

run(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'provision.ts')]);
