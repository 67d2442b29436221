// Codec server process (started by `npm start`): decodes payloads for the Temporal Web UI with the keys of
// PAYBROKER_PAYLOAD_KEYS, for those who hold PAYBROKER_CODEC_TOKEN, from the Web UI's origin (runtime/codecServer.ts).
import { loadConfig } from '../config';
import { codecApp } from '../runtime/codecServer';
import { createLogger } from '../runtime/log';
import { EncryptionCodec, parsePayloadKeys } from '../runtime/payloadCodec';

const config = loadConfig();
const logger = createLogger('codec', config.logLevel);
const keys = config.payloadKeys ? parsePayloadKeys(config.payloadKeys) : undefined;
if (!keys || !config.codecToken) {
  logger.error('the codec server needs PAYBROKER_PAYLOAD_KEYS and PAYBROKER_CODEC_TOKEN (npm start makes both)');
  process.exit(1);
}
const ui = config.temporalUiPort;
const server = codecApp({ codec: new EncryptionCodec(keys), token: config.codecToken,
  allowedOrigins: [`http://127.0.0.1:${ui}`, `http://localhost:${ui}`] })
  .listen(config.codecPort, config.bindHost, () => logger.info(`codec server listening on http://${config.bindHost}:${config.codecPort} (keys: ${[...keys.keys.keys()].join(', ')})`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));
