// Business events merchants receive at their webhook endpoints, and the serialization group each belongs to.

export const ORDER_EVENT_TYPES = ['order.created', 'order.authorized', 'order.authorization_failed', 'order.captured', 'order.voided', 'order.refunded', 'order.needs_attention',
  'order.needs_attention_resolved', 'order.awaiting_customer', 'order.cancelled'] as const;
export const SETTLEMENT_EVENT_TYPES = ['settlement.credit_paid'] as const;
export const PAYOUT_EVENT_TYPES = ['payout.paid', 'payout.failed'] as const;
export const CHECKOUT_EVENT_TYPES = ['checkout.session.completed', 'checkout.session.expired', 'checkout.session.failed'] as const;
/** To the merchants a round is opened to: it opened (or reopened); they won (with the order to fulfil) or lost. */
export const BID_ROUND_EVENT_TYPES = ['bid_round.opened', 'bid_round.won', 'bid_round.lost'] as const;
/** To the buyer app that asked for a purchase or a quote. */
export const PURCHASE_EVENT_TYPES = ['purchase.authorized', 'purchase.authorization_failed', 'purchase.awarded', 'purchase.fulfilling',
  'purchase.cancelled', 'quote.ready', 'quote.unavailable', 'quote.expired'] as const;
/** A hold placed (or declined), captured (each capture), released by the merchant, or expired (early: by the issuer). */
export const HOLD_EVENT_TYPES = ['hold.placed', 'hold.declined', 'hold.captured', 'hold.released', 'hold.expired'] as const;
/** A dispute opened on a capture (with its reason and evidence deadline), reminders before that deadline, and its end. */
export const DISPUTE_EVENT_TYPES = ['dispute.created', 'dispute.evidence_due_soon', 'dispute.closed'] as const;
/** Sent to one endpoint on request (POST /v1/webhook-endpoints/:id/test), to check that it receives and verifies. */
export const TEST_EVENT_TYPE = 'webhook.test';
export const EVENT_TYPES = [...ORDER_EVENT_TYPES, ...CHECKOUT_EVENT_TYPES, ...SETTLEMENT_EVENT_TYPES, ...PAYOUT_EVENT_TYPES, ...BID_ROUND_EVENT_TYPES,
  ...PURCHASE_EVENT_TYPES, ...HOLD_EVENT_TYPES, ...DISPUTE_EVENT_TYPES, TEST_EVENT_TYPE] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface BusinessEvent {
  merchantId: string;
  /** The serialization group: events with one key reach an endpoint in the order they were emitted. */
  groupKey: string;
  type: EventType;
  /** Unique per event (e.g. order id + what happened + the processor's id). */
  eventKey: string;
  data: Record<string, unknown>;
}
