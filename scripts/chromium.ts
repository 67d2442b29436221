// Chromium for the tests of the hosted pages: Debian's `chromium` package (or PAYBROKER_CHROMIUM), driven by
// puppeteer-core. Nothing downloads a browser (PUPPETEER_SKIP_DOWNLOAD=1 in scripts/bootstrap.mjs and .ci/run).
import { existsSync } from 'node:fs';
import { loadConfig } from '../config';

/** Where Debian's chromium package puts its launcher. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_MISSING_MESSAGE =
  `Chromium was not found at ${DEBIAN_CHROMIUM}; the browser tests need it. Install it ` +
  '(Debian/Ubuntu: apt-get install chromium) or point PAYBROKER_CHROMIUM at a Chromium or Chrome binary.';

/** PAYBROKER_CHROMIUM (which must exist), else /usr/bin/chromium when it exists. */
export function findChromium(): string | undefined {
  const configured = loadConfig().chromium;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`PAYBROKER_CHROMIUM=${configured} does not exist.`);
    return configured;
  }
  return existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined;
}
