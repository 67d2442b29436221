// Paybroker's custom search attributes, kept current by the workflows so operators can filter in the Web UI.
// The launcher and the test setup register each of them on the dev server at start. They are stored plain (the
// payload codec does not reach them): none may hold personal data.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const OrderState = defineSearchAttributeKey('OrderState', SearchAttributeType.KEYWORD);
export const MerchantId = defineSearchAttributeKey('MerchantId', SearchAttributeType.KEYWORD);
export const OrderTotalMinor = defineSearchAttributeKey('OrderTotalMinor', SearchAttributeType.INT);
export const NeedsAttention = defineSearchAttributeKey('NeedsAttention', SearchAttributeType.BOOL);
/** Bid rounds: their item class, mode (sell_first, quote_first) and state. */
export const ItemClass = defineSearchAttributeKey('ItemClass', SearchAttributeType.KEYWORD);
export const BidRoundMode = defineSearchAttributeKey('BidRoundMode', SearchAttributeType.KEYWORD);
export const BidRoundState = defineSearchAttributeKey('BidRoundState', SearchAttributeType.KEYWORD);

/** name → type as the Temporal CLI spells it in `--search-attribute name=Type`. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'Int' | 'Bool'> = {
  OrderState: 'Keyword',
  MerchantId: 'Keyword',
  OrderTotalMinor: 'Int',
  NeedsAttention: 'Bool',
  ItemClass: 'Keyword',
  BidRoundMode: 'Keyword',
  BidRoundState: 'Keyword',
};
