import { createHash } from 'node:crypto';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import type { CfnResource, CfnTemplate } from './cfn.js';
import { keyIdFor } from '../kms/keys.js';
import {
  evaluateCondition,
  resolveValue,
  UnresolvableReferenceError,
  UnsupportedIntrinsicError,
  type ResolveContext,
} from './intrinsics.js';

/**
 * A CloudFormation stack as the local cloud deploys it: every resource of the template with
 * its physical id (the names CloudFormation would give), its `Ref` and `Fn::GetAtt` values,
 * and its properties resolved, grouped by type. Only the resource types the factory's
 * templates use are known; a template with any other type is refused up front with the
 * logical ids of those resources (`UnsupportedResourceError`) — never a silent skip.
 */
export interface StackOptions {
  stackName: string;
  region: string;
  accountId: string;
  partition?: string;
  /** Values of the template's Parameters (defaults apply to the others). */
  parameters?: Record<string, string>;
}

export interface FunctionSpec {
  logicalId: string;
  /** The physical name (`ami-factory-dev-createImage`). */
  name: string;
  /** The name without the stack prefix (`createImage`: serverless's function key). */
  shortName: string;
  arn: string;
  handler: string;
  runtime: string;
  memoryMb: number;
  timeoutS: number;
  ephemeralStorageMb: number;
  architectures: string[];
  environment: Record<string, string>;
  roleArn: string;
  reservedConcurrency?: number;
  /** The deployment package's file name (`createImage.zip`), when the code is in S3. */
  codeZip?: string;
  deadLetterTargetArn?: string;
}

export interface RoleSpec {
  logicalId: string;
  name: string;
  arn: string;
  path: string;
  trustPolicy: JsonObject;
  /** Inline policies (`Policies`), named `<role logical id>/<PolicyName>`. */
  policies: { name: string; document: JsonObject }[];
  managedPolicyArns: string[];
}

export interface PermissionSpec {
  logicalId: string;
  functionArn: string;
  action: string;
  principal: string;
  sourceArn?: string;
  sourceAccount?: string;
  functionUrlAuthType?: string;
  invokedViaFunctionUrl?: boolean;
}

export interface RuleSpec {
  logicalId: string;
  name: string;
  arn: string;
  /** `default` or the custom bus's name. */
  busName: string;
  description?: string;
  eventPattern?: JsonObject;
  scheduleExpression?: string;
  state: string;
  roleArn?: string;
  targets: JsonObject[];
}

export interface EventBusSpec {
  logicalId: string;
  name: string;
  arn: string;
}

export interface BucketSpec {
  logicalId: string;
  name: string;
  arn: string;
  properties: JsonObject;
}

export interface BucketPolicySpec {
  logicalId: string;
  bucket: string;
  document: JsonObject;
}

export interface StateMachineSpec {
  logicalId: string;
  name: string;
  arn: string;
  definition: JsonObject;
  roleArn: string;
  type: string;
  loggingConfiguration?: JsonObject;
  tracingEnabled: boolean;
}

export interface LogGroupSpec {
  logicalId: string;
  name: string;
  arn: string;
  retentionInDays?: number;
}

export interface FunctionUrlSpec {
  logicalId: string;
  functionArn: string;
  authType: string;
  /** The URL id (the host's first label in AWS: `<id>.lambda-url.<region>.on.aws`). */
  urlId: string;
}

export interface KmsKeySpec {
  logicalId: string;
  keyId: string;
  arn: string;
  /** The key policy (`KeyPolicy`), or KMS's default key policy when the template gives none. */
  policy: JsonObject;
  description?: string;
}

export interface KmsAliasSpec {
  logicalId: string;
  /** `alias/…`. */
  name: string;
  /** The key id or ARN the alias points to (`TargetKeyId`). */
  targetKeyId: string;
}

export interface TopicSpec {
  logicalId: string;
  name: string;
  arn: string;
  subscriptions: { protocol: string; endpoint: string }[];
}

/** A CloudWatch alarm, stored as the template gives it (the local cloud evaluates no metric). */
export interface AlarmSpec {
  logicalId: string;
  name: string;
  arn: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  alarmActions: string[];
  treatMissingData: string;
  properties: JsonObject;
}

/** A standard SQS queue (AWS::SQS::Queue) and the queue attributes its properties set. */
export interface QueueSpec {
  logicalId: string;
  name: string;
  arn: string;
  /** CloudFormation's `Ref`: `https://sqs.<region>.amazonaws.com/<account>/<name>`. */
  url: string;
  /** SQS attribute values as CreateQueue takes them (strings; RedrivePolicy as JSON). */
  attributes: Record<string, string>;
}

/** An AWS::SQS::QueuePolicy: the Policy attribute of each queue it names (by URL). */
export interface QueuePolicySpec {
  logicalId: string;
  queueUrls: string[];
  document: JsonObject;
}

/** An AWS::Lambda::EventInvokeConfig: a function's asynchronous retries and destinations. */
export interface EventInvokeConfigSpec {
  logicalId: string;
  /** The function's name or ARN as the template gives it. */
  functionName: string;
  qualifier: string;
  maximumRetryAttempts?: number;
  maximumEventAgeInSeconds?: number;
  onFailure?: string;
  onSuccess?: string;
}

export interface StackPlan {
  stackName: string;
  region: string;
  accountId: string;
  partition: string;
  functions: FunctionSpec[];
  roles: RoleSpec[];
  permissions: PermissionSpec[];
  rules: RuleSpec[];
  eventBuses: EventBusSpec[];
  buckets: BucketSpec[];
  bucketPolicies: BucketPolicySpec[];
  stateMachines: StateMachineSpec[];
  logGroups: LogGroupSpec[];
  functionUrls: FunctionUrlSpec[];
  kmsKeys: KmsKeySpec[];
  kmsAliases: KmsAliasSpec[];
  topics: TopicSpec[];
  alarms: AlarmSpec[];
  queues: QueueSpec[];
  queuePolicies: QueuePolicySpec[];
  eventInvokeConfigs: EventInvokeConfigSpec[];
  /** Published versions: version ARN → function name. */
  versions: { logicalId: string; functionName: string; arn: string }[];
  outputs: Record<string, JsonValue>;
}

/** Resources of types the local cloud cannot deploy; lists every one of them. */
export class UnsupportedResourceError extends Error {
  override name = 'UnsupportedResourceError';
  constructor(readonly resources: { logicalId: string; type: string }[]) {
    super(
      `The local cloud cannot provision ${resources.length === 1 ? 'this resource' : 'these resources'}: ` +
        resources.map((r) => `${r.logicalId} (${r.type})`).join(', '),
    );
  }
}

/** A template section or property the local cloud does not handle. */
export class UnsupportedTemplateError extends Error {
  override name = 'UnsupportedTemplateError';
}

interface TypeRules {
  /** The physical id: `Ref` of the resource (or the name it is built from). */
  physicalId(r: ResourceCtx): string;
  attributes: Record<string, (r: ResourceCtx) => JsonValue>;
  /** What `Ref` returns when it is not the physical id. */
  ref?(r: ResourceCtx): JsonValue;
}

interface ResourceCtx {
  logicalId: string;
  props: () => JsonObject;
  prop: (name: string) => JsonValue | undefined;
  name: () => string;
  stack: StackOptions & { partition: string };
}

/** The suffix CloudFormation appends to generated names (deterministic here: a hash of stack and logical id). */
function suffix(stackName: string, logicalId: string, length: number): string {
  return createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, length).toUpperCase();
}

/** CloudFormation's generated name: `<stack>-<logicalId>-<SUFFIX>`, cut to the type's maximum length. */
function generatedName(r: ResourceCtx, max: number, lower = false): string {
  const tail = suffix(r.stack.stackName, r.logicalId, 12);
  const head = `${r.stack.stackName}-${r.logicalId}`.slice(0, max - tail.length - 1);
  const name = `${head}-${tail}`;
  return lower ? name.toLowerCase() : name;
}

function named(property: string, max: number, lower = false): (r: ResourceCtx) => string {
  return (r) => {
    const v = r.prop(property);
    return typeof v === 'string' && v !== '' ? v : generatedName(r, max, lower);
  };
}

const arnOf = (r: ResourceCtx, service: string, resource: string, region = r.stack.region, account = r.stack.accountId): string =>
  `arn:${r.stack.partition}:${service}:${region}:${account}:${resource}`;

const TYPES: Record<string, TypeRules> = {
  'AWS::Lambda::Function': {
    physicalId: named('FunctionName', 64),
    attributes: { Arn: (r) => arnOf(r, 'lambda', `function:${r.name()}`) },
  },
  'AWS::Lambda::Version': {
    physicalId: (r) => `${functionNameOf(r.prop('FunctionName'))}:1`,
    ref: (r) => arnOf(r, 'lambda', `function:${r.name()}`),
    attributes: { Version: () => '1' },
  },
  'AWS::Lambda::Permission': { physicalId: (r) => r.logicalId, attributes: {} },
  'AWS::Lambda::Url': {
    physicalId: (r) => suffix(r.stack.stackName, r.logicalId, 32).toLowerCase(),
    attributes: {
      FunctionArn: (r) => String(r.prop('TargetFunctionArn') ?? ''),
      FunctionUrl: (r) => `https://${r.name()}.lambda-url.${r.stack.region}.on.aws/`,
    },
  },
  'AWS::IAM::Role': {
    physicalId: named('RoleName', 64),
    attributes: {
      Arn: (r) => `arn:${r.stack.partition}:iam::${r.stack.accountId}:role${rolePath(r.prop('Path'))}${r.name()}`,
      RoleId: (r) => `AROA${suffix(r.stack.stackName, r.logicalId, 17)}`,
    },
  },
  // An `AWS::IAM::Policy` is an inline policy of the roles it names: planStack adds it to them.
  'AWS::IAM::Policy': { physicalId: (r) => generatedName(r, 128), attributes: {} },
  'AWS::KMS::Key': {
    physicalId: (r) => keyIdFor(r.stack.region, `stack/${r.stack.stackName}/${r.logicalId}`),
    attributes: {
      Arn: (r) => arnOf(r, 'kms', `key/${r.name()}`),
      KeyId: (r) => r.name(),
    },
  },
  'AWS::KMS::Alias': { physicalId: (r) => String(r.prop('AliasName') ?? ''), attributes: {} },
  'AWS::SNS::Topic': {
    physicalId: named('TopicName', 256),
    ref: (r) => arnOf(r, 'sns', r.name()),
    attributes: { TopicArn: (r) => arnOf(r, 'sns', r.name()), TopicName: (r) => r.name() },
  },
  'AWS::CloudWatch::Alarm': {
    physicalId: named('AlarmName', 255),
    attributes: { Arn: (r) => arnOf(r, 'cloudwatch', `alarm:${r.name()}`) },
  },
  'AWS::Logs::LogGroup': {
    physicalId: named('LogGroupName', 512),
    attributes: { Arn: (r) => arnOf(r, 'logs', `log-group:${r.name()}:*`) },
  },
  'AWS::S3::Bucket': {
    physicalId: named('BucketName', 63, true),
    attributes: {
      Arn: (r) => `arn:${r.stack.partition}:s3:::${r.name()}`,
      DomainName: (r) => `${r.name()}.s3.amazonaws.com`,
      RegionalDomainName: (r) => `${r.name()}.s3.${r.stack.region}.amazonaws.com`,
    },
  },
  'AWS::S3::BucketPolicy': { physicalId: (r) => r.logicalId, attributes: {} },
  'AWS::Events::EventBus': {
    physicalId: named('Name', 256),
    attributes: { Arn: (r) => arnOf(r, 'events', `event-bus/${r.name()}`), Name: (r) => r.name() },
  },
  'AWS::Events::Rule': {
    physicalId: named('Name', 64),
    ref: (r) => {
      const bus = busNameOf(r.prop('EventBusName'));
      return bus === 'default' ? r.name() : `${bus}|${r.name()}`;
    },
    attributes: {
      Arn: (r) => {
        const bus = busNameOf(r.prop('EventBusName'));
        return arnOf(r, 'events', bus === 'default' ? `rule/${r.name()}` : `rule/${bus}/${r.name()}`);
      },
    },
  },
  'AWS::SQS::Queue': {
    physicalId: named('QueueName', 80),
    ref: (r) => queueUrl(r),
    attributes: { Arn: (r) => arnOf(r, 'sqs', r.name()), QueueName: (r) => r.name(), QueueUrl: (r) => queueUrl(r) },
  },
  'AWS::SQS::QueuePolicy': { physicalId: (r) => r.logicalId, attributes: {} },
  'AWS::Lambda::EventInvokeConfig': { physicalId: (r) => r.logicalId, attributes: {} },
  'AWS::StepFunctions::StateMachine': {
    physicalId: (r) => {
      const v = r.prop('StateMachineName');
      return typeof v === 'string' && v !== '' ? v : `${r.logicalId}-${suffix(r.stack.stackName, r.logicalId, 12)}`;
    },
    ref: (r) => arnOf(r, 'states', `stateMachine:${r.name()}`),
    attributes: { Arn: (r) => arnOf(r, 'states', `stateMachine:${r.name()}`), Name: (r) => r.name() },
  },
};

function queueUrl(r: ResourceCtx): string {
  const suffixOf = r.stack.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${r.stack.region}.${suffixOf}/${r.stack.accountId}/${r.name()}`;
}

/** The resource types `planStack` deploys. */
export const SUPPORTED_RESOURCE_TYPES: readonly string[] = Object.keys(TYPES);

function rolePath(v: JsonValue | undefined): string {
  return typeof v === 'string' && v !== '' ? v : '/';
}

function functionNameOf(v: JsonValue | undefined): string {
  const s = String(v ?? '');
  return s.includes(':function:') ? (s.split(':function:')[1]?.split(':')[0] ?? s) : s;
}

function busNameOf(v: JsonValue | undefined): string {
  if (v === undefined || v === null || v === '') return 'default';
  const s = String(v);
  return s.startsWith('arn:') ? (s.split(':event-bus/')[1] ?? s) : s;
}

/** Resolves the template into a plan of typed resources. */
export function planStack(template: CfnTemplate, options: StackOptions): StackPlan {
  const stack = { ...options, partition: options.partition ?? 'aws' };
  if (template.Mappings !== undefined && Object.keys(template.Mappings).length > 0) {
    throw new UnsupportedTemplateError("The local cloud does not evaluate the template's Mappings section");
  }
  const unsupported = Object.entries(template.Resources)
    .filter(([, r]) => !Object.hasOwn(TYPES, r.Type))
    .map(([logicalId, r]) => ({ logicalId, type: r.Type }));
  if (unsupported.length > 0) throw new UnsupportedResourceError(unsupported);

  const parameters: Record<string, JsonValue> = {
    'AWS::Region': stack.region,
    'AWS::AccountId': stack.accountId,
    'AWS::Partition': stack.partition,
    'AWS::StackName': stack.stackName,
    'AWS::StackId': `arn:${stack.partition}:cloudformation:${stack.region}:${stack.accountId}:stack/${stack.stackName}/${suffix(stack.stackName, '', 8)}`,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    const given = options.parameters?.[name];
    if (given !== undefined) parameters[name] = given;
    else if (p.Default !== undefined) parameters[name] = p.Default;
    else throw new UnsupportedTemplateError(`Parameter ${name} has no value and no default`);
  }

  const names = new Map<string, string>();
  const resolving = new Set<string>();
  const resolvedProps = new Map<string, JsonObject>();
  const conditionValues = new Map<string, boolean>();

  const condition = (name: string): boolean => {
    const known = conditionValues.get(name);
    if (known !== undefined) return known;
    const expression = template.Conditions?.[name];
    if (expression === undefined) throw new UnresolvableReferenceError(`no condition named ${name} in the Conditions section`);
    if (resolving.has(`condition:${name}`)) throw new UnresolvableReferenceError(`Conditions.${name}: circular reference`);
    resolving.add(`condition:${name}`);
    const value = evaluateCondition(expression, context(`Conditions.${name}`), name);
    resolving.delete(`condition:${name}`);
    conditionValues.set(name, value);
    return value;
  };
  /** A resource whose Condition is false is not created: it is not in the plan, and nothing may refer to it. */
  const created = (def: CfnResource): boolean => def.Condition === undefined || condition(def.Condition);

  const resource = (logicalId: string, from: string): { def: CfnResource; rules: TypeRules; ctx: ResourceCtx } => {
    const def = template.Resources[logicalId];
    if (def === undefined) throw new UnresolvableReferenceError(`${from}: no resource, parameter or pseudo parameter named ${logicalId}`);
    if (!created(def))
      throw new UnresolvableReferenceError(`${from}: ${logicalId} is not created (its condition ${def.Condition} is false)`);
    const rules = TYPES[def.Type] as TypeRules;
    const ctx: ResourceCtx = {
      logicalId,
      stack,
      props: () => props(logicalId),
      // A name property may itself be an intrinsic: resolve only that property.
      prop: (name) => {
        const raw = def.Properties?.[name];
        return raw === undefined ? undefined : resolveValue(raw, context(logicalId), logicalId);
      },
      name: () => physical(logicalId, from),
    };
    return { def, rules, ctx };
  };

  const physical = (logicalId: string, from: string): string => {
    const known = names.get(logicalId);
    if (known !== undefined) return known;
    if (resolving.has(`name:${logicalId}`)) throw new UnresolvableReferenceError(`${from}: circular reference through ${logicalId}`);
    resolving.add(`name:${logicalId}`);
    const { rules, ctx } = resource(logicalId, from);
    const name = rules.physicalId(ctx);
    resolving.delete(`name:${logicalId}`);
    names.set(logicalId, name);
    return name;
  };

  const context = (from: string): ResolveContext => ({
    parameters,
    condition,
    ref: (id) => {
      const { rules, ctx } = resource(id, from);
      return rules.ref !== undefined ? rules.ref(ctx) : physical(id, from);
    },
    getAtt: (id, attribute) => {
      const { def, rules, ctx } = resource(id, from);
      const get = rules.attributes[attribute];
      if (get === undefined)
        throw new UnsupportedIntrinsicError(from, 'Fn::GetAtt', `${def.Type} ${id} has no attribute ${attribute} here`);
      return get(ctx);
    },
  });

  function props(logicalId: string): JsonObject {
    const done = resolvedProps.get(logicalId);
    if (done !== undefined) return done;
    if (resolving.has(logicalId)) throw new UnresolvableReferenceError(`${logicalId}: circular reference in its properties`);
    resolving.add(logicalId);
    const raw = template.Resources[logicalId]?.Properties ?? {};
    const value = resolveValue(raw, context(logicalId), logicalId);
    resolving.delete(logicalId);
    const out = isJsonObject(value) ? value : {};
    resolvedProps.set(logicalId, out);
    return out;
  }

  const plan: StackPlan = {
    stackName: stack.stackName,
    region: stack.region,
    accountId: stack.accountId,
    partition: stack.partition,
    functions: [],
    roles: [],
    permissions: [],
    rules: [],
    eventBuses: [],
    buckets: [],
    bucketPolicies: [],
    stateMachines: [],
    logGroups: [],
    functionUrls: [],
    kmsKeys: [],
    kmsAliases: [],
    topics: [],
    alarms: [],
    queues: [],
    queuePolicies: [],
    eventInvokeConfigs: [],
    versions: [],
    outputs: {},
  };
  const attr = (id: string, a: string): string => String(context(id).getAtt(id, a));
  const rolePolicies: { logicalId: string; roles: string[]; name: string; document: JsonObject }[] = [];

  for (const [logicalId, def] of Object.entries(template.Resources)) {
    if (!created(def)) continue;
    const p = props(logicalId);
    const name = physical(logicalId, logicalId);
    switch (def.Type) {
      case 'AWS::Lambda::Function':
        plan.functions.push(functionSpec(logicalId, name, attr(logicalId, 'Arn'), p, stack.stackName));
        break;
      case 'AWS::IAM::Role':
        plan.roles.push({
          logicalId,
          name,
          arn: attr(logicalId, 'Arn'),
          path: rolePath(p.Path),
          trustPolicy: obj(p.AssumeRolePolicyDocument, logicalId, 'AssumeRolePolicyDocument'),
          policies: list(p.Policies).map((x, i) => {
            const o = obj(x, logicalId, `Policies[${i}]`);
            return { name: `${name}/${String(o.PolicyName)}`, document: obj(o.PolicyDocument, logicalId, `Policies[${i}].PolicyDocument`) };
          }),
          managedPolicyArns: list(p.ManagedPolicyArns).map(String),
        });
        break;
      case 'AWS::Lambda::Permission':
        plan.permissions.push({
          logicalId,
          functionArn: String(p.FunctionName),
          action: String(p.Action),
          principal: String(p.Principal),
          ...(p.SourceArn !== undefined ? { sourceArn: String(p.SourceArn) } : {}),
          ...(p.SourceAccount !== undefined ? { sourceAccount: String(p.SourceAccount) } : {}),
          ...(p.FunctionUrlAuthType !== undefined ? { functionUrlAuthType: String(p.FunctionUrlAuthType) } : {}),
          ...(p.InvokedViaFunctionUrl !== undefined
            ? { invokedViaFunctionUrl: p.InvokedViaFunctionUrl === true || p.InvokedViaFunctionUrl === 'true' }
            : {}),
        });
        break;
      case 'AWS::Events::Rule':
        plan.rules.push({
          logicalId,
          name,
          arn: attr(logicalId, 'Arn'),
          busName: busNameOf(p.EventBusName),
          ...(typeof p.Description === 'string' ? { description: p.Description } : {}),
          ...(p.EventPattern !== undefined ? { eventPattern: obj(p.EventPattern, logicalId, 'EventPattern') } : {}),
          ...(typeof p.ScheduleExpression === 'string' ? { scheduleExpression: p.ScheduleExpression } : {}),
          state: typeof p.State === 'string' ? p.State : 'ENABLED',
          ...(typeof p.RoleArn === 'string' ? { roleArn: p.RoleArn } : {}),
          targets: list(p.Targets).map((t, i) => obj(t, logicalId, `Targets[${i}]`)),
        });
        break;
      case 'AWS::Events::EventBus':
        plan.eventBuses.push({ logicalId, name, arn: attr(logicalId, 'Arn') });
        break;
      case 'AWS::S3::Bucket':
        plan.buckets.push({ logicalId, name, arn: attr(logicalId, 'Arn'), properties: p });
        break;
      case 'AWS::S3::BucketPolicy':
        plan.bucketPolicies.push({ logicalId, bucket: String(p.Bucket), document: obj(p.PolicyDocument, logicalId, 'PolicyDocument') });
        break;
      case 'AWS::StepFunctions::StateMachine':
        plan.stateMachines.push(stateMachineSpec(logicalId, name, attr(logicalId, 'Arn'), p));
        break;
      case 'AWS::Logs::LogGroup':
        plan.logGroups.push({
          logicalId,
          name,
          arn: attr(logicalId, 'Arn'),
          ...(typeof p.RetentionInDays === 'number' ? { retentionInDays: p.RetentionInDays } : {}),
        });
        break;
      case 'AWS::Lambda::Url':
        plan.functionUrls.push({ logicalId, functionArn: String(p.TargetFunctionArn), authType: String(p.AuthType), urlId: name });
        break;
      case 'AWS::IAM::Policy':
        rolePolicies.push({
          logicalId,
          roles: list(p.Roles).map(String),
          name: String(p.PolicyName),
          document: obj(p.PolicyDocument, logicalId, 'PolicyDocument'),
        });
        if (list(p.Users).length > 0 || list(p.Groups).length > 0)
          throw new UnsupportedTemplateError(`${logicalId}: the local cloud attaches policies to roles only (Users, Groups)`);
        break;
      case 'AWS::KMS::Key':
        plan.kmsKeys.push({
          logicalId,
          keyId: name,
          arn: attr(logicalId, 'Arn'),
          policy:
            p.KeyPolicy !== undefined
              ? obj(p.KeyPolicy, logicalId, 'KeyPolicy')
              : {
                  Version: '2012-10-17',
                  Statement: [
                    {
                      Sid: 'Enable IAM User Permissions',
                      Effect: 'Allow',
                      Principal: { AWS: `arn:${stack.partition}:iam::${stack.accountId}:root` },
                      Action: 'kms:*',
                      Resource: '*',
                    },
                  ],
                },
          ...(typeof p.Description === 'string' ? { description: p.Description } : {}),
        });
        break;
      case 'AWS::KMS::Alias':
        if (!name.startsWith('alias/') || name.startsWith('alias/aws/'))
          throw new UnsupportedTemplateError(`${logicalId}: AliasName must begin with alias/ and not alias/aws/ (${name})`);
        plan.kmsAliases.push({ logicalId, name, targetKeyId: String(p.TargetKeyId) });
        break;
      case 'AWS::SNS::Topic':
        plan.topics.push({
          logicalId,
          name,
          arn: String(context(logicalId).ref(logicalId)),
          subscriptions: list(p.Subscription).map((x, i) => {
            const o = obj(x, logicalId, `Subscription[${i}]`);
            return { protocol: String(o.Protocol), endpoint: String(o.Endpoint) };
          }),
        });
        break;
      case 'AWS::CloudWatch::Alarm': {
        const dimensions: Record<string, string> = {};
        for (const [i, d] of list(p.Dimensions).entries()) {
          const o = obj(d, logicalId, `Dimensions[${i}]`);
          dimensions[String(o.Name)] = String(o.Value);
        }
        plan.alarms.push({
          logicalId,
          name,
          arn: attr(logicalId, 'Arn'),
          namespace: String(p.Namespace ?? ''),
          metricName: String(p.MetricName ?? ''),
          dimensions,
          alarmActions: list(p.AlarmActions).map(String),
          treatMissingData: typeof p.TreatMissingData === 'string' ? p.TreatMissingData : 'missing',
          properties: p,
        });
        break;
      }
      case 'AWS::SQS::Queue':
        plan.queues.push({
          logicalId,
          name,
          arn: attr(logicalId, 'Arn'),
          url: attr(logicalId, 'QueueUrl'),
          attributes: queueAttributes(logicalId, p),
        });
        break;
      case 'AWS::SQS::QueuePolicy':
        plan.queuePolicies.push({
          logicalId,
          queueUrls: list(p.Queues).map(String),
          document: obj(p.PolicyDocument, logicalId, 'PolicyDocument'),
        });
        break;
      case 'AWS::Lambda::EventInvokeConfig':
        plan.eventInvokeConfigs.push(eventInvokeConfigSpec(logicalId, p));
        break;
      case 'AWS::Lambda::Version':
        plan.versions.push({ logicalId, functionName: functionNameOf(p.FunctionName), arn: String(context(logicalId).ref(logicalId)) });
        break;
    }
  }
  // Inline policies of AWS::IAM::Policy resources join the roles they name (Roles: role names).
  for (const rp of rolePolicies) {
    for (const roleName of rp.roles) {
      const role = plan.roles.find((r) => r.name === roleName);
      if (role === undefined)
        throw new UnsupportedTemplateError(`${rp.logicalId}: Roles names ${roleName}, which is not a role of the stack`);
      role.policies.push({ name: `${role.name}/${rp.name}`, document: rp.document });
    }
  }
  for (const [name, o] of Object.entries(template.Outputs ?? {})) {
    if (o.Condition !== undefined && !condition(o.Condition)) continue;
    plan.outputs[name] = resolveValue(o.Value, context(`Outputs.${name}`), `Outputs.${name}`);
  }
  return plan;
}

function obj(v: JsonValue | undefined, logicalId: string, what: string): JsonObject {
  if (typeof v === 'string') {
    try {
      const parsed = JSON.parse(v) as JsonValue;
      if (isJsonObject(parsed)) return parsed;
    } catch {
      // fall through to the error
    }
  }
  if (!isJsonObject(v ?? null)) throw new UnsupportedTemplateError(`${logicalId}: ${what} must be an object`);
  return v as JsonObject;
}

function list(v: JsonValue | undefined): JsonValue[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

function num(v: JsonValue | undefined, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
}

function functionSpec(logicalId: string, name: string, arn: string, p: JsonObject, stackName: string): FunctionSpec {
  const env = isJsonObject(p.Environment ?? null) ? (p.Environment as JsonObject).Variables : undefined;
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(isJsonObject(env ?? null) ? (env as JsonObject) : {})) environment[k] = String(v);
  const code = isJsonObject(p.Code ?? null) ? (p.Code as JsonObject) : {};
  const key = typeof code.S3Key === 'string' ? code.S3Key : undefined;
  if (typeof p.Handler !== 'string' || p.Handler === '') throw new UnsupportedTemplateError(`${logicalId}: a function needs a Handler`);
  const spec: FunctionSpec = {
    logicalId,
    name,
    shortName: name.startsWith(`${stackName}-`) ? name.slice(stackName.length + 1) : name,
    arn,
    handler: p.Handler,
    runtime: String(p.Runtime ?? ''),
    memoryMb: num(p.MemorySize, 128),
    timeoutS: num(p.Timeout, 3),
    ephemeralStorageMb: isJsonObject(p.EphemeralStorage ?? null) ? num((p.EphemeralStorage as JsonObject).Size, 512) : 512,
    architectures: list(p.Architectures).map(String),
    environment,
    roleArn: String(p.Role ?? ''),
  };
  if (p.ReservedConcurrentExecutions !== undefined) spec.reservedConcurrency = num(p.ReservedConcurrentExecutions, 0);
  if (key !== undefined) spec.codeZip = key.split('/').pop() as string;
  const dlq = isJsonObject(p.DeadLetterConfig ?? null) ? (p.DeadLetterConfig as JsonObject).TargetArn : undefined;
  if (typeof dlq === 'string') spec.deadLetterTargetArn = dlq;
  return spec;
}

/** AWS::SQS::Queue properties that are queue attributes, as CreateQueue takes them. */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'SqsManagedSseEnabled',
  'KmsMasterKeyId',
  'RedrivePolicy',
];

function queueAttributes(logicalId: string, p: JsonObject): Record<string, string> {
  if (p.FifoQueue === true || p.FifoQueue === 'true')
    throw new UnsupportedTemplateError(`${logicalId}: the local SQS has standard queues only (FifoQueue)`);
  const known = new Set([...QUEUE_ATTRIBUTES, 'QueueName', 'Tags', 'FifoQueue']);
  const other = Object.keys(p).filter((k) => !known.has(k));
  if (other.length > 0) throw new UnsupportedTemplateError(`${logicalId}: the local SQS does not model ${other.join(', ')}`);
  const out: Record<string, string> = {};
  for (const k of QUEUE_ATTRIBUTES) {
    const v = p[k];
    if (v === undefined || v === null) continue;
    out[k] = isJsonObject(v) ? JSON.stringify(v) : String(v);
  }
  return out;
}

function destinationOf(config: JsonValue | undefined, which: 'OnFailure' | 'OnSuccess'): string | undefined {
  const d = isJsonObject(config ?? null) ? (config as JsonObject)[which] : undefined;
  const arn = isJsonObject(d ?? null) ? (d as JsonObject).Destination : undefined;
  return typeof arn === 'string' && arn !== '' ? arn : undefined;
}

function eventInvokeConfigSpec(logicalId: string, p: JsonObject): EventInvokeConfigSpec {
  if (typeof p.FunctionName !== 'string' || p.FunctionName === '')
    throw new UnsupportedTemplateError(`${logicalId}: an event invoke config needs a FunctionName`);
  const spec: EventInvokeConfigSpec = {
    logicalId,
    functionName: p.FunctionName,
    qualifier: typeof p.Qualifier === 'string' ? p.Qualifier : '$LATEST',
  };
  if (p.MaximumRetryAttempts !== undefined) spec.maximumRetryAttempts = num(p.MaximumRetryAttempts, 2);
  if (p.MaximumEventAgeInSeconds !== undefined) spec.maximumEventAgeInSeconds = num(p.MaximumEventAgeInSeconds, 21600);
  const onFailure = destinationOf(p.DestinationConfig, 'OnFailure');
  if (onFailure !== undefined) spec.onFailure = onFailure;
  const onSuccess = destinationOf(p.DestinationConfig, 'OnSuccess');
  if (onSuccess !== undefined) spec.onSuccess = onSuccess;
  return spec;
}

function stateMachineSpec(logicalId: string, name: string, arn: string, p: JsonObject): StateMachineSpec {
  let definition: JsonObject;
  if (typeof p.DefinitionString === 'string') {
    try {
      definition = JSON.parse(p.DefinitionString) as JsonObject;
    } catch (e) {
      throw new UnsupportedTemplateError(`${logicalId}: DefinitionString is not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  } else if (isJsonObject(p.Definition ?? null)) {
    definition = p.Definition as JsonObject;
  } else {
    throw new UnsupportedTemplateError(
      `${logicalId}: a state machine needs DefinitionString or Definition (DefinitionS3Location is not read locally)`,
    );
  }
  const tracing = isJsonObject(p.TracingConfiguration ?? null) ? (p.TracingConfiguration as JsonObject).Enabled === true : false;
  return {
    logicalId,
    name,
    arn,
    definition,
    roleArn: String(p.RoleArn ?? ''),
    type: typeof p.StateMachineType === 'string' ? p.StateMachineType : 'STANDARD',
    ...(isJsonObject(p.LoggingConfiguration ?? null) ? { loggingConfiguration: p.LoggingConfiguration as JsonObject } : {}),
    tracingEnabled: tracing,
  };
}
