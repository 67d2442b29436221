// Netting windows as PostgreSQL keeps them (migration 031). The coordinator of a pair keeps one open window per peer
// and closes it by assigning every authorized transaction with the peer not yet netted, both ways, in one
// transaction; the other side checks the list against its own records and assigns the same transactions (or records
// the mismatch). Each window remembers its positions and the transfers that settled them.
import type { NetPosition, NettedTransaction } from '../domain/federation';
import type { Db } from '../ledger/db';

export interface NettingWindow {
  peerGateway: string;
  seq: number;
  role: 'coordinator' | 'member';
  state: 'open' | 'closed' | 'agreed' | 'settled' | 'mismatch';
  transactions: number;
  positions: NetPosition[] | null;
  transfers: Array<{ currency: string; transferId: string }>;
  mismatches: Array<{ transactionId: string; reason: string }> | null;
  openedAt: Date;
  closedAt: Date | null;
  settledAt: Date | null;
}

const windowOf = (r: Record<string, any>): NettingWindow => ({
  peerGateway: r.peer_gateway, seq: r.seq, role: r.role, state: r.state, transactions: r.transactions, positions: r.positions,
  transfers: r.transfers, mismatches: r.mismatches, openedAt: r.opened_at, closedAt: r.closed_at, settledAt: r.settled_at,
});

/** The authorized transactions with a peer not yet netted, both ways, as `me` sees them (in `window_seq` when given). */
const TRANSACTIONS = `
  SELECT id AS transaction_id, :peer::text AS payer, :me::text AS payee, currency, amount_minor FROM federated_payments
   WHERE payer_gateway = :peer AND state = 'authorized' AND window_seq IS NOT DISTINCT FROM :seq::integer
  UNION ALL
  SELECT transaction_id, :me::text, :peer::text, currency, amount_minor FROM federated_authorizations
   WHERE from_gateway = :peer AND state = 'approved' AND window_seq IS NOT DISTINCT FROM :seq::integer`;

const txOf = (r: Record<string, any>): NettedTransaction => ({
  transactionId: r.transaction_id, payerGateway: r.payer, payeeGateway: r.payee, currency: r.currency.trim(), amountMinor: Number(r.amount_minor),
});

export class NettingStore {
  constructor(private readonly db: Db) {}

  /** The open window with the peer (made, seq after the last, when there is none). */
  async openWindow(peer: string): Promise<number> {
    const open = await this.db('netting_windows').where({ peer_gateway: peer, state: 'open' }).first('seq');
    if (open) return open.seq;
    await this.db.raw(`INSERT INTO netting_windows (peer_gateway, seq, role, state)
      SELECT ?, coalesce(max(seq), 0) + 1, 'coordinator', 'open' FROM netting_windows WHERE peer_gateway = ?
      ON CONFLICT DO NOTHING`, [peer, peer]);
    return (await this.db('netting_windows').where({ peer_gateway: peer, state: 'open' }).first('seq')).seq;
  }

  /** A transaction with the peer was authorized: the open window's seq, and how many it has been told of (noted). */
  async note(peer: string): Promise<{ seq: number; noted: number }> {
    for (;;) {
      const [row] = await this.db('netting_windows').where({ peer_gateway: peer, state: 'open' }).increment('noted', 1).returning(['seq', 'noted']);
      if (row) return row;
      await this.openWindow(peer); // (none yet, or it closed in between)
    }
  }

  /** The open windows told of a transaction: the peers and seqs whose workflows should be running. */
  async openWithTransactions(): Promise<Array<{ peer: string; seq: number }>> {
    return (await this.db('netting_windows').where({ state: 'open' }).where('noted', '>', 0).select('peer_gateway', 'seq'))
      .map((r) => ({ peer: r.peer_gateway, seq: r.seq }));
  }

  /** How many authorized transactions with the peer wait for a window. */
  async pending(me: string, peer: string): Promise<number> {
    const { rows } = await this.db.raw(`SELECT count(*)::int AS n FROM (${TRANSACTIONS}) t`, { me, peer, seq: null });
    return rows[0].n;
  }

  /**
   * Closes the coordinator's window `seq` with the peer: every transaction waiting is assigned to it, and the next
   * window opens. Closing again answers the same transactions.
   */
  close(me: string, peer: string, seq: number): Promise<NettedTransaction[]> {
    return this.db.transaction(async (trx) => {
      const w = await trx('netting_windows').where({ peer_gateway: peer, seq }).forUpdate().first();
      if (!w) throw new Error(`no netting window ${seq} with ${peer}`);
      if (w.state === 'open') {
        await trx.raw(`UPDATE federated_payments SET window_seq = :seq WHERE payer_gateway = :peer AND state = 'authorized' AND window_seq IS NULL`, { seq, peer });
        await trx.raw(`UPDATE federated_authorizations SET window_seq = :seq WHERE from_gateway = :peer AND state = 'approved' AND window_seq IS NULL`, { seq, peer });
        const { rows } = await trx.raw(`SELECT count(*)::int AS n FROM (${TRANSACTIONS}) t`, { me, peer, seq });
        await trx('netting_windows').where({ peer_gateway: peer, seq }).update({ state: 'closed', closed_at: trx.fn.now(), transactions: rows[0].n });
        await trx('netting_windows').insert({ peer_gateway: peer, seq: seq + 1, role: 'coordinator', state: 'open' }).onConflict().ignore();
      }
      const { rows } = await trx.raw(`${TRANSACTIONS} ORDER BY transaction_id`, { me, peer, seq });
      return (rows as Array<Record<string, any>>).map(txOf);
    });
  }

  /**
   * The member's side of closing window `seq` of the coordinator: each listed transaction must be one of its own
   * authorized ones with the coordinator, not netted in another window, with the same amount; then they are assigned
   * to the window (agreed), else nothing is assigned and the mismatches are kept. Asking again answers the same.
   * A listed payment this service asked the coordinator about and has not decided yet (its answer is on its way:
   * the payer records before it answers) is not a mismatch: nothing is written and the undecided ones are returned
   * (waiting), for the coordinator to ask again.
   */
  agree(me: string, coordinator: string, seq: number, txs: NettedTransaction[], positions: NetPosition[]):
  Promise<{ agreed: true } | { agreed: false; mismatches: Array<{ transactionId: string; reason: string }> } | { waiting: string[] }> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`netting:${coordinator}`]);
      const known = await trx('netting_windows').where({ peer_gateway: coordinator, seq }).first();
      if (known?.state === 'agreed' || known?.state === 'settled') return { agreed: true } as const;
      const { rows } = await trx.raw(`SELECT * FROM (${TRANSACTIONS}) t WHERE transaction_id = ANY(:ids)`,
        { me, peer: coordinator, seq: null, ids: txs.map((t) => t.transactionId) });
      const mine = new Map((rows as Array<Record<string, any>>).map((r) => [r.transaction_id as string, txOf(r)]));
      const { rows: netted } = await trx.raw(`SELECT * FROM (${TRANSACTIONS}) t WHERE transaction_id = ANY(:ids)`,
        { me, peer: coordinator, seq, ids: txs.map((t) => t.transactionId) });
      for (const r of netted as Array<Record<string, any>>) mine.set(r.transaction_id, txOf(r));
      const unknown = txs.map((t) => t.transactionId).filter((id) => !mine.has(id));
      if (unknown.length > 0) {
        const undecided: string[] = await trx('federated_payments').whereIn('id', unknown).where({ payer_gateway: coordinator, state: 'pending' }).pluck('id');
        if (undecided.length > 0) return { waiting: undecided } as const;
      }
      const mismatches = txs.flatMap((t) => {
        const m = mine.get(t.transactionId);
        if (!m) return [{ transactionId: t.transactionId, reason: 'unknown here (or not authorized, or netted in another window)' }];
        if (m.amountMinor !== t.amountMinor || m.currency !== t.currency || m.payerGateway !== t.payerGateway) {
          return [{ transactionId: t.transactionId, reason: `here ${m.payerGateway}→${m.payeeGateway} ${m.amountMinor} ${m.currency}` }];
        }
        return [];
      });
      if (mismatches.length > 0) {
        await trx('netting_windows').insert({ peer_gateway: coordinator, seq, role: 'member', state: 'mismatch', transactions: txs.length,
          mismatches: JSON.stringify(mismatches), closed_at: trx.fn.now() }).onConflict(['peer_gateway', 'seq']).merge(['state', 'mismatches']);
        return { agreed: false, mismatches } as const;
      }
      const ids = txs.map((t) => t.transactionId);
      await trx('federated_payments').whereIn('id', ids).where({ payer_gateway: coordinator }).update({ window_seq: seq });
      await trx('federated_authorizations').whereIn('transaction_id', ids).where({ from_gateway: coordinator }).update({ window_seq: seq });
      await trx('netting_windows').insert({ peer_gateway: coordinator, seq, role: 'member', state: 'agreed', transactions: txs.length,
        positions: JSON.stringify(positions), closed_at: trx.fn.now() }).onConflict(['peer_gateway', 'seq']).merge(['state', 'positions', 'transactions']);
      return { agreed: true } as const;
    });
  }

  /** The coordinator's window is agreed (with its positions) or did not match (with the mismatches). */
  async decided(peer: string, seq: number, o: { positions: NetPosition[] } | { mismatches: Array<{ transactionId: string; reason: string }> }): Promise<void> {
    await this.db('netting_windows').where({ peer_gateway: peer, seq }).whereIn('state', ['closed', 'agreed', 'mismatch']).update('positions' in o
      ? { state: 'agreed', positions: JSON.stringify(o.positions) } : { state: 'mismatch', mismatches: JSON.stringify(o.mismatches) });
  }

  /** A transfer that settled a position of the window (kept once per currency). */
  async transferred(peer: string, seq: number, t: { currency: string; transferId: string }): Promise<void> {
    await this.db.raw(`UPDATE netting_windows SET transfers = transfers || ?::jsonb
      WHERE peer_gateway = ? AND seq = ? AND NOT transfers @> ?::jsonb`, [JSON.stringify([t]), peer, seq, JSON.stringify([{ currency: t.currency }])]);
  }

  async settled(peer: string, seq: number): Promise<void> {
    await this.db('netting_windows').where({ peer_gateway: peer, seq }).whereNot({ state: 'settled' }).update({ state: 'settled', settled_at: this.db.fn.now() });
  }

  async window(peer: string, seq: number): Promise<NettingWindow | undefined> {
    const r = await this.db('netting_windows').where({ peer_gateway: peer, seq }).first();
    return r && windowOf(r);
  }

  /** The windows with every peer, newest first. */
  async windows(limit: number): Promise<NettingWindow[]> {
    return (await this.db('netting_windows').orderBy([{ column: 'opened_at', order: 'desc' }, { column: 'seq', order: 'desc' }]).limit(limit)).map(windowOf);
  }

  /** The transactions of a window, as `me` sees them. */
  async transactions(me: string, peer: string, seq: number): Promise<NettedTransaction[]> {
    const { rows } = await this.db.raw(`${TRANSACTIONS} ORDER BY transaction_id`, { me, peer, seq });
    return (rows as Array<Record<string, any>>).map(txOf);
  }
}
