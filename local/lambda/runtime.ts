import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { JsonValue } from '../json.js';

/**
 * The local Lambda service. Each function runs as AWS runs it: in execution environments of
 * its own (worker threads here), each with the function's environment variables, its role's
 * temporary credentials (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, so
 * every call it makes is evaluated against that role), `AWS_ENDPOINT_URL` pointing at the local
 * cloud, its memory size as the heap limit, its timeout, and its own module graph: two
 * functions never share a client, a cache or `process.env`. An environment runs one invocation
 * at a time; a busy function gets another environment (a cold start), up to its reserved
 * concurrency (then `TooManyRequestsException`, as Lambda throttles) or the local cap.
 *
 * What a function prints is what CloudWatch Logs would hold: START / END / REPORT lines around
 * each invocation's output, appended to `<logsDir>/<function>.log` and kept (the tail) in memory.
 * Errors come back as Lambda reports them: `{errorType, errorMessage, trace}`, the timeout as
 * `Sandbox.Timedout`.
 */
export interface LocalFunction {
  /** The physical name (`ami-factory-dev-createImage`). */
  name: string;
  /** serverless's function key (`createImage`): stats and the CLI use it. */
  shortName: string;
  arn: string;
  /** `functions/create-image.handler`. */
  handler: string;
  runtime: string;
  memoryMb: number;
  timeoutS: number;
  /** The function's environment (template variables and the runtime's own). */
  environment: Record<string, string>;
  roleArn: string;
  reservedConcurrency?: number;
  /** The code: the module file to import (an ESM bundle) and its export. */
  entry: string;
  exportName: string;
}

/** Who calls Invoke: a principal with credentials, an AWS service on behalf of a resource, or a public function URL. */
export type InvokeCaller =
  | { kind: 'principal'; principalArn: string; accessKeyId?: string }
  | { kind: 'service'; service: string; sourceArn?: string; sourceAccount?: string }
  | { kind: 'function-url'; authType: string };

export interface InvokeOptions {
  caller?: InvokeCaller;
}

/** A function's asynchronous invocation config (AWS::Lambda::EventInvokeConfig). */
export interface AsyncInvokeConfig {
  /** Retries after the first attempt (0-2; Lambda's default 2). */
  maximumRetryAttempts?: number;
  /** How long (simulated seconds) an event may wait for a retry (Lambda's default 6 hours). */
  maximumEventAgeInSeconds?: number;
  /** Where the failure record goes after the last retry. */
  onFailure?: string;
}

/** The record Lambda sends to an OnFailure destination (Lambda developer guide, "Capturing records of asynchronous invocations"). */
export interface AsyncFailureRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetriesExhausted' | 'EventAgeExceeded';
    approximateInvokeCount: number;
  };
  requestPayload: JsonValue;
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  responsePayload: JsonValue;
}

/** An accepted asynchronous invocation: `settled` resolves after its last attempt (and the destination). */
export interface AsyncInvocation {
  requestId: string;
  settled: Promise<void>;
}

export interface InvocationRecord {
  function: string;
  requestId: string;
  /** Real milliseconds the handler ran (init excluded). */
  durationMs: number;
  billedMs: number;
  memoryMb: number;
  /** Set on a cold start. */
  initMs?: number;
  errorType?: string;
}

/** What the Step Functions engine, EventBridge and function URLs need of Lambda. */
export interface LambdaInvoker {
  has(fn: string): boolean;
  invoke(fn: string, payload: JsonValue, opts?: InvokeOptions): Promise<JsonValue>;
}

/** A Lambda API error (not the function's): `name` is the API's error code. */
export class LambdaServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = code;
  }
}

/** The function's own error, as Lambda reports it (`errorType` becomes `name`). */
export class FunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[],
  ) {
    super(errorMessage);
    this.name = errorType;
  }
}

export interface SandboxClock {
  virtualStartMs: number;
  realStartMs: number;
  timeScale: number;
  /** VirtualClock.skew: simulated ms the clock was advanced by (shared with the worker threads). */
  skew?: Float64Array;
}

export interface LocalLambdaOptions {
  region: string;
  accountId: string;
  clock: SandboxClock;
  /** Where function logs go (`<dir>/<shortName>.log`); null keeps only the in-memory tail. */
  logsDir: string | null;
  /** Authorizes an invocation (throws a LambdaServiceError); default: allow. */
  authorize?: (fn: LocalFunction, caller: InvokeCaller) => void;
  /** Environments per function when no reserved concurrency caps it (default 8). */
  maxEnvironmentsPerFunction?: number;
  /**
   * Fault injection (local/faults.ts): called after the handler returned; an answer drops its
   * response, the caller getting `ServiceException` (500) or `Sandbox.Timedout` instead, its side effects done.
   */
  afterInvoke?: (fn: LocalFunction) => { code: 'ServiceException' | 'Sandbox.Timedout' } | undefined;
  /** Delivers an asynchronous invocation's failure record to its OnFailure destination (with the function's role). */
  deliverFailure?: (fn: LocalFunction, destinationArn: string, record: AsyncFailureRecord) => void;
}

/** Lambda's waits before the second and third attempts of an asynchronous invocation (simulated ms). */
const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];
const DEFAULT_ASYNC_RETRIES = 2;
const DEFAULT_ASYNC_MAX_AGE_S = 6 * 3600;

const SANDBOX = fileURLToPath(new URL('./sandbox.mjs', import.meta.url));
/** Lambda's synchronous payload limit (6 MB) for requests and responses. */
const PAYLOAD_LIMIT = 6 * 1024 * 1024;
const LOG_TAIL = 400;

interface Pending {
  resolve: (v: JsonValue) => void;
  reject: (e: Error) => void;
}

class Sandbox {
  readonly worker: Worker;
  readonly ready: Promise<{ initMs: number }>;
  busy = false;
  dead = false;
  coldPending = true;
  private pending: Pending | undefined;
  private nextId = 1;

  constructor(
    readonly fn: LocalFunction,
    clock: SandboxClock,
    private readonly onOutput: (text: string) => void,
    private readonly onExit: (s: Sandbox) => void,
  ) {
    const worker = new Worker(SANDBOX, {
      workerData: {
        entry: fn.entry,
        exportName: fn.exportName,
        handlerName: fn.handler,
        clock,
        functionName: fn.name,
        functionArn: fn.arn,
        memoryMb: fn.memoryMb,
        logGroupName: fn.environment.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: fn.environment.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      env: fn.environment,
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, fn.memoryMb) },
    });
    this.worker = worker;
    worker.stdout.on('data', (d: Buffer) => this.onOutput(d.toString('utf8')));
    worker.stderr.on('data', (d: Buffer) => this.onOutput(d.toString('utf8')));
    this.ready = new Promise((resolveReady, rejectReady) => {
      const onMessage = (m: {
        type: string;
        text?: string;
        initMs?: number;
        id?: number;
        ok?: boolean;
        json?: string;
        error?: ErrorPayload;
      }): void => {
        if (m.type === 'log') {
          this.onOutput(m.text ?? '');
          return;
        }
        if (m.type === 'ready') {
          resolveReady({ initMs: m.initMs ?? 0 });
          return;
        }
        if (m.type === 'result') this.settle(m);
      };
      worker.on('message', onMessage);
      worker.once('error', (e: Error) => {
        // An uncaught error or an out-of-memory kill ends the environment, as in Lambda.
        const oom = /heap|memory/i.test(e.message) || (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        const err = oom
          ? new FunctionError(
              'Runtime.OutOfMemory',
              `RequestId: Error: Runtime exited with error: signal: killed (memory ${this.fn.memoryMb} MB)`,
              [],
            )
          : new FunctionError(
              'Runtime.ExitError',
              `RequestId: Error: Runtime exited with error: ${e.name}: ${e.message}`,
              (e.stack ?? '').split('\n'),
            );
        rejectReady(err);
        this.die(err);
      });
      worker.once('exit', (code) => {
        const err = new FunctionError('Runtime.ExitError', `RequestId: Error: Runtime exited with error: exit status ${code}`, []);
        rejectReady(err);
        this.die(err);
      });
    });
    this.ready.catch(() => undefined);
  }

  private settle(m: { id?: number; ok?: boolean; json?: string; error?: ErrorPayload }): void {
    const p = this.pending;
    if (p === undefined || m.id !== this.nextId - 1) return;
    this.pending = undefined;
    if (m.ok === true) {
      const json = m.json ?? 'null';
      if (Buffer.byteLength(json) > PAYLOAD_LIMIT) {
        p.reject(
          new FunctionError(
            'Function.ResponseSizeTooLarge',
            `Response payload size exceeded maximum allowed payload size (${PAYLOAD_LIMIT} bytes).`,
            [],
          ),
        );
        return;
      }
      p.resolve(JSON.parse(json) as JsonValue);
    } else {
      const e = m.error ?? { errorType: 'Error', errorMessage: 'unknown error', trace: [] };
      p.reject(new FunctionError(e.errorType, e.errorMessage, e.trace));
    }
  }

  invoke(event: JsonValue, requestId: string, deadlineMs: number): Promise<JsonValue> {
    return new Promise((resolveInvoke, rejectInvoke) => {
      this.pending = { resolve: resolveInvoke, reject: rejectInvoke };
      this.worker.postMessage({ type: 'invoke', id: this.nextId++, event, requestId, deadlineMs });
    });
  }

  die(e: Error): void {
    if (this.dead) return;
    this.dead = true;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
    this.onExit(this);
  }

  async terminate(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

interface ErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export class LocalLambda implements LambdaInvoker {
  private readonly functions = new Map<string, LocalFunction>();
  private readonly aliases = new Map<string, string>();
  private readonly sandboxes = new Map<string, Sandbox[]>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly tails = new Map<string, string[]>();
  /** Invocations per function (serverless key) since start or the last reset. */
  readonly invocations = new Map<string, number>();
  /** One record per finished invocation (durations and memory: the cost model's GB-seconds). */
  readonly records: InvocationRecord[] = [];
  private readonly asyncConfigs = new Map<string, AsyncInvokeConfig>();
  private readonly asyncSleeps = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: LocalLambdaOptions) {
    if (opts.logsDir !== null) mkdirSync(opts.logsDir, { recursive: true });
  }

  register(fn: LocalFunction): void {
    this.functions.set(fn.name, fn);
    for (const alias of [fn.shortName, fn.arn]) this.aliases.set(alias, fn.name);
  }

  /** Serverless keys of the registered functions. */
  functionNames(): string[] {
    return [...this.functions.values()].map((f) => f.shortName);
  }

  /** The function a name, key, ARN or qualified ARN (`…:function:name:1`) refers to. */
  lookup(ref: string): LocalFunction | undefined {
    let key = ref;
    if (ref.startsWith('arn:')) {
      const m = /^arn:[^:]+:lambda:[^:]+:\d{12}:function:([^:]+)(:[^:]+)?$/.exec(ref);
      key = m?.[1] ?? ref;
    }
    const name = this.functions.has(key) ? key : this.aliases.get(key);
    return name === undefined ? undefined : this.functions.get(name);
  }

  has(ref: string): boolean {
    return this.lookup(ref) !== undefined;
  }

  /** The last lines a function printed (newest last). */
  logTail(ref: string): string[] {
    const fn = this.lookup(ref);
    return fn === undefined ? [] : [...(this.tails.get(fn.name) ?? [])];
  }

  resetStats(): void {
    this.invocations.clear();
    this.records.length = 0;
  }

  /**
   * Starts `perFunction` execution environments (default one) for each function (Lambda's
   * provisioned concurrency; at most the local cap and the function's reserved concurrency), in
   * the given order, `lanes` at a time, in the background: their init happens off the path of
   * the first invocations. Environments a function already has count. Resolves when every
   * environment asked for is ready (or failed its init, which its first invocation reports).
   */
  async prewarm(refs: string[], lanes = 2, perFunction = 1): Promise<void> {
    const queue = [...refs];
    const lane = async (): Promise<void> => {
      for (let ref = queue.shift(); ref !== undefined; ref = queue.shift()) {
        const fn = this.lookup(ref);
        if (fn === undefined || this.closed) continue;
        const want = Math.min(perFunction, this.opts.maxEnvironmentsPerFunction ?? 8, fn.reservedConcurrency ?? Infinity);
        for (;;) {
          // Read each time: a dead environment's removal replaces the pool.
          const pool = this.sandboxes.get(fn.name) ?? [];
          this.sandboxes.set(fn.name, pool);
          if (this.closed || pool.filter((x) => !x.dead).length >= want) break;
          const s = new Sandbox(
            fn,
            this.opts.clock,
            (text) => this.log(fn, text),
            (dead) => this.remove(fn, dead),
          );
          s.coldPending = false;
          pool.push(s);
          try {
            const r = await s.ready;
            this.log(fn, `INIT_REPORT Init Duration: ${r.initMs.toFixed(2)} ms\tProvisioned\n`);
          } catch {
            // a failing init is reported by the first invocation
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, () => lane()));
  }

  /** Sets a function's asynchronous invocation config (PutFunctionEventInvokeConfig). */
  configureAsync(ref: string, config: AsyncInvokeConfig): void {
    const fn = this.lookup(ref);
    if (fn === undefined) throw new LambdaServiceError('ResourceNotFoundException', `Function not found: ${ref}`, 404);
    this.asyncConfigs.set(fn.name, { ...config });
  }

  asyncConfig(ref: string): AsyncInvokeConfig | undefined {
    const fn = this.lookup(ref);
    return fn === undefined ? undefined : this.asyncConfigs.get(fn.name);
  }

  /**
   * Invokes a function asynchronously (InvocationType Event), as EventBridge does: the caller is
   * authorized and the event accepted at once (errors here are the caller's to retry); then the
   * function runs, and a function error is retried by Lambda (after one, then two simulated
   * minutes, up to MaximumRetryAttempts and MaximumEventAgeInSeconds). After the last failed
   * attempt the failure record goes to the OnFailure destination, if there is one.
   */
  invokeEvent(ref: string, payload: JsonValue, opts: InvokeOptions = {}): AsyncInvocation {
    const fn = this.lookup(ref);
    if (fn === undefined) {
      throw new LambdaServiceError(
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${this.opts.region}:${this.opts.accountId}:function:${ref}`,
        404,
      );
    }
    if (opts.caller !== undefined) this.opts.authorize?.(fn, opts.caller);
    if (Buffer.byteLength(JSON.stringify(payload ?? null)) > 256 * 1024) {
      throw new LambdaServiceError(
        'RequestEntityTooLargeException',
        'Request must be smaller than 262144 bytes for the InvokeFunction operation',
        413,
      );
    }
    const requestId = randomUUID();
    const settled = this.runEvent(fn, payload, requestId);
    return { requestId, settled };
  }

  private async runEvent(fn: LocalFunction, payload: JsonValue, requestId: string): Promise<void> {
    const config = this.asyncConfigs.get(fn.name) ?? {};
    const retries = Math.max(0, Math.min(2, config.maximumRetryAttempts ?? DEFAULT_ASYNC_RETRIES));
    const maxAgeMs = (config.maximumEventAgeInSeconds ?? DEFAULT_ASYNC_MAX_AGE_S) * 1000;
    const { timeScale } = this.opts.clock;
    let waitedMs = 0;
    let attempts = 0;
    let last: unknown;
    let condition: AsyncFailureRecord['requestContext']['condition'] = 'RetriesExhausted';
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (;;) {
      if (this.closed) return;
      attempts++;
      try {
        await this.invoke(fn.name, payload);
        return;
      } catch (e) {
        last = e;
      }
      if (attempts > retries) break;
      const delay = ASYNC_RETRY_DELAYS_MS[attempts - 1] ?? ASYNC_RETRY_DELAYS_MS[ASYNC_RETRY_DELAYS_MS.length - 1] ?? 0;
      if (waitedMs + delay > maxAgeMs) {
        condition = 'EventAgeExceeded';
        break;
      }
      waitedMs += delay;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.asyncSleeps.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.ceil(delay / timeScale));
        t.unref();
        this.asyncSleeps.add(done);
      });
    }
    if (this.closed || config.onFailure === undefined) return;
    const error = last instanceof FunctionError ? last : undefined;
    const record: AsyncFailureRecord = {
      version: '1.0',
      timestamp: new Date(
        this.opts.clock.virtualStartMs + (Date.now() - this.opts.clock.realStartMs) * timeScale + (this.opts.clock.skew?.[0] ?? 0),
      ).toISOString(),
      requestContext: { requestId, functionArn: `${fn.arn}:$LATEST`, condition, approximateInvokeCount: attempts },
      requestPayload: payload,
      responseContext: {
        statusCode: error !== undefined ? 200 : last instanceof LambdaServiceError ? last.status : 500,
        executedVersion: '$LATEST',
        ...(error !== undefined ? { functionError: 'Unhandled' } : {}),
      },
      responsePayload:
        error !== undefined
          ? { errorType: error.errorType, errorMessage: error.errorMessage, trace: error.trace }
          : { errorType: last instanceof Error ? last.name : 'Error', errorMessage: last instanceof Error ? last.message : String(last) },
    };
    this.opts.deliverFailure?.(fn, config.onFailure, record);
  }

  /** Invokes a function synchronously (RequestResponse), as Lambda's Invoke API does. */
  async invoke(ref: string, payload: JsonValue, opts: InvokeOptions = {}): Promise<JsonValue> {
    const fn = this.lookup(ref);
    if (fn === undefined) {
      throw new LambdaServiceError(
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${this.opts.region}:${this.opts.accountId}:function:${ref}`,
        404,
      );
    }
    if (opts.caller !== undefined) this.opts.authorize?.(fn, opts.caller);
    const event = JSON.stringify(payload ?? null);
    if (Buffer.byteLength(event) > PAYLOAD_LIMIT) {
      throw new LambdaServiceError(
        'RequestEntityTooLargeException',
        `Request must be smaller than ${PAYLOAD_LIMIT} bytes for the InvokeFunction operation`,
        413,
      );
    }
    const sandbox = await this.acquire(fn);
    const requestId = randomUUID();
    this.invocations.set(fn.shortName, (this.invocations.get(fn.shortName) ?? 0) + 1);
    let initMs: number | undefined;
    try {
      const ready = await sandbox.ready;
      if (sandbox.coldPending) {
        initMs = ready.initMs;
        sandbox.coldPending = false;
      }
    } catch (e) {
      this.release(fn, sandbox);
      throw e;
    }
    this.log(fn, `START RequestId: ${requestId} Version: $LATEST\n`);
    const started = Date.now();
    const deadline = started + fn.timeoutS * 1000;
    let timer: NodeJS.Timeout | undefined;
    let errorType: string | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new FunctionError(
            'Sandbox.Timedout',
            `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutS.toFixed(2)} seconds`,
            [],
          );
          reject(err);
          sandbox.die(err);
          void sandbox.terminate();
        }, fn.timeoutS * 1000);
      });
      const result = await Promise.race([sandbox.invoke(JSON.parse(event) as JsonValue, requestId, deadline), timeout]);
      const dropped = this.opts.afterInvoke?.(fn);
      if (dropped?.code === 'ServiceException')
        throw new LambdaServiceError('ServiceException', 'Lambda was unable to return the response (local fault injection)', 500);
      if (dropped?.code === 'Sandbox.Timedout')
        throw new FunctionError(
          'Sandbox.Timedout',
          `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutS.toFixed(2)} seconds (local fault injection)`,
          [],
        );
      return result;
    } catch (e) {
      errorType = e instanceof Error ? e.name : 'Error';
      if (e instanceof FunctionError) {
        this.log(
          fn,
          `${new Date().toISOString()}\t${requestId}\tERROR\t${JSON.stringify({ errorType: e.errorType, errorMessage: e.errorMessage })}\n`,
        );
      }
      throw e;
    } finally {
      clearTimeout(timer);
      const durationMs = Date.now() - started;
      const record: InvocationRecord = {
        function: fn.shortName,
        requestId,
        durationMs,
        billedMs: Math.max(1, Math.ceil(durationMs)),
        memoryMb: fn.memoryMb,
      };
      if (initMs !== undefined) record.initMs = initMs;
      if (errorType !== undefined) record.errorType = errorType;
      this.records.push(record);
      if (this.records.length > 100_000) this.records.splice(0, 50_000);
      this.log(fn, `END RequestId: ${requestId}\n`);
      this.log(
        fn,
        `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${record.billedMs} ms\tMemory Size: ${fn.memoryMb} MB` +
          (initMs !== undefined ? `\tInit Duration: ${initMs.toFixed(2)} ms` : '') +
          '\n',
      );
      this.release(fn, sandbox);
    }
  }

  private async acquire(fn: LocalFunction): Promise<Sandbox> {
    for (;;) {
      if (this.closed) throw new LambdaServiceError('ServiceException', 'The local Lambda service is stopping', 500);
      const pool = this.sandboxes.get(fn.name) ?? [];
      this.sandboxes.set(fn.name, pool);
      const idle = pool.find((s) => !s.busy && !s.dead);
      if (idle !== undefined) {
        idle.busy = true;
        return idle;
      }
      const live = pool.filter((s) => !s.dead).length;
      if (fn.reservedConcurrency !== undefined && live >= fn.reservedConcurrency) {
        throw new LambdaServiceError('TooManyRequestsException', 'Rate Exceeded.', 429);
      }
      if (live < (this.opts.maxEnvironmentsPerFunction ?? 8)) {
        const s = new Sandbox(
          fn,
          this.opts.clock,
          (text) => this.log(fn, text),
          (dead) => this.remove(fn, dead),
        );
        s.busy = true;
        pool.push(s);
        return s;
      }
      await new Promise<void>((r) => this.waiting.set(fn.name, [...(this.waiting.get(fn.name) ?? []), r]));
    }
  }

  private release(fn: LocalFunction, s: Sandbox): void {
    s.busy = false;
    const next = this.waiting.get(fn.name)?.shift();
    next?.();
  }

  private remove(fn: LocalFunction, s: Sandbox): void {
    const pool = this.sandboxes.get(fn.name);
    if (pool !== undefined)
      this.sandboxes.set(
        fn.name,
        pool.filter((x) => x !== s),
      );
    this.release(fn, s);
  }

  private log(fn: LocalFunction, text: string): void {
    const tail = this.tails.get(fn.name) ?? [];
    for (const line of text.split('\n')) if (line !== '') tail.push(line);
    if (tail.length > LOG_TAIL) tail.splice(0, tail.length - LOG_TAIL);
    this.tails.set(fn.name, tail);
    if (this.opts.logsDir !== null) appendFileSync(join(this.opts.logsDir, `${fn.shortName}.log`), text);
  }

  /** Ends every execution environment. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.asyncSleeps]) wake();
    const all = [...this.sandboxes.values()].flat();
    this.sandboxes.clear();
    for (const w of this.waiting.values()) for (const r of w) r();
    // An invocation still running fails at once as the service stopping, not at its timeout.
    const stopping = new LambdaServiceError('ServiceException', 'The local Lambda service is stopping', 500);
    for (const s of all) s.die(stopping);
    await Promise.all(all.map((s) => s.terminate()));
  }
}
