// The service processes `npm start` runs (API, worker, processor simulator, messaging gateway), spawned on free ports
// against the run's PostgreSQL and Temporal, each restartable and killable for real.
import { join } from 'node:path';
import { freePort } from '../../scripts/ports';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { HttpMessagingGateway, MessagingGatewayAdmin } from '../../processors/messaging/client';
import { uid } from './env';
import { spawnService, type ServiceProcess } from './processes';

export type ServiceName = 'api' | 'worker' | 'simulator' | 'messaging';

const ENTRY: Record<ServiceName, { entry: string; ready: RegExp }> = {
  api: { entry: 'api/main.ts', ready: /API listening/ },
  worker: { entry: 'workers/main.ts', ready: /worker polling/ },
  simulator: { entry: 'processors/simulator/main.ts', ready: /simulator listening/ },
  messaging: { entry: 'processors/messaging/main.ts', ready: /messaging gateway listening/ },
};

/**
 * The secret of a services run's messaging gateway account. Each run has its own account (its own key: its own
 * senders, messages and webhook URL): runs in parallel share the gateway's tables, and a shared account's webhooks
 * would reach whichever run's API wrote its URL last.
 */
export const MESSAGING_WEBHOOK_SECRET = 'gwsec_test_services';

export interface Services {
  base: string;
  simulatorUrl: string;
  admin: SimulatorAdmin;
  /** A processor client of the simulator (for card tokens). */
  processor: HttpProcessorClient;
  messagingUrl: string;
  /** The messaging gateway as Paybroker calls it (the run's own account), and its admin API. */
  messaging: HttpMessagingGateway;
  messagingAdmin: MessagingGatewayAdmin;
  /** The sender id of the run's offers (merchants without their own). */
  messagingSender: string;
  taskQueue: string;
  proc: Record<ServiceName, ServiceProcess>;
  start(name: ServiceName): Promise<void>;
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<number | string>;
  stopAll(): Promise<void>;
}

/**
 * extraEnv reaches every service; only: the services to start (default all four). perService adds to one service's (a fault test points the simulator, playing an
 * outside processor, at another PostgreSQL than the broker's); logDir: each process's output is also appended to
 * `<logDir>/<name>.log`, as `npm start` keeps it under .data/logs.
 */
export async function startServices(extraEnv: Record<string, string> = {},
  opts: { perService?: Partial<Record<ServiceName, Record<string, string>>>; logDir?: string; only?: ServiceName[] } = {}): Promise<Services> {
  const [apiPort, simPort, simAdminPort] = [await freePort(), await freePort(), await freePort()];
  const [msgPort, msgAdminPort] = [await freePort(), await freePort()];
  const taskQueue = uid('svc-');
  const messagingKey = extraEnv.PAYBROKER_MESSAGING_API_KEY ?? uid('msgk_test_');
  // (sender ids are the gateway's, across its accounts: each run books its own)
  const messagingSender = extraEnv.PAYBROKER_MESSAGING_SENDER_ID ?? `PB${uid().slice(0, 9)}`;
  const env = {
    PORT: String(apiPort), PAYBROKER_SIMULATOR_PORT: String(simPort), PAYBROKER_SIMULATOR_ADMIN_PORT: String(simAdminPort),
    PROCESSOR_URL: `http://127.0.0.1:${simPort}`, PAYBROKER_TASK_QUEUE: taskQueue,
    PAYBROKER_MESSAGING_PORT: String(msgPort), PAYBROKER_MESSAGING_ADMIN_PORT: String(msgAdminPort),
    PAYBROKER_MESSAGING_URL: `http://127.0.0.1:${msgPort}`, PAYBROKER_MESSAGING_API_KEY: messagingKey, PAYBROKER_MESSAGING_SENDER_ID: messagingSender,
    PAYBROKER_MESSAGING_WEBHOOK_SECRET: MESSAGING_WEBHOOK_SECRET, ...extraEnv,
  };
  const proc = {} as Record<ServiceName, ServiceProcess>;
  const s: Services = {
    base: `http://127.0.0.1:${apiPort}/v1`,
    simulatorUrl: `http://127.0.0.1:${simPort}`,
    admin: new SimulatorAdmin({ adminUrl: `http://127.0.0.1:${simAdminPort}` }),
    processor: new HttpProcessorClient({ baseUrl: `http://127.0.0.1:${simPort}` }),
    messagingUrl: `http://127.0.0.1:${msgPort}`,
    messaging: new HttpMessagingGateway({ baseUrl: `http://127.0.0.1:${msgPort}`, apiKey: messagingKey }),
    messagingAdmin: new MessagingGatewayAdmin({ adminUrl: `http://127.0.0.1:${msgAdminPort}` }),
    messagingSender,
    taskQueue,
    proc,
    async start(name) {
      proc[name] = spawnService(ENTRY[name].entry, { ...env, ...opts.perService?.[name] },
        { logFile: opts.logDir && join(opts.logDir, `${name}.log`) });
      await proc[name].waitForOutput(ENTRY[name].ready);
    },
    kill: (name, signal = 'SIGKILL') => proc[name].stop(signal),
    async stopAll() {
      await Promise.all(Object.values(proc).map((p) => p.stop('SIGKILL')));
    },
  };
  await Promise.all((opts.only ?? ['simulator', 'messaging', 'worker', 'api']).map((n) => s.start(n)));
  return s;
}
