// The client of other services' federation gateways: JSON over mutual TLS (our gateway's certificate, the federation
// CA), each request also signed with our gateway's key (processors/federation/pki.ts), and the peer's certificate
// pinned to the fingerprint the directory lists for it: a server with another certificate, even one the CA issued,
// is refused before anything is sent. The protocol (served by api/gateway.ts):
//   POST /federation/v1/authorizations                     {transactionId, alias, amountMinor, currency, payee}
//   POST /federation/v1/authorizations/:transactionId/cancel
//   POST /federation/v1/windows/:seq/close | pay | settled     netting, from the pair's coordinator
// Failures map as every client of ours does (processors/jsonCall.ts): no answer or a 5xx → GatewayUnavailable (the
// call may have taken effect: ask again with the same transaction id), a 4xx → GatewayRefused with its code.
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import { answerOf as jsonAnswer, type CallFailures, describeFailure, type Json } from '../jsonCall';
import { type GatewayCredentials, signRequest, tlsClientOptions } from './pki';

/** Another service's gateway as the directory lists it. */
export interface Peer { gatewayId: string; endpoint: string; fingerprint256: string }

export class GatewayUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnavailable';
  }
}

export class GatewayRefused extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
    this.name = 'GatewayRefused';
  }
}

const FAILURES: CallFailures = {
  unavailable: (message) => new GatewayUnavailable(message),
  rejected: (code, message, status) => new GatewayRefused(code, message, status),
};

/** A payee's request to the buyer's service. */
export interface AuthorizationRequestBody {
  transactionId: string;
  alias: string;
  amountMinor: number;
  currency: string;
  payee: { sellerId: string; itemId: string; category: string };
}

export interface AuthorizationAnswer {
  transactionId: string;
  decision: 'approved' | 'declined' | 'pending' | 'cancelled';
  code: string | null;
  message: string | null;
  /** pending: until when the buyer may answer. */
  expiresAt: string | null;
}

const DECISIONS: readonly string[] = ['approved', 'declined', 'pending', 'cancelled'];
const textOrNull = (v: unknown) => (typeof v === 'string' ? v : null);

function answerOf(b: Json, peer: Peer): AuthorizationAnswer {
  if (typeof b.transactionId !== 'string' || !DECISIONS.includes(b.decision as string)) {
    throw new GatewayUnavailable(`gateway ${peer.gatewayId}: an answer without a transaction id or decision`);
  }
  return { transactionId: b.transactionId, decision: b.decision as AuthorizationAnswer['decision'], code: textOrNull(b.code),
    message: textOrNull(b.message), expiresAt: textOrNull(b.expiresAt) };
}

export const GATEWAY_CALL_TIMEOUT_MS = 10_000;
/** Connections kept per peer (one agent per peer and fingerprint). */
const CONNECTIONS_PER_PEER = 16;

export class FederationGatewayClient {
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly credentials: GatewayCredentials, private readonly timeoutMs = GATEWAY_CALL_TIMEOUT_MS) {}

  async authorize(peer: Peer, body: AuthorizationRequestBody): Promise<AuthorizationAnswer> {
    return answerOf(await this.call(peer, '/federation/v1/authorizations', body), peer);
  }

  async cancel(peer: Peer, transactionId: string): Promise<AuthorizationAnswer> {
    return answerOf(await this.call(peer, `/federation/v1/authorizations/${encodeURIComponent(transactionId)}/cancel`, {}), peer);
  }

  /** Netting (to the pair's other member, from its coordinator): agree to a closed window's transactions. */
  async agreeWindow(peer: Peer, seq: number, body: { transactions: unknown[]; positions: unknown[] }):
  Promise<{ agreed: boolean; mismatches: Array<{ transactionId: string; reason: string }> }> {
    const b = await this.call(peer, `/federation/v1/windows/${seq}/close`, body);
    if (typeof b.agreed !== 'boolean') throw new GatewayUnavailable(`gateway ${peer.gatewayId}: an answer without agreed`);
    return { agreed: b.agreed, mismatches: Array.isArray(b.mismatches) ? b.mismatches as Array<{ transactionId: string; reason: string }> : [] };
  }

  /** Netting: the member pays what it owes in `currency` for the window (once); the processor's transfer id. */
  async payWindow(peer: Peer, seq: number, currency: string): Promise<string> {
    const b = await this.call(peer, `/federation/v1/windows/${seq}/pay`, { currency });
    if (typeof b.transferId !== 'string') throw new GatewayUnavailable(`gateway ${peer.gatewayId}: an answer without transferId`);
    return b.transferId;
  }

  /** Netting: the window is settled; the member posts it. */
  async windowSettled(peer: Peer, seq: number): Promise<void> {
    await this.call(peer, `/federation/v1/windows/${seq}/settled`, {});
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }

  private agent(peer: Peer): Agent {
    const key = `${peer.gatewayId}|${peer.fingerprint256}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({
        connections: CONNECTIONS_PER_PEER,
        connect: {
          ...tlsClientOptions(this.credentials),
          // the CA vouches for every gateway; the directory says which certificate this one holds now
          checkServerIdentity: (host: string, cert: PeerCertificate) => (cert.fingerprint256 === peer.fingerprint256
            ? checkServerIdentity(host, cert)
            : new Error(`gateway ${peer.gatewayId} presented a certificate the directory does not list for it`)),
        },
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private async call(peer: Peer, path: string, body: unknown): Promise<Json> {
    const what = `gateway ${peer.gatewayId} POST ${path}`;
    const text = JSON.stringify(body);
    const headers = { 'content-type': 'application/json', ...signRequest(this.credentials.keyPem, this.credentials.gatewayId, { method: 'POST', path, body: text }) };
    let status: number;
    let answer: string;
    try {
      const res = await request(`${peer.endpoint}${path}`, {
        method: 'POST', headers, body: text, dispatcher: this.agent(peer),
        headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.statusCode;
      answer = await res.body.text();
    } catch (err) {
      throw new GatewayUnavailable(`${what}: no response (${describeFailure(err)})`);
    }
    return jsonAnswer(what, status, answer, FAILURES);
  }
}
