// The bid round workflow's contract: its id, its input and the messages it answers. The API's bid service, the
// history recorder and tests import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import type { RoundState, RoundTerms, RoundView } from '../domain/bids';
import type { Address, OrderPolicy } from '../domain/order';
import { BidRoundMode, BidRoundState, ItemClass } from './searchAttributes';

export type { RoundView } from '../domain/bids';

export interface Payment { token: string; billingPostalCode: string }

export interface BidRoundInput extends RoundTerms {
  /** When the request came (quote first: the window runs from then). */
  requestedAtMs: number;
  /** Sell first: the customer's card and where the item goes (null: a soft good). Quote first: given on acceptance. */
  payment: Payment | null;
  address: Address | null;
  /** Quote first: where the item would go (an acceptance's address must be in its country). */
  destination: { country: string; region?: string; postalCode?: string } | null;
  /** The broker's order policy for the orders its awards start (timing; their fee is the broker's spread). */
  policy: OrderPolicy;
  /** How long an authorization waits out an unreachable processor (default BID_ROUND_PROCESSOR_DEADLINE_MS). */
  processorDeadlineMs?: number;
}

/** Quote first: the customer pays the quoted price with this card (and, for goods that ship, to this address). */
export interface AcceptRequest { payment: Payment; address: Address | null }

/** Enough bids are in (the API saw the enough-th placed): the round may close before its timer. */
export const closeEarlySignal = wf.defineSignal('closeEarly');
/** Answered once the acceptance's authorization is decided: awarded, or quoted again with the failure. */
export const acceptUpdate = wf.defineUpdate<RoundView, [AcceptRequest]>('accept');
/** Answered once the round is in none of these states (a caller waiting for a purchase's authorization, or a quote). */
export const leftStatesUpdate = wf.defineUpdate<RoundView, [RoundState[]]>('leftStates');
export const roundQuery = wf.defineQuery<RoundView>('round');

export type BidRoundWorkflow = (input: BidRoundInput) => Promise<RoundView>;

export const bidRoundWorkflowId = (roundId: string) => `bid-round-${roundId}`;
/** The winning merchant's name of the order of a round's nth award. */
export const roundClientOrderId = (roundId: string, n: number) => `round-${roundId}-${n}`;

export const roundStartAttributes = (input: BidRoundInput): SearchAttributePair[] => [
  { key: ItemClass, value: input.itemClass.id }, { key: BidRoundMode, value: input.mode },
  { key: BidRoundState, value: input.mode === 'sell_first' ? 'authorizing' : 'open' },
];
