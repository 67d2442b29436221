// Every recorded history in test/histories replays against today's workflow code without a determinism error:
// the guard that a change is safe for workflows already running.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { ENCRYPTED_ENCODING } from '../../runtime/payloadCodec';
import { historiesDataConverter } from '../histories/payload-key';
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

  it('holds every payload sealed (inputs, results, signals, updates, memos, failures), only search attributes plain', () => {
    // (and the SDK's own bookkeeping of a local activity in its marker, `details.data`: seq, attempt, type, times)
    const plainByDesign = /(\.searchAttributes|markerRecordedEventAttributes\.details\.data)$/;
    for (const f of files) {
      const encodings = new Map<string, number>();
      const visit = (v: unknown, path: string): void => {
        if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${path}[${i}]`));
        if (typeof v !== 'object' || v === null || plainByDesign.test(path)) return;
        const o = v as Record<string, unknown>;
        const encoding = (o.metadata as Record<string, string> | undefined)?.encoding;
        if (typeof encoding === 'string') {
          const e = Buffer.from(encoding, 'base64').toString();
          encodings.set(e, (encodings.get(e) ?? 0) + 1);
          return;
        }
        for (const [k, x] of Object.entries(o)) visit(x, `${path}.${k}`);
      };
      visit(JSON.parse(readFileSync(dir + f, 'utf8')), '');
      expect([...encodings.keys()], f).toEqual([ENCRYPTED_ENCODING]);
    }
  });

  it.each(files)('%s', async (file) => {
    const history = JSON.parse(readFileSync(dir + file, 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') }, dataConverter: historiesDataConverter() }, history, file);
  });
});

describe('the replay guard can fail', () => {
  it('reports a determinism violation when the code schedules another activity than the history', async () => {
    const history = JSON.parse(readFileSync(dir + 'ping-echo.json', 'utf8'));
    const scheduled = history.events.find((e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes);
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'somethingElse';
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') }, dataConverter: historiesDataConverter() }, history, 'altered'))
      .rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
