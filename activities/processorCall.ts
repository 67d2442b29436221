// The processor's answers as activity outcomes: a business refusal (4xx) ends the step (non-retryable
// ProcessorRejected); everything else (unreachable, 5xx) is thrown as it is and retried by Temporal.
import { ApplicationFailure } from '@temporalio/activity';
import { ProcessorRejectedError } from '../processors/client';

export async function processorCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ProcessorRejectedError) {
      throw ApplicationFailure.create({ type: 'ProcessorRejected', message: err.message, nonRetryable: true, details: [err.code] });
    }
    throw err;
  }
}
