// Goal: an operator reads an order in the Temporal Web UI decoded, though Temporal holds it sealed. A dev server with
// its Web UI given the codec server (--ui-codec-endpoint, the token as the first path segment, as `npm start` does),
// an order started with the key sealing its input, and a real headless Chromium on the workflow's page: the order's
// address appears there in clear, fetched through the codec server; and the codec server was asked for it.
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecApp } from '../../runtime/codecServer';
import { dataConverterOf, EncryptionCodec, parsePayloadKeys } from '../../runtime/payloadCodec';
import { freePort } from '../../scripts/ports';
import { startTemporalDevServer, type DevServer } from '../../scripts/temporal-cli';
import { launchBrowser } from '../support/browser';
import { uid } from '../support/env';
import { buildOrderInput } from '../support/order-input';
import { snap } from './pages';

let browser: Browser;
let dev: DevServer;
let uiPort: number;
let codecServer: ReturnType<ReturnType<typeof codecApp>['listen']>;
const decodeCalls: string[] = [];

beforeAll(async () => {
  const keys = parsePayloadKeys(inject('payloadKeys'));
  const token = `codec_${uid()}`;
  uiPort = await freePort();
  const app = codecApp({ codec: new EncryptionCodec(keys), token, allowedOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`] });
  codecServer = app.listen(0, '127.0.0.1');
  codecServer.on('request', (req: { method?: string; url?: string }) => { if (req.method === 'POST') decodeCalls.push(req.url ?? ''); });
  await new Promise((r) => codecServer.once('listening', r));
  const codecEndpoint = `http://127.0.0.1:${(codecServer.address() as AddressInfo).port}/${token}`;
  [dev, browser] = await Promise.all([
    startTemporalDevServer({ cli: inject('temporalCliPath'), port: await freePort(), uiPort, uiCodecEndpoint: codecEndpoint, fast: true,
      logFile: join(mkdtempSync(join(tmpdir(), 'pb-webui-')), 'temporal.log') }),
    launchBrowser(),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  codecServer?.close();
});

describe('the Temporal Web UI with the codec server', () => {
  it("shows an order's sealed input decoded", async () => {
    const line1 = `${uid()} Privet Drive`;
    const input = buildOrderInput({ merchantId: 'm_webui', clientOrderId: uid('co-'), token: 'tok_webui' });
    input.shipping = { ...input.shipping!, address: { ...input.shipping!.address, line1 } };
    const connection = await Connection.connect({ address: dev.address });
    try {
      const client = new Client({ connection, dataConverter: dataConverterOf(inject('payloadKeys')) });
      // (no worker polls this queue: the started event, with its sealed input, is what the page shows)
      const handle = await client.workflow.start('orderWorkflow', { taskQueue: uid('tq-webui-'), workflowId: input.orderId, args: [input] });
      const started = (await handle.fetchHistory()).events![0].workflowExecutionStartedEventAttributes!;
      expect(Buffer.from(started.input!.payloads![0].data!).includes(line1)).toBe(false);

      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${encodeURIComponent(input.orderId)}/${handle.firstExecutionRunId}/history`,
        { waitUntil: 'networkidle2', timeout: 60_000 });
      await page.waitForFunction((s) => (globalThis as any).document.body.innerText.includes(s), { timeout: 30_000, polling: 200 }, line1);
      await snap(page, 'webui-order-decoded');
      expect(decodeCalls.some((u) => u.endsWith('/decode'))).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
