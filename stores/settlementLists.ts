// What settlement is made of, a page at a time (stores/page.ts): micro-payments (mp_<id>), settlement periods,
// invoices and seller credits (by the ids migration 020 gives them): everyone's for operators, a party's own.
import { paymentNumber } from '../domain/micropayments';
import type { Db } from '../ledger/db';
import { COLUMNS, fromRow, type PaymentRow, type RecordedPayment } from '../ledger/micropayments';
import { type Credit, creditOf, type Invoice, invoiceOf, type Period, periodOf } from '../ledger/periods';
import { type Page, pageOf, type PageRequest } from './page';

const NUMBER = /^[0-9]+$/;

export class SettlementLists {
  constructor(private readonly db: Db) {}

  /**
   * Micro-payments, newest first, with when each was refunded: a buyer's or a seller's (by their indexes; both
   * filters at once read the buyer's). The cursors are the API's ids (mp_<n>); anything else names no payment.
   */
  payments(req: PageRequest & { buyerId?: string; sellerId?: string }): Promise<Page<RecordedPayment & { refundedAt: Date | null }>> {
    const number = (id: string | undefined) => (id === undefined ? undefined : paymentNumber(id) ?? 'x');
    const mine = () => {
      const q = this.db('micro_payments as p');
      if (req.buyerId) q.where('p.buyer_id', req.buyerId);
      if (req.sellerId) q.where('p.seller_id', req.sellerId);
      return q;
    };
    return pageOf(() => mine().leftJoin('micro_refunds as r', 'r.payment_id', 'p.id')
      .select(...COLUMNS.split(', ').map((c) => `p.${c}`), 'r.created_at as refunded_at'),
    { ...req, startingAfter: number(req.startingAfter), endingBefore: number(req.endingBefore) },
    (r) => ({ ...fromRow(r as PaymentRow), refundedAt: r.refunded_at as Date | null }),
    { key: ['p.created_at', 'p.id'], validId: (id) => NUMBER.test(id), cursors: mine });
  }

  /** Settlement periods, newest first (the created range is of when each opened). */
  periods(req: PageRequest & { state?: string }): Promise<Page<Period>> {
    return pageOf(() => {
      const q = this.db('settlement_periods');
      if (req.state) q.where({ state: req.state });
      return q;
    }, req, periodOf, { key: ['opened_at', 'id'] });
  }

  invoices(req: PageRequest & { buyerId?: string; state?: string }): Promise<Page<Invoice>> {
    return pageOf(() => {
      const q = this.db('invoices');
      if (req.buyerId) q.where({ buyer_id: req.buyerId });
      if (req.state) q.where({ state: req.state });
      return q;
    }, req, invoiceOf);
  }

  credits(req: PageRequest & { sellerId?: string; state?: string }): Promise<Page<Credit>> {
    return pageOf(() => {
      const q = this.db('seller_credits');
      if (req.sellerId) q.where({ seller_id: req.sellerId });
      if (req.state) q.where({ state: req.state });
      return q;
    }, req, creditOf);
  }
}
