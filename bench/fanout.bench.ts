/**
 * `npm run bench -- fanout`: one build copied to 16 regions and shared with 500 accounts, on
 * the local cloud, against the lower bound EC2 sets.
 *
 * The `web` family (the demo's golden instance in us-east-1, no reboot) with copies to the
 * other 16 regions of the local world (AWS's default Regions) and sharing with 500 accounts,
 * run once through the real image-factory state machine, handlers and SDK clients, EC2
 * throttling on with the buckets refilling on the simulated clock, EC2's clock compressed
 * (BENCH_TIME_SCALE, default ×10). Small (CI): 4 copy regions, 50 accounts, ×60, once.
 *
 * The lower bound: no schedule finishes before the home image is available (EC2's image time),
 * then a copy is made and available (EC2's copy time) and shared. CopyImage and
 * ModifyImageAttribute draw from their own buckets (aws-facts.md: 100 / 1 and 100 / 5 per
 * account per region), untouched before their phase, so the calls of region r cost at least
 * (n − capacity)⁺ / refill on top: bound = image time + max over regions of (CopyImage term +
 * copy time + ModifyImageAttribute term). The calls counted are the ones the build made that
 * EC2 accepted (a throttled call is not a call the build needed). EC2 takes up to 1,000
 * entities per image in one LaunchPermission.Add and documents no smaller limit per call, so a
 * build that batches well needs one ModifyImageAttribute per image and both terms are 0.
 *
 * Reported: wall time (simulated: execution start → stop on the cloud's clock; real), the bound
 * and wall / bound (goal ≤ 1.2), EC2 calls by action and throttled calls (the local EC2 server's
 * counts), regions failed (goal 0), and checks made after the run through DescribeImages and
 * DescribeImageAttribute in every region: an available image with exactly the 500 accounts.
 * BENCH_TRACE=1 also prints each run's state timeline (simulated seconds) and handler durations
 * (real ms): where a wall time above the bound goes.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DescribeImageAttributeCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { THROTTLE_BUCKETS } from '../functions/lib/ec2/throttling.js';
import { tokenBucketLowerBoundSeconds } from '../functions/lib/retention/pacer.js';
import { REGIONS } from '../local/ec2/model.js';
import { DEFAULT_DURATIONS } from '../local/ec2/limits.js';
import type { Ec2CallLogEntry } from '../local/ec2/service.js';
import { HOME_REGION, PROJECT_ROOT, startLocalCloud } from '../local/server.js';
import type { BenchOptions, BenchSection } from './section.js';
import { fullHistory } from '../bin/execution-progress.js';
import { benchConfigFile, BenchRunError, CREDENTIALS, median, startBuild, sum, waitForExecution, webBuildRequest } from './support.js';

export interface FanoutShape {
  copyRegions: string[];
  accounts: string[];
  timeScale: number;
  imageMs: number;
  copyMs: number;
}

/** `count` distinct 12-digit account ids, none of them the local account. */
export function shareAccounts(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(200_000_000_000 + i * 7919));
}

export interface FanoutBound {
  seconds: number;
  /** The region whose calls and copy set it, and each term in seconds. */
  region: string;
  copyTermS: number;
  shareTermS: number;
}

/**
 * The lower bound of a fan-out (see the module comment): EC2's image and copy times plus, per
 * copy region, the CopyImage and ModifyImageAttribute bucket terms of the accepted calls; the
 * home region's sharing (after the image time only) is bounded the same way.
 */
export function fanoutLowerBound(
  calls: readonly Ec2CallLogEntry[],
  copyRegions: readonly string[],
  homeRegion: string,
  imageS: number,
  copyS: number,
): FanoutBound {
  const accepted = (region: string, action: string): number =>
    calls.filter((c) => !c.throttled && c.region === region && c.action === action).length;
  const term = (region: string, action: 'CopyImage' | 'ModifyImageAttribute'): number =>
    tokenBucketLowerBoundSeconds(
      accepted(region, action),
      action === 'CopyImage' ? THROTTLE_BUCKETS.copyImage : THROTTLE_BUCKETS.modifyImageAttribute,
    );
  const candidates: FanoutBound[] = [
    { region: homeRegion, copyTermS: 0, shareTermS: term(homeRegion, 'ModifyImageAttribute'), seconds: 0 },
    ...copyRegions.map((r) => ({ region: r, copyTermS: term(r, 'CopyImage'), shareTermS: term(r, 'ModifyImageAttribute'), seconds: 0 })),
  ].map((b) => ({ ...b, seconds: imageS + (b.region === homeRegion ? 0 : b.copyTermS + copyS) + b.shareTermS }));
  return candidates.reduce((a, b) => (b.seconds > a.seconds ? b : a));
}

/** The functions each copy region invokes at once (the Distribute map's tasks and the event consumer). */
const MAP_FUNCTIONS = ['copyImage', 'registerWait', 'completeWaits', 'finalizeImage', 'publishImage'];

interface RunFigures {
  simulatedS: number;
  realS: number;
  boundS: number;
  bound: FanoutBound;
  wallOverBound: number;
  calls: Record<string, number>;
  throttledBy: Record<string, number>;
  totalCalls: number;
  throttled: number;
  regionsFailed: number;
  /** Per region, simulated seconds from the start to its last accepted ModifyImageAttribute (shared). */
  sharedAtS: Record<string, number>;
  problems: string[];
}

async function oneRun(shape: FanoutShape, configFile: string): Promise<RunFigures> {
  const cloud = await startLocalCloud({
    port: 0,
    stateDir: null,
    timeScale: shape.timeScale,
    familySchedules: false,
    throttling: true,
    // The bound is in simulated seconds: the buckets refill on the same clock.
    throttleClock: 'simulated',
    imageAvailableAfterMs: shape.imageMs,
    copyAvailableAfterMs: shape.copyMs,
    configFile,
    code: 'source',
  });
  const config = { endpoint: cloud.endpoint, credentials: CREDENTIALS, maxAttempts: 1 };
  const sfn = new SFNClient({ ...config, region: HOME_REGION });
  const regions = [HOME_REGION, ...shape.copyRegions];
  const clients = new Map(regions.map((r) => [r, new EC2Client({ ...config, region: r })]));
  try {
    // Provisioned concurrency: every function warm, the Map's as many times as it runs at once (the
    // local cap permitting). A worker's start-up takes real time that the clock's compression
    // would multiply into minutes; in AWS parallel cold starts take about a second.
    await cloud.lambda.prewarm(cloud.lambda.functionNames(), 2);
    await cloud.lambda.prewarm(MAP_FUNCTIONS, 2, shape.copyRegions.length);
    cloud.ec2.resetThrottling();
    cloud.ec2.resetStats();
    const request = webBuildRequest(configFile, cloud, randomUUID());
    const startMs = cloud.clock.nowMs();
    const realStart = performance.now();
    const arn = await startBuild(sfn, cloud, request);
    const d = await waitForExecution(sfn, arn, Math.max(180_000, ((shape.imageMs + shape.copyMs) / shape.timeScale) * 4));
    const realS = (performance.now() - realStart) / 1000;
    const simulatedS = ((d.stopDate?.getTime() ?? 0) - (d.startDate?.getTime() ?? startMs)) / 1000;
    const log = cloud.ec2.callLog();
    if (process.env.BENCH_TRACE === '1') {
      for (const e of await fullHistory(sfn, arn)) {
        if (!(e.type ?? '').endsWith('StateEntered') && !(e.type ?? '').endsWith('StateExited')) continue;
        const n = e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name;
        console.log(`    ${(((e.timestamp?.getTime() ?? 0) - startMs) / 1000).toFixed(1)} ${e.type} ${n}`);
      }
      for (const r of cloud.lambda.records)
        console.log(
          `    lambda ${r.function} ${r.durationMs.toFixed(0)} ms${r.initMs !== undefined ? ` init ${r.initMs.toFixed(0)}` : ''}`,
        );
    }
    const stats = cloud.ec2.stats();
    const problems: string[] = [];
    const output = JSON.parse(d.output ?? '{}') as {
      outcome?: string;
      regions?: { region: string; status: string; imageId?: string; error?: string }[];
    };
    const reported = output.regions ?? [];
    const regionsFailed =
      reported.filter((r) => r.status !== 'succeeded' || r.error !== undefined).length + (regions.length - reported.length);
    if (output.outcome !== 'BuildSucceeded') problems.push(`outcome ${output.outcome ?? 'none'}`);
    for (const r of reported.filter((x) => x.status !== 'succeeded' || x.error !== undefined))
      problems.push(`${r.region} ${r.status}: ${r.error ?? ''}`);

    // What the build made, as EC2 answers it after the run (the checks' calls are not counted above).
    cloud.ec2.resetThrottling();
    const want = new Set(shape.accounts);
    for (const region of regions) {
      const imageId = reported.find((r) => r.region === region)?.imageId;
      if (imageId === undefined) {
        problems.push(`${region}: no image reported`);
        continue;
      }
      const ec2 = clients.get(region) as EC2Client;
      const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
      if (image?.State !== 'available') problems.push(`${region} ${imageId}: ${image?.State ?? 'missing'}, not available`);
      const lp =
        (await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }))).LaunchPermissions ?? [];
      const users = new Set(lp.flatMap((p) => (p.UserId !== undefined ? [p.UserId] : [])));
      const missing = [...want].filter((a) => !users.has(a)).length;
      const extra = [...users].filter((a) => !want.has(a)).length;
      if (missing > 0 || extra > 0) problems.push(`${region} ${imageId}: ${missing} account(s) missing, ${extra} unexpected`);
    }

    const bound = fanoutLowerBound(log, shape.copyRegions, HOME_REGION, shape.imageMs / 1000, shape.copyMs / 1000);
    const sharedAtS: Record<string, number> = {};
    for (const c of log) if (!c.throttled && c.action === 'ModifyImageAttribute') sharedAtS[c.region] = (c.atMs - startMs) / 1000;
    return {
      simulatedS,
      realS,
      boundS: bound.seconds,
      bound,
      wallOverBound: simulatedS / bound.seconds,
      calls: stats.calls,
      throttledBy: stats.throttled,
      totalCalls: sum(Object.values(stats.calls)) + sum(Object.values(stats.throttled)),
      throttled: sum(Object.values(stats.throttled)),
      regionsFailed,
      sharedAtS,
      problems,
    };
  } finally {
    for (const c of clients.values()) c.destroy();
    sfn.destroy();
    await cloud.close();
  }
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new BenchRunError(`${name} must be a positive number, got "${raw}"`);
  return n;
}

export async function measure(options: BenchOptions): Promise<BenchSection> {
  const copyRegions = REGIONS.filter((r) => r !== HOME_REGION).slice(0, options.small ? 4 : 16);
  if (!options.small && copyRegions.length < 16)
    throw new BenchRunError(`the local world has ${REGIONS.length} regions; the fan-out needs 17`);
  const shape: FanoutShape = {
    copyRegions,
    accounts: shareAccounts(options.small ? 50 : 500),
    // ×10: 15 simulated minutes of image and copy time in 90 real seconds. The handlers' real
    // milliseconds count ×scale in simulated time (16 regions' finalize and publish share the
    // machine's cores), so a faster clock measures the machine more than the workflow.
    timeScale: envNumber('BENCH_TIME_SCALE', options.small ? 60 : 10),
    imageMs: DEFAULT_DURATIONS.imageAvailableAfterMs,
    copyMs: DEFAULT_DURATIONS.copyAvailableAfterMs,
  };
  const configFile = benchConfigFile(PROJECT_ROOT, (web) => {
    const copies = (web.copies as { region: string }[] | undefined) ?? [];
    web.copies = copyRegions.map((region) => copies.find((c) => c.region === region) ?? { region });
    web.sharing = { accounts: shape.accounts };
    // The demo's launch template and channels stay: they are part of what a build does.
  });
  const all: RunFigures[] = [];
  const runs = options.small ? 1 : Math.max(1, options.runs);
  for (let i = 1; i <= runs; i++) {
    const f = await oneRun(shape, configFile);
    all.push(f);
    console.log(
      `  run ${i}: ${f.simulatedS.toFixed(1)} s simulated (${f.realS.toFixed(1)} s real), bound ${f.boundS.toFixed(1)} s, wall/bound ${f.wallOverBound.toFixed(3)}, ` +
        `${f.totalCalls} EC2 calls, ${f.throttled} throttled, ${f.regionsFailed} region(s) failed, checks ${f.problems.length === 0 ? 'ok' : `${f.problems.length} PROBLEM(S)`}`,
    );
    for (const p of f.problems.slice(0, 20)) console.log(`    ! ${p}`);
  }
  const range = (pick: (f: RunFigures) => number, d = 1): string => {
    const xs = all.map(pick);
    return all.length === 1
      ? median(xs).toFixed(d)
      : `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`;
  };
  const med = (pick: (f: RunFigures) => number): number => median(all.map(pick));
  const wallOverBound = med((f) => f.wallOverBound);
  const failed = med((f) => f.regionsFailed);
  const problems = sum(all.map((f) => f.problems.length));
  const actions = [...new Set(all.flatMap((f) => [...Object.keys(f.calls), ...Object.keys(f.throttledBy)]))].sort();
  const first = all[0] as RunFigures;
  const lastShared = (f: RunFigures): number => Math.max(0, ...Object.values(f.sharedAtS));
  const markdown = [
    `One build of \`web\` (an instance image in ${HOME_REGION}, no reboot) copied to ${copyRegions.length} regions (${copyRegions.join(', ')}) ` +
      `and shared with ${shape.accounts.length} accounts in every region; EC2's image time ${shape.imageMs / 60_000} min, copy time ${shape.copyMs / 60_000} min (simulated), ` +
      `throttling on with the buckets refilling on the simulated clock (time ×${shape.timeScale}); ${all.length} run(s), a fresh cloud each${all.length > 1 ? '; medians (min–max)' : ''}. ` +
      "Calls are counted by the local EC2 server. Every function's environments are started before the run (provisioned concurrency; the Map's functions once per region, " +
      'up to the local cap of 8): the real time handlers take still counts ×scale in simulated time, so a loaded machine reads as a slower workflow.',
    '',
    '| measure | value | goal |',
    '|---|---|---|',
    `| wall time, simulated s | ${range((f) => f.simulatedS)} | |`,
    `| of which until the last region was shared, s | ${range(lastShared)} | |`,
    `| wall time, real s | ${range((f) => f.realS)} (of which beyond the bound's EC2 time: ${range((f) => f.realS - f.boundS / shape.timeScale)}) | |`,
    `| lower bound, simulated s | ${range((f) => f.boundS)} (image ${shape.imageMs / 1000} + copy ${shape.copyMs / 1000} + CopyImage ${first.bound.copyTermS.toFixed(1)} + ModifyImageAttribute ${first.bound.shareTermS.toFixed(1)}, ${first.bound.region}) | |`,
    `| wall / bound | ${range((f) => f.wallOverBound, 3)} | ≤ 1.2 |`,
    `| EC2 calls (throttled ones included) | ${med((f) => f.totalCalls)} | |`,
    `| throttled calls | ${med((f) => f.throttled)} | |`,
    `| regions failed | ${failed} | 0 |`,
    `| checks | ${problems === 0 ? `every region's image available and shared with exactly the ${shape.accounts.length} accounts` : `${problems} problem(s)`} | |`,
    '',
    '| EC2 action | calls | throttled |',
    '|---|---|---|',
    ...actions.map((a) => `| ${a} | ${med((f) => f.calls[a] ?? 0)} | ${med((f) => f.throttledBy[a] ?? 0)} |`),
    '',
    `The bound: the home image must be available (${shape.imageMs / 1000} s), then each copy (${shape.copyMs / 1000} s) and its sharing; CopyImage (bucket ` +
      `${THROTTLE_BUCKETS.copyImage.capacity} / ${THROTTLE_BUCKETS.copyImage.refillPerSecond} per s) and ModifyImageAttribute (${THROTTLE_BUCKETS.modifyImageAttribute.capacity} / ` +
      `${THROTTLE_BUCKETS.modifyImageAttribute.refillPerSecond} per s) add (calls − capacity) / refill per region. One LaunchPermission.Add takes every account (EC2 allows 1,000 entities per image), ` +
      'so one ModifyImageAttribute per image suffices and neither bucket binds: what the wall time measures beyond the bound is the workflow (steps, concurrency, retries).',
  ].join('\n');
  return {
    name: 'fanout',
    title: `Fan-out: one build to ${copyRegions.length} regions, shared with ${shape.accounts.length} accounts`,
    markdown,
    results: {
      copyRegions,
      accounts: shape.accounts.length,
      timeScale: shape.timeScale,
      imageSeconds: shape.imageMs / 1000,
      copySeconds: shape.copyMs / 1000,
      wallOverBound,
      runs: all.map((f) => ({
        ...f,
        bound: { ...f.bound },
        calls: { ...f.calls },
        throttledBy: { ...f.throttledBy },
        sharedAtS: { ...f.sharedAtS },
      })),
    },
    goals: [
      { what: 'fan-out wall time over the lower bound', target: '≤ 1.2', measured: wallOverBound.toFixed(3), met: wallOverBound <= 1.2 },
      { what: 'fan-out regions failed and check problems', target: '0', measured: String(failed + problems), met: failed + problems === 0 },
    ],
  };
}
