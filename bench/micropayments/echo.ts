// The ceiling of single recording: a bare express endpoint in its own process that parses a JSON body with the
// API's parser and limit (runtime/http.ts: express.json, 64 KiB, strict) and echoes it, with the API's app
// settings (no x-powered-by, no ETag). No authentication, no validation, no database: what express alone costs
// per request on this machine. Listens on 127.0.0.1, a free port (BENCH_ECHO_PORT to choose one), in as many
// processes as the API (PAYBROKER_API_PROCESSES, one per core by default), so both use the machine alike.
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../config';
import { serveInCopies } from '../../runtime/copies';
import { baseApp, jsonBody } from '../../runtime/http';

const copies = loadConfig().apiProcesses;
const announce = (port: number) => `echo listening on http://127.0.0.1:${port} (${copies} processes)`;
await serveInCopies({ copies, announce }, async (alone) => {
  const app = baseApp();
  app.post('/v1/echo', jsonBody(), (req, res) => {
    res.json(req.body);
  });

  // port 0: the copies share one free port (node:cluster hands them the same one)
  const server = app.listen(Number(process.env.BENCH_ECHO_PORT ?? 0), '127.0.0.1', () => {
    if (alone) console.log(announce((server.address() as AddressInfo).port));
  });
  server.keepAliveTimeout = 65_000; // as api/main.ts

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
