// Issuer assistance for merchants of digital goods: a loyalty reward tied to a purchase, forwarded to the card's issuer
// through the processor and kept with the order; and a provisioning failure reported before any dispute, which refunds
// the customer (through the order, as any refund) and then tells the issuer about each capture refunded. The processor
// is called synchronously, each call under a key derived from the merchant's request, so a retry (after a 503) has no
// second effect.
import type { OrderView } from '../domain/order';
import { type LoyaltySignal, type ProcessorClient, ProcessorRejectedError, ProcessorUnavailableError } from '../processors/client';
import type { LoyaltyReward, OrderRow, OrderStore } from '../stores/orders';
import type { OrderAnswer, OrderService } from './orders';

/** A request the issuer's side refused, with the API's status and code. */
export class IssuerRefused extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'IssuerRefused';
  }
}

export class IssuerService {
  constructor(private readonly deps: { processor: ProcessorClient; orders: OrderService; orderStore: OrderStore }) {}

  /** Forwards a loyalty reward for one of the order's captures (default its latest) and keeps it with the order. */
  async loyalty(row: OrderRow, order: OrderView, requestKey: string, req: { program: string; points: number; captureId?: string }): Promise<LoyaltyReward> {
    const made = await this.deps.orderStore.loyaltyByKey(row.merchantId, requestKey);
    if (made) return made;
    const captureId = req.captureId ?? order.captures.at(-1)?.id;
    if (!captureId) throw new IssuerRefused(409, 'order_not_captured', 'The order has no capture yet: a loyalty reward is tied to a purchase');
    if (!order.captures.some((c) => c.id === captureId)) throw new IssuerRefused(422, 'unknown_capture', 'Not a capture of this order', 'captureId');
    const signal: LoyaltySignal = await call(() => this.deps.processor.sendLoyalty(captureId, { program: req.program, points: req.points },
      `loyalty:${row.merchantId}:${requestKey}`));
    return this.deps.orderStore.addLoyalty({ id: signal.id, orderId: row.id, merchantId: row.merchantId, captureId, program: req.program,
      points: req.points, idempotencyKey: requestKey });
  }

  /**
   * The merchant could not provision what the customer bought: the order refunds it (amountMinor, default all that is
   * left to refund) and, once refunded, the issuer hears of each capture that refund touched.
   */
  async provisioningFailed(row: OrderRow, requestKey: string, amountMinor?: number): Promise<OrderAnswer> {
    const current = await this.deps.orders.current(row);
    const refundId = `provisioning-${requestKey}`;
    const left = current.capturedMinor - current.refundedMinor;
    const made = current.refunds.some((r) => r.id === refundId);
    if (!made && left <= 0) throw new IssuerRefused(409, 'nothing_to_refund', 'Nothing captured is left to refund on this order');
    const answer = await this.deps.orders.refund(row, { refundId, kind: 'refund', amountMinor: amountMinor ?? left, reason: 'provisioning_failed' });
    const refund = answer.order.refunds.find((r) => r.id === refundId);
    for (const part of refund?.parts ?? []) {
      await call(() => this.deps.processor.reportProvisioningFailure(part.captureId, `provisioning:${part.captureId}`));
    }
    return answer;
  }
}

/** A processor call from a request: unavailable → 503 (retry the request), refused → the processor's code. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ProcessorUnavailableError) throw new IssuerRefused(503, 'processor_unavailable', 'The processor cannot be reached right now; retry the request with the same Idempotency-Key');
    if (err instanceof ProcessorRejectedError) throw new IssuerRefused(err.status === 404 ? 404 : 409, err.code, `The processor refused: ${err.message}`);
    throw err;
  }
}
