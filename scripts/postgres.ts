// The private PostgreSQL cluster used when DATABASE_URL is not set: initialised under the data directory on
// first use, started and stopped by the launcher (and by the test setup, with fast non-durable settings).
import { loadConfig } from '../config';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { isPortFree, PortInUseError } from './ports';

export const PG_SUPERUSER = 'paybroker';
export const PG_DATABASE = 'paybroker';

/** The directory holding initdb, pg_ctl and postgres: PAYBROKER_PG_BIN, Debian's layout, then PATH. */
export function findPgBinDir(): string | undefined {
  const candidates: string[] = [];
  const configured = loadConfig().pgBin;
  if (configured) candidates.push(configured);
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debianRoot, v, 'bin')));
  }
  const onPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.push(dirname(onPath));
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b))));
}

export const PG_MISSING_MESSAGE =
  'PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found. Install them ' +
  '(Debian/Ubuntu: apt-get install postgresql), point PAYBROKER_PG_BIN at their directory, ' +
  'or set DATABASE_URL to an existing PostgreSQL database.';

/** PostgreSQL refuses to run as root; when we are root the cluster runs as the 'postgres' OS user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) {
    throw new Error('Running as root, and PostgreSQL will not run as root: create a "postgres" user ' +
      '(apt-get install postgresql does) or run as an ordinary user, or set DATABASE_URL.');
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface ClusterOptions {
  dataDir: string;
  port: number;
  /** Non-durable settings for tests (fsync off): never for `npm start`. */
  fast?: boolean;
  log?: (msg: string) => void;
}

/** The server's own log (pg_ctl -l), beside the other parts' logs. */
export const clusterLogFile = (dataDir: string) => join(dataDir, 'logs', 'postgres.log');

export interface Cluster {
  url: string;
  /** It was already running (a launcher left it, or `npm start` runs beside `npm run seed`). */
  reused: boolean;
  /** The postmaster's process id (it is not our child: pg_ctl starts it in its own session). */
  pid: number | undefined;
  /**
   * pg_ctl stop, waiting until it is down: 'fast' (the default) rolls back open transactions and shuts down
   * cleanly, 'immediate' ends every process at once as a crash would (the next start recovers from the WAL).
   * Starting it again is startPrivateCluster with the same options.
   */
  stop(mode?: 'fast' | 'immediate'): void;
}

export async function startPrivateCluster(opts: ClusterOptions): Promise<Cluster> {
  const log = opts.log ?? (() => {});
  const bin = findPgBinDir();
  if (!bin) throw new Error(PG_MISSING_MESSAGE);
  const owner = runAs();
  const pgDir = join(opts.dataDir, 'pg');
  const logFile = clusterLogFile(opts.dataDir);
  mkdirSync(dirname(logFile), { recursive: true });
  if (owner) chownSync(opts.dataDir, owner.uid, owner.gid);
  // pg_ctl opens the log as the cluster's user, who may not write to the logs directory: the file is made for it
  if (!existsSync(logFile)) closeSync(openSync(logFile, 'a'));
  if (owner) chownSync(logFile, owner.uid, owner.gid);

  const run = (cmd: string, args: string[]) =>
    execFileSync(join(bin, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...owner });

  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    log(`initialising a PostgreSQL cluster in ${pgDir} (${bin})`);
    mkdirSync(pgDir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(pgDir, owner.uid, owner.gid);
    run('initdb', ['-D', pgDir, '-U', PG_SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C']);
  }

  const running = spawnSync(join(bin, 'pg_ctl'), ['status', '-D', pgDir], { ...owner }).status === 0;
  if (running) {
    log(`PostgreSQL is already running from ${pgDir}; using it`);
  } else {
    if (!(await isPortFree(opts.port))) throw new PortInUseError('PostgreSQL', opts.port, 'PAYBROKER_PG_PORT');
    const settings = [
      `-p ${opts.port}`, `-c listen_addresses=127.0.0.1`, `-c unix_socket_directories=''`, '-c max_connections=200',
      ...(opts.fast ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ].join(' ');
    try {
      run('pg_ctl', ['start', '-D', pgDir, '-w', '-t', '60', '-l', logFile, '-o', settings]);
    } catch (err) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`PostgreSQL failed to start (${(err as Error).message.trim()}).\n${tail}`, { cause: err });
    }
  }
  const port = running ? postmasterPid(pgDir)?.port ?? opts.port : opts.port;
  const url = `postgres://${PG_SUPERUSER}@127.0.0.1:${port}/${PG_DATABASE}`;
  await ensureDatabase(`postgres://${PG_SUPERUSER}@127.0.0.1:${port}/postgres`, PG_DATABASE);
  return {
    url,
    reused: running,
    pid: postmasterPid(pgDir)?.pid,
    stop(mode = 'fast') {
      spawnSync(join(bin, 'pg_ctl'), ['stop', '-D', pgDir, '-m', mode, '-w'], { stdio: 'ignore', ...owner });
    },
  };
}

/** A running cluster's postmaster process id and port (lines 1 and 4 of postmaster.pid). */
function postmasterPid(pgDir: string): { pid: number; port: number | undefined } | undefined {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const [pid, port] = [Number(lines[0]), Number(lines[3])];
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, port: Number.isInteger(port) && port > 0 ? port : undefined };
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
}
