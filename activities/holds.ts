// Activities of fund holds: the issuer's side through the processor (balance, reservation, its captures and release),
// and the books (a capture's entry and row as an order's, the merchant's events, the hold's row). Each is safe to run
// twice: processor calls carry the workflow's idempotency keys, postings and rows are keyed by the capture.
import type { HoldView } from '../domain/holds';
import type { Ledger } from '../ledger/ledger';
import { type Balance, type Capture, type ProcessorClient, ProcessorRejectedError, type Reservation, type ReserveRequest } from '../processors/client';
import type { HoldStore } from '../stores/holds';
import type { OrderStore } from '../stores/orders';
import { bookCapture, type CapturePosting } from './orders';
import { processorCall } from './processorCall';
import type { BusinessEvent, WebhookEventActivities } from './webhookEvents';

export type HoldCapturePosting = Omit<CapturePosting, 'orderId'> & { holdId: string };

export function createHoldActivities(deps: { processor: ProcessorClient; ledger: Ledger; orders: OrderStore; holds: HoldStore;
  events: WebhookEventActivities; }) {
  const { processor, holds, events } = deps;
  return {
    /**
     * The card's available funds, or null when its issuer keeps no balance for it (a credit card) or the processor does
     * not know the token: the reservation decides then (a credit line; an unknown token is declined invalid_token).
     */
    async holdBalance(token: string): Promise<Balance | null> {
      return processorCall(async () => {
        try {
          return await processor.balance(token);
        } catch (err) {
          if (err instanceof ProcessorRejectedError && (err.code === 'balance_not_available' || err.status === 404)) return null;
          throw err;
        }
      });
    },
    async reserve(req: ReserveRequest, idempotencyKey: string): Promise<Reservation> {
      return processorCall(() => processor.reserve(req, idempotencyKey));
    },
    async captureReservation(reservationId: string, amountMinor: number, idempotencyKey: string): Promise<Capture> {
      return processorCall(() => processor.captureReservation(reservationId, amountMinor, idempotencyKey));
    },
    async releaseReservation(reservationId: string, idempotencyKey: string): Promise<Reservation> {
      return processorCall(() => processor.releaseReservation(reservationId, idempotencyKey));
    },
    async reservation(reservationId: string): Promise<Reservation | null> {
      return processorCall(async () => (await processor.getReservation(reservationId)) ?? null);
    },
    /** A step's books: the captures' entries and rows, then the merchant's events (in order), then the hold's row. */
    async saveHold(view: HoldView, captures: HoldCapturePosting[], emitted: BusinessEvent[]): Promise<void> {
      for (const { holdId, ...c } of captures) await bookCapture(deps, c, { holdId });
      for (const e of emitted) await events.emitEvent(e);
      await holds.save(view);
    },
  };
}

export type HoldActivities = ReturnType<typeof createHoldActivities>;
