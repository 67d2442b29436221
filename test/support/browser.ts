// A real headless Chromium for the tests of the hosted pages: Debian's chromium (or PAYBROKER_CHROMIUM, see
// scripts/chromium.ts) driven by puppeteer-core, which never downloads a browser of its own. watchPage collects
// what a person would not see but a test must: console errors, uncaught page errors and Content-Security-Policy
// violations, so a test can assert that none happened.
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM_MISSING_MESSAGE, findChromium } from '../../scripts/chromium';

/**
 * Flags for a container: no user namespaces for Chromium's sandbox when running as root (--no-sandbox), and a
 * small /dev/shm (--disable-dev-shm-usage: shared memory in /tmp instead, else large pages crash the renderer).
 */
export const CONTAINER_FLAGS = ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] as const;

/** A headless Chromium; close it in afterAll. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_MISSING_MESSAGE);
  return puppeteer.launch({ executablePath, headless: true, args: [...CONTAINER_FLAGS] });
}

export interface CspViolation {
  /** The directive that refused it (e.g. script-src-elem). */
  directive: string;
  /** What was refused: a URL, or 'inline' / 'eval'. */
  blockedUri: string;
  /** The page the refusal happened on. */
  documentUri: string;
}

/** What went wrong on a page since watchPage: filled in as it happens. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  cspViolations: CspViolation[];
}

const REPORT_BINDING = '__paybrokerTestCspViolation';

/**
 * Starts collecting the page's console errors, uncaught errors and CSP violations (its own listener for
 * securitypolicyviolation, added before any of the page's scripts on every document; the CSP does not apply to it).
 * Call before page.goto.
 */
export async function watchPage(page: Page): Promise<PageProblems> {
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], cspViolations: [] };
  page.on('console', (m) => { if (m.type() === 'error') problems.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => { problems.pageErrors.push(e instanceof Error ? e.message : String(e)); });
  await page.exposeFunction(REPORT_BINDING, (v: CspViolation) => { problems.cspViolations.push(v); });
  // source text: this file is compiled without the DOM's types; it runs in the page
  await page.evaluateOnNewDocument(`document.addEventListener('securitypolicyviolation', (e) => {
    window[${JSON.stringify(REPORT_BINDING)}]({ directive: e.effectiveDirective, blockedUri: e.blockedURI, documentUri: e.documentURI });
  });`);
  return problems;
}
