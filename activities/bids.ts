// Activities of bid rounds: opening a round (its merchants told), closing it (its bids read once), saving it (with the
// events its step emits). Each is safe to repeat: events carry their keys, an opening or a close done twice is the same.
import type { Bid, RoundView } from '../domain/bids';
import type { BidStore } from '../stores/bids';
import type { BusinessEvent, WebhookEventActivities } from './webhookEvents';

export interface RoundOpening {
  roundId: string;
  itemClassId: string;
  quantity: number;
  closesAt: string;
  /** The bids that close it early (null: only its timer does). */
  enoughBids: number | null;
  /** What each merchant the round is opened to is told (bid_round.opened), its merchant filled in per merchant. */
  told: Omit<BusinessEvent, 'merchantId' | 'eventKey'> & { eventKey: string };
}

export function createBidActivities(deps: { bids: BidStore; events: WebhookEventActivities }) {
  const { bids, events } = deps;
  return {
    /** Opens the round to the class's bidders (their auto-bids placed) and tells each; the merchants and the bids in. */
    async openRound(o: RoundOpening): Promise<{ merchants: string[]; bidCount: number }> {
      const opened = await bids.openRound(o.roundId, o.itemClassId, o.quantity, new Date(o.closesAt), o.enoughBids);
      for (const merchantId of opened.merchants) {
        await events.emitEvent({ ...o.told, merchantId, eventKey: `${o.told.eventKey}:${merchantId}` });
      }
      return opened;
    },
    async closeRound(roundId: string): Promise<Bid[]> {
      return bids.closeRound(roundId);
    },
    async saveRound(view: RoundView, emitted: BusinessEvent[]): Promise<void> {
      for (const e of emitted) await events.emitEvent(e);
      await bids.saveRound(view);
    },
  };
}

export type BidActivities = ReturnType<typeof createBidActivities>;
