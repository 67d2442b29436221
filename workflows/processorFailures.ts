// How a workflow reads a processor call's failure: the processor's refusal of the request (ProcessorRejected, with
// the processor's code), as against the processor not being reached (which a workflow waits out).
import * as wf from '@temporalio/workflow';

/** An activity's failure; a local activity's arrives unwrapped. */
export function causeOf(err: unknown): unknown {
  return err instanceof wf.ActivityFailure ? err.cause : err;
}

/** The processor's refusal (its code and message), or undefined for any other failure. */
export function processorRefusal(err: unknown): { code: string; message: string } | undefined {
  const cause = causeOf(err);
  if (!(cause instanceof wf.ApplicationFailure && cause.type === 'ProcessorRejected')) return undefined;
  const code: unknown = cause.details?.[0];
  return { code: typeof code === 'string' ? code : 'processor_rejected', message: cause.message };
}
