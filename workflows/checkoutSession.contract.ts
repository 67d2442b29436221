// The checkout session workflow's contract: its id and the messages it answers. The API's checkout service, the
// history recorder and tests import this, never the workflow itself.
import * as wf from '@temporalio/workflow';
import type { CheckoutSessionInput, CheckoutSessionView, PayRequest } from '../domain/checkout';

export type { CheckoutSessionInput, CheckoutSessionView, PayRequest } from '../domain/checkout';

/** Pays (or joins the payment deciding, or answers the completed one): answered once the attempt's order decided. */
export const payUpdate = wf.defineUpdate<CheckoutSessionView, [PayRequest]>('pay');
export const sessionQuery = wf.defineQuery<CheckoutSessionView>('session');

export type CheckoutSessionWorkflow = (input: CheckoutSessionInput) => Promise<CheckoutSessionView>;

export const checkoutSessionWorkflowId = (sessionId: string) => `checkout-${sessionId}`;
