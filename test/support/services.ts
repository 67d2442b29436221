// The three service processes `npm start` runs (API, worker, processor simulator), spawned on free ports
// against the run's PostgreSQL and Temporal, each restartable and killable for real.
import { join } from 'node:path';
import { freePort } from '../../scripts/ports';
import { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { uid } from './env';
import { spawnService, type ServiceProcess } from './processes';

export type ServiceName = 'api' | 'worker' | 'simulator';

const ENTRY: Record<ServiceName, { entry: string; ready: RegExp }> = {
  api: { entry: 'api/main.ts', ready: /API listening/ },
  worker: { entry: 'workers/main.ts', ready: /worker polling/ },
  simulator: { entry: 'processors/simulator/main.ts', ready: /simulator listening/ },
};

export interface Services {
  base: string;
  simulatorUrl: string;
  admin: SimulatorAdmin;
  /** A processor client of the simulator (for card tokens). */
  processor: HttpProcessorClient;
  taskQueue: string;
  proc: Record<ServiceName, ServiceProcess>;
  start(name: ServiceName): Promise<void>;
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<number | string>;
  stopAll(): Promise<void>;
}

/**
 * extraEnv reaches every service. perService adds to one service's (a fault test points the simulator, playing an
 * outside processor, at another PostgreSQL than the broker's); logDir: each process's output is also appended to
 * `<logDir>/<name>.log`, as `npm start` keeps it under .data/logs.
 */
export async function startServices(extraEnv: Record<string, string> = {},
  opts: { perService?: Partial<Record<ServiceName, Record<string, string>>>; logDir?: string } = {}): Promise<Services> {
  const [apiPort, simPort, simAdminPort] = [await freePort(), await freePort(), await freePort()];
  const taskQueue = uid('svc-');
  const env = {
    PORT: String(apiPort), PAYBROKER_SIMULATOR_PORT: String(simPort), PAYBROKER_SIMULATOR_ADMIN_PORT: String(simAdminPort),
    PROCESSOR_URL: `http://127.0.0.1:${simPort}`, PAYBROKER_TASK_QUEUE: taskQueue, ...extraEnv,
  };
  const proc = {} as Record<ServiceName, ServiceProcess>;
  const s: Services = {
    base: `http://127.0.0.1:${apiPort}/v1`,
    simulatorUrl: `http://127.0.0.1:${simPort}`,
    admin: new SimulatorAdmin({ adminUrl: `http://127.0.0.1:${simAdminPort}` }),
    processor: new HttpProcessorClient({ baseUrl: `http://127.0.0.1:${simPort}` }),
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
  await Promise.all((['simulator', 'worker', 'api'] as const).map((n) => s.start(n)));
  return s;
}
