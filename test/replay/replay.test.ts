// Every recorded history in test/histories replays against today's workflow code without a determinism error:
// the guard that a change is safe for workflows already running.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { quietRuntime } from '../support/env';
import * as workflows from '../../workflows';

const dir = fileURLToPath(new URL('../histories/', import.meta.url));
quietRuntime();
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('recorded histories replay against today\'s workflows', () => {
  it('there are recorded histories, and each names a workflow that exists', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const history = JSON.parse(readFileSync(dir + f, 'utf8'));
      const type = history.events[0].workflowExecutionStartedEventAttributes.workflowType.name;
      expect(Object.keys(workflows), `${f} records ${type}`).toContain(type);
    }
  });

  it.each(files)('%s', async (file) => {
    const history = JSON.parse(readFileSync(dir + file, 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file);
  });
});

describe('the replay guard can fail', () => {
  it('reports a determinism violation when the code schedules another activity than the history', async () => {
    const history = JSON.parse(readFileSync(dir + 'ping-echo.json', 'utf8'));
    const scheduled = history.events.find((e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes);
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'somethingElse';
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, 'altered'))
      .rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
