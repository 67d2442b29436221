// One PostgreSQL cluster and one Temporal dev server for the whole test run, both private to it (free ports,
// a temporary directory), plus one workflow bundle that every test worker loads.
import type { TestProject } from 'vitest/node';
import { startScratchStack, type ScratchStack } from '../../scripts/scratch-stack';

declare module 'vitest' {
  // (an interface that adds no members: vitest's own is what it extends)
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface ProvidedContext extends Omit<ScratchStack, 'dir' | 'stop'> {}
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await startScratchStack((msg) => console.log(`[test setup] ${msg}`));
  console.log(`[test setup] PostgreSQL ${stack.databaseUrl}, Temporal ${stack.temporalAddress}, ready in ${Date.now() - started} ms`);
  const { dir: _dir, stop: _stop, ...provided } = stack;
  for (const [key, value] of Object.entries(provided)) project.provide(key as keyof typeof provided, value);
  return () => stack.stop();
}
