import type { LocalRequest, LocalResponse } from './http.js';
import { headerValue } from './http.js';
import type { Ec2Faults } from './ec2/context.js';
import { queryErrorXml } from './protocols/query.js';

/**
 * The local cloud's fault injector: what a test (or `ami-factory cloud --faults`) asks the
 * cloud to do wrong, applied where every request is dispatched (local/server.ts `route`), so
 * every service gets it the same way.
 *
 * - `requests`: rules per service (the SigV4 scope's: `ec2`, `s3`, `states`, `events`, `ssm`,
 *   `autoscaling`), action and region (globs with `*`): a throttling rate (the service's own
 *   throttling error), a 5xx rate (the service's own internal error), added latency (real ms),
 *   and a region that stops answering (`reset`: the connection is destroyed; `hang`: no answer
 *   until the client gives up or the cloud stops).
 * - `events`: EventBridge deliveries per rule name or event detail-type lost, delayed (real ms)
 *   or duplicated (rates).
 * - `lambda`: a function's response dropped after its handler ran (its side effects done):
 *   the caller gets `ServiceException` (or `Sandbox.Timedout`), as when Lambda loses an answer.
 * - `ec2`: the local EC2's own world faults (local/ec2/context.ts `Ec2Faults`): images or copies
 *   that end `failed`, new image ids that answer `InvalidAMIID.NotFound` for a while, ...
 *
 * Deterministic given `seed`: each decision hashes (seed, rule, key, n) where n counts the
 * calls of that key, so the same sequence of calls meets the same faults. Our own code: no
 * maintained library injects faults at this seam (the HTTP dispatch of an in-process emulator).
 *
 * Error codes and statuses, as each service names them (AWS API references and models):
 * EC2 `RequestLimitExceeded` 503 / `InternalError` 500; Auto Scaling `Throttling` 400 /
 * `InternalFailure` 500; S3 `SlowDown` 503 / `InternalError` 500; Step Functions, EventBridge,
 * SSM `ThrottlingException` 400 / `InternalFailure` (SFN), `InternalException` (EventBridge),
 * `InternalServerError` (SSM) 500.
 */
export interface RequestFaultRule {
  service?: string;
  action?: string;
  region?: string;
  /** Fraction (0..1) of matching calls answered with the service's throttling error. */
  throttle?: number;
  /** Fraction (0..1) of matching calls answered with the service's internal (5xx) error. */
  error?: number;
  /** Real milliseconds added before each matching call is handled. */
  latencyMs?: number;
  /** The region stops answering: the connection is reset, or the request hangs. */
  unreachable?: 'reset' | 'hang';
}

export interface EventFaultRule {
  /** The rule's name (glob). */
  rule?: string;
  /** The event's detail-type (glob), e.g. `EC2 AMI State Change`. */
  detailType?: string;
  /** Fraction (0..1) of matching deliveries lost. */
  lose?: number;
  /** Real milliseconds each matching delivery waits before it is made. */
  delayMs?: number;
  /** Fraction (0..1) of matching deliveries made twice. */
  duplicate?: number;
}

export interface LambdaFaultRule {
  /** The function's serverless key or name (glob). */
  function?: string;
  /** Fraction (0..1) of matching invocations whose response is dropped after the handler ran. */
  dropResponse?: number;
  /** Drop at most this many responses (per rule), default unlimited. */
  times?: number;
  /** What the caller gets instead: `ServiceException` (default) or `Sandbox.Timedout`. */
  as?: 'ServiceException' | 'Sandbox.Timedout';
}

export interface FaultSpec {
  seed?: number;
  requests?: RequestFaultRule[];
  events?: EventFaultRule[];
  lambda?: LambdaFaultRule[];
  ec2?: Ec2Faults;
}

/** A fault spec that does not have the expected shape. */
export class FaultSpecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FaultSpecError';
  }
}

/** What the dispatcher does with one request. */
export type RequestFault =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'respond'; latencyMs: number; response: LocalResponse; code: string }
  | { kind: 'reset' | 'hang'; latencyMs: number };

export interface DeliveryFault {
  lose: boolean;
  delayMs: number;
  copies: number;
}

export interface FaultCounts {
  [fault: string]: number;
}

const SERVICE_ERRORS: Record<string, { throttle: [string, number]; error: [string, number] }> = {
  ec2: { throttle: ['RequestLimitExceeded', 503], error: ['InternalError', 500] },
  autoscaling: { throttle: ['Throttling', 400], error: ['InternalFailure', 500] },
  s3: { throttle: ['SlowDown', 503], error: ['InternalError', 500] },
  states: { throttle: ['ThrottlingException', 400], error: ['InternalFailure', 500] },
  events: { throttle: ['ThrottlingException', 400], error: ['InternalException', 500] },
  ssm: { throttle: ['ThrottlingException', 400], error: ['InternalServerError', 500] },
};
const JSON_VERSION: Record<string, string> = { states: '1.0', events: '1.1', ssm: '1.1' };

export function globMatch(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** A number in [0, 1) from a string: FNV-1a, then a 32-bit avalanche (determinism, not secrecy). */
export function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** The API operation a request names: Query `Action`, JSON `X-Amz-Target`, S3 from method and path. */
export function requestAction(req: LocalRequest): string {
  const target = headerValue(req.headers, 'x-amz-target');
  if (target !== undefined) return target.slice(target.indexOf('.') + 1);
  if (req.service === 's3') return s3Action(req);
  const fromBody = new URLSearchParams(req.body.toString('utf8')).get('Action');
  return fromBody ?? req.query.get('Action') ?? `${req.method} ${req.path}`;
}

function s3Action(req: LocalRequest): string {
  const segments = req.path.split('/').filter((s) => s !== '');
  const hasKey = segments.length > 1;
  const method = req.method.toUpperCase();
  if (!hasKey) {
    if (method === 'GET') return 'ListObjectsV2';
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'POST' && req.query.has('delete')) return 'DeleteObjects';
    if (method === 'HEAD') return 'HeadBucket';
    return `${method}Bucket`;
  }
  if (req.query.has('uploads')) return 'CreateMultipartUpload';
  if (req.query.has('uploadId')) {
    if (method === 'PUT') return 'UploadPart';
    if (method === 'POST') return 'CompleteMultipartUpload';
    if (method === 'DELETE') return 'AbortMultipartUpload';
  }
  const byMethod: Record<string, string> = { GET: 'GetObject', PUT: 'PutObject', HEAD: 'HeadObject', DELETE: 'DeleteObject' };
  return byMethod[method] ?? `${method}Object`;
}

/** The service's error answer, in its protocol. */
export function faultResponse(service: string, code: string, status: number, message: string): LocalResponse {
  const requestId = `fault-${unitHash(`${code}${message}${Math.random()}`).toString(36).slice(2, 10)}`;
  if (service === 'ec2')
    return {
      status,
      headers: { 'content-type': 'text/xml' },
      body: queryErrorXml({ kind: 'ec2', xmlns: '' }, code, message, requestId, status),
    };
  if (service === 'autoscaling')
    return {
      status,
      headers: { 'content-type': 'text/xml' },
      body: queryErrorXml(
        { kind: 'awsquery', xmlns: 'http://autoscaling.amazonaws.com/doc/2011-01-01/' },
        code,
        message,
        requestId,
        status,
      ),
    };
  if (service === 's3')
    return {
      status,
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>`,
    };
  return {
    status,
    headers: {
      'content-type': `application/x-amz-json-${JSON_VERSION[service] ?? '1.1'}`,
      'x-amzn-errortype': code,
      'x-amzn-requestid': requestId,
    },
    body: JSON.stringify({ __type: code, message }),
  };
}

function rate(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1))
    throw new FaultSpecError(`${where} must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  return v;
}

function ms(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
    throw new FaultSpecError(`${where} must be a non-negative number of milliseconds, got ${JSON.stringify(v)}`);
  return v;
}

function str(v: unknown, where: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new FaultSpecError(`${where} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function objects(v: unknown, where: string): Record<string, unknown>[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x)))
    throw new FaultSpecError(`${where} must be a list of objects`);
  return v as Record<string, unknown>[];
}

function only(o: Record<string, unknown>, keys: string[], where: string): void {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw new FaultSpecError(`${where} has unknown field(s) ${extra.join(', ')} (known: ${keys.join(', ')})`);
}

/** Checks a fault spec's shape (from a file, the CLI or the admin endpoint); a named error says what is wrong. */
export function parseFaultSpec(v: unknown): FaultSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FaultSpecError('a fault spec must be a JSON object');
  const o = v as Record<string, unknown>;
  only(o, ['seed', 'requests', 'events', 'lambda', 'ec2'], 'the fault spec');
  const spec: FaultSpec = {};
  if (o.seed !== undefined) {
    if (typeof o.seed !== 'number' || !Number.isInteger(o.seed))
      throw new FaultSpecError(`seed must be an integer, got ${JSON.stringify(o.seed)}`);
    spec.seed = o.seed;
  }
  spec.requests = objects(o.requests, 'requests').map((r, i) => {
    const w = `requests[${i}]`;
    only(r, ['service', 'action', 'region', 'throttle', 'error', 'latencyMs', 'unreachable'], w);
    if (r.unreachable !== undefined && r.unreachable !== 'reset' && r.unreachable !== 'hang')
      throw new FaultSpecError(`${w}.unreachable must be "reset" or "hang", got ${JSON.stringify(r.unreachable)}`);
    const rule: RequestFaultRule = {};
    const service = str(r.service, `${w}.service`);
    const action = str(r.action, `${w}.action`);
    const region = str(r.region, `${w}.region`);
    const throttle = rate(r.throttle, `${w}.throttle`);
    const error = rate(r.error, `${w}.error`);
    const latencyMs = ms(r.latencyMs, `${w}.latencyMs`);
    if (service !== undefined) rule.service = service;
    if (action !== undefined) rule.action = action;
    if (region !== undefined) rule.region = region;
    if (throttle !== undefined) rule.throttle = throttle;
    if (error !== undefined) rule.error = error;
    if (latencyMs !== undefined) rule.latencyMs = latencyMs;
    if (r.unreachable !== undefined) rule.unreachable = r.unreachable;
    return rule;
  });
  spec.events = objects(o.events, 'events').map((r, i) => {
    const w = `events[${i}]`;
    only(r, ['rule', 'detailType', 'lose', 'delayMs', 'duplicate'], w);
    const rule: EventFaultRule = {};
    const name = str(r.rule, `${w}.rule`);
    const detailType = str(r.detailType, `${w}.detailType`);
    const lose = rate(r.lose, `${w}.lose`);
    const delayMs = ms(r.delayMs, `${w}.delayMs`);
    const duplicate = rate(r.duplicate, `${w}.duplicate`);
    if (name !== undefined) rule.rule = name;
    if (detailType !== undefined) rule.detailType = detailType;
    if (lose !== undefined) rule.lose = lose;
    if (delayMs !== undefined) rule.delayMs = delayMs;
    if (duplicate !== undefined) rule.duplicate = duplicate;
    return rule;
  });
  spec.lambda = objects(o.lambda, 'lambda').map((r, i) => {
    const w = `lambda[${i}]`;
    only(r, ['function', 'dropResponse', 'times', 'as'], w);
    if (r.as !== undefined && r.as !== 'ServiceException' && r.as !== 'Sandbox.Timedout')
      throw new FaultSpecError(`${w}.as must be "ServiceException" or "Sandbox.Timedout", got ${JSON.stringify(r.as)}`);
    if (r.times !== undefined && !(typeof r.times === 'number' && Number.isInteger(r.times) && r.times >= 0))
      throw new FaultSpecError(`${w}.times must be a non-negative integer, got ${JSON.stringify(r.times)}`);
    const rule: LambdaFaultRule = {};
    const fn = str(r.function, `${w}.function`);
    const drop = rate(r.dropResponse, `${w}.dropResponse`);
    if (fn !== undefined) rule.function = fn;
    if (drop !== undefined) rule.dropResponse = drop;
    if (typeof r.times === 'number') rule.times = r.times;
    if (r.as !== undefined) rule.as = r.as;
    return rule;
  });
  if (o.ec2 !== undefined) {
    if (typeof o.ec2 !== 'object' || o.ec2 === null || Array.isArray(o.ec2)) throw new FaultSpecError('ec2 must be an object');
    only(
      o.ec2 as Record<string, unknown>,
      ['failImages', 'failCopiesTo', 'unreachableRegions', 'throttleAll', 'notFoundWindowMs', 'missingKmsKeys', 'failTestsIn'],
      'ec2',
    );
    spec.ec2 = o.ec2 as Ec2Faults;
  }
  return spec;
}

/**
 * A spec given on the command line: a JSON file's path, inline JSON, or a short form of
 * `;`-separated clauses `service:action@region=fault` (`ec2:*=throttle:0.3`,
 * `ec2:*@us-west-2=reset`, `events:EC2 AMI State Change=lose:1`, `seed=7`).
 */
export function parseFaultArgument(text: string, readFile: (path: string) => string): FaultSpec {
  const t = text.trim();
  if (t.startsWith('{')) return parseFaultSpec(parseJson(t, 'the --faults JSON'));
  if (t.endsWith('.json')) {
    let content: string;
    try {
      content = readFile(t);
    } catch (e) {
      throw new FaultSpecError(`cannot read the fault file ${t}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return parseFaultSpec(parseJson(content, t));
  }
  const spec: { seed?: number; requests: RequestFaultRule[]; events: EventFaultRule[] } = { requests: [], events: [] };
  for (const clause of t
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '')) {
    const eq = clause.lastIndexOf('=');
    if (eq < 0) throw new FaultSpecError(`"${clause}": expected <service>:<action>[@region]=<fault>`);
    const left = clause.slice(0, eq).trim();
    const right = clause.slice(eq + 1).trim();
    if (left === 'seed') {
      spec.seed = Number(right);
      continue;
    }
    const [service, rest = '*'] = splitOnce(left, ':');
    const [action, region] = splitOnce(rest, '@');
    const [fault, value] = splitOnce(right, ':');
    const amount = value === undefined ? 1 : Number(value);
    if (service === 'events') {
      const rule: Record<string, unknown> = { detailType: action };
      rule[fault === 'delay' ? 'delayMs' : fault] = amount;
      spec.events.push(rule as EventFaultRule);
      continue;
    }
    const rule: Record<string, unknown> = { service, action };
    if (region !== undefined) rule.region = region;
    if (fault === 'reset' || fault === 'hang') rule.unreachable = fault;
    else rule[fault === 'latency' ? 'latencyMs' : fault] = amount;
    spec.requests.push(rule as RequestFaultRule);
  }
  return parseFaultSpec(spec);
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FaultSpecError(`${where} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** The injector: the current spec, the per-key call counters, and what was injected (counts). */
export class FaultInjector {
  private spec: FaultSpec = {};
  private readonly seen = new Map<string, number>();
  private readonly dropped = new Map<number, number>();
  private readonly injected: FaultCounts = {};

  /** Applies the `ec2` part to the local EC2's world faults (bound once EC2 exists). */
  private applyEc2: (faults: Ec2Faults) => void = () => undefined;

  /** Request faults held back (holdRequests): the cloud is deploying its own stack. */
  private holding = false;

  constructor(spec: FaultSpec = {}) {
    this.set(spec);
  }

  /**
   * Until `releaseRequests`, requests pass untouched. The local cloud holds them while it starts:
   * its deployment of the stack (buckets, rules, parameters through its own endpoint) stands for
   * CloudFormation, not for the callers whose network the faults simulate, so a fault given at
   * start (an unreachable S3, 5 % errors) applies from the moment the cloud is up.
   */
  holdRequests(): void {
    this.holding = true;
  }

  releaseRequests(): void {
    this.holding = false;
  }

  /** Where the `ec2` part goes: the local EC2's fault switches (applied at once, and on every `set`). */
  bindEc2(apply: (faults: Ec2Faults) => void): void {
    this.applyEc2 = apply;
    apply({ ...(this.spec.ec2 ?? {}) });
  }

  /** Replaces the whole spec (counters restart, so the same spec replays the same faults). */
  set(spec: FaultSpec): void {
    this.spec = parseFaultSpec(spec);
    this.seen.clear();
    this.dropped.clear();
    this.applyEc2({ ...(this.spec.ec2 ?? {}) });
  }

  get(): FaultSpec {
    return structuredClone(this.spec);
  }

  /** What was injected so far, by kind (`ec2 throttle`, `events lose`, `lambda dropResponse`, ...). */
  counts(): FaultCounts {
    return { ...this.injected };
  }

  private roll(rule: number, key: string): number {
    const n = (this.seen.get(`${rule}|${key}`) ?? 0) + 1;
    this.seen.set(`${rule}|${key}`, n);
    return unitHash(`${this.spec.seed ?? 0}|${rule}|${key}|${n}`);
  }

  private count(kind: string): void {
    this.injected[kind] = (this.injected[kind] ?? 0) + 1;
  }

  /** The fault (if any) for one request; unsigned requests and the cloud's own `/_local/` API are never faulted. */
  onRequest(req: LocalRequest): RequestFault {
    const service = req.service;
    if (this.holding || service === undefined || req.path.startsWith('/_local/')) return { kind: 'none', latencyMs: 0 };
    const action = requestAction(req);
    let latencyMs = 0;
    const rules = this.spec.requests ?? [];
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i] as RequestFaultRule;
      if (!globMatch(r.service, service) || !globMatch(r.action, action) || !globMatch(r.region, req.region)) continue;
      latencyMs += r.latencyMs ?? 0;
      if (r.unreachable !== undefined) {
        this.count(`${service} ${r.unreachable}`);
        return { kind: r.unreachable, latencyMs };
      }
      const errors = SERVICE_ERRORS[service];
      if (errors === undefined) continue;
      const x = this.roll(i, `${service}|${action}|${req.region}`);
      if (x < (r.throttle ?? 0)) {
        this.count(`${service} throttle`);
        const [code, status] = errors.throttle;
        return {
          kind: 'respond',
          latencyMs,
          code,
          response: faultResponse(service, code, status, 'Rate exceeded (local fault injection)'),
        };
      }
      if (x < (r.throttle ?? 0) + (r.error ?? 0)) {
        this.count(`${service} error`);
        const [code, status] = errors.error;
        return {
          kind: 'respond',
          latencyMs,
          code,
          response: faultResponse(service, code, status, 'We encountered an internal error. Please try again. (local fault injection)'),
        };
      }
    }
    return { kind: 'none', latencyMs };
  }

  /** What happens to one delivery of an event to one rule's target. */
  onDelivery(ruleName: string, detailType: string): DeliveryFault {
    const out: DeliveryFault = { lose: false, delayMs: 0, copies: 1 };
    const rules = this.spec.events ?? [];
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i] as EventFaultRule;
      if (!globMatch(r.rule, ruleName) || !globMatch(r.detailType, detailType)) continue;
      const x = this.roll(1000 + i, `${ruleName}|${detailType}`);
      if (x < (r.lose ?? 0)) {
        this.count('events lose');
        return { lose: true, delayMs: 0, copies: 0 };
      }
      if (r.delayMs !== undefined && r.delayMs > 0) {
        this.count('events delay');
        out.delayMs += r.delayMs;
      }
      if (x < (r.lose ?? 0) + (r.duplicate ?? 0)) {
        this.count('events duplicate');
        out.copies = 2;
      }
    }
    return out;
  }

  /** After a function's handler ran: the error to answer instead of its response, if one is due. */
  afterInvoke(functionNames: string[]): { code: 'ServiceException' | 'Sandbox.Timedout' } | undefined {
    const rules = this.spec.lambda ?? [];
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i] as LambdaFaultRule;
      if (!functionNames.some((n) => globMatch(r.function, n))) continue;
      if (r.times !== undefined && (this.dropped.get(i) ?? 0) >= r.times) continue;
      const x = this.roll(2000 + i, functionNames[0] ?? '');
      if (x < (r.dropResponse ?? 0)) {
        this.dropped.set(i, (this.dropped.get(i) ?? 0) + 1);
        this.count('lambda dropResponse');
        return { code: r.as ?? 'ServiceException' };
      }
    }
    return undefined;
  }
}
