// The processor simulator in tests: a simulator of the test file's own, test cards and tokens (for every suite
// that pays by card), raw requests, the effects a step applied, and assertions on how a processor call failed.
import { expect, inject } from 'vitest';
import { type ProcessorClient, ProcessorRejectedError, ProcessorUnavailableError } from '../../processors/client';
import { HttpProcessorClient, SimulatorAdmin, type SimulatorStats } from '../../processors/http-client';
import { startSimulator, type RunningSimulator } from '../../processors/simulator/server';
import { freePort } from '../../scripts/ports';
import { uid } from './env';
import { call } from './http';

/** A simulator process of its own over the tests' PostgreSQL, on free ports. */
export async function startPrivateSimulator(): Promise<RunningSimulator> {
  return startSimulator({ databaseUrl: inject('databaseUrl'), port: await freePort(), adminPort: await freePort() });
}

/** A private simulator with its client and admin client. */
export async function openSimulator(timeoutMs: number): Promise<{ sim: RunningSimulator; client: HttpProcessorClient; admin: SimulatorAdmin }> {
  const sim = await startPrivateSimulator();
  return { sim, client: new HttpProcessorClient({ baseUrl: sim.url, timeoutMs }), admin: new SimulatorAdmin({ adminUrl: sim.adminUrl }) };
}

export const key = () => uid('key-');

/** Test cards whose outcome the simulator decides (processors/simulator/cards.ts). */
export const CARD = { approve: '4242424242424242', decline: '4000000000000002', insufficient: '4000000000009995' };

/** A token for a test card (approved by default) at the processor the client talks to. */
export async function tokenizeCard(processor: ProcessorClient, card = CARD.approve): Promise<string> {
  return (await processor.tokenize({ cardNumber: card, expMonth: 12, expYear: 2099 }, uid('tok-'))).token;
}
const EXP_YEAR = new Date().getUTCFullYear() + 3;
/** A card that expires in a few years. */
export const testCard = (cardNumber: string) => ({ cardNumber, expMonth: 12, expYear: EXP_YEAR, cvc: '123' });

/** Effects (and requests) the simulator applied while fn ran. */
export async function effectsOf(admin: SimulatorAdmin, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await admin.stats();
  await fn();
  const after = await admin.stats();
  const diff: Record<string, number> = {};
  for (const k of Object.keys(after) as Array<keyof SimulatorStats>) {
    if (typeof after[k] === 'number') diff[k] = (after[k]) - (before[k] as number);
  }
  return diff;
}

/** A POST as any client could send it (bodies the typed client would not make). */
export const postRaw = (baseUrl: string, path: string, init: { body?: string; idem?: string; contentType?: string } = {}) =>
  call(baseUrl, path, { method: 'POST', raw: init.body ?? '{}', idem: init.idem, contentType: init.contentType });

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** The call was refused for a business reason (4xx) with this code and status. */
export async function rejected(p: Promise<unknown>, code: string, status: number): Promise<void> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(ProcessorRejectedError);
  expect(err).toMatchObject({ code, status });
}

/** The processor could not be reached or failed (network, 5xx). */
export async function unavailable(p: Promise<unknown>): Promise<ProcessorUnavailableError> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(ProcessorUnavailableError);
  return err;
}
