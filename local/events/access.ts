import {
  callerContext,
  requestTagContext,
  type AccessContext,
  type AccessRequest,
  type AccessTable,
  type ItemAccess,
  type ItemAccessTable,
  tagsOf,
} from '../iam/access-request.js';
import { invokeFunctionAccess } from '../lambda-access.js';

/**
 * What EventBridge authorizes for each action the local endpoint serves (service.ts's dispatch),
 * after the Service Authorization Reference for Amazon EventBridge and the EventBridge user
 * guide ("Using IAM policy conditions"):
 *
 * - Buses: `arn:aws:events:<region>:<account>:event-bus/<name>` (`default` for the default bus;
 *   a bus given by ARN is that ARN). Rules: `…:rule/<name>` on the default bus,
 *   `…:rule/<bus>/<name>` on a custom bus, with `events:creatorAccount`.
 * - PutEvents authorizes each entry on its own bus with `events:source` and `events:detail-type`;
 *   a denied entry fails alone (`AccessDeniedException` in its result entry), so the entries are
 *   in EVENTS_ITEM_ACCESS and the request as a whole needs nothing more.
 * - PutRule carries the event pattern's literal `source` and `detail-type` values as
 *   `events:source` / `events:detail-type`, its Tags as `aws:RequestTag`; PutTargets the targets'
 *   ARNs as `events:TargetArn`. A RoleArn (of a rule or a target) is passed to EventBridge:
 *   iam:PassRole with `iam:PassedToService=events.amazonaws.com`.
 * - List actions without a rule or bus (ListEventBuses, ListRules, ListRuleNamesByTarget) and
 *   TestEventPattern act on `*`.
 */

export interface EventsAccessInput {
  body: Readonly<Record<string, unknown>>;
  region: string;
  account: string;
}

const DEFAULT_BUS = 'default';
const BUS_ARN = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/(.+)$/;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export const eventBusArn = (region: string, account: string, name: string): string =>
  `arn:aws:events:${region}:${account}:event-bus/${name}`;
export const ruleArn = (region: string, account: string, bus: string, name: string): string =>
  `arn:aws:events:${region}:${account}:rule/${bus === DEFAULT_BUS ? '' : `${bus}/`}${name}`;

/** A bus named by name or ARN (absent: the default bus), as region, account and name. */
function busOf(input: EventsAccessInput, nameOrArn: unknown): { region: string; account: string; name: string } {
  const given = str(nameOrArn) ?? DEFAULT_BUS;
  const m = BUS_ARN.exec(given);
  return m !== null
    ? { region: m[1] as string, account: m[2] as string, name: m[3] as string }
    : { region: input.region, account: input.account, name: given };
}

function eventsRequest(input: EventsAccessInput, action: string, resource: string, extra: AccessContext = {}): AccessRequest {
  return { action: `events:${action}`, resource, context: { ...callerContext(input.region), ...extra } };
}

const wildcard =
  (action: string) =>
  (input: EventsAccessInput): AccessRequest[] => [eventsRequest(input, action, '*')];

const onBus =
  (action: string, nameKey: string) =>
  (input: EventsAccessInput): AccessRequest[] => {
    const bus = busOf(input, input.body[nameKey]);
    return [eventsRequest(input, action, eventBusArn(bus.region, bus.account, bus.name))];
  };

function ruleOf(input: EventsAccessInput, nameKey: string): string {
  const bus = busOf(input, input.body.EventBusName);
  return ruleArn(bus.region, bus.account, bus.name, str(input.body[nameKey]) ?? '*');
}

const onRule =
  (action: string, nameKey = 'Name') =>
  (input: EventsAccessInput): AccessRequest[] => [
    eventsRequest(input, action, ruleOf(input, nameKey), { 'events:creatorAccount': input.account }),
  ];

function passRole(input: EventsAccessInput, roleArn: string): AccessRequest {
  return {
    action: 'iam:PassRole',
    resource: roleArn,
    context: { ...callerContext(input.region), 'iam:PassedToService': 'events.amazonaws.com' },
  };
}

/** The literal strings an event pattern matches for a field (`["a", "b"]`; content filters are not literals). */
function patternLiterals(pattern: unknown, field: string): string[] {
  if (typeof pattern !== 'object' || pattern === null) return [];
  const v = (pattern as Record<string, unknown>)[field];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function putRule(input: EventsAccessInput): AccessRequest[] {
  const extra: AccessContext = { 'events:creatorAccount': input.account, ...requestTagContext(tagsOf(input.body.Tags)) };
  const text = str(input.body.EventPattern);
  if (text !== undefined) {
    let pattern: unknown;
    try {
      pattern = JSON.parse(text);
    } catch {
      pattern = undefined;
    }
    const source = patternLiterals(pattern, 'source');
    const detailType = patternLiterals(pattern, 'detail-type');
    if (source.length > 0) extra['events:source'] = source;
    if (detailType.length > 0) extra['events:detail-type'] = detailType;
  }
  const out = [eventsRequest(input, 'PutRule', ruleOf(input, 'Name'), extra)];
  const role = str(input.body.RoleArn);
  if (role !== undefined) out.push(passRole(input, role));
  return out;
}

function targetsOf(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null && !Array.isArray(t)) : [];
}

function putTargets(input: EventsAccessInput): AccessRequest[] {
  const targets = targetsOf(input.body.Targets);
  const arns = targets.flatMap((t) => (typeof t.Arn === 'string' ? [t.Arn] : []));
  const extra: AccessContext = { 'events:creatorAccount': input.account };
  if (arns.length > 0) extra['events:TargetArn'] = arns;
  const out = [eventsRequest(input, 'PutTargets', ruleOf(input, 'Rule'), extra)];
  for (const role of new Set(targets.flatMap((t) => (typeof t.RoleArn === 'string' ? [t.RoleArn] : [])))) out.push(passRole(input, role));
  return out;
}

function putEventsEntries(input: EventsAccessInput): ItemAccess[] {
  const entries = Array.isArray(input.body.Entries) ? input.body.Entries : [];
  return entries.map((e, i) => {
    const entry = typeof e === 'object' && e !== null ? (e as Record<string, unknown>) : {};
    const bus = busOf(input, entry.EventBusName);
    const extra: AccessContext = {};
    const source = str(entry.Source);
    const detailType = str(entry.DetailType);
    if (source !== undefined) extra['events:source'] = [source];
    if (detailType !== undefined) extra['events:detail-type'] = [detailType];
    return {
      item: String(i),
      requests: [eventsRequest(input, 'PutEvents', eventBusArn(bus.region, bus.account, bus.name), extra)],
      deniedCode: 'AccessDeniedException',
    };
  });
}

/** Every action of local/events/service.ts → what EventBridge authorizes for the request as a whole. */
export const EVENTS_ACCESS: AccessTable<EventsAccessInput> = {
  // Each entry is authorized on its own (EVENTS_ITEM_ACCESS).
  PutEvents: () => [],
  CreateEventBus: (input) => {
    const name = str(input.body.Name) ?? '*';
    return [
      eventsRequest(input, 'CreateEventBus', eventBusArn(input.region, input.account, name), requestTagContext(tagsOf(input.body.Tags))),
    ];
  },
  DeleteEventBus: onBus('DeleteEventBus', 'Name'),
  DescribeEventBus: onBus('DescribeEventBus', 'Name'),
  ListEventBuses: wildcard('ListEventBuses'),
  PutRule: putRule,
  DescribeRule: onRule('DescribeRule'),
  ListRules: wildcard('ListRules'),
  DeleteRule: onRule('DeleteRule'),
  EnableRule: onRule('EnableRule'),
  DisableRule: onRule('DisableRule'),
  PutTargets: putTargets,
  RemoveTargets: onRule('RemoveTargets', 'Rule'),
  ListTargetsByRule: onRule('ListTargetsByRule', 'Rule'),
  ListRuleNamesByTarget: wildcard('ListRuleNamesByTarget'),
  TestEventPattern: wildcard('TestEventPattern'),
};

/** PutEvents: one check per entry, on the entry's bus; `item` is the entry's index. */
export const EVENTS_ITEM_ACCESS: ItemAccessTable<EventsAccessInput> = {
  PutEvents: putEventsEntries,
};

/** A rule's target as EventBridge invokes it. */
export interface TargetDeliveryInput {
  ruleArn: string;
  target: { Arn: string; RoleArn?: string };
  event: { source: string; 'detail-type': string; region: string };
  account: string;
}

/**
 * What EventBridge's delivery to a target is authorized for: a Lambda function by its
 * resource-based policy (the caller is events.amazonaws.com, `aws:SourceArn` the rule); a state
 * machine or another bus as the target's RoleArn (states:StartExecution, events:PutEvents).
 */
export function targetDeliveryAccess(d: TargetDeliveryInput): AccessRequest[] {
  const arn = d.target.Arn;
  const region = d.event.region;
  if (/^arn:aws[a-z-]*:lambda:/.test(arn)) {
    return [invokeFunctionAccess({ function: arn, region, account: d.account }, { sourceArn: d.ruleArn, sourceAccount: d.account })];
  }
  // The target's own region: a rule may forward to a bus (or start a machine) elsewhere.
  const base = callerContext(arn.split(':')[3] ?? region);
  if (/^arn:aws[a-z-]*:states:/.test(arn)) return [{ action: 'states:StartExecution', resource: arn, context: { ...base } }];
  if (BUS_ARN.test(arn)) {
    return [
      {
        action: 'events:PutEvents',
        resource: arn,
        context: { ...base, 'events:source': [d.event.source], 'events:detail-type': [d.event['detail-type']] },
      },
    ];
  }
  return [];
}
