// What settlement is made of, a page at a time (stores/page.ts): micro-payments (mp_<id>), settlement periods,
// invoices and seller credits (by the ids migration 020 gives them): everyone's for operators, a party's own.
import { paymentNumber } from '../domain/micropayments';
import type { Db } from '../ledger/db';
import { COLUMNS, fromRow, type PaymentRow, type RecordedPayment } from '../ledger/micropayments';
import { type Credit, creditOf, type Invoice, invoiceOf, type Period, periodOf } from '../ledger/periods';
import { given, type Page, pageOf, type PageRequest } from './page';

const NUMBER = /^[0-9]+$/;

export class SettlementLists {
  constructor(private readonly db: Db) {}

  /**
   * Micro-payments, newest first, with when each was refunded: a buyer's or a seller's (by their indexes; both
   * filters at once read the buyer's). The cursors are the API's ids (mp_<n>); anything else names no payment.
   */
  payments(req: PageRequest & { buyerId?: string; sellerId?: string }): Promise<Page<RecordedPayment & { refundedAt: Date | null }>> {
    const number = (id: string | undefined) => (id === undefined ? undefined : paymentNumber(id) ?? 'x');
    const mine = () => this.db('micro_payments as p').where(given({ 'p.buyer_id': req.buyerId, 'p.seller_id': req.sellerId }));
    return pageOf(() => mine().leftJoin('micro_refunds as r', 'r.payment_id', 'p.id')
      .select(...COLUMNS.split(', ').map((c) => `p.${c}`), 'r.created_at as refunded_at'),
    { ...req, startingAfter: number(req.startingAfter), endingBefore: number(req.endingBefore) },
    (r) => ({ ...fromRow(r as PaymentRow), refundedAt: r.refunded_at as Date | null }),
    { key: ['p.created_at', 'p.id'], validId: (id) => NUMBER.test(id), cursors: mine });
  }

  /** Settlement periods, newest first (the created range is of when each opened). */
  periods(req: PageRequest & { state?: string }): Promise<Page<Period>> {
    return pageOf(() => this.db('settlement_periods').where(given({ state: req.state })), req, periodOf, { key: ['opened_at', 'id'] });
  }

  invoices(req: PageRequest & { buyerId?: string; state?: string }): Promise<Page<Invoice>> {
    return pageOf(() => this.db('invoices').where(given({ buyer_id: req.buyerId, state: req.state })), req, invoiceOf);
  }

  credits(req: PageRequest & { sellerId?: string; state?: string }): Promise<Page<Credit>> {
    return pageOf(() => this.db('seller_credits').where(given({ seller_id: req.sellerId, state: req.state })), req, creditOf);
  }
}
