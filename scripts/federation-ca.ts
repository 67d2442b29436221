// `npm run federation:ca [-- --dir D] [gatewayId ...]`: the federation's local certificate authority and the
// gateways' keys and certificates, in D (default PAYBROKER_FEDERATION_DIR, else .data/federation):
//   ca.key, ca.pem              made when missing (kept otherwise: every certificate hangs on it)
//   <id>.key, <id>.pem          per gateway id, made when missing; a certificate that no longer verifies against the
//                               CA (expired, or from an earlier CA) is issued again for the same key
// Keys are written mode 0600. The launcher and the tests call ensureFederationCredentials directly.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config';
import { createCa, GATEWAY_ID, issueGatewayCert, type KeyAndCert, verifyGatewayCert } from '../processors/federation/pki';

const writeKey = (file: string, pem: string) => writeFileSync(file, pem, { mode: 0o600 });
const writeCert = (file: string, pem: string) => writeFileSync(file, pem, { mode: 0o644 });

/** Makes what is missing in dir (the CA, each gateway's key and certificate) and says what it made or kept. */
export function ensureFederationCredentials(dir: string, gatewayIds: string[], log: (s: string) => void = () => {}): void {
  for (const id of gatewayIds) {
    if (!GATEWAY_ID.test(id)) throw new Error(`not a gateway id: '${id}' (lower-case letters, digits and dashes, 1 to 63, starting with a letter or digit)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKeyFile = join(dir, 'ca.key');
  const caCertFile = join(dir, 'ca.pem');
  let ca: KeyAndCert;
  if (existsSync(caKeyFile) && existsSync(caCertFile)) {
    ca = { keyPem: readFileSync(caKeyFile, 'utf8'), certPem: readFileSync(caCertFile, 'utf8') };
    log(`kept the CA ${caCertFile}`);
  } else if (existsSync(caKeyFile) || existsSync(caCertFile)) {
    throw new Error(`${dir} holds only one of ca.key and ca.pem: restore the other, or remove both (and every gateway certificate) to start a new CA`);
  } else {
    ca = createCa();
    writeKey(caKeyFile, ca.keyPem);
    writeCert(caCertFile, ca.certPem);
    log(`made the CA ${caCertFile}`);
  }
  for (const id of gatewayIds) {
    const keyFile = join(dir, `${id}.key`);
    const certFile = join(dir, `${id}.pem`);
    const keyPem = existsSync(keyFile) ? readFileSync(keyFile, 'utf8') : undefined;
    const certPem = existsSync(certFile) ? readFileSync(certFile, 'utf8') : undefined;
    if (keyPem && certPem) {
      const check = verifyGatewayCert(certPem, ca.certPem, Date.now());
      if (check.ok && check.gatewayId === id) {
        log(`kept gateway ${id}: ${certFile} (until ${check.notAfter.toISOString()})`);
        continue;
      }
      writeCert(certFile, issueGatewayCert(ca, id, { keyPem }).certPem);
      log(`issued gateway ${id} a new certificate for its key (${check.ok ? 'it named another gateway' : check.reason}): ${certFile}`);
      continue;
    }
    const made = issueGatewayCert(ca, id, keyPem ? { keyPem } : {});
    if (!keyPem) writeKey(keyFile, made.keyPem);
    writeCert(certFile, made.certPem);
    log(`made gateway ${id}: ${keyPem ? '' : `${keyFile}, `}${certFile}`);
  }
}

function main(argv: string[]): void {
  let dir: string | undefined;
  const ids: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') {
      dir = argv[++i];
      if (!dir) throw new Error('--dir needs a directory');
    } else if (argv[i].startsWith('--dir=')) {
      dir = argv[i].slice('--dir='.length);
    } else if (argv[i].startsWith('-')) {
      throw new Error(`unknown option ${argv[i]}; usage: federation-ca [--dir D] [gatewayId ...]`);
    } else {
      ids.push(argv[i]);
    }
  }
  ensureFederationCredentials(resolve(dir ?? loadConfig().federation.dir), ids, (s) => console.log(s));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`federation-ca: ${(err as Error).message}`);
    process.exit(1);
  }
}
