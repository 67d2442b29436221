// A fund hold: checks the card's balance and reserves the amount with its issuer, then takes the merchant's captures
// (each posted like an order's) and ends when all is captured, when the merchant releases the rest, or at its expiry
// (its durable timer releases the rest; an issuer that ended the reservation first makes it expire early). The rules
// live in domain/holds.ts.
import * as wf from '@temporalio/workflow';
import type { HoldActivities, HoldCapturePosting } from '../activities/holds';
import type { OrderActivities } from '../activities/orders';
import type { BusinessEvent } from '../domain/events';
import { Hold, HoldError, holdDetails, type HoldInput, type HoldView } from '../domain/holds';
import { PROCESSOR_CALL, UNTIL_WRITTEN } from './activityOptions';
import { captureUpdate, holdQuery, issuerExpiredSignal, placedUpdate, releaseUpdate } from './hold.contract';
import { notDone, reachable } from './reachable';
import { refusedAs } from './refusal';

/** How long placing a hold waits out an unreachable processor before the hold fails (nothing reserved). */
export const HOLD_PLACE_DEADLINE_MS = 10 * 60_000;

/** An issuer's expiry this close to the hold's own is its natural end (the clocks differ), not an early one. */
const EARLY_MARGIN_MS = 5000;

const processor = wf.proxyLocalActivities<HoldActivities>(PROCESSOR_CALL);
const books = wf.proxyLocalActivities<HoldActivities>(UNTIL_WRITTEN);
const problems = wf.proxyLocalActivities<OrderActivities>(UNTIL_WRITTEN);

export async function holdWorkflow(input: HoldInput): Promise<HoldView> {
  const hold = new Hold(input);
  const id = wf.workflowInfo().workflowId;
  /** Admitted capture requests in the order they came; each is answered by its capture or its failure. */
  const queue: string[] = [];
  const failedCaptures = new Map<string, { code: string; message: string }>();
  let releaseAsked = false;
  let issuerEnded = false;
  let captureSeq = 0;

  wf.setHandler(holdQuery, () => hold.view());
  wf.setHandler(placedUpdate, async () => {
    await wf.condition(() => hold.state !== 'placing');
    return hold.view();
  });
  wf.setHandler(captureUpdate, async ({ requestKey, amountMinor }) => {
    if (!hold.captureOf(requestKey) && !queue.includes(requestKey)) {
      hold.requestCapture(requestKey, amountMinor);
      queue.push(requestKey);
    }
    await wf.condition(() => hold.captureOf(requestKey) !== undefined || failedCaptures.has(requestKey));
    const failed = failedCaptures.get(requestKey);
    if (failed) throw wf.ApplicationFailure.create({ type: failed.code, message: failed.message, nonRetryable: true, details: [null] });
    return hold.view();
  }, { validator: ({ requestKey, amountMinor }) => refusedAs(HoldError, () => hold.admitCapture(requestKey, amountMinor)) });
  wf.setHandler(releaseUpdate, async () => {
    if (hold.admitRelease()) releaseAsked = true;
    await wf.condition(() => hold.isFinal);
    return hold.view();
  }, { validator: () => refusedAs(HoldError, () => hold.admitRelease()) });
  wf.setHandler(issuerExpiredSignal, ({ reservationId }) => {
    if (reservationId === hold.reservationId) issuerEnded = true;
  });

  const event = (type: BusinessEvent['type'], key: string, data: Record<string, unknown> = {}): BusinessEvent => ({
    merchantId: input.merchantId, groupKey: id, type, eventKey: `${id}:${type}:${key}`,
    data: { holdId: input.holdId, state: hold.state, amountMinor: input.amountMinor, capturedMinor: hold.capturedMinor,
      currency: input.currency, ...data },
  });
  let saved = '';
  const save = async (captures: HoldCapturePosting[] = [], events: BusinessEvent[] = []) => {
    const view = hold.view();
    const shown = JSON.stringify(view);
    if (shown === saved && captures.length === 0 && events.length === 0) return;
    saved = shown;
    wf.setCurrentDetails(holdDetails(view));
    await books.saveHold(view, captures, events);
  };
  /** A call that must be answered (a capture, the release): the processor is waited out for as long as it takes. */
  const answered = <T>(call: () => Promise<T>) => reachable(call, Number.MAX_SAFE_INTEGER);

  await place();
  if (hold.state !== 'active') {
    await save([], [event('hold.declined', 'declined', { failure: hold.failure })]);
    await wf.condition(wf.allHandlersFinished);
    return hold.view();
  }
  await save([], [event('hold.placed', 'placed', { expiresAt: hold.expiresAt })]);

  while (!hold.isFinal) {
    const untilExpiry = Date.parse(hold.expiresAt!) - Date.now();
    await wf.condition(() => queue.length > 0 || releaseAsked || issuerEnded, Math.max(1, untilExpiry));
    const requestKey = queue.shift();
    if (requestKey !== undefined) await capture(requestKey);
    else if (releaseAsked) await release('released');
    // (its timer, or the issuer's word: early when that came well before the hold's own expiry)
    else await release('expired', issuerEnded && Date.now() < Date.parse(hold.expiresAt!) - EARLY_MARGIN_MS);
  }
  for (const k of queue) failedCaptures.set(k, { code: 'hold_not_active', message: `The hold is ${hold.state}: nothing can be captured` });
  await wf.condition(wf.allHandlersFinished);
  return hold.view();

  async function place(): Promise<void> {
    const asked = await reachable(async () => ({ balance: await processor.holdBalance(input.token) }), HOLD_PLACE_DEADLINE_MS);
    if (notDone(asked)) return hold.notPlaced('failed', asked.failed, asked.message, Date.now());
    const { balance } = asked;
    if (balance && balance.currency === input.currency && balance.availableMinor < input.amountMinor) {
      return hold.notPlaced('declined', 'insufficient_funds', `The card has ${balance.availableMinor} available, less than the ${input.amountMinor} asked`, Date.now());
    }
    const r = await reachable(() => processor.reserve({ token: input.token, amountMinor: input.amountMinor, currency: input.currency,
      reference: id, expiresInSeconds: input.expiresInSeconds }, `${id}:reserve`), HOLD_PLACE_DEADLINE_MS);
    if (notDone(r)) {
      if (r.failed === 'processor_unreachable') {
        await problems.recordProblem({ workflowId: id, merchantId: input.merchantId, kind: 'reservation_unknown', details: { key: `${id}:reserve` },
          message: `The processor did not answer the hold's reservation (key ${id}:reserve) before the deadline: release it at the processor if it was made` });
      }
      return hold.notPlaced('failed', r.failed, r.message, Date.now());
    }
    if (r.status !== 'active') return hold.notPlaced('declined', r.declineCode ?? 'declined', `The card was declined (${r.declineCode ?? 'declined'})`, Date.now());
    hold.placed({ id: r.id, expiresAt: r.expiresAt! });
  }

  async function capture(requestKey: string): Promise<void> {
    const pending = hold.pending.find((p) => p.requestKey === requestKey)!;
    const key = `${id}:capture:${++captureSeq}`;
    const c = await answered(() => processor.captureReservation(hold.reservationId!, pending.amountMinor, key));
    if (notDone(c)) {
      hold.captureFailed(requestKey);
      failedCaptures.set(requestKey, { code: c.failed, message: c.message });
      // (the issuer ended the reservation before the hold's own expiry: the hold has expired early)
      if (c.failed === 'reservation_ended') await release('expired', true);
      return;
    }
    const feeMinor = hold.feeOf(c.amountMinor);
    hold.captured({ id: c.id, amountMinor: c.amountMinor, feeMinor, requestKey, capturedAt: new Date(Date.now()).toISOString() });
    await save([{ holdId: input.holdId, merchantId: input.merchantId, captureId: c.id, currency: c.currency, amountMinor: c.amountMinor, feeMinor,
      processorFeeMinor: c.feeMinor }],
      [event('hold.captured', c.id, { captureId: c.id, captureMinor: c.amountMinor })]);
  }

  /** Gives the rest back (at the processor first; one the issuer already ended is answered as it stands). */
  async function release(how: 'released' | 'expired', early = false): Promise<void> {
    const r = await answered(() => processor.releaseReservation(hold.reservationId!, `${id}:release`));
    if (notDone(r)) {
      await problems.recordProblem({ workflowId: id, merchantId: input.merchantId, kind: 'reservation_release_refused', details: { code: r.failed },
        message: `The processor refused to release the hold's reservation ${hold.reservationId}: ${r.message}` });
    }
    hold.ended(how, new Date(Date.now()).toISOString(), early);
    await save([], [event(how === 'released' ? 'hold.released' : 'hold.expired', how, { releasedMinor: hold.releasedMinor, expiredEarly: hold.expiredEarly })]);
  }
}
