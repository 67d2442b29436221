// Cluster mode's configuration, and docker-compose.yml describing the same topology (issue 20, 3). The cluster itself
// runs in test/faults/temporal-cluster.test.ts, the launcher's in test/platform/launcher.test.ts, and every e2e and
// fault test on it in `npm run test:cluster`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, ROOT_DIR } from '../../config';
import {
  CLUSTER_BINARIES, CLUSTER_SERVICES, clusterPortsFrom, serviceCommand, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION, writeClusterConfig,
} from '../../scripts/temporal-cluster';
import { SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';

const compose = readFileSync(join(ROOT_DIR, 'docker-compose.yml'), 'utf8');
const version = (v: string) => v.replace(/^v/, '');

describe('docker-compose.yml', () => {
  it('deploys the services cluster mode runs, from the same release, with the same shards and search attributes', () => {
    for (const s of CLUSTER_SERVICES) {
      expect(compose, s).toMatch(new RegExp(`^  temporal-${s}:\\n    image: temporalio/server:${version(TEMPORAL_SERVER_VERSION)}\\n`, 'm'));
      expect(compose, s).toMatch(new RegExp(`SERVICES: ${s}\\b`));
    }
    expect(compose).not.toMatch(/auto-setup/);
    expect(compose).toContain(`NUM_HISTORY_SHARDS: ${loadConfig({}).temporalHistoryShards}\n`);
    expect(compose).toContain(`image: temporalio/ui:${version(TEMPORAL_UI_SERVER_VERSION)}`);
    expect(compose).toContain('update-schema --schema-name postgresql/v12/$$schema');
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(compose).toContain(`--name ${name} --type ${type}`);
  });
});

describe('the cluster configuration', () => {
  let dir: string | undefined;
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('gives each service its ports and metrics endpoint, the stores their databases, and the history its shards', () => {
    const tmp = dir = mkdtempSync(join(tmpdir(), 'pb-cluster-'));
    const binaries = { server: '/bin/temporal-server', sqlTool: '/bin/temporal-sql-tool', uiServer: '/bin/temporal-ui-server' };
    const ports = clusterPortsFrom(7233, { frontend: 9467, history: 9469, matching: 9470, worker: 9471 });
    expect(ports.grpc).toEqual({ frontend: 7233, history: 7234, matching: 7235, worker: 7239 });
    expect(ports.membership).toEqual({ frontend: 6933, history: 6934, matching: 6935, worker: 6939 });
    const plan = writeClusterConfig({
      binaries, adminUrl: 'postgres://pb%40user:p%3Ass@127.0.0.1:55432/paybroker', databasePrefix: 'tc', dir: tmp, ports,
      historyShards: 16, logDir: join(tmp, 'logs'),
    });
    expect(plan.address).toBe('127.0.0.1:7233');
    const read = (f: string) => JSON.parse(readFileSync(join(tmp, f), 'utf8'));
    const base = read('config/base.yaml');
    expect(base.persistence).toMatchObject({ numHistoryShards: 16, defaultStore: 'default', visibilityStore: 'visibility' });
    expect(base.persistence.datastores.default.sql).toMatchObject({ pluginName: 'postgres12', databaseName: 'tc', connectAddr: '127.0.0.1:55432', user: 'pb@user', password: 'p:ss' });
    expect(base.persistence.datastores.visibility.sql.databaseName).toBe('tc_visibility');
    for (const s of CLUSTER_SERVICES) {
      expect(base.services[s].rpc).toEqual({ grpcPort: ports.grpc[s], membershipPort: ports.membership[s], bindOnLocalHost: true });
      expect(read(`config/${s}.yaml`).global.metrics.prometheus.listenAddress).toBe(`127.0.0.1:${ports.metrics![s]}`);
      expect(serviceCommand(plan, s)).toEqual([binaries.server, ['--root', tmp, '--config', 'config', '--env', s, '--allow-no-auth', 'start', '--service', s]]);
    }
    // the dev server's dynamic config, typed as the file form wants it
    expect(read('dynamicconfig.yaml')['matching.numTaskqueueReadPartitions']).toEqual([{ value: 1 }]);
    expect(read('dynamicconfig.yaml')['system.enableActivityEagerExecution']).toEqual([{ value: true }]);
    expect(Object.values(CLUSTER_BINARIES).map((b) => b.target)).toContain(`go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`);
  });
});
