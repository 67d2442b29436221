// Pieces of the pages that checkout and carts share: totals, the card form, the address form, order receipts,
// outcome messages in words.
import type { Address } from '../../domain/order';
import { OPTION_SKU_PREFIX } from '../../domain/checkout';
import type { PricedOrder } from '../../domain/pricing';
import type { OrderWithBatches } from '../../services/orders';
import { html, type Html, money } from './html';

/** The countries offered in the address form (a tax destination not listed cannot be chosen on the page). */
export const COUNTRIES = ['US', 'CA', 'MX', 'GB', 'IE', 'FR', 'DE', 'NL', 'BE', 'ES', 'IT', 'PT', 'AT', 'CH', 'SE', 'NO', 'DK', 'FI', 'PL', 'CZ',
  'JP', 'KR', 'SG', 'HK', 'AU', 'NZ', 'IN', 'BR', 'AR', 'ZA'];
export const DEFAULT_COUNTRY = 'US';
const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
export const countryName = (c: string) => { try { return regionNames.of(c) ?? c; } catch { return c; } };

export interface Totals { itemsMinor: number; shippingMinor: number; optionsMinor: number; taxMinor: number; totalMinor: number }

/** A priced order's totals as the pages show them: options (lines of the option: prefix) apart from the items. */
export function totalsOf(p: PricedOrder): Totals {
  const optionsMinor = p.lines.filter((l) => l.sku.startsWith(OPTION_SKU_PREFIX)).reduce((s, l) => s + l.unitPriceMinor * l.quantity, 0);
  return { itemsMinor: p.itemsMinor - optionsMinor, shippingMinor: p.shippingMinor, optionsMinor, taxMinor: p.taxMinor, totalMinor: p.totalMinor };
}

/** The totals formatted (what the page script puts in place). */
export function shownTotals(t: Totals, currency: string) {
  return { items: money(t.itemsMinor, currency), shipping: money(t.shippingMinor, currency), options: money(t.optionsMinor, currency),
    tax: money(t.taxMinor, currency), total: money(t.totalMinor, currency), totalMinor: t.totalMinor };
}

export function totalsTable(t: Totals | null, currency: string, o: { options: boolean; shipping: boolean; id?: string }): Html {
  const s = t ? shownTotals(t, currency) : null;
  const row = (key: string, label: string, value: string | undefined, strong = false) =>
    html`<div class="row${strong ? ' total' : ''}"><dt>${label}</dt><dd data-total="${key}">${value ?? '—'}</dd></div>`;
  return html`<dl class="totals" id="${o.id ?? 'totals'}">
${row('items', 'Items', s?.items)}
${o.shipping ? row('shipping', 'Shipping', s?.shipping) : ''}
${o.options ? row('options', 'Options', s?.options) : ''}
${row('tax', 'Tax', s?.tax)}
${row('total', 'Total', s?.total, true)}
</dl>`;
}

export function addressFields(prefix: string, a: Partial<Address> = {}): Html {
  const field = (name: keyof Address, label: string, auto: string, required: boolean, max: number) => html`<div class="field">
<label for="${prefix}-${name}">${label}${required ? '' : html` <span class="hint">(optional)</span>`}</label>
<input id="${prefix}-${name}" name="${name}" autocomplete="${auto}" maxlength="${max}"${required ? html` required` : ''} value="${a[name] ?? ''}">
</div>`;
  return html`<fieldset class="address" id="${prefix}">
<legend>Shipping address</legend>
${field('name', 'Full name', 'shipping name', true, 200)}
${field('line1', 'Address', 'shipping address-line1', true, 200)}
${field('line2', 'Apartment, suite', 'shipping address-line2', false, 200)}
${field('city', 'City', 'shipping address-level2', true, 100)}
${field('region', 'State or region', 'shipping address-level1', false, 100)}
${field('postalCode', 'Postal code', 'shipping postal-code', true, 20)}
${countrySelect(`${prefix}-country`, 'country', 'Country', a.country ?? DEFAULT_COUNTRY, 'shipping country')}
</fieldset>`;
}

export function countrySelect(id: string, name: string, label: string, selected: string, auto: string): Html {
  return html`<div class="field">
<label for="${id}">${label}</label>
<select id="${id}" name="${name}" autocomplete="${auto}">
${COUNTRIES.map((c) => html`<option value="${c}"${c === selected ? html` selected` : ''}>${countryName(c)}</option>`)}
</select>
</div>`;
}

/**
 * The card form. Its inputs have no name: a form without its script sends none of them anywhere; the script sends
 * the card to the processor's tokenization and only the token to Paybroker.
 */
export function cardFields(): Html {
  return html`<fieldset class="card">
<legend>Card</legend>
<div class="field"><label for="card-number">Card number</label>
<input id="card-number" inputmode="numeric" autocomplete="cc-number" maxlength="23" required aria-describedby="card-hint">
<p class="hint" id="card-hint">Sent straight to the card processor; Paybroker never sees it.</p></div>
<div class="inline">
<div class="field"><label for="card-exp-month">Expiry month</label>
<input id="card-exp-month" inputmode="numeric" autocomplete="cc-exp-month" maxlength="2" placeholder="MM" required></div>
<div class="field"><label for="card-exp-year">Expiry year</label>
<input id="card-exp-year" inputmode="numeric" autocomplete="cc-exp-year" maxlength="4" placeholder="YYYY" required></div>
<div class="field"><label for="card-cvc">Security code</label>
<input id="card-cvc" inputmode="numeric" autocomplete="cc-csc" maxlength="4" required></div>
</div>
<div class="field"><label for="billing-postal">Billing postal code</label>
<input id="billing-postal" autocomplete="billing postal-code" maxlength="20" required></div>
</fieldset>`;
}

/** The region where the pages announce what is happening (screen readers read it as it changes). */
export const statusRegion = (text = '') => html`<div id="status" class="status" role="status" aria-live="polite">${text}</div>`;

export const ORDER_STATE_WORDS: Record<string, string> = {
  awaiting_confirmation: 'Waiting for your reply to our text message',
  confirmed: 'Received; the payment is being checked',
  requires_authentication: 'Waiting for your approval on your device',
  cancelled: 'Cancelled; nothing was charged',
  awaiting_processor: 'Waiting for the card network',
  authorized_plus_avs: 'Paid; being prepared for shipping',
  authorized_minus_avs: 'Paid; held for an address check',
  failed_authorization: 'Payment declined',
  partially_shipped: 'Partly shipped',
  shipped: 'Shipped',
  voided: 'Cancelled; nothing was charged',
  partially_refunded: 'Partly refunded',
  refunded: 'Refunded',
  partially_returned: 'Partly returned',
  returned: 'Returned',
};

export const stateInWords = (s: string) => ORDER_STATE_WORDS[s] ?? s.replace(/_/g, ' ');

const DECLINES: Record<string, string> = {
  card_declined: 'Your card was declined. Try another card.',
  declined: 'Your card was declined. Try another card.',
  insufficient_funds: 'Your card has insufficient funds. Try another card.',
  expired_card: 'Your card has expired. Check the expiry date or use another card.',
  incorrect_cvc: 'The security code is not right. Check it and try again.',
  avs_rejected: 'The billing address does not match the card. Check the postal code or use another card.',
  processor_unreachable: 'The card network could not be reached; nothing was charged. Try again in a few minutes.',
  fraudulent: 'Your card was declined. Try another card.',
  authentication_failed: 'The payment was not approved on your device (or you have none registered). Nothing was charged.',
  authentication_timeout: 'The payment was not approved on your device in time. Nothing was charged; you can try again.',
  authentication_required: 'Your bank asks you to approve this payment on your device, which this payment cannot do. Try another card.',
};

/** Why a payment did not go through, in words a customer can act on. */
export function declineMessage(failure: { code: string; message: string } | null | undefined): string {
  if (!failure) return 'The payment was not approved. Try another card.';
  if (failure.code.startsWith('avs')) return DECLINES.avs_rejected;
  return DECLINES[failure.code] ?? `The payment was not approved (${failure.message}). Try another card.`;
}

/** An order as a customer reads it: items, totals, state in words, shipments with their tracking numbers. */
export function receiptView(order: OrderWithBatches, o: { merchantName?: string; heading?: string } = {}): Html {
  const c = order.currency;
  const t = totalsOf(order.priced);
  const lines = order.priced.lines;
  return html`<section class="receipt" aria-labelledby="receipt-${order.id}">
<h2 id="receipt-${order.id}">${o.heading ?? 'Your order'}${o.merchantName ? html` from ${o.merchantName}` : ''}</h2>
<p>Order <code>${order.id}</code>: <strong class="order-state" data-state="${order.state}">${stateInWords(order.state)}</strong></p>
<table class="items">
<thead><tr><th scope="col">Item</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Price</th></tr></thead>
<tbody>
${lines.map((l) => html`<tr><td>${l.description ?? l.sku}</td><td class="num">${l.quantity}</td><td class="num">${money(l.unitPriceMinor * l.quantity, c)}</td></tr>`)}
</tbody>
</table>
${totalsTable(t, c, { options: t.optionsMinor > 0, shipping: order.priced.shippingOptionId !== null, id: `totals-${order.id}` })}
<h3>Shipments</h3>
${order.shipments.length === 0
    ? html`<p class="shipments-none">Nothing has shipped yet. Tracking numbers appear here as parcels leave.</p>`
    : html`<ul class="shipments">${order.shipments.map((s) => html`<li>Tracking number <strong class="tracking">${s.trackingNumber}</strong>:
${s.items.map((u, i) => html`${i ? ', ' : ''}${u.quantity} × ${lines.find((l) => l.sku === u.sku)?.description ?? u.sku}`)}</li>`)}</ul>`}
</section>`;
}
