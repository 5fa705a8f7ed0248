import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { parse } from 'yaml';
import type { JsonValue } from './json.js';

/**
 * The local Lambda service: runs the real handlers of `serverless.yml` in-process. The
 * function table is read from `serverless.yml` itself (`functions.<name>.handler`), so the
 * names a state machine uses in `Fn::GetAtt: [name, Arn]` resolve exactly as when deployed.
 */
export interface LambdaFunctionSpec {
  name: string;
  /** Module path relative to the project root, without extension (e.g. functions/create-image). */
  module: string;
  exportName: string;
}

type Handler = (event: unknown, context: LambdaContextLike) => Promise<unknown>;

export interface LambdaContextLike {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
  done(): void;
  fail(): void;
  succeed(): void;
}

export class UnknownFunctionError extends Error {
  override name = 'ResourceNotFoundException';
}

/** An EventBridge trigger of a function in serverless.yml (`eventBridge.pattern` or `schedule`). */
export interface FunctionTrigger {
  functionName: string;
  /** Set when the rule is on the factory's own bus (`eventBridge.eventBus`), not the default bus. */
  onFactoryBus?: boolean;
  pattern?: Record<string, unknown>;
  schedule?: string;
}

export function readFunctionTriggers(projectRoot: string): FunctionTrigger[] {
  const doc = parse(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as {
    functions?: Record<string, { events?: Record<string, unknown>[] }>;
  };
  const out: FunctionTrigger[] = [];
  for (const [name, fn] of Object.entries(doc.functions ?? {})) {
    for (const ev of fn.events ?? []) {
      const eb = ev.eventBridge as { pattern?: Record<string, unknown>; eventBus?: unknown } | undefined;
      if (eb?.pattern !== undefined) {
        out.push({ functionName: name, pattern: eb.pattern, ...(eb.eventBus !== undefined ? { onFactoryBus: true } : {}) });
      }
      const sched = ev.schedule;
      if (typeof sched === 'string') out.push({ functionName: name, schedule: sched });
      else if (typeof sched === 'object' && sched !== null && typeof (sched as { rate?: unknown }).rate === 'string') {
        out.push({ functionName: name, schedule: (sched as { rate: string }).rate });
      }
    }
  }
  return out;
}

export function readFunctionTable(projectRoot: string): Map<string, LambdaFunctionSpec> {
  const doc = parse(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as {
    functions?: Record<string, { handler?: string }>;
  };
  const table = new Map<string, LambdaFunctionSpec>();
  for (const [name, fn] of Object.entries(doc.functions ?? {})) {
    const handler = fn.handler;
    if (handler === undefined) continue;
    const dot = handler.lastIndexOf('.');
    table.set(name, { name, module: handler.slice(0, dot), exportName: handler.slice(dot + 1) });
  }
  return table;
}

/** What the engine needs of a Lambda service. */
export interface LambdaInvoker {
  has(name: string): boolean;
  invoke(name: string, payload: JsonValue): Promise<JsonValue>;
}

export class LocalLambda implements LambdaInvoker {
  private readonly table: Map<string, LambdaFunctionSpec>;
  private readonly loaded = new Map<string, Handler>();
  /** Invocations per function name since start (or the last reset). */
  readonly invocations = new Map<string, number>();

  constructor(
    private readonly projectRoot: string,
    private readonly region = 'us-east-1',
    private readonly accountId = '111122223333',
  ) {
    this.table = readFunctionTable(projectRoot);
  }

  functionNames(): string[] {
    return [...this.table.keys()];
  }

  has(name: string): boolean {
    return this.table.has(name);
  }

  /** Invokes a function with a JSON payload, like Lambda's RequestResponse invocation. */
  async invoke(name: string, payload: JsonValue): Promise<JsonValue> {
    const handler = await this.load(name);
    this.invocations.set(name, (this.invocations.get(name) ?? 0) + 1);
    const started = Date.now();
    const context: LambdaContextLike = {
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`,
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: false,
      getRemainingTimeInMillis: () => Math.max(0, 900_000 - (Date.now() - started)),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    // A JSON round trip, as Lambda serializes both ways: handlers never share objects with the engine.
    const result = await handler(JSON.parse(JSON.stringify(payload)) as unknown, context);
    return (result === undefined ? null : JSON.parse(JSON.stringify(result))) as JsonValue;
  }

  private async load(name: string): Promise<Handler> {
    const cached = this.loaded.get(name);
    if (cached !== undefined) return cached;
    const spec = this.table.get(name);
    if (spec === undefined) throw new UnknownFunctionError(`Function not found: ${name}`);
    const base = isAbsolute(spec.module) ? spec.module : join(this.projectRoot, spec.module);
    const mod = (await import(pathToFileURL(`${base}.ts`).href)) as Record<string, unknown>;
    const fn = mod[spec.exportName];
    if (typeof fn !== 'function') throw new UnknownFunctionError(`${spec.module}.${spec.exportName} is not a function`);
    const handler = fn as Handler;
    this.loaded.set(name, handler);
    return handler;
  }
}
