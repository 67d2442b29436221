// The HTTP settings every server of Paybroker shares (the API, and the benchmarks' echo ceiling, which must cost
// what the API's own framing costs): an express app without x-powered-by or ETags, and the body limit.
import express from 'express';

/** Largest request body accepted, in bytes (413 body_too_large past it). */
export const MAX_BODY_BYTES = 64 * 1024;

/** An express app with the settings every Paybroker server runs with. */
export function baseApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  return app;
}

/** The JSON body parser: strict (objects and arrays only), within a limit. */
export const jsonBody = (limit = MAX_BODY_BYTES, o: { keepRaw?: boolean } = {}) => express.json({ limit, strict: true,
  ...(o.keepRaw ? { verify: (req: unknown, _res: unknown, buf: Buffer) => { (req as { rawBody?: Buffer }).rawBody = buf; } } : {}) });
