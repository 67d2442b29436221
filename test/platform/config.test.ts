// Configuration is one schema over the environment: defaults, parsing, precise errors, and the README's table
// written from the same declarations.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTable, loadConfig, ROOT_DIR, VARIABLES } from '../../config';

describe('configuration', () => {
  it('takes the documented defaults from an empty environment (and treats an empty variable as unset)', () => {
    const c = loadConfig({ PAYBROKER_TASK_QUEUE: '' });
    expect(c).toMatchObject({
      databaseUrl: undefined, pgPort: 55432, temporalAddress: '127.0.0.1:7233', temporalExternal: false, taskQueue: 'paybroker',
      apiPort: 3000, simulatorPort: 3100, simulatorAdminPort: 3101, simulatorUrl: 'http://127.0.0.1:3100',
      periodGraceMs: 5 * 60_000, dunningDelaysMs: [3_600_000, 86_400_000, 3 * 86_400_000], refundWindowMs: 90 * 86_400_000,
      delivery: { allowPrivate: false, timeoutMs: 10_000, perDestinationInFlight: 8 }, logLevel: 'info', workerLogLevel: 'warn',
      rateLimit: { perSecond: 1000, burst: 2000 },
    });
  });

  it('parses what is given', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', PAYBROKER_SIMULATOR_PORT: '4000', PAYBROKER_WEBHOOK_ALLOW_PRIVATE: '1',
      PAYBROKER_DUNNING_DELAYS: '10s, 2 minutes', PAYBROKER_WORKER_LOG_LEVEL: 'DEBUG', PAYBROKER_API_PROCESSES: '64',
      PAYBROKER_RATE_LIMIT: '5', PAYBROKER_RATE_LIMIT_BURST: '10' });
    expect(c).toMatchObject({ temporalAddress: 'temporal:7233', temporalExternal: true, simulatorAdminPort: 4001,
      simulatorUrl: 'http://127.0.0.1:4000', delivery: { allowPrivate: true }, dunningDelaysMs: [10_000, 120_000], workerLogLevel: 'debug',
      apiProcesses: 64, rateLimit: { perSecond: 5, burst: 10 } });
  });

  it('names the variable and what it takes when a value is wrong', () => {
    const wrong: Array<[string, string, RegExp]> = [
      ['PORT', '70000', /^PORT must be an integer from 0 to 65535, got '70000'$/],
      ['PAYBROKER_API_PROCESSES', '65', /^PAYBROKER_API_PROCESSES must be an integer from 1 to 64/],
      ['PAYBROKER_SETTLEMENT_GRACE', 'soon', /^PAYBROKER_SETTLEMENT_GRACE must be a positive duration/],
      ['PAYBROKER_DUNNING_DELAYS', '1 hour, never', /^PAYBROKER_DUNNING_DELAYS must be a positive duration/],
      ['PAYBROKER_WEBHOOK_ALLOW_PRIVATE', 'yes', /^PAYBROKER_WEBHOOK_ALLOW_PRIVATE must be true or false/],
      ['PAYBROKER_RATE_LIMIT', '0', /^PAYBROKER_RATE_LIMIT must be an integer from 1 to 1000000/],
      ['PAYBROKER_LOG_LEVEL', 'loud', /^PAYBROKER_LOG_LEVEL must be trace, debug, info, warn, error, silent/],
    ];
    for (const [name, value, message] of wrong) expect(() => loadConfig({ [name]: value }), name).toThrow(message);
  });

  it("is what the README's table says, variable for variable", () => {
    const readme = readFileSync(join(ROOT_DIR, 'README.md'), 'utf8');
    expect(readme).toContain(configTable());
    expect(Object.keys(VARIABLES).length).toBeGreaterThan(30);
  });
});
