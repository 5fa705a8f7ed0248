import {
  DeregisterImageCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSnapshotsCommand,
  DisableImageCommand,
  EC2Client,
  EnableImageDeprecationCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { Logger } from '../../functions/lib/logger.js';
import { planRetention } from '../../functions/lib/retention/plan.js';
import {
  applyStep,
  DEPRECATION_MARGIN_MS,
  LANE_CONCURRENCY,
  RECHECK_CHUNK,
  interleave,
  planRegion,
  toInventory,
  type RegionDeps,
} from '../../functions/lib/retention/run.js';
import { RetentionRequestSchema, type RetentionRequest } from '../../functions/lib/retention/request.js';
import { ledgerKey, planKey, RetentionStore, type ImageResult } from '../../functions/lib/retention/store.js';
import { awsError } from '../fixtures.js';

/**
 * planRegion / applyStep against mocked AWS clients: the per-image failure, the re-check at
 * action time (excluded since the plan, gone since the plan, in use since the plan), the
 * deprecation time, and what is recorded (results, ledger, events).
 */
const ec2 = mockClient(EC2Client);
const asg = mockClient(AutoScalingClient);
const s3 = mockClient(S3Client);
const events = mockClient(EventBridgeClient);
const ACCOUNT = '111122223333';
const NOW = new Date('2026-11-23T12:00:00Z');
const DAY = 86_400_000;
const id = (n: number): string => `ami-${String(n).padStart(17, '0')}`;

let objects: Map<string, string>;
let world: Image[];

function image(n: number, ageDays: number, over: Partial<Image> = {}, tags: Record<string, string> = {}): Image {
  return {
    ImageId: id(n),
    Name: `web-${n}`,
    OwnerId: ACCOUNT,
    CreationDate: new Date(NOW.getTime() - ageDays * DAY).toISOString(),
    State: 'available',
    RootDeviceType: 'ebs',
    Tags: Object.entries({ 'ami-factory:managed': 'true', 'ami-factory:family': 'web', ...tags }).map(([Key, Value]) => ({ Key, Value })),
    ...over,
  };
}

function request(policy: Partial<RetentionRequest['policy']> = {}): RetentionRequest {
  return RetentionRequestSchema.parse({
    runId: 'run-00000001',
    family: 'web',
    requestedAt: NOW.toISOString(),
    regions: ['us-east-1'],
    dryRun: false,
    trigger: { type: 'test' },
    policy: { keepNewest: 1, maxAgeDays: 90, disableGraceDays: 0, excludeTags: { 'ami-factory:keep': 'true' }, ...policy },
  });
}

function deps(): RegionDeps {
  return {
    region: 'us-east-1',
    ec2: ec2 as unknown as EC2Client,
    autoscaling: asg as unknown as AutoScalingClient,
    s3: s3 as unknown as S3Client,
    store: new RetentionStore(s3 as unknown as S3Client, 'state'),
    events: events as unknown as EventBridgeClient,
    bus: 'ami-factory',
    accountId: ACCOUNT,
    logger: new Logger('test'),
  };
}

beforeEach(() => {
  for (const m of [ec2, asg, s3, events]) m.reset();
  objects = new Map();
  world = [];
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: string }) => {
    objects.set(input.Key, input.Body);
    return {};
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const text = objects.get(input.Key);
    if (text === undefined) throw awsError('NoSuchKey');
    return { Body: { transformToString: async () => text } };
  });
  s3.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => ({
    Contents: [...objects.keys()].filter((k) => k.startsWith(input.Prefix)).map((Key) => ({ Key })),
  }));
  // DescribeImages answers from `world`, honouring image-id and tag:<key> filters.
  ec2.on(DescribeImagesCommand).callsFake((input: { Filters?: { Name: string; Values: string[] }[] }) => {
    const match = (i: Image): boolean =>
      (input.Filters ?? []).every((f) => {
        if (f.Name === 'image-id') return f.Values.includes(i.ImageId ?? '');
        if (f.Name.startsWith('tag:')) return (i.Tags ?? []).some((t) => t.Key === f.Name.slice(4) && f.Values.includes(t.Value ?? ''));
        throw new Error(`filter ${f.Name} not modelled`);
      });
    return { Images: world.filter(match) };
  });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [] });
  ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
  ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
});

async function step(r: RetentionRequest, cursor = 0) {
  return applyStep(deps(), { request: r, cursor, planNow: NOW, now: () => NOW });
}

describe('retention: plan then apply', () => {
  it('lists images of the family that are not managed as kept, and never acts on them', async () => {
    world = [
      image(1, 1),
      { ...image(2, 300), Tags: [{ Key: 'ami-factory:family', Value: 'web' }] },
      image(3, 200, {}, { 'ami-factory:managed': 'false' }),
    ];
    const plan = await planRegion(deps(), request(), NOW);
    expect(plan).toMatchObject({ images: 3, targets: 0, counts: { keep: 3 } });
    const stored = JSON.parse(objects.get(planKey('run-00000001', 'us-east-1')) ?? '{}') as {
      entries: { imageId: string; reason: string }[];
    };
    expect(
      stored.entries
        .filter((e) => e.reason === 'not managed')
        .map((e) => e.imageId)
        .sort(),
    ).toEqual([id(2), id(3)]);
  });

  it('fails one image without failing the others, and publishes events only for what happened', async () => {
    world = [image(1, 1), image(2, 200), image(3, 210), image(4, 220)];
    const r = request();
    const plan = await planRegion(deps(), r, NOW);
    expect(plan).toMatchObject({ images: 4, targets: 3, counts: { keep: 1, deregister: 3 } });
    ec2.on(DeregisterImageCommand).callsFake((input: { ImageId: string }) => {
      if (input.ImageId === id(3)) throw awsError('OperationNotPermitted', 'protected');
      return { Return: true, DeleteSnapshotResults: [{ SnapshotId: `snap-${input.ImageId.slice(4)}`, ReturnCode: 'success' }] };
    });

    const out = await step(r);

    expect(out).toMatchObject({ cursor: 3, done: true, outcomes: { deregistered: 2, failed: 1 } });
    const failed = out.results.find((x) => x.imageId === id(3));
    expect(failed).toMatchObject({ outcome: 'failed', error: 'OperationNotPermitted: protected' });
    const published = events.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(published.map((e) => [e.DetailType, (JSON.parse(e.Detail ?? '{}') as { imageId: string }).imageId]).sort()).toEqual([
      ['ImageExpired', id(2)],
      ['ImageExpired', id(4)],
    ]);
    // Results are stored under the step's cursor: a retried step overwrites, never duplicates.
    const stored = JSON.parse(objects.get('retention/runs/run-00000001/us-east-1/results/0000000.json') ?? '[]') as ImageResult[];
    expect(stored).toHaveLength(3);
  });

  it('re-checks right before acting: excluded, gone or in use since the plan means kept', async () => {
    world = [image(1, 1), image(2, 200), image(3, 210), image(4, 220), image(5, 230)];
    const r = request();
    await planRegion(deps(), r, NOW);
    // Between plan and action: 2 is tagged keep, 3 is deregistered by someone, 4 is launched,
    // 5 loses its managed tag (someone took it over).
    world = [
      image(1, 1),
      image(2, 200, {}, { 'ami-factory:keep': 'true' }),
      image(4, 220),
      { ...image(5, 230), Tags: [{ Key: 'ami-factory:family', Value: 'web' }] },
    ];
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0abc', ImageId: id(4), State: { Name: 'running' } }] }] });

    const out = await step(r);

    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(0);
    const by = new Map(out.results.map((x) => [x.imageId, x]));
    expect(by.get(id(2))).toMatchObject({ outcome: 'kept', reason: 'at action time: excluded (ami-factory:keep=true)' });
    expect(by.get(id(3))).toMatchObject({ outcome: 'already-done' });
    expect(by.get(id(4))).toMatchObject({
      outcome: 'kept',
      reason: expect.stringContaining('in use by instance i-0abc (running)') as string,
    });
    expect(by.get(id(5))).toMatchObject({ outcome: 'kept', reason: 'at action time: not managed' });
  });

  describe('DescribeImageReferences (an SSM parameter names image 2)', () => {
    const ssm = { ImageId: id(2), ResourceType: 'ssm:Parameter', Arn: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/golden` };
    beforeEach(() => {
      world = [image(1, 1), image(2, 200), image(3, 210)];
      ec2
        .on(DescribeImageReferencesCommand)
        .callsFake((input: { ImageIds: string[] }) => ({ ImageReferences: input.ImageIds.includes(id(2)) ? [ssm] : [] }));
      ec2.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });
    });

    it('is left to the re-check before each batch when the run applies: planned, then kept at action time', async () => {
      // Act
      const plan = await planRegion(deps(), request(), NOW);
      const planCalls = ec2.commandCalls(DescribeImageReferencesCommand).length;
      const out = await step(request());
      // Assess
      expect(planCalls).toBe(0);
      expect(plan.counts).toMatchObject({ keep: 1, deregister: 2 });
      const by = new Map(out.results.map((x) => [x.imageId, x]));
      expect(by.get(id(2))).toMatchObject({ outcome: 'kept', reason: expect.stringContaining('ssm:Parameter') as string });
      expect(by.get(id(3))).toMatchObject({ outcome: 'deregistered' });
      expect(ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId)).toEqual([id(3)]);
    });

    it('is asked by the plan of a dry run, which shows the image kept', async () => {
      const plan = await planRegion(deps(), RetentionRequestSchema.parse({ ...request(), dryRun: true }), NOW);
      expect(ec2.commandCalls(DescribeImageReferencesCommand)).toHaveLength(1);
      expect(plan.counts).toMatchObject({ keep: 2, deregister: 1 });
    });
  });

  it('disables with a ledger entry, then deregisters after the grace period and forgets the entry', async () => {
    world = [image(1, 1), image(2, 200)];
    const r = request({ disableGraceDays: 7 });
    await planRegion(deps(), r, NOW);
    ec2.on(DisableImageCommand).resolves({ Return: true });
    const first = await step(r);
    expect(first.outcomes.disabled).toBe(1);
    const ledger = JSON.parse(objects.get(ledgerKey('web', 'us-east-1')) ?? '{}') as { disabledAt: Record<string, string> };
    expect(ledger.disabledAt).toEqual({ [id(2)]: NOW.toISOString() });

    // Eight days on, the image is disabled: the next run deregisters it.
    world = [image(1, 1), image(2, 200, { State: 'disabled' })];
    const later = new Date(NOW.getTime() + 8 * DAY);
    const r2 = { ...r, runId: 'run-00000002' };
    const plan = await planRegion(deps(), r2, later);
    expect(plan.counts.deregister).toBe(1);
    ec2.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });
    await applyStep(deps(), { request: r2, cursor: 0, planNow: later, now: () => later });
    expect(JSON.parse(objects.get(ledgerKey('web', 'us-east-1')) ?? '{}')).toEqual({ disabledAt: {} });
  });

  it('deprecates images past deprecateAfterDays at their due time, never in the past', async () => {
    world = [image(1, 1), image(2, 40), image(3, 10)];
    const r = request({ deprecateAfterDays: 30, keepNewest: 1 });
    const plan = await planRegion(deps(), r, NOW);
    expect(plan.counts).toMatchObject({ deprecate: 1, keep: 2 });
    ec2.on(EnableImageDeprecationCommand).resolves({ Return: true });
    await step(r);
    const at = ec2.commandCalls(EnableImageDeprecationCommand)[0]?.args[0].input;
    expect(at?.ImageId).toBe(id(2));
    // Due 10 days ago: now plus the margin for the pacer's waits, rounded up to the minute.
    expect(at?.DeprecateAt?.getTime()).toBe(NOW.getTime() + DEPRECATION_MARGIN_MS + 60_000);
  });

  it('reports snapshots EC2 said it deleted but that are still there', async () => {
    world = [image(1, 1), image(2, 200)];
    const r = request();
    await planRegion(deps(), r, NOW);
    ec2
      .on(DeregisterImageCommand)
      .resolves({ Return: true, DeleteSnapshotResults: [{ SnapshotId: 'snap-00000000000000002', ReturnCode: 'success' }] });
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-00000000000000002', State: 'completed' }] });
    const out = await step(r);
    expect(out.results[0]).toMatchObject({
      outcome: 'deregistered',
      deletedSnapshots: [],
      keptSnapshots: [{ snapshotId: 'snap-00000000000000002', reason: 'still present after deregistration' }],
    });
  });

  it('continues from the cursor: each step takes the next batch', async () => {
    world = [image(1, 1), ...Array.from({ length: 5 }, (_, i) => image(10 + i, 100 + i))];
    const r = { ...request(), batchSize: 2 };
    await planRegion(deps(), r, NOW);
    ec2.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });
    const a = await step(r, 0);
    const b = await step(r, a.cursor);
    const c = await step(r, b.cursor);
    expect([a.cursor, b.cursor, c.cursor, a.done, b.done, c.done]).toEqual([2, 4, 5, false, false, true]);
    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(5);
    expect(objects.has(planKey('run-00000001', 'us-east-1'))).toBe(true);
  });
});

describe('retention: plan then apply (property-based)', () => {
  const spec = fc.record({
    ageDays: fc.integer({ min: 0, max: 400 }),
    state: fc.constantFrom('available', 'available', 'disabled', 'failed'),
    keepAtPlan: fc.boolean(),
    usedAtPlan: fc.constantFrom(false, false, true),
    // What changes between plan and action.
    keepLater: fc.constantFrom(false, false, true),
    usedLater: fc.constantFrom(false, false, true),
    protectedLater: fc.constantFrom(false, false, true),
    goneLater: fc.constantFrom(false, false, false, true),
  });

  it('acts on every target unchanged since the plan, and never on one in use, excluded or protected at action time', async () => {
    let acted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 10 }),
        async (specs, keepNewest, grace) => {
          ec2.resetHistory();
          objects.clear();
          const at = (later: boolean) =>
            specs.flatMap((s, i) => {
              if (later && s.goneLater) return [];
              const tags: Record<string, string> = (later ? s.keepLater || s.keepAtPlan : s.keepAtPlan)
                ? { 'ami-factory:keep': 'true' }
                : {};
              const over: Partial<Image> = { State: s.state };
              if (later && s.protectedLater) over.DeregistrationProtection = 'enabled';
              return [image(100 + i, s.ageDays, over, tags)];
            });
          const used = (later: boolean) =>
            specs.flatMap((s, i) => ((later ? s.usedLater || s.usedAtPlan : s.usedAtPlan) && !(later && s.goneLater) ? [id(100 + i)] : []));
          const instances = (ids: string[]) => ({
            Reservations: [
              { Instances: ids.map((imageId, n) => ({ InstanceId: `i-${n}`, ImageId: imageId, State: { Name: 'running' as const } })) },
            ],
          });
          world = at(false);
          const world0 = world;
          const usesAtPlan = new Map(used(false).map((x) => [x, ['instance']]));
          ec2.on(DescribeInstancesCommand).resolves(instances(used(false)));
          const r = request({ keepNewest, disableGraceDays: grace });
          const plan = await planRegion(deps(), r, NOW);
          world = at(true);
          ec2.on(DescribeInstancesCommand).resolves(instances(used(true)));
          ec2.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });
          ec2.on(DisableImageCommand).resolves({ Return: true });
          let cursor = 0;
          for (let done = plan.targets === 0; !done;) {
            const out = await step(r, cursor);
            cursor = out.cursor;
            done = out.done;
          }
          const disabled = ec2.commandCalls(DisableImageCommand).map((c) => c.args[0].input.ImageId);
          const deregistered = ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId);
          const touched = [...disabled, ...deregistered];
          const results = new Map(
            [...objects]
              .filter(([k]) => k.includes('/results/'))
              .flatMap(([, v]) => JSON.parse(v) as ImageResult[])
              .map((x) => [x.imageId, x]),
          );
          // What the (separately tested) planning function decides on the world at plan time.
          const planned = new Map(
            planRetention(
              'web',
              world0.map((i) => toInventory('us-east-1', i, { disabledAt: {} })),
              usesAtPlan,
              r.policy,
              ACCOUNT,
              NOW,
            ).map((e) => [e.imageId, e.action]),
          );
          const usedNow = new Set(used(true));
          specs.forEach((s, i) => {
            const imageId = id(100 + i);
            const action = planned.get(imageId);
            const target = action === 'disable' || action === 'deregister';
            // Safety: nothing in use, excluded or gone at action time is touched; nothing protected is deregistered.
            if (usedNow.has(imageId) || s.keepAtPlan || s.keepLater || s.goneLater) expect(touched).not.toContain(imageId);
            if (s.protectedLater) expect(deregistered).not.toContain(imageId);
            // Nothing the plan did not target is touched; every target gets exactly one result.
            if (!target) expect(touched).not.toContain(imageId);
            if (target) expect(results.get(imageId)).toMatchObject({ planned: action });
            else expect(results.has(imageId)).toBe(false);
            // Liveness: a target nothing happened to since the plan is acted on, once.
            const unchanged = !s.keepLater && !s.goneLater && !s.protectedLater && !(s.usedLater && !s.usedAtPlan);
            if (!target || !unchanged) return;
            acted++;
            if (action === 'deregister') {
              expect(deregistered.filter((x) => x === imageId)).toHaveLength(1);
              expect(results.get(imageId)).toMatchObject({ outcome: 'deregistered' });
            } else if (s.state === 'available') {
              expect(disabled.filter((x) => x === imageId)).toHaveLength(1);
              expect(results.get(imageId)).toMatchObject({ outcome: 'disabled' });
            } else {
              // Already disabled (outside the factory): no call, the grace period is recorded.
              expect(disabled).not.toContain(imageId);
              expect(results.get(imageId)).toMatchObject({ outcome: 'already-done' });
              const ledger = JSON.parse(objects.get(ledgerKey('web', 'us-east-1')) ?? '{}') as { disabledAt: Record<string, string> };
              expect(ledger.disabledAt[imageId]).toBe(NOW.toISOString());
            }
          });
          expect(results.size).toBe(plan.targets);
        },
      ),
      { numRuns: 100 },
    );
    // The generator makes worlds where something is retired (the liveness checks ran).
    expect(acted).toBeGreaterThan(0);
  });
});

describe('interleave', () => {
  it('merges two lanes in proportion, keeping each lane in order', () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(50), (n, m) => {
        const a = Array.from({ length: n }, (_, i) => `a${i}`);
        const b = Array.from({ length: m }, (_, i) => `b${i}`);
        const out = interleave(a, b);
        expect(out.filter((x) => x.startsWith('a'))).toEqual(a);
        expect(out.filter((x) => x.startsWith('b'))).toEqual(b);
        // Every prefix holds each lane's share, within one item.
        for (let k = 1; k <= out.length; k++) {
          const taken = out.slice(0, k).filter((x) => x.startsWith('a')).length;
          expect(Math.abs(taken - (k * n) / (n + m))).toBeLessThanOrEqual(1);
        }
      }),
    );
  });
});

describe('retention: apply lanes', () => {
  it('keeps LANE_CONCURRENCY calls in flight per lane, instance-store deregistrations one at a time, results in batch order', async () => {
    world = [
      image(1, 1),
      ...Array.from({ length: 12 }, (_, i) => image(10 + i, 100 + i)),
      ...Array.from({ length: 3 }, (_, i) =>
        image(40 + i, 100 + i, { RootDeviceType: 'instance-store', ImageLocation: `bundles/b${i}/image.manifest.xml` }),
      ),
      ...Array.from({ length: 9 }, (_, i) => image(60 + i, 40 + i)),
    ];
    const r = request({ deprecateAfterDays: 30, deleteBundles: false });
    await planRegion(deps(), r, NOW);
    const most = { ebs: 0, store: 0, deprecate: 0 };
    const now = { ebs: 0, store: 0, deprecate: 0 };
    const track = async (lane: keyof typeof most): Promise<void> => {
      now[lane]++;
      most[lane] = Math.max(most[lane], now[lane]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      now[lane]--;
    };
    ec2.on(DeregisterImageCommand).callsFake(async (input: { ImageId: string }) => {
      await track(Number(input.ImageId.slice(4)) >= 40 ? 'store' : 'ebs');
      return { Return: true, DeleteSnapshotResults: [] };
    });
    ec2.on(EnableImageDeprecationCommand).callsFake(async () => {
      await track('deprecate');
      return { Return: true };
    });

    const out = await step(r);

    expect(most).toEqual({ ebs: LANE_CONCURRENCY, store: 1, deprecate: LANE_CONCURRENCY });
    const targets = await deps().store.getTargets('run-00000001', 'us-east-1');
    expect(out.results.map((x) => x.imageId)).toEqual(targets.map((t) => t.imageId));
    expect(out.outcomes).toMatchObject({ deregistered: 15, deprecated: 9, failed: 0 });
  });
});

describe('retention: re-check a chunk at a time', () => {
  /** 2.5 chunks of expired images (and the newest, kept): one step takes them all. */
  const expired = Math.floor(RECHECK_CHUNK * 2.5);
  const idsOf = (input: { Filters?: { Name: string; Values: string[] }[] }): string[] =>
    input.Filters?.find((f) => f.Name === 'image-id')?.Values ?? [];

  it('describes chunk i+1 while chunk i is acted on, never further ahead; templates are read once per step', async () => {
    world = [image(1, 1), ...Array.from({ length: expired }, (_, i) => image(100 + i, 100 + i))];
    const r = request();
    await planRegion(deps(), r, NOW);
    ec2.resetHistory();
    asg.resetHistory();
    const targets = (await deps().store.getTargets('run-00000001', 'us-east-1')).map((t) => t.imageId);
    const log: string[] = [];
    ec2.on(DescribeImagesCommand).callsFake((input: { Filters?: { Name: string; Values: string[] }[] }) => {
      const ids = idsOf(input);
      log.push(`describe ${Math.floor(targets.indexOf(ids[0] ?? '') / RECHECK_CHUNK)}`);
      return { Images: world.filter((i) => ids.includes(i.ImageId ?? '')) };
    });
    ec2.on(DeregisterImageCommand).callsFake(async (input: { ImageId: string }) => {
      log.push(`deregister ${targets.indexOf(input.ImageId)}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { Return: true, DeleteSnapshotResults: [] };
    });

    const out = await step(r);

    expect(out).toMatchObject({ cursor: expired, done: true });
    expect(out.outcomes).toMatchObject({ deregistered: expired, failed: 0 });
    const at = (entry: string): number => log.indexOf(entry);
    const firstDeregisterOf = (chunk: number): number => log.findIndex((e) => e === `deregister ${chunk * RECHECK_CHUNK}`);
    expect(log.filter((e) => e.startsWith('describe'))).toEqual(['describe 0', 'describe 1', 'describe 2']);
    // Each chunk is described before its first action (no lane waits for it) …
    for (const chunk of [1, 2]) expect(at(`describe ${chunk}`)).toBeLessThan(firstDeregisterOf(chunk));
    // … and only once half of the chunk before it was taken up.
    for (const chunk of [1, 2]) {
      const actedBefore = log.slice(0, at(`describe ${chunk}`)).filter((e) => e.startsWith('deregister')).length;
      expect(actedBefore).toBeGreaterThanOrEqual((chunk - 1) * RECHECK_CHUNK + RECHECK_CHUNK / 2 - LANE_CONCURRENCY);
    }
    expect(ec2.commandCalls(DescribeLaunchTemplatesCommand)).toHaveLength(1);
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(1);
    // EC2's reference search is asked per chunk, 10 ids a call.
    expect(ec2.commandCalls(DescribeImageReferencesCommand)).toHaveLength(
      [RECHECK_CHUNK, RECHECK_CHUNK, expired - 2 * RECHECK_CHUNK].reduce((n, size) => n + Math.ceil(size / 10), 0),
    );
  });

  it('ends the step at a chunk whose re-check fails: the chunks before are acted on and recorded, the next step starts there', async () => {
    world = [image(1, 1), ...Array.from({ length: expired }, (_, i) => image(100 + i, 100 + i))];
    const r = request();
    await planRegion(deps(), r, NOW);
    const targets = (await deps().store.getTargets('run-00000001', 'us-east-1')).map((t) => t.imageId);
    let failing = true;
    ec2.on(DescribeImagesCommand).callsFake((input: { Filters?: { Name: string; Values: string[] }[] }) => {
      const ids = idsOf(input);
      if (failing && targets.indexOf(ids[0] ?? '') === 2 * RECHECK_CHUNK) throw awsError('InternalError');
      return { Images: world.filter((i) => ids.includes(i.ImageId ?? '')) };
    });
    ec2.on(DeregisterImageCommand).resolves({ Return: true, DeleteSnapshotResults: [] });

    const first = await step(r);

    expect(first).toMatchObject({ cursor: 2 * RECHECK_CHUNK, done: false });
    expect(first.results.map((x) => x.imageId)).toEqual(targets.slice(0, 2 * RECHECK_CHUNK));
    const deregistered = ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId);
    expect(new Set(deregistered)).toEqual(new Set(targets.slice(0, 2 * RECHECK_CHUNK)));
    expect(await deps().store.getResults('run-00000001', 'us-east-1')).toHaveLength(2 * RECHECK_CHUNK);

    failing = false;
    const second = await step(r, first.cursor);
    expect(second).toMatchObject({ cursor: expired, done: true });
    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(expired);
    expect((await deps().store.getResults('run-00000001', 'us-east-1')).map((x) => x.imageId).sort()).toEqual([...targets].sort());
  });

  it('fails the step, acting on nothing, when the first chunk cannot be re-checked', async () => {
    world = [image(1, 1), ...Array.from({ length: expired }, (_, i) => image(100 + i, 100 + i))];
    const r = request();
    await planRegion(deps(), r, NOW);
    ec2.on(DescribeImagesCommand).rejects(awsError('InternalError'));
    await expect(step(r)).rejects.toMatchObject({ name: 'InternalError' });
    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(0);
    expect(ec2.commandCalls(EnableImageDeprecationCommand)).toHaveLength(0);
    expect(await deps().store.getResults('run-00000001', 'us-east-1')).toHaveLength(0);
  });
});
