// The hosted pages, mounted at / by the app: /checkout (a merchant's session), /carts (the broker's carts and their
// published references) and /assets (their script and stylesheet, from this directory, read once).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Router } from 'express';
import type { Services } from '../../services';
import { cartPages } from './carts';
import { checkoutPages } from './checkout';
import { pageErrorHandler, sameOrigin } from './common';
import { notFoundPage, originOf } from './html';

const ASSETS: Record<string, string> = {
  'checkout.js': 'text/javascript; charset=utf-8',
  'cart.js': 'text/javascript; charset=utf-8',
  'pages.css': 'text/css; charset=utf-8',
};

export function hostedPages(services: Services): Router {
  const r = Router();
  const dir = fileURLToPath(new URL('./assets/', import.meta.url));
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(dir + name) }]));
  r.get('/assets/:name', (req, res) => {
    const a = assets.get(String(req.params.name));
    if (!a) return notFoundPage(res);
    res.set({ 'Content-Type': a.type, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' }).send(a.body);
  });
  r.use(/^\/(checkout|carts)(\/|$)/, sameOrigin(originOf(services.pages.publicUrl)));
  r.use(checkoutPages(services));
  r.use(cartPages(services));
  r.all(/^\/assets(\/.*)?$/, (_req, res) => notFoundPage(res));
  r.use(/^\/(checkout|carts|assets)(\/|$)/, pageErrorHandler());
  return r;
}
