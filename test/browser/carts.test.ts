// The broker's cart pages in a real headless Chromium against the real processes: items of three merchants added
// from their offers, a quantity changed, one purchase (one authorization at the processor) that becomes an order per
// merchant, each shipped by its merchant and tracked on the customer's receipts; a published reference that shows no
// personal data, bought again by a second customer (another browser context); unpublished, it is gone. No console
// errors and no CSP violations on any page.
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stores } from '../../stores';
import { launchBrowser } from '../support/browser';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { CARD } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';
import { ADDRESS, expectClean, fillAddress, fillCard, merchant, openPage, snap, textOf, waitForText } from './pages';

let stores: Stores;
let closeDb: () => Promise<void>;
let svc: Services;
let site: string;
let browser: Browser;

beforeAll(async () => {
  ({ stores, close: closeDb } = testDatabase(2));
  // (one API copy: the reference rate limit is per copy)
  [svc, browser] = await Promise.all([startServices({ PAYBROKER_API_PROCESSES: '1' }), launchBrowser()]);
  site = svc.base.replace(/\/v1$/, '');
});
afterAll(async () => {
  await browser?.close();
  await svc?.stopAll();
  await closeDb();
});

async function offer(m: { key: string }, item: object): Promise<string> {
  const r = await call(svc.base, '/cart-offers', { key: m.key, idem: uid(), body: item });
  expect(r.status).toBe(201);
  return r.body.addUrl as string;
}

async function addToCart(page: Page, addUrl: string, quantity: number): Promise<string> {
  expect((await page.goto(addUrl))!.status()).toBe(200);
  await page.$eval('#quantity', (el) => { (el as unknown as { value: string }).value = ''; });
  await page.type('#quantity', String(quantity));
  await Promise.all([page.waitForNavigation(), page.click('form.add button')]);
  const m = /\/carts\/(cart_[A-Za-z0-9_-]+)$/.exec(page.url());
  if (!m) throw new Error(`not a cart: ${page.url()}: ${await textOf(page, 'main')}`);
  return m![1];
}

/** The cart's checkout page paid with a card; lands on the cart's page listing its orders. */
async function payCart(page: Page, cartId: string, card: string, address = ADDRESS): Promise<void> {
  expect((await page.goto(`${site}/carts/${cartId}/checkout`))!.status()).toBe(200);
  await fillAddress(page, address);
  await fillCard(page, card, address.postalCode);
  await Promise.all([page.waitForNavigation({ timeout: 30_000 }), page.click('#pay')]);
  expect(page.url()).toBe(`${site}/carts/${cartId}`);
  await page.waitForSelector('#orders');
}

const ordersOn = (page: Page) => page.$$eval('#orders a', (as) => as.map((a) => decodeURIComponent(a.getAttribute('href')!.split('/orders/')[1])));

describe('broker carts in the browser', () => {
  let ctx1: BrowserContext;
  let ctx2: BrowserContext;
  beforeAll(async () => {
    [ctx1, ctx2] = [await browser.createBrowserContext(), await browser.createBrowserContext()];
  });
  afterAll(async () => {
    await ctx1?.close();
    await ctx2?.close();
  });

  it('three merchants in one cart: bought once (one authorization), each order shipped by its merchant; the reference bought by another customer', async () => {
    const merchants = [await merchant(stores, 'Tea House'), await merchant(stores, 'Book Barn'), await merchant(stores, 'Poster Place')];
    const urls = [
      await offer(merchants[0], { sku: 'tea', title: 'Green tea', unitPriceMinor: 450, kind: 'hard', maxQuantity: 10 }),
      await offer(merchants[1], { sku: 'book', title: 'A <i>novel</i>', unitPriceMinor: 1200, kind: 'hard', maxQuantity: 5 }),
      await offer(merchants[2], { sku: 'poster', title: 'Poster', unitPriceMinor: 800, kind: 'hard', maxQuantity: 5 }),
    ];
    const { page, problems } = await openPage(ctx1);
    const cartId = await addToCart(page, urls[0], 2);
    expect(await addToCart(page, urls[1], 1)).toBe(cartId);
    expect(await addToCart(page, urls[2], 1)).toBe(cartId);
    expect(await page.$$eval('.merchant-group h2', (hs) => hs.map((h) => h.textContent))).toEqual(['Tea House', 'Book Barn', 'Poster Place']);
    expect(await page.$('.merchant-group i')).toBeNull(); // (the title is text)

    // three teas instead of two
    await page.$eval('#q-0', (el) => { (el as unknown as { value: string }).value = ''; });
    await page.type('#q-0', '3');
    await Promise.all([page.waitForNavigation(), page.click('form:has(#q-0) button')]);
    expect(await page.$eval('#q-0', (el) => (el as unknown as { value: string }).value)).toBe('3');

    // the checkout: a shipping option per merchant; Texas has no tax in these merchants' rates
    expect((await page.goto(`${site}/carts/${cartId}/checkout`))!.status()).toBe(200);
    const texas = { ...ADDRESS, city: 'Austin', region: 'TX', postalCode: '73301' };
    // 3 × 4.50 + 5.00, 12.00 + 5.00, 8.00 + 5.00
    expect(await textOf(page, '.grand-total [data-grand-total]')).toBe('$48.50');
    const bookExpress = await page.$eval(`fieldset[data-merchant="${merchants[1].id}"] input[value="express"]`, (el) => el.id);
    await page.click(`label[for="${bookExpress}"]`);
    await waitForText(page, '.grand-total [data-grand-total]', /^\$58\.50$/);
    const expectedShown = '$58.50';
    expect(await page.$eval(`[data-part="${merchants[1].id}"]`, (el) => el.textContent)).toBe('$27.00');
    await fillAddress(page, texas);
    await fillCard(page, CARD.approve, texas.postalCode);
    await snap(page, 'cart-1-checkout-three-merchants');
    await Promise.all([page.waitForNavigation({ timeout: 30_000 }), page.click('#pay')]);
    expect(page.url()).toBe(`${site}/carts/${cartId}`);
    await page.waitForSelector('#orders');
    await snap(page, 'cart-2-purchased-three-orders');
    const orderIds = await ordersOn(page);
    expect(orderIds).toHaveLength(3);
    expect(await textOf(page, '#orders .notice')).toContain(expectedShown);

    // one authorization at the processor for the whole cart, its amount the total shown
    const auths = await svc.admin.authorizationsByReference(`cart-${cartId}`);
    expect(auths).toHaveLength(1);
    expect(`$${(auths[0].amountMinor / 100).toFixed(2)}`).toBe(expectedShown);

    // each merchant ships its own order with its own key, and the customer sees the tracking number
    const skus = ['tea', 'book', 'poster'];
    const quantities = [3, 1, 1];
    for (const [i, m] of merchants.entries()) {
      const orderId = orderIds.find((o) => o.includes(m.id))!;
      expect((await call(svc.base, `/orders/${orderId}`, { key: m.key })).body.state).toBe('authorized_plus_avs');
      const shipped = await call(svc.base, `/orders/${orderId}/shipments`, { key: m.key,
        body: { shipmentId: 's1', items: [{ sku: skus[i], quantity: quantities[i] }], trackingNumber: `TRK-${skus[i]}` } });
      expect([shipped.status, shipped.body.state]).toEqual([200, 'shipped']);
      const other = merchants[(i + 1) % 3];
      expect((await call(svc.base, `/orders/${orderId}`, { key: other.key })).status).toBe(404);
      expect((await page.goto(`${site}/carts/${cartId}/orders/${encodeURIComponent(orderId)}`))!.status()).toBe(200);
      expect(await textOf(page, '.tracking')).toBe(`TRK-${skus[i]}`);
      expect(await textOf(page, '.order-state')).toBe('Shipped');
    }
    expect((await svc.admin.capturesByAuthorization(auths[0].id)).length).toBe(3);

    // publish a reference
    expect((await page.goto(`${site}/carts/${cartId}`))!.status()).toBe(200);
    await Promise.all([page.waitForNavigation(), page.click('#references button')]);
    const refUrl = await textOf(page, '.ref-url');
    expect(refUrl).toMatch(new RegExp(`^${site}/carts/p/[A-Za-z0-9_-]{22}$`));

    // a second customer: the reference shows items and merchants, nothing of the first customer
    const second = await openPage(ctx2);
    expect((await second.page.goto(refUrl))!.status()).toBe(200);
    const shown = await second.page.content();
    for (const m of merchants) expect(shown).toContain(m.name);
    expect(shown).toContain('Green tea');
    for (const secret of [cartId, ADDRESS.name, texas.line1, texas.postalCode, 'tok_', ...orderIds]) expect(shown).not.toContain(secret);
    await snap(second.page, 'cart-3-published-reference');
    // the first customer's cart is not the second's
    expect((await fetch(`${site}/carts/${cartId}`)).status).toBe(404);
    await Promise.all([second.page.waitForNavigation(), second.page.click('form[action$="/copy"] button')]);
    const copyId = /\/carts\/(cart_[A-Za-z0-9_-]+)$/.exec(second.page.url())![1];
    expect(copyId).not.toBe(cartId);
    expect(await second.page.$$eval('.merchant-group h2', (hs) => hs.map((h) => h.textContent))).toEqual(['Tea House', 'Book Barn', 'Poster Place']);
    const boston = { name: 'Grace Hopper', line1: '1 Harbor St', city: 'Boston', region: 'MA', postalCode: '02110', country: 'US' };
    await payCart(second.page, copyId, CARD.approve, boston);
    expect(await ordersOn(second.page)).toHaveLength(3);
    expect(await svc.admin.authorizationsByReference(`cart-${copyId}`)).toHaveLength(1);
    expect((await second.page.goto(`${site}/carts/${cartId}`))!.status()).toBe(404); // (a stranger's cart, from the browser)

    // unpublished: gone
    await page.goto(`${site}/carts/${cartId}`);
    await Promise.all([page.waitForNavigation(), page.click('.refs form button')]);
    expect(await page.$eval('.refs li', (li) => li.textContent)).toContain('withdrawn');
    expect((await fetch(refUrl)).status).toBe(404);

    expectClean(problems);
    // (the second context's only console error is the 404 of the stranger's cart it was sent to on purpose)
    expect(second.problems.cspViolations).toEqual([]);
    expect(second.problems.pageErrors).toEqual([]);
    expect(second.problems.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  }, 120_000);

  it('a declined card on a cart says so and the cart can be bought with another card', async () => {
    const m = await merchant(stores, 'Single Shop');
    const url = await offer(m, { sku: 'cup', title: 'Cup', unitPriceMinor: 900, kind: 'hard', maxQuantity: 3 });
    const ctx = await browser.createBrowserContext();
    try {
      const { page, problems } = await openPage(ctx);
      const cartId = await addToCart(page, url, 1);
      await page.goto(`${site}/carts/${cartId}/checkout`);
      await fillAddress(page);
      // California's tax shown (9.00 + 5.00 shipping, 7.25% on each): the total the customer pays
      await waitForText(page, '.grand-total [data-grand-total]', /^\$15\.01$/);
      await fillCard(page, CARD.decline);
      await page.click('#pay');
      expect(await waitForText(page, '#status', /declined/)).toContain('declined');
      expect(await page.$eval('#pay', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(false);
      await fillCard(page, CARD.approve);
      await Promise.all([page.waitForNavigation({ timeout: 30_000 }), page.click('#pay')]);
      await page.waitForSelector('#orders');
      expectClean(problems);
    } finally {
      await ctx.close();
    }
  });

  it("a merchant's price changed while the customer was paying: the page shows the new total, the second Pay buys at it", async () => {
    const m = await merchant(stores, 'Repricing Shop');
    const item = { sku: 'pot', title: 'Teapot', unitPriceMinor: 2000, kind: 'soft', maxQuantity: 3 };
    const url = await offer(m, item);
    const ctx = await browser.createBrowserContext();
    try {
      const { page, problems } = await openPage(ctx);
      const cartId = await addToCart(page, url, 1);
      await page.goto(`${site}/carts/${cartId}/checkout`);
      expect(await textOf(page, '.grand-total [data-grand-total]')).toBe('$20.00');
      await offer(m, { ...item, unitPriceMinor: 2500 }); // (the merchant's new price, after the page was shown)
      await fillCard(page, CARD.approve);
      await page.click('#pay');
      expect(await waitForText(page, '#status', /New total: \$25\.00/)).toMatch(/Press Pay again/);
      expect(await textOf(page, '.grand-total [data-grand-total]')).toBe('$25.00');
      expect(await textOf(page, '#changes')).toMatch(/price changed from \$20\.00 to \$25\.00/);
      expect(await textOf(page, '[data-unit-price]')).toBe('$25.00');
      await snap(page, 'cart-4-price-changed');
      expect(await svc.admin.authorizationsByReference(`cart-${cartId}`)).toHaveLength(0); // nothing authorized before the confirmation
      await Promise.all([page.waitForNavigation({ timeout: 30_000 }), page.click('#pay')]);
      await page.waitForSelector('#orders');
      const [auth] = await svc.admin.authorizationsByReference(`cart-${cartId}`);
      expect(auth.amountMinor).toBe(2500);
      expectClean(problems);
    } finally {
      await ctx.close();
    }
  });

  it('reference look-ups and adds are rate-limited per address (429 page with Retry-After); unknown references and carts are 404 pages', async () => {
    const unknown = await fetch(`${site}/carts/p/AAAAAAAAAAAAAAAAAAAAAA`);
    expect([unknown.status, unknown.headers.get('content-type')]).toEqual([404, 'text/html; charset=utf-8']);
    expect((await fetch(`${site}/carts/cart_nope`)).status).toBe(404);
    expect((await fetch(`${site}/carts/cart_nope/anything/else`)).status).toBe(404);
    // (in waves of 100 at once until one is refused: a slow machine refills the bucket while a single wave arrives)
    const untilLimited = async <T extends { status: number }>(send: () => Promise<T>): Promise<T[]> => {
      const all: T[] = [];
      for (let wave = 0; wave < 20 && !all.some((a) => a.status === 429); wave++) all.push(...await Promise.all(Array.from({ length: 100 }, send)));
      return all;
    };
    const answers = await untilLimited(() => fetch(`${site}/carts/p/nope`).then((r) => ({ status: r.status, retry: r.headers.get('retry-after') })));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0].retry)).toBeGreaterThanOrEqual(1);
    expect(answers.every((a) => a.status === 404 || a.status === 429)).toBe(true);
    expect((await fetch(`${site}/carts/add?offer=offer_bogus`)).status).toBe(400);
    // adding to carts is limited per address too (each add may make a customer, a cart and its workflow)
    const adds = (await untilLimited(() => fetch(`${site}/carts/add`, { method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: site }, body: 'offer=offer_bogus&quantity=1' }).then((r) => ({ status: r.status }))))
      .map((a) => a.status);
    expect(adds.filter((st) => st === 429).length).toBeGreaterThan(0);
    expect(adds.every((st) => st === 400 || st === 429)).toBe(true);
    const cross = await fetch(`${site}/carts/add`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: 'offer=x&quantity=1' });
    expect(cross.status).toBe(403);
  });
});
