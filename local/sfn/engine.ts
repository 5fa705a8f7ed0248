import '../polyfills.js';
import { StateMachine, type StateMachineDefinition, type RunOptions } from 'aws-local-stepfunctions';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { FunctionError, LambdaServiceError, type InvokeCaller, type LambdaInvoker } from '../lambda/runtime.js';

/**
 * Runs one execution of a real ASL definition with aws-local-stepfunctions and reports an
 * AWS-shaped history. Task states are dispatched by what their `Resource` names:
 * `arn:aws:states:::lambda:invoke` → the real handler (through LocalLambda), wrapped in the
 * integration's `{ Payload, StatusCode, ... }` result as in AWS. Wait and Retry intervals are
 * divided by the cloud's time scale.
 */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: string;
  type: string;
  details: JsonObject;
}

export interface EngineRun {
  result: Promise<JsonValue>;
  abort(): void;
}

export interface EngineOptions {
  lambda: LambdaInvoker;
  /** The machine's role session: Lambda authorizes each invocation against it. */
  caller?: InvokeCaller;
  timeScale: number;
  context: JsonObject;
  onEvent: (type: string, details: JsonObject) => void;
  /** Task tokens of `.waitForTaskToken` states (the local SFN's SendTask* resolve them). */
  tokens: TaskTokenRegistry;
}

/** Placeholder put in the context as `$$.Task.Token`; each callback task swaps it for a fresh token. */
export const TOKEN_PLACEHOLDER = 'ami-factory-local-task-token-placeholder';

export interface CallbackLimits {
  /** Real milliseconds (already divided by the time scale). */
  timeoutMs?: number;
  heartbeatMs?: number;
}

export interface TaskTokenRegistry {
  /** A fresh token whose promise settles on SendTaskSuccess/Failure or a timeout. */
  create(stateName: string, limits: CallbackLimits): { token: string; result: Promise<JsonValue>; cancel(): void };
}

export class DefinitionError extends Error {
  override name = 'InvalidDefinition';
}

interface StateLike {
  Type?: string;
  Resource?: string;
  TimeoutSeconds?: number;
  HeartbeatSeconds?: number;
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  Retry?: { IntervalSeconds?: number }[];
  Iterator?: DefinitionLike;
  ItemProcessor?: DefinitionLike;
  Branches?: DefinitionLike[];
}
interface DefinitionLike {
  States?: Record<string, StateLike>;
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

/** Every state of a definition, nested Map and Parallel states included. */
export function allStates(def: DefinitionLike): [string, StateLike][] {
  const out: [string, StateLike][] = [];
  for (const [name, state] of Object.entries(def.States ?? {})) {
    out.push([name, state]);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner !== undefined) out.push(...allStates(inner));
    for (const b of state.Branches ?? []) out.push(...allStates(b));
  }
  return out;
}

/** The Lambda function a task names (the template resolves it to an ARN; a name works too). */
export function functionNameOf(parameters: unknown): string | undefined {
  if (!isJsonObject(parameters as JsonValue)) return undefined;
  const fn = (parameters as JsonObject).FunctionName;
  return typeof fn === 'string' ? fn : undefined;
}

/**
 * The error a lambda:invoke task fails with. The function's own errors keep their errorType;
 * errors of the Lambda API are `Lambda.<Exception>` for the exceptions Invoke models, and
 * `Lambda.AWSLambdaException` for the others (an AccessDeniedException, for one), as AWS reports them.
 */
const MODELED_INVOKE_ERRORS = new Set([
  'ResourceNotFoundException',
  'TooManyRequestsException',
  'ServiceException',
  'RequestEntityTooLargeException',
  'InvalidRequestContentException',
  'ResourceConflictException',
]);

function taskError(e: unknown): { error: string; cause: string } {
  if (e instanceof FunctionError) {
    return { error: e.errorType, cause: JSON.stringify({ errorType: e.errorType, errorMessage: e.errorMessage, trace: e.trace }) };
  }
  if (e instanceof LambdaServiceError) {
    const error = MODELED_INVOKE_ERRORS.has(e.code) ? `Lambda.${e.code}` : 'Lambda.AWSLambdaException';
    return { error, cause: `${e.message} (Service: Lambda, Status Code: ${e.status}, Error Code: ${e.code})` };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { error: err.name, cause: JSON.stringify({ errorType: err.name, errorMessage: err.message }) };
}

export function checkDefinition(def: DefinitionLike): void {
  const seen = new Set<string>();
  for (const [name, state] of allStates(def)) {
    if (seen.has(name)) throw new DefinitionError(`State name "${name}" is used twice; the local engine keys overrides by name`);
    seen.add(name);
    if (state.Type === 'Task' && state.Resource !== LAMBDA_INVOKE && state.Resource !== `${LAMBDA_INVOKE}.waitForTaskToken`) {
      throw new DefinitionError(`State "${name}": the local engine does not run resource ${state.Resource}`);
    }
    if (state.Type === 'Wait' && state.Seconds === undefined) {
      throw new DefinitionError(`Wait state "${name}": the local engine scales only fixed Seconds`);
    }
  }
}

/** Validating a definition takes aws-local-stepfunctions a few hundred ms: once per definition, not per execution. */
const machines = new WeakMap<DefinitionLike, StateMachine>();

/** Validates a definition for the engine ahead of its first execution (as CreateStateMachine validates); cached. */
export function prepareDefinition(definition: DefinitionLike): void {
  machineFor(definition);
}

function machineFor(definition: DefinitionLike): StateMachine {
  let machine = machines.get(definition);
  if (machine === undefined) {
    machine = new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkArn: false } });
    machines.set(definition, machine);
  }
  return machine;
}

export function runDefinition(definition: DefinitionLike, input: JsonValue, opts: EngineOptions): EngineRun {
  checkDefinition(definition);
  const handlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
  const waits: Record<string, number> = {};
  const retries: Record<string, number[]> = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task') {
      handlers[name] =
        state.Resource === `${LAMBDA_INVOKE}.waitForTaskToken`
          ? (taskInput) => invokeWithCallback(name, state, taskInput, opts)
          : (taskInput) => invokeLambda(name, taskInput, opts);
    }
    if (state.Type === 'Wait' && state.Seconds !== undefined) waits[name] = (state.Seconds * 1000) / opts.timeScale;
    if (state.Retry !== undefined) {
      retries[name] = state.Retry.map((r) => ((r.IntervalSeconds ?? 1) * 1000) / opts.timeScale);
    }
  }
  const machine = machineFor(definition);
  const runOptions: RunOptions = {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: opts.context,
    noThrowOnAbort: false,
  };
  const execution = machine.run(input as Parameters<StateMachine['run']>[0], runOptions);
  void forwardEvents(execution.eventLogs, opts.onEvent);
  return { result: execution.result as Promise<JsonValue>, abort: execution.abort };
}

async function invokeLambda(stateName: string, taskInput: JsonValue, opts: EngineOptions, callback = false): Promise<JsonValue> {
  const fn = functionNameOf(taskInput);
  const payload = isJsonObject(taskInput) ? (taskInput.Payload ?? null) : null;
  opts.onEvent('TaskScheduled', { resourceType: 'lambda', resource: 'invoke', stateName, functionName: fn ?? null });
  try {
    if (fn === undefined) throw new LambdaServiceError('InvalidParameterValueException', `State ${stateName}: no FunctionName`, 400);
    const result = await opts.lambda.invoke(fn, payload, opts.caller !== undefined ? { caller: opts.caller } : {});
    if (callback) opts.onEvent('TaskSubmitted', { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', stateName });
    else opts.onEvent('TaskSucceeded', { resourceType: 'lambda', resource: 'invoke', stateName });
    return { ExecutedVersion: '$LATEST', Payload: result, StatusCode: 200, SdkHttpMetadata: { httpStatusCode: 200 } };
  } catch (e) {
    // AWS: the task fails with Error = the handler's errorType and Cause = Lambda's error JSON.
    const { error, cause } = taskError(e);
    opts.onEvent('TaskFailed', { resourceType: 'lambda', resource: 'invoke', stateName, error, cause });
    const failure = new Error(cause);
    failure.name = error;
    throw failure;
  }
}

/**
 * A `.waitForTaskToken` Lambda task: the placeholder token in the parameters becomes a fresh
 * one, the handler is invoked (its failure fails the task, as in AWS), then the task waits
 * for SendTaskSuccess/SendTaskFailure, TimeoutSeconds or HeartbeatSeconds (time-scaled).
 */
async function invokeWithCallback(stateName: string, state: StateLike, taskInput: JsonValue, opts: EngineOptions): Promise<JsonValue> {
  const limits: CallbackLimits = {};
  if (state.TimeoutSeconds !== undefined) limits.timeoutMs = (state.TimeoutSeconds * 1000) / opts.timeScale;
  if (state.HeartbeatSeconds !== undefined) limits.heartbeatMs = (state.HeartbeatSeconds * 1000) / opts.timeScale;
  const pending = opts.tokens.create(stateName, limits);
  try {
    await invokeLambda(stateName, replaceToken(taskInput, pending.token), opts, true);
  } catch (e) {
    pending.cancel();
    throw e;
  }
  try {
    const output = await pending.result;
    opts.onEvent('TaskSucceeded', { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', stateName });
    return output;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const kind = err.name === 'States.Timeout' || err.name === 'States.HeartbeatTimeout' ? 'TaskTimedOut' : 'TaskFailed';
    opts.onEvent(kind, { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', stateName, error: err.name, cause: err.message });
    throw err;
  }
}

function replaceToken(v: JsonValue, token: string): JsonValue {
  if (v === TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(v)) return v.map((x) => replaceToken(x, token));
  if (isJsonObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceToken(x, token)]));
  return v;
}

interface EngineEventLike {
  type: string;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string; type: string };
  index?: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
  retry?: { attempt: number };
}

async function forwardEvents(logs: AsyncGenerator<unknown>, onEvent: EngineOptions['onEvent']): Promise<void> {
  for await (const raw of logs) {
    const ev = raw as EngineEventLike;
    const s = ev.state;
    switch (ev.type) {
      case 'StateEntered':
        if (s) onEvent(`${s.type}StateEntered`, { name: s.name, input: json(s.input) });
        break;
      case 'StateExited':
        if (s) onEvent(`${s.type}StateExited`, { name: s.name, output: json(s.output) });
        break;
      case 'StateRetried':
        if (s) onEvent('StateRetried', { name: s.name, attempt: ev.retry?.attempt ?? 0 });
        break;
      case 'StateCaught':
        if (s) onEvent('StateCaught', { name: s.name });
        break;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        onEvent(ev.type, { name: ev.parentState?.name ?? '', index: ev.index ?? 0 });
        break;
      default:
        break;
    }
  }
}

function json(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v ?? null);
}
