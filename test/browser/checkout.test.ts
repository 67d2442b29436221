// The hosted checkout page in a real headless Chromium against the real processes: the customer sees the merchant's
// items, changes the shipping option and sees the broker's new total, pays with a test card (tokenized by the
// processor simulator from the browser) and sees the confirmation, then lands on the merchant's success page; the
// order is the merchant's, authorized. A declined card says so and the form stays usable. No console errors and no
// CSP violations on any page.
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeviceSimulator } from '../../processors/devices/simulator';
import type { Db } from '../../ledger/db';
import type { Stores } from '../../stores';
import { launchBrowser } from '../support/browser';
import { testDatabase, uid } from '../support/env';
import { call } from '../support/http';
import { CARD } from '../support/processor-calls';
import { startServices, type Services } from '../support/services';
import { ADDRESS, expectClean, fillAddress, fillCard, merchant, openPage, SHOP, snap, textOf, waitForText } from './pages';

let stores: Stores;
let db: Db;
let closeDb: () => Promise<void>;
let svc: Services;
let site: string;
let browser: Browser;

beforeAll(async () => {
  ({ stores, db, close: closeDb } = testDatabase(2));
  // (an order waiting out the processor tries again within a second)
  [svc, browser] = await Promise.all([startServices({ PAYBROKER_PROCESSOR_MAX_BACKOFF: '1s' }), launchBrowser()]);
  site = svc.base.replace(/\/v1$/, '');
});
afterAll(async () => {
  await browser?.close();
  await svc?.stopAll();
  await closeDb();
});

const sessionBody = {
  items: [
    { sku: 'mug', title: 'Mug <b>"bold"</b>', quantity: 2, unitPriceMinor: 1200, kind: 'hard' },
    { sku: 'guide', title: 'Care guide', quantity: 1, unitPriceMinor: 500, kind: 'soft' },
  ],
  options: [{ id: 'wrap', label: 'Gift wrap', priceMinor: 300 }],
  successUrl: `${SHOP}/thanks`, cancelUrl: `${SHOP}/cart`,
};

async function newSession(m: { key: string }, body: object = sessionBody) {
  const r = await call(svc.base, '/checkout-sessions', { key: m.key, idem: uid(), body });
  expect(r.status).toBe(201);
  return r.body as { id: string; url: string };
}

describe('the hosted checkout page', () => {
  it('shows the items, re-prices on a shipping change, pays with an approving card and goes to the merchant', async () => {
    const m = await merchant(stores, 'Mugs & Co');
    const s = await newSession(m);
    const { page, problems } = await openPage(browser);
    const res = await page.goto(s.url);
    expect(res!.status()).toBe(200);
    const csp = res!.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`connect-src 'self' ${svc.simulatorUrl}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(await textOf(page, 'h1')).toBe('Mugs & Co');
    // the title is shown as text, escaped (no <b> element made of it)
    expect(await page.$eval('table.items', (t) => t.textContent)).toContain('Mug <b>"bold"</b>');
    expect(await page.$('table.items b')).toBeNull();
    // standard shipping: 2 × 12.00 + 5.00 + 5.00, no tax to the default country (US)
    expect(await textOf(page, '#totals [data-total="total"]')).toBe('$34.00');

    await page.click('label[for="ship-1"]'); // Express, 15.00
    expect(await waitForText(page, '#totals [data-total="total"]', /^\$44\.00$/)).toBe('$44.00');
    await page.click('label[for="opt-0"]'); // gift wrap, 3.00
    await waitForText(page, '#totals [data-total="options"]', /^\$3\.00$/);
    await fillAddress(page); // California: 7.25% tax
    await waitForText(page, '#totals [data-total="tax"]', /^\$3\.41$/);
    const shownTotal = await textOf(page, '#totals [data-total="total"]');
    expect(shownTotal).toBe('$50.41');
    await snap(page, 'checkout-1-express-giftwrap-california');

    await fillCard(page, CARD.approve);
    // the keyboard reaches the button; Enter submits
    await page.focus('#pay');
    await page.keyboard.press('Enter');
    expect(await waitForText(page, '#status', /Payment approved/)).toMatch(/Payment approved/);
    await snap(page, 'checkout-2-approved');
    expect(await page.$eval('#pay', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(true);
    await page.waitForNavigation({ timeout: 10_000 });
    expect(page.url()).toBe(`${SHOP}/thanks`);

    const session = await call(svc.base, `/checkout-sessions/${s.id}`, { key: m.key });
    expect(session.body.state).toBe('completed');
    const order = await call(svc.base, `/orders/${session.body.orderId}`, { key: m.key });
    expect(order.body).toMatchObject({ state: 'authorized_plus_avs', totalMinor: 5041, merchantId: m.id });
    const row = await db('orders').where({ id: session.body.orderId }).first();
    expect(row).toBeTruthy();
    expect(JSON.stringify(row)).not.toContain(CARD.approve);

    // the page of a completed session is its receipt; tracking numbers appear as the merchant ships
    const shipped = await call(svc.base, `/orders/${order.body.id}/shipments`, { key: m.key,
      body: { shipmentId: 's1', items: [{ sku: 'mug', quantity: 2 }], trackingNumber: 'TRK-BROWSER-1' } });
    expect(shipped.status).toBe(200);
    const receipt = await openPage(browser);
    expect((await receipt.page.goto(s.url))!.status()).toBe(200);
    expect(await textOf(receipt.page, '.order-state')).toMatch(/Shipped|Partly shipped/);
    expect(await textOf(receipt.page, '.tracking')).toBe('TRK-BROWSER-1');
    expect(await receipt.page.content()).toContain(ADDRESS.name === '' ? '' : 'Receipt from');
    expectClean(problems);
    expectClean(receipt.problems);
    await page.close();
    await receipt.page.close();
  });

  it('a declined card shows its message and leaves the form usable; soft goods ask only a billing country', async () => {
    const m = await merchant(stores, 'Ebooks Ltd');
    const s = await newSession(m, { ...sessionBody, items: [{ sku: 'ebook', title: 'An e-book', quantity: 1, unitPriceMinor: 1000, kind: 'soft' }],
      options: [] });
    const { page, problems } = await openPage(browser);
    await page.goto(s.url);
    expect(await page.$('#address-line1')).toBeNull();
    expect(await page.$('#billing-country')).not.toBeNull();
    await page.select('#billing-country', 'DE'); // 19% tax
    await waitForText(page, '#totals [data-total="total"]', /^\$11\.90$/);
    await fillCard(page, CARD.decline);
    await page.click('#pay');
    expect(await waitForText(page, '#status', /declined/)).toBe('Your card was declined. Try another card.');
    await snap(page, 'checkout-3-declined');
    expect(await page.$eval('#pay', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(false);
    // another card on the same page goes through
    await fillCard(page, CARD.approve);
    await page.click('#pay');
    await waitForText(page, '#status', /Payment approved/);
    const session = await call(svc.base, `/checkout-sessions/${s.id}`, { key: m.key });
    expect(session.body).toMatchObject({ state: 'completed' });
    expect(session.body.attempts).toHaveLength(2);
    expectClean(problems);
    await page.close();
  });

  it('while the processor is down the page says it waits for the card network, and shows the approval once it is back', async () => {
    const m = await merchant(stores, 'Patient shop');
    const s = await newSession(m);
    const { page, problems } = await openPage(browser);
    await page.goto(s.url);
    await fillAddress(page);
    // California's tax shown (7.25%): the total the customer pays (a Pay clicked before it shows asks to press again)
    await waitForText(page, '#totals [data-total="total"]', /^\$36\.46$/);
    await fillCard(page, CARD.approve);
    await svc.admin.setFaults({ mode: 'down', downStyle: '503', operations: ['authorize'] });
    try {
      await page.click('#pay');
      expect(await waitForText(page, '#status', /waiting for the card network/)).toMatch(/^We are waiting for the card network/);
      await snap(page, 'checkout-4-waiting-for-the-card-network');
      expect(await page.$eval('#pay', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(true);
      // a reload while it waits shows the same waiting state (and polls on)
      await page.reload();
      expect(await waitForText(page, '#status', /waiting for the card network/)).toMatch(/waiting/);
    } finally {
      await svc.admin.clearFaults();
    }
    expect(await waitForText(page, '#status', /Payment approved/, 30_000)).toMatch(/Payment approved/);
    const session = await call(svc.base, `/checkout-sessions/${s.id}`, { key: m.key });
    expect(session.body).toMatchObject({ state: 'completed' });
    expect(session.body.attempts).toHaveLength(1);
    expectClean(problems);
    await page.close();
  }, 60_000);

  it('a card that asks for step-up: the page says to approve on the device, and shows the approval once the device has', async () => {
    const m = await merchant(stores, 'Careful shop');
    const customerId = uid('cus-');
    const reg = await call(svc.base, '/device-registrations', { method: 'POST', key: m.key, body: { customerId } });
    const device = await DeviceSimulator.register(site, reg.body.code);
    const s = await newSession(m, { ...sessionBody, customerId, items: [{ sku: 'ebook', title: 'An e-book', quantity: 1, unitPriceMinor: 1000, kind: 'soft' }],
      options: [] });
    const { page, problems } = await openPage(browser);
    await page.goto(s.url);
    await waitForText(page, '#totals [data-total="total"]', /^\$10\.00$/);
    await fillCard(page, '4000002760003184');
    await page.click('#pay');
    expect(await waitForText(page, '#status', /Approve on your device/, 15_000)).toMatch(/^Approve on your device/);
    await snap(page, 'checkout-5-approve-on-your-device');
    const request = await vi.waitFor(async () => {
      const [r] = await device.pending();
      expect(r).toBeDefined();
      return r;
    }, { timeout: 15_000, interval: 100 });
    expect(request.amountMinor).toBe(1000);
    await device.respond(request, 'approve');
    expect(await waitForText(page, '#status', /Payment approved/, 30_000)).toMatch(/Payment approved/);
    const session = await call(svc.base, `/checkout-sessions/${s.id}`, { key: m.key });
    expect(session.body).toMatchObject({ state: 'completed' });
    expectClean(problems);
    await page.close();
  }, 60_000);

  it('unknown and expired sessions are HTML pages (404, 410), never stack traces; a foreign Origin is refused', async () => {
    const m = await merchant(stores, 'Gone shop');
    const missing = await fetch(`${site}/checkout/cs_nope`);
    expect([missing.status, missing.headers.get('content-type')]).toEqual([404, 'text/html; charset=utf-8']);
    expect(missing.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await missing.text()).toContain('Not found');
    expect((await fetch(`${site}/checkout/cs_nope/elsewhere/deeper`)).status).toBe(404);
    const s = await newSession(m, { ...sessionBody, expiresInSeconds: 10 });
    const cross = await fetch(`${site}/checkout/${s.id}/quote`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ shippingOptionId: 'standard', optionIds: [], address: { country: 'US' } }) });
    expect(cross.status).toBe(403);
    await expect.poll(async () => (await fetch(s.url)).status, { timeout: 20_000, interval: 500 }).toBe(410);
    const gone = await fetch(s.url);
    const body = await gone.text();
    expect(body).toContain('expired');
    expect(body).toContain(`href="${SHOP}/cart"`);
  }, 40_000);
});
