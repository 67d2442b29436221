// Settlement periods, invoices and seller credits a page at a time (stores/page.ts), by the ids migration 020
// gives them: everyone's for operators, a buyer's own invoices, a seller's own credits.
import type { Db } from '../ledger/db';
import { type Credit, creditOf, type Invoice, invoiceOf, type Period, periodOf } from '../ledger/periods';
import { type Page, pageOf, type PageRequest } from './page';

export class PeriodListStore {
  constructor(private readonly db: Db) {}

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
