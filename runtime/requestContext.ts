// The API request a piece of work belongs to, carried as its request id: kept per request (AsyncLocalStorage), put
// into the Temporal headers and the memo of the workflows a request starts, signals or updates (the client
// interceptor), and read back in the worker, where every activity log line names it (the activity interceptor).
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { REQUEST_ID_HEADER } from '../workflows/requestId.contract';

const store = new AsyncLocalStorage<{ requestId: string }>();

/** A client's own request id (X-Request-Id) is kept when it looks like one; else a new one. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
export function requestIdFor(given: string | undefined): string {
  return given !== undefined && CLIENT_REQUEST_ID.test(given) ? given : `req_${randomBytes(12).toString('base64url')}`;
}

/** Runs fn (and everything it awaits) as part of the request. */
export function inRequest<T>(requestId: string, fn: () => T): T {
  return store.run({ requestId }, fn);
}

export const currentRequestId = (): string | undefined => store.getStore()?.requestId;

const withId = (headers: Record<string, Payload>): Record<string, Payload> => {
  const id = currentRequestId();
  return id ? { ...headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(id) } : headers;
};
const memoWithId = <O extends { memo?: Record<string, unknown> }>(options: O): O => {
  const id = currentRequestId();
  return id ? { ...options, memo: { ...options.memo, requestId: id } } : options;
};

/** The API's Temporal client: the current request id goes with every start, signal and update. */
export const requestIdClientInterceptor: WorkflowClientInterceptor = {
  start: (input, next) => next({ ...input, headers: withId(input.headers), options: memoWithId(input.options) }),
  signalWithStart: (input, next) => next({ ...input, headers: withId(input.headers), options: memoWithId(input.options) }),
  startUpdateWithStart: (input, next) => next({
    ...input, workflowStartHeaders: withId(input.workflowStartHeaders), workflowStartOptions: memoWithId(input.workflowStartOptions),
    updateHeaders: withId(input.updateHeaders),
  }),
  startUpdate: (input, next) => next({ ...input, headers: withId(input.headers) }),
  signal: (input, next) => next({ ...input, headers: withId(input.headers) }),
};

/**
 * The worker's activities: the request id their workflow carries goes into every activity log line, and runs with
 * them (so what an activity starts or signals, a delivery group say, carries it on).
 */
export const requestIdActivityInterceptor: ActivityInterceptorsFactory = () => {
  let requestId: string | undefined;
  return {
    inbound: {
      execute: (input, next) => {
        const p = input.headers[REQUEST_ID_HEADER];
        requestId = p ? defaultPayloadConverter.fromPayload<string>(p) : undefined;
        return requestId ? inRequest(requestId, () => next(input)) : next(input);
      },
    },
    outbound: { getLogAttributes: (attrs, next) => next(requestId ? { ...attrs, requestId } : attrs) },
  };
};
