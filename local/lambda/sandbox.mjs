// One Lambda execution environment of the local cloud: a worker thread with the function's own
// environment (process.env), credentials, memory limit and module graph, as an AWS sandbox has.
// Plain JavaScript: it runs before any TypeScript loader and loads only the function's bundle.
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

const { entry, exportName, handlerName, clock, functionName, memoryMb, logGroupName, logStreamName, functionArn } = workerData;

// The factory's clock (functions/lib/clock.ts reads this symbol): the cloud's simulated time.
const scale = clock.timeScale;
// `skew` (shared memory): simulated ms the cloud's clock was advanced by (VirtualClock.advance).
const skew = clock.skew ?? new Float64Array(1);
globalThis[Symbol.for('ami-factory.clock')] = {
  now: () => clock.virtualStartMs + (Date.now() - clock.realStartMs) * scale + skew[0],
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms / scale))),
};
// What the function prints reaches the runtime in order with its results (CloudWatch Logs' view).
for (const name of ['stdout', 'stderr']) {
  const stream = process[name];
  stream.write = (chunk, encoding, callback) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    parentPort.postMessage({ type: 'log', text });
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') done();
    return true;
  };
}
// NODE_OPTIONS is honoured as the Lambda runtime honours it, where a worker can.
if (/(^|\s)--enable-source-maps(\s|$)/.test(process.env.NODE_OPTIONS ?? '')) process.setSourceMapsEnabled(true);

function errorPayload(e, fallbackType) {
  if (e instanceof Error) {
    return {
      errorType: e.name && e.name !== 'Error' ? e.name : (e.constructor?.name ?? fallbackType),
      errorMessage: e.message,
      trace: (e.stack ?? '').split('\n'),
    };
  }
  return { errorType: fallbackType, errorMessage: String(e), trace: [] };
}

const initStarted = performance.now();
let handler;
let initError;
try {
  const mod = await import(pathToFileURL(entry).href);
  handler = mod[exportName];
  if (typeof handler !== 'function') {
    initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerName} is undefined or not exported`, trace: [] };
  }
} catch (e) {
  initError =
    e?.code === 'ERR_MODULE_NOT_FOUND'
      ? { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: ${e.message}`, trace: (e.stack ?? '').split('\n') }
      : errorPayload(e, 'Runtime.UserCodeError');
}
parentPort.postMessage({ type: 'ready', initMs: performance.now() - initStarted, initError });

parentPort.on('message', async (m) => {
  if (m.type !== 'invoke') return;
  if (initError !== undefined) {
    parentPort.postMessage({ type: 'result', id: m.id, ok: false, error: initError });
    return;
  }
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: m.requestId,
    logGroupName,
    logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, m.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  try {
    const value = await handler(m.event, context);
    // Lambda serializes the result as JSON: what cannot be serialized fails the invocation.
    const json = value === undefined ? 'null' : JSON.stringify(value);
    parentPort.postMessage({ type: 'result', id: m.id, ok: true, json });
  } catch (e) {
    parentPort.postMessage({ type: 'result', id: m.id, ok: false, error: errorPayload(e, 'Error') });
  }
});
