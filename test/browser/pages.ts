// What the hosted pages' browser tests share: the real processes (API, worker, processor simulator), a browser,
// merchants, a page watched for console errors and CSP violations, and the card form filled as a person would.
import type { Browser, BrowserContext, HTTPRequest, Page } from 'puppeteer-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Stores } from '../../stores';
import { watchPage, type PageProblems } from '../support/browser';
import { MERCHANT_SETTINGS } from '../support/order-input';

/** Where merchants send customers after paying or cancelling (answered by the test, never reached). */
export const SHOP = 'https://shop.example';

export async function merchant(stores: Stores, name: string) {
  const { merchant: m, apiKey } = await stores.merchants.create(name, MERCHANT_SETTINGS);
  return { id: m.id, key: apiKey, name };
}

/**
 * A page in this context, its problems collected; requests to the merchant's shop are answered by the test with a
 * small page (the browser has no network beyond this machine).
 */
export async function openPage(context: Browser | BrowserContext): Promise<{ page: Page; problems: PageProblems }> {
  const page = await context.newPage();
  const problems = await watchPage(page);
  await page.setRequestInterception(true);
  page.on('request', (req: HTTPRequest) => {
    if (req.url().startsWith(SHOP)) {
      void req.respond({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Shop</title><h1>Thanks from the shop</h1>' });
    } else {
      void req.continue();
    }
  });
  return { page, problems };
}

export function expectClean(problems: PageProblems): void {
  expect(problems.cspViolations).toEqual([]);
  expect(problems.pageErrors).toEqual([]);
  expect(problems.consoleErrors).toEqual([]);
}

export const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Row', city: 'San Francisco', region: 'CA', postalCode: '94107', country: 'US' };

export async function fillAddress(page: Page, a = ADDRESS): Promise<void> {
  await page.type('#address-name', a.name);
  await page.type('#address-line1', a.line1);
  await page.type('#address-city', a.city);
  await page.type('#address-region', a.region);
  await page.type('#address-postalCode', a.postalCode);
  await page.select('#address-country', a.country);
  await pricesShown(page);
}

/** Once the totals of the last change are shown (the form is aria-busy while they are updated). */
export async function pricesShown(page: Page): Promise<void> {
  await page.waitForFunction(() => !(globalThis as any).document.querySelector('form[aria-busy="true"]'), { timeout: 20_000, polling: 50 });
}

export async function fillCard(page: Page, number: string, postal = '94107'): Promise<void> {
  for (const [sel, v] of [['#card-number', number], ['#card-exp-month', '12'], ['#card-exp-year', '2099'], ['#card-cvc', '123'], ['#billing-postal', postal]]) {
    await page.$eval(sel, (el) => { (el as unknown as { value: string }).value = ''; });
    await page.type(sel, v);
  }
}

/**
 * With PAYBROKER_SCREENSHOTS=<dir> set, the page as a person sees it, saved as <dir>/<name>.png (to look at a page
 * and describe it); otherwise nothing.
 */
export async function snap(page: Page, name: string): Promise<void> {
  const dir = process.env.PAYBROKER_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) as `${string}.png`, fullPage: true });
}

export const textOf = (page: Page, sel: string) => page.$eval(sel, (el) => (el.textContent ?? '').trim());

/** Waits until the element's text matches. */
export async function waitForText(page: Page, sel: string, re: RegExp, timeout = 20_000): Promise<string> {
  try {
    await page.waitForFunction((s, source, flags) => new RegExp(source, flags).test((globalThis as any).document.querySelector(s)?.textContent ?? ''),
      { timeout, polling: 100 }, sel, re.source, re.flags);
  } catch (err) {
    throw new Error(`${sel} never matched ${re}: it reads ${JSON.stringify(await textOf(page, sel).catch(() => '(absent)'))}`, { cause: err });
  }
  return textOf(page, sel);
}
