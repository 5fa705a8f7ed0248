import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateImageCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSnapshotsCommand,
  type DescribeImagesCommandInput,
  type EC2Client,
  type Image,
  type Instance,
} from '@aws-sdk/client-ec2';
import { LOCAL_ACCOUNT_ID } from '../../local/ec2/service.js';
import { errorName, startEc2, tagMap, until, type Ec2Harness } from './ec2-harness.js';

async function webInstances(c: EC2Client, extra: { Name: string; Values: string[] }[] = []): Promise<Instance[]> {
  const r = await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Role', Values: ['web'] }, ...extra] }));
  return (r.Reservations ?? []).flatMap((res) => res.Instances ?? []);
}

async function golden(c: EC2Client): Promise<Instance> {
  const [g] = await webInstances(c, [{ Name: 'tag:Golden', Values: ['true'] }]);
  if (g === undefined) throw new Error('no golden instance');
  return g;
}

async function image(c: EC2Client, imageId: string): Promise<Image> {
  const i = (await c.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
  if (i === undefined) throw new Error(`no image ${imageId}`);
  return i;
}

async function waitAvailable(c: EC2Client, imageId: string): Promise<Image> {
  return until(
    async () => {
      const i = await image(c, imageId);
      return i.State === 'pending' ? undefined : i;
    },
    5000,
    `${imageId} to leave pending`,
  );
}

describe('local EC2 endpoint: regions, instances, images, tags, snapshots', () => {
  let h: Ec2Harness;
  let c: EC2Client;
  beforeEach(async () => {
    h = await startEc2({ timeScale: 600 }); // EC2's 5 minutes take 500 ms
    c = h.client();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('DescribeRegions', () => {
    it("lists the local world's seventeen regions (AWS's default ones), and filters by name", async () => {
      const all = await c.send(new DescribeRegionsCommand({}));
      expect(all.Regions?.map((r) => r.RegionName)).toEqual([
        'us-east-1',
        'us-east-2',
        'us-west-1',
        'us-west-2',
        'ca-central-1',
        'sa-east-1',
        'eu-west-1',
        'eu-west-2',
        'eu-west-3',
        'eu-central-1',
        'eu-north-1',
        'ap-south-1',
        'ap-northeast-1',
        'ap-northeast-2',
        'ap-northeast-3',
        'ap-southeast-1',
        'ap-southeast-2',
      ]);
      expect(all.Regions?.[0]).toMatchObject({ Endpoint: 'ec2.us-east-1.amazonaws.com', OptInStatus: 'opt-in-not-required' });
      const eu = await c.send(new DescribeRegionsCommand({ Filters: [{ Name: 'region-name', Values: ['eu-*'] }] }));
      expect(eu.Regions?.map((r) => r.RegionName)).toEqual(['eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-north-1']);
      expect(await errorName(c.send(new DescribeRegionsCommand({ RegionNames: ['mars-north-1'] })))).toBe('InvalidParameterValue');
    });
  });

  describe('DescribeInstances', () => {
    it('returns the seeded web family: three running instances, one golden, EBS root on /dev/xvda', async () => {
      const webs = await webInstances(c);
      expect(webs).toHaveLength(3);
      for (const i of webs) {
        expect(i.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
        expect(i.State).toEqual({ Code: 16, Name: 'running' });
        expect(tagMap(i.Tags)).toMatchObject({ 'ami-factory:family': 'web', Role: 'web' });
        expect(i.BlockDeviceMappings?.[0]).toMatchObject({
          DeviceName: '/dev/xvda',
          Ebs: { Status: 'attached', DeleteOnTermination: true },
        });
        expect(i.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);
        expect(i.BlockDeviceMappings?.length).toBeGreaterThanOrEqual(1);
        expect(i.BlockDeviceMappings?.length).toBeLessThanOrEqual(2);
      }
      expect(webs.filter((i) => tagMap(i.Tags).Golden === 'true')).toHaveLength(1);
      const r = await c.send(new DescribeInstancesCommand({ InstanceIds: [webs[0]?.InstanceId ?? ''] }));
      expect(r.Reservations?.[0]?.OwnerId).toBe(LOCAL_ACCOUNT_ID);
      expect(r.Reservations?.[0]?.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    });

    it('filters by instance-id, state, tag-key and wildcards, ANDing filters and ORing values', async () => {
      const webs = await webInstances(c);
      const ids = webs.map((i) => i.InstanceId ?? '');
      const two = await webInstances(c, [{ Name: 'instance-id', Values: ids.slice(0, 2) }]);
      expect(two.map((i) => i.InstanceId).sort()).toEqual(ids.slice(0, 2).sort());
      expect(await webInstances(c, [{ Name: 'instance-state-name', Values: ['stopped'] }])).toHaveLength(0);
      expect(await webInstances(c, [{ Name: 'tag-key', Values: ['Golden'] }])).toHaveLength(1);
      expect(await webInstances(c, [{ Name: 'tag:Name', Values: ['web-?'] }])).toHaveLength(3);
      const vol = webs[0]?.BlockDeviceMappings?.[0]?.Ebs?.VolumeId ?? '';
      expect((await webInstances(c, [{ Name: 'block-device-mapping.volume-id', Values: [vol] }])).map((i) => i.InstanceId)).toEqual([
        webs[0]?.InstanceId,
      ]);
    });

    it('answers the EC2 error codes for unknown, malformed ids and unknown filters', async () => {
      expect(await errorName(c.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })))).toBe(
        'InvalidInstanceID.NotFound',
      );
      expect(await errorName(c.send(new DescribeInstancesCommand({ InstanceIds: ['instance-1'] })))).toBe('InvalidInstanceID.Malformed');
      expect(await errorName(c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] })))).toBe(
        'InvalidParameterValue',
      );
      expect(await errorName(c.send(new DescribeInstancesCommand({ MaxResults: 2 })))).toBe('InvalidParameterValue');
    });
  });

  describe('CreateImage', () => {
    it('reboots the instance unless NoReboot: stopping → stopped → pending → running, visible while it happens', async () => {
      await h.close();
      h = await startEc2({ timeScale: 100 }); // the reboot's 15 s steps take 150 ms
      c = h.client();
      const g = await golden(c);
      const id = g.InstanceId ?? '';
      const { ImageId } = await c.send(new CreateImageCommand({ InstanceId: id, Name: 'web-reboot' }));
      const state = async (): Promise<string | undefined> =>
        (await c.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
      expect(['stopping', 'stopped']).toContain(await state());
      await until(async () => ((await state()) === 'stopped' ? true : undefined), 5000, 'stopped');
      await until(async () => ((await state()) === 'running' ? true : undefined), 5000, 'running again');
      const history = h.service.instanceHistory('us-east-1', id);
      expect(history.map((e) => e.state)).toEqual(['pending', 'running', 'stopping', 'stopped', 'pending', 'running']);
      const times = history.map((e) => Date.parse(e.at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      // The snapshots are taken once the instance is stopped.
      const snapIds = (await image(c, ImageId ?? '')).BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId ?? '') ?? [];
      const snaps = (await c.send(new DescribeSnapshotsCommand({ SnapshotIds: snapIds }))).Snapshots ?? [];
      for (const s of snaps) expect(s.StartTime?.toISOString()).toBe(history[3]?.at);
    });

    it('leaves the instance running with NoReboot', async () => {
      const g = await golden(c);
      const before = h.service.instanceHistory('us-east-1', g.InstanceId ?? '');
      await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-noreboot', NoReboot: true }));
      expect(h.service.instanceHistory('us-east-1', g.InstanceId ?? '')).toEqual(before);
      expect((await golden(c)).State?.Name).toBe('running');
    });

    it('makes one snapshot per EBS volume, tags image and snapshots, and becomes available in simulated time with an event', async () => {
      const g = await golden(c);
      const volumes = (g.BlockDeviceMappings ?? []).map((b) => b.Ebs?.VolumeId);
      const { ImageId } = await c.send(
        new CreateImageCommand({
          InstanceId: g.InstanceId,
          Name: 'web-20260101T0000Z-abcdef12',
          Description: 'web image',
          NoReboot: true,
          TagSpecifications: [
            { ResourceType: 'image', Tags: [{ Key: 'ami-factory:managed', Value: 'true' }] },
            { ResourceType: 'snapshot', Tags: [{ Key: 'ami-factory:build-id', Value: 'b1' }] },
          ],
        }),
      );
      expect(ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
      const pending = await image(c, ImageId ?? '');
      expect(pending).toMatchObject({
        State: 'pending',
        OwnerId: LOCAL_ACCOUNT_ID,
        Name: 'web-20260101T0000Z-abcdef12',
        Description: 'web image',
        RootDeviceType: 'ebs',
        RootDeviceName: '/dev/xvda',
        Architecture: 'x86_64',
        SourceInstanceId: g.InstanceId,
        Public: false,
        ImageType: 'machine',
      });
      expect(tagMap(pending.Tags)).toEqual({ 'ami-factory:managed': 'true' });
      const snapIds = pending.BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId ?? '') ?? [];
      expect(snapIds).toHaveLength(volumes.length);
      expect(snapIds.every((s) => /^snap-[0-9a-f]{17}$/.test(s))).toBe(true);

      const available = await waitAvailable(c, ImageId ?? '');
      expect(available.State).toBe('available');
      const snaps = (await c.send(new DescribeSnapshotsCommand({ SnapshotIds: snapIds }))).Snapshots ?? [];
      expect(snaps.map((s) => s.VolumeId).sort()).toEqual([...volumes].sort());
      for (const s of snaps) {
        expect(s).toMatchObject({ State: 'completed', Progress: '100%', OwnerId: LOCAL_ACCOUNT_ID, Encrypted: false });
        expect(tagMap(s.Tags)).toEqual({ 'ami-factory:build-id': 'b1' });
        expect(s.Description).toBe(`Created by CreateImage(${g.InstanceId}) for ${ImageId}`);
      }
      const event = await until(() => h.events.find((e) => e.detailType === 'EC2 AMI State Change' && e.detail.ImageId === ImageId));
      expect(event).toMatchObject({
        source: 'aws.ec2',
        region: 'us-east-1',
        account: LOCAL_ACCOUNT_ID,
        resources: [`arn:aws:ec2:us-east-1::image/${ImageId}`],
        detail: { ImageId, State: 'available', ErrorMessage: '' },
      });
      expect(typeof event.detail.RequestId).toBe('string');
      // Pending → available takes imageAvailableAfterMs (5 min) of simulated time.
      expect(Date.parse(event.time) - Date.parse(pending.CreationDate ?? '')).toBeGreaterThanOrEqual(5 * 60_000 - 1000);
    });

    it('fires the event from a timer, without any request', async () => {
      const g = await golden(c);
      const { ImageId } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-timer', NoReboot: true }));
      const event = await until(() => h.events.find((e) => e.detail.ImageId === ImageId), 5000, 'the event');
      expect(event.detail.State).toBe('available');
    });

    it('applies BlockDeviceMapping overrides: NoDevice drops a volume, VolumeSize grows one', async () => {
      const g = await golden(c);
      expect(g.BlockDeviceMappings).toHaveLength(2);
      const { ImageId } = await c.send(
        new CreateImageCommand({
          InstanceId: g.InstanceId,
          Name: 'web-bdm',
          NoReboot: true,
          BlockDeviceMappings: [
            { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 16 } },
            { DeviceName: '/dev/sdf', NoDevice: '' },
          ],
        }),
      );
      const i = await image(c, ImageId ?? '');
      expect(i.BlockDeviceMappings).toHaveLength(1);
      expect(i.BlockDeviceMappings?.[0]).toMatchObject({ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 16, VolumeType: 'gp3' } });
    });

    it('answers InvalidAMIName.Duplicate, .Malformed, MissingParameter and InvalidInstanceID.NotFound', async () => {
      const g = await golden(c);
      const { ImageId } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-dup', NoReboot: true }));
      const dup = c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-dup', NoReboot: true }));
      await expect(dup).rejects.toMatchObject({
        name: 'InvalidAMIName.Duplicate',
        message: `AMI name web-dup is already in use by AMI ${ImageId}`,
      });
      expect(await errorName(c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'x!', NoReboot: true })))).toBe(
        'InvalidAMIName.Malformed',
      );
      expect(await errorName(c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: undefined })))).toBe('MissingParameter');
      expect(await errorName(c.send(new CreateImageCommand({ InstanceId: 'i-0123456789abcdef0', Name: 'web-x' })))).toBe(
        'InvalidInstanceID.NotFound',
      );
      const r = await c
        .send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-dup', NoReboot: true }))
        .catch((e: unknown) => e);
      expect((r as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
    });

    it('ends failed with the fault reason and a failed event', async () => {
      h.service.faults.failImages = [{ namePrefix: 'web-bad', reason: 'simulated snapshot failure' }];
      const g = await golden(c);
      const { ImageId } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-bad-1', NoReboot: true }));
      const failed = await waitAvailable(c, ImageId ?? '');
      expect(failed.State).toBe('failed');
      expect(failed.StateReason).toEqual({ Code: 'Server.InternalError', Message: 'simulated snapshot failure' });
      const event = await until(() => h.events.find((e) => e.detail.ImageId === ImageId));
      expect(event.detail).toMatchObject({ State: 'failed', ErrorMessage: 'simulated snapshot failure' });
      const snaps = await c.send(
        new DescribeSnapshotsCommand({ SnapshotIds: failed.BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId ?? '') }),
      );
      expect(snaps.Snapshots?.every((s) => s.State === 'error')).toBe(true);
    });
  });

  describe('DescribeImages', () => {
    it('finds Amazon base images by owner and name wildcard, newest and older, deprecated ones only when asked', async () => {
      const r = await c.send(
        new DescribeImagesCommand({
          Owners: ['amazon'],
          Filters: [
            { Name: 'name', Values: ['al2023-ami-2023.*-x86_64'] },
            { Name: 'state', Values: ['available'] },
          ],
        }),
      );
      const names = (r.Images ?? []).map((i) => i.Name).sort();
      expect(names).toEqual(['al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64', 'al2023-ami-2023.6.20241111.0-kernel-6.1-x86_64']);
      for (const i of r.Images ?? [])
        expect(i).toMatchObject({ OwnerId: '137112412989', ImageOwnerAlias: 'amazon', Public: true, State: 'available' });
      const withDeprecated = await c.send(
        new DescribeImagesCommand({
          Owners: ['amazon'],
          IncludeDeprecated: true,
          Filters: [{ Name: 'name', Values: ['al2023-ami-2023.?.*-x86_64'] }],
        }),
      );
      const deprecated = (withDeprecated.Images ?? []).find((i) => i.DeprecationTime !== undefined);
      expect(deprecated?.Name).toBe('al2023-ami-2023.5.20240624.0-kernel-6.1-x86_64');
      // Asked for by id, a deprecated image is returned.
      expect((await image(c, deprecated?.ImageId ?? '')).Name).toBe(deprecated?.Name);
      const arm = await c.send(
        new DescribeImagesCommand({ Owners: ['137112412989'], Filters: [{ Name: 'architecture', Values: ['arm64'] }] }),
      );
      expect(arm.Images).toHaveLength(1);
    });

    it("filters the account's images by owner, tags, state, type, visibility and description", async () => {
      const g = await golden(c);
      const mk = async (Name: string, tags: Record<string, string>): Promise<string> =>
        (
          await c.send(
            new CreateImageCommand({
              InstanceId: g.InstanceId,
              Name,
              Description: `desc of ${Name}`,
              NoReboot: true,
              TagSpecifications: [{ ResourceType: 'image', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
            }),
          )
        ).ImageId ?? '';
      const a = await mk('web-a', { 'ami-factory:family': 'web', Env: 'prod' });
      const b = await mk('web-b', { 'ami-factory:family': 'web' });
      const x = await mk('api-x', { 'ami-factory:family': 'api' });
      const ids = async (input: DescribeImagesCommandInput): Promise<string[]> =>
        ((await c.send(new DescribeImagesCommand(input))).Images ?? []).map((i) => i.ImageId ?? '').sort();
      expect(await ids({ Owners: ['self'] })).toEqual([a, b, x].sort());
      expect(await ids({ Owners: [LOCAL_ACCOUNT_ID], Filters: [{ Name: 'tag:ami-factory:family', Values: ['web'] }] })).toEqual(
        [a, b].sort(),
      );
      expect(await ids({ Owners: ['self'], Filters: [{ Name: 'tag-key', Values: ['Env'] }] })).toEqual([a]);
      expect(
        await ids({
          Owners: ['self'],
          Filters: [
            { Name: 'name', Values: ['web-*'] },
            { Name: 'tag:ami-factory:family', Values: ['api', 'web'] },
          ],
        }),
      ).toEqual([a, b].sort());
      expect(await ids({ Owners: ['self'], Filters: [{ Name: 'state', Values: ['pending', 'available'] }] })).toEqual([a, b, x].sort());
      expect(await ids({ Owners: ['self'], Filters: [{ Name: 'state', Values: ['failed'] }] })).toEqual([]);
      expect(await ids({ Owners: ['self'], Filters: [{ Name: 'image-id', Values: [x] }] })).toEqual([x]);
      expect(
        await ids({
          Owners: ['self'],
          Filters: [
            { Name: 'is-public', Values: ['false'] },
            { Name: 'image-type', Values: ['machine'] },
          ],
        }),
      ).toEqual([a, b, x].sort());
      expect(await ids({ Owners: ['self'], Filters: [{ Name: 'description', Values: ['desc of api-*'] }] })).toEqual([x]);
      expect(await ids({ Filters: [{ Name: 'owner-id', Values: [LOCAL_ACCOUNT_ID] }] })).toEqual([a, b, x].sort());
      expect(await ids({ ImageIds: [a, b] })).toEqual([a, b].sort());
      expect(
        await ids({ Owners: ['self'], Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-00000000000000000'] }] }),
      ).toEqual([]);
    });

    it('paginates with MaxResults and an opaque NextToken', async () => {
      const g = await golden(c);
      const made: string[] = [];
      for (let n = 0; n < 12; n++) {
        made.push((await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: `page-${n}`, NoReboot: true }))).ImageId ?? '');
      }
      const seen: string[] = [];
      let NextToken: string | undefined;
      let pages = 0;
      do {
        const r = await c.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: 5, NextToken }));
        expect((r.Images ?? []).length).toBeLessThanOrEqual(5);
        seen.push(...(r.Images ?? []).map((i) => i.ImageId ?? ''));
        NextToken = r.NextToken;
        pages++;
      } while (NextToken !== undefined);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual([...made].sort());
      expect(await errorName(c.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: 5, NextToken: 'bogus' })))).toBe(
        'InvalidParameterValue',
      );
      expect(await errorName(c.send(new DescribeImagesCommand({ ImageIds: made.slice(0, 1), MaxResults: 5 })))).toBe(
        'InvalidParameterCombination',
      );
      expect(await errorName(c.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: 1001 })))).toBe('InvalidParameterValue');
    });

    it('answers InvalidAMIID.NotFound / .Malformed, and an unknown filter with InvalidParameterValue', async () => {
      await expect(c.send(new DescribeImagesCommand({ ImageIds: ['ami-0123456789abcdef0'] }))).rejects.toMatchObject({
        name: 'InvalidAMIID.NotFound',
        message: "The image id '[ami-0123456789abcdef0]' does not exist",
      });
      expect(await errorName(c.send(new DescribeImagesCommand({ ImageIds: ['image-1'] })))).toBe('InvalidAMIID.Malformed');
      expect(await errorName(c.send(new DescribeImagesCommand({ Filters: [{ Name: 'flavour', Values: ['x'] }] })))).toBe(
        'InvalidParameterValue',
      );
      expect(await errorName(c.send(new DescribeImagesCommand({ Owners: ['somebody'] })))).toBe('InvalidParameterValue');
    });

    it('hides a just-created image for notFoundWindowMs (eventual consistency)', async () => {
      h.service.faults.notFoundWindowMs = 120_000; // 200 ms real at 600×
      const g = await golden(c);
      const { ImageId } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-ec', NoReboot: true }));
      expect(await errorName(c.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ''] })))).toBe('InvalidAMIID.NotFound');
      expect((await c.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? []).toHaveLength(0);
      const seen = await until(
        async () => {
          try {
            return await image(c, ImageId ?? '');
          } catch {
            return undefined;
          }
        },
        5000,
        'the image to become visible',
      );
      expect(seen.ImageId).toBe(ImageId);
    });
  });

  describe('CreateTags / DeleteTags', () => {
    it('tags and untags images, snapshots and instances', async () => {
      const g = await golden(c);
      const { ImageId = '' } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-tags', NoReboot: true }));
      const snap = (await image(c, ImageId)).BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
      const id = g.InstanceId ?? '';
      await c.send(
        new CreateTagsCommand({
          Resources: [ImageId, snap, id],
          Tags: [{ Key: 'k1', Value: 'v1' }, { Key: 'k2', Value: 'v2' }, { Key: 'empty' }],
        }),
      );
      expect(tagMap((await image(c, ImageId)).Tags)).toEqual({ k1: 'v1', k2: 'v2', empty: '' });
      expect(tagMap((await c.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots?.[0]?.Tags)).toEqual({
        k1: 'v1',
        k2: 'v2',
        empty: '',
      });
      expect(tagMap((await golden(c)).Tags)).toMatchObject({ k1: 'v1', Golden: 'true' });
      // A value that does not match leaves the tag; no value deletes it whatever its value.
      await c.send(new DeleteTagsCommand({ Resources: [ImageId], Tags: [{ Key: 'k1', Value: 'other' }, { Key: 'k2' }] }));
      expect(tagMap((await image(c, ImageId)).Tags)).toEqual({ k1: 'v1', empty: '' });
      // No Tag parameter: every user tag goes.
      await c.send(new DeleteTagsCommand({ Resources: [snap] }));
      expect((await c.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots?.[0]?.Tags).toBeUndefined();
    });

    it('refuses unknown resources and reserved keys', async () => {
      expect(
        await errorName(c.send(new CreateTagsCommand({ Resources: ['ami-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] }))),
      ).toBe('InvalidAMIID.NotFound');
      expect(
        await errorName(c.send(new CreateTagsCommand({ Resources: ['snap-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] }))),
      ).toBe('InvalidSnapshot.NotFound');
      expect(await errorName(c.send(new CreateTagsCommand({ Resources: ['i-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] })))).toBe(
        'InvalidInstanceID.NotFound',
      );
      const g = await golden(c);
      expect(
        await errorName(c.send(new CreateTagsCommand({ Resources: [g.InstanceId ?? ''], Tags: [{ Key: 'aws:x', Value: 'b' }] }))),
      ).toBe('InvalidParameterValue');
      const many = Array.from({ length: 51 }, (_, n) => ({ Key: `k${n}`, Value: 'v' }));
      expect(await errorName(c.send(new CreateTagsCommand({ Resources: [g.InstanceId ?? ''], Tags: many })))).toBe('TagLimitExceeded');
    });
  });

  describe('DescribeSnapshots', () => {
    it('filters by owner, ids, tags, volume and status, and paginates', async () => {
      const g = await golden(c);
      const made: string[] = [];
      for (let n = 0; n < 4; n++) {
        const { ImageId = '' } = await c.send(
          new CreateImageCommand({
            InstanceId: g.InstanceId,
            Name: `snaps-${n}`,
            NoReboot: true,
            TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'n', Value: String(n) }] }],
          }),
        );
        made.push(...((await image(c, ImageId)).BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId ?? ''));
      }
      expect(made).toHaveLength(8);
      const own = (await c.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
      expect(own.map((s) => s.SnapshotId).sort()).toEqual([...made].sort());
      const tagged = await c.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:n', Values: ['1', '3'] }] }));
      expect(tagged.Snapshots).toHaveLength(4);
      const root = g.BlockDeviceMappings?.[0]?.Ebs?.VolumeId ?? '';
      const byVolume = await c.send(
        new DescribeSnapshotsCommand({
          Filters: [
            { Name: 'volume-id', Values: [root] },
            { Name: 'status', Values: ['pending', 'completed'] },
          ],
        }),
      );
      expect(byVolume.Snapshots).toHaveLength(4);
      const seen: string[] = [];
      let NextToken: string | undefined;
      do {
        const r = await c.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5, NextToken }));
        seen.push(...(r.Snapshots ?? []).map((s) => s.SnapshotId ?? ''));
        NextToken = r.NextToken;
      } while (NextToken !== undefined);
      expect(seen.sort()).toEqual([...made].sort());
      expect(await errorName(c.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-0123456789abcdef0'] })))).toBe(
        'InvalidSnapshot.NotFound',
      );
    });
  });

  describe('the protocol', () => {
    it('answers InvalidAction for an unknown action, in the EC2 error XML', async () => {
      const r = await fetch(h.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0',
        },
        body: 'Action=FrobnicateImages&Version=2016-11-15',
      });
      expect(r.status).toBe(400);
      const text = await r.text();
      expect(text).toMatch(
        /<Response><Errors><Error><Code>InvalidAction<\/Code><Message>[^<]+<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]+<\/RequestID><\/Response>/,
      );
    });

    it('matches ec2-signed requests and unsigned form posts with Action=, not JSON-protocol calls', () => {
      const base = { method: 'POST', path: '/', query: new URLSearchParams(), region: 'us-east-1', accessKeyId: undefined };
      expect(h.service.matches({ ...base, headers: {}, body: Buffer.from(''), service: 'ec2' })).toBe(true);
      expect(
        h.service.matches({
          ...base,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: Buffer.from('Action=DescribeImages'),
          service: undefined,
        }),
      ).toBe(true);
      expect(
        h.service.matches({
          ...base,
          headers: { 'x-amz-target': 'AWSEvents.PutEvents' },
          body: Buffer.from('Action=x'),
          service: undefined,
        }),
      ).toBe(false);
      expect(h.service.matches({ ...base, headers: {}, body: Buffer.from('{}'), service: 'states' })).toBe(false);
    });
  });

  describe('regions', () => {
    it('keeps regions isolated: instances, images and ids of one region are unknown in another', async () => {
      const west = h.client('us-west-2');
      expect((await west.send(new DescribeInstancesCommand({}))).Reservations).toEqual([]);
      const g = await golden(c);
      const { ImageId = '' } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-iso', NoReboot: true }));
      expect(await errorName(west.send(new DescribeImagesCommand({ ImageIds: [ImageId] })))).toBe('InvalidAMIID.NotFound');
      expect(await errorName(west.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-iso', NoReboot: true })))).toBe(
        'InvalidInstanceID.NotFound',
      );
      const baseEast = (await c.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images?.map((i) => i.ImageId) ?? [];
      const baseWest = (await west.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images?.map((i) => i.ImageId) ?? [];
      expect(baseWest).toHaveLength(baseEast.length);
      expect(baseWest.filter((id) => baseEast.includes(id))).toEqual([]);
      expect(h.service.images('us-west-2').filter((i) => i.ownerId === LOCAL_ACCOUNT_ID)).toEqual([]);
    });
  });
});

describe('the persisted local EC2 world', () => {
  it('survives a restart with the same state file, and finishes images left pending', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-factory-ec2-'));
    const stateFile = join(dir, 'ec2.json');
    try {
      let h = await startEc2({ stateFile, timeScale: 1 });
      let c = h.client();
      const g = await golden(c);
      const { ImageId = '' } = await c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-persist', NoReboot: true }));
      await h.close();

      // The next run: faster time, same world (no reseed), the pending image completes.
      h = await startEc2({ stateFile, timeScale: 6000 });
      c = h.client();
      const again = await golden(c);
      expect(again.InstanceId).toBe(g.InstanceId);
      expect(await webInstances(c)).toHaveLength(3);
      const done = await waitAvailable(c, ImageId);
      expect(done.State).toBe('available');
      const event = await until(() => h.events.find((e) => e.detail.ImageId === ImageId));
      expect(event.detail.State).toBe('available');
      expect(await errorName(c.send(new CreateImageCommand({ InstanceId: g.InstanceId, Name: 'web-persist', NoReboot: true })))).toBe(
        'InvalidAMIName.Duplicate',
      );
      await h.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not seed when seed is false', async () => {
    const h = await startEc2({ seed: false });
    try {
      const c = h.client();
      expect((await c.send(new DescribeInstancesCommand({}))).Reservations).toEqual([]);
      expect((await c.send(new DescribeImagesCommand({}))).Images).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
