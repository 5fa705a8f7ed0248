import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PROJECT_ROOT } from './paths.js';
import { VirtualClock } from './clock.js';
import { installClock } from '../functions/lib/clock.js';
import { parseSigV4Scope, type LocalRequest, type LocalResponse, type LocalService } from './http.js';
import { writeJsonAtomic } from './persist.js';
import { LocalLambda, readFunctionTriggers } from './lambda.js';
import { SfnService } from './sfn/service.js';
import { createEc2Service, LOCAL_ACCOUNT_ID, type Ec2Service } from './ec2/service.js';
import { createS3Service, type S3Service } from './s3/service.js';
import { createAutoScalingService, type AutoScalingService } from './autoscaling/service.js';
import { localBundleRegistration, localEc2CertificateDir } from './ec2-bundles.js';
import { createFunctionUrlService, LOCAL_FUNCTION_URL_ROUTES, LOCAL_SLACK_SIGNING_SECRET } from './function-url.js';
import { loadFactoryConfig } from '../functions/lib/config.js';
import { scheduleTargetInput, type ScheduleKind } from '../functions/lib/triggers/schedule.js';
import { createEventsService, type EventsService } from './events/service.js';
import type { JsonValue } from './json.js';

/**
 * The embedded local cloud: EC2, Step Functions, EventBridge and S3 on one loopback port,
 * wire-compatible with the AWS SDK v3 clients and the AWS CLI through an endpoint override.
 * The real handlers run in-process (LocalLambda); the EventBridge rules of `serverless.yml`
 * (EC2 state-change events, schedules) are installed as they would be in AWS; EC2 emits its
 * `EC2 AMI State Change` events on the default bus. State lives under `stateDir`.
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
  /** Token-bucket throttling (default true). */
  throttling?: boolean;
  /** Install the serverless.yml schedules (default true). Tests that drive the sweeper by hand turn them off. */
  schedules?: boolean;
  /** Install the families' build and retention schedules from factory.config.yml (default true). */
  familySchedules?: boolean;
  /** Deliver EC2's state-change events (default true); false models lost events. */
  ec2Events?: boolean;
  /** Point in-process handlers' AWS clients at this cloud (default true). */
  configureHandlers?: boolean;
  /** Bulk inventory of managed images, seeded once per family (benchmarks; local/ec2/seed.ts). */
  seedImages?: { count: number; regions: string[]; family: string };
  projectRoot?: string;
}

export interface LocalCloud {
  endpoint: string;
  port: number;
  accountId: string;
  clock: VirtualClock;
  ec2: Ec2Service;
  sfn: SfnService;
  s3: S3Service;
  events: EventsService;
  autoscaling: AutoScalingService;
  lambda: LocalLambda;
  stateDir: string | null;
  stateBucket: string;
  eventBus: string;
  stateMachineArn(name: string, region?: string): string;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 4566;
export { PROJECT_ROOT };
export const LOCAL_STATE_BUCKET = 'ami-factory-local-state';
export const LOCAL_EVENT_BUS = 'ami-factory';

interface ClockState {
  virtualMs: number;
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  const stateDir = options.stateDir === null ? null : (options.stateDir ?? join(projectRoot, '.ami-factory'));
  if (stateDir !== null) mkdirSync(stateDir, { recursive: true });
  const file = (name: string): string | undefined => (stateDir === null ? undefined : join(stateDir, name));
  const timeScale = options.timeScale ?? 1;

  // Simulated time never goes backwards across runs: start from the last persisted instant.
  const clockFile = file('clock.json');
  const lastVirtual =
    clockFile !== undefined && existsSync(clockFile) ? (JSON.parse(readFileSync(clockFile, 'utf8')) as ClockState).virtualMs : 0;
  const clock = new VirtualClock(timeScale, Math.max(Date.now(), lastVirtual));

  const lambda = new LocalLambda(projectRoot, 'us-east-1', LOCAL_ACCOUNT_ID);
  const sfnOpts: ConstructorParameters<typeof SfnService>[0] = {
    projectRoot,
    accountId: LOCAL_ACCOUNT_ID,
    lambda,
    timeScale,
    now: () => clock.nowMs(),
  };
  const sfnFile = file('sfn.json');
  if (sfnFile !== undefined) sfnOpts.stateFile = sfnFile;
  const sfn = new SfnService(sfnOpts);

  const eventsOpts: Parameters<typeof createEventsService>[0] = {
    accountId: LOCAL_ACCOUNT_ID,
    clock,
    dispatcher: {
      invokeLambda: (name, payload) => lambda.invoke(name, payload as JsonValue),
      startExecution: async (arn, input, name) => {
        sfn.start(arn, input, name);
      },
    },
  };
  const eventsFile = file('events.json');
  if (eventsFile !== undefined) eventsOpts.stateFile = eventsFile;
  const events = createEventsService(eventsOpts);

  const ec2Events = options.ec2Events ?? true;
  const ec2Opts: Parameters<typeof createEc2Service>[0] = {
    clock,
    // RegisterImage with ImageLocation reads the bundle from the local S3 with the local EC2 key.
    registerFromImageLocation: localBundleRegistration({ s3: () => s3, stateDir }),
    seed: options.seed ?? true,
    throttling: options.throttling ?? true,
    onEvent: (e) => {
      if (!ec2Events) return;
      const emit: Parameters<EventsService['emit']>[0] = {
        source: e.source,
        detailType: e.detailType,
        detail: e.detail,
        region: e.region,
        resources: e.resources,
        time: e.time,
        account: e.account,
      };
      void events.emit(emit);
    },
  };
  const ec2File = file('ec2.json');
  if (ec2File !== undefined) ec2Opts.stateFile = ec2File;
  if (options.imageAvailableAfterMs !== undefined) ec2Opts.imageAvailableAfterMs = options.imageAvailableAfterMs;
  if (options.seedImages !== undefined) ec2Opts.seedImages = options.seedImages;
  const ec2 = createEc2Service(ec2Opts);

  const asgOpts: Parameters<typeof createAutoScalingService>[0] = { clock, ec2 };
  const asgFile = file('autoscaling.json');
  if (asgFile !== undefined) asgOpts.stateFile = asgFile;
  const autoscaling = createAutoScalingService(asgOpts);

  const s3Opts: Parameters<typeof createS3Service>[0] = { accountId: LOCAL_ACCOUNT_ID, clock };
  const s3Dir = file('s3');
  if (s3Dir !== undefined) s3Opts.rootDir = s3Dir;
  const s3 = createS3Service(s3Opts);

  const functionUrls = createFunctionUrlService({ lambda, routes: LOCAL_FUNCTION_URL_ROUTES, accountId: LOCAL_ACCOUNT_ID });
  const services: LocalService[] = [functionUrls, sfn, events, autoscaling, ec2, s3];
  const localApi = (path: string): LocalResponse | undefined => {
    if (path === '/_local/health') return json({ ok: true, service: 'ami-factory-local-cloud' });
    if (path === '/_local/stats') {
      return json({
        ec2: ec2.stats(),
        s3: s3.stats(),
        lambda: Object.fromEntries(lambda.invocations),
        timeScale,
        virtualTime: clock.now().toISOString(),
      });
    }
    return undefined;
  };
  const { server, port, endpoint } = await serveLocalServices(services, {
    port: options.port ?? DEFAULT_PORT,
    host: options.host ?? '127.0.0.1',
    localApi,
  });

  if (options.configureHandlers ?? true) {
    process.env.AWS_ENDPOINT_URL = endpoint;
    process.env.AMI_FACTORY_STATE_BUCKET = LOCAL_STATE_BUCKET;
    process.env.AMI_FACTORY_EVENT_BUS = LOCAL_EVENT_BUS;
    process.env.AMI_FACTORY_STATE_MACHINE_ARN = sfn.stateMachineArn(HOME_REGION, 'image-factory');
    process.env.AMI_FACTORY_RETENTION_STATE_MACHINE_ARN = sfn.stateMachineArn(HOME_REGION, 'image-retention');
    process.env.AMI_FACTORY_SLACK_SIGNING_SECRET ??= LOCAL_SLACK_SIGNING_SECRET;
    // bundle-image signs with a local user pair and wraps keys for this cloud's EC2 certificate.
    process.env.AMI_FACTORY_LOCAL_KEYS_DIR = localEc2CertificateDir(stateDir);
    process.env.AWS_ACCESS_KEY_ID ??= 'AKIDLOCALCLOUD';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local-cloud-secret';
    process.env.AWS_REGION ??= 'us-east-1';
  }
  // In-process handlers read the time from this cloud's simulated clock (functions/lib/clock.ts):
  // ages, deprecation times and retention pacing agree with the local EC2.
  const uninstallClock =
    (options.configureHandlers ?? true)
      ? installClock({ now: () => clock.nowMs(), sleep: (ms) => clock.sleep(ms) })
      : (): void => undefined;
  await provision(endpoint, projectRoot, options.schedules ?? true, options.familySchedules ?? true);
  sfn.resume();

  const persistClock = (): void => {
    if (clockFile !== undefined) writeJsonAtomic(clockFile, { virtualMs: clock.nowMs() } satisfies ClockState);
  };
  const clockTimer = setInterval(persistClock, 1000);
  clockTimer.unref();

  return {
    endpoint,
    port,
    accountId: LOCAL_ACCOUNT_ID,
    clock,
    ec2,
    sfn,
    s3,
    events,
    autoscaling,
    lambda,
    stateDir,
    stateBucket: LOCAL_STATE_BUCKET,
    eventBus: LOCAL_EVENT_BUS,
    stateMachineArn: (name, region = 'us-east-1') => sfn.stateMachineArn(region, name),
    close: async () => {
      clearInterval(clockTimer);
      events.close();
      sfn.close();
      ec2.close();
      autoscaling.close();
      s3.close();
      persistClock();
      uninstallClock();
      await closeServer(server);
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
  opts: { port?: number; host?: string; localApi?: (path: string) => LocalResponse | undefined } = {},
): Promise<ServedServices> {
  const localApi = opts.localApi ?? ((): undefined => undefined);
  const server = createServer((req, res) => {
    void route(services, localApi, req, res);
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

/**
 * What `osls deploy` would create, made through the cloud's own APIs (so they are exercised
 * too): the state bucket, the factory bus, and the EventBridge rules of serverless.yml.
 */
async function provision(endpoint: string, projectRoot: string, schedules: boolean, familySchedules: boolean): Promise<void> {
  const scope = (region: string, service: string): string =>
    `AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  const call = async (target: string, body: Record<string, unknown>, region = HOME_REGION): Promise<Record<string, unknown>> => {
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
      if (!text.includes('ResourceAlreadyExistsException')) throw new Error(`local provisioning: ${target} failed: ${text}`);
      return {};
    }
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  // Rules this function makes, per bus (the default bus is ''), so rules an earlier version of
  // serverless.yml or the config made, persisted in the state dir, can be removed at the end.
  const wanted = new Map<string, Set<string>>([
    ['', new Set()],
    [LOCAL_EVENT_BUS, new Set()],
  ]);
  const want = (bus: string, rule: string): void => void wanted.get(bus)?.add(rule);
  const bucket = await fetch(`${endpoint}/${LOCAL_STATE_BUCKET}`, { method: 'PUT', headers: { authorization: scope(HOME_REGION, 's3') } });
  if (!bucket.ok && !(await bucket.text()).includes('BucketAlreadyOwnedByYou')) throw new Error('local provisioning: state bucket');
  await call('CreateEventBus', { Name: LOCAL_EVENT_BUS });
  // Rule names are stable per function: `<function>-events-<n>` / `<function>-schedule-<n>`, n
  // counting that function's triggers of that kind.
  const perFunction = new Map<string, number>();
  for (const t of readFunctionTriggers(projectRoot)) {
    if (t.schedule !== undefined && !schedules) continue;
    const kind = t.schedule !== undefined ? 'schedule' : 'events';
    const n = perFunction.get(`${t.functionName}-${kind}`) ?? 0;
    perFunction.set(`${t.functionName}-${kind}`, n + 1);
    const rule = `${t.functionName}-${kind}-${n}`;
    want(t.onFactoryBus === true ? LOCAL_EVENT_BUS : '', rule);
    const bus = t.onFactoryBus === true ? { EventBusName: LOCAL_EVENT_BUS } : {};
    await call('PutRule', {
      Name: rule,
      State: 'ENABLED',
      ...bus,
      ...(t.schedule !== undefined ? { ScheduleExpression: t.schedule } : { EventPattern: JSON.stringify(t.pattern) }),
    });
    await call('PutTargets', {
      Rule: rule,
      ...bus,
      Targets: [{ Id: t.functionName, Arn: `arn:aws:lambda:${HOME_REGION}:${LOCAL_ACCOUNT_ID}:function:${t.functionName}` }],
    });
  }
  // The families' build and retention schedules (factory.config.yml `triggers.schedule`,
  // `retention.schedule`), as deploy/schedules.cjs makes them in AWS: a default-bus schedule
  // rule targeting triggerBuild with the family (and `"kind":"retention"` for retention).
  if (schedules && familySchedules && existsSync(join(projectRoot, 'factory.config.yml'))) {
    const config = loadFactoryConfig(join(projectRoot, 'factory.config.yml'));
    for (const [family, f] of Object.entries(config.families)) {
      const wanted: [ScheduleKind, string | undefined][] = [
        ['build', f.triggers?.schedule],
        ['retention', f.retention.schedule],
      ];
      for (const [kind, expression] of wanted) {
        if (expression === undefined) continue;
        const rule = `ami-factory-${kind}-${family}`;
        want('', rule);
        await call('PutRule', { Name: rule, State: 'ENABLED', ScheduleExpression: expression });
        await call('PutTargets', {
          Rule: rule,
          Targets: [
            {
              Id: 'triggerBuild',
              Arn: `arn:aws:lambda:${HOME_REGION}:${LOCAL_ACCOUNT_ID}:function:triggerBuild`,
              InputTransformer: scheduleTargetInput(family, kind),
            },
          ],
        });
      }
    }
  }
  // Remove the rules of this naming that nothing asks for any more (a trigger removed from
  // serverless.yml, a family or schedule removed from the config, schedules turned off).
  const ours = /^([A-Za-z0-9]+-(events|schedule)-\d+|ami-factory-(build|retention)-.+)$/;
  for (const [bus, names] of wanted) {
    const busArg = bus === '' ? {} : { EventBusName: bus };
    const listed = (await call('ListRules', { ...busArg, Limit: 100 })) as { Rules?: { Name?: string }[] };
    for (const r of listed.Rules ?? []) {
      const name = r.Name ?? '';
      if (!ours.test(name) || names.has(name)) continue;
      const targets = (await call('ListTargetsByRule', { Rule: name, ...busArg })) as { Targets?: { Id?: string }[] };
      const ids = (targets.Targets ?? []).map((x) => x.Id ?? '').filter((x) => x !== '');
      if (ids.length > 0) await call('RemoveTargets', { Rule: name, ...busArg, Ids: ids });
      await call('DeleteRule', { Name: name, ...busArg });
    }
  }
  // EC2 events are regional: every other region forwards its EC2 state changes to the home
  // region's default bus (resources/region-forwarder.yml deploys the same rule in AWS).
  for (const region of FORWARDING_REGIONS.filter((r) => r !== HOME_REGION)) {
    await call(
      'PutRule',
      { Name: 'ami-factory-forward-ec2-events', State: 'ENABLED', EventPattern: JSON.stringify(EC2_FORWARD_PATTERN) },
      region,
    );
    await call(
      'PutTargets',
      {
        Rule: 'ami-factory-forward-ec2-events',
        Targets: [{ Id: 'home-bus', Arn: `arn:aws:events:${HOME_REGION}:${LOCAL_ACCOUNT_ID}:event-bus/default` }],
      },
      region,
    );
  }
}

/** The factory's home region locally (state machines, bus, state bucket). */
const HOME_REGION = 'us-east-1';
/** The regions of the local EC2 world (DescribeRegions). */
const FORWARDING_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'];
const EC2_FORWARD_PATTERN = { source: ['aws.ec2'], 'detail-type': ['EC2 AMI State Change', 'EC2 Instance State-change Notification'] };

async function route(
  services: LocalService[],
  localApi: (path: string) => LocalResponse | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://local');
  // The raw path: URL normalisation would rewrite S3 keys with '.' or '..' segments.
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const scope = parseSigV4Scope(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined);
  const request: LocalRequest = {
    method: req.method ?? 'GET',
    path: rawPath,
    query: url.searchParams,
    headers: req.headers,
    body: Buffer.concat(chunks),
    region: scope.region ?? 'us-east-1',
    service: scope.service,
  };
  let response: LocalResponse & { stream?: NodeJS.ReadableStream };
  try {
    const local = request.path.startsWith('/_local/') ? localApi(request.path) : undefined;
    if (local !== undefined) {
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
