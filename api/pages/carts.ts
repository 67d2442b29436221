// The broker's cart as its customer sees it: an offered item added (/carts/add), the cart edited (/carts/:id), its
// purchase across merchants in one payment (/carts/:id/checkout), each merchant's order's receipt, and published
// references (/carts/p/:ref) that show the items and merchants but nothing of the publisher. A customer is a
// secret cookie (pb_customer); a cart not of this customer is as good as absent (404).
import { type Request, type RequestHandler, type Response, Router } from 'express';
import { type RateLimit, TokenBuckets } from '../rateLimit';
import { type CartView, CartError, lineKey, MAX_CART_LINES, MAX_LINE_QUANTITY } from '../../domain/cart';
import type { Address } from '../../domain/order';
import type { Services } from '../../services';
import type { CartMerchant, CartQuote } from '../../services/carts';
import { MAX_REFERENCE_DAYS } from '../../services/carts';
import {
  addressOf, bad, customerOf, ensureCustomer, formBody, integer, jsonPageBody, object, PageError, run, text,
} from './common';
import { errorPage, html, httpsOrigins, jsonData, money, notFoundPage, originOf, sendPage } from './html';
import { imageFor } from './checkout';
import { addressFields, cardFields, DEFAULT_COUNTRY, receiptView, statusRegion } from './views';

/**
 * Per client address, for the whole API (each copy enforces its share), sustained rate and burst: published reference
 * look-ups, and items added to carts (each may make a customer, a cart and its workflow).
 */
export const PAGE_RATE_LIMITS: PageRateLimits = { references: { perSecond: 30, burst: 60 }, adds: { perSecond: 100, burst: 200 } };
export interface PageRateLimits { references: RateLimit; adds: RateLimit }
const MAX_OFFER_CHARS = 4000;
const MAX_MERCHANT_ID_CHARS = 100;

export function cartPages(services: Services, limits: PageRateLimits = PAGE_RATE_LIMITS): Router {
  const r = Router();
  const { carts } = services;
  const processorOrigin = originOf(services.pages.processorPublicUrl);
  const lookups = new TokenBuckets(limits.references, services.clock);
  const adds = new TokenBuckets(limits.adds, services.clock);
  /** Refuses a request past its address's rate (a 429 page with Retry-After). */
  const limited = (buckets: TokenBuckets, what: string): RequestHandler => (req, res, next) => {
    const t = buckets.take(req.ip ?? 'unknown');
    if (t.ok) return next();
    errorPage(res, 429, 'Too many requests', `Too many ${what} from your address; wait a moment and try again.`, undefined,
      { 'Retry-After': String(t.retryAfterSeconds) });
  };

  /** The customer's cart of the path as its workflow last saved it (one read of its row), or a 404 (not theirs, or none). */
  async function ownedCart(req: Request): Promise<{ id: string; view: CartView }> {
    const owned = await carts.owned(String(req.params.cartId), customerOf(req));
    if (!owned) throw new PageError(404, 'resource_missing', 'There is no such cart here. Carts are seen only in the browser that made them.');
    return owned;
  }

  const nameOf = (merchants: CartMerchant[], id: string) => merchants.find((m) => m.id === id)?.name ?? id;

  // --- adding an offered item ------------------------------------------------------------------------------------

  r.get('/carts/add', run(async (req, res) => {
    ensureCustomer(req, res, () => carts.newCustomer());
    const offer = text(req.query.offer, 'offer', MAX_OFFER_CHARS, { required: true })!;
    const item = carts.openOffer(offer);
    const [merchant] = await carts.merchantsOf([{ ...item, quantity: 1 }]);
    const max = Math.min(item.maxQuantity, MAX_LINE_QUANTITY);
    const body = html`<header class="merchant"><p class="eyebrow">Offered by</p><h1>${merchant.name}</h1></header>
<section class="offer">
<h2>${imageFor(item.imageUrl, item.title)} ${item.title}</h2>
<p>Price: <strong>${money(item.unitPriceMinor, item.currency)}</strong> each${item.kind === 'soft' ? ' (delivered digitally)' : ''}</p>
${item.available ? html`<form method="post" action="/carts/add" class="add">
<input type="hidden" name="offer" value="${offer}">
<div class="field"><label for="quantity">Quantity</label>
<input id="quantity" name="quantity" type="number" class="qty" min="${item.minQuantity}" max="${max}" value="${item.minQuantity}" required></div>
<button type="submit">Add to cart</button>
</form>` : html`<p class="notice" role="alert">This item is not available at the moment.</p>`}
</section>`;
    sendPage(res, 200, { title: `${item.title} — ${merchant.name}`, body, imgOrigins: httpsOrigins([item.imageUrl]) });
  }));

  r.post('/carts/add', limited(adds, 'items added'), formBody, run(async (req, res) => {
    const b = object(req.body);
    const offer = text(b.offer, 'offer', MAX_OFFER_CHARS, { required: true })!;
    const quantity = integer(b.quantity, 'quantity', 1, MAX_LINE_QUANTITY);
    const customer = ensureCustomer(req, res, () => carts.newCustomer());
    const view = await carts.add(customer, offer, quantity);
    res.redirect(303, `/carts/${view.id}`);
  }));

  // --- published references (rate-limited per client address) -----------------------------------------------------

  const lookupLimit = limited(lookups, 'look-ups');
  r.use((req, res, next) => (/^\/carts\/p(\/|$)/.test(req.path) ? lookupLimit(req, res, next) : next()));

  async function referenceOf(req: Request) {
    const ref = await carts.reference(String(req.params.ref));
    if (!ref) throw new PageError(404, 'resource_missing', 'There is no such shared cart (it may have been withdrawn, or it expired).');
    return ref;
  }

  r.get('/carts/p/:ref', run(async (req, res) => {
    const ref = await referenceOf(req);
    const merchants = await carts.merchantsOf(ref.lines);
    const currency = ref.lines[0]?.currency ?? 'USD';
    const totalMinor = ref.lines.reduce((s, l) => s + l.unitPriceMinor * l.quantity, 0);
    // (only the items and their merchants: nothing of the cart it came from or of who shared it)
    const body = html`<h1>A shared cart</h1>
<p>Someone shared these items with you. You can buy the same items; prices are checked again with each shop before you pay.</p>
${merchants.map((m) => html`<section class="merchant-group" aria-label="${m.name}">
<h2>${m.name}</h2>
<table class="items"><thead><tr><th scope="col">Item</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Unit price</th></tr></thead>
<tbody>${ref.lines.filter((l) => l.merchantId === m.id).map((l) => html`<tr><td class="item">${imageFor(l.imageUrl, l.title)}<span>${l.title}</span></td>
<td class="num">${l.quantity}</td><td class="num">${money(l.unitPriceMinor, l.currency)}</td></tr>`)}</tbody></table>
</section>`)}
<p>Items total when shared: <strong>${money(totalMinor, currency)}</strong></p>
<form method="post" action="/carts/p/${ref.ref}/copy"><button type="submit">Buy these items</button></form>`;
    sendPage(res, 200, { title: 'A shared cart', body, imgOrigins: httpsOrigins(ref.lines.map((l) => l.imageUrl)) });
  }));

  r.post('/carts/p/:ref/copy', formBody, run(async (req, res) => {
    const ref = await referenceOf(req);
    const customer = ensureCustomer(req, res, () => carts.newCustomer());
    const view = await carts.copy(ref, customer);
    res.redirect(303, `/carts/${view.id}`);
  }));

  // --- the cart ----------------------------------------------------------------------------------------------------

  r.get('/carts/:cartId', run(async (req, res) => {
    const { id, view } = await ownedCart(req);
    const merchants = await carts.merchantsOf(view.lines);
    const refs = await carts.references(id);
    const active = view.state === 'active';
    const c = view.currency ?? 'USD';
    const body = html`<h1>${view.state === 'purchased' ? 'Your purchase' : 'Your cart'}</h1>
${statusRegion(view.purchase?.state === 'awaiting_processor' ? 'We are waiting for the card network… This page updates by itself.'
    : view.state === 'purchasing' ? 'Your purchase is being made…' : '')}
${view.lastError ? html`<p class="notice" role="alert" id="last-error">The last purchase did not go through: ${view.lastError.message}</p>` : ''}
${view.state === 'purchased' ? html`<section aria-labelledby="orders-h" id="orders"><h2 id="orders-h">Your orders</h2>
<p class="notice">Paid once for everything: ${money(view.purchase?.totalMinor ?? view.orders.reduce((s, o) => s + o.amountMinor, 0), c)}. Each shop ships its own items.</p>
<ul>${view.orders.map((o) => html`<li>${nameOf(merchants, o.merchantId)}: ${money(o.amountMinor, c)} —
<a href="/carts/${id}/orders/${encodeURIComponent(o.orderId)}">receipt and tracking</a></li>`)}</ul></section>` : ''}
${view.state === 'expired' ? html`<p class="notice">This cart expired after a long time without use.</p>` : ''}
${view.lines.length === 0 ? html`<p>Your cart is empty.</p>` : merchants.map((m) => html`<section class="merchant-group" aria-label="${m.name}">
<h2>${m.name}</h2>
<table class="items"><thead><tr><th scope="col">Item</th><th scope="col" class="num">Unit price</th><th scope="col">Quantity</th></tr></thead>
<tbody>${view.lines.filter((l) => l.merchantId === m.id).map((l) => {
    const n = view.lines.indexOf(l);
    return html`<tr><td class="item">${imageFor(l.imageUrl, l.title)}<span>${l.title}</span></td><td class="num">${money(l.unitPriceMinor, l.currency)}</td>
<td>${active ? html`<form method="post" action="/carts/${id}/lines" class="inline-form">
<input type="hidden" name="key" value="${lineKey(l)}">
<label for="q-${n}" class="hint">Quantity of ${l.title}</label>
<input id="q-${n}" name="quantity" type="number" class="qty" min="0" max="${Math.min(l.maxQuantity, MAX_LINE_QUANTITY)}" value="${l.quantity}">
<button type="submit" class="secondary">Update</button></form>
<form method="post" action="/carts/${id}/lines" class="inline-form"><input type="hidden" name="key" value="${lineKey(l)}"><input type="hidden" name="quantity" value="0">
<button type="submit" class="secondary" aria-label="Remove ${l.title}">Remove</button></form>` : l.quantity}</td></tr>`;
  })}</tbody></table></section>`)}
${active && view.lines.length ? html`<p class="actions"><a class="button" id="to-checkout" href="/carts/${id}/checkout">Check out (${view.lines.length} of at most ${MAX_CART_LINES} lines)</a></p>` : ''}
${view.lines.length ? html`<section aria-labelledby="share-h" id="references">
<h2 id="share-h">Share these items</h2>
<p>A shared link shows the items and shops only — nothing about you — and lets anyone buy the same items.</p>
<form method="post" action="/carts/${id}/publish" class="inline-form">
<label for="expires">Expires after (days, optional)</label>
<input id="expires" name="expiresInDays" type="number" class="qty" min="1" max="${MAX_REFERENCE_DAYS}">
<button type="submit" class="secondary">Publish a link</button></form>
${refs.length ? html`<ul class="refs">${refs.map((ref) => html`<li><a class="ref-url" href="${carts.referenceUrl(ref.ref)}">${carts.referenceUrl(ref.ref)}</a>
${ref.unpublishedAt ? html` <em>(withdrawn)</em>` : ref.expiresAt && ref.expiresAt.getTime() <= services.clock() ? html` <em>(expired)</em>`
    : html`${ref.expiresAt ? html` <span class="hint">until ${ref.expiresAt.toISOString().slice(0, 10)}</span>` : ''}
<form method="post" action="/carts/${id}/references/${ref.ref}/unpublish" class="inline-form"><button type="submit" class="secondary" aria-label="Unpublish ${carts.referenceUrl(ref.ref)}">Unpublish</button></form>`}</li>`)}</ul>` : ''}
</section>` : ''}
${jsonData('pb-cart', { cartId: id, state: view.state, purchase: view.purchase?.state ?? null })}`;
    sendPage(res, 200, { title: 'Your cart', body, scripts: ['pay.js', 'cart.js'], imgOrigins: httpsOrigins(view.lines.map((l) => l.imageUrl)) });
  }));

  r.post('/carts/:cartId/lines', formBody, run(async (req, res) => {
    const { id } = await ownedCart(req);
    const b = object(req.body);
    const key = text(b.key, 'key', MAX_MERCHANT_ID_CHARS + 300, { required: true })!;
    await carts.setQuantity(id, key, integer(b.quantity, 'quantity', 0, MAX_LINE_QUANTITY));
    res.redirect(303, `/carts/${id}`);
  }));

  r.post('/carts/:cartId/publish', formBody, run(async (req, res) => {
    const { id, view } = await ownedCart(req);
    const b = object(req.body);
    const days = b.expiresInDays === undefined || b.expiresInDays === '' ? null : integer(b.expiresInDays, 'expiresInDays', 1, MAX_REFERENCE_DAYS);
    await carts.publish(id, view, days);
    res.redirect(303, `/carts/${id}#references`);
  }));

  r.post('/carts/:cartId/references/:ref/unpublish', formBody, run(async (req, res) => {
    const { id } = await ownedCart(req);
    const ref = String(req.params.ref);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(ref) || !(await carts.unpublish(id, ref))) throw new PageError(404, 'resource_missing', 'This cart has no such shared link');
    res.redirect(303, `/carts/${id}#references`);
  }));

  r.get('/carts/:cartId/orders/:orderId', run(async (req, res) => {
    const { id, view } = await ownedCart(req);
    const part = view.orders.find((o) => o.orderId === String(req.params.orderId));
    const row = part ? await services.orders.row(part.orderId) : undefined;
    if (!part || !row) throw new PageError(404, 'resource_missing', 'This cart has no such order');
    const order = await services.orders.current(row);
    const [merchant] = await carts.merchantsOf(view.lines.filter((l) => l.merchantId === part.merchantId).slice(0, 1));
    const body = html`${receiptView(order, { merchantName: merchant?.name ?? part.merchantId })}
<p><a href="/carts/${id}">Back to your purchase</a></p>`;
    sendPage(res, 200, { title: 'Your order', body });
  }));

  r.get('/carts/:cartId/status.json', run(async (req, res) => {
    const { view } = await ownedCart(req);
    res.set('Cache-Control', 'no-store').json(statusOf(view));
  }));

  // --- buying the cart ------------------------------------------------------------------------------------------

  function shippingOf(v: unknown): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length > 20) throw bad('parameter_invalid', 'shipping: merchant → option id', 'shipping');
    const out: Record<string, string> = {};
    for (const [k, o] of Object.entries(v)) {
      if (k.length > MAX_MERCHANT_ID_CHARS) throw bad('parameter_invalid', 'shipping: unknown merchant', 'shipping');
      out[k] = text(o, `shipping.${k}`, 100, { required: true })!;
    }
    return out;
  }

  async function quoteShown(view: CartView, shipping: Record<string, string>, address: Address | null) {
    const q = await carts.quote(view, shipping, address);
    const merchants = await carts.merchantsOf(q.lines.length ? q.lines : view.lines);
    return { q, merchants, shown: showQuote(q, merchants) };
  }

  r.get('/carts/:cartId/checkout', run(async (req, res) => {
    const { id, view } = await ownedCart(req);
    if (view.state !== 'active' && view.state !== 'purchasing') return res.redirect(303, `/carts/${id}`);
    const merchants = await carts.merchantsOf(view.lines);
    const shipping: Record<string, string> = {};
    for (const m of merchants) {
      if (view.lines.some((l) => l.merchantId === m.id && l.kind === 'hard') && m.shippingOptions[0]) shipping[m.id] = m.shippingOptions[0].id;
    }
    const address: Address = { line1: '', city: '', postalCode: '', country: DEFAULT_COUNTRY };
    const { q } = await quoteShown(view, shipping, address).catch((err: unknown) => {
      if (err instanceof CartError) throw new PageError(422, err.code, err.message, err.param, {}, { href: `/carts/${id}`, text: 'Back to your cart' });
      throw err;
    });
    const c = q.currency;
    const hasHard = q.lines.some((l) => l.kind === 'hard');
    const partOf = (mid: string) => q.parts.find((p) => p.merchantId === mid);
    const body = html`<h1>Check out your cart</h1>
<p><a href="/carts/${id}">Back to your cart</a></p>
<div id="changes">${changesBox(q)}</div>
<form id="cart-checkout" novalidate>
${merchants.filter((m) => partOf(m.id)).map((m, n) => {
    const own = q.lines.filter((l) => l.merchantId === m.id);
    const hard = own.some((l) => l.kind === 'hard');
    return html`<section class="merchant-group" aria-labelledby="m-${n}">
<h2 id="m-${n}">${m.name}</h2>
<table class="items"><thead><tr><th scope="col">Item</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Unit price</th></tr></thead>
<tbody>${own.map((l) => html`<tr><td class="item">${imageFor(l.imageUrl, l.title)}<span>${l.title}</span></td><td class="num">${l.quantity}</td>
<td class="num" data-unit-price="${lineKey(l)}">${money(l.unitPriceMinor, l.currency)}</td></tr>`)}</tbody></table>
${hard ? html`<fieldset class="merchant-shipping" data-merchant="${m.id}"><legend>Shipping from ${m.name}</legend>
${m.shippingOptions.map((o, k) => html`<div class="choice"><input type="radio" name="ship-${n}" id="ship-${n}-${k}" value="${o.id}"${o.id === shipping[m.id] ? html` checked` : ''}>
<label for="ship-${n}-${k}">${o.label} <span class="price">${money(o.priceMinor, c)}</span></label></div>`)}
</fieldset>` : ''}
<p class="subtotal">Subtotal with ${m.name}: <strong data-part="${m.id}">${money(partOf(m.id)!.priced.totalMinor, c)}</strong></p>
</section>`;
  })}
${hasHard ? addressFields('address', address) : ''}
<section aria-labelledby="total-h"><h2 id="total-h">Total</h2>
<p class="grand-total">Everything, paid once: <strong data-grand-total>${money(q.totalMinor, c)}</strong></p></section>
${cardFields()}
${statusRegion(view.purchase?.state === 'awaiting_processor' ? 'We are waiting for the card network…' : '')}
<div class="actions"><button type="submit" id="pay"${view.state === 'purchasing' ? html` disabled` : ''}>Pay <span data-grand-total>${money(q.totalMinor, c)}</span></button>
<a href="/carts/${id}">Back to your cart</a></div>
</form>
${jsonData('pb-cart-checkout', { cartId: id, processorUrl: services.pages.processorPublicUrl, hasHard, totalMinor: q.totalMinor, state: view.state,
    merchants: merchants.map((m, n) => ({ id: m.id, field: `ship-${n}` })) })}`;
    sendPage(res, 200, { title: 'Check out your cart', body, scripts: ['pay.js', 'cart.js'], imgOrigins: httpsOrigins(q.lines.map((l) => l.imageUrl)),
      connectOrigins: processorOrigin ? [processorOrigin] : [] });
  }));

  r.post('/carts/:cartId/quote', jsonPageBody, run(async (req, res) => {
    const { view } = await ownedCart(req);
    const b = object(req.body);
    const { shown } = await quoteShown(view, shippingOf(b.shipping), addressOf(b.address, 'address', true));
    res.set('Cache-Control', 'no-store').json({ quote: shown });
  }));

  r.post('/carts/:cartId/purchase', jsonPageBody, run(async (req, res) => {
    const { view } = await ownedCart(req);
    const b = object(req.body);
    const shipping = shippingOf(b.shipping);
    const address = addressOf(b.address, 'address', false);
    const ask = {
      shipping, address,
      token: text(b.token, 'token', 200, { required: true, pattern: /^[A-Za-z0-9_-]+$/ })!,
      billingPostalCode: text(b.billingPostalCode, 'billingPostalCode', 20, { required: true })!,
      expectedTotalMinor: integer(b.expectedTotalMinor, 'expectedTotalMinor', 0, Number.MAX_SAFE_INTEGER),
    };
    // Answered when the authorization is decided, or within the service's wait with the cart purchasing (the page polls).
    // A total changed since the customer saw it is an outcome like a decline (200), with the new quote to confirm.
    try {
      res.set('Cache-Control', 'no-store').json(statusOf(await carts.purchase(view, ask)));
    } catch (err) {
      if (!(err instanceof CartError && err.code === 'price_changed')) throw err;
      const { shown } = await quoteShown(view, shipping, address);
      res.set('Cache-Control', 'no-store').json({ ...statusOf(view), priceChanged: {
        message: 'Prices or items changed since you looked. Check the new total and confirm it to buy.', quote: shown } });
    }
  }));

  // anything else under /carts: an HTML 404
  r.all(/^\/carts(\/.*)?$/, (_req, res) => notFoundPage(res));
  return r;
}

function statusOf(view: CartView) {
  return { state: view.state, purchase: view.purchase, lastError: view.lastError, orders: view.orders.map((o) => ({ merchantId: o.merchantId, orderId: o.orderId })) };
}

function changesBox(q: CartQuote) {
  if (q.changes.length === 0) return html``;
  return html`<section class="changes" role="alert" aria-labelledby="changes-h"><h2 id="changes-h">Changes since you added these items</h2>
<ul>${q.changes.map((ch) => html`<li>${ch.title}: ${ch.change === 'unavailable' ? 'no longer available; it is not in this purchase and will not be charged'
    : html`price changed from ${money(ch.oldUnitPriceMinor, q.currency)} to <strong>${money(ch.newUnitPriceMinor ?? 0, q.currency)}</strong>`}</li>`)}</ul>
<p>The total below is the new total.</p></section>`;
}

/** A quote as the page's script puts it in place: the parts' totals, the grand total, the changes box. */
function showQuote(q: CartQuote, merchants: CartMerchant[]) {
  return {
    totalMinor: q.totalMinor, total: money(q.totalMinor, q.currency),
    parts: q.parts.map((p) => ({ merchantId: p.merchantId, name: merchants.find((m) => m.id === p.merchantId)?.name ?? p.merchantId,
      total: money(p.priced.totalMinor, q.currency) })),
    // each line's unit price as priced now, by its key (merchant/sku)
    unitPrices: Object.fromEntries(q.lines.map((l) => [lineKey(l), money(l.unitPriceMinor, l.currency)])),
    changesHtml: changesBox(q).text,
  };
}

export { notFoundPage, errorPage, type Response };
