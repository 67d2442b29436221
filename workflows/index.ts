// Every workflow the worker runs; this file is the worker bundle's entry point.
export { pingWorkflow } from './ping';
export { orderWorkflow } from './order';
export { settlementBatchWorkflow } from './settlementBatch';
export { deliveryGroupWorkflow } from './deliveryGroup';
export { settlementPeriodWorkflow } from './settlementPeriod';
export { dunningWorkflow } from './dunning';
export { payoutRunWorkflow, payoutWorkflow } from './payout';
export { reconciliationWorkflow } from './reconciliation';
export { checkoutSessionWorkflow } from './checkoutSession';
export { cartWorkflow } from './cart';
export { bidRoundWorkflow } from './bidRound';
export { holdWorkflow } from './hold';
export { disputeWorkflow } from './dispute';
export { federatedPaymentWorkflow } from './federatedPayment';
export { nettingWindowWorkflow } from './nettingWindow';
