/**
 * `npm run bench -- workflow-cost`: what one build costs in Step Functions and Lambda, against
 * how long EC2 takes to make the images, for the factory's callback design and for the common
 * polling design.
 *
 * One build of the `web` family (the demo's golden instance in us-east-1, no reboot) copied to
 * 3 more regions and shared with an account, through the real image-factory state machine,
 * handlers and SDK clients on a local cloud, with EC2's image time (CreateImage and each
 * CopyImage, pending → available) at 1, 10 and 60 simulated minutes (small: callbacks at 1, polling at 1 and 5):
 *   - callbacks (the product): each image wait is a `.waitForTaskToken` task completed by the
 *     EC2 state-change event (complete-waits), the sweeper schedule (every 5 min) as fallback;
 *   - polling (bench/baseline/): each image wait replaced by Wait 30 s → Task (DescribeImages
 *     once) → Choice, run by the same local Step Functions.
 * Counted per build: billed state transitions (states entered + task retries, from the execution
 * history), Lambda requests and GB-seconds (every invocation's duration rounded up to 1 ms ×
 * its configured memory; real handler time, which the time compression does not change), EC2
 * calls (the local EC2 server's count). The sweeper's invocations are a fixed cost per account
 * (288 a day whatever the number of builds): reported apart, not per build.
 *
 * The clock is compressed (×600 for callbacks; ×150 for polling, where a poll's own real
 * milliseconds would otherwise stretch each 30 s interval by seconds): a few % of each interval
 * is still the poll's run time, so polling is slightly under-counted (its loops are fewer),
 * which only favours the baseline.
 */
import { randomUUID } from 'node:crypto';

import { SFNClient } from '@aws-sdk/client-sfn';
import { startLocalCloud, PROJECT_ROOT } from '../local/server.js';
import { lineChart } from './chart.js';
import { pollingTemplate, POLL_INTERVAL_SECONDS } from './baseline/polling-template.js';
import type { BenchOptions, BenchSection } from './section.js';
import {
  benchConfigFile,
  billedTransitions,
  CREDENTIALS,
  lambdaBill,
  median,
  startBuild,
  sum,
  waitForExecution,
  webBuildRequest,
} from './support.js';
import { fullHistory } from '../bin/execution-progress.js';

/**
 * Public prices, US East (N. Virginia), checked 2026-12-01: Step Functions Standard workflows
 * $0.025 per 1,000 state transitions, retries included (aws.amazon.com/step-functions/pricing);
 * Lambda $0.20 per 1M requests and, for arm64 (the functions' architecture), $0.0000133334 per
 * GB-second in the first tier (aws.amazon.com/lambda/pricing). Free tiers left out.
 */
export const PRICES = {
  checked: '2026-12-01',
  region: 'us-east-1',
  perTransition: 0.025 / 1000,
  perRequest: 0.2 / 1_000_000,
  perGbSecondArm64: 0.0000133334,
} as const;

type Design = 'callbacks' | 'polling';
const COPY_REGIONS = ['us-west-2', 'eu-west-1', 'eu-central-1'];

interface RunFigures {
  design: Design;
  imageMinutes: number;
  transitions: number;
  /** States entered (the transitions without task retries, which a loaded machine can cause). */
  entered: number;
  retries: number;
  invocations: number;
  gbSeconds: number;
  byFunction: Record<string, number>;
  ec2Calls: number;
  simulatedMinutes: number;
  sweeperInvocations: number;
  sweeperGbSeconds: number;
  usd: number;
}

export function buildCostUsd(transitions: number, invocations: number, gbSeconds: number): number {
  return transitions * PRICES.perTransition + invocations * PRICES.perRequest + gbSeconds * PRICES.perGbSecondArm64;
}

async function oneBuild(design: Design, imageMinutes: number, configFile: string, small: boolean): Promise<RunFigures> {
  const timeScale = design === 'callbacks' || small ? 600 : 150;
  const imageMs = imageMinutes * 60_000;
  const cloud = await startLocalCloud({
    port: 0,
    stateDir: null,
    timeScale,
    familySchedules: false,
    // The polling design has no callbacks to complete: no sweeper, no event rule doing work.
    schedules: design === 'callbacks',
    ec2Events: design === 'callbacks',
    imageAvailableAfterMs: imageMs,
    copyAvailableAfterMs: imageMs,
    configFile,
    code: 'source',
    ...(design === 'polling' ? { editTemplate: pollingTemplate } : {}),
  });
  const sfn = new SFNClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });
  try {
    cloud.ec2.resetStats();
    cloud.lambda.resetStats();
    const request = webBuildRequest(configFile, cloud, randomUUID());
    const arn = await startBuild(sfn, cloud, request);
    // Two image times (home, then the copies) and the steps around them, three times over, in real ms.
    const d = await waitForExecution(sfn, arn, Math.max(120_000, ((2 * imageMs + 10 * 60_000) / timeScale) * 3));
    const t = billedTransitions(await fullHistory(sfn, arn));
    const perBuild = lambdaBill(cloud.lambda.records, (fn) => fn !== 'sweepWaits');
    const sweeper = lambdaBill(cloud.lambda.records, (fn) => fn === 'sweepWaits');
    const stats = cloud.ec2.stats();
    return {
      design,
      imageMinutes,
      transitions: t.total,
      entered: t.entered,
      retries: t.retries,
      invocations: perBuild.invocations,
      gbSeconds: perBuild.gbSeconds,
      byFunction: perBuild.byFunction,
      ec2Calls: sum(Object.values(stats.calls)) + sum(Object.values(stats.throttled)),
      simulatedMinutes: ((d.stopDate?.getTime() ?? 0) - (d.startDate?.getTime() ?? 0)) / 60_000,
      sweeperInvocations: sweeper.invocations,
      sweeperGbSeconds: sweeper.gbSeconds,
      usd: buildCostUsd(t.total, perBuild.invocations, perBuild.gbSeconds),
    };
  } finally {
    sfn.destroy();
    await cloud.close();
  }
}

/**
 * The EC2 image time at which polling costs what callbacks cost: linear interpolation between
 * the measured polling points, extrapolated along the first segment when polling already costs
 * more at the first point (clamped at 0); null when polling never reaches the callbacks' cost.
 */
export function crossingMinutes(points: readonly (readonly [number, number])[], ours: number): number | null {
  const p = [...points].sort((a, b) => a[0] - b[0]);
  for (let i = 0; i + 1 < p.length; i++) {
    const [x0, y0] = p[i] as readonly [number, number];
    const [x1, y1] = p[i + 1] as readonly [number, number];
    const first = i === 0 && y0 >= ours;
    if (!first && !(y0 < ours && y1 >= ours)) continue;
    if (y1 === y0) return first ? x0 : null;
    return Math.max(0, x0 + ((ours - y0) * (x1 - x0)) / (y1 - y0));
  }
  return null;
}

const usd = (x: number): string => `$${x < 0.01 ? x.toFixed(5) : x.toFixed(3)}`;

export async function measure(options: BenchOptions): Promise<BenchSection> {
  // Small (CI): one callback build and two polling builds, about 1.5 min.
  const minutesOf = (design: Design): number[] => (options.small ? (design === 'callbacks' ? [1] : [1, 5]) : [1, 10, 60]);
  const configFile = benchConfigFile(PROJECT_ROOT, (web) => {
    const copies = (web.copies as { region: string }[] | undefined) ?? [];
    web.copies = [
      ...copies.filter((c) => COPY_REGIONS.includes(c.region)),
      ...COPY_REGIONS.filter((r) => !copies.some((c) => c.region === r)).map((region) => ({ region })),
    ];
  });
  const runs: RunFigures[] = [];
  for (const design of ['callbacks', 'polling'] as const)
    for (const m of minutesOf(design))
      for (let i = 0; i < options.runs; i++) {
        const f = await oneBuild(design, m, configFile, options.small);
        runs.push(f);
        console.log(
          `  ${design} ${m} min: ${f.transitions} transitions (${f.retries} retries), ${f.invocations} invocations, ${f.gbSeconds.toFixed(3)} GB-s, ${f.ec2Calls} EC2 calls, ` +
            `${f.simulatedMinutes.toFixed(1)} simulated min, ${usd(f.usd)}; sweeper ${f.sweeperInvocations}`,
        );
      }
  const rows = (['callbacks', 'polling'] as const).flatMap((design) =>
    minutesOf(design).map((m) => {
      const mine = runs.filter((r) => r.design === design && r.imageMinutes === m);
      const med = (pick: (r: RunFigures) => number): number => median(mine.map(pick));
      return {
        design,
        imageMinutes: m,
        transitions: med((r) => r.transitions),
        entered: med((r) => r.entered),
        invocations: med((r) => r.invocations),
        gbSeconds: med((r) => r.gbSeconds),
        ec2Calls: med((r) => r.ec2Calls),
        simulatedMinutes: med((r) => r.simulatedMinutes),
        usd: med((r) => r.usd),
        usdMin: Math.min(...mine.map((r) => r.usd)),
        usdMax: Math.max(...mine.map((r) => r.usd)),
        byFunction: mine[0]?.byFunction ?? {},
      };
    }),
  );
  const of = (design: Design) => rows.filter((r) => r.design === design);
  const ours = of('callbacks');
  const polling = of('polling');
  const oursUsd = median(ours.map((r) => r.usd));
  const crossing = crossingMinutes(
    polling.map((r) => [r.imageMinutes, r.usd] as const),
    oursUsd,
  );
  const [pa, pb] = [polling.at(-2), polling.at(-1)];
  const slopePerMinute =
    pa !== undefined && pb !== undefined && pb.imageMinutes > pa.imageMinutes
      ? (pb.usd - pa.usd) / (pb.imageMinutes - pa.imageMinutes)
      : null;
  const transitionsConstant = new Set(ours.map((r) => r.entered)).size === 1;
  const sweep = runs.filter((r) => r.design === 'callbacks');
  const sweepPerInvocationGbS = sum(sweep.map((r) => r.sweeperGbSeconds)) / Math.max(1, sum(sweep.map((r) => r.sweeperInvocations)));
  const sweeperMonthly = 30 * 288 * (PRICES.perRequest + sweepPerInvocationGbS * PRICES.perGbSecondArm64);

  const table = [
    '| design | EC2 image time | state transitions | Lambda invocations | GB-seconds | EC2 calls | build (simulated) | per build | per 1,000 builds |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.design} | ${r.imageMinutes} min | ${r.transitions} | ${r.invocations} | ${r.gbSeconds.toFixed(3)} | ${r.ec2Calls} | ${r.simulatedMinutes.toFixed(1)} min | ${usd(r.usd)} | $${(r.usd * 1000).toFixed(2)}${options.runs > 1 ? ` ($${(r.usdMin * 1000).toFixed(2)}–${(r.usdMax * 1000).toFixed(2)})` : ''} |`,
    ),
  ];
  const crossingText =
    crossing === null
      ? 'polling never reached the cost of callbacks in this run'
      : `the designs cost the same at about ${crossing.toFixed(1)} min (${Math.round(crossing * 60)} s) of EC2 image time per image ` +
        `(interpolated between the polling points${(polling[0]?.usd ?? 0) >= oursUsd ? ', extrapolated below the first: polling already costs more at every EC2 time measured' : ''}); polling costs more above it`;
  const markdown = [
    `One build of \`web\` (an instance image in us-east-1, no reboot) copied to ${COPY_REGIONS.length} more regions (${COPY_REGIONS.join(', ')}) and shared with one account: ` +
      `${ours[0]?.transitions ?? '?'} state transitions with callbacks, ${polling.length > 0 ? `${polling[0]?.transitions}–${polling.at(-1)?.transitions}` : '?'} with polling. ` +
      `**Callbacks** are the product (\`.waitForTaskToken\`, completed by EC2's state-change event); **polling** replaces each of the 4 image waits (home image, 3 copies) with ` +
      `Wait ${POLL_INTERVAL_SECONDS} s → Task (a Lambda calling DescribeImages once) → Choice, run by the same local Step Functions. ` +
      `EC2's image time is the same for the image and each copy (pending → available).`,
    '',
    ...table,
    '',
    `Callbacks: ${transitionsConstant ? 'the same states entered at every EC2 time (a task retry on a loaded machine adds one transition and one invocation)' : 'the states entered vary with EC2 time (see the table)'}, ${usd(oursUsd)} a build ($${(oursUsd * 1000).toFixed(2)} per 1,000 builds). ` +
      `Polling grows with EC2 time${slopePerMinute !== null ? ` (by $${(slopePerMinute * 1000).toFixed(2)} per 1,000 builds per minute of EC2 image time between the last two points)` : ''}; ${crossingText}. ` +
      `At 60 min, a typical large image, polling costs ${polling.at(-1) !== undefined && polling.at(-1)?.imageMinutes === 60 ? `${((polling.at(-1)?.usd ?? 0) / oursUsd).toFixed(1)}×` : 'n/a (not measured in the small configuration)'} as much as callbacks.`,
    '',
    `Lambda invocations per build by function (callbacks, ${ours[0]?.imageMinutes ?? '?'} min): ${Object.entries(ours[0]?.byFunction ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. ` +
      `The sweeper (sweep-waits, every 5 min) is a fixed cost per account whatever the number of builds: ${(30 * 288).toLocaleString('en-US')} invocations a month, ` +
      `about ${usd(sweeperMonthly)} a month at the measured ${sweepPerInvocationGbS.toFixed(3)} GB-s per invocation (not counted per build above; polling needs no sweeper).`,
    '',
    `Prices (${PRICES.region}, checked ${PRICES.checked}): Step Functions Standard $0.025 per 1,000 state transitions (retries count as transitions); ` +
      `Lambda $0.20 per 1M requests and $0.0000133334 per GB-second (arm64, first tier); free tiers left out. EventBridge delivers AWS service events on the default bus at no charge; EC2 API calls are not billed. ` +
      `Billed transitions are counted from the execution history (states entered, plus one per task retry). GB-seconds are the handlers' real run times on this machine (rounded up to 1 ms) × the configured memory. ` +
      `Simulated clock ×600 (callbacks) and ×${options.small ? 600 : 150} (polling); the polling loop's own run time still stretches each 30 s interval a little, so its counts are slightly low.`,
  ].join('\n');
  const chart = await lineChart({
    file: 'charts/workflow-cost.svg',
    alt: 'Cost per 1,000 builds against EC2 image time: flat for callbacks, rising for polling',
    title: 'Step Functions + Lambda cost per 1,000 builds (4 image waits per build)',
    xTitle: 'EC2 image time per image (simulated minutes)',
    yTitle: 'USD per 1,000 builds',
    series: [
      { name: 'callbacks (.waitForTaskToken + EC2 events)', points: ours.map((r) => [r.imageMinutes, r.usd * 1000] as const) },
      {
        name: `polling (Wait ${POLL_INTERVAL_SECONDS} s → DescribeImages → Choice)`,
        points: polling.map((r) => [r.imageMinutes, r.usd * 1000] as const),
      },
    ],
  });
  const atMax = polling.at(-1);
  return {
    name: 'workflow-cost',
    title: 'Workflow cost vs EC2 time: callbacks and polling',
    markdown,
    results: {
      prices: PRICES,
      copyRegions: COPY_REGIONS,
      pollIntervalSeconds: POLL_INTERVAL_SECONDS,
      rows: rows.map((r) => ({ ...r, byFunction: { ...r.byFunction } })),
      callbacksUsdPerBuild: oursUsd,
      pollingUsdPerMinute: slopePerMinute,
      crossingMinutes: crossing,
      sweeperMonthlyUsd: sweeperMonthly,
      runs: runs.map((r) => ({ ...r, byFunction: { ...r.byFunction } })),
    },
    goals: [
      {
        what: 'callback design: states entered constant in EC2 time',
        target: 'same at every EC2 time',
        measured: ours.map((r) => `${r.entered} at ${r.imageMinutes} min`).join(', '),
        met: transitionsConstant,
      },
      ...(atMax !== undefined
        ? [
            {
              what: `cost per 1,000 builds at ${atMax.imageMinutes} min of EC2 time`,
              target: 'callbacks < polling',
              measured: `$${(oursUsd * 1000).toFixed(2)} vs $${(atMax.usd * 1000).toFixed(2)}`,
              met: oursUsd < atMax.usd,
            },
          ]
        : []),
    ],
    charts: [chart],
  };
}
