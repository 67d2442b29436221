// The hosted checkout page (/checkout/:sessionId): a merchant's session shown to its customer, priced by the broker
// as the customer chooses shipping, options and destination; the card goes from the browser to the processor's
// tokenization and only its token comes here to pay; the outcome is followed until the order's authorization is
// decided; then the receipt.
import { type Request, type Response, Router } from 'express';
import {
  type CheckoutChoice, MAX_CHECKOUT_OPTIONS, OPTION_SKU_PREFIX, type CheckoutSessionView, type PayRequest, priceCheckout,
} from '../../domain/checkout';
import type { Services } from '../../services';
import type { OrderWithBatches } from '../../services/orders';
import type { CheckoutSessionRow } from '../../stores/checkout';
import {
  addressOf, bad, COUNTRY, integer, jsonPageBody, object, PageError, run, safeUrl, text,
} from './common';
import { errorPage, html, httpsOrigins, jsonData, money, notFoundPage, originOf, sendPage } from './html';
import {
  addressFields, cardFields, countrySelect, DEFAULT_COUNTRY, declineMessage, receiptView, shownTotals, statusRegion, totalsOf, totalsTable,
} from './views';

const SESSION_ID = /^cs_[A-Za-z0-9_-]{1,64}$/;

/** What the page's script is told after a payment or a poll: the outcome in words and what to do next. */
export interface Outcome {
  kind: 'approved' | 'review' | 'waiting' | 'declined' | 'expired' | 'failed' | 'open';
  message: string;
  /** Set once paid: where the page goes next. */
  successUrl?: string;
  receiptUrl?: string;
}

export function outcomeOf(row: CheckoutSessionRow, session: CheckoutSessionView, order: OrderWithBatches | null): Outcome {
  const receiptUrl = `/checkout/${row.id}/receipt`;
  switch (session.state) {
    case 'completed':
      return order?.state === 'authorized_minus_avs'
        ? { kind: 'review', message: 'Payment approved. Your order is held for a quick address check by the merchant before it ships.',
          successUrl: safeUrl(row.input.successUrl), receiptUrl }
        : { kind: 'approved', message: 'Payment approved. Thank you!', successUrl: safeUrl(row.input.successUrl), receiptUrl };
    case 'processing':
      return order?.state === 'requires_authentication'
        ? { kind: 'waiting', message: 'Approve on your device: your bank asks you to confirm this payment in the app on your phone. '
          + 'This page updates by itself once you have.' }
        : { kind: 'waiting', message: 'We are waiting for the card network… This page updates by itself; nothing more to do.' };
    case 'expired':
      return { kind: 'expired', message: 'This checkout has expired; nothing was charged.' };
    case 'failed':
      return { kind: 'failed', message: 'The payment was declined too many times; this checkout takes no more payments. Nothing was charged.' };
    default: {
      const last = session.attempts.at(-1);
      if (last?.outcome) return { kind: 'declined', message: declineMessage(last.outcome.failure ?? order?.failure) };
      return { kind: 'open', message: '' };
    }
  }
}

/** The session's answer to the page's script: its state, the order's outcome, and the outcome in words. */
function answer(row: CheckoutSessionRow, r: { session: CheckoutSessionView; order: OrderWithBatches | null }) {
  return {
    session: r.session,
    // (what the customer needs of the order: not its authorizations, captures or the customer's id)
    order: r.order && { id: r.order.id, merchantId: r.order.merchantId, state: r.order.state, totalMinor: r.order.totalMinor, currency: r.order.currency,
      failure: r.order.failure },
    outcome: outcomeOf(row, r.session, r.order),
  };
}

/** The customer's choice as the page's script sends it (partial: a quote needs only the destination's country). */
function choiceOf(body: Record<string, unknown>, row: CheckoutSessionRow, partial: boolean): CheckoutChoice {
  const hasHard = row.input.items.some((i) => i.kind === 'hard');
  const optionIds = body.optionIds ?? [];
  if (!Array.isArray(optionIds) || optionIds.length > MAX_CHECKOUT_OPTIONS) {
    throw bad('parameter_invalid', `optionIds: a list of at most ${MAX_CHECKOUT_OPTIONS}`, 'optionIds');
  }
  const choice: CheckoutChoice = {
    shippingOptionId: hasHard ? text(body.shippingOptionId, 'shippingOptionId', 100, { required: true })! : null,
    optionIds: optionIds.map((o, i) => text(o, `optionIds.${i}`, 100, { required: true })!),
    address: hasHard ? addressOf(body.address, 'address', partial) : null,
  };
  if (hasHard && !choice.address) throw bad('parameter_missing', 'The shipping address is required', 'address');
  if (!hasHard) {
    choice.billingCountry = text(typeof body.billingCountry === 'string' ? body.billingCountry.toUpperCase() : body.billingCountry,
      'billingCountry', 2, { required: true, pattern: COUNTRY });
  }
  return choice;
}

export function checkoutPages(services: Services): Router {
  const r = Router();
  const { checkout } = services;
  const processorOrigin = originOf(services.pages.processorPublicUrl);

  /** The session of the path, or a 404 page/answer (an id not of ours, or no such session). */
  async function sessionOf(req: Request): Promise<CheckoutSessionRow> {
    const id = String(req.params.sessionId);
    const row = SESSION_ID.test(id) ? await checkout.session(id) : undefined;
    if (!row) throw new PageError(404, 'resource_missing', 'There is no such checkout. Check the link you followed.');
    return row;
  }

  r.get('/checkout/:sessionId', run(async (req, res) => {
    const row = await sessionOf(req);
    const { session, order } = await checkout.status(row);
    const expired = session.state === 'expired' || (session.state === 'open' && services.clock() >= Date.parse(row.input.expiresAt));
    if (expired) {
      return errorPage(res, 410, 'This checkout has expired', 'The time to pay for this order ran out; nothing was charged. Return to the shop to start again.',
        { href: safeUrl(row.input.cancelUrl), text: `Return to ${row.input.merchantName}` });
    }
    if (session.state === 'failed') {
      return errorPage(res, 410, 'This checkout is closed', outcomeOf(row, session, order).message,
        { href: safeUrl(row.input.cancelUrl), text: `Return to ${row.input.merchantName}` });
    }
    if (session.state === 'completed' && order) return receiptPage(res, row, order);
    checkoutPage(res, row, session, order);
  }));

  function checkoutPage(res: Response, row: CheckoutSessionRow, session: CheckoutSessionView, order: OrderWithBatches | null): void {
    const i = row.input;
    const c = i.currency;
    const hasHard = i.items.some((it) => it.kind === 'hard');
    const firstShipping = hasHard ? i.shippingOptions[0]?.id ?? null : null;
    let totals: ReturnType<typeof totalsOf> | null;
    try {
      totals = totalsOf(priceCheckout(i, { shippingOptionId: firstShipping, optionIds: [],
        address: hasHard ? { line1: '', city: '', postalCode: '', country: DEFAULT_COUNTRY } : null,
        billingCountry: hasHard ? undefined : DEFAULT_COUNTRY }));
    } catch {
      totals = null;
    }
    const outcome = outcomeOf(row, session, order);
    const body = html`<header class="merchant"><p class="eyebrow">Checkout for</p><h1>${i.merchantName}</h1></header>
<form id="checkout" class="checkout" novalidate>
<section aria-labelledby="items-h">
<h2 id="items-h">Your items</h2>
<table class="items">
<thead><tr><th scope="col">Item</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Unit price</th></tr></thead>
<tbody>
${i.items.map((it) => html`<tr><td class="item">${imageFor(it.imageUrl, it.title)}<span>${it.title}</span></td><td class="num">${it.quantity}</td><td class="num">${money(it.unitPriceMinor, c)}</td></tr>`)}
</tbody>
</table>
</section>
${hasHard ? html`<fieldset id="shipping-options">
<legend>Shipping</legend>
${i.shippingOptions.map((o, n) => html`<div class="choice"><input type="radio" name="shippingOptionId" id="ship-${n}" value="${o.id}"${o.id === firstShipping ? html` checked` : ''}>
<label for="ship-${n}">${o.label} <span class="price">${money(o.priceMinor, c)}</span></label></div>`)}
</fieldset>` : ''}
${i.options.length ? html`<fieldset id="priced-options">
<legend>Options</legend>
${i.options.map((o, n) => html`<div class="choice"><input type="checkbox" name="optionIds" id="opt-${n}" value="${o.id}">
<label for="opt-${n}">${o.label} <span class="price">+${money(o.priceMinor, c)}</span></label></div>`)}
</fieldset>` : ''}
${hasHard ? addressFields('address') : html`<fieldset id="billing"><legend>Where you are</legend>
${countrySelect('billing-country', 'billingCountry', 'Country (for tax)', DEFAULT_COUNTRY, 'billing country')}</fieldset>`}
<section aria-labelledby="totals-h">
<h2 id="totals-h">Total</h2>
${totalsTable(totals, c, { options: i.options.length > 0, shipping: hasHard })}
</section>
${cardFields()}
${statusRegion(outcome.kind === 'waiting' ? outcome.message : '')}
<div class="actions">
<button type="submit" id="pay"${outcome.kind === 'waiting' ? html` disabled` : ''}>Pay <span data-total="total">${totals ? money(totals.totalMinor, c) : ''}</span></button>
<a class="cancel" href="${safeUrl(i.cancelUrl)}">Cancel and return to ${i.merchantName}</a>
</div>
</form>
${jsonData('pb-checkout', { sessionId: row.id, processorUrl: services.pages.processorPublicUrl, hasHard, state: session.state,
    totalMinor: totals?.totalMinor ?? null })}`;
    sendPage(res, 200, { title: `Checkout — ${i.merchantName}`, body, scripts: ['pay.js', 'checkout.js'],
      imgOrigins: httpsOrigins(i.items.map((it) => it.imageUrl)), connectOrigins: processorOrigin ? [processorOrigin] : [] });
  }

  function receiptPage(res: Response, row: CheckoutSessionRow, order: OrderWithBatches): void {
    const body = html`<header class="merchant"><p class="eyebrow">Receipt from</p><h1>${row.input.merchantName}</h1></header>
${statusRegion(order.state === 'authorized_minus_avs' ? 'Payment approved; your order is held for a quick address check before it ships.' : 'Payment approved.')}
${receiptView(order)}
<p><a href="${safeUrl(row.input.successUrl)}">Continue to ${row.input.merchantName}</a></p>`;
    sendPage(res, 200, { title: `Receipt — ${row.input.merchantName}`, body });
  }

  r.get('/checkout/:sessionId/receipt', run(async (req, res) => {
    const row = await sessionOf(req);
    const { session, order } = await checkout.status(row);
    if (session.state !== 'completed' || !order) {
      return errorPage(res, 404, 'No receipt yet', 'This checkout has not been paid yet.', { href: `/checkout/${row.id}`, text: 'Go to the checkout' });
    }
    receiptPage(res, row, order);
  }));

  r.post('/checkout/:sessionId/quote', jsonPageBody, run(async (req, res) => {
    const row = await sessionOf(req);
    const priced = checkout.quote(row, choiceOf(object(req.body), row, true));
    res.set('Cache-Control', 'no-store').json({ ...priced, totals: shownTotals(totalsOf(priced), priced.currency) });
  }));

  r.post('/checkout/:sessionId/pay', jsonPageBody, run(async (req, res) => {
    const row = await sessionOf(req);
    const body = object(req.body);
    const pay: PayRequest = {
      ...choiceOf(body, row, false),
      token: text(body.token, 'token', 200, { required: true, pattern: /^[A-Za-z0-9_-]+$/ })!,
      billingPostalCode: text(body.billingPostalCode, 'billingPostalCode', 20, { required: true })!,
    };
    const expected = body.expectedTotalMinor === undefined ? undefined : integer(body.expectedTotalMinor, 'expectedTotalMinor', 0, Number.MAX_SAFE_INTEGER);
    const r2 = await checkout.pay(row, pay, expected);
    res.set('Cache-Control', 'no-store').json(answer(row, r2));
  }));

  r.get('/checkout/:sessionId/status', run(async (req, res) => {
    const row = await sessionOf(req);
    res.set('Cache-Control', 'no-store').json(answer(row, await checkout.status(row)));
  }));

  // anything else under /checkout: an HTML 404
  r.all(/^\/checkout(\/.*)?$/, (_req, res) => notFoundPage(res));
  return r;
}

export function imageFor(url: string | null | undefined, alt: string) {
  return httpsOrigins([url]).length ? html`<img src="${url!}" alt="${alt}" width="56" height="56">` : '';
}

export { OPTION_SKU_PREFIX };
