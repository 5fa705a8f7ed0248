/**
 * `npm run bench -- retention`: image retention at scale on the local cloud.
 *
 * Starts an in-process local cloud (in memory, EC2 throttling on, time compressed by
 * BENCH_TIME_SCALE, default 10), seeds BENCH_IMAGES (default 10,000) managed images of the
 * family `bench` over 4 regions (dated across the past 400 days), puts a few of the expired
 * ones in use (launch templates, a stopped and a running instance) or under an exclusion tag,
 * and runs one image-retention execution through the real state machine, handlers and SDK
 * clients: keep the newest 5, deprecate after 30 days, deregister (with snapshots) after 90.
 * Repeated BENCH_RUNS times (default 3), a fresh cloud each time; medians are quoted.
 *
 * Reported (EC2 calls are counted by the local EC2 server, which is what EC2 would bill the
 * buckets for; throttled calls also as the retention client's pacer saw them):
 *   - wall time, simulated (execution start → stop on the simulated clock) and real;
 *   - EC2 calls by action, throttled calls (server and client side);
 *   - images acted on (deprecated + disabled + deregistered), pages read (Describe* calls),
 *     and calls / (acted + pages), goal ≤ 1.1;
 *   - the token-bucket lower bound: per region, the max over EC2's buckets of
 *     (calls of that class − capacity) / refill; regions run in parallel, so the run's bound
 *     is the max over regions. Goal: wall / bound ≤ 1.3;
 *   - failed actions (goal 0). After each run, DescribeImages and DescribeSnapshots check that
 *     exactly the expected images were retired (every image the results say was deregistered
 *     is gone with its snapshots) and that no newest, young, in-use or excluded image was touched.
 */
import { performance } from 'node:perf_hooks';
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
import { startLocalCloud, type LocalCloud } from '../local/server.js';

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
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench setup: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
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
  await Promise.all([
    until(
      `instance ${stopped} stops`,
      async () => {
        if ((await stateOf(r2, stopped)) === 'running') await ec2(r2).send(new StopInstancesCommand({ InstanceIds: [stopped] }));
        return (await stateOf(r2, stopped)) === 'stopped' ? true : undefined;
      },
      timeoutMs,
    ),
    until(
      `instance ${terminated} terminates`,
      async () => ((await stateOf(r4, terminated)) === 'terminated' ? true : undefined),
      timeoutMs,
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
  failed: number;
  problems: string[];
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

async function oneRun(index: number, count: number, timeScale: number): Promise<RunFigures> {
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
    const stats = cloud.ec2.stats();
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
      failed,
      problems,
    };
  } finally {
    for (const c of clients.values()) c.destroy();
    sfn.destroy();
    s3.destroy();
    await cloud.close();
  }
}

export async function run(): Promise<void> {
  const count = envNumber('BENCH_IMAGES', 10_000, (n) => Number.isInteger(n) && n >= 400, 'an integer ≥ 400');
  const runs = envNumber('BENCH_RUNS', 3, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1');
  // ×10: the run is paced to about 6 simulated minutes, 40 real seconds, of which the HTTP calls
  // (SDK clients, handlers and the cloud share this process) take about half the CPU; faster
  // scales make that overhead, not the pacing, the wall time (×25 doubles wall/bound).
  const timeScale = envNumber('BENCH_TIME_SCALE', 10, (n) => Number.isFinite(n) && n > 0, 'a positive number');
  // The handlers run in this process: keep their JSON lines out of the report.
  process.env.AMI_FACTORY_LOG_LEVEL ??= 'warn';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  console.log(
    `${count} managed images of "${FAMILY}" over ${REGIONS.join(', ')}; policy keepNewest ${POLICY.keepNewest}, deprecate after ${POLICY.deprecateAfterDays} d, ` +
      `deregister after ${POLICY.maxAgeDays} d (no grace); throttling on, buckets refilling on the simulated clock; time scale ×${timeScale}; ${runs} run(s), a fresh cloud each`,
  );
  const all: RunFigures[] = [];
  for (let i = 1; i <= runs; i++) {
    const f = await oneRun(i, count, timeScale);
    all.push(f);
    console.log(
      `  run ${i}: ${f.simulatedS.toFixed(1)} s simulated (${f.realS.toFixed(1)} s real, CPU ${((100 * f.cpuS) / f.realS).toFixed(0)}% busy), ${f.totalCalls} EC2 calls, ${f.acted} acted + ${f.pages} pages ` +
        `(ratio ${f.ratio.toFixed(3)}), bound ${f.boundS.toFixed(1)} s [${f.boundWhere}] (wall/bound ${f.wallOverBound.toFixed(3)}), ` +
        `throttled ${f.throttledServer} server / ${f.throttledClient} client, failed ${f.failed}, checks ${f.problems.length === 0 ? 'ok' : `${f.problems.length} PROBLEM(S)`}`,
    );
    for (const p of f.problems.slice(0, 20)) console.log(`    ! ${p}`);
  }
  const med = (pick: (f: RunFigures) => number): number => median(all.map(pick));
  const actions = [...new Set(all.flatMap((f) => [...Object.keys(f.calls), ...Object.keys(f.throttledBy)]))].sort();
  const ok = (good: boolean): string => (good ? 'ok' : 'MISSED');
  const ratio = med((f) => f.ratio);
  const wallOverBound = med((f) => f.wallOverBound);
  const failed = med((f) => f.failed);
  const problems = sum(all.map((f) => f.problems.length));
  console.log(
    [
      '',
      `medians of ${runs} run(s), ${count} images in ${REGIONS.length} regions, time scale ×${timeScale}:`,
      `wall time             ${med((f) => f.simulatedS).toFixed(1)} s simulated, ${med((f) => f.realS).toFixed(1)} s real (CPU ${med((f) => (100 * f.cpuS) / f.realS).toFixed(0)}% busy: the rest is pacing)`,
      `EC2 calls             ${med((f) => f.totalCalls)} (server side, all regions, throttled ones included)`,
      ...actions.map((a) => {
        const throttled = med((f) => f.throttledBy[a] ?? 0);
        return `  ${a.padEnd(34)}${String(med((f) => f.calls[a] ?? 0)).padStart(6)}${throttled > 0 ? `  (+${throttled} throttled)` : ''}`;
      }),
      `throttled             ${med((f) => f.throttledServer)} server side, ${med((f) => f.throttledClient)} seen by the client pacer`,
      `acted on              ${med((f) => f.acted)} images (deprecated + disabled + deregistered)`,
      `pages read            ${med((f) => f.pages)} (Describe* calls)`,
      `calls/(acted+pages)   ${ratio.toFixed(3)}  (goal ≤ 1.1: ${ok(ratio <= 1.1)})`,
      `token-bucket bound    ${med((f) => f.boundS).toFixed(1)} s simulated (max over regions of the slowest bucket)`,
      `wall/bound            ${wallOverBound.toFixed(3)}  (goal ≤ 1.3: ${ok(wallOverBound <= 1.3)})`,
      `failed actions        ${failed}  (goal 0: ${ok(failed === 0)})`,
      `checks                ${problems === 0 ? 'ok: exactly the expected images retired, with their snapshots; nothing newest, young, in use or excluded touched' : `${problems} problem(s), see above`}`,
    ].join('\n'),
  );
}
