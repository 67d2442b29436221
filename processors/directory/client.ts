// DirectoryClient: a federation gateway's client of the gateway directory (processors/directory/server.ts), each
// request signed with the gateway's key (processors/federation/pki.ts signRequest over the exact body sent); and
// DirectoryAdmin over its operator API, for the launcher, scripts and tests.
// Failure mapping (as processors/jsonCall.ts): no answer, a 5xx (the down fault's 503 among them) or an unreadable
// success → DirectoryUnavailable (retry, or serve from a cache); a 4xx → DirectoryRefusal(code, message, status).
import { answerOf, type CallFailures, describeFailure, type Json } from '../jsonCall';
import { signRequest } from '../federation/pki';
import type { DirectoryFaultMode, DirectoryFaultState } from './server';
import type { DirectoryEntry, GatewayStatus, IdentifierBinding, PeerGateway } from './store';

export type { DirectoryEntry, DirectoryFaultMode, DirectoryFaultState, GatewayStatus, IdentifierBinding, PeerGateway };

export const DEFAULT_DIRECTORY_TIMEOUT_MS = 10_000;

/** The directory did not answer, or answered 5xx (the call may be retried). */
export class DirectoryUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryUnavailable';
  }
}

/** The directory refused the call (4xx): the same call again will not help. */
export class DirectoryRefusal extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
    this.name = 'DirectoryRefusal';
  }
}

/** What a gateway registers. */
export interface GatewayRegistration {
  gatewayId: string;
  serviceName: string;
  /** Where other gateways reach it: an https URL. */
  endpoint: string;
  /** Its certificate (PEM), issued by the federation CA for gatewayId. */
  certificate: string;
  settlementAccount: string;
}

export interface LookupResult {
  userIdentifier: string;
  gateway: PeerGateway;
}

interface Answer { status: number; body: Json | undefined }

const FAILURES: CallFailures = {
  unavailable: (message) => new DirectoryUnavailable(message),
  rejected: (code, message, status) => new DirectoryRefusal(code, message, status),
};

/** One call: answers a 2xx with its JSON object (none for a 204), throws as the mapping above says. */
async function call(what: string, url: string, req: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, { method: req.method, headers, body: req.body, signal: AbortSignal.timeout(req.timeoutMs) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new DirectoryUnavailable(`${what}: no response (${describeFailure(err)})`);
  }
  return { status, body: status === 204 ? undefined : answerOf(what, status, text, FAILURES) };
}

const STATUSES: readonly string[] = ['pending', 'approved', 'revoked'];

function toPeer(b: Json | undefined, what: string): PeerGateway {
  for (const k of ['gatewayId', 'serviceName', 'endpoint', 'certificate', 'fingerprint256', 'settlementAccount'] as const) {
    if (typeof b?.[k] !== 'string') throw new DirectoryUnavailable(`${what}: malformed gateway entry (${k})`);
  }
  return {
    gatewayId: b!.gatewayId as string, serviceName: b!.serviceName as string, endpoint: b!.endpoint as string,
    certificate: b!.certificate as string, fingerprint256: b!.fingerprint256 as string, settlementAccount: b!.settlementAccount as string,
  };
}

function toEntry(b: Json | undefined, what: string): DirectoryEntry {
  const peer = toPeer(b, what);
  if (!STATUSES.includes(b!.status as string) || typeof b!.notAfter !== 'string') throw new DirectoryUnavailable(`${what}: malformed gateway entry (status)`);
  return { ...peer, status: b!.status as GatewayStatus, notAfter: b!.notAfter };
}

export interface DirectoryClientOptions {
  /** The directory's base URL without /v1, e.g. http://127.0.0.1:3300. */
  baseUrl: string;
  /** The gateway that signs, and its private key (PEM). */
  gatewayId: string;
  keyPem: string;
  /** Per call, including reading the response; default 10 s. */
  timeoutMs?: number;
}

export class DirectoryClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: DirectoryClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DIRECTORY_TIMEOUT_MS;
  }

  /** Registers this gateway (pending until an operator approves it); the same registration again returns the entry. */
  async register(entry: GatewayRegistration): Promise<DirectoryEntry> {
    return toEntry((await this.call('POST', '/gateways', entry)).body, 'directory register');
  }

  /** Replaces this gateway's certificate (and endpoint), signed with its current key: keep that key until this returns. */
  async renew(certificate: string, endpoint?: string): Promise<DirectoryEntry> {
    const body = endpoint === undefined ? { certificate } : { certificate, endpoint };
    return toEntry((await this.call('POST', `/gateways/${encodeURIComponent(this.opts.gatewayId)}/renew`, body)).body, 'directory renew');
  }

  /** A gateway's entry (any status), or undefined when the directory does not know it. */
  async gateway(gatewayId: string): Promise<DirectoryEntry | undefined> {
    try {
      return toEntry((await this.call('GET', `/gateways/${encodeURIComponent(gatewayId)}`)).body, 'directory gateway');
    } catch (err) {
      if (err instanceof DirectoryRefusal && err.status === 404 && err.code === 'unknown_gateway') return undefined;
      throw err;
    }
  }

  /** Binds a user identifier to this gateway (created: false when it already was). */
  async bindIdentifier(identifier: string): Promise<IdentifierBinding & { created: boolean }> {
    const a = await this.call('PUT', `/identifiers/${encodeURIComponent(identifier)}`);
    const b = a.body;
    if (typeof b?.identifier !== 'string' || typeof b.gatewayId !== 'string') throw new DirectoryUnavailable('directory bind: malformed binding');
    return { identifier: b.identifier, gatewayId: b.gatewayId, createdAt: String(b.createdAt), created: a.status === 201 };
  }

  async unbindIdentifier(identifier: string): Promise<void> {
    await this.call('DELETE', `/identifiers/${encodeURIComponent(identifier)}`);
  }

  /** The approved gateway holding a user identifier, or undefined when none does. */
  async lookup(userIdentifier: string): Promise<LookupResult | undefined> {
    try {
      const b = (await this.call('POST', '/lookup', { userIdentifier })).body;
      return { userIdentifier: String(b?.userIdentifier), gateway: toPeer(b?.gateway as Json | undefined, 'directory lookup') };
    } catch (err) {
      if (err instanceof DirectoryRefusal && err.status === 404 && err.code === 'unknown_identifier') return undefined;
      throw err;
    }
  }

  private call(method: string, path: string, body?: unknown): Promise<Answer> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = signRequest(this.opts.keyPem, this.opts.gatewayId, { method, path: `/v1${path}`, body: text ?? '' });
    return call(`directory ${method} /v1${path}`, `${this.baseUrl}/v1${path}`, { method, headers, body: text, timeoutMs: this.timeoutMs });
  }
}

/** The directory's operator API: approve and revoke gateways, the faults. */
export class DirectoryAdmin {
  private readonly adminUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: { adminUrl: string; token: string; timeoutMs?: number }) {
    this.adminUrl = opts.adminUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DIRECTORY_TIMEOUT_MS;
  }

  async gateways(): Promise<DirectoryEntry[]> {
    const b = (await this.call('GET', '/admin/gateways')).body;
    return ((b?.data ?? []) as Json[]).map((e) => toEntry(e, 'directory admin gateways'));
  }

  async approve(gatewayId: string): Promise<DirectoryEntry> {
    return toEntry((await this.call('POST', `/admin/gateways/${encodeURIComponent(gatewayId)}/approve`)).body, 'directory admin approve');
  }

  async revoke(gatewayId: string): Promise<DirectoryEntry> {
    return toEntry((await this.call('POST', `/admin/gateways/${encodeURIComponent(gatewayId)}/revoke`)).body, 'directory admin revoke');
  }

  async setFaults(mode: DirectoryFaultMode): Promise<DirectoryFaultState> {
    return (await this.call('PUT', '/admin/faults', { mode })).body as unknown as DirectoryFaultState;
  }

  private call(method: string, path: string, body?: unknown): Promise<Answer> {
    return call(`directory admin ${method} ${path}`, `${this.adminUrl}${path}`,
      { method, headers: { authorization: `Bearer ${this.opts.token}` }, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: this.timeoutMs });
  }
}
