import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { type BuildRequest, type BuildRequestInput } from '../../functions/lib/build-request.js';
import { imageName } from '../../functions/lib/naming.js';
import {
  runBuild,
  startHarness,
  stateTransitions,
  tagMap,
  type Harness,
  type HarnessOptions,
  webBuildRequest,
  WEB_COPIES,
} from './harness.js';

const ACCOUNT = '444455556666';

function request(over: Partial<BuildRequestInput> = {}): BuildRequest {
  return webBuildRequest({ copies: WEB_COPIES, sharing: { accounts: [ACCOUNT] }, deprecateAfterDays: 30, ...over });
}

interface Report {
  outcome: string;
  regions: { region: string; status: string; imageId?: string | null; error?: string; cause?: string; action?: string }[];
}

function regional(h: Harness, region: string): EC2Client {
  return new EC2Client({ region, endpoint: h.cloud.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
}

async function imagesNamed(h: Harness, region: string, name: string) {
  const c = regional(h, region);
  try {
    const r = await c.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: [name] }],
        IncludeDeprecated: true,
        IncludeDisabled: true,
      }),
    );
    return r.Images ?? [];
  } finally {
    c.destroy();
  }
}

function factoryEvents(h: Harness, buildId: string): string[] {
  return h.cloud.events
    .log()
    .filter((e) => e.event.source === 'ami-factory' && (e.event.detail as { buildId?: string }).buildId === buildId)
    .map(
      (e) =>
        `${e.event['detail-type']}${(e.event.detail as { region?: string }).region ? `:${(e.event.detail as { region?: string }).region}` : ''}`,
    )
    .sort();
}

describe('the full pipeline on the local cloud (real ASL, real handlers, no mocks)', () => {
  let h: Harness;
  async function start(opts: HarnessOptions = {}): Promise<void> {
    h = await startHarness(opts);
  }
  afterEach(async () => {
    await h.close();
  });

  it('images an instance, copies it to two regions (one encrypted), shares and deprecates every copy', async () => {
    await start();
    const req = request();
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('SUCCEEDED');
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect(report.outcome).toBe('BuildSucceeded');
    expect(report.regions.map((r) => [r.region, r.status])).toEqual([
      ['us-east-1', 'succeeded'],
      ['us-west-2', 'succeeded'],
      ['eu-west-1', 'succeeded'],
    ]);
    const name = imageName('web', req.requestedAt, req.buildId);
    for (const r of report.regions) {
      const images = await imagesNamed(h, r.region, name);
      expect(images).toHaveLength(1);
      const image = images[0];
      expect(image?.ImageId).toBe(r.imageId);
      expect(image?.State).toBe('available');
      expect(image?.DeprecationTime).toBeDefined();
      expect(tagMap(image?.Tags)).toMatchObject({
        'ami-factory:managed': 'true',
        'ami-factory:build-id': req.buildId,
        'ami-factory:family': 'web',
      });
      if (r.region !== 'us-east-1') expect(tagMap(image?.Tags)['ami-factory:copied-from']).toBe('us-east-1');
      const c = regional(h, r.region);
      const perms = await c.send(new DescribeImageAttributeCommand({ ImageId: r.imageId ?? '', Attribute: 'launchPermission' }));
      expect(perms.LaunchPermissions).toEqual([{ UserId: ACCOUNT }]);
      const snapIds = (image?.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : []));
      expect(snapIds.length).toBeGreaterThan(0);
      const snaps = (await c.send(new DescribeSnapshotsCommand({ SnapshotIds: snapIds }))).Snapshots ?? [];
      for (const s of snaps) {
        expect(tagMap(s.Tags)['ami-factory:managed']).toBe('true');
        expect(s.Encrypted).toBe(r.region === 'eu-west-1');
        const sp = await c.send(
          new DescribeSnapshotAttributeCommand({ SnapshotId: s.SnapshotId ?? '', Attribute: 'createVolumePermission' }),
        );
        expect(sp.CreateVolumePermissions).toEqual([{ UserId: ACCOUNT }]);
      }
      c.destroy();
    }
    await h.cloud.events.idle();
    expect(factoryEvents(h, req.buildId)).toEqual(
      [
        'BuildSucceeded:us-east-1',
        'ImageAvailable:us-east-1',
        'ImageCopied:eu-west-1',
        'ImageCopied:us-west-2',
        'ImagePublished:eu-west-1',
        'ImagePublished:us-east-1',
        'ImagePublished:us-west-2',
        'ImageShared:eu-west-1',
        'ImageShared:us-east-1',
        'ImageShared:us-west-2',
      ].sort(),
    );
  });

  it('re-driving the same BuildRequest creates nothing new and duplicates no permission', async () => {
    await start();
    const req = request();
    const first = await runBuild(h, req, 'first');
    const second = await runBuild(h, req, 'second');
    expect(first.status).toBe('SUCCEEDED');
    expect(second.status).toBe('SUCCEEDED');
    const a = JSON.parse(first.output ?? '{}') as Report;
    const b = JSON.parse(second.output ?? '{}') as Report;
    // The same regions and images; the second run says it adopted what the first created.
    const withoutAction = (r: Report['regions']): unknown[] => r.map(({ action: _action, ...rest }) => rest);
    expect(withoutAction(b.regions)).toEqual(withoutAction(a.regions));
    expect([a.regions.map((r) => r.action), b.regions.map((r) => r.action)]).toEqual([
      ['created', 'created', 'created'],
      ['adopted', 'adopted', 'adopted'],
    ]);
    const name = imageName('web', req.requestedAt, req.buildId);
    for (const r of a.regions) {
      expect(await imagesNamed(h, r.region, name)).toHaveLength(1);
      const c = regional(h, r.region);
      const perms = await c.send(new DescribeImageAttributeCommand({ ImageId: r.imageId ?? '', Attribute: 'launchPermission' }));
      expect(perms.LaunchPermissions).toEqual([{ UserId: ACCOUNT }]);
      c.destroy();
    }
    const stats = h.cloud.ec2.stats().calls;
    expect(stats['us-east-1:CreateImage']).toBe(1);
    expect(stats['us-west-2:CopyImage'] ?? 0).toBe(1);
    expect(stats['eu-west-1:CopyImage'] ?? 0).toBe(1);
  });

  it('isolates a failing region: the others succeed, the failed copy is cleaned up, BuildPartiallySucceeded', async () => {
    await start();
    h.cloud.ec2.faults.failCopiesTo = ['eu-west-1'];
    const req = request();
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('SUCCEEDED');
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect(report.outcome).toBe('BuildPartiallySucceeded');
    const eu = report.regions.find((r) => r.region === 'eu-west-1');
    expect(eu).toMatchObject({ status: 'failed', error: 'ImageFailedError' });
    expect(report.regions.filter((r) => r.status === 'succeeded').map((r) => r.region)).toEqual(['us-east-1', 'us-west-2']);
    const name = imageName('web', req.requestedAt, req.buildId);
    expect((await imagesNamed(h, 'eu-west-1', name)).filter((i) => i.State !== 'deregistered')).toHaveLength(0);
    const eu1 = regional(h, 'eu-west-1');
    const leftovers = await eu1.send(
      new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:ami-factory:build-id`, Values: [req.buildId] }] }),
    );
    eu1.destroy();
    expect(leftovers.Snapshots ?? []).toHaveLength(0);
    await h.cloud.events.idle();
    expect(factoryEvents(h, req.buildId)).toContain('BuildPartiallySucceeded:us-east-1');
  });

  it('isolates an unreachable region and a missing KMS key the same way', async () => {
    await start();
    h.cloud.ec2.faults.unreachableRegions = ['us-west-2'];
    h.cloud.ec2.faults.missingKmsKeys = ['alias/ami-factory'];
    const exec = await runBuild(h, request());
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect(report.outcome).toBe('BuildPartiallySucceeded');
    expect(report.regions.map((r) => [r.region, r.status])).toEqual([
      ['us-east-1', 'succeeded'],
      ['us-west-2', 'failed'],
      ['eu-west-1', 'failed'],
    ]);
  }, 120_000);

  it('builds from a base image: builder runs, stops itself, is imaged, sanitized and terminated', async () => {
    await start();
    const req = request({
      family: 'al2023-base',
      source: { type: 'base-image', nameFilter: 'al2023-ami-2023.*-x86_64', owner: 'amazon', userData: 'echo hello' },
      preparation: 'sanitized',
      copies: [],
    });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('SUCCEEDED');
    const builders = await h.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-factory:build-id', Values: [req.buildId] }] }),
    );
    const instances = (builders.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances).toHaveLength(1);
    expect(instances[0]?.State?.Name).toBe('terminated');
    const image = (await imagesNamed(h, 'us-east-1', imageName('al2023-base', req.requestedAt, req.buildId)))[0];
    expect(tagMap(image?.Tags)).toMatchObject({
      'ami-factory:preparation': 'sanitized',
      'ami-factory:source': expect.stringMatching(/^ami-/),
    });
  });

  it('terminates the builder when the build fails', async () => {
    await start();
    h.cloud.ec2.faults.failImages = [{ namePrefix: 'al2023-base-', reason: 'simulated failure' }];
    const req = request({
      family: 'al2023-base',
      source: { type: 'base-image', nameFilter: 'al2023-ami-2023.*-x86_64', owner: 'amazon' },
      preparation: 'sanitized',
      copies: [],
      sharing: {},
    });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('ImageFailedError');
    const builders = await h.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-factory:build-id', Values: [req.buildId] }] }),
    );
    const states = (builders.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name);
    expect(states).toEqual(['terminated']);
    expect(
      (await imagesNamed(h, 'us-east-1', imageName('al2023-base', req.requestedAt, req.buildId))).filter((i) => i.State !== 'deregistered'),
    ).toHaveLength(0);
    await h.cloud.events.idle();
    expect(factoryEvents(h, req.buildId)).toEqual(['BuildFailed:us-east-1']);
  });

  it('registers an EBS-backed image from existing snapshots', async () => {
    // Declared when the cloud starts, so the packaged IAM scopes (its channel parameters) know it.
    await start({
      families: {
        'from-snapshots': {
          region: 'us-east-1',
          source: {
            type: 'snapshots',
            rootDeviceName: '/dev/xvda',
            architecture: 'x86_64',
            blockDeviceMappings: [{ deviceName: '/dev/xvda', snapshotId: 'snap-0123456789abcdef0' }],
          },
          copies: [{ region: 'us-west-2' }],
        },
      },
    });
    const first = await runBuild(h, request({ copies: [], sharing: {} }));
    const homeId = (JSON.parse(first.output ?? '{}') as Report).regions[0]?.imageId ?? '';
    const src = (await h.ec2.send(new DescribeImagesCommand({ ImageIds: [homeId] }))).Images?.[0];
    const mappings = (src?.BlockDeviceMappings ?? []).flatMap((b) =>
      b.Ebs?.SnapshotId && b.DeviceName ? [{ deviceName: b.DeviceName, snapshotId: b.Ebs.SnapshotId }] : [],
    );
    const req = request({
      family: 'from-snapshots',
      source: {
        type: 'snapshots',
        rootDeviceName: src?.RootDeviceName ?? '/dev/xvda',
        architecture: 'x86_64',
        bootMode: 'uefi',
        tpmSupport: 'v2.0',
        imdsSupport: 'v2.0',
        blockDeviceMappings: mappings,
      },
      copies: [{ region: 'us-west-2' }],
    });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('SUCCEEDED');
    const image = (await imagesNamed(h, 'us-east-1', imageName('from-snapshots', req.requestedAt, req.buildId)))[0];
    expect(image).toMatchObject({
      State: 'available',
      Architecture: 'x86_64',
      BootMode: 'uefi',
      TpmSupport: 'v2.0',
      ImdsSupport: 'v2.0',
      EnaSupport: true,
    });
    expect(image?.BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId)).toEqual(mappings.map((m) => m.snapshotId));
    expect((JSON.parse(exec.output ?? '{}') as Report).outcome).toBe('BuildSucceeded');
  });

  it('costs the same number of state transitions whether EC2 takes 1 minute or 60', async () => {
    const counts: number[] = [];
    for (const minutes of [1, 60]) {
      // ×3000: an hour of EC2 time is 1.2 s; the waits' 30-minute heartbeat is 0.6 s of real time,
      // which a sweeper run on a loaded machine must beat (at ×12000 it had 0.15 s and missed it).
      await start({ imageAvailableAfterMs: minutes * 60_000, timeScale: 3_000 });
      const exec = await runBuild(h, request());
      // The error and cause are in the failure message when it does not succeed.
      expect({ status: exec.status, error: exec.error, cause: exec.cause }).toEqual({ status: 'SUCCEEDED' });
      counts.push(await stateTransitions(h, exec.executionArn ?? ''));
      await h.close();
    }
    expect(counts[1]).toBe(counts[0]);
    await start();
  });

  it('still completes, with the same transitions, when EC2 events are lost (the sweeper polls)', async () => {
    await start({ ec2Events: true });
    const withEvents = await runBuild(h, request());
    const expected = await stateTransitions(h, withEvents.executionArn ?? '');
    await h.close();
    await start({ ec2Events: false });
    const without = await runBuild(h, request());
    expect(without.status).toBe('SUCCEEDED');
    expect(await stateTransitions(h, without.executionArn ?? '')).toBe(expected);
  });
});
