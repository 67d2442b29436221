// The API fuzzer (schemathesis, from PyPI) in a project-local virtual environment, .tools/venv: made by the
// provisioning step of every entry command and by .ci/run, never installed globally. The versions are pinned in
// test/fuzz/requirements.txt; a stamp in the venv records which requirements it holds, so a change reinstalls.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ROOT_DIR } from '../config';

export const FUZZER_VENV = join(ROOT_DIR, '.tools', 'venv');
export const FUZZER_REQUIREMENTS = join(ROOT_DIR, 'test', 'fuzz', 'requirements.txt');
export const SCHEMATHESIS_BIN = join(FUZZER_VENV, 'bin', 'schemathesis');
const STAMP = join(FUZZER_VENV, 'paybroker-requirements.sha256');
/** schemathesis 4.x requires it. */
const MIN_PYTHON: [number, number] = [3, 11];

/** PAYBROKER_PYTHON, then python3 and versioned names on PATH: the first that is new enough and has venv. */
export function findPython(): string | undefined {
  const names = [loadConfig().python, 'python3', 'python3.13', 'python3.12', 'python3.11'].filter(Boolean) as string[];
  const probe = `import sys, venv, ensurepip; sys.exit(0 if sys.version_info[:2] >= (${MIN_PYTHON.join(', ')}) else 1)`;
  return names.find((py) => spawnSync(py, ['-c', probe], { stdio: 'ignore' }).status === 0);
}

const requirementsHash = () => createHash('sha256').update(readFileSync(FUZZER_REQUIREMENTS)).digest('hex');

export function fuzzerInstalled(): boolean {
  return existsSync(SCHEMATHESIS_BIN) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === requirementsHash();
}

/** Returns the schemathesis binary, creating the venv and installing the pinned requirements when needed. */
export function ensureFuzzer(log: (msg: string) => void): string {
  if (fuzzerInstalled()) return SCHEMATHESIS_BIN;
  const python = findPython();
  if (!python) {
    throw new Error(`Python >= ${MIN_PYTHON.join('.')} with its venv module was not found (python3 on PATH, or ` +
      'PAYBROKER_PYTHON); the API fuzz test needs it. Debian/Ubuntu: apt-get install python3 python3-venv.');
  }
  log(`installing the API fuzzer (${FUZZER_REQUIREMENTS.slice(ROOT_DIR.length)}) into .tools/venv ...`);
  rmSync(FUZZER_VENV, { recursive: true, force: true });
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: ROOT_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`'${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
  };
  run(python, ['-m', 'venv', FUZZER_VENV]);
  run(join(FUZZER_VENV, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input',
    '-r', FUZZER_REQUIREMENTS]);
  if (!existsSync(SCHEMATHESIS_BIN)) throw new Error(`${SCHEMATHESIS_BIN} is missing after the install`);
  writeFileSync(STAMP, `${requirementsHash()}\n`);
  return SCHEMATHESIS_BIN;
}
