import type { JsonObject } from '../json.js';
import { fromCloudFormation, UnsupportedBucketConfigurationError } from '../s3/configuration.js';
import type { BucketConfiguration } from '../s3/store.js';
import type { IdentityStore } from '../iam/identity.js';
import type { LocalFunction } from '../lambda/runtime.js';
import type {
  BucketSpec,
  EventInvokeConfigSpec,
  FunctionSpec,
  FunctionUrlSpec,
  KmsAliasSpec,
  KmsKeySpec,
  PermissionSpec,
  QueueSpec,
  RuleSpec,
  StackPlan,
  StateMachineSpec,
} from './stack.js';

/**
 * Deploys a planned stack into the local cloud, resource by resource, the way CloudFormation
 * creates them: roles, buckets (and their policies), buses, log groups, functions with their
 * own role credentials and environment, KMS keys (with their key policy) and aliases, resource-based permissions, function URLs, state
 * machines, SQS queues (with their policies), the functions' asynchronous invocation configs, and
 * the EventBridge rules with their targets. Buckets, buses and rules are made
 * through the cloud's own APIs as the administrator, so those APIs are exercised too.
 */
export interface DeployTargets {
  identity: IdentityStore;
  registerFunction(fn: LocalFunction): void;
  addPermission(p: PermissionSpec): void;
  registerFunctionUrl(u: FunctionUrlSpec): void;
  registerStateMachine(sm: StateMachineSpec): void;
  setResourcePolicy(arn: string, name: string, document: JsonObject): void;
  createLogGroup(name: string): void;
  /** A customer managed key and its aliases, in the stack's region. */
  defineKmsKey(key: KmsKeySpec, region: string): void;
  defineKmsAlias(alias: KmsAliasSpec, region: string): void;
  /** A bucket's versioning, encryption, public access block and lifecycle, after it is created. */
  configureBucket(bucket: string, configuration: BucketConfiguration): void;
  /** An SQS queue with its attributes, in the stack's region. */
  createQueue(queue: QueueSpec, region: string): void;
  /** A queue's Policy attribute (AWS::SQS::QueuePolicy), by the queue's URL, in the stack's region. */
  setQueuePolicy(queueUrl: string, document: JsonObject, region: string): void;
  /** A function's asynchronous invocation config (retries, destinations). */
  configureAsyncInvoke(config: EventInvokeConfigSpec): void;
  /** Admin API calls through the cloud's endpoint. */
  api: AdminApi;
  /** The function's code and task root. */
  code(fn: FunctionSpec): { entry: string; exportName: string; taskRoot: string };
  /** The runtime's environment variables besides the template's (endpoint, credentials, ...). */
  runtimeEnvironment(
    fn: FunctionSpec,
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string },
    taskRoot: string,
  ): Record<string, string>;
  /** Test/debug overrides of a function's environment (by serverless key), applied last. */
  environmentOverrides?: Record<string, Record<string, string>>;
}

export interface AdminApi {
  putParameter(input: { Name: string; Type: 'String' | 'SecureString'; Value: string; Description?: string }): Promise<void>;
  createBucket(name: string, region: string): Promise<void>;
  createEventBus(name: string, region: string): Promise<void>;
  putRule(rule: RuleSpec, region: string): Promise<void>;
  /** Rule names that exist on a bus (to remove those an earlier deployment made and this one does not). */
  listRules(bus: string, region: string): Promise<string[]>;
  deleteRule(name: string, bus: string, region: string): Promise<void>;
}

export interface DeployResult {
  functions: LocalFunction[];
  rules: string[];
}

/** The bucket's configuration; a property the local S3 does not model names the bucket. */
function bucketConfiguration(b: BucketSpec): BucketConfiguration {
  try {
    return fromCloudFormation(b.properties);
  } catch (e) {
    if (e instanceof UnsupportedBucketConfigurationError)
      throw new UnsupportedBucketConfigurationError(`${b.logicalId}: ${e.message}`, { cause: e });
    throw e;
  }
}

export async function deployStack(
  plan: StackPlan,
  t: DeployTargets,
  opts: { removeStaleRulesWithPrefix?: string } = {},
): Promise<DeployResult> {
  for (const role of plan.roles) {
    t.identity.putRole({
      name: role.name,
      arn: role.arn,
      path: role.path,
      trustPolicy: role.trustPolicy,
      policies: role.policies,
      managedPolicyArns: role.managedPolicyArns,
    });
  }
  for (const k of plan.kmsKeys) t.defineKmsKey(k, plan.region);
  for (const a of plan.kmsAliases) t.defineKmsAlias(a, plan.region);
  for (const b of plan.buckets) {
    await t.api.createBucket(b.name, plan.region);
    t.configureBucket(b.name, bucketConfiguration(b));
  }
  for (const p of plan.bucketPolicies) t.setResourcePolicy(`arn:${plan.partition}:s3:::${p.bucket}`, `${p.logicalId}`, p.document);
  for (const q of plan.queues) t.createQueue(q, plan.region);
  for (const p of plan.queuePolicies) for (const url of p.queueUrls) t.setQueuePolicy(url, p.document, plan.region);
  for (const bus of plan.eventBuses) await t.api.createEventBus(bus.name, plan.region);
  for (const g of plan.logGroups) t.createLogGroup(g.name);

  const functions: LocalFunction[] = [];
  for (const spec of plan.functions) {
    const credentials = t.identity.assumeRole(spec.roleArn, spec.name);
    const code = t.code(spec);
    const environment = {
      ...spec.environment,
      ...t.runtimeEnvironment(spec, credentials, code.taskRoot),
      ...(t.environmentOverrides?.[spec.shortName] ?? {}),
    };
    const fn: LocalFunction = {
      name: spec.name,
      shortName: spec.shortName,
      arn: spec.arn,
      handler: spec.handler,
      runtime: spec.runtime,
      memoryMb: spec.memoryMb,
      timeoutS: spec.timeoutS,
      environment,
      roleArn: spec.roleArn,
      entry: code.entry,
      exportName: code.exportName,
      ...(spec.reservedConcurrency !== undefined ? { reservedConcurrency: spec.reservedConcurrency } : {}),
    };
    t.registerFunction(fn);
    functions.push(fn);
  }
  for (const c of plan.eventInvokeConfigs) t.configureAsyncInvoke(c);
  for (const p of plan.permissions) t.addPermission(p);
  for (const u of plan.functionUrls) t.registerFunctionUrl(u);
  for (const sm of plan.stateMachines) t.registerStateMachine(sm);

  const made = new Map<string, Set<string>>();
  for (const rule of plan.rules) {
    await t.api.putRule(rule, plan.region);
    const set = made.get(rule.busName) ?? new Set<string>();
    set.add(rule.name);
    made.set(rule.busName, set);
  }
  // Rules an earlier deployment of this stack made (a persisted state dir) that the template no longer has.
  const prefix = opts.removeStaleRulesWithPrefix;
  if (prefix !== undefined) {
    for (const bus of new Set(['default', ...plan.eventBuses.map((b) => b.name)])) {
      for (const name of await t.api.listRules(bus, plan.region)) {
        if (name.startsWith(prefix) && !(made.get(bus)?.has(name) ?? false)) await t.api.deleteRule(name, bus, plan.region);
      }
    }
  }
  return { functions, rules: plan.rules.map((r) => r.name) };
}
