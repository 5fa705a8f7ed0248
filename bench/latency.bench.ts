/**
 * `npm run bench -- latency`: how long after an image becomes `available` the build moves on.
 *
 * Builds of `web` (home image in us-east-1, copies to 3 more regions: 4 image waits a build)
 * through the real state machine on a local cloud (×20 time compression, ×60 when small; images and copies
 * available 2 simulated minutes after they are made), by two paths:
 *   - events: EC2's `EC2 AMI State Change` event → EventBridge → complete-waits → SendTaskSuccess;
 *   - sweeper: the same events lost (fault injection, local/faults.ts: every delivery of that
 *     detail-type dropped), so only the sweeper (sweep-waits, on its 5-minute schedule) completes.
 * Per wait: from the moment the image became available (its CreationDate plus EC2's image time,
 * exact on the local EC2) to the wait state's exit in the execution history (its output names
 * the image), on the simulated clock. Median and max over the waits of `runs` builds a path.
 * At ×20, each real millisecond the handlers and the cloud spend counts as 20 simulated ones,
 * so the event path's figure is mostly this machine's processing time, times 20.
 */
import { randomUUID } from 'node:crypto';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { startLocalCloud, PROJECT_ROOT } from '../local/server.js';
import type { BenchOptions, BenchSection } from './section.js';
import { benchConfigFile, CREDENTIALS, median, startBuild, waitForExecution, webBuildRequest, BenchRunError } from './support.js';
import { fullHistory } from '../bin/execution-progress.js';

/** ×20 (×60 when small: CI's run, where the figures are not quoted). */
const timeScaleOf = (small: boolean): number => (small ? 60 : 20);
const IMAGE_MS = 2 * 60_000;
const COPY_REGIONS = ['us-west-2', 'eu-west-1', 'eu-central-1'];
const WAIT_STATES: Record<
  string,
  (output: { home?: { imageId?: string }; copy?: { imageId?: string }; target?: { region?: string } }) => [string, string] | undefined
> = {
  AwaitImage: (o) => (o.home?.imageId !== undefined ? ['us-east-1', o.home.imageId] : undefined),
  AwaitCopy: (o) => (o.copy?.imageId !== undefined && o.target?.region !== undefined ? [o.target.region, o.copy.imageId] : undefined),
};

type Path = 'events' | 'sweeper';

interface Wait {
  path: Path;
  state: string;
  region: string;
  imageId: string;
  latencyS: number;
}

async function oneBuild(path: Path, configFile: string, timeScale: number): Promise<Wait[]> {
  const cloud = await startLocalCloud({
    port: 0,
    stateDir: null,
    timeScale,
    familySchedules: false,
    imageAvailableAfterMs: IMAGE_MS,
    copyAvailableAfterMs: IMAGE_MS,
    configFile,
    code: 'source',
    ...(path === 'sweeper' ? { faults: { events: [{ detailType: 'EC2 AMI State Change', lose: 1 }] } } : {}),
  });
  const config = { endpoint: cloud.endpoint, credentials: CREDENTIALS, maxAttempts: 1 };
  const sfn = new SFNClient({ ...config, region: 'us-east-1' });
  const ec2 = new Map<string, EC2Client>();
  try {
    const arn = await startBuild(sfn, cloud, webBuildRequest(configFile, cloud, randomUUID()));
    await waitForExecution(sfn, arn, Math.max(240_000, ((2 * IMAGE_MS + 30 * 60_000) / timeScale) * 3));
    const waits: Wait[] = [];
    for (const e of await fullHistory(sfn, arn)) {
      const d = e.stateExitedEventDetails;
      const locate = d?.name !== undefined ? WAIT_STATES[d.name] : undefined;
      if (d === undefined || locate === undefined || e.timestamp === undefined) continue;
      const where = locate(JSON.parse(d.output ?? '{}') as Parameters<typeof locate>[0]);
      if (where === undefined) throw new BenchRunError(`${d.name} exited without naming its image`);
      const [region, imageId] = where;
      const client = ec2.get(region) ?? new EC2Client({ ...config, region });
      ec2.set(region, client);
      const image = (await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
      if (image?.CreationDate === undefined) throw new BenchRunError(`${region} ${imageId}: not found after the build`);
      const availableMs = Date.parse(image.CreationDate) + IMAGE_MS;
      waits.push({ path, state: d.name ?? '', region, imageId, latencyS: (e.timestamp.getTime() - availableMs) / 1000 });
    }
    if (waits.length !== 1 + COPY_REGIONS.length)
      throw new BenchRunError(`${waits.length} image waits found, ${1 + COPY_REGIONS.length} expected`);
    return waits;
  } finally {
    sfn.destroy();
    for (const c of ec2.values()) c.destroy();
    await cloud.close();
  }
}

const s = (x: number): string => `${x.toFixed(1)} s`;

export async function measure(options: BenchOptions): Promise<BenchSection> {
  const timeScale = timeScaleOf(options.small);
  const configFile = benchConfigFile(PROJECT_ROOT, (web) => {
    web.copies = COPY_REGIONS.map((region) => (region === 'eu-west-1' ? { region, kmsKeyId: 'alias/ami-factory' } : { region }));
  });
  const waits: Wait[] = [];
  for (const path of ['events', 'sweeper'] as const)
    for (let i = 0; i < options.runs; i++) {
      const w = await oneBuild(path, configFile, timeScale);
      waits.push(...w);
      console.log(`  ${path} build ${i + 1}: ${w.map((x) => `${x.state} ${x.region} ${s(x.latencyS)}`).join(', ')}`);
    }
  const summary = (['events', 'sweeper'] as const).map((path) => {
    const xs = waits.filter((w) => w.path === path).map((w) => w.latencyS);
    return { path, waits: xs.length, medianS: median(xs), maxS: Math.max(...xs), minS: Math.min(...xs) };
  });
  const [ev, sw] = summary as [(typeof summary)[number], (typeof summary)[number]];
  const markdown = [
    `From an image becoming \`available\` to its wait state's exit in the execution history, on the simulated clock (×${timeScale}). ` +
      `Builds of \`web\`: the home image and ${COPY_REGIONS.length} copies, ${1 + COPY_REGIONS.length} waits a build, ${options.runs} build(s) a path; EC2's image time ${IMAGE_MS / 60_000} min.`,
    '',
    '| path | waits | median | min | max |',
    '|---|---:|---:|---:|---:|',
    ...summary.map(
      (r) =>
        `| ${r.path === 'events' ? 'EC2 event → complete-waits' : 'sweeper only (events lost)'} | ${r.waits} | ${s(r.medianS)} | ${s(r.minS)} | ${s(r.maxS)} |`,
    ),
    '',
    `The event path is processing only (EventBridge delivery, the complete-waits handler, SendTaskSuccess, the engine): at ×${timeScale} each real ms counts ${timeScale} simulated, ` +
      `so its median is about ${((ev.medianS * 1000) / timeScale).toFixed(0)} ms of this machine's time (EventBridge's own delivery latency on AWS, typically under a second, is not modelled). ` +
      `Without events the sweeper finds the image on its next run: at most its 5-minute period plus its own run, ${s(sw.medianS)} median here.` +
      (options.small
        ? ` Small (CI) configuration at ×${timeScale}: the handlers' real time weighs ${timeScale / 20}× more than in the full run, so the event path's figure is indicative only.`
        : ''),
  ].join('\n');
  return {
    name: 'latency',
    title: 'Latency: image available → execution moves on',
    markdown,
    results: { timeScale: timeScale, imageMs: IMAGE_MS, summary, waits: waits.map((w) => ({ ...w })) },
    goals: [
      { what: 'sweeper fallback, worst wait', target: '≤ 5 min + one sweep', measured: s(sw.maxS), met: sw.maxS <= 330 },
      {
        what: 'event path, median wait',
        target: '< sweeper median',
        measured: `${s(ev.medianS)} vs ${s(sw.medianS)}`,
        met: ev.medianS < sw.medianS,
      },
    ],
  };
}
