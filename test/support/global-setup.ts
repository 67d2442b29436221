// One PostgreSQL cluster and one Temporal dev server for the whole test run, both private to it (free ports,
// a temporary directory), plus one workflow bundle that every test worker loads.
import type { TestProject } from 'vitest/node';
import { startTestStack } from './stack';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCliPath: string;
    simulatorUrl: string;
    simulatorAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await startTestStack((msg) => console.log(`[test setup] ${msg}`));
  console.log(`[test setup] PostgreSQL ${stack.databaseUrl}, Temporal ${stack.temporalAddress}, ready in ${Date.now() - started} ms`);
  project.provide('databaseUrl', stack.databaseUrl);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('workflowBundlePath', stack.workflowBundlePath);
  project.provide('temporalCliPath', stack.temporalCliPath);
  project.provide('simulatorUrl', stack.simulatorUrl);
  project.provide('simulatorAdminUrl', stack.simulatorAdminUrl);
  return () => stack.stop();
}
