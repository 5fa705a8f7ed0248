/**
 * `npm run bench -- retention`: image retention at scale on the local cloud.
 *
 * Starts an in-process local cloud (in memory, EC2 throttling on, time compressed by
 * BENCH_TIME_SCALE, default 5), seeds BENCH_IMAGES (default 10,000) managed images of the
 * family `bench` over 4 regions (dated across the past 400 days), puts a few of the expired
 * ones in use (launch templates, a stopped and a running instance) or under an exclusion tag,
 * warms the retention functions (one environment per region for the Map's, as provisioned
 * concurrency would), and runs one image-retention execution through the real state machine,
 * handlers and SDK clients: keep the newest 5, deprecate after 30 days, deregister (with snapshots) after 90.
 * Repeated `runs` times, a fresh cloud each time; medians are quoted. Small (CI): 400 images, once.
 *
 * Reported (EC2 calls are counted by the local EC2 server, which is what EC2 would bill the
 * buckets for; throttled calls also as the retention client's pacer saw them):
 *   - wall time, simulated (execution start → stop on the simulated clock) and real;
 *   - EC2 calls by action, throttled calls (server and client side);
 *   - images acted on (deprecated + disabled + deregistered), pages read (Describe* calls),
 *     and calls / (acted + pages), goal ≤ 1.1;
 *   - the token-bucket lower bound: per region, the max over EC2's buckets of
 *     (calls of that class − capacity) / refill; regions run in parallel, so the run's bound
 *     is the max over regions. Goal: wall / bound ≤ 1.1 (see the time scale in measure());
 *   - failed actions (goal 0). After each run, DescribeImages and DescribeSnapshots check that
 *     exactly the expected images were retired (every image the results say was deregistered
 *     is gone with its snapshots) and that no newest, young, in-use or excluded image was touched.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { THROTTLE_BUCKETS, throttleClass, type ThrottleClass } from '../functions/lib/ec2/throttling.js';
import { tokenBucketLowerBoundSeconds } from '../functions/lib/retention/pacer.js';
import type { RetentionReport } from '../functions/lib/retention/report.js';
import type { RetentionRequestInput } from '../functions/lib/retention/request.js';
import { RetentionStore, type ImageResult } from '../functions/lib/retention/store.js';
import type { Ec2CallLogEntry } from '../local/ec2/service.js';
import type { JsonValue } from '../local/json.js';
import { startLocalCloud, type LocalCloud } from '../local/server.js';
import { goalOutcome, type BenchChart, type BenchGoal, type BenchOptions, type BenchSection } from './section.js';
import { fullHistory } from '../bin/execution-progress.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const FAMILY = 'bench';
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1'];
const DAY = 86_400_000;
const POLICY = {
  keepNewest: 5,
  maxAgeDays: 90,
  deprecateAfterDays: 30,
  disableGraceDays: 0,
  excludeTags: { 'ami-factory:keep': 'true' },
  deleteBundles: true,
};
const creds = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };

function envNumber(name: string, fallback: number, valid: (n: number) => boolean, what: string): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!valid(n)) throw new Error(`${name} must be ${what}, got "${raw}"`);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Polls (bounded) until `check` yields a value; real-time waits, only for the setup. */
/** Polls `check` every `pollMs` (real) until it returns a value; the bench's clients are throttled like the run's, so poll gently. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, pollMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench setup: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function allImages(ec2: EC2Client): Promise<Image[]> {
  const out: Image[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], IncludeDeprecated: true, IncludeDisabled: true, MaxResults: 1000, NextToken }),
    );
    out.push(...(page.Images ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

async function presentSnapshots(ec2: EC2Client): Promise<Set<string>> {
  const out = new Set<string>();
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 1000, NextToken }));
    for (const s of page.Snapshots ?? []) if (s.SnapshotId !== undefined) out.add(s.SnapshotId);
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** Images of the family that must not be touched, by id, with why (filled in by `addReferences`). */
type Protected = Map<string, string>;

/**
 * Puts some expired images in use, one kind per region, and excludes one by tag, so the
 * run's in-use path (plan and re-check) is exercised:
 *   region 1: a launch template's $Default version, and an image tagged ami-factory:keep=true;
 *   region 2: a stopped instance;
 *   region 3: a launch template whose $Latest (not $Default) version names another image;
 *   region 4: a running instance, and a terminated one (no longer a use: its image is retired).
 */
async function addReferences(cloud: LocalCloud, clients: Map<string, EC2Client>, byRegion: Map<string, Image[]>): Promise<Protected> {
  const inUse: Protected = new Map();
  const expired = (region: string): Image[] => {
    const now = cloud.clock.nowMs();
    // Oldest first (DescribeImages order); only images well past the 90 days, away from every edge of the policy.
    return (byRegion.get(region) ?? []).filter((i) => now - Date.parse(i.CreationDate ?? '') > 120 * DAY);
  };
  const pick = (region: string, n: number): string => {
    const list = expired(region);
    const img = list[Math.floor((list.length * (n + 1)) / 8)];
    if (img?.ImageId === undefined) throw new Error(`bench setup: no expired image in ${region}`);
    return img.ImageId;
  };
  const [r1, r2, r3, r4] = REGIONS as [string, string, string, string];
  const ec2 = (r: string): EC2Client => clients.get(r) as EC2Client;
  const launch = async (region: string, imageId: string): Promise<string> => {
    const r = await ec2(region).send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    return r.Instances?.[0]?.InstanceId ?? '';
  };
  const stateOf = async (region: string, id: string): Promise<string | undefined> =>
    (await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;

  const lt1 = pick(r1, 0);
  await ec2(r1).send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'bench-default',
      LaunchTemplateData: { ImageId: lt1, InstanceType: 't3.micro' },
    }),
  );
  inUse.set(lt1, `launch template $Default (${r1})`);
  const excluded = pick(r1, 3);
  await ec2(r1).send(new CreateTagsCommand({ Resources: [excluded], Tags: [{ Key: 'ami-factory:keep', Value: 'true' }] }));
  inUse.set(excluded, `excluded by tag (${r1})`);

  const stoppedImage = pick(r2, 1);
  const stopped = await launch(r2, stoppedImage);
  inUse.set(stoppedImage, `stopped instance (${r2})`);

  const ltDefault = pick(r3, 2);
  const ltLatest = pick(r3, 4);
  const lt = await ec2(r3).send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'bench-latest',
      LaunchTemplateData: { ImageId: ltDefault, InstanceType: 't3.micro' },
    }),
  );
  await ec2(r3).send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: lt.LaunchTemplate?.LaunchTemplateId,
      LaunchTemplateData: { ImageId: ltLatest, InstanceType: 't3.micro' },
    }),
  );
  inUse.set(ltDefault, `launch template $Default (${r3})`);
  inUse.set(ltLatest, `launch template $Latest (${r3})`);

  const runningImage = pick(r4, 3);
  await launch(r4, runningImage);
  inUse.set(runningImage, `running instance (${r4})`);
  const terminated = await launch(r4, pick(r4, 5));
  await ec2(r4).send(new TerminateInstancesCommand({ InstanceIds: [terminated] }));

  // Booting, stopping and terminating take simulated seconds: real seconds at most here.
  const timeoutMs = Math.max(60_000, 600_000 / cloud.clock.timeScale);
  // One simulated second between polls: DescribeInstances' bucket refills on the simulated clock.
  const pollMs = Math.max(20, 1000 / cloud.clock.timeScale);
  await Promise.all([
    until(
      `instance ${stopped} stops`,
      async () => {
        if ((await stateOf(r2, stopped)) === 'running') await ec2(r2).send(new StopInstancesCommand({ InstanceIds: [stopped] }));
        return (await stateOf(r2, stopped)) === 'stopped' ? true : undefined;
      },
      timeoutMs,
      pollMs,
    ),
    until(
      `instance ${terminated} terminates`,
      async () => ((await stateOf(r4, terminated)) === 'terminated' ? true : undefined),
      timeoutMs,
      pollMs,
    ),
  ]);
  return inUse;
}

interface Expected {
  deprecate: Set<string>;
  deregister: Set<string>;
  /** Every other image of the family: newest 5, younger than 30 days, in use, excluded. */
  untouched: Set<string>;
}

/** What the policy must do, computed independently of the retention code from the inventory and the run's instant. */
function expectation(byRegion: Map<string, Image[]>, protectedIds: Protected, nowMs: number): Expected {
  const e: Expected = { deprecate: new Set(), deregister: new Set(), untouched: new Set() };
  for (const images of byRegion.values()) {
    const newestFirst = [...images].sort((a, b) => Date.parse(b.CreationDate ?? '') - Date.parse(a.CreationDate ?? ''));
    newestFirst.forEach((img, i) => {
      const id = img.ImageId ?? '';
      const age = Math.floor((nowMs - Date.parse(img.CreationDate ?? '')) / DAY);
      if (i < POLICY.keepNewest || protectedIds.has(id)) e.untouched.add(id);
      else if (age >= POLICY.maxAgeDays) e.deregister.add(id);
      else if (age >= POLICY.deprecateAfterDays) e.deprecate.add(id);
      else e.untouched.add(id);
    });
  }
  return e;
}

interface RunFigures {
  simulatedS: number;
  realS: number;
  /** CPU seconds this process spent during the execution (client, handlers and cloud share it). */
  cpuS: number;
  /**
   * The main thread's event-loop utilization during the execution (0–1): the cloud, the engine
   * and the handlers share that thread. Near 1, the simulated clock runs on while work waits
   * for the thread, and wall / bound measures the simulator rather than the design.
   */
  mainBusy: number;
  /** The same over the planning phase (start → every region planned), when the thread is busiest. */
  planBusy: number;
  calls: Record<string, number>;
  throttledBy: Record<string, number>;
  totalCalls: number;
  throttledServer: number;
  throttledClient: number;
  acted: number;
  pages: number;
  ratio: number;
  boundS: number;
  boundWhere: string;
  wallOverBound: number;
  /** Simulated seconds from the execution's start to the last region's plan (every region planned). */
  planS: number;
  failed: number;
  problems: string[];
  /** The bound region's calls, for the chart: simulated seconds from the start, bucket class. */
  timeline: { region: string; calls: { t: number; cls: ThrottleClass; throttled: boolean }[] };
}

/** factory.config.yml with eu-central-1 as one more copy region of its first family: the roles' scopes then cover REGIONS. */
function benchConfig(dir: string): string {
  const config = parse(readFileSync(join(ROOT, 'factory.config.yml'), 'utf8')) as {
    families: Record<string, { region: string; copies?: { region: string }[] }>;
  };
  const first = Object.values(config.families)[0];
  if (first === undefined) throw new Error('factory.config.yml has no family');
  const covered = new Set(Object.values(config.families).flatMap((f) => [f.region, ...(f.copies ?? []).map((c) => c.region)]));
  for (const r of REGIONS) if (!covered.has(r)) first.copies = [...(first.copies ?? []), { region: r }];
  const file = join(dir, 'factory.config.yml');
  writeFileSync(file, stringify(config));
  return file;
}

async function waitForExecution(sfn: SFNClient, executionArn: string, timeoutMs: number): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    if (Date.now() > deadline) throw new Error(`execution ${executionArn} still RUNNING after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function oneRun(index: number, count: number, timeScale: number, configFile: string): Promise<RunFigures> {
  const seedStart = performance.now();
  const cloud = await startLocalCloud({
    port: 0,
    stateDir: null,
    timeScale,
    seed: false,
    schedules: false,
    familySchedules: false,
    throttling: true,
    // Hours of retention compressed into seconds: the buckets refill on the simulated clock (the report says so).
    throttleClock: 'simulated',
    seedImages: { count, regions: REGIONS, family: FAMILY },
    configFile,
  });
  const config = { endpoint: cloud.endpoint, credentials: creds, maxAttempts: 1 };
  const clients = new Map(REGIONS.map((r) => [r, new EC2Client({ ...config, region: r })]));
  const sfn = new SFNClient({ ...config, region: 'us-east-1' });
  const s3 = new S3Client({ ...config, region: 'us-east-1', forcePathStyle: true });
  try {
    const before = new Map<string, Image[]>();
    for (const [r, ec2] of clients) before.set(r, await allImages(ec2));
    const protectedIds = await addReferences(cloud, clients, before);
    console.log(`  run ${index}: ${count} images seeded, references added (${((performance.now() - seedStart) / 1000).toFixed(1)} s real)`);

    // Provisioned concurrency, as the fan-out bench: the retention functions warm, the Map's once
    // per region. A worker's start-up (the handler loaded from source) takes a second or two of
    // real time, which the clock's compression would multiply into tens of simulated seconds;
    // in AWS parallel cold starts take well under a second. The state machines are validated
    // now too (CreateStateMachine's work, which the local engine would do at the first execution).
    cloud.sfn.prepareDefinitions();
    await cloud.lambda.prewarm(['decideGates', 'reportRetention'], 2);
    await cloud.lambda.prewarm(['planRetention', 'applyRetention'], 2, REGIONS.length);
    // The run starts with full buckets, as an idle account's: the setup's calls are not counted.
    cloud.ec2.resetThrottling();
    cloud.ec2.resetStats();
    const runId = `bench-${index}-${Math.random().toString(16).slice(2, 10)}`;
    const input: RetentionRequestInput = {
      runId,
      family: FAMILY,
      requestedAt: cloud.clock.now().toISOString(),
      regions: REGIONS,
      policy: POLICY,
      dryRun: false,
      trigger: { type: 'test' },
    };
    const realStart = performance.now();
    const cpuStart = process.cpuUsage();
    const eluStart = performance.eventLoopUtilization();
    // Event-loop utilization snapshots on the simulated clock, for the planning phase's share.
    const eluSamples: { simMs: number; elu: EventLoopUtilization }[] = [{ simMs: cloud.clock.nowMs(), elu: eluStart }];
    const sampler = setInterval(() => eluSamples.push({ simMs: cloud.clock.nowMs(), elu: performance.eventLoopUtilization() }), 250);
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: cloud.stateMachineArn('image-retention'),
        name: `retention-${runId}`,
        input: JSON.stringify(input),
      }),
    );
    // Generous: 30 simulated minutes, or 10 real minutes, whichever is longer.
    const d = await waitForExecution(sfn, executionArn ?? '', Math.max(600_000, (1_800_000 / timeScale) * 2));
    const realS = (performance.now() - realStart) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    clearInterval(sampler);
    const mainBusy = performance.eventLoopUtilization(eluStart).utilization;
    const stats = cloud.ec2.stats();
    const callLog: readonly Ec2CallLogEntry[] = cloud.ec2.callLog();
    if (d.status !== 'SUCCEEDED') throw new Error(`retention ${d.status}: ${d.error ?? ''} ${d.cause ?? ''}`);
    const report = JSON.parse(d.output ?? '{}') as RetentionReport;
    const startMs = d.startDate?.getTime() ?? 0;
    const simulatedS = ((d.stopDate?.getTime() ?? 0) - startMs) / 1000;

    // Server-side figures, per region and action (`${region}:${Action}`).
    const calls: Record<string, number> = {};
    const perRegion = new Map<string, Map<ThrottleClass, number>>();
    let pages = 0;
    for (const [key, n] of Object.entries(stats.calls)) {
      const [region, action] = key.split(':') as [string, string];
      calls[action] = (calls[action] ?? 0) + n;
      if (action.startsWith('Describe')) pages += n;
      const classes = perRegion.get(region) ?? new Map<ThrottleClass, number>();
      const cls = throttleClass(action, false);
      classes.set(cls, (classes.get(cls) ?? 0) + n);
      perRegion.set(region, classes);
    }
    const throttledBy: Record<string, number> = {};
    for (const [key, n] of Object.entries(stats.throttled)) {
      const action = key.split(':')[1] as string;
      throttledBy[action] = (throttledBy[action] ?? 0) + n;
    }
    const throttledServer = sum(Object.values(stats.throttled));
    const totalCalls = sum(Object.values(stats.calls)) + throttledServer;
    let boundS = 0;
    let boundWhere = '';
    for (const [region, classes] of perRegion) {
      for (const [cls, n] of classes) {
        const b = tokenBucketLowerBoundSeconds(n, THROTTLE_BUCKETS[cls]);
        if (b > boundS) {
          boundS = b;
          boundWhere = `${region} ${cls} (${n} calls, ${THROTTLE_BUCKETS[cls].capacity}/${THROTTLE_BUCKETS[cls].refillPerSecond})`;
        }
      }
    }
    const events = await fullHistory(sfn, executionArn ?? '');
    // Each region applies as soon as its own plan is stored: planning ends with the last region's plan.
    const planEnds = events
      .filter((e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'PlanRegion')
      .map((e) => e.timestamp?.getTime() ?? startMs);
    const planS = (Math.max(startMs, ...planEnds) - startMs) / 1000;
    const planEndSample = eluSamples.find((x) => x.simMs >= startMs + planS * 1000) ?? eluSamples[eluSamples.length - 1];
    const planBusy = planEndSample === undefined ? mainBusy : performance.eventLoopUtilization(planEndSample.elu, eluStart).utilization;
    // The bound's region, or (every bucket within its capacity) the region with the most calls.
    const busiest = [...perRegion].sort((a, b) => sum([...b[1].values()]) - sum([...a[1].values()]))[0]?.[0] ?? REGIONS[0];
    const boundRegion = boundS > 0 ? (boundWhere.split(' ')[0] as string) : (busiest as string);
    const timeline = {
      region: boundRegion,
      calls: callLog
        .filter((e) => e.region === boundRegion)
        .map((e) => ({ t: (e.atMs - startMs) / 1000, cls: throttleClass(e.action, false), throttled: e.throttled })),
    };
    const outcome = (k: keyof RetentionReport['regions'][number]['outcomes']): number => sum(report.regions.map((r) => r.outcomes[k]));
    const acted = outcome('deprecated') + outcome('disabled') + outcome('deregistered');
    const failed = outcome('failed') + report.regions.filter((r) => r.status !== 'applied').length;

    // Check the world against the policy, through the EC2 API (buckets refilled: the checks are not the run's).
    const problems: string[] = [];
    if (report.status !== 'succeeded') problems.push(`report status ${report.status}`);
    for (const r of report.regions) {
      if (r.error !== undefined) problems.push(`${r.region} ${r.status}: ${r.error}`);
      for (const f of r.failures.slice(0, 3)) problems.push(`${r.region} ${f.imageId} ${f.planned} failed: ${f.error}`);
    }
    const expected = expectation(before, protectedIds, startMs);
    const store = new RetentionStore(s3, cloud.stateBucket);
    cloud.ec2.resetThrottling();
    for (const [region, ec2] of clients) {
      const results: ImageResult[] = await store.getResults(runId, region);
      const after = new Map((await allImages(ec2)).map((i) => [i.ImageId ?? '', i]));
      const snapshots = await presentSnapshots(ec2);
      const was = new Map((before.get(region) ?? []).map((i) => [i.ImageId ?? '', i]));
      for (const r of results) {
        if (r.outcome !== 'deregistered') continue;
        const now = after.get(r.imageId);
        if (now !== undefined && now.State !== 'deregistered')
          problems.push(`${region} ${r.imageId}: reported deregistered, still ${now.State}`);
        const left = (r.deletedSnapshots ?? []).filter((s) => snapshots.has(s));
        if (left.length > 0) problems.push(`${region} ${r.imageId}: snapshots ${left.join(', ')} reported deleted, still present`);
        if ((r.deletedSnapshots ?? []).length === 0) problems.push(`${region} ${r.imageId}: deregistered without deleting its snapshot`);
      }
      for (const [id, old] of was) {
        const now = after.get(id);
        const gone = now === undefined || now.State === 'deregistered';
        const why = protectedIds.get(id) ?? 'newest 5 or younger than 30 days';
        if (expected.untouched.has(id)) {
          if (gone || now.State !== old.State || now.DeprecationTime !== old.DeprecationTime)
            problems.push(
              `${region} ${id} (${why}) was touched: ${gone ? 'deregistered' : `${now.State}, deprecation ${now.DeprecationTime ?? 'none'}`}`,
            );
        } else if (expected.deregister.has(id)) {
          if (!gone) problems.push(`${region} ${id}: expired and unused, still ${now.State}`);
        } else if (expected.deprecate.has(id)) {
          if (gone || now.DeprecationTime === undefined || now.State !== 'available')
            problems.push(`${region} ${id}: older than 30 days, not deprecated (${gone ? 'deregistered' : now.State})`);
        }
      }
    }
    const wantActed = expected.deprecate.size + expected.deregister.size;
    if (acted !== wantActed) problems.push(`${acted} images acted on, ${wantActed} expected`);

    return {
      simulatedS,
      realS,
      cpuS,
      mainBusy,
      planBusy,
      calls,
      throttledBy,
      totalCalls,
      throttledServer,
      throttledClient: report.throttled,
      acted,
      pages,
      ratio: totalCalls / (acted + pages),
      boundS,
      boundWhere,
      wallOverBound: simulatedS / boundS,
      planS,
      failed,
      problems,
      timeline,
    };
  } finally {
    for (const c of clients.values()) c.destroy();
    sfn.destroy();
    s3.destroy();
    await cloud.close();
  }
}

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

/** Cumulative count of the calls of one class over time, at most ~200 points. */
function cumulative(calls: { t: number; cls: ThrottleClass }[], cls: ThrottleClass, end: number): [number, number][] {
  const times = calls.filter((c) => c.cls === cls).map((c) => c.t);
  const step = Math.max(1, Math.ceil(times.length / 200));
  const points: [number, number][] = [[0, 0]];
  times.forEach((t, i) => {
    if ((i + 1) % step === 0 || i === times.length - 1) points.push([t, i + 1]);
  });
  points.push([end, times.length]);
  return points;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * A small line chart (our own: wt-bench is choosing the shared renderer; the lead unifies them
 * at merge): axes with ticks, axis labels, one polyline per series, a legend, a marker line.
 */
export function lineChartSvg(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  marker?: { x: number; label: string };
}): string {
  const W = 720;
  const H = 380;
  const m = { l: 64, r: 190, t: 36, b: 48 };
  const xs = opts.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = opts.series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1, ...xs);
  const yMax = Math.max(1, ...ys);
  const X = (x: number): number => m.l + (x / xMax) * (W - m.l - m.r);
  const Y = (y: number): number => H - m.b - (y / yMax) * (H - m.t - m.b);
  const nice = (max: number): number[] => {
    const raw = max / 5;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((k) => k * mag).find((k) => k >= raw) ?? raw;
    return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
  ];
  for (const x of nice(xMax)) {
    out.push(`<line x1="${X(x)}" y1="${H - m.b}" x2="${X(x)}" y2="${H - m.b + 4}" stroke="black"/>`);
    out.push(`<text x="${X(x)}" y="${H - m.b + 17}" text-anchor="middle">${Number(x.toPrecision(6))}</text>`);
  }
  for (const y of nice(yMax)) {
    out.push(`<line x1="${m.l - 4}" y1="${Y(y)}" x2="${m.l}" y2="${Y(y)}" stroke="black"/>`);
    out.push(`<line x1="${m.l}" y1="${Y(y)}" x2="${W - m.r}" y2="${Y(y)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 7}" y="${Y(y) + 4}" text-anchor="end">${Number(y.toPrecision(6))}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  if (opts.marker !== undefined) {
    const x = X(opts.marker.x);
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#888" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${x + 4}" y="${m.t + 12}" fill="#555">${esc(opts.marker.label)}</text>`);
  }
  opts.series.forEach((s, i) => {
    const d = s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`,
    );
    const ly = m.t + 10 + i * 20;
    out.push(
      `<line x1="${W - m.r + 14}" y1="${ly}" x2="${W - m.r + 38}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${W - m.r + 44}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function timelineChart(f: RunFigures): { chart: BenchChart; data: JsonValue } {
  const calls = f.timeline.calls.filter((c) => !c.throttled);
  const end = Math.max(f.simulatedS, ...calls.map((c) => c.t));
  const dereg = THROTTLE_BUCKETS.deregisterImage;
  const series: Series[] = [
    { label: 'DeregisterImage', color: '#d62728', points: cumulative(calls, 'deregisterImage', end) },
    { label: 'mutating (deprecate)', color: '#1f77b4', points: cumulative(calls, 'mutating', end) },
    { label: 'Describe*', color: '#2ca02c', points: cumulative(calls, 'describe', end) },
  ];
  // The most the DeregisterImage bucket lets through by time t, starting full: capacity + refill × t.
  const top = Math.max(dereg.capacity, ...series.map((x) => x.points[x.points.length - 1]?.[1] ?? 0));
  const tTop = Math.min(end, (top - dereg.capacity) / dereg.refillPerSecond);
  series.splice(1, 0, {
    label: `its refill: ${dereg.capacity} + ${dereg.refillPerSecond}/s`,
    color: '#d62728',
    dashed: true,
    points: [
      [0, dereg.capacity],
      [tTop, dereg.capacity + tTop * dereg.refillPerSecond],
    ],
  });
  const svg = lineChartSvg({
    title: `Retention calls in ${f.timeline.region} against the bucket refill`,
    xLabel: 'simulated seconds from the execution start',
    yLabel: 'calls so far',
    series,
    marker: { x: f.planS, label: 'planned' },
  });
  const data = {
    region: f.timeline.region,
    planS: f.planS,
    series: series.map((s) => ({ label: s.label, points: s.points })),
  } as unknown as JsonValue;
  return {
    chart: {
      file: 'charts/retention-calls.svg',
      alt: `Retention calls over time in ${f.timeline.region} against the DeregisterImage bucket's refill`,
      svg,
    },
    data,
  };
}

export async function measure(options: BenchOptions): Promise<BenchSection> {
  const count = options.small ? 400 : envNumber('BENCH_IMAGES', 10_000, (n) => Number.isInteger(n) && n >= 400, 'an integer ≥ 400');
  const runs = options.small ? 1 : Math.max(1, options.runs);
  // ×5: the run is paced to about 6.5 simulated minutes, 80 real seconds. Planning is CPU work
  // (four regions paging 2,500 images each through the SDK and the local cloud, which share this
  // process's main thread): about 4 real seconds whatever the scale, so the compressed clock
  // multiplies it by the scale, and wall / bound grows with the scale, not with the design
  // (measured 2026-12-01, 2 cores: ×3 1.045, ×5 1.075, ×10 1.148).
  const timeScale = envNumber('BENCH_TIME_SCALE', 5, (n) => Number.isFinite(n) && n > 0, 'a positive number');
  // The handlers run in this process: keep their JSON lines out of the report.
  process.env.AMI_FACTORY_LOG_LEVEL ??= 'warn';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const scratch = mkdtempSync(join(tmpdir(), 'ami-factory-bench-retention-'));
  const all: RunFigures[] = [];
  try {
    const configFile = benchConfig(scratch);
    for (let i = 1; i <= runs; i++) {
      const f = await oneRun(i, count, timeScale, configFile);
      all.push(f);
      console.error(
        `  run ${i}: ${f.simulatedS.toFixed(1)} s simulated (plan ${f.planS.toFixed(1)} s; ${f.realS.toFixed(1)} s real, CPU ${((100 * f.cpuS) / f.realS).toFixed(0)}% busy, main thread ${(100 * f.mainBusy).toFixed(0)}% busy, ${(100 * f.planBusy).toFixed(0)}% while planning), ` +
          `${f.totalCalls} calls, ratio ${f.ratio.toFixed(3)}, wall/bound ${Number.isFinite(f.wallOverBound) ? f.wallOverBound.toFixed(3) : 'n/a (no bound)'}, failed ${f.failed}, checks ${f.problems.length === 0 ? 'ok' : `${f.problems.length} PROBLEM(S)`}`,
      );
      for (const p of f.problems.slice(0, 20)) console.error(`    ! ${p}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const st = (pick: (f: RunFigures) => number): { median: number; min: number; max: number } => {
    const xs = all.map(pick);
    return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  };
  const range = (pick: (f: RunFigures) => number, d = 1): string => {
    const x = st(pick);
    if (!Number.isFinite(x.median)) return 'n/a (every bucket within its capacity: no bound)';
    return `${x.median.toFixed(d)} (${x.min.toFixed(d)}–${x.max.toFixed(d)})`;
  };
  const med = (pick: (f: RunFigures) => number): number => st(pick).median;
  const actions = [...new Set(all.flatMap((f) => [...Object.keys(f.calls), ...Object.keys(f.throttledBy)]))].sort();
  const ratio = med((f) => f.ratio);
  const wallOverBound = med((f) => f.wallOverBound);
  const failed = med((f) => f.failed);
  const problems = sum(all.map((f) => f.problems.length));
  const planShare = med((f) => f.planS / f.simulatedS);
  const lines = [
    `${count} managed images of \`${FAMILY}\` over ${REGIONS.join(', ')}; policy keep newest ${POLICY.keepNewest}, deprecate after ${POLICY.deprecateAfterDays} d, ` +
      `deregister (with snapshots) after ${POLICY.maxAgeDays} d; EC2 throttling on, the buckets refilling on the simulated clock (time ×${timeScale}); the functions warm (provisioned concurrency: a handler loaded from source takes real seconds, which the compressed clock would multiply); ` +
      `${runs} run(s), a fresh cloud each; medians (min–max). Calls are counted by the local EC2 server.`,
    '',
    '| measure | value | goal |',
    '|---|---|---|',
    `| wall time, simulated s | ${range((f) => f.simulatedS)} | |`,
    `| of which planning (start → every region planned), s | ${range((f) => f.planS)} (${(100 * planShare).toFixed(1)} %) | |`,
    `| wall time, real s | ${range((f) => f.realS)} (CPU ${med((f) => (100 * f.cpuS) / f.realS).toFixed(0)} % busy; the main thread, shared by cloud, engine and handlers, ${med((f) => 100 * f.mainBusy).toFixed(0)} % busy, ${med((f) => 100 * f.planBusy).toFixed(0)} % while planning) | |`,
    `| token-bucket lower bound, simulated s | ${range((f) => f.boundS)} (${all[0]?.boundWhere ?? ''}) | |`,
    `| wall / bound | ${range((f) => f.wallOverBound, 3)} | ≤ 1.1 |`,
    `| EC2 calls (throttled ones included) | ${med((f) => f.totalCalls)} | |`,
    `| images acted on (deprecated + disabled + deregistered) | ${med((f) => f.acted)} | |`,
    `| pages read (Describe* calls) | ${med((f) => f.pages)} | |`,
    `| calls / (acted + pages) | ${range((f) => f.ratio, 3)} | ≤ 1.1 |`,
    `| throttled, server / client pacer | ${med((f) => f.throttledServer)} / ${med((f) => f.throttledClient)} | |`,
    `| failed actions | ${failed} | 0 |`,
    `| checks | ${problems === 0 ? 'exactly the expected images retired, with their snapshots; nothing newest, young, in use or excluded touched' : `${problems} problem(s)`} | |`,
    '',
    '| EC2 action | calls | throttled |',
    '|---|---|---|',
    ...actions.map((a) => `| ${a} | ${med((f) => f.calls[a] ?? 0)} | ${med((f) => f.throttledBy[a] ?? 0)} |`),
  ];
  const goals: BenchGoal[] = [
    {
      what: 'retention wall time over the token-bucket bound',
      target: '≤ 1.1',
      measured: Number.isFinite(wallOverBound) ? wallOverBound.toFixed(3) : 'no bound (every bucket within its capacity)',
      met: Number.isFinite(wallOverBound) ? wallOverBound <= 1.1 : null,
    },
    { what: 'retention calls per (image acted on + page read)', target: '≤ 1.1', measured: ratio.toFixed(3), met: ratio <= 1.1 },
    { what: 'retention failed actions and check problems', target: '0', measured: String(failed + problems), met: failed + problems === 0 },
  ];
  const last = all[all.length - 1] as RunFigures;
  const { chart, data } = timelineChart(last);
  const results = {
    images: count,
    regions: REGIONS,
    timeScale,
    runs: all.map(({ timeline: _timeline, ...f }) => f),
    planShare,
    chart: data,
  } as unknown as JsonValue;
  return {
    name: 'retention',
    title: `Retention at ${count.toLocaleString('en-US')} images`,
    markdown: lines.join('\n'),
    results,
    goals,
    charts: [chart],
  };
}

/** Prints the section (until the report writer runs every bench through `measure`); the chart goes to the temporary directory. */
export async function run(): Promise<void> {
  const section = await measure({
    small: process.env.BENCH_SMALL === '1',
    runs: envNumber('BENCH_RUNS', 3, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1'),
  });
  console.log(`## ${section.title}\n\n${section.markdown}\n`);
  for (const g of section.goals ?? []) console.log(`- ${goalOutcome(g)}: ${g.what}: ${g.measured} (goal ${g.target})`);
  for (const c of section.charts ?? []) {
    const file = join(tmpdir(), c.file);
    writeFileSync(file, c.svg);
    console.log(`chart: ${file}`);
  }
}
