// The request id of the API request that started (or signalled, or updated) a workflow travels in Temporal headers
// under this name: from the API's client to the workflow, from the workflow to every activity it schedules, and into
// those activities' log lines (runtime/requestContext.ts, workflows/interceptors.ts).
export const REQUEST_ID_HEADER = 'paybroker-request-id';
