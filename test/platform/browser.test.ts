// The browser the hosted-page tests use: Debian's Chromium, headless, as root in a container, seeing what a person
// sees, with a strict Content-Security-Policy enforced and its violations reported to the test.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, watchPage } from '../support/browser';

const CSP = "default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const page = (inline: boolean) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CSP check</title></head>
<body><p id="msg">Served under a strict CSP</p><p id="ext">external script did not run</p>
<script src="/app.js"></script>${inline ? "<script>document.getElementById('msg').textContent = 'inline script ran';</script>" : ''}
</body></html>`;

let browser: Browser;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end("document.getElementById('ext').textContent = 'external script ran';");
      return;
    }
    if (req.url === '/inline' || req.url === '/clean') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP }).end(page(req.url === '/inline'));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('headless Chromium for hosted pages', () => {
  it("runs the page's own script under a strict CSP and reports no problem", async () => {
    const tab = await browser.newPage();
    const problems = await watchPage(tab);
    await tab.goto(`${base}/clean`, { waitUntil: 'load' });
    expect(await tab.$eval('#msg', (e) => e.textContent)).toBe('Served under a strict CSP');
    expect(await tab.$eval('#ext', (e) => e.textContent)).toBe('external script ran');
    expect(problems).toEqual({ consoleErrors: [], pageErrors: [], cspViolations: [] });
    await tab.close();
  });

  it('blocks an inline script the CSP does not allow, and reports the violation', async () => {
    const tab = await browser.newPage();
    const problems = await watchPage(tab);
    await tab.goto(`${base}/inline`, { waitUntil: 'load' });
    expect(await tab.$eval('#msg', (e) => e.textContent)).toBe('Served under a strict CSP');
    expect(await tab.$eval('#ext', (e) => e.textContent)).toBe('external script ran');
    await expect.poll(() => problems.cspViolations.length).toBe(1);
    expect(problems.cspViolations).toEqual([{ directive: 'script-src-elem', blockedUri: 'inline', documentUri: `${base}/inline` }]);
    expect(problems.pageErrors).toEqual([]);
    // Chromium also logs the refusal to the console, where a page's own errors would show too
    expect(problems.consoleErrors).toEqual([expect.stringMatching(/^Executing inline script violates .*Content Security Policy/)]);
    await tab.close();
  });
});
