import { randomUUID } from 'node:crypto';
import type { VirtualClock } from '../clock.js';
import { LocalApiError, type LocalRequest, type LocalResponse, type LocalService } from '../http.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { JsonFileStore } from '../persist.js';
import { withAccess, type AccessTable, type ActionTable, type Authorize } from '../protocols/access.js';
import { handleJson, jsonPage, jsonTarget, pageSize, type JsonProtocol, type JsonService } from '../protocols/json.js';
import { renderTargetInput, TargetInputError, validateTargetInput } from './input.js';
import { InvalidEventPatternError, matchesEventPattern, parseEventPattern } from './pattern.js';
import { latestDue, nextFireAfter, parseSchedule, ScheduleExpressionError, type Schedule } from './schedule.js';

/**
 * The local EventBridge endpoint (JSON 1.1 protocol, `X-Amz-Target: AWSEvents.*`).
 *
 * Buses, rules and targets are regional, as in AWS, and persisted; the `default` bus of
 * every region always exists. An accepted event is matched against the enabled rules of its
 * bus and delivered asynchronously to each matching rule's targets: Lambda functions and
 * state machines through the dispatcher, event buses (any region) by forwarding. A failing
 * target is retried with exponential backoff in simulated time (its RetryPolicy), then recorded
 * as failed and, when the target has a DeadLetterConfig, the event goes to that SQS queue with
 * the attributes EventBridge adds (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
 * RETRY_ATTEMPTS, EXHAUSTED_RETRY_CONDITION); a missing permission or target is not retried. A
 * send the queue refuses (its policy) drops the event and counts it. Lambda targets are invoked
 * asynchronously: the delivery succeeds once Lambda accepted the event (what the function does
 * then is Lambda's: retries and its OnFailure destination). Targets never wait for one another. Scheduled rules (default bus only) fire on the
 * simulated clock; a schedule missed while the process was down fires once on resume.
 */
/** How a rule's target is invoked: on behalf of the rule, with the target's role where it has one. */
export interface TargetContext {
  ruleArn: string;
  /** The target's RoleArn (state machines and buses in another account or region use one). */
  roleArn?: string;
}

/** What an asynchronous target returns once it accepted the event: `settled` when it is done with it (idle() waits). */
export interface AcceptedDelivery {
  settled: Promise<void>;
}

export interface EventTargetDispatcher {
  /** Invoke a Lambda function asynchronously (the local Lambda runs the real handler) as EventBridge for the rule; the event is the payload. */
  invokeLambda(functionArn: string, payload: unknown, via: TargetContext): Promise<AcceptedDelivery | unknown>;
  /** Start a Step Functions execution (local SFN) as the target's role. */
  startExecution(stateMachineArn: string, input: string, via: TargetContext): Promise<void>;
  /** Authorizes a bus target's PutEvents with the target's role (cross-region forwarding); throws to refuse. */
  authorizeBusTarget?(busArn: string, via: TargetContext): void;
  /** Sends a failed event to a target's dead-letter queue as EventBridge (the queue policy decides); throws when refused or missing. */
  sendToDeadLetterQueue?(queueArn: string, body: string, attributes: Record<string, string>, via: TargetContext): void;
}

export interface EventsServiceOptions {
  accountId: string;
  clock: VirtualClock;
  stateFile?: string;
  dispatcher: EventTargetDispatcher;
  /** Authorization of each call (protocols/access.ts); default: every call is allowed. */
  authorize?: Authorize;
  /** The access requests of each action, by action name (default: `events:<Action>` on `*`). */
  access?: AccessTable<EventsContext>;
  /** Fault injection (local/faults.ts): a delivery to a rule's target lost, delayed (real ms) or made more than once. */
  deliveryFault?: (ruleName: string, detailType: string) => { lose: boolean; delayMs: number; copies: number };
}

/** What an EventBridge action is given: the request's JSON body and region, and the request (PutEvents counts its size). */
export interface EventsContext {
  body: JsonObject;
  region: string;
  req: LocalRequest;
  /** PutEvents entries (by index) the caller may not put → the entry's error code, set by the authorization. */
  refused: Map<string, string>;
}

const EVENTS_PROTOCOL: JsonProtocol = { version: '1.1', targetPrefix: 'AWSEvents', iamPrefix: 'events' };

/** An event as EventBridge delivers it. */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: JsonValue;
  [key: string]: JsonValue;
}

export interface TargetDelivery {
  rule: string;
  ruleArn: string;
  targetId: string;
  arn: string;
  status: 'pending' | 'succeeded' | 'failed' | 'lost';
  attempts: number;
  /** `<name>: <message>` of the last failure. */
  error?: string;
  /** A failed delivery's dead letter: sent to the queue, or dropped (the queue refused it or is gone). */
  deadLetter?: { queueArn: string; status: 'sent' | 'failed'; error?: string };
}

export interface DeliveredEvent {
  bus: string;
  region: string;
  /** How the event arrived: PutEvents, emit() (an AWS service), a rule's schedule, or another bus's rule. */
  origin: 'put-events' | 'emit' | 'schedule' | 'forwarded';
  /** Simulated time the event was accepted (ISO). */
  receivedAt: string;
  event: EventEnvelope;
  /** Names of the rules it matched. */
  rules: string[];
  targets: TargetDelivery[];
}

export interface EventsService extends LocalService {
  /** Emit an event as an AWS service would (e.g. the local EC2's 'EC2 AMI State Change'): same routing as PutEvents on the default bus. */
  emit(e: {
    source: string;
    detailType: string;
    detail: unknown;
    region: string;
    resources?: string[];
    time?: string;
    account?: string;
    bus?: string;
  }): Promise<string>;
  /** Every event accepted, per bus, with the rules it matched and target outcomes — for tests and the CLI. */
  log(): DeliveredEvent[];
  /** Resolves once every delivery started so far has settled (tests). */
  idle(): Promise<void>;
  /** EventBridge's delivery metrics so far: FailedInvocations, InvocationsSentToDLQ, InvocationsFailedToBeSentToDLQ. */
  metrics(): Record<'FailedInvocations' | 'InvocationsSentToDLQ' | 'InvocationsFailedToBeSentToDLQ', number>;
  /** Arms the schedules (and fires those missed while down, once). Implied by the first request or emit(). */
  resume(): void;
  /** Stops schedule timers and backoff waits; writes the state. */
  close(): void;
}

export class EventsApiError extends LocalApiError {}

// ---------------------------------------------------------------------------------------------
// persisted state

interface RuleRecord {
  Name: string;
  Arn: string;
  EventBusName: string;
  State: string;
  EventPattern?: string;
  ScheduleExpression?: string;
  Description?: string;
  RoleArn?: string;
  createdMs: number;
  /** Phase of a rate schedule: when the current expression was set or the rule enabled. */
  scheduleAnchorMs?: number;
  /** Simulated time of the last firing counted (a missed run of firings counts as one). */
  lastFiredMs?: number;
  Targets: JsonObject[];
}

interface BusRecord {
  Name: string;
  Arn: string;
  Description?: string;
  createdMs: number;
  modifiedMs: number;
  rules: Record<string, RuleRecord>;
}

interface EventsState {
  version: 1;
  regions: Record<string, { buses: Record<string, BusRecord> }>;
}

const DEFAULT_BUS = 'default';
const MAX_ENTRIES = 10;
const MAX_TARGETS = 5;
const MAX_REQUEST_BYTES = 256 * 1024;
/** Retries of a failing target when its RetryPolicy does not say (EventBridge's own default is 185 over 24 h). */
const DEFAULT_RETRIES = 2;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
const MAX_FORWARD_HOPS = 5;
const LOG_LIMIT = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
const BUS_NAME = /^[/.\-_A-Za-z0-9]{1,256}$/;
const RULE_STATES = new Set(['ENABLED', 'DISABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS']);

type Target = { kind: 'lambda'; name: string } | { kind: 'states'; arn: string } | { kind: 'bus'; region: string; bus: string };

function parseTargetArn(arn: string): Target | undefined {
  const lambda = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?$/.exec(arn);
  if (lambda !== null) return { kind: 'lambda', name: lambda[3] as string };
  if (/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]+$/.test(arn)) return { kind: 'states', arn };
  const bus = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/([/.\-_A-Za-z0-9]+)$/.exec(arn);
  if (bus !== null) return { kind: 'bus', region: bus[1] as string, bus: bus[3] as string };
  return undefined;
}

function isAccepted(v: unknown): v is AcceptedDelivery {
  return typeof v === 'object' && v !== null && 'settled' in v && v.settled instanceof Promise;
}

/** Errors EventBridge does not retry (the event goes to the dead-letter queue at once): a missing permission or target. */
const NOT_RETRIED = new Set(['NO_PERMISSIONS', 'NO_RESOURCE']);

/** The dead-letter ERROR_CODE of a target failure (EventBridge user guide, "Using dead-letter queues"). */
export function deadLetterErrorCode(e: unknown): string {
  const name = e instanceof Error ? e.name : '';
  if (/AccessDenied|NotAuthorized|Unauthorized/i.test(name)) return 'NO_PERMISSIONS';
  if (/NotFound|DoesNotExist/i.test(name)) return 'NO_RESOURCE';
  if (/Throttl|TooManyRequests|RequestLimitExceeded/i.test(name)) return 'THROTTLING';
  if (/Timeout|Timedout/i.test(name)) return 'TIMEOUT';
  if (/LimitExceeded/i.test(name)) return 'RESOURCE_LIMIT_EXCEEDED';
  if (/Validation|InvalidParameter|InvalidRequest/i.test(name)) return 'INVALID_PARAMETER';
  if (/ServiceException|InternalError|InternalFailure/i.test(name)) return 'INTERNAL_ERROR';
  return 'UNKNOWN';
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

export function createEventsService(opts: EventsServiceOptions): EventsService {
  return new LocalEventBridge(opts);
}

class LocalEventBridge implements EventsService {
  readonly name = 'events';

  actionNames(): string[] {
    return Object.keys(this.protocol.actions);
  }
  private readonly store: JsonFileStore<EventsState>;
  private readonly events: DeliveredEvent[] = [];
  /** Deliveries under way, with the sequence number they started at and whether a schedule started them. */
  private readonly inflight = new Map<Promise<void>, { seq: number; scheduled: boolean }>();
  private seq = 0;
  private readonly scheduleTimers = new Map<string, NodeJS.Timeout>();
  private readonly sleeping = new Map<NodeJS.Timeout, () => void>();
  private readonly patterns = new Map<string, { text: string; pattern: JsonObject }>();
  private started = false;
  private closed = false;
  private readonly counters = { FailedInvocations: 0, InvocationsSentToDLQ: 0, InvocationsFailedToBeSentToDLQ: 0 };

  constructor(private readonly opts: EventsServiceOptions) {
    this.store = new JsonFileStore<EventsState>(opts.stateFile, () => ({ version: 1, regions: {} }));
  }

  // ---- LocalService ---------------------------------------------------------------------------

  matches(req: LocalRequest): boolean {
    return jsonTarget(req, EVENTS_PROTOCOL) !== undefined;
  }

  handle(req: LocalRequest): Promise<LocalResponse> {
    return handleJson(req, this.protocol);
  }

  private jsonService: JsonService<EventsContext> | undefined;

  /** The JSON protocol's view of this endpoint: its table of actions. */
  private get protocol(): JsonService<EventsContext> {
    this.jsonService ??= {
      protocol: EVENTS_PROTOCOL,
      actions: withAccess(this.actionTable(), this.opts.access),
      authorize: this.opts.authorize,
      admit: () => this.resume(),
      context: ({ req, body }) => ({ body, region: req.region, req, refused: new Map() }),
      mapError: (e) =>
        e instanceof InvalidEventPatternError || e instanceof ScheduleExpressionError || e instanceof TargetInputError
          ? new EventsApiError(e.name, e.message)
          : undefined,
    };
    return this.jsonService;
  }

  private actionTable(): ActionTable<EventsContext, JsonObject> {
    type Handler = (ctx: EventsContext) => JsonObject;
    const action = (handler: Handler): { handler: Handler } => ({ handler });
    return {
      PutEvents: action(({ body, region, req, refused }) => this.putEvents(body, region, req.body.length, refused)),
      CreateEventBus: action(({ body, region }) => this.createEventBus(body, region)),
      DeleteEventBus: action(({ body, region }) => this.deleteEventBus(body, region)),
      DescribeEventBus: action(({ body, region }) => this.describeEventBus(body, region)),
      ListEventBuses: action(({ body, region }) => this.listEventBuses(body, region)),
      PutRule: action(({ body, region }) => this.putRule(body, region)),
      DescribeRule: action(({ body, region }) => this.describeRule(body, region)),
      ListRules: action(({ body, region }) => this.listRules(body, region)),
      DeleteRule: action(({ body, region }) => this.deleteRule(body, region)),
      EnableRule: action(({ body, region }) => this.setRuleState(body, region, 'ENABLED')),
      DisableRule: action(({ body, region }) => this.setRuleState(body, region, 'DISABLED')),
      PutTargets: action(({ body, region }) => this.putTargets(body, region)),
      RemoveTargets: action(({ body, region }) => this.removeTargets(body, region)),
      ListTargetsByRule: action(({ body, region }) => this.listTargetsByRule(body, region)),
      ListRuleNamesByTarget: action(({ body, region }) => this.listRuleNamesByTarget(body, region)),
      TestEventPattern: action(({ body }) => this.testEventPattern(body)),
    };
  }

  // ---- buses ---------------------------------------------------------------------------------

  private regionState(region: string): { buses: Record<string, BusRecord> } {
    let r = this.store.data.regions[region];
    if (r === undefined) {
      r = { buses: {} };
      this.store.data.regions[region] = r;
    }
    if (r.buses[DEFAULT_BUS] === undefined) {
      const now = this.opts.clock.nowMs();
      r.buses[DEFAULT_BUS] = { Name: DEFAULT_BUS, Arn: this.busArn(region, DEFAULT_BUS), createdMs: now, modifiedMs: now, rules: {} };
      this.store.markDirty();
    }
    return r;
  }

  private busArn(region: string, name: string): string {
    return `arn:aws:events:${region}:${this.opts.accountId}:event-bus/${name}`;
  }

  /** A bus by name or ARN (an ARN's region wins); undefined when it does not exist. */
  private findBus(region: string, nameOrArn: JsonValue | undefined): { region: string; bus: BusRecord | undefined; name: string } {
    const given = typeof nameOrArn === 'string' && nameOrArn !== '' ? nameOrArn : DEFAULT_BUS;
    const arn = /^arn:aws[a-z-]*:events:([a-z0-9-]+):\d{12}:event-bus\/(.+)$/.exec(given);
    const r = arn !== null ? (arn[1] as string) : region;
    const name = arn !== null ? (arn[2] as string) : given;
    return { region: r, bus: this.regionState(r).buses[name], name };
  }

  private requireBus(region: string, nameOrArn: JsonValue | undefined): { region: string; bus: BusRecord } {
    const found = this.findBus(region, nameOrArn);
    if (found.bus === undefined) throw new EventsApiError('ResourceNotFoundException', `Event bus ${found.name} does not exist.`);
    return { region: found.region, bus: found.bus };
  }

  private createEventBus(body: JsonObject, region: string): JsonObject {
    const name = requiredString(body, 'Name');
    if (!BUS_NAME.test(name) || name.startsWith('aws.'))
      throw new EventsApiError('ValidationException', `Event bus name ${name} is not valid.`);
    const r = this.regionState(region);
    if (r.buses[name] !== undefined) throw new EventsApiError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
    const now = this.opts.clock.nowMs();
    const bus: BusRecord = { Name: name, Arn: this.busArn(region, name), createdMs: now, modifiedMs: now, rules: {} };
    if (typeof body.Description === 'string') bus.Description = body.Description;
    r.buses[name] = bus;
    this.store.markDirty();
    return { EventBusArn: bus.Arn };
  }

  private deleteEventBus(body: JsonObject, region: string): JsonObject {
    const name = requiredString(body, 'Name');
    if (name === DEFAULT_BUS) throw new EventsApiError('ValidationException', 'Cannot delete event bus default.');
    const r = this.regionState(region);
    if (r.buses[name] !== undefined) {
      delete r.buses[name];
      this.store.markDirty();
    }
    return {};
  }

  private describeEventBus(body: JsonObject, region: string): JsonObject {
    const { bus } = this.requireBus(region, body.Name);
    return busView(bus);
  }

  private listEventBuses(body: JsonObject, region: string): JsonObject {
    const prefix = typeof body.NamePrefix === 'string' ? body.NamePrefix : '';
    const all = Object.values(this.regionState(region).buses)
      .filter((b) => b.Name.startsWith(prefix))
      .sort((a, b) => byName(a.Name, b.Name));
    const { items, next } = page(all, body, (b) => b.Name);
    const out: JsonObject = { EventBuses: items.map(busView) };
    if (next !== undefined) out.NextToken = next;
    return out;
  }

  // ---- rules ---------------------------------------------------------------------------------

  private ruleArn(region: string, bus: string, name: string): string {
    return `arn:aws:events:${region}:${this.opts.accountId}:rule/${bus === DEFAULT_BUS ? '' : `${bus}/`}${name}`;
  }

  private requireRule(body: JsonObject, region: string, key = 'Name'): { region: string; bus: BusRecord; rule: RuleRecord } {
    const name = requiredString(body, key);
    const found = this.findBus(region, body.EventBusName);
    const rule = found.bus?.rules[name];
    if (found.bus === undefined || rule === undefined) {
      throw new EventsApiError('ResourceNotFoundException', `Rule ${name} does not exist on EventBus ${found.name}.`);
    }
    return { region: found.region, bus: found.bus, rule };
  }

  private putRule(body: JsonObject, region: string): JsonObject {
    const name = requiredString(body, 'Name');
    if (!NAME.test(name)) throw new EventsApiError('ValidationException', `Rule name ${name} is not valid: 1-64 of [.-_A-Za-z0-9].`);
    const found = this.requireBus(region, body.EventBusName);
    const pattern = optionalString(body, 'EventPattern');
    const schedule = optionalString(body, 'ScheduleExpression');
    if (pattern === undefined && schedule === undefined) {
      throw new EventsApiError('ValidationException', 'Parameter(s) EventPattern or ScheduleExpression must be specified.');
    }
    if (pattern !== undefined) parseEventPattern(pattern);
    if (schedule !== undefined) {
      if (found.bus.Name !== DEFAULT_BUS)
        throw new EventsApiError('ValidationException', 'ScheduleExpression is supported only on the default event bus.');
      parseSchedule(schedule);
    }
    const state = optionalString(body, 'State') ?? 'ENABLED';
    if (!RULE_STATES.has(state))
      throw new EventsApiError(
        'ValidationException',
        `Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]`,
      );

    const now = this.opts.clock.nowMs();
    const previous = found.bus.rules[name];
    // PutRule replaces the rule's definition (omitted fields are cleared) and keeps its targets.
    const rule: RuleRecord = {
      Name: name,
      Arn: this.ruleArn(found.region, found.bus.Name, name),
      EventBusName: found.bus.Name,
      State: state,
      createdMs: previous?.createdMs ?? now,
      Targets: previous?.Targets ?? [],
    };
    if (pattern !== undefined) rule.EventPattern = pattern;
    if (schedule !== undefined) {
      rule.ScheduleExpression = schedule;
      const unchanged = previous?.ScheduleExpression === schedule && previous.State !== 'DISABLED';
      rule.scheduleAnchorMs = unchanged ? (previous.scheduleAnchorMs ?? now) : now;
      if (unchanged && previous.lastFiredMs !== undefined) rule.lastFiredMs = previous.lastFiredMs;
    }
    const description = optionalString(body, 'Description');
    if (description !== undefined) rule.Description = description;
    const roleArn = optionalString(body, 'RoleArn');
    if (roleArn !== undefined) rule.RoleArn = roleArn;
    found.bus.rules[name] = rule;
    this.store.markDirty();
    this.arm(found.region, name);
    return { RuleArn: rule.Arn };
  }

  private describeRule(body: JsonObject, region: string): JsonObject {
    const { rule } = this.requireRule(body, region);
    return { ...ruleView(rule), CreatedBy: this.opts.accountId };
  }

  private listRules(body: JsonObject, region: string): JsonObject {
    const { bus } = this.requireBus(region, body.EventBusName);
    const prefix = typeof body.NamePrefix === 'string' ? body.NamePrefix : '';
    const all = Object.values(bus.rules)
      .filter((r) => r.Name.startsWith(prefix))
      .sort((a, b) => byName(a.Name, b.Name));
    const { items, next } = page(all, body, (r) => r.Name);
    const out: JsonObject = { Rules: items.map(ruleView) };
    if (next !== undefined) out.NextToken = next;
    return out;
  }

  private deleteRule(body: JsonObject, region: string): JsonObject {
    const name = requiredString(body, 'Name');
    const found = this.findBus(region, body.EventBusName);
    const rule = found.bus?.rules[name];
    if (found.bus === undefined || rule === undefined) return {};
    if (rule.Targets.length > 0) throw new EventsApiError('ValidationException', "Rule can't be deleted since it has targets.");
    delete found.bus.rules[name];
    this.disarm(found.region, name);
    this.store.markDirty();
    return {};
  }

  private setRuleState(body: JsonObject, region: string, state: 'ENABLED' | 'DISABLED'): JsonObject {
    const { region: r, rule } = this.requireRule(body, region);
    if (state === 'ENABLED' && rule.State === 'DISABLED' && rule.ScheduleExpression !== undefined) {
      // A re-enabled schedule starts afresh: no catch-up for the time it was disabled.
      rule.scheduleAnchorMs = this.opts.clock.nowMs();
      delete rule.lastFiredMs;
    }
    // EnableRule keeps ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS as it is.
    if (state === 'DISABLED' || rule.State === 'DISABLED') rule.State = state;
    this.store.markDirty();
    if (rule.EventBusName === DEFAULT_BUS) this.arm(r, rule.Name);
    return {};
  }

  // ---- targets -------------------------------------------------------------------------------

  private putTargets(body: JsonObject, region: string): JsonObject {
    const { rule } = this.requireRule(body, region, 'Rule');
    const targets = body.Targets;
    if (!Array.isArray(targets) || targets.length === 0 || targets.length > 10) {
      throw new EventsApiError(
        'ValidationException',
        "Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10",
      );
    }
    const accepted: JsonObject[] = [];
    for (const t of targets) {
      if (!isJsonObject(t)) throw new EventsApiError('ValidationException', 'Each target must be an object.');
      const id = t.Id;
      if (typeof id !== 'string' || !NAME.test(id))
        throw new EventsApiError('ValidationException', `Target Id ${String(id)} is not valid: 1-64 of [.-_A-Za-z0-9].`);
      const arn = t.Arn;
      if (typeof arn !== 'string' || !/^arn:aws[a-z-]*:[a-z0-9-]+:/.test(arn))
        throw new EventsApiError('ValidationException', 'Parameter(s) Arn is not valid.');
      if (parseTargetArn(arn) === undefined) {
        throw new EventsApiError(
          'ValidationException',
          `Target ${arn} is not supported by the local cloud (Lambda functions, state machines and event buses are).`,
        );
      }
      validateTargetInput(t);
      accepted.push(t);
    }
    const byId = new Map(rule.Targets.map((t) => [String(t.Id), t] as const));
    for (const t of accepted) byId.set(String(t.Id), t);
    if (byId.size > MAX_TARGETS)
      throw new EventsApiError('LimitExceededException', 'The requested resource exceeds the maximum number allowed.');
    rule.Targets = [...byId.values()];
    this.store.markDirty();
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  private removeTargets(body: JsonObject, region: string): JsonObject {
    const { rule } = this.requireRule(body, region, 'Rule');
    const ids = body.Ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => typeof x === 'string')) {
      throw new EventsApiError(
        'ValidationException',
        "Value at 'ids' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    const remove = new Set(ids as string[]);
    rule.Targets = rule.Targets.filter((t) => !remove.has(String(t.Id)));
    this.store.markDirty();
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  private listTargetsByRule(body: JsonObject, region: string): JsonObject {
    const { rule } = this.requireRule(body, region, 'Rule');
    const targets = [...rule.Targets].sort((a, b) => byName(String(a.Id), String(b.Id)));
    const { items, next } = page(targets, body, (t) => String(t.Id));
    const out: JsonObject = { Targets: items };
    if (next !== undefined) out.NextToken = next;
    return out;
  }

  private listRuleNamesByTarget(body: JsonObject, region: string): JsonObject {
    const arn = requiredString(body, 'TargetArn');
    const { bus } = this.requireBus(region, body.EventBusName);
    const names = Object.values(bus.rules)
      .filter((r) => r.Targets.some((t) => t.Arn === arn))
      .map((r) => r.Name)
      .sort(byName);
    const { items, next } = page(names, body, (n) => n);
    const out: JsonObject = { RuleNames: items };
    if (next !== undefined) out.NextToken = next;
    return out;
  }

  // ---- events --------------------------------------------------------------------------------

  private putEvents(body: JsonObject, region: string, size: number, refused: Map<string, string> = new Map()): JsonObject {
    const entries = body.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      throw new EventsApiError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES}`,
      );
    }
    if (size > MAX_REQUEST_BYTES)
      throw new EventsApiError('ValidationException', 'Total size of the entries in the request is over the limit.');
    const results: JsonObject[] = [];
    let failed = 0;
    for (const [i, entry] of entries.entries()) {
      const denied = refused.get(String(i));
      const r =
        denied !== undefined
          ? { ErrorCode: denied, ErrorMessage: 'User is not authorized to perform: events:PutEvents on this event bus' }
          : this.putEntry(isJsonObject(entry) ? entry : {}, region);
      if ('ErrorCode' in r) failed++;
      results.push(r);
    }
    return { FailedEntryCount: failed, Entries: results };
  }

  private putEntry(e: JsonObject, region: string): JsonObject {
    const entryError = (code: string, message: string): JsonObject => ({ ErrorCode: code, ErrorMessage: message });
    for (const key of ['Source', 'DetailType', 'Detail'] as const) {
      if (typeof e[key] !== 'string' || e[key] === '') {
        return entryError('InvalidArgument', `Parameter ${key} is not valid. Reason: ${key} is a required argument.`);
      }
    }
    const source = e.Source as string;
    if (source.startsWith('aws.')) return entryError('NotAuthorizedForSourceException', 'Not authorized for the source.');
    let detail: JsonValue;
    try {
      detail = JSON.parse(e.Detail as string) as JsonValue;
    } catch {
      return entryError('MalformedDetail', 'Detail is malformed.');
    }
    if (!isJsonObject(detail)) return entryError('MalformedDetail', 'Detail is malformed.');
    const resources = e.Resources ?? [];
    if (!Array.isArray(resources) || !resources.every((x) => typeof x === 'string')) {
      return entryError('InvalidArgument', 'Parameter Resources is not valid. Reason: Resources must be a list of strings.');
    }
    const time = entryTime(e.Time);
    if (time === null) return entryError('InvalidArgument', 'Parameter Time is not valid.');
    const found = this.findBus(region, e.EventBusName);
    if (found.bus === undefined) return entryError('ResourceNotFoundException', `Event bus ${found.name} does not exist.`);
    const envelope = this.envelope({
      source,
      detailType: e.DetailType as string,
      detail,
      region: found.region,
      resources: resources as string[],
      time: time ?? this.opts.clock.nowMs(),
      account: this.opts.accountId,
    });
    this.route(found.region, found.bus, envelope, 'put-events', 0);
    return { EventId: envelope.id };
  }

  async emit(e: Parameters<EventsService['emit']>[0]): Promise<string> {
    this.resume();
    const found = this.findBus(e.region, e.bus);
    if (found.bus === undefined) throw new EventsApiError('ResourceNotFoundException', `Event bus ${found.name} does not exist.`);
    const parsedTime = e.time !== undefined ? Date.parse(e.time) : NaN;
    const envelope = this.envelope({
      source: e.source,
      detailType: e.detailType,
      detail: JSON.parse(JSON.stringify(e.detail ?? {})) as JsonValue,
      region: found.region,
      resources: e.resources ?? [],
      time: Number.isNaN(parsedTime) ? this.opts.clock.nowMs() : parsedTime,
      account: e.account ?? this.opts.accountId,
    });
    this.route(found.region, found.bus, envelope, 'emit', 0);
    return envelope.id;
  }

  private envelope(e: {
    source: string;
    detailType: string;
    detail: JsonValue;
    region: string;
    resources: string[];
    time: number;
    account: string;
  }): EventEnvelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': e.detailType,
      source: e.source,
      account: e.account,
      time: isoSeconds(e.time),
      region: e.region,
      resources: e.resources,
      detail: e.detail,
    };
  }

  private pattern(rule: RuleRecord): JsonObject | undefined {
    if (rule.EventPattern === undefined) return undefined;
    const cached = this.patterns.get(rule.Arn);
    if (cached !== undefined && cached.text === rule.EventPattern) return cached.pattern;
    const pattern = parseEventPattern(rule.EventPattern);
    this.patterns.set(rule.Arn, { text: rule.EventPattern, pattern });
    return pattern;
  }

  /** Matches an accepted event against the bus's enabled rules and starts the deliveries. */
  private route(region: string, bus: BusRecord, event: EventEnvelope, origin: DeliveredEvent['origin'], hops: number): DeliveredEvent {
    const record: DeliveredEvent = {
      bus: bus.Name,
      region,
      origin,
      receivedAt: isoSeconds(this.opts.clock.nowMs()),
      event,
      rules: [],
      targets: [],
    };
    this.record(record);
    const rules = Object.values(bus.rules).sort((a, b) => a.Name.localeCompare(b.Name));
    for (const rule of rules) {
      if (rule.State === 'DISABLED') continue;
      const pattern = this.pattern(rule);
      if (pattern === undefined || !matchesEventPattern(pattern, event)) continue;
      record.rules.push(rule.Name);
      for (const t of rule.Targets) this.deliver(record, rule, t, hops);
    }
    return record;
  }

  private record(e: DeliveredEvent): void {
    this.events.push(e);
    if (this.events.length > LOG_LIMIT) this.events.splice(0, this.events.length - LOG_LIMIT);
  }

  private deliver(record: DeliveredEvent, rule: RuleRecord, target: JsonObject, hops: number): void {
    const outcome: TargetDelivery = {
      rule: rule.Name,
      ruleArn: rule.Arn,
      targetId: String(target.Id),
      arn: String(target.Arn),
      status: 'pending',
      attempts: 0,
    };
    record.targets.push(outcome);
    const ctx = { ruleArn: rule.Arn, ruleName: rule.Name, ingestionTime: record.receivedAt };
    const fault = this.opts.deliveryFault?.(rule.Name, record.event['detail-type']) ?? { lose: false, delayMs: 0, copies: 1 };
    if (fault.lose) {
      outcome.status = 'lost';
      outcome.error = 'LostByFaultInjection: the delivery was dropped (local fault injection)';
      return;
    }
    for (let copy = 0; copy < fault.copies; copy++) {
      const delivery = copy === 0 ? outcome : { ...outcome };
      if (copy > 0) record.targets.push(delivery);
      const delayed = fault.delayMs > 0 ? new Promise<void>((resolve) => setTimeout(resolve, fault.delayMs).unref()) : Promise.resolve();
      const p = delayed.then(() => this.attempts(delivery, { ...target }, record.event, ctx, hops)).finally(() => this.inflight.delete(p));
      this.inflight.set(p, { seq: ++this.seq, scheduled: record.origin === 'schedule' });
    }
  }

  private async attempts(
    outcome: TargetDelivery,
    target: JsonObject,
    event: EventEnvelope,
    ctx: { ruleArn: string; ruleName: string; ingestionTime: string },
    hops: number,
  ): Promise<void> {
    const policy = isJsonObject(target.RetryPolicy) ? target.RetryPolicy : {};
    const retries =
      typeof policy.MaximumRetryAttempts === 'number' ? Math.max(0, Math.min(185, policy.MaximumRetryAttempts)) : DEFAULT_RETRIES;
    const maxAgeMs = typeof policy.MaximumEventAgeInSeconds === 'number' ? policy.MaximumEventAgeInSeconds * 1000 : Infinity;
    const started = this.opts.clock.nowMs();
    // Let PutEvents answer first: delivery is asynchronous.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let attempt = 0; ; attempt++) {
      if (this.closed) {
        outcome.status = 'failed';
        outcome.error ??= 'ServiceClosed: the local cloud stopped before delivery';
        return;
      }
      outcome.attempts++;
      let accepted: unknown;
      let failure: unknown;
      try {
        accepted = await this.invoke(target, event, ctx, hops);
      } catch (e) {
        failure = e;
      }
      if (failure === undefined) {
        outcome.status = 'succeeded';
        delete outcome.error;
        if (isAccepted(accepted)) await accepted.settled;
        return;
      }
      outcome.error = describeError(failure);
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
      const code = deadLetterErrorCode(failure);
      const exhausted = NOT_RETRIED.has(code)
        ? undefined
        : attempt >= retries
          ? 'MaximumRetryAttempts'
          : this.opts.clock.nowMs() + backoff - started > maxAgeMs
            ? 'MaximumEventAgeInSeconds'
            : 'no';
      if (exhausted !== 'no') {
        outcome.status = 'failed';
        this.counters.FailedInvocations++;
        this.deadLetter(outcome, target, event, ctx, { code, failure, retries: attempt, exhausted });
        return;
      }
      await this.sleep(backoff);
    }
  }

  /** A failed event to the target's dead-letter queue, if it has one; a refused send drops it (counted). */
  private deadLetter(
    outcome: TargetDelivery,
    target: JsonObject,
    event: EventEnvelope,
    ctx: { ruleArn: string },
    why: { code: string; failure: unknown; retries: number; exhausted: string | undefined },
  ): void {
    const config = isJsonObject(target.DeadLetterConfig) ? target.DeadLetterConfig : undefined;
    const queueArn = typeof config?.Arn === 'string' ? config.Arn : undefined;
    if (queueArn === undefined) return;
    const message = why.failure instanceof Error ? why.failure.message : String(why.failure);
    const attributes: Record<string, string> = {
      RULE_ARN: ctx.ruleArn,
      TARGET_ARN: String(target.Arn),
      ERROR_CODE: why.code,
      ERROR_MESSAGE: message.slice(0, 1024),
      RETRY_ATTEMPTS: String(why.retries),
      ...(why.exhausted !== undefined ? { EXHAUSTED_RETRY_CONDITION: why.exhausted } : {}),
    };
    const via: TargetContext = { ruleArn: ctx.ruleArn };
    try {
      if (this.opts.dispatcher.sendToDeadLetterQueue === undefined) throw new EventsApiError('ResourceNotFoundException', 'no SQS');
      this.opts.dispatcher.sendToDeadLetterQueue(queueArn, JSON.stringify(event), attributes, via);
      outcome.deadLetter = { queueArn, status: 'sent' };
      this.counters.InvocationsSentToDLQ++;
    } catch (e) {
      outcome.deadLetter = { queueArn, status: 'failed', error: describeError(e) };
      this.counters.InvocationsFailedToBeSentToDLQ++;
    }
  }

  metrics(): Record<'FailedInvocations' | 'InvocationsSentToDLQ' | 'InvocationsFailedToBeSentToDLQ', number> {
    return { ...this.counters };
  }

  private async invoke(
    target: JsonObject,
    event: EventEnvelope,
    ctx: { ruleArn: string; ruleName: string; ingestionTime: string },
    hops: number,
  ): Promise<unknown> {
    const arn = String(target.Arn);
    const kind = parseTargetArn(arn);
    if (kind === undefined) throw new EventsApiError('ValidationException', `Unsupported target ${arn}`);
    const text = renderTargetInput(target, event, ctx);
    const via: TargetContext = { ruleArn: ctx.ruleArn, ...(typeof target.RoleArn === 'string' ? { roleArn: target.RoleArn } : {}) };
    switch (kind.kind) {
      case 'lambda': {
        let payload: unknown;
        try {
          payload = JSON.parse(text);
        } catch {
          payload = text;
        }
        return await this.opts.dispatcher.invokeLambda(arn, payload, via);
      }
      case 'states':
        await this.opts.dispatcher.startExecution(kind.arn, text, via);
        return;
      case 'bus': {
        if (hops >= MAX_FORWARD_HOPS) throw new EventsApiError('LimitExceededException', 'Event forwarded across too many buses.');
        this.opts.dispatcher.authorizeBusTarget?.(arn, via);
        const bus = this.regionState(kind.region).buses[kind.bus];
        if (bus === undefined) throw new EventsApiError('ResourceNotFoundException', `Event bus ${kind.bus} does not exist.`);
        let forwarded: JsonValue;
        try {
          forwarded = JSON.parse(text) as JsonValue;
        } catch {
          throw new EventsApiError('ValidationException', 'A bus target needs an event as its input.');
        }
        if (!isJsonObject(forwarded)) throw new EventsApiError('ValidationException', 'A bus target needs an event as its input.');
        this.route(kind.region, bus, forwarded as EventEnvelope, 'forwarded', hops + 1);
        return;
      }
    }
  }

  private sleep(simulatedMs: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(
        () => {
          this.sleeping.delete(t);
          resolve();
        },
        Math.ceil(this.opts.clock.toRealMs(simulatedMs)),
      );
      t.unref();
      this.sleeping.set(t, resolve);
    });
  }

  private testEventPattern(body: JsonObject): JsonObject {
    const pattern = parseEventPattern(requiredString(body, 'EventPattern'));
    let event: JsonValue;
    try {
      event = JSON.parse(requiredString(body, 'Event')) as JsonValue;
    } catch {
      throw new EventsApiError('ValidationException', 'Parameter Event is not valid.');
    }
    const required = ['id', 'account', 'source', 'time', 'region', 'resources', 'detail-type'];
    if (!isJsonObject(event) || required.some((k) => !(k in event))) {
      throw new EventsApiError(
        'ValidationException',
        `Parameter Event is not valid. Reason: the fields ${required.join(', ')} are required.`,
      );
    }
    return { Result: matchesEventPattern(pattern, event) };
  }

  // ---- schedules -----------------------------------------------------------------------------

  resume(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const [region, r] of Object.entries(this.store.data.regions)) {
      for (const rule of Object.values(r.buses[DEFAULT_BUS]?.rules ?? {})) this.arm(region, rule.Name);
    }
  }

  private timerKey(region: string, rule: string): string {
    return `${region}\u0000${rule}`;
  }

  private disarm(region: string, rule: string): void {
    const key = this.timerKey(region, rule);
    const t = this.scheduleTimers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.scheduleTimers.delete(key);
  }

  /**
   * (Re)arms a default-bus rule's schedule: fires it if a firing is due (once, however many
   * were missed), then sets a real timer for the next one on the simulated clock.
   */
  private arm(region: string, ruleName: string): void {
    this.disarm(region, ruleName);
    if (!this.started || this.closed) return;
    const rule = this.store.data.regions[region]?.buses[DEFAULT_BUS]?.rules[ruleName];
    if (rule === undefined || rule.State === 'DISABLED' || rule.ScheduleExpression === undefined) return;
    let schedule: Schedule;
    try {
      schedule = parseSchedule(rule.ScheduleExpression);
    } catch {
      return;
    }
    const now = this.opts.clock.nowMs();
    const anchor = rule.scheduleAnchorMs ?? rule.createdMs;
    let next = nextFireAfter(schedule, rule.lastFiredMs ?? anchor, anchor);
    if (next === undefined) return;
    if (next <= now) {
      const due = Math.max(next, latestDue(schedule, anchor, now));
      rule.lastFiredMs = due;
      this.store.markDirty();
      this.fire(region, rule, now);
      next = nextFireAfter(schedule, due, anchor);
      if (next === undefined) return;
    }
    const delay = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(this.opts.clock.toRealMs(next - now))));
    const timer = setTimeout(() => this.arm(region, ruleName), delay);
    timer.unref();
    this.scheduleTimers.set(this.timerKey(region, ruleName), timer);
  }

  private fire(region: string, rule: RuleRecord, atMs: number): void {
    const event = this.envelope({
      source: 'aws.events',
      detailType: 'Scheduled Event',
      detail: {},
      region,
      resources: [rule.Arn],
      time: atMs,
      account: this.opts.accountId,
    });
    const record: DeliveredEvent = {
      bus: DEFAULT_BUS,
      region,
      origin: 'schedule',
      receivedAt: isoSeconds(atMs),
      event,
      rules: [rule.Name],
      targets: [],
    };
    this.record(record);
    for (const t of rule.Targets) this.deliver(record, rule, t, 0);
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  log(): DeliveredEvent[] {
    return [...this.events];
  }

  /**
   * Waits for the deliveries started so far and for those they cause (a target that puts
   * events), but not for schedule firings that start meanwhile: a fast schedule would
   * otherwise keep it from ever resolving.
   */
  async idle(): Promise<void> {
    const horizon = this.seq;
    for (;;) {
      const pending = [...this.inflight].filter(([, d]) => d.seq <= horizon || !d.scheduled).map(([p]) => p);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.scheduleTimers.values()) clearTimeout(t);
    this.scheduleTimers.clear();
    for (const [t, wake] of this.sleeping) {
      clearTimeout(t);
      wake();
    }
    this.sleeping.clear();
    this.store.flush();
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

function busView(b: BusRecord): JsonObject {
  const out: JsonObject = { Name: b.Name, Arn: b.Arn, CreationTime: b.createdMs / 1000, LastModifiedTime: b.modifiedMs / 1000 };
  if (b.Description !== undefined) out.Description = b.Description;
  return out;
}

function ruleView(r: RuleRecord): JsonObject {
  const out: JsonObject = { Name: r.Name, Arn: r.Arn, State: r.State, EventBusName: r.EventBusName };
  if (r.EventPattern !== undefined) out.EventPattern = r.EventPattern;
  if (r.ScheduleExpression !== undefined) out.ScheduleExpression = r.ScheduleExpression;
  if (r.Description !== undefined) out.Description = r.Description;
  if (r.RoleArn !== undefined) out.RoleArn = r.RoleArn;
  return out;
}

/** Epoch ms of a PutEvents entry's Time (the SDK sends epoch seconds); undefined when absent, null when invalid. */
function entryTime(v: JsonValue | undefined): number | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * 1000) : null;
  if (typeof v === 'string') {
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
    return Number.isNaN(n) ? null : n;
  }
  return null;
}

function requiredString(body: JsonObject, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '')
    throw new EventsApiError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must not be null`,
    );
  return v;
}

function optionalString(body: JsonObject, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new EventsApiError('ValidationException', `Parameter ${key} must be a string.`);
  return v;
}

/** Code-unit order, the order NextToken compares in. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Limit (1–100, default 100) and NextToken, as EventBridge pages its lists (the token names the last item returned). */
function page<T>(all: T[], body: JsonObject, key: (t: T) => string): { items: T[]; next?: string } {
  const invalid = (m: string): EventsApiError => new EventsApiError('ValidationException', m);
  const max = pageSize(body, 'Limit', { min: 1, max: 100, dflt: 100 }, invalid);
  const p = jsonPage(body, all, key, { tokenMember: 'NextToken', max, invalid: () => invalid('The NextToken is not valid.') });
  return p.nextToken === undefined ? { items: p.items } : { items: p.items, next: p.nextToken };
}
