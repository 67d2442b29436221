// A customer's device from the command line (processors/devices/simulator.ts), for trying step-up authentication by
// hand against a running broker:
//
//   node --import tsx scripts/device.ts register <code> [--api URL] [--alg ed25519|p256] [--name NAME] [--state FILE] [--force]
//   node --import tsx scripts/device.ts pending [--state FILE]
//   node --import tsx scripts/device.ts approve <authnId> [--state FILE]
//   node --import tsx scripts/device.ts reject <authnId> [--state FILE]
//   node --import tsx scripts/device.ts forge <authnId> [--state FILE]   (signed with an unregistered key: must be refused)
//
// The device's state (its id, private key and the server's public key) is kept in --state, by default
// .data/devices/device.json (mode 600). The API is --api, else PAYBROKER_API_URL, else http://127.0.0.1:3000; after
// registering, the URL registered with is kept in the state and --api overrides it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT_DIR } from '../config';
import { isDeviceAlgorithm, type DeviceDecision, type SignedAuthenticationRequest } from '../domain/stepUp';
import { DeviceApiError, DeviceCheckError, DeviceSimulator, type DeviceState } from '../processors/devices/simulator';

const USAGE = `usage:
  device.ts register <code> [--api URL] [--alg ed25519|p256] [--name NAME] [--state FILE] [--force]
  device.ts pending [--state FILE] [--api URL]
  device.ts approve <authnId> [--state FILE] [--api URL]
  device.ts reject <authnId> [--state FILE] [--api URL]
  device.ts forge <authnId> [--state FILE] [--api URL]`;

class UsageError extends Error {}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    api: { type: 'string' },
    alg: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

const stateFile = resolve(opts.state ?? join(ROOT_DIR, '.data', 'devices', 'device.json'));
const json = (value: unknown) => JSON.stringify(value);

function loadDevice(): DeviceSimulator {
  if (!existsSync(stateFile)) throw new UsageError(`no device state in ${stateFile}: register first`);
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as DeviceState;
  return DeviceSimulator.fromJSON(opts.api ? { ...state, apiUrl: opts.api } : state);
}

/** An amount of minor units for a person: "$12.34", "¥1,200" (a code Intl does not know: "12.34 XTS"). */
function formatMoney(amountMinor: number, currency: string): string {
  try {
    const f = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    return f.format(amountMinor / 10 ** (f.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${(amountMinor / 100).toFixed(2)} ${currency}`;
  }
}

function inHowLong(iso: string, nowMs: number): string {
  const s = Math.round((Date.parse(iso) - nowMs) / 1000);
  if (!Number.isFinite(s)) return 'unreadable time';
  const abs = Math.abs(s);
  const text = abs >= 60 ? `${Math.floor(abs / 60)}m ${abs % 60}s` : `${abs}s`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

async function pendingRequest(device: DeviceSimulator, authnId: string | undefined): Promise<SignedAuthenticationRequest> {
  if (!authnId) throw new UsageError('which authentication? give its id (see `pending`)');
  const request = (await device.pending()).find((r) => r.id === authnId);
  if (!request) throw new UsageError(`authentication ${authnId} is not pending for device ${device.id}`);
  return request;
}

async function register(code: string | undefined): Promise<void> {
  if (!code) throw new UsageError('register needs the registration code (PBDEV-…)');
  const algorithm = opts.alg ?? 'ed25519';
  if (!isDeviceAlgorithm(algorithm)) throw new UsageError(`--alg must be ed25519 or p256, not ${algorithm}`);
  if (existsSync(stateFile) && !opts.force) {
    throw new UsageError(`${stateFile} already holds a device (its private key would be lost): give another --state, or --force`);
  }
  const apiUrl = opts.api ?? process.env.PAYBROKER_API_URL ?? 'http://127.0.0.1:3000';
  const device = await DeviceSimulator.register(apiUrl, code, { algorithm, name: opts.name });
  mkdirSync(dirname(stateFile), { recursive: true });
  writeFileSync(stateFile, `${JSON.stringify(device.toJSON(), null, 2)}\n`, { mode: 0o600 });
  const s = device.toJSON();
  console.log(`registered device ${s.id} (${s.algorithm}, ${json(s.name)}) for customer ${s.customerId} of merchant ${s.merchantId}`);
  console.log(`  server key ${s.serverKey.id}`);
  console.log(`  state kept in ${stateFile}`);
}

async function pending(): Promise<void> {
  const device = loadDevice();
  const requests = await device.pending();
  const now = Date.now();
  if (requests.length === 0) console.log(`no authentication pending for device ${device.id}`);
  for (const r of requests) {
    let verdict = '';
    try {
      device.check(r, now);
    } catch (err) {
      if (!(err instanceof DeviceCheckError)) throw err;
      verdict = `  REFUSED by the device: ${err.code}`;
    }
    console.log(`${r.id}  ${json(r.merchantName)} (${r.merchantId})  ${formatMoney(r.amountMinor, r.currency)}  order ${r.orderId}  `
      + `ref ${r.reference}  expires ${r.expiresAt} (${inHowLong(r.expiresAt, now)})${verdict}`);
  }
}

async function decide(authnId: string | undefined, decision: DeviceDecision): Promise<void> {
  const device = loadDevice();
  const request = await pendingRequest(device, authnId);
  const { status, body } = await device.respond(request, decision);
  console.log(`${decision === 'approve' ? 'approved' : 'rejected'} ${request.id} (${formatMoney(request.amountMinor, request.currency)} `
    + `to ${json(request.merchantName)}): ${status} ${json(body)}`);
}

async function forge(authnId: string | undefined): Promise<void> {
  const device = loadDevice();
  const request = await pendingRequest(device, authnId);
  const { status, body } = await device.send(device.forgedAnswer(request, 'approve'));
  const verdict = status >= 200 && status < 300 ? 'ACCEPTED (the API must refuse a forged answer!)' : 'refused, as it must be';
  console.log(`forged approval of ${request.id}, signed with an unregistered key: ${status} ${json(body)}`);
  console.log(`  ${verdict}`);
  if (status >= 200 && status < 300) process.exitCode = 1;
}

try {
  const [command, arg] = positionals;
  if (opts.help) console.log(USAGE);
  else if (command === 'register') await register(arg);
  else if (command === 'pending') await pending();
  else if (command === 'approve') await decide(arg, 'approve');
  else if (command === 'reject') await decide(arg, 'reject');
  else if (command === 'forge') await forge(arg);
  else throw new UsageError(command ? `unknown command ${command}` : 'which command?');
} catch (err) {
  process.exitCode = 1;
  if (err instanceof UsageError) console.error(`${err.message}\n${USAGE}`);
  else if (err instanceof DeviceApiError) console.error(`error: ${err.message}\n  ${json(err.body)}`);
  else if (err instanceof DeviceCheckError) console.error(`refused by the device: ${err.code}: ${err.message}`);
  else throw err;
}
