// Assertions on how a processor call failed, shared by the simulator's tests.
import { expect } from 'vitest';
import { ProcessorRejectedError, ProcessorUnavailableError } from '../../processors/client';

export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** The call was refused for a business reason (4xx) with this code and status. */
export async function rejected(p: Promise<unknown>, code: string, status: number): Promise<ProcessorRejectedError> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(ProcessorRejectedError);
  expect(err).toMatchObject({ code, status });
  return err as ProcessorRejectedError;
}

/** The processor could not be reached or failed (network, 5xx). */
export async function unavailable(p: Promise<unknown>): Promise<ProcessorUnavailableError> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(ProcessorUnavailableError);
  return err as ProcessorUnavailableError;
}
