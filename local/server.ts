import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PROJECT_ROOT } from './paths.js';
import { VirtualClock } from './clock.js';
import { installClock } from '../functions/lib/clock.js';
import { requestScope, type LocalRequest, type LocalResponse, type LocalService } from './http.js';
import { writeJsonAtomic } from './persist.js';
import { FaultInjector, FaultSpecError, type FaultSpec } from './faults.js';
import { acquireLock, type HeldLock } from './lock.js';
import { randomUUID } from 'node:crypto';
import { LocalLambda, LambdaServiceError, type InvokeCaller, type LocalFunction } from './lambda/runtime.js';
import { packagedEsbuildOptions, sourceBundles, splitHandler, unpackedZip, type CodeSource } from './lambda/code.js';
import { SfnService } from './sfn/service.js';
import { createEc2Service, LOCAL_ACCOUNT_ID, type Ec2Service } from './ec2/service.js';
import { REGIONS } from './ec2/model.js';
import { createS3Service, type S3Service } from './s3/service.js';
import { createAutoScalingService, type AutoScalingService } from './autoscaling/service.js';
import { localBundleRegistration, localEc2CertificateDir, localEc2CertificateFor } from './ec2-bundles.js';
import { localEc2Certificate } from './ec2/certificate.js';
import { createFunctionUrlService, LOCAL_SLACK_SIGNING_SECRET } from './function-url.js';
import { createSlackService, LOCAL_SLACK_BOT_TOKEN, SLACK_API_PATH, type SlackService } from './slack.js';
import { createEventsService, type EventsService } from './events/service.js';
import { createSqsService, type MessageAttribute, type SqsService } from './sqs/service.js';
import { queueArnOfUrl } from './sqs/access.js';
import { callerContext } from './iam/access-request.js';
import { IdentityStore } from './iam/identity.js';
import { Authorizer, type AccessFailure } from './iam/authorizer.js';
import { loadIamCatalog } from './iam/actions.js';
import {
  autoScalingAuthorization,
  ec2Authorization,
  eventsAuthorization,
  s3Authorization,
  sfnAuthorization,
  sqsAuthorization,
  ssmAuthorization,
} from './iam/wiring.js';
import { createKmsKeyRegistry } from './kms/keys.js';
import type { AccessRequest } from './iam/access-request.js';
import { createSsmService, type SsmService } from './ssm/service.js';
import { invokeFunctionAccess, invokeFunctionUrlAccess } from './lambda-access.js';
import { ensurePackaged, type PackagedStack } from './template/package.js';
import { readTemplate, type CfnTemplate } from './template/cfn.js';
import { planStack, type FunctionSpec, type PermissionSpec, type RuleSpec, type StackPlan } from './template/stack.js';
import { deployStack, type AdminApi, type DeployTargets } from './template/deploy.js';
import type { JsonObject, JsonValue } from './json.js';

/**
 * The embedded local cloud: EC2, Step Functions, EventBridge, S3, Auto Scaling, SSM, SQS and Lambda on
 * one loopback port, wire-compatible with the AWS SDK v3 clients and the AWS CLI through the
 * standard endpoint variables (`AWS_ENDPOINT_URL`).
 *
 * One template, two clouds: what runs here is what deploys. The cloud deploys the
 * CloudFormation template `osls package` writes (packaged on demand and cached by a hash of
 * its inputs, local/template/package.ts): every function with its own handler, environment,
 * role, memory and timeout, running in its own Lambda execution environment with its role's
 * credentials (local/lambda/runtime.ts); both state machines with their definitions and role;
 * the EventBridge rules, schedules and targets; the bus; the buckets; the function URL; the
 * dead-letter queues with their policy and the functions' asynchronous invocation configs. The
 * region forwarder (`resources/region-forwarder.yml`) is deployed in every other region, as
 * the deploy guide asks. Nothing is read from serverless.yml. EC2 emits its state-change
 * events on the default bus. State lives under `stateDir`.
 */
export interface LocalCloudOptions {
  /** Port to listen on; 0 picks a free port (tests). Default 4566. */
  port?: number;
  host?: string;
  /** Where the world is persisted; `null` keeps it in memory only. Default `<projectRoot>/.ami-factory`. */
  stateDir?: string | null;
  /** Simulated ms per real ms (600: EC2's 5 minutes take half a second). Default 1. */
  timeScale?: number;
  /** Seed the demo world on first start (default true). */
  seed?: boolean;
  /** Simulated ms an image takes to become available (default: the EC2 endpoint's default). */
  imageAvailableAfterMs?: number;
  /** Simulated ms a CopyImage copy takes to become available (default: the EC2 endpoint's, twice `imageAvailableAfterMs` when that is given). */
  copyAvailableAfterMs?: number;
  /** Token-bucket throttling (default true). */
  throttling?: boolean;
  /** What EC2's token buckets refill on: `real` time (default, as in AWS) or `simulated` time (benchmarks). */
  throttleClock?: 'real' | 'simulated';
  /** Enable the template's schedule rules (default true). Tests that drive the sweeper by hand turn them off. */
  schedules?: boolean;
  /** Enable the families' build and retention schedule rules (default true; off when `schedules` is off). */
  familySchedules?: boolean;
  /** Deliver EC2's state-change events (default true); false models lost events. */
  ec2Events?: boolean;
  /** Bulk inventory of managed images, seeded once per family (benchmarks; local/ec2/seed.ts). */
  seedImages?: { count: number; regions: string[]; family: string };
  projectRoot?: string;
  /**
   * Another factory config than `<projectRoot>/factory.config.yml`: the functions' package
   * root holds it and the family schedule rules are generated for it by deploy/schedules.cjs,
   * as `osls package` with `AMI_FACTORY_CONFIG` would.
   */
  configFile?: string;
  /** Where the functions' code comes from (default `AMI_FACTORY_LAMBDA_CODE` or `source`). */
  code?: CodeSource;
  /** Extra environment variables per function (by serverless key), over the template's (debugging, tests). */
  functionEnvironment?: Record<string, Record<string, string>>;
  /** Progress lines (packaging, deployment) and IAM denials. */
  log?: (line: string) => void;
  /**
   * Start an execution environment for every function at once, in the background (Lambda's
   * provisioned concurrency): the demo and the CLI start warm. Default false (tests).
   */
  prewarm?: boolean;
  /** Changes the packaged template before it is deployed (tests: a role with one grant less). */
  editTemplate?: (template: CfnTemplate) => CfnTemplate;
  /** Enforce IAM on every call (default true, or `AMI_FACTORY_LOCAL_IAM=off`); false only records what would be denied. */
  iam?: boolean;
  /** Faults to inject from the start (local/faults.ts); changed later through `cloud.faults` or `PUT /_local/faults`. */
  faults?: FaultSpec;
}

export interface LocalCloud {
  endpoint: string;
  port: number;
  accountId: string;
  region: string;
  clock: VirtualClock;
  ec2: Ec2Service;
  sfn: SfnService;
  s3: S3Service;
  events: EventsService;
  autoscaling: AutoScalingService;
  ssm: SsmService;
  /** SQS: the stack's dead-letter queues. */
  sqs: SqsService;
  /** The Slack stand-in (local/slack.ts): the Web API the functions call, and the messages they posted. */
  slack: SlackService;
  lambda: LocalLambda;
  identity: IdentityStore;
  /** IAM decisions: denials and the actions each function was seen to call. */
  authorizer: Authorizer;
  /** The fault injector (local/faults.ts): `faults.set(spec)` switches faults mid-run. */
  faults: FaultInjector;
  stateDir: string | null;
  /** The deployed stack (its resources and outputs). */
  stack: StackPlan;
  stateBucket: string;
  eventBus: string;
  /**
   * The factory.config.yml the functions read, when the cloud was started with `configFile`
   * (its JSON rendering, as the zips carry it, in this cloud's scratch space; tests may widen it
   * between builds, writing JSON: functions read it again when it changes,
   * functions/lib/factory-config.ts).
   */
  functionConfigFile: string | undefined;
  /** The local URL of a function's URL (by serverless key), e.g. slackCommand's. */
  functionUrl(shortName: string): string;
  /** A state machine's ARN by its short name (`image-factory`) or full name. */
  stateMachineArn(name: string, region?: string): string;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 4566;
export { PROJECT_ROOT };

/** The factory's home region locally (the stack, state machines, bus and state bucket). */
export const HOME_REGION = 'us-east-1';
/** The regions of the local EC2 world (DescribeRegions): the forwarder stack is deployed in the others. */
const WORLD_REGIONS: readonly string[] = REGIONS;
const FORWARDER_TEMPLATE = 'resources/region-forwarder.yml';
/** deploy/schedules.cjs names the family schedule rules with these logical-id prefixes. */
const FAMILY_SCHEDULE_PREFIXES = ['ScheduleBuild', 'ScheduleRetention'];

interface ClockState {
  virtualMs: number;
}

interface ServerlessState {
  service?: { service?: string; provider?: { stage?: string; region?: string } };
}

/** The service name and stage osls packaged (serverless-state.json), which name the stack. */
function stackNameOf(pkg: PackagedStack): string {
  const state = JSON.parse(readFileSync(join(pkg.dir, 'serverless-state.json'), 'utf8')) as ServerlessState;
  return `${state.service?.service ?? 'ami-factory'}-${state.service?.provider?.stage ?? pkg.stage}`;
}

/**
 * The template for another factory config: the family schedule resources replaced by what
 * deploy/schedules.cjs (the generator `osls package` runs) makes for that config, and the
 * config-derived IAM (deploy/iam-scopes.cjs: the regions of every `aws:RequestedRegion`
 * condition, the generated policies of bundle locations and KMS keys) made for it too, and the
 * dead letters of the new rules (deploy/dead-letters.cjs).
 */
/** deploy/config-json.cjs's rendering of a factory config as the zips carry it. */
function configAsJson(projectRoot: string, text: string, file: string): string {
  const { configAsJson: render } = createRequire(import.meta.url)(join(projectRoot, 'deploy', 'config-json.cjs')) as {
    configAsJson(text: string, file: string): string;
  };
  return render(text, file);
}

function templateForConfig(template: CfnTemplate, projectRoot: string, configFile: string): CfnTemplate {
  const require = createRequire(import.meta.url);
  const generator = require(join(projectRoot, 'deploy', 'schedules.cjs')) as {
    scheduleResources(config: unknown): { Resources: CfnTemplate['Resources'] };
  };
  const { parse } = require('yaml') as { parse(text: string): unknown };
  const resources = structuredClone(
    Object.fromEntries(Object.entries(template.Resources).filter(([id]) => !FAMILY_SCHEDULE_PREFIXES.some((p) => id.startsWith(p)))),
  );
  const config = parse(readFileSync(configFile, 'utf8'));
  const generated = generator.scheduleResources(config).Resources;
  const scopes = require(join(projectRoot, 'deploy', 'iam-scopes.cjs')) as {
    iamScopes(config: unknown): Record<string, JsonValue>;
    GENERATED_POLICIES: Record<string, string>;
  };
  const iam = scopes.iamScopes(config);
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    const policies = (r.Properties?.Policies ?? []) as { PolicyName?: JsonValue; PolicyDocument?: { Statement?: JsonValue } }[];
    for (const p of policies) {
      const key = typeof p.PolicyName === 'string' ? scopes.GENERATED_POLICIES[p.PolicyName] : undefined;
      if (key !== undefined && p.PolicyDocument !== undefined) p.PolicyDocument.Statement = iam[key] ?? null;
      else if (p.PolicyDocument !== undefined) withRegions(p.PolicyDocument.Statement, iam.regions ?? null);
    }
  }
  // The dead letters of the new rules, and the queue policy naming them (the plugin osls runs after the merge).
  const deadLetters = require(join(projectRoot, 'deploy', 'dead-letters.cjs')) as { addDeadLetters(t: CfnTemplate): CfnTemplate };
  return deadLetters.addDeadLetters({ ...template, Resources: { ...resources, ...generated } });
}

/** Every `aws:RequestedRegion` condition value of these statements set to `regions`. */
function withRegions(statements: JsonValue | undefined, regions: JsonValue): void {
  for (const st of Array.isArray(statements) ? statements : []) {
    const condition = st !== null && typeof st === 'object' && !Array.isArray(st) ? st.Condition : undefined;
    if (condition === null || typeof condition !== 'object' || Array.isArray(condition) || condition === undefined) continue;
    for (const op of Object.values(condition)) {
      if (op !== null && typeof op === 'object' && !Array.isArray(op) && 'aws:RequestedRegion' in op) op['aws:RequestedRegion'] = regions;
    }
  }
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  const stateDir = options.stateDir === null ? null : (options.stateDir ?? join(projectRoot, '.ami-factory'));
  if (stateDir !== null) mkdirSync(stateDir, { recursive: true });
  // One cloud per state folder: this process owns it from here on (or StateDirLockedError names the owner).
  const lock = stateDir === null ? undefined : acquireLock(stateDir);
  if (lock?.tookOver !== undefined) options.log?.(`took over the state folder of process ${lock.tookOver.pid}, which is gone`);
  try {
    return await startOwnedCloud(options, projectRoot, stateDir, lock);
  } catch (e) {
    lock?.release();
    throw e;
  }
}

const LEASE_TTL_MS = 15_000;

async function startOwnedCloud(
  options: LocalCloudOptions,
  projectRoot: string,
  stateDir: string | null,
  lock: HeldLock | undefined,
): Promise<LocalCloud> {
  const file = (name: string): string | undefined => (stateDir === null ? undefined : join(stateDir, name));
  const timeScale = options.timeScale ?? 1;
  const cacheDir = join(projectRoot, 'node_modules', '.cache', 'ami-factory');
  const codeSource: CodeSource = options.code ?? (process.env.AMI_FACTORY_LAMBDA_CODE === 'package' ? 'package' : 'source');

  void loadIamCatalog(); // read in parallel with the package check; the Authorizer awaits it
  const pkg = await ensurePackaged({ projectRoot, ...(options.log !== undefined ? { log: options.log } : {}) });
  const configFile = options.configFile === undefined ? undefined : resolve(options.configFile);
  const configured = configFile === undefined ? pkg.template : templateForConfig(pkg.template, projectRoot, configFile);
  const template = options.editTemplate === undefined ? configured : options.editTemplate(structuredClone(configured));
  const stackName = stackNameOf(pkg);
  const plan = planStack(template, { stackName, region: HOME_REGION, accountId: LOCAL_ACCOUNT_ID });

  // Simulated time never goes backwards across runs: start from the last persisted instant.
  const clockFile = file('clock.json');
  const lastVirtual =
    clockFile !== undefined && existsSync(clockFile) ? (JSON.parse(readFileSync(clockFile, 'utf8')) as ClockState).virtualMs : 0;
  const realStartMs = Date.now();
  const clock = new VirtualClock(timeScale, Math.max(realStartMs, lastVirtual));
  const sandboxClock = { virtualStartMs: clock.nowMs(), realStartMs: Date.now(), timeScale, skew: clock.skew };

  const identity = new IdentityStore(LOCAL_ACCOUNT_ID);
  const permissions = new Map<string, PermissionSpec[]>();
  const resourcePolicies = new Map<string, { name: string; document: JsonObject }[]>();
  const functionNames = new Map<string, string>();
  const authorizer = await Authorizer.create({
    identity,
    enforce: options.iam ?? process.env.AMI_FACTORY_LOCAL_IAM !== 'off',
    now: () => clock.nowMs(),
    resourcePolicies: (arn) => {
      if (arn.startsWith(`arn:aws:lambda:`)) {
        const fnArn = arn.split(':').slice(0, 7).join(':');
        const list = permissions.get(fnArn) ?? [];
        return list.length === 0
          ? []
          : [{ name: `${functionNames.get(fnArn) ?? fnArn} resource policy`, document: permissionPolicy(fnArn, list) }];
      }
      if (arn.startsWith('arn:aws:kms:')) {
        const key = kms.resolve(arn.split(':')[3] ?? HOME_REGION, arn);
        return key === undefined ? [] : [{ name: `key policy of ${key.aliases[0] ?? key.keyId}`, document: key.policy }];
      }
      if (arn.startsWith('arn:aws:s3:::'))
        return resourcePolicies.get(`arn:aws:s3:::${arn.slice('arn:aws:s3:::'.length).split('/')[0] ?? ''}`) ?? [];
      return resourcePolicies.get(arn) ?? [];
    },
    labelOf: (caller) => {
      if (caller.sessionName !== undefined && functionNames.has(caller.sessionName)) return functionNames.get(caller.sessionName) as string;
      return caller.role !== undefined ? caller.role.name : 'administrator';
    },
    // AMI_FACTORY_LOCAL_IAM_TRACE=1 also prints every denial on stderr (tests, debugging).
    log: (line) => {
      options.log?.(line);
      if (process.env.AMI_FACTORY_LOCAL_IAM_TRACE === '1') process.stderr.write(`[local IAM] ${line}\n`);
    },
    ...(stateDir !== null ? { logFile: join(stateDir, 'logs', 'iam.log') } : {}),
  });
  const faults = new FaultInjector(options.faults ?? {});
  // The cloud's own deployment is not subject to the request faults (released once it is up).
  faults.holdRequests();
  const kms = createKmsKeyRegistry({ account: LOCAL_ACCOUNT_ID });
  const wiring = { authorizer, identity, account: LOCAL_ACCOUNT_ID, kms };
  const sqsOpts: Parameters<typeof createSqsService>[0] = { ...sqsAuthorization(wiring), accountId: LOCAL_ACCOUNT_ID, clock };
  const sqsFile = file('sqs.json');
  if (sqsFile !== undefined) sqsOpts.stateFile = sqsFile;
  const sqs = createSqsService(sqsOpts);
  /** Failure records an OnFailure destination refused (the function's role) or that had no queue. */
  let asyncFailuresDropped = 0;
  const lambda = new LocalLambda({
    region: HOME_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    clock: sandboxClock,
    logsDir: stateDir === null ? null : join(stateDir, 'logs'),
    authorize: (fn, caller) => authorizeInvoke(authorizer, identity, fn, caller),
    afterInvoke: (fn) => faults.afterInvoke([fn.shortName, fn.name]),
    // Lambda sends the failure record with the function's execution role (IAM enforced).
    deliverFailure: (fn, destination, record) => {
      const region = destination.split(':')[3] ?? HOME_REGION;
      const request = { action: 'sqs:SendMessage', resource: destination, context: callerContext(region) };
      const failure = destination.startsWith('arn:aws:sqs:')
        ? authorizer.check(identity.roleSession(fn.roleArn, fn.name), [request], region)
        : { message: `${destination} is not a destination the local cloud delivers to (SQS queues are)` };
      if (failure === undefined && sqs.sendToArn(destination, JSON.stringify(record))) return;
      asyncFailuresDropped++;
      options.log?.(
        `${fn.shortName}: failure record of ${record.requestContext.requestId} not delivered to ${destination}: ${failure?.message ?? 'no such queue'}`,
      );
    },
  });
  const sfnOpts: ConstructorParameters<typeof SfnService>[0] = {
    ...sfnAuthorization(wiring),
    logsDir: stateDir === null ? null : join(stateDir, 'logs'),
    accountId: LOCAL_ACCOUNT_ID,
    lambda,
    timeScale,
    now: () => clock.nowMs(),
    callerFor: (roleArn, executionName) => {
      const session = identity.roleSession(roleArn, executionName);
      return { kind: 'principal', principalArn: session.arn };
    },
  };
  const sfnFile = file('sfn.json');
  if (sfnFile !== undefined) sfnOpts.stateFile = sfnFile;
  const sfn = new SfnService(sfnOpts);

  // EventBridge acts as a target's role (a bus in another region, a state machine): that role must allow it.
  const asTargetRole = (via: { roleArn?: string }, request: AccessRequest): void => {
    if (via.roleArn === undefined) return;
    const region = request.resource.split(':')[3] ?? HOME_REGION;
    const failure = authorizer.check(identity.roleSession(via.roleArn, 'events-target'), [request], region);
    if (failure !== undefined) throw Object.assign(new Error(failure.message), { name: 'AccessDeniedException' });
  };
  const eventsOpts: Parameters<typeof createEventsService>[0] = {
    ...eventsAuthorization(wiring),
    accountId: LOCAL_ACCOUNT_ID,
    clock,
    deliveryFault: (rule, detailType) => faults.onDelivery(rule, detailType),
    dispatcher: {
      // EventBridge invokes Lambda asynchronously: accepted at once, run (and retried) by Lambda.
      invokeLambda: async (arn, payload, via) => {
        const accepted = lambda.invokeEvent(arn, payload as JsonValue, {
          caller: { kind: 'service', service: 'events.amazonaws.com', sourceArn: via.ruleArn, sourceAccount: LOCAL_ACCOUNT_ID },
        });
        return { settled: accepted.settled };
      },
      // EventBridge writes a dead letter as events.amazonaws.com for the rule: only the queue's policy can allow it.
      sendToDeadLetterQueue: (queueArn, body, attributes, via) => {
        const region = queueArn.split(':')[3] ?? HOME_REGION;
        const failure = authorizer.checkService(
          'events.amazonaws.com',
          LOCAL_ACCOUNT_ID,
          [
            {
              action: 'sqs:SendMessage',
              resource: queueArn,
              context: { 'aws:SourceArn': via.ruleArn, 'aws:SourceAccount': LOCAL_ACCOUNT_ID },
            },
          ],
          region,
        );
        if (failure !== undefined) throw Object.assign(new Error(failure.message), { name: 'AccessDenied' });
        const message: Record<string, MessageAttribute> = {};
        for (const [k, v] of Object.entries(attributes)) message[k] = { DataType: 'String', StringValue: v };
        if (!sqs.sendToArn(queueArn, body, message))
          throw Object.assign(new Error(`The queue ${queueArn} does not exist.`), { name: 'QueueDoesNotExist' });
      },
      startExecution: async (arn, input, via) => {
        asTargetRole(via, { action: 'states:StartExecution', resource: arn });
        sfn.start(arn, input);
      },
      authorizeBusTarget: (arn, via) => asTargetRole(via, { action: 'events:PutEvents', resource: arn }),
    },
  };
  const eventsFile = file('events.json');
  if (eventsFile !== undefined) eventsOpts.stateFile = eventsFile;
  const events = createEventsService(eventsOpts);

  const ec2Events = options.ec2Events ?? true;
  const ec2Opts: Parameters<typeof createEc2Service>[0] = {
    ...ec2Authorization(wiring),
    clock,
    // RegisterImage with ImageLocation reads the bundle from the local S3 with the local EC2 key.
    registerFromImageLocation: localBundleRegistration({ s3: () => s3, stateDir }),
    // DescribeImageReferences reports the local SSM's aws:ec2:image parameters (made below).
    parameterReferences: (region, imageId) => ssm.imageReferences(region, imageId).map((r) => r.arn),
    seed: options.seed ?? true,
    throttling: options.throttling ?? true,
    ...(options.throttleClock !== undefined ? { throttleClock: options.throttleClock } : {}),
    onEvent: (e) => {
      if (!ec2Events) return;
      void events.emit({
        source: e.source,
        detailType: e.detailType,
        detail: e.detail,
        region: e.region,
        resources: e.resources,
        time: e.time,
        account: e.account,
      });
    },
  };
  const ec2File = file('ec2.json');
  if (ec2File !== undefined) ec2Opts.stateFile = ec2File;
  if (options.imageAvailableAfterMs !== undefined) ec2Opts.imageAvailableAfterMs = options.imageAvailableAfterMs;
  if (options.copyAvailableAfterMs !== undefined) ec2Opts.copyAvailableAfterMs = options.copyAvailableAfterMs;
  if (options.seedImages !== undefined) ec2Opts.seedImages = options.seedImages;
  const ec2 = createEc2Service(ec2Opts);
  faults.bindEc2((f) => {
    for (const k of Object.keys(ec2.faults)) delete (ec2.faults as Record<string, unknown>)[k];
    Object.assign(ec2.faults, f);
  });

  const asgOpts: Parameters<typeof createAutoScalingService>[0] = { ...autoScalingAuthorization(wiring), clock, ec2 };
  const asgFile = file('autoscaling.json');
  if (asgFile !== undefined) asgOpts.stateFile = asgFile;
  const autoscaling = createAutoScalingService(asgOpts);

  const s3Opts: Parameters<typeof createS3Service>[0] = { ...s3Authorization(wiring), accountId: LOCAL_ACCOUNT_ID, clock };
  const s3Dir = file('s3');
  if (s3Dir !== undefined) s3Opts.rootDir = s3Dir;
  const s3 = createS3Service(s3Opts);

  const functionUrls = createFunctionUrlService({ lambda, accountId: LOCAL_ACCOUNT_ID, region: HOME_REGION, now: () => clock.nowMs() });
  const ssmOpts: Parameters<typeof createSsmService>[0] = {
    ...ssmAuthorization(wiring),
    accountId: LOCAL_ACCOUNT_ID,
    clock,
    imageUsable: (region, imageId) => ec2.imageUsable(region, imageId),
    callerArn: (req) => identity.callerFor(req.accessKeyId).arn,
    onEvent: (e) => {
      void events.emit({ source: e.source, detailType: e.detailType, detail: e.detail, region: e.region, resources: e.resources });
    },
  };
  const ssmFile = file('ssm.json');
  if (ssmFile !== undefined) ssmOpts.stateFile = ssmFile;
  const ssm = createSsmService(ssmOpts);
  const slackOpts: Parameters<typeof createSlackService>[0] = { now: () => clock.nowMs() };
  const slackFile = file('slack.json');
  if (slackFile !== undefined) slackOpts.stateFile = slackFile;
  const slack = createSlackService(slackOpts);
  const services: LocalService[] = [functionUrls, slack, sfn, events, autoscaling, ec2, s3, ssm, sqs];
  let stackInfo: () => JsonObject = () => ({});
  const leases = new Map<string, number>();
  let ready = false;
  const localApi: LocalApi = (req) => {
    const path = req.path;
    if (path === '/_local/health')
      return json({ ok: true, ready, service: 'ami-factory-local-cloud', pid: process.pid, stateDir, stack: stackName, timeScale });
    if (path === '/_local/lease') {
      // Commands that joined this cloud hold a lease while they use it (renewed every few
      // seconds); the owner does not stop while one is live.
      if (req.method === 'DELETE') {
        leases.delete(req.query.get('id') ?? '');
        return json({ ok: true });
      }
      const id = req.query.get('id') ?? randomUUID();
      leases.set(id, Date.now() + LEASE_TTL_MS);
      return json({ id, ttlMs: LEASE_TTL_MS });
    }
    if (path === '/_local/stats') {
      return json({
        ec2: ec2.stats(),
        s3: s3.stats(),
        lambda: Object.fromEntries(lambda.invocations),
        events: events.metrics(),
        asyncFailuresDropped,
        timeScale,
        virtualTime: clock.now().toISOString(),
      });
    }
    if (path === '/_local/stack') return json(stackInfo());
    if (path === '/_local/faults') {
      // GET: the faults in force and what was injected; PUT: a new spec (JSON) replaces them.
      if (req.method === 'PUT') {
        try {
          faults.set(JSON.parse(req.body.toString('utf8')) as FaultSpec);
        } catch (e) {
          const message = e instanceof FaultSpecError ? e.message : `the body is not a JSON fault spec: ${String(e)}`;
          return {
            status: 400,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ error: 'FaultSpecError', message }),
          };
        }
      }
      return json({ faults: faults.get(), injected: faults.counts() });
    }
    return undefined;
  };
  const { server, port, endpoint } = await serveLocalServices(services, {
    port: options.port ?? DEFAULT_PORT,
    host: options.host ?? '127.0.0.1',
    localApi,
    faults,
  });
  lock?.listening(endpoint, port);

  // Scratch space of this cloud: package roots for another config.
  const scratch = stateDir !== null ? join(stateDir, 'runtime') : mkdtempSync(join(tmpdir(), 'ami-factory-cloud-'));
  mkdirSync(scratch, { recursive: true });
  // The functions read the config as the zips carry it: JSON (deploy/config-json.cjs). A cloud
  // with a config of its own, or running the source bundles, gets a task root holding that.
  let customTaskRoot: string | undefined;
  if (configFile !== undefined || codeSource === 'source') {
    customTaskRoot = join(scratch, 'task-root');
    mkdirSync(customTaskRoot, { recursive: true });
    const source = configFile ?? join(projectRoot, 'factory.config.yml');
    writeFileSync(join(customTaskRoot, 'factory.config.yml'), configAsJson(projectRoot, readFileSync(source, 'utf8'), source));
  }
  const bundles =
    codeSource === 'source'
      ? await sourceBundles({
          projectRoot,
          cacheDir,
          modules: [...new Set(plan.functions.map((f) => splitHandler(f.handler).module))],
          esbuild: packagedEsbuildOptions(pkg.dir),
        })
      : undefined;
  const codeOf = (fn: FunctionSpec): { entry: string; exportName: string; taskRoot: string } => {
    const { module, exportName } = splitHandler(fn.handler);
    if (bundles !== undefined) return { entry: join(bundles, `${module}.mjs`), exportName, taskRoot: customTaskRoot ?? projectRoot };
    if (fn.codeZip === undefined)
      throw new LambdaServiceError('InvalidParameterValueException', `${fn.logicalId} has no packaged code`, 400);
    const root = unpackedZip({ zipPath: join(pkg.dir, fn.codeZip), cacheDir, packageHash: pkg.hash, name: fn.shortName });
    return { entry: join(root, `${module}.mjs`), exportName, taskRoot: customTaskRoot ?? root };
  };

  const api = adminApi(endpoint);
  const schedulesOn = options.schedules ?? true;
  const familySchedulesOn = schedulesOn && (options.familySchedules ?? true);
  const familyRule = (r: RuleSpec): boolean => FAMILY_SCHEDULE_PREFIXES.some((p) => r.logicalId.startsWith(p));
  for (const r of plan.rules) {
    if (r.scheduleExpression !== undefined && (!schedulesOn || (familyRule(r) && !familySchedulesOn))) r.state = 'DISABLED';
  }
  const logGroups = new Set<string>();
  const targets: DeployTargets = {
    identity,
    api,
    registerFunction: (fn: LocalFunction) => {
      lambda.register(fn);
      functionNames.set(fn.arn, fn.shortName);
      functionNames.set(fn.name, fn.shortName);
    },
    addPermission: (p) => permissions.set(p.functionArn, [...(permissions.get(p.functionArn) ?? []), p]),
    registerFunctionUrl: (u) => functionUrls.register({ urlId: u.urlId, functionArn: u.functionArn, authType: u.authType }),
    registerStateMachine: (sm) => sfn.registerStateMachine(sm),
    setResourcePolicy: (arn, name, document) => resourcePolicies.set(arn, [...(resourcePolicies.get(arn) ?? []), { name, document }]),
    createLogGroup: (name) => void logGroups.add(name),
    defineKmsKey: (k, region) => void kms.define({ region, keyId: k.keyId, policy: k.policy }),
    defineKmsAlias: (a, region) => kms.defineAlias(region, a.name, a.targetKeyId.split(':key/').pop() ?? a.targetKeyId),
    configureBucket: (name, configuration) => s3.configureBucket(name, configuration),
    createQueue: (q, region) => void sqs.createQueue(region, q.name, q.attributes),
    setQueuePolicy: (url, document, region) => {
      const arn = queueArnOfUrl(url, region);
      sqs.setPolicy(arn, JSON.stringify(document));
      resourcePolicies.set(arn, [{ name: `queue policy of ${arn.split(':').pop() ?? arn}`, document }]);
    },
    configureAsyncInvoke: (c) =>
      lambda.configureAsync(c.functionName, {
        ...(c.maximumRetryAttempts !== undefined ? { maximumRetryAttempts: c.maximumRetryAttempts } : {}),
        ...(c.maximumEventAgeInSeconds !== undefined ? { maximumEventAgeInSeconds: c.maximumEventAgeInSeconds } : {}),
        ...(c.onFailure !== undefined ? { onFailure: c.onFailure } : {}),
      }),
    code: codeOf,
    runtimeEnvironment: (fn, credentials, taskRoot) => ({
      AWS_REGION: HOME_REGION,
      AWS_DEFAULT_REGION: HOME_REGION,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `${new Date(clock.nowMs()).toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]local`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      LAMBDA_TASK_ROOT: taskRoot,
      _HANDLER: fn.handler,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SESSION_TOKEN: credentials.sessionToken,
      AWS_ENDPOINT_URL: endpoint,
      // The local Slack stand-in (`ami-factory chat`, tests) receives results on 127.0.0.1.
      AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS: 'true',
      // ... and answers the Slack Web API there (local/slack.ts).
      AMI_FACTORY_SLACK_API_URL: `${endpoint}${SLACK_API_PATH}`,
      // The development machines run Node 20; keep the SDK's notice out of the function logs.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(process.env.PATH !== undefined ? { PATH: process.env.PATH } : {}),
    }),
    ...(options.functionEnvironment !== undefined ? { environmentOverrides: options.functionEnvironment } : {}),
  };
  await deployStack(plan, targets, { removeStaleRulesWithPrefix: `${stackName}-` });
  await deployRegionForwarder(projectRoot, targets);
  await seedOperatorParameters(plan, api, stateDir);

  // The CLI and tests run domain code in this process too: it reads the same simulated clock.
  const uninstallClock = installClock({ now: () => clock.nowMs(), sleep: (ms) => clock.sleep(ms) });
  faults.releaseRequests();
  sfn.resume();
  ready = true;
  if (options.prewarm === true) {
    // The state machines' functions first, in the order their definitions name them, then the rules' targets.
    const arns = (v: unknown): string[] =>
      [...JSON.stringify(v).matchAll(/arn:aws:lambda:[^"]+:function:[A-Za-z0-9_-]+/g)].map((x) => x[0]);
    void lambda.prewarm([
      ...new Set([
        ...plan.stateMachines.flatMap((m) => arns(m.definition)),
        ...arns(plan.rules.map((r) => r.targets)),
        ...lambda.functionNames(),
      ]),
    ]);
  }

  const outputs: Record<string, string> = {};
  for (const [k, v] of Object.entries(plan.outputs)) outputs[k] = String(v);
  const urlOf = (shortName: string): string => {
    const fn = lambda.lookup(shortName);
    const url = functionUrls.urls().find((u) => fn !== undefined && lambda.lookup(u.functionArn)?.name === fn.name);
    if (url === undefined) throw new LambdaServiceError('ResourceNotFoundException', `Function ${shortName} has no function URL`, 404);
    return functionUrls.urlOf(url.urlId, endpoint);
  };
  const stateBucket = plan.buckets.find((b) => b.logicalId === 'FactoryStateBucket')?.name ?? '';
  const eventBus = plan.eventBuses[0]?.name ?? 'default';
  const machineArn = (name: string, region = HOME_REGION): string => {
    const full = sfn.stateMachineNames().find((n) => n === name || n.endsWith(`-${name}`)) ?? name;
    return sfn.stateMachineArn(region, full);
  };
  stackInfo = () => ({
    stackName,
    region: HOME_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    stateBucket,
    eventBus,
    stateMachines: Object.fromEntries(sfn.stateMachineNames().map((n) => [n, sfn.stateMachineArn(HOME_REGION, n)])),
    functionUrls: Object.fromEntries(
      functionUrls.urls().map((u) => [lambda.lookup(u.functionArn)?.shortName ?? u.functionArn, functionUrls.urlOf(u.urlId, endpoint)]),
    ),
    outputs,
  });

  const persistClock = (): void => {
    if (clockFile !== undefined) writeJsonAtomic(clockFile, { virtualMs: clock.nowMs() } satisfies ClockState);
  };
  const clockTimer = setInterval(persistClock, 1000);
  clockTimer.unref();

  return {
    endpoint,
    port,
    accountId: LOCAL_ACCOUNT_ID,
    region: HOME_REGION,
    clock,
    ec2,
    sfn,
    s3,
    events,
    autoscaling,
    ssm,
    sqs,
    slack,
    lambda,
    identity,
    authorizer,
    faults,
    stateDir,
    stack: plan,
    stateBucket,
    eventBus,
    functionConfigFile: customTaskRoot === undefined ? undefined : join(customTaskRoot, 'factory.config.yml'),
    functionUrl: urlOf,
    stateMachineArn: machineArn,
    close: async () => {
      // Commands that joined this cloud finish first (their leases lapse if they died).
      let told = false;
      for (;;) {
        const now = Date.now();
        for (const [id, until] of leases) if (until < now) leases.delete(id);
        if (leases.size === 0) break;
        if (!told) options.log?.(`waiting for ${leases.size} other command(s) using this cloud to finish`);
        told = true;
        await new Promise((r) => setTimeout(r, 200));
      }
      ready = false;
      clearInterval(clockTimer);
      recordIamUsage(authorizer);
      events.close();
      sfn.close();
      ec2.close();
      autoscaling.close();
      s3.close();
      ssm.close();
      sqs.close();
      slack.close();
      persistClock();
      uninstallClock();
      // Lambda stops before the endpoint: a handler still running fails at once as the service
      // stopping, instead of meeting closed connections (or hanging until its timeout).
      await lambda.close();
      await closeServer(server);
      if (stateDir === null) rmSync(scratch, { recursive: true, force: true });
      lock?.release();
    },
  };
}

/** A function's resource-based policy, as Lambda's GetPolicy returns it, from the template's AWS::Lambda::Permission resources. */
export function permissionPolicy(functionArn: string, permissions: PermissionSpec[]): JsonObject {
  return {
    Version: '2012-10-17',
    Statement: permissions.map((p) => {
      const condition: Record<string, JsonObject> = {};
      if (p.sourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': p.sourceArn };
      if (p.sourceAccount !== undefined) condition.StringEquals = { 'AWS:SourceAccount': p.sourceAccount };
      if (p.functionUrlAuthType !== undefined)
        condition.StringEquals = { ...(condition.StringEquals ?? {}), 'lambda:FunctionUrlAuthType': p.functionUrlAuthType };
      if (p.invokedViaFunctionUrl === true) condition.Bool = { 'lambda:InvokedViaFunctionUrl': 'true' };
      const principal: JsonValue =
        p.principal === '*' ? '*' : p.principal.endsWith('.amazonaws.com') ? { Service: p.principal } : { AWS: p.principal };
      const statement: JsonObject = {
        Sid: p.logicalId,
        Effect: 'Allow',
        Principal: principal,
        Action: p.action,
        Resource: functionArn,
      };
      if (Object.keys(condition).length > 0) statement.Condition = condition;
      return statement;
    }),
  };
}

/** Lambda's check of an invocation: the caller's identity policies and the function's resource policy. */
function authorizeInvoke(authorizer: Authorizer, identity: IdentityStore, fn: LocalFunction, caller: InvokeCaller): void {
  const ref = { function: fn.arn, region: HOME_REGION, account: LOCAL_ACCOUNT_ID };
  let failure: AccessFailure | undefined;
  if (caller.kind === 'principal') {
    failure = authorizer.check(
      identity.sessionByArn(caller.principalArn) ?? identity.callerFor(caller.accessKeyId),
      [invokeFunctionAccess(ref)],
      HOME_REGION,
    );
  } else if (caller.kind === 'service') {
    const via = { sourceArn: caller.sourceArn ?? '', sourceAccount: caller.sourceAccount ?? LOCAL_ACCOUNT_ID };
    failure = authorizer.checkService(caller.service, LOCAL_ACCOUNT_ID, [invokeFunctionAccess(ref, via)], HOME_REGION);
  } else {
    failure = authorizer.checkService(
      '*',
      LOCAL_ACCOUNT_ID,
      invokeFunctionUrlAccess(ref, caller.authType === 'AWS_IAM' ? 'AWS_IAM' : 'NONE'),
      HOME_REGION,
    );
  }
  if (failure !== undefined) throw new LambdaServiceError('AccessDeniedException', failure.message, 403);
}

/**
 * AMI_FACTORY_LOCAL_IAM_USAGE=<file>: every cloud of the process adds what its callers were seen
 * to call to that JSON file (function → action → allowed/denied counts): the evidence of which
 * grants each role needs.
 */
function recordIamUsage(authorizer: Authorizer): void {
  const path = process.env.AMI_FACTORY_LOCAL_IAM_USAGE;
  if (path === undefined || path === '') return;
  type Usage = Record<string, Record<string, { allowed: number; denied: number }>>;
  let all: Usage = {};
  try {
    all = JSON.parse(readFileSync(path, 'utf8')) as Usage;
  } catch {
    // first cloud of the run
  }
  for (const [who, actions] of Object.entries(authorizer.usage())) {
    const mine = (all[who] ??= {});
    for (const [action, c] of Object.entries(actions)) {
      const m = (mine[action] ??= { allowed: 0, denied: 0 });
      m.allowed += c.allowed;
      m.denied += c.denied;
    }
  }
  writeJsonAtomic(path, all);
}

/**
 * resources/region-forwarder.yml in every region of the world but the home one, with
 * HomeRegion set: what the deploy guide has operators deploy (e.g. as a StackSet), deployed as
 * the stack is (its role, dead-letter queue and queue policy, rule; the alarm is CloudWatch's,
 * which the local cloud does not run).
 */
async function deployRegionForwarder(projectRoot: string, targets: DeployTargets): Promise<void> {
  const path = join(projectRoot, FORWARDER_TEMPLATE);
  if (!existsSync(path)) return;
  const template = readTemplate(path);
  for (const region of WORLD_REGIONS.filter((r) => r !== HOME_REGION)) {
    const plan = planStack(template, {
      stackName: `ami-factory-region-forwarder-${region}`,
      region,
      accountId: LOCAL_ACCOUNT_ID,
      parameters: { HomeRegion: HOME_REGION },
    });
    await deployStack(plan, targets);
  }
}

/**
 * What the deploy guide has an operator put in SSM before the first run, done for the demo:
 * the parameters the deployed functions name in their environment — the Slack signing
 * secret, the Slack bot token (the one the Slack stand-in accepts), the bundling keys (a user
 * pair) and EC2's certificate (the local EC2's). Existing values are kept, so an operator's own
 * survive a restart.
 */
async function seedOperatorParameters(plan: StackPlan, api: AdminApi, stateDir: string | null): Promise<void> {
  const named = (variable: string): string | undefined => plan.functions.map((f) => f.environment[variable]).find((v) => v !== undefined);
  const slack = named('AMI_FACTORY_SLACK_SECRET_PARAM');
  if (slack !== undefined)
    await api.putParameter({
      Name: slack,
      Type: 'SecureString',
      Value: LOCAL_SLACK_SIGNING_SECRET,
      Description: 'Slack signing secret (local demo)',
    });
  const bot = named('AMI_FACTORY_SLACK_BOT_TOKEN_PARAM');
  if (bot !== undefined)
    await api.putParameter({
      Name: bot,
      Type: 'SecureString',
      Value: LOCAL_SLACK_BOT_TOKEN,
      Description: 'Slack bot token (local Slack stand-in)',
    });
  const keys = named('AMI_FACTORY_BUNDLE_KEYS_PARAM');
  if (keys !== undefined) {
    const user = await localEc2Certificate(join(localEc2CertificateDir(stateDir), 'bundle-user'));
    await api.putParameter({
      Name: keys,
      Type: 'SecureString',
      Value: JSON.stringify({ certificate: user.certPem, privateKey: user.keyPem }),
      Description: 'Bundling user certificate and key (local demo)',
    });
  }
  const cert = named('AMI_FACTORY_EC2_CERT_PARAM');
  if (cert !== undefined) {
    await api.putParameter({
      Name: cert,
      Type: 'String',
      Value: (await localEc2CertificateFor(stateDir)).certPem,
      Description: "EC2's certificate (the local EC2's)",
    });
  }
}

/** The administrator's calls through the cloud's own APIs (what `cloudformation deploy` does as its caller). */
function adminApi(endpoint: string): AdminApi {
  const scope = (region: string, service: string): string =>
    `AWS4-HMAC-SHA256 Credential=AKIDLOCALADMIN/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  const events = async (target: string, body: Record<string, unknown>, region: string): Promise<Record<string, unknown>> => {
    const r = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSEvents.${target}`,
        authorization: scope(region, 'events'),
      },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) {
      if (text.includes('ResourceAlreadyExistsException')) return {};
      throw new Error(`local deployment: ${target} failed: ${text}`);
    }
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  const bus = (name: string): Record<string, string> => (name === 'default' ? {} : { EventBusName: name });
  return {
    putParameter: async (input) => {
      const r = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'AmazonSSM.PutParameter',
          authorization: scope(HOME_REGION, 'ssm'),
        },
        body: JSON.stringify(input),
      });
      const text = await r.text();
      if (!r.ok && !text.includes('ParameterAlreadyExists'))
        throw new Error(`local deployment: PutParameter ${input.Name} failed: ${text}`);
    },
    createBucket: async (name, region) => {
      const r = await fetch(`${endpoint}/${name}`, { method: 'PUT', headers: { authorization: scope(region, 's3') } });
      const text = await r.text();
      if (!r.ok && !text.includes('BucketAlreadyOwnedByYou')) throw new Error(`local deployment: CreateBucket ${name} failed: ${text}`);
    },
    createEventBus: async (name, region) => {
      await events('CreateEventBus', { Name: name }, region);
    },
    putRule: async (rule, region) => {
      await events(
        'PutRule',
        {
          Name: rule.name,
          State: rule.state,
          ...bus(rule.busName),
          ...(rule.description !== undefined ? { Description: rule.description } : {}),
          ...(rule.roleArn !== undefined ? { RoleArn: rule.roleArn } : {}),
          ...(rule.scheduleExpression !== undefined ? { ScheduleExpression: rule.scheduleExpression } : {}),
          ...(rule.eventPattern !== undefined ? { EventPattern: JSON.stringify(rule.eventPattern) } : {}),
        },
        region,
      );
      if (rule.targets.length > 0) await events('PutTargets', { Rule: rule.name, ...bus(rule.busName), Targets: rule.targets }, region);
    },
    listRules: async (name, region) => {
      const out: string[] = [];
      let next: string | undefined;
      do {
        const page = (await events(
          'ListRules',
          { ...bus(name), Limit: 100, ...(next !== undefined ? { NextToken: next } : {}) },
          region,
        )) as {
          Rules?: { Name?: string }[];
          NextToken?: string;
        };
        for (const r of page.Rules ?? []) if (r.Name !== undefined) out.push(r.Name);
        next = page.NextToken;
      } while (next !== undefined);
      return out;
    },
    deleteRule: async (name, busName, region) => {
      const targets = (await events('ListTargetsByRule', { Rule: name, ...bus(busName) }, region)) as { Targets?: { Id?: string }[] };
      const ids = (targets.Targets ?? []).map((x) => x.Id ?? '').filter((x) => x !== '');
      if (ids.length > 0) await events('RemoveTargets', { Rule: name, ...bus(busName), Ids: ids }, region);
      await events('DeleteRule', { Name: name, ...bus(busName) }, region);
    },
  };
}

export interface ServedServices {
  server: Server;
  port: number;
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Serves local services on one loopback port, routing each request to the first service that
 * `matches` it (the same routing the local cloud uses; tests serve single services this way).
 */
export async function serveLocalServices(
  services: LocalService[],
  opts: { port?: number; host?: string; localApi?: LocalApi; faults?: FaultInjector } = {},
): Promise<ServedServices> {
  const localApi = opts.localApi ?? ((): undefined => undefined);
  const server = createServer((req, res) => {
    void route(services, localApi, req, res, opts.faults);
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return { server, port, endpoint: `http://${host}:${port}`, close: () => closeServer(server) };
}

/** The cloud's own endpoints under `/_local/` (health, stats, stack, leases): not AWS APIs. */
export type LocalApi = (req: LocalRequest) => LocalResponse | undefined;

async function route(
  services: LocalService[],
  localApi: LocalApi,
  req: IncomingMessage,
  res: ServerResponse,
  faults?: FaultInjector,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://local');
  // The raw path: URL normalisation would rewrite S3 keys with '.' or '..' segments.
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const scope = requestScope(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined, url.searchParams);
  const request: LocalRequest = {
    method: req.method ?? 'GET',
    path: rawPath,
    query: url.searchParams,
    headers: req.headers,
    body: Buffer.concat(chunks),
    region: scope.region ?? 'us-east-1',
    service: scope.service,
    accessKeyId: scope.accessKeyId,
  };
  let response: LocalResponse & { stream?: NodeJS.ReadableStream };
  // Fault injection (local/faults.ts) applies here, to every service alike.
  const fault = faults?.onRequest(request);
  if (fault !== undefined && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
  if (fault?.kind === 'reset') {
    req.socket.destroy();
    return;
  }
  // No answer: the client's timeout (or the cloud's close) ends the connection.
  if (fault?.kind === 'hang') return;
  try {
    const local = request.path.startsWith('/_local/') ? localApi(request) : undefined;
    if (fault?.kind === 'respond') {
      response = fault.response;
    } else if (local !== undefined) {
      response = local;
    } else {
      const service = services.find((s) => s.matches(request));
      response =
        service === undefined
          ? { status: 400, headers: { 'content-type': 'text/plain' }, body: 'ami-factory local cloud: no service answers this request' }
          : 'handleStream' in service && typeof service.handleStream === 'function'
            ? await (service as S3Service).handleStream(request)
            : await service.handle(request);
    }
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    response = { status: 500, headers: { 'content-type': 'text/plain' }, body: `local cloud internal error: ${message}` };
  }
  res.writeHead(response.status, response.headers ?? {});
  if (response.stream !== undefined) {
    // Large objects (bundle parts, images) stream from disk instead of being buffered.
    await pipeline(response.stream, res).catch(() => undefined);
  } else {
    res.end(response.body ?? '');
  }
}

function json(v: unknown): LocalResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => resolveClose());
    server.closeAllConnections();
  });
}

/** True when a local cloud already answers on this endpoint. */
export async function isLocalCloudUp(endpoint: string): Promise<boolean> {
  try {
    const r = await fetch(`${endpoint}/_local/health`, { signal: AbortSignal.timeout(500) });
    if (!r.ok) return false;
    const body = (await r.json()) as { service?: string };
    return body.service === 'ami-factory-local-cloud';
  } catch {
    return false;
  }
}
