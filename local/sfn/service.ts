import { randomBytes, randomUUID } from 'node:crypto';
import { LocalApiError, type LocalRequest, type LocalResponse, type LocalService } from '../http.js';
import { withAccess, type AccessTable, type ActionTable, type Authorize } from '../protocols/access.js';
import { handleJson, jsonPage, jsonTarget, pageSize, type JsonProtocol, type JsonService } from '../protocols/json.js';
import { timeKey } from '../protocols/paging.js';
import { JsonFileStore } from '../persist.js';
import type { JsonObject, JsonValue } from '../json.js';
import type { InvokeCaller, LambdaInvoker } from '../lambda/runtime.js';
import { executionLogConfig, writeExecutionLog, type ExecutionLogConfig } from './execution-log.js';
import {
  runDefinition,
  checkDefinition,
  prepareDefinition,
  TOKEN_PLACEHOLDER,
  type CallbackLimits,
  type EngineRun,
  type HistoryEvent,
  type TaskTokenRegistry,
} from './engine.js';

/**
 * The local Step Functions endpoint (JSON 1.0 protocol, `X-Amz-Target: AWSStepFunctions.*`).
 * State machines are those the deployed template defines (`registerStateMachine`: the
 * definition as the template resolves it, and its role); executions run them with the local
 * engine, invoking Lambda functions as the machine's role, and are persisted, history included. An execution that was
 * running when the process stopped is re-driven from its input at the next start: every
 * step is idempotent, which is exactly what Step Functions assumes of tasks.
 */
export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
}

interface SfnState {
  executions: Record<string, ExecutionRecord>;
}

export interface SfnServiceOptions {
  accountId: string;
  lambda: LambdaInvoker;
  /** Who a machine's Lambda invocations act as (its role's session). Default: no caller (unchecked). */
  callerFor?: (roleArn: string, executionName: string) => InvokeCaller | undefined;
  timeScale: number;
  /** The account's clock (epoch ms): execution start/stop dates and history timestamps. Default the system clock. */
  now?: () => number;
  stateFile?: string;
  /** Authorization of each call (protocols/access.ts); default: every call is allowed. */
  authorize?: Authorize;
  /** The access requests of each action, by action name (default: `states:<Action>` on `*`). */
  access?: AccessTable<SfnContext>;
  /** Where execution logs go (execution-log.ts); null or unset: nowhere. */
  logsDir?: string | null;
}

/** What a Step Functions action is given: the request's JSON body and region, and the request. */
export interface SfnContext {
  body: JsonObject;
  region: string;
  req: LocalRequest;
}

const SFN_PROTOCOL: JsonProtocol = { version: '1.0', targetPrefix: 'AWSStepFunctions', iamPrefix: 'states' };

export class SfnApiError extends LocalApiError {}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** An error a callback task fails with (its `name` is what Retry/Catch match). */
class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface PendingToken {
  executionArn: string;
  stateName: string;
  resolve: (v: JsonValue) => void;
  reject: (e: Error) => void;
  timeout?: NodeJS.Timeout;
  heartbeat?: NodeJS.Timeout;
  heartbeatMs?: number;
}

/**
 * The task tokens of the local engine's callback states: SendTaskSuccess/Failure settle
 * them, SendTaskHeartbeat restarts their heartbeat timer, TimeoutSeconds/HeartbeatSeconds
 * (time-scaled) fail them with States.Timeout / States.HeartbeatTimeout as in AWS.
 */
class TokenRegistry {
  private readonly pending = new Map<string, PendingToken>();
  /** Tokens that ended, kept to answer TaskTimedOut rather than TaskDoesNotExist. */
  private readonly closed = new Map<string, 'timed-out' | 'done'>();

  forExecution(executionArn: string): TaskTokenRegistry {
    return {
      create: (stateName: string, limits: CallbackLimits) => {
        const token = `AQ${randomBytes(48).toString('base64url')}`;
        let resolve!: (v: JsonValue) => void;
        let reject!: (e: Error) => void;
        const result = new Promise<JsonValue>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        // Never an unhandled rejection: the engine awaits it, or the task was cancelled.
        result.catch(() => undefined);
        const p: PendingToken = { executionArn, stateName, resolve, reject };
        if (limits.timeoutMs !== undefined) {
          p.timeout = setTimeout(
            () => this.fail(token, 'timed-out', new TaskError('States.Timeout', `${stateName} timed out`)),
            limits.timeoutMs,
          );
        }
        if (limits.heartbeatMs !== undefined) {
          p.heartbeatMs = limits.heartbeatMs;
          p.heartbeat = setTimeout(
            () => this.fail(token, 'timed-out', new TaskError('States.HeartbeatTimeout', `${stateName} missed its heartbeat`)),
            limits.heartbeatMs,
          );
        }
        this.pending.set(token, p);
        return { token, result, cancel: () => this.fail(token, 'done', new TaskError('States.Runtime', 'cancelled')) };
      },
    };
  }

  private take(token: string): PendingToken {
    if (!token.startsWith('AQ') || token.length < 10) throw new SfnApiError('InvalidToken', 'Invalid Token');
    const p = this.pending.get(token);
    if (p === undefined) {
      if (this.closed.get(token) === 'timed-out') throw new SfnApiError('TaskTimedOut', 'Task Timed Out');
      throw new SfnApiError('TaskDoesNotExist', 'Task Does Not Exist');
    }
    return p;
  }

  private end(token: string, p: PendingToken, how: 'timed-out' | 'done'): void {
    clearTimeout(p.timeout);
    clearTimeout(p.heartbeat);
    this.pending.delete(token);
    this.closed.set(token, how);
    if (this.closed.size > 10_000) this.closed.delete(this.closed.keys().next().value as string);
  }

  private fail(token: string, how: 'timed-out' | 'done', e: Error): void {
    const p = this.pending.get(token);
    if (p === undefined) return;
    this.end(token, p, how);
    p.reject(e);
  }

  success(token: string, output: JsonValue): void {
    const p = this.take(token);
    this.end(token, p, 'done');
    p.resolve(output);
  }

  failure(token: string, error: string, cause: string): void {
    const p = this.take(token);
    this.end(token, p, 'done');
    p.reject(new TaskError(error, cause));
  }

  heartbeat(token: string): void {
    const p = this.take(token);
    if (p.heartbeatMs !== undefined) {
      clearTimeout(p.heartbeat);
      const ms = p.heartbeatMs;
      p.heartbeat = setTimeout(
        () => this.fail(token, 'timed-out', new TaskError('States.HeartbeatTimeout', `${p.stateName} missed its heartbeat`)),
        ms,
      );
    }
  }

  cancelExecution(executionArn: string): void {
    for (const [token, p] of this.pending) {
      if (p.executionArn === executionArn) this.fail(token, 'done', new TaskError('States.Runtime', 'execution stopped'));
    }
  }

  size(): number {
    return this.pending.size;
  }
}

export class SfnService implements LocalService {
  readonly name = 'states';

  actionNames(): string[] {
    return Object.keys(this.protocol.actions);
  }
  private readonly store: JsonFileStore<SfnState>;
  private readonly definitions = new Map<string, JsonObject>();
  private readonly roles = new Map<string, string>();
  private readonly logging = new Map<string, ExecutionLogConfig>();
  private readonly running = new Map<string, EngineRun>();
  private readonly waiters = new Map<string, (() => void)[]>();
  readonly tokens = new TokenRegistry();
  private closing = false;

  constructor(private readonly opts: SfnServiceOptions) {
    this.store = new JsonFileStore<SfnState>(opts.stateFile, () => ({ executions: {} }));
  }

  /** A state machine of the deployed template: its name, resolved definition and role. */
  registerStateMachine(sm: { name: string; definition: JsonObject; roleArn: string; loggingConfiguration?: JsonObject }): void {
    checkDefinition(sm.definition);
    const logging = executionLogConfig(sm.loggingConfiguration);
    this.definitions.set(sm.name, sm.definition);
    this.roles.set(sm.name, sm.roleArn);
    if (logging !== undefined) this.logging.set(sm.name, logging);
    else this.logging.delete(sm.name);
  }

  /**
   * Validates every registered definition for the engine now rather than at its first
   * execution (a few hundred ms each): for benchmarks that must not time it.
   */
  prepareDefinitions(): void {
    for (const definition of this.definitions.values()) prepareDefinition(definition);
  }

  /** Names of the state machines (tests, CLI). */
  stateMachineNames(): string[] {
    return [...this.definitions.keys()];
  }

  private roleOf(machine: string): string {
    return this.roles.get(machine) ?? `arn:aws:iam::${this.opts.accountId}:role/unknown`;
  }

  /** Re-drives executions left running by a previous process. */
  resume(): void {
    for (const rec of Object.values(this.store.data.executions)) {
      if (rec.status === 'RUNNING' && !this.running.has(rec.executionArn)) this.launch(rec);
    }
  }

  matches(req: LocalRequest): boolean {
    return jsonTarget(req, SFN_PROTOCOL) !== undefined;
  }

  handle(req: LocalRequest): Promise<LocalResponse> {
    return handleJson(req, this.protocol);
  }

  private jsonService: JsonService<SfnContext> | undefined;

  /** The JSON protocol's view of this endpoint: its table of actions. */
  private get protocol(): JsonService<SfnContext> {
    this.jsonService ??= {
      protocol: SFN_PROTOCOL,
      actions: withAccess(this.actionTable(), this.opts.access),
      authorize: this.opts.authorize,
      context: ({ req, body }) => ({ body, region: req.region, req }),
    };
    return this.jsonService;
  }

  private actionTable(): ActionTable<SfnContext, JsonObject> {
    const action = (handler: (ctx: SfnContext) => JsonObject): { handler: (ctx: SfnContext) => JsonObject } => ({ handler });
    return {
      StartExecution: action(({ body, region }) => this.startExecution(body, region)),
      DescribeExecution: action(({ body }) => this.describeExecution(body)),
      ListExecutions: action(({ body }) => this.listExecutions(body)),
      GetExecutionHistory: action(({ body }) => this.getExecutionHistory(body)),
      StopExecution: action(({ body }) => this.stopExecution(body)),
      SendTaskSuccess: action(({ body }) => {
        const output = str(body, 'output');
        let parsed: JsonValue;
        try {
          parsed = JSON.parse(output) as JsonValue;
        } catch {
          throw new SfnApiError('InvalidOutput', 'Invalid Output: not JSON');
        }
        this.tokens.success(str(body, 'taskToken'), parsed);
        return {};
      }),
      SendTaskFailure: action(({ body }) => {
        this.tokens.failure(
          str(body, 'taskToken'),
          typeof body.error === 'string' ? body.error : '',
          typeof body.cause === 'string' ? body.cause : '',
        );
        return {};
      }),
      SendTaskHeartbeat: action(({ body }) => {
        this.tokens.heartbeat(str(body, 'taskToken'));
        return {};
      }),
      ListStateMachines: action(({ region }) => ({
        stateMachines: [...this.definitions.keys()].map((n) => ({
          stateMachineArn: this.stateMachineArn(region, n),
          name: n,
          type: 'STANDARD',
          creationDate: 0,
        })),
      })),
      DescribeStateMachine: action(({ body }) => {
        const name = this.machineName(str(body, 'stateMachineArn'));
        return {
          stateMachineArn: str(body, 'stateMachineArn'),
          name,
          status: 'ACTIVE',
          definition: JSON.stringify(this.definitions.get(name)),
          roleArn: this.roleOf(name),
          type: 'STANDARD',
          creationDate: 0,
        };
      }),
    };
  }

  /** StartExecution from inside the local cloud (EventBridge targets); errors as the API's. */
  start(stateMachineArn: string, input: string, name?: string): string {
    const body: JsonObject = { stateMachineArn, input };
    if (name !== undefined) body.name = name;
    const region = stateMachineArn.split(':')[3] ?? 'us-east-1';
    return String(this.startExecution(body, region).executionArn);
  }

  stateMachineArn(region: string, name: string): string {
    return `arn:aws:states:${region}:${this.opts.accountId}:stateMachine:${name}`;
  }

  private machineName(arn: string): string {
    const m = /^arn:aws:states:[a-z0-9-]+:\d{12}:stateMachine:([A-Za-z0-9_-]+)$/.exec(arn);
    if (m === null) throw new SfnApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    const name = m[1] as string;
    if (!this.definitions.has(name)) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return name;
  }

  private startExecution(body: JsonObject, region: string): JsonObject {
    const smArn = str(body, 'stateMachineArn');
    const machine = this.machineName(smArn);
    const name = typeof body.name === 'string' ? body.name : randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new SfnApiError('InvalidName', `Invalid Name: '${name}'`);
    const input = typeof body.input === 'string' ? body.input : '{}';
    try {
      JSON.parse(input);
    } catch {
      throw new SfnApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
    }
    const arnRegion = smArn.split(':')[3] ?? region;
    const executionArn = `arn:aws:states:${arnRegion}:${this.opts.accountId}:execution:${machine}:${name}`;
    const existing = this.store.data.executions[executionArn];
    if (existing !== undefined) {
      // AWS: same name and input while running is idempotent; otherwise ExecutionAlreadyExists.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate / 1000 };
      }
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const rec: ExecutionRecord = {
      executionArn,
      stateMachineArn: smArn,
      name,
      status: 'RUNNING',
      startDate: this.nowMs(),
      input,
      history: [],
    };
    this.store.data.executions[executionArn] = rec;
    // An accepted execution is durable before StartExecution answers: a crash right after the
    // answer must not lose it (the restart resumes it).
    this.store.markDirty();
    this.store.flush();
    this.launch(rec);
    return { executionArn, startDate: rec.startDate / 1000 };
  }

  private launch(rec: ExecutionRecord): void {
    const machine = this.machineName(rec.stateMachineArn);
    const definition = this.definitions.get(machine) as JsonObject;
    rec.history = [];
    const roleArn = this.roleOf(machine);
    this.record(rec, 'ExecutionStarted', { input: rec.input, roleArn });
    const input = JSON.parse(rec.input) as JsonValue;
    const caller = this.opts.callerFor?.(roleArn, rec.name);
    const run = runDefinition(definition, input, {
      lambda: this.opts.lambda,
      ...(caller !== undefined ? { caller } : {}),
      timeScale: this.opts.timeScale,
      context: {
        Execution: {
          Id: rec.executionArn,
          Name: rec.name,
          Input: input,
          StartTime: new Date(rec.startDate).toISOString(),
          RoleArn: roleArn,
        },
        StateMachine: { Id: rec.stateMachineArn, Name: machine },
        Task: { Token: TOKEN_PLACEHOLDER },
      },
      onEvent: (type, details) => this.record(rec, type, details),
      tokens: this.tokens.forExecution(rec.executionArn),
    });
    this.running.set(rec.executionArn, run);
    run.result.then(
      (output) => {
        // Let the engine's event stream drain first so ExecutionSucceeded is the last event.
        setImmediate(() => this.finish(rec, 'SUCCEEDED', { output: JSON.stringify(output) }));
      },
      (e: unknown) => {
        const inner = e instanceof Error && e.cause instanceof Error ? e.cause : e;
        const aborted = e instanceof Error && e.name === 'ExecutionAbortedError';
        const timedOut = e instanceof Error && e.name === 'ExecutionTimeoutError';
        const error = inner instanceof Error ? inner.name : 'States.Runtime';
        const cause = inner instanceof Error ? inner.message : String(inner);
        setImmediate(() => this.finish(rec, aborted ? 'ABORTED' : timedOut ? 'TIMED_OUT' : 'FAILED', aborted ? {} : { error, cause }));
      },
    );
  }

  private finish(rec: ExecutionRecord, status: ExecutionRecord['status'], r: { output?: string; error?: string; cause?: string }): void {
    if (TERMINAL.has(rec.status) || this.closing) return;
    rec.status = status;
    rec.stopDate = this.nowMs();
    if (r.output !== undefined) rec.output = r.output;
    if (r.error !== undefined) rec.error = r.error;
    if (r.cause !== undefined) rec.cause = r.cause;
    const type = {
      SUCCEEDED: 'ExecutionSucceeded',
      FAILED: 'ExecutionFailed',
      TIMED_OUT: 'ExecutionTimedOut',
      ABORTED: 'ExecutionAborted',
      RUNNING: '',
    }[status];
    const details: JsonObject = {};
    if (r.output !== undefined) details.output = r.output;
    if (r.error !== undefined) details.error = r.error;
    if (r.cause !== undefined) details.cause = r.cause;
    this.record(rec, type, details);
    this.running.delete(rec.executionArn);
    this.tokens.cancelExecution(rec.executionArn);
    this.store.markDirty();
    for (const w of this.waiters.get(rec.executionArn) ?? []) w();
    this.waiters.delete(rec.executionArn);
  }

  private nowMs(): number {
    return (this.opts.now ?? Date.now)();
  }

  private record(rec: ExecutionRecord, type: string, details: JsonObject): void {
    // After close the engine's last events (a task failing as Lambda stops) are not history:
    // the record stays RUNNING and the next start re-drives it from its start.
    if (this.closing) return;
    const id = rec.history.length + 1;
    const timestampMs = this.nowMs();
    rec.history.push({ id, previousEventId: id - 1, timestamp: new Date(timestampMs).toISOString(), type, details });
    this.store.markDirty();
    const logging = this.logging.get(rec.stateMachineArn.split(':stateMachine:')[1] ?? '');
    if (logging !== undefined && this.opts.logsDir != null)
      writeExecutionLog(this.opts.logsDir, logging, {
        id,
        previousEventId: id - 1,
        timestampMs,
        type,
        details,
        executionArn: rec.executionArn,
      });
  }

  private get(body: JsonObject): ExecutionRecord {
    const arn = str(body, 'executionArn');
    const rec = this.store.data.executions[arn];
    if (rec === undefined) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return rec;
  }

  private describeExecution(body: JsonObject): JsonObject {
    const rec = this.get(body);
    const out: JsonObject = {
      executionArn: rec.executionArn,
      stateMachineArn: rec.stateMachineArn,
      name: rec.name,
      status: rec.status,
      startDate: rec.startDate / 1000,
      input: rec.input,
    };
    if (rec.stopDate !== undefined) out.stopDate = rec.stopDate / 1000;
    if (rec.output !== undefined) out.output = rec.output;
    if (rec.error !== undefined) out.error = rec.error;
    if (rec.cause !== undefined) out.cause = rec.cause;
    return out;
  }

  private listExecutions(body: JsonObject): JsonObject {
    const smArn = str(body, 'stateMachineArn');
    this.machineName(smArn);
    const filter = typeof body.statusFilter === 'string' ? body.statusFilter : undefined;
    const all = Object.values(this.store.data.executions)
      .filter((e) => e.stateMachineArn === smArn && (filter === undefined || e.status === filter))
      .map((e) => ({ e, key: newestFirst(e.startDate, e.name) }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    const { items: page, nextToken } = pageOf(body, all, (x) => x.key);
    const items = page.map((x) => x.e);
    const out: JsonObject = {
      executions: items.map((e) => {
        const item: JsonObject = {
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: e.startDate / 1000,
        };
        if (e.stopDate !== undefined) item.stopDate = e.stopDate / 1000;
        return item;
      }),
    };
    if (nextToken !== undefined) out.nextToken = nextToken;
    return out;
  }

  private getExecutionHistory(body: JsonObject): JsonObject {
    const rec = this.get(body);
    const reverse = body.reverseOrder === true;
    const history = awsHistory(rec);
    const events = reverse ? [...history].reverse() : history;
    const { items, nextToken } = pageOf(body, events, (e) => (reverse ? newestFirst(Number(e.id), '') : timeKey(Number(e.id), '')));
    const out: JsonObject = { events: items };
    if (nextToken !== undefined) out.nextToken = nextToken;
    return out;
  }

  private stopExecution(body: JsonObject): JsonObject {
    const rec = this.get(body);
    const run = this.running.get(rec.executionArn);
    if (run !== undefined) run.abort();
    const r: { error?: string; cause?: string } = {};
    if (typeof body.error === 'string') r.error = body.error;
    if (typeof body.cause === 'string') r.cause = body.cause;
    this.finish(rec, 'ABORTED', r);
    return { stopDate: (rec.stopDate ?? this.nowMs()) / 1000 };
  }

  /** In-process access for the CLI, tests and benchmarks. */
  execution(arn: string): ExecutionRecord | undefined {
    return this.store.data.executions[arn];
  }

  /** Resolves when the execution reaches a terminal status. */
  waitFor(arn: string): Promise<ExecutionRecord> {
    const rec = this.store.data.executions[arn];
    if (rec === undefined) return Promise.reject(new SfnApiError('ExecutionDoesNotExist', arn));
    if (TERMINAL.has(rec.status)) return Promise.resolve(rec);
    return new Promise((resolve) => {
      const list = this.waiters.get(arn) ?? [];
      list.push(() => resolve(rec));
      this.waiters.set(arn, list);
    });
  }

  flush(): void {
    this.store.flush();
  }

  close(): void {
    this.closing = true;
    for (const [arn, run] of this.running) {
      // Leave the record RUNNING: the next start re-drives it, as a crash would.
      run.result.catch(() => undefined);
      this.tokens.cancelExecution(arn);
      run.abort();
    }
    this.running.clear();
    this.store.flush();
  }
}

const DETAIL_KEYS: Record<string, string> = {
  ExecutionStarted: 'executionStartedEventDetails',
  ExecutionSucceeded: 'executionSucceededEventDetails',
  ExecutionFailed: 'executionFailedEventDetails',
  ExecutionAborted: 'executionAbortedEventDetails',
  ExecutionTimedOut: 'executionTimedOutEventDetails',
  TaskScheduled: 'taskScheduledEventDetails',
  TaskSucceeded: 'taskSucceededEventDetails',
  TaskFailed: 'taskFailedEventDetails',
  MapIterationStarted: 'mapIterationStartedEventDetails',
  MapIterationSucceeded: 'mapIterationSucceededEventDetails',
  MapIterationFailed: 'mapIterationFailedEventDetails',
};

/** The members each details structure has in the Step Functions API (what the engine records beyond them is left out). */
const DETAIL_MEMBERS: Record<string, readonly string[]> = {
  executionStartedEventDetails: ['input', 'roleArn'],
  executionSucceededEventDetails: ['output'],
  executionFailedEventDetails: ['error', 'cause'],
  executionAbortedEventDetails: ['error', 'cause'],
  executionTimedOutEventDetails: ['error', 'cause'],
  taskScheduledEventDetails: ['resourceType', 'resource', 'region', 'parameters', 'timeoutInSeconds', 'heartbeatInSeconds'],
  taskSubmittedEventDetails: ['resourceType', 'resource', 'output'],
  taskSucceededEventDetails: ['resourceType', 'resource', 'output'],
  taskFailedEventDetails: ['resourceType', 'resource', 'error', 'cause'],
  taskTimedOutEventDetails: ['resourceType', 'resource', 'error', 'cause'],
  mapIterationStartedEventDetails: ['name', 'index'],
  mapIterationSucceededEventDetails: ['name', 'index'],
  mapIterationFailedEventDetails: ['name', 'index'],
  stateEnteredEventDetails: ['name', 'input'],
  stateExitedEventDetails: ['name', 'output'],
};

/** Events the local engine records that Step Functions' history has no type for. */
const ENGINE_ONLY_EVENTS = new Set(['StateRetried', 'StateCaught']);

/**
 * An execution's history as GetExecutionHistory answers it: Step Functions' event types and
 * detail members only, numbered from 1 without gaps; a TaskScheduled event names the region and
 * the Lambda function it invokes (its `parameters`).
 */
function awsHistory(rec: ExecutionRecord): JsonObject[] {
  const region = rec.executionArn.split(':')[3] ?? 'us-east-1';
  return rec.history
    .filter((e) => !ENGINE_ONLY_EVENTS.has(e.type))
    .map((e, i) => {
      const key = e.type.endsWith('StateEntered')
        ? 'stateEnteredEventDetails'
        : e.type.endsWith('StateExited')
          ? 'stateExitedEventDetails'
          : DETAIL_KEYS[e.type];
      const out: JsonObject = { id: i + 1, previousEventId: i, timestamp: Date.parse(e.timestamp) / 1000, type: e.type };
      if (key === undefined) return out;
      const source: JsonObject =
        e.type === 'TaskScheduled'
          ? {
              ...e.details,
              region,
              parameters: JSON.stringify(typeof e.details.functionName === 'string' ? { FunctionName: e.details.functionName } : {}),
            }
          : e.details;
      const allowed = DETAIL_MEMBERS[key] ?? [];
      out[key] = Object.fromEntries(Object.entries(source).filter(([k]) => allowed.includes(k)));
      return out;
    });
}

/** A key that sorts later times (or larger ids) first: ListExecutions lists the newest first. */
function newestFirst(n: number, id: string): string {
  return timeKey(Number.MAX_SAFE_INTEGER - n, id);
}

/** maxResults (0 or absent: 100; at most 1000) and nextToken, as Step Functions pages its lists. */
function pageOf<T>(body: JsonObject, all: T[], key: (t: T) => string): { items: T[]; nextToken?: string } {
  const max = pageSize(
    body,
    'maxResults',
    { min: 0, max: 1000, dflt: 100, zeroIsDefault: true },
    (m) => new SfnApiError('ValidationException', m),
  );
  return jsonPage(body, all, key, { tokenMember: 'nextToken', max, invalid: () => new SfnApiError('InvalidToken', 'Invalid Token') });
}

function str(body: JsonObject, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '') throw new SfnApiError('ValidationException', `${key} is required`);
  return v;
}
