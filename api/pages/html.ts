// The hosted pages' HTML: a tagged template that escapes every interpolated value (raw() marks a trusted fragment),
// the page frame with its Content-Security-Policy, money per currency, and the error pages. No template library and
// no build step: the pages are strings made here and a little plain script under ./assets.
import type { Response } from 'express';

/** A fragment of HTML that is already safe (made by html`` or raw()). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string { return this.text; }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

/** A trusted fragment, inserted as it is: only for text this code wrote, never for data. */
export const raw = (s: string) => new Html(s);

type Value = Html | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** HTML with every interpolated value escaped (arrays joined, null/undefined/false left out, Html as it is). */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** JSON to embed in a <script type="application/json"> data block (not run; the policy does not apply to it). */
export function jsonData(id: string, data: unknown): Html {
  const json = JSON.stringify(data).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new Html(`<script type="application/json" id="${escapeHtml(id)}">${json}</script>`);
}

// --- money ---------------------------------------------------------------------------------------------------

export { formatMoney as money, minorDigits } from '../../domain/money';

// --- the page frame ------------------------------------------------------------------------------------------

/** The https origins of these URLs (an image's origin goes into img-src; anything else is not shown). */
export function httpsOrigins(urls: Array<string | null | undefined>): string[] {
  const out = new Set<string>();
  for (const u of urls) {
    const o = httpsOrigin(u);
    if (o) out.add(o);
  }
  return [...out];
}

export function httpsOrigin(u: string | null | undefined): string | null {
  if (!u) return null;
  try {
    const url = new URL(u);
    return url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}

export function originOf(u: string): string {
  try {
    return new URL(u).origin;
  } catch {
    return '';
  }
}

export interface PageOptions {
  title: string;
  body: Html;
  /** Scripts under /assets/ (e.g. 'checkout.js'). */
  scripts?: string[];
  /** https origins images may come from. */
  imgOrigins?: string[];
  /** Origins the page's script may fetch from besides its own (the processor's tokenization). */
  connectOrigins?: string[];
}

export function contentSecurityPolicy(o: { imgOrigins?: string[]; connectOrigins?: string[] }): string {
  const list = (xs: string[] | undefined) => (xs ?? []).filter((x) => /^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(x)).map((x) => ` ${x}`).join('');
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", `img-src 'self'${list(o.imgOrigins)}`, `connect-src 'self'${list(o.connectOrigins)}`,
    "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
  ].join('; ');
}

export function document(o: PageOptions): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${o.title}</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/pages.css">
${(o.scripts ?? []).map((s) => html`<script src="/assets/${s}" defer></script>\n`)}</head>
<body>
<main id="main">
${o.body}
</main>
<footer><p>Payments handled by Paybroker</p></footer>
</body>
</html>
`;
}

/** Sends a page with its policy and the headers every page has (no caching, no sniffing, no framing). */
export function sendPage(res: Response, status: number, o: PageOptions): void {
  res.status(status).set({
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': contentSecurityPolicy(o),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
  }).send(document(o).text);
}

/** A page that says what went wrong, with a way on (never a stack trace). */
export function errorPage(res: Response, status: number, title: string, message: string, link?: { href: string; text: string },
  headers: Record<string, string> = {}): void {
  res.set(headers);
  sendPage(res, status, {
    title,
    body: html`<h1>${title}</h1>
<p class="notice" role="alert">${message}</p>
${link ? html`<p><a href="${link.href}">${link.text}</a></p>` : ''}`,
  });
}

export const notFoundPage = (res: Response, what = 'page') =>
  errorPage(res, 404, 'Not found', `There is no such ${what} here. Check the link you followed.`);
