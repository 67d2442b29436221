// The hosted pages, mounted at / by the app: /checkout (a merchant's session), /carts (the broker's carts and their
// published references) and /assets (their script and stylesheet, from this directory, read once).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ErrorRequestHandler, Router } from 'express';
import type { Services } from '../../services';
import { cartPages, type PageRateLimits } from './carts';
import { checkoutPages } from './checkout';
import { pageErrorHandler, sameOrigin } from './common';
import { notFoundPage, originOf } from './html';

const ASSETS: Record<string, string> = {
  'checkout.js': 'text/javascript; charset=utf-8',
  'cart.js': 'text/javascript; charset=utf-8',
  'pay.js': 'text/javascript; charset=utf-8',
  'pages.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** The paths of the pages (their failures are pages; others are the API's). */
const PAGE_PATHS = /^\/(checkout|carts|assets)(\/|$)/;

export function hostedPages(services: Services, o: { rateLimits?: PageRateLimits } = {}): Router {
  const r = Router();
  const dir = fileURLToPath(new URL('./assets/', import.meta.url));
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(dir + name) }]));
  r.get('/assets/:name', (req, res) => {
    const a = assets.get(String(req.params.name));
    if (!a) return notFoundPage(res);
    res.set({ 'Content-Type': a.type, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' }).send(a.body);
  });
  const checkOrigin = sameOrigin(originOf(services.pages.publicUrl));
  r.use((req, res, next) => (PAGE_PATHS.test(req.path) ? checkOrigin(req, res, next) : next()));
  r.use(checkoutPages(services));
  r.use(cartPages(services, o.rateLimits));
  r.all(/^\/assets(\/.*)?$/, (_req, res) => notFoundPage(res));
  const onError = pageErrorHandler();
  r.use(((err, req, res, next) => (PAGE_PATHS.test(req.path) ? onError(err, req, res, next) : next(err))) as ErrorRequestHandler);
  return r;
}
