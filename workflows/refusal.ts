// An update's validator applies the domain's rules; a rule's refusal (an error with a code, and the field it is
// about) becomes the update's failure of that type, which the API answers with the code. Anything else is a bug and
// fails loudly.
import * as wf from '@temporalio/workflow';

type Refusal = Error & { code: string; param?: string };

export function refusedAs(refusal: abstract new (...args: never[]) => Refusal, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof refusal) {
      throw wf.ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: [err.param ?? null] });
    }
    throw err;
  }
}
