import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  EnableImageDeregistrationProtectionCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  CreateTagsCommand,
  TerminateInstancesCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { bundleImage } from '../../functions/lib/bundle/index.js';
import { s3BundleSink } from '../../functions/lib/bundle/s3.js';
import type { RetentionReport } from '../../functions/lib/retention/report.js';
import type { RetentionRequestInput } from '../../functions/lib/retention/request.js';
import { ledgerKey, planKey, type RegionPlan } from '../../functions/lib/retention/store.js';
import { localEc2CertificateFor } from '../../local/ec2-bundles.js';
import type { InvokeOptions } from '../../local/lambda/runtime.js';
import type { JsonValue } from '../../local/json.js';
import { parse, stringify } from 'yaml';
import { ACCOUNT, MIB, opensslKeyPair, randomFile, removeDir, tempDir } from '../fixtures/bundle/helpers.js';
import { fullHistory } from '../../bin/execution-progress.js';
import { startHarness, tagMap, waitForExecution, type Harness } from './harness.js';

/**
 * Retention on the local cloud, through the real image-retention state machine, handlers and
 * SDK clients: seeded inventories of managed images in two regions, references of every kind,
 * a reference that appears between plan and action, instance-store bundles, the grace period.
 */
const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };
const EAST = 'us-east-1';
const WEST = 'us-west-2';
const DAY = 86_400_000;

function request(
  over: Omit<Partial<RetentionRequestInput>, 'policy'> & { policy?: Partial<RetentionRequestInput['policy']> } = {},
): RetentionRequestInput {
  const { policy, ...rest } = over;
  return {
    runId: `run-${Math.random().toString(16).slice(2, 10)}`,
    family: 'web',
    requestedAt: new Date().toISOString(),
    regions: [EAST, WEST],
    dryRun: false,
    trigger: { type: 'test' },
    ...rest,
    policy: { keepNewest: 2, maxAgeDays: 90, disableGraceDays: 0, excludeTags: { 'ami-factory:keep': 'true' }, ...policy },
  };
}

async function runRetention(h: Harness, input: RetentionRequestInput): Promise<RetentionReport> {
  const { executionArn } = await h.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: h.cloud.stateMachineArn('image-retention'),
      name: `retention-${input.runId}`,
      input: JSON.stringify(input),
    }),
  );
  const d = await waitForExecution(h, executionArn ?? '', 60_000);
  if (d.status !== 'SUCCEEDED') throw new Error(`retention ${d.status}: ${d.error ?? ''} ${d.cause ?? ''}`);
  return JSON.parse(d.output ?? '{}') as RetentionReport;
}

function client(h: Harness, region: string): EC2Client {
  return new EC2Client({ region, endpoint: h.cloud.endpoint, credentials: creds, maxAttempts: 1 });
}

async function images(ec2: EC2Client): Promise<Image[]> {
  const r = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], IncludeDisabled: true, IncludeDeprecated: true }));
  return (r.Images ?? []).filter((i) => i.State !== 'deregistered');
}

const ageDays = (h: Harness, i: Image): number => (h.cloud.clock.nowMs() - Date.parse(i.CreationDate ?? '')) / DAY;
const byAge = (h: Harness, list: Image[]): Image[] => [...list].sort((a, b) => ageDays(h, a) - ageDays(h, b));

describe('image-retention on the local cloud', () => {
  let h: Harness;
  let east: EC2Client;
  let west: EC2Client;
  beforeEach(async () => {
    // 24 managed images of `web`, alternating between the two regions, 0 to 400 days old.
    h = await startHarness({ seed: false, schedules: false, seedImages: { count: 24, regions: [EAST, WEST], family: 'web' } });
    east = client(h, EAST);
    west = client(h, WEST);
  });
  afterEach(async () => {
    east.destroy();
    west.destroy();
    await h.close();
  });

  it('retires expired images in both regions, keeps the newest and every image in use, and deletes their snapshots', async () => {
    const eastBefore = byAge(h, await images(east));
    const westBefore = byAge(h, await images(west));
    expect(eastBefore).toHaveLength(12);
    const expired = eastBefore.filter((i) => ageDays(h, i) >= 90);
    const [byTemplate, byStopped, byTerminated] = expired as [Image, Image, Image];
    // A launch template's default version, a stopped instance, a terminated instance (no longer a use).
    const lt = await east.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web-prod',
        LaunchTemplateData: { ImageId: byTemplate.ImageId, InstanceType: 't3.micro' },
      }),
    );
    const stopped = await east.send(
      new RunInstancesCommand({ ImageId: byStopped.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }),
    );
    const stoppedId = stopped.Instances?.[0]?.InstanceId ?? '';
    // Booting takes a simulated minute or so: a few real milliseconds here.
    for (let i = 0; ; i++) {
      try {
        await east.send(new StopInstancesCommand({ InstanceIds: [stoppedId] }));
        break;
      } catch (e) {
        if (i > 100 || !(e instanceof Error) || e.name !== 'IncorrectInstanceState') throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const gone = await east.send(
      new RunInstancesCommand({ ImageId: byTerminated.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }),
    );
    const goneId = gone.Instances?.[0]?.InstanceId ?? '';
    await east.send(new TerminateInstancesCommand({ InstanceIds: [goneId] }));
    // shutting-down still counts as a use; wait for terminated.
    for (let i = 0; ; i++) {
      const d = await east.send(new DescribeInstancesCommand({ InstanceIds: [goneId] }));
      if (d.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'terminated') break;
      if (i > 200) throw new Error('instance never terminated');
      await new Promise((r) => setTimeout(r, 20));
    }
    const snapshotOf = (i: Image): string => i.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';

    // Small batches: each region's apply loop takes several steps, carrying cursor and buckets.
    const amiEventsToCompleteWaits: string[] = [];
    const invoke = h.cloud.lambda.invoke.bind(h.cloud.lambda);
    h.cloud.lambda.invoke = async (name: string, payload: JsonValue, opts?: InvokeOptions): Promise<JsonValue> => {
      const e = payload as { 'detail-type'?: string; detail?: { State?: string } };
      if (h.cloud.lambda.lookup(name)?.shortName === 'completeWaits' && e['detail-type'] === 'EC2 AMI State Change')
        amiEventsToCompleteWaits.push(e.detail?.State ?? '?');
      return invoke(name, payload, opts);
    };
    const report = await runRetention(h, request({ batchSize: 3, policy: { deprecateAfterDays: 30 } }));

    expect(report.status).toBe('succeeded');
    // EC2's deregistration events do not wake the wait completer (its rule takes available/failed).
    expect(amiEventsToCompleteWaits).toEqual([]);
    const eastAfter = await images(east);
    // Not expired but older than 30 days, beyond the newest two: deprecated (EC2 accepted the time).
    const due = eastBefore.slice(2).filter((i) => ageDays(h, i) >= 30 && ageDays(h, i) < 90);
    expect(due.length).toBeGreaterThan(0);
    for (const i of due) expect(eastAfter.find((x) => x.ImageId === i.ImageId)?.DeprecationTime).toBeDefined();
    expect(report.regions.reduce((n, r) => n + r.outcomes.deprecated, 0)).toBeGreaterThanOrEqual(due.length);
    const westAfter = await images(west);
    const kept = new Set([...eastAfter, ...westAfter].map((i) => i.ImageId));
    // The newest two of each region, whatever their age, and every image younger than 90 days.
    for (const list of [eastBefore, westBefore]) {
      for (const i of list.slice(0, 2)) expect(kept.has(i.ImageId)).toBe(true);
      for (const i of list.filter((x) => ageDays(h, x) < 90)) expect(kept.has(i.ImageId)).toBe(true);
    }
    expect(kept.has(byTemplate.ImageId)).toBe(true);
    expect(kept.has(byStopped.ImageId)).toBe(true);
    expect(kept.has(byTerminated.ImageId)).toBe(false);
    // Every other expired image is gone, in the copy region too, with its snapshot.
    const retired = [...eastBefore, ...westBefore].filter((i) => !kept.has(i.ImageId));
    for (const i of retired) expect(ageDays(h, i)).toBeGreaterThanOrEqual(90);
    const westRetired = westBefore.slice(2).filter((i) => ageDays(h, i) >= 90);
    expect(westRetired.length).toBeGreaterThan(5);
    for (const i of westRetired) expect(kept.has(i.ImageId)).toBe(false);
    const snaps = await west.send(
      new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'snapshot-id', Values: westRetired.map(snapshotOf) }] }),
    );
    expect(snaps.Snapshots).toEqual([]);
    expect(retired.length).toBe(report.regions.reduce((n, r) => n + r.outcomes.deregistered, 0));

    // The plan (in S3) says why each image was kept.
    const s3 = new S3Client({ region: EAST, endpoint: h.cloud.endpoint, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    try {
      const body = await s3.send(new GetObjectCommand({ Bucket: h.cloud.stateBucket, Key: planKey(report.runId, EAST) }));
      const plan = JSON.parse((await body.Body?.transformToString()) ?? '{}') as RegionPlan;
      const reason = (id: string | undefined): string => plan.entries.find((e) => e.imageId === id)?.reason ?? '';
      expect(reason(byTemplate.ImageId)).toContain(`launch template ${lt.LaunchTemplate?.LaunchTemplateId} version 1 ($Default, $Latest)`);
      expect(reason(byStopped.ImageId)).toContain(`instance ${stoppedId} (stopped)`);
      expect(reason(eastBefore[0]?.ImageId)).toBe('newest 2');
    } finally {
      s3.destroy();
    }
  });

  it('a dry run plans and changes nothing', async () => {
    const before = [...(await images(east)), ...(await images(west))].map((i) => `${i.ImageId}:${i.State}`).sort();
    const report = await runRetention(h, request({ dryRun: true }));
    expect(report.status).toBe('planned');
    expect(report.regions.map((r) => r.planned.deregister).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    const after = [...(await images(east)), ...(await images(west))].map((i) => `${i.ImageId}:${i.State}`).sort();
    expect(after).toEqual(before);
  });

  it('disables first, then deregisters once the grace period is over; protection and exclusions are honoured', async () => {
    const eastBefore = byAge(h, await images(east));
    const expired = eastBefore.slice(2).filter((i) => ageDays(h, i) >= 90);
    const [protectedImage, excluded] = expired as [Image, Image];
    await east.send(new EnableImageDeregistrationProtectionCommand({ ImageId: protectedImage.ImageId }));
    await east.send(new CreateTagsCommand({ Resources: [excluded.ImageId ?? ''], Tags: [{ Key: 'ami-factory:keep', Value: 'true' }] }));

    const first = await runRetention(h, request({ regions: [EAST], policy: { disableGraceDays: 7 } }));
    expect(first.regions[0]?.outcomes.deregistered).toBe(0);
    const disabled = (await images(east)).filter((i) => i.State === 'disabled').map((i) => i.ImageId);
    expect(disabled).toContain(protectedImage.ImageId);
    expect(disabled).not.toContain(excluded.ImageId);
    expect(disabled).toHaveLength(expired.length - 1);

    // A run within the grace period changes nothing.
    const second = await runRetention(h, request({ regions: [EAST], policy: { disableGraceDays: 7 } }));
    expect(second.regions[0]?.planned).toMatchObject({ disable: 0, deregister: 0 });

    // Eight days later (the ledger backdated): the disabled images go, except the protected one.
    const s3 = new S3Client({ region: EAST, endpoint: h.cloud.endpoint, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    try {
      const key = ledgerKey('web', EAST);
      const ledger = JSON.parse(
        (await (await s3.send(new GetObjectCommand({ Bucket: h.cloud.stateBucket, Key: key }))).Body?.transformToString()) ?? '{}',
      ) as {
        disabledAt: Record<string, string>;
      };
      expect(Object.keys(ledger.disabledAt).sort()).toEqual([...disabled].sort());
      const earlier = new Date(h.cloud.clock.nowMs() - 8 * DAY).toISOString();
      for (const id of Object.keys(ledger.disabledAt)) ledger.disabledAt[id] = earlier;
      await s3.send(new PutObjectCommand({ Bucket: h.cloud.stateBucket, Key: key, Body: JSON.stringify(ledger) }));
    } finally {
      s3.destroy();
    }
    const third = await runRetention(h, request({ regions: [EAST], policy: { disableGraceDays: 7 } }));
    expect(third.regions[0]?.outcomes.deregistered).toBe(expired.length - 2);
    const left = await images(east);
    expect(left.map((i) => i.ImageId)).toEqual(expect.arrayContaining([protectedImage.ImageId, excluded.ImageId]));
    expect(left.find((i) => i.ImageId === protectedImage.ImageId)?.State).toBe('disabled');
  });

  it('keeps an image a channel publishes (an ssm:Parameter reference) while older unpublished ones expire', async () => {
    // Prepare: the channel parameter names an expired image, as a publication leaves it (aws:ec2:image).
    const expired = byAge(h, await images(east)).filter((i) => ageDays(h, i) >= 90);
    const [published, ...unpublished] = expired as [Image, ...Image[]];
    expect(unpublished.length).toBeGreaterThan(0);
    const ssm = new SSMClient({ region: EAST, endpoint: h.cloud.endpoint, credentials: creds, maxAttempts: 1 });
    try {
      await ssm.send(
        new PutParameterCommand({ Name: '/ami-factory/web/latest', Value: published.ImageId, Type: 'String', DataType: 'aws:ec2:image' }),
      );
    } finally {
      ssm.destroy();
    }
    await h.cloud.ssm.idle();
    // Act
    const report = await runRetention(h, request({ regions: [EAST] }));
    // Assess
    expect(report.status).toBe('succeeded');
    const after = new Map((await images(east)).map((i) => [i.ImageId, i.State]));
    expect(after.get(published.ImageId)).toBe('available');
    for (const i of unpublished) expect([i.ImageId, after.get(i.ImageId)]).toEqual([i.ImageId, undefined]);
    // An applying run leaves the reference check to the moment before each batch: the image is
    // planned as expired and kept at action time, with the parameter as the reason.
    const kept = report.regions.find((r) => r.region === EAST)?.keptAtActionTime.find((k) => k.imageId === published.ImageId);
    expect(kept?.reason).toMatch(
      /at action time: .*in use.*ssm:Parameter arn:aws:ssm:us-east-1:\d{12}:parameter\/ami-factory\/web\/latest/,
    );
  });

  it('keeps an image that gains a reference between plan and action', async () => {
    const target = byAge(h, await images(east))
      .slice(2)
      .find((i) => ageDays(h, i) >= 90) as Image;
    const lambda = h.cloud.lambda;
    const invoke = lambda.invoke.bind(lambda);
    let launched = '';
    // Right after the plan, before the first apply step, someone launches the image.
    lambda.invoke = async (name: string, payload: JsonValue, opts?: InvokeOptions): Promise<JsonValue> => {
      if (h.cloud.lambda.lookup(name)?.shortName === 'applyRetention' && launched === '') {
        const r = await east.send(new RunInstancesCommand({ ImageId: target.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
        launched = r.Instances?.[0]?.InstanceId ?? '?';
      }
      return invoke(name, payload, opts);
    };
    const report = await runRetention(h, request({ regions: [EAST] }));
    const east1 = report.regions[0];
    expect(east1?.keptAtActionTime).toEqual([
      { imageId: target.ImageId, planned: 'deregister', reason: expect.stringContaining(`in use by instance ${launched} (`) as string },
    ]);
    expect((await images(east)).map((i) => i.ImageId)).toContain(target.ImageId);
    expect(east1?.outcomes.deregistered).toBeGreaterThan(3);
  });

  it('lets only one applying run per family go on; a dry run alongside is not held up', async () => {
    const start = async (input: RetentionRequestInput): Promise<string> => {
      const r = await h.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: h.cloud.stateMachineArn('image-retention'),
          name: `retention-${input.runId}`,
          input: JSON.stringify(input),
        }),
      );
      return r.executionArn ?? '';
    };
    const report = async (arn: string): Promise<RetentionReport> =>
      JSON.parse((await waitForExecution(h, arn, 60_000)).output ?? '{}') as RetentionReport;
    const [one, two] = [request(), request()];
    // The first run does not apply until the second has planned both regions: they overlap.
    let secondPlanned!: () => void;
    const overlap = new Promise<void>((resolve) => (secondPlanned = resolve));
    let plansOfSecond = 0;
    const invoke = h.cloud.lambda.invoke.bind(h.cloud.lambda);
    h.cloud.lambda.invoke = async (name: string, payload: JsonValue, opts?: InvokeOptions): Promise<JsonValue> => {
      const runId = (payload as { request?: { runId?: string } }).request?.runId;
      if (h.cloud.lambda.lookup(name)?.shortName === 'applyRetention' && runId === one.runId) await overlap;
      try {
        return await invoke(name, payload, opts);
      } finally {
        if (h.cloud.lambda.lookup(name)?.shortName === 'planRetention' && runId === two.runId && ++plansOfSecond === 2) secondPlanned();
      }
    };
    const first = await start(one);
    await new Promise((r) => setTimeout(r, 20));
    const second = await start(two);
    const dry = await start(request({ dryRun: true }));
    const [a, b, c] = [await report(first), await report(second), await report(dry)];
    expect(a.status).toBe('succeeded');
    expect(b.status).toBe('failed');
    for (const r of b.regions) {
      expect(r).toMatchObject({
        status: 'plan-failed',
        error: expect.stringContaining(
          `RetentionAlreadyRunningError: Another retention run of web is applying (retention-${a.runId})`,
        ) as string,
      });
    }
    expect(c.status).toBe('planned');
  });

  it("applies a region as soon as its own plan is stored, while another region's plan is still running", async () => {
    // West's inventory answers slowly: its plan ends well after east's.
    h.cloud.faults.set({ requests: [{ service: 'ec2', action: 'DescribeImages', region: WEST, latencyMs: 1500 }] });
    const input = request();
    const { executionArn } = await h.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-retention'),
        name: `retention-${input.runId}`,
        input: JSON.stringify(input),
      }),
    );
    const d = await waitForExecution(h, executionArn ?? '', 60_000);
    expect(d.status).toBe('SUCCEEDED');
    const events = await fullHistory(h.sfn, executionArn ?? '');
    const regionOf = (json: string | undefined): unknown => {
      const v = JSON.parse(json ?? '{}') as { region?: unknown; step?: { Payload?: { region?: unknown } } };
      return v.region ?? v.step?.Payload?.region;
    };
    const at = (type: string, name: string, region: string): number[] =>
      events
        .filter((e) => e.type === type && (e.stateEnteredEventDetails ?? e.stateExitedEventDetails)?.name === name)
        .filter((e) => regionOf(e.stateEnteredEventDetails?.input ?? e.stateExitedEventDetails?.output) === region)
        .map((e) => e.timestamp?.getTime() ?? Number.NaN);
    const eastApplies = at('TaskStateEntered', 'ApplyStep', EAST);
    const westPlanned = at('TaskStateExited', 'PlanRegion', WEST);
    expect(eastApplies.length).toBeGreaterThan(0);
    expect(westPlanned).toHaveLength(1);
    expect(Math.min(...eastApplies)).toBeLessThan(westPlanned[0] as number);
    const report = JSON.parse(d.output ?? '{}') as RetentionReport;
    expect(report.regions.map((r) => [r.region, r.status])).toEqual([
      [EAST, 'applied'],
      [WEST, 'applied'],
    ]);
  });

  it('reports a region it cannot reach and retires in the others', async () => {
    h.cloud.ec2.faults.unreachableRegions = [WEST];
    const report = await runRetention(h, request());
    expect(report.status).toBe('partially-succeeded');
    const byRegion = Object.fromEntries(report.regions.map((r) => [r.region, r]));
    expect(byRegion[WEST]).toMatchObject({ status: 'plan-failed', error: expect.stringContaining('Unavailable') as string });
    expect(byRegion[EAST]?.status).toBe('applied');
    expect(byRegion[EAST]?.outcomes.deregistered).toBeGreaterThan(3);
    h.cloud.ec2.faults.unreachableRegions = [];
    expect(await images(west)).toHaveLength(12);
  });
});

describe('image-retention: instance-store bundles', () => {
  let h: Harness;
  let dir: string;
  let s3: S3Client;
  beforeAll(async () => {
    dir = tempDir('retention-bundles');
    // The config names the bundle bucket: retention may read and delete bundles only there (IAM).
    const config = parse(readFileSync('factory.config.yml', 'utf8')) as { bundles?: { destinations?: string[] } };
    config.bundles = { ...config.bundles, destinations: [...(config.bundles?.destinations ?? []), 'web-bundles/'] };
    writeFileSync(join(dir, 'factory.config.yml'), stringify(config));
    h = await startHarness({ seed: false, schedules: false, configFile: join(dir, 'factory.config.yml') });
    s3 = new S3Client({ region: EAST, endpoint: h.cloud.endpoint, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'web-bundles' }));
  });
  afterAll(async () => {
    s3.destroy();
    await h.close();
    removeDir(dir);
  });

  async function bundle(name: string): Promise<string> {
    const user = opensslKeyPair(dir, name);
    randomFile(join(dir, `${name}.img`), 2 * MIB);
    await bundleImage({
      image: join(dir, `${name}.img`),
      name,
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: (await localEc2CertificateFor(h.cloud.stateDir)).certPem,
      sink: s3BundleSink(s3, 'web-bundles', name),
    });
    return `web-bundles/${name}/${name}.manifest.xml`;
  }

  async function register(location: string, name: string, ageInDays: number): Promise<string> {
    const r = await h.ec2.send(
      new RegisterImageCommand({
        ImageLocation: location,
        Name: name,
        TagSpecifications: [
          {
            ResourceType: 'image',
            Tags: [
              { Key: 'ami-factory:managed', Value: 'true' },
              { Key: 'ami-factory:family', Value: 'web' },
            ],
          },
        ],
      }),
    );
    const id = r.ImageId ?? '';
    // Age it: the local world's record of when it was made.
    const record = h.cloud.ec2.regionState(EAST).images[id];
    if (record === undefined) throw new Error('not registered');
    record.createdMs = h.cloud.clock.nowMs() - ageInDays * DAY;
    return id;
  }

  async function keys(prefix: string): Promise<string[]> {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: 'web-bundles', Prefix: prefix }));
    return (r.Contents ?? []).map((o) => o.Key ?? '');
  }

  it('deletes the bundle of a deregistered image, and keeps a bundle another image still uses', async () => {
    const lone = await bundle('web-old');
    const shared = await bundle('web-shared');
    const oldImage = await register(lone, 'web-old', 200);
    const sharedOld = await register(shared, 'web-shared-old', 150);
    const sharedNew = await register(shared, 'web-shared-new', 1);
    // Retention acts on available images only: wait for the three (not a fixed delay: a loaded machine is slower).
    const deadline = Date.now() + 30_000;
    while (![oldImage, sharedOld, sharedNew].every((id) => h.cloud.ec2.regionState(EAST).images[id]?.state === 'available')) {
      if (Date.now() > deadline) throw new Error('the registered images did not become available within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await keys('web-old/')).toHaveLength(2);

    const report = await runRetention(h, request({ regions: [EAST], policy: { keepNewest: 1 } }));

    expect(report.status).toBe('succeeded');
    expect(report.regions[0]?.outcomes.deregistered).toBe(2);
    expect(await keys('web-old/')).toEqual([]);
    expect((await keys('web-shared/')).length).toBeGreaterThan(1);
    const left = await images(h.ec2);
    expect(left.map((i) => i.ImageId)).toEqual([sharedNew]);
    expect(left.map((i) => i.ImageId)).not.toContain(oldImage);
    expect(left.map((i) => i.ImageId)).not.toContain(sharedOld);
    expect(tagMap(left[0]?.Tags)['ami-factory:family']).toBe('web');
  });
});
