// The local operator key: made on first start, kept in <data dir>/dev-operator-key (mode 600), printed at start.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrincipalStore } from '../stores/principals';

export async function ensureDevOperatorKey(principals: PrincipalStore, dataDir: string): Promise<string> {
  const file = join(dataDir, 'dev-operator-key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if ((await principals.forKey(key))?.principal.kind === 'operator') return key;
  }
  const { apiKey } = await principals.create('operator', 'Local operator');
  writeFileSync(file, `${apiKey}\n`, { mode: 0o600 });
  return apiKey;
}
