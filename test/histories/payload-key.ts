// The payload key the recorded histories are sealed with. A test key, public on purpose: the histories in this
// folder are fixtures, and the replay test must open them on any clone. No deployment reads it (a deployment's keys
// come from PAYBROKER_PAYLOAD_KEYS only); recording and replaying use it, nothing else.
import { dataConverterOf } from '../../runtime/payloadCodec';

export const HISTORIES_PAYLOAD_KEYS = 'histories-test:OJ4ftCWvZ4ld4OBZR+gt/qP2J6mu5LAs+HEIxQrXz6Y=';
/**
 * The fixtures' key, then those of PAYBROKER_PAYLOAD_KEYS when set: a history exported from a deployment replays
 * with its keys in the environment (docs/operations.md).
 */
export const historiesDataConverter = () => dataConverterOf([HISTORIES_PAYLOAD_KEYS, process.env.PAYBROKER_PAYLOAD_KEYS].filter(Boolean).join(','));
