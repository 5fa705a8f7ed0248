import {
  CopyImageCommand,
  CreateImageCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DisableImageBlockPublicAccessCommand,
  DisableImageCommand,
  DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EnableImageBlockPublicAccessCommand,
  EnableImageCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  RegisterImageCommand,
  ResetImageAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Image,
  type Instance,
} from '@aws-sdk/client-ec2';
import { LOCAL_ACCOUNT_ID } from '../../local/ec2/service.js';
import { errorName, startEc2, tagMap, until, type Ec2Harness } from './ec2-harness.js';

const OTHER = '444455556666';
const ORG = 'arn:aws:organizations::123456789012:organization/o-abcdefghij';
const OU = 'arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34';
const userData = (script: string): string => Buffer.from(script, 'utf8').toString('base64');

async function image(c: EC2Client, imageId: string): Promise<Image> {
  const i = (await c.send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDeprecated: true, IncludeDisabled: true }))).Images?.[0];
  if (i === undefined) throw new Error(`no image ${imageId}`);
  return i;
}

async function settled(c: EC2Client, imageId: string): Promise<Image> {
  return until(
    async () => {
      const i = await image(c, imageId);
      return i.State === 'pending' ? undefined : i;
    },
    10_000,
    `${imageId} to leave pending`,
  );
}

async function instance(c: EC2Client, id: string): Promise<Instance> {
  const i = (await c.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
  if (i === undefined) throw new Error(`no instance ${id}`);
  return i;
}

async function instanceIn(c: EC2Client, id: string, state: string): Promise<Instance> {
  return until(
    async () => {
      const i = await instance(c, id);
      return i.State?.Name === state ? i : undefined;
    },
    10_000,
    `${id} to be ${state}`,
  );
}

async function baseImage(c: EC2Client): Promise<string> {
  const r = await c.send(
    new DescribeImagesCommand({
      Owners: ['amazon'],
      Filters: [{ Name: 'name', Values: ['al2023-ami-2023.6.20241111.0-kernel-6.1-x86_64'] }],
    }),
  );
  return r.Images?.[0]?.ImageId ?? '';
}

/** An available image of the golden web instance. */
async function webImage(c: EC2Client, name: string, tags: Record<string, string> = {}): Promise<Image> {
  const r = await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Golden', Values: ['true'] }] }));
  const id = r.Reservations?.[0]?.Instances?.[0]?.InstanceId;
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  const { ImageId = '' } = await c.send(
    new CreateImageCommand({
      InstanceId: id,
      Name: name,
      NoReboot: true,
      ...(Tags.length > 0
        ? {
            TagSpecifications: [
              { ResourceType: 'image', Tags },
              { ResourceType: 'snapshot', Tags },
            ],
          }
        : {}),
    }),
  );
  return settled(c, ImageId);
}

const snapshotIds = (i: Image): string[] =>
  (i.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId !== undefined ? [b.Ebs.SnapshotId] : []));

describe('local EC2 endpoint: instances and the image lifecycle', () => {
  let h: Ec2Harness;
  let c: EC2Client;
  beforeEach(async () => {
    h = await startEc2({ timeScale: 600 });
    c = h.client();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('RunInstances and instance states', () => {
    it('launches pending → running, tagged, with volumes from the image, idempotent by ClientToken', async () => {
      const ami = await baseImage(c);
      const input = {
        ImageId: ami,
        InstanceType: 't3.small' as const,
        MinCount: 1,
        MaxCount: 1,
        ClientToken: 'build-1234',
        TagSpecifications: [
          { ResourceType: 'instance' as const, Tags: [{ Key: 'Name', Value: 'builder' }] },
          { ResourceType: 'volume' as const, Tags: [{ Key: 'Name', Value: 'builder-vol' }] },
        ],
      };
      const first = await c.send(new RunInstancesCommand(input));
      const launched = first.Instances?.[0];
      expect(launched).toMatchObject({
        ImageId: ami,
        InstanceType: 't3.small',
        State: { Code: 0, Name: 'pending' },
        ClientToken: 'build-1234',
        AmiLaunchIndex: 0,
      });
      expect(first.ReservationId).toMatch(/^r-/);
      const id = launched?.InstanceId ?? '';
      const again = await c.send(new RunInstancesCommand(input));
      expect(again.Instances?.map((i) => i.InstanceId)).toEqual([id]);
      expect(await errorName(c.send(new RunInstancesCommand({ ...input, InstanceType: 't3.large' })))).toBe('IdempotentParameterMismatch');
      const running = await instanceIn(c, id, 'running');
      expect(tagMap(running.Tags)).toEqual({ Name: 'builder' });
      expect(running.BlockDeviceMappings?.map((b) => b.DeviceName)).toEqual(['/dev/xvda']);
      const volumeId = running.BlockDeviceMappings?.[0]?.Ebs?.VolumeId ?? '';
      expect(h.service.regionState('us-east-1').volumes[volumeId]?.tags).toEqual({ Name: 'builder-vol' });
      expect(h.service.instanceHistory('us-east-1', id).map((e) => e.state)).toEqual(['pending', 'running']);
      expect(
        h.events
          .filter((e) => e.detailType === 'EC2 Instance State-change Notification' && e.detail['instance-id'] === id)
          .map((e) => e.detail.state),
      ).toEqual(['pending', 'running']);
    });

    it('launches MaxCount instances in one reservation', async () => {
      const r = await c.send(new RunInstancesCommand({ ImageId: await baseImage(c), MinCount: 2, MaxCount: 3, InstanceType: 't3.micro' }));
      expect(r.Instances?.map((i) => i.AmiLaunchIndex)).toEqual([0, 1, 2]);
      const d = await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'reservation-id', Values: [r.ReservationId ?? ''] }] }));
      expect(d.Reservations).toHaveLength(1);
      expect(d.Reservations?.[0]?.Instances).toHaveLength(3);
    });

    it('paginates DescribeInstances with MaxResults and NextToken', async () => {
      await c.send(new RunInstancesCommand({ ImageId: await baseImage(c), MinCount: 7, MaxCount: 7, InstanceType: 't3.micro' }));
      const seen: string[] = [];
      let NextToken: string | undefined;
      let pages = 0;
      do {
        const r = await c.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken }));
        seen.push(...(r.Reservations ?? []).flatMap((res) => (res.Instances ?? []).map((i) => i.InstanceId ?? '')));
        NextToken = r.NextToken;
        pages++;
      } while (NextToken !== undefined);
      expect(pages).toBe(2);
      expect(new Set(seen).size).toBe(10); // 3 seeded + 7 launched
      expect(await errorName(c.send(new DescribeInstancesCommand({ InstanceIds: [seen[0] ?? ''], MaxResults: 5 })))).toBe(
        'InvalidParameterCombination',
      );
    });

    it('runs a builder: user data ending in `shutdown -h now` stops the instance after the build time', async () => {
      const r = await c.send(
        new RunInstancesCommand({
          ImageId: await baseImage(c),
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          UserData: userData('#!/bin/bash\nyum -y install nginx\nsync\nshutdown -h now\n'),
          InstanceInitiatedShutdownBehavior: 'stop',
        }),
      );
      const id = r.Instances?.[0]?.InstanceId ?? '';
      const stopped = await instanceIn(c, id, 'stopped');
      expect(stopped.StateReason?.Code).toBe('Client.InstanceInitiatedShutdown');
      expect(h.service.instanceHistory('us-east-1', id).map((e) => e.state)).toEqual(['pending', 'running', 'stopping', 'stopped']);
      const [, running, stopping] = h.service.instanceHistory('us-east-1', id);
      // builderBuildMs (3 simulated minutes) between running and the shutdown.
      expect(Date.parse(stopping?.at ?? '') - Date.parse(running?.at ?? '')).toBe(3 * 60_000);
    });

    it('runs a builder with the tag done-signal: the tags appear after the build, the instance keeps running', async () => {
      const script = '#!/bin/bash\necho build\naws ec2 create-tags --resources "$ID" --tags Key=ami-factory:build-status,Value=done\n';
      const r = await c.send(
        new RunInstancesCommand({
          ImageId: await baseImage(c),
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          UserData: userData(script),
        }),
      );
      const id = r.Instances?.[0]?.InstanceId ?? '';
      const tagged = await until(
        async () => {
          const i = await instance(c, id);
          return tagMap(i.Tags)['ami-factory:build-status'] === 'done' ? i : undefined;
        },
        10_000,
        'the done tag',
      );
      expect(tagged.State?.Name).toBe('running');
    });

    it('stops, starts and terminates; termination deletes the delete-on-termination volumes', async () => {
      const r = await c.send(
        new RunInstancesCommand({
          ImageId: await baseImage(c),
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 20 } }],
        }),
      );
      const id = r.Instances?.[0]?.InstanceId ?? '';
      expect(await errorName(c.send(new StopInstancesCommand({ InstanceIds: [id] })))).toBe('IncorrectInstanceState');
      await instanceIn(c, id, 'running');
      const volumeId = (await instance(c, id)).BlockDeviceMappings?.[0]?.Ebs?.VolumeId ?? '';
      expect(h.service.regionState('us-east-1').volumes[volumeId]?.size).toBe(20);
      const stop = await c.send(new StopInstancesCommand({ InstanceIds: [id] }));
      expect(stop.StoppingInstances?.[0]).toMatchObject({
        InstanceId: id,
        PreviousState: { Name: 'running', Code: 16 },
        CurrentState: { Name: 'stopping', Code: 64 },
      });
      await instanceIn(c, id, 'stopped');
      const start = await c.send(new StartInstancesCommand({ InstanceIds: [id] }));
      expect(start.StartingInstances?.[0]).toMatchObject({ PreviousState: { Name: 'stopped' }, CurrentState: { Name: 'pending' } });
      await instanceIn(c, id, 'running');
      const term = await c.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      expect(term.TerminatingInstances?.[0]).toMatchObject({ CurrentState: { Name: 'shutting-down', Code: 32 } });
      const gone = await instanceIn(c, id, 'terminated');
      expect(gone.BlockDeviceMappings).toEqual([]);
      expect(h.service.regionState('us-east-1').volumes[volumeId]).toBeUndefined();
      expect(await errorName(c.send(new StartInstancesCommand({ InstanceIds: [id] })))).toBe('IncorrectInstanceState');
      expect(await errorName(c.send(new CreateImageCommand({ InstanceId: id, Name: 'from-terminated' })))).toBe('IncorrectInstanceState');
      expect(await errorName(c.send(new TerminateInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })))).toBe(
        'InvalidInstanceID.NotFound',
      );
    });

    it('refuses an unknown image', async () => {
      expect(await errorName(c.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', MinCount: 1, MaxCount: 1 })))).toBe(
        'InvalidAMIID.NotFound',
      );
    });
  });

  describe('RegisterImage', () => {
    it('registers an EBS-backed image from snapshots, with the given attributes and architecture default i386', async () => {
      const src = await webImage(c, 'web-src');
      const snaps = snapshotIds(src);
      const { ImageId = '' } = await c.send(
        new RegisterImageCommand({
          Name: 'from-snaps',
          Description: 'registered',
          RootDeviceName: '/dev/xvda',
          Architecture: 'x86_64',
          VirtualizationType: 'hvm',
          BootMode: 'uefi',
          EnaSupport: true,
          SriovNetSupport: 'simple',
          TpmSupport: 'v2.0',
          ImdsSupport: 'v2.0',
          BlockDeviceMappings: (src.BlockDeviceMappings ?? []).map((b) => ({
            DeviceName: b.DeviceName,
            Ebs: { SnapshotId: b.Ebs?.SnapshotId, DeleteOnTermination: true },
          })),
          TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'k', Value: 'v' }] }],
        }),
      );
      const done = await settled(c, ImageId);
      expect(done).toMatchObject({
        State: 'available',
        Architecture: 'x86_64',
        BootMode: 'uefi',
        TpmSupport: 'v2.0',
        ImdsSupport: 'v2.0',
        EnaSupport: true,
        SriovNetSupport: 'simple',
        RootDeviceName: '/dev/xvda',
        Description: 'registered',
      });
      expect(snapshotIds(done)).toEqual(snaps);
      expect(tagMap(done.Tags)).toEqual({ k: 'v' });

      const { ImageId: plain = '' } = await c.send(
        new RegisterImageCommand({
          Name: 'plain',
          RootDeviceName: '/dev/xvda',
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snaps[0] } }],
        }),
      );
      expect((await image(c, plain)).Architecture).toBe('i386');
    });

    it('answers the EC2 errors: unknown snapshot, root not mapped, duplicate name, instance-store not available', async () => {
      const src = await webImage(c, 'web-src2');
      const snap = snapshotIds(src)[0];
      expect(
        await errorName(
          c.send(
            new RegisterImageCommand({
              Name: 'reg-1',
              RootDeviceName: '/dev/xvda',
              BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0123456789abcdef0' } }],
            }),
          ),
        ),
      ).toBe('InvalidSnapshot.NotFound');
      expect(
        await errorName(
          c.send(
            new RegisterImageCommand({
              Name: 'reg-2',
              RootDeviceName: '/dev/sda1',
              BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }],
            }),
          ),
        ),
      ).toBe('InvalidParameterValue');
      expect(
        await errorName(
          c.send(
            new RegisterImageCommand({
              Name: 'web-src2',
              RootDeviceName: '/dev/xvda',
              BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }],
            }),
          ),
        ),
      ).toBe('InvalidAMIName.Duplicate');
      expect(
        await errorName(
          c.send(
            new RegisterImageCommand({ Name: 'reg-3', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }] }),
          ),
        ),
      ).toBe('MissingParameter');
      await expect(
        c.send(new RegisterImageCommand({ Name: 'bundle', ImageLocation: 'bucket/prefix/image.manifest.xml' })),
      ).rejects.toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringContaining('instance-store registration not available'),
      });
    });
  });

  describe('CopyImage', () => {
    it('copies across regions asynchronously: new snapshots, CopyImageTags, source fields, event in the destination', async () => {
      const src = await webImage(c, 'web-copy', { Team: 'platform' });
      const west = h.client('us-west-2');
      const { ImageId = '' } = await west.send(
        new CopyImageCommand({
          SourceImageId: src.ImageId,
          SourceRegion: 'us-east-1',
          Name: 'web-copy',
          ClientToken: 'copy-token-1',
          CopyImageTags: true,
          TagSpecifications: [
            { ResourceType: 'image', Tags: [{ Key: 'ami-factory:copied-from', Value: 'us-east-1' }] },
            { ResourceType: 'snapshot', Tags: [{ Key: 'ami-factory:managed', Value: 'true' }] },
          ],
        }),
      );
      expect(ImageId).not.toBe(src.ImageId);
      expect((await image(west, ImageId)).State).toBe('pending');
      const copy = await settled(west, ImageId);
      expect(copy).toMatchObject({
        State: 'available',
        Name: 'web-copy',
        SourceImageId: src.ImageId,
        SourceImageRegion: 'us-east-1',
        Architecture: 'x86_64',
      });
      expect(tagMap(copy.Tags)).toEqual({ Team: 'platform', 'ami-factory:copied-from': 'us-east-1' });
      const snaps = (await west.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds(copy) }))).Snapshots ?? [];
      expect(snaps).toHaveLength(snapshotIds(src).length);
      for (const s of snaps) {
        expect(snapshotIds(src)).not.toContain(s.SnapshotId);
        expect(s).toMatchObject({ State: 'completed', Encrypted: false, VolumeId: 'vol-ffffffff' });
        expect(tagMap(s.Tags)).toEqual({ 'ami-factory:managed': 'true' });
      }
      const event = await until(() => h.events.find((e) => e.detail.ImageId === ImageId));
      expect(event).toMatchObject({
        region: 'us-west-2',
        resources: [`arn:aws:ec2:us-west-2::image/${ImageId}`],
        detail: { State: 'available' },
      });
      // Copy takes twice the image time by default (10 simulated minutes).
      expect(Date.parse(event.time) - Date.parse(copy.CreationDate ?? '')).toBeGreaterThanOrEqual(10 * 60_000 - 1000);
    });

    it('is idempotent per destination region by ClientToken', async () => {
      const src = await webImage(c, 'web-idem');
      const input = { SourceImageId: src.ImageId, SourceRegion: 'us-east-1', Name: 'web-idem', ClientToken: 'tok-1' };
      const west = h.client('us-west-2');
      const eu = h.client('eu-west-1');
      const a = await west.send(new CopyImageCommand(input));
      const b = await west.send(new CopyImageCommand(input));
      expect(b.ImageId).toBe(a.ImageId);
      const other = await eu.send(new CopyImageCommand(input));
      expect(other.ImageId).not.toBe(a.ImageId);
      expect(await errorName(west.send(new CopyImageCommand({ ...input, Name: 'web-idem-2' })))).toBe('IdempotentParameterMismatch');
      expect(h.service.stats().calls['us-west-2:CopyImage']).toBe(3);
      const named = await west.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['web-idem'] }] }));
      expect(named.Images).toHaveLength(1);
    });

    it('encrypts with a KMS key of the destination region, and refuses a missing or foreign key', async () => {
      const src = await webImage(c, 'web-kms');
      const eu = h.client('eu-west-1');
      const { ImageId = '' } = await eu.send(
        new CopyImageCommand({
          SourceImageId: src.ImageId,
          SourceRegion: 'us-east-1',
          Name: 'web-kms',
          Encrypted: true,
          KmsKeyId: 'alias/ami-factory',
        }),
      );
      const copy = await settled(eu, ImageId);
      for (const b of copy.BlockDeviceMappings ?? []) {
        expect(b.Ebs?.Encrypted).toBe(true);
        expect(b.Ebs?.KmsKeyId).toMatch(/^arn:aws:kms:eu-west-1:111122223333:key\/[0-9a-f-]{36}$/);
      }
      const snaps = (await eu.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds(copy) }))).Snapshots ?? [];
      expect(snaps.every((s) => s.Encrypted === true && s.KmsKeyId === copy.BlockDeviceMappings?.[0]?.Ebs?.KmsKeyId)).toBe(true);

      h.service.faults.missingKmsKeys = ['alias/missing'];
      await expect(
        eu.send(
          new CopyImageCommand({
            SourceImageId: src.ImageId,
            SourceRegion: 'us-east-1',
            Name: 'web-kms-2',
            Encrypted: true,
            KmsKeyId: 'alias/missing',
          }),
        ),
      ).rejects.toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringContaining('does not exist'),
      });
      const foreign = `arn:aws:kms:us-east-1:${LOCAL_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555`;
      expect(
        await errorName(
          eu.send(
            new CopyImageCommand({
              SourceImageId: src.ImageId,
              SourceRegion: 'us-east-1',
              Name: 'web-kms-3',
              Encrypted: true,
              KmsKeyId: foreign,
            }),
          ),
        ),
      ).toBe('InvalidParameterValue');
      expect(
        await errorName(
          eu.send(
            new CopyImageCommand({
              SourceImageId: src.ImageId,
              SourceRegion: 'us-east-1',
              Name: 'web-kms-4',
              KmsKeyId: 'alias/ami-factory',
            }),
          ),
        ),
      ).toBe('InvalidParameterCombination');
    });

    it('ends failed in a region listed in failCopiesTo', async () => {
      const src = await webImage(c, 'web-failcopy');
      h.service.faults.failCopiesTo = ['eu-west-1'];
      const eu = h.client('eu-west-1');
      const { ImageId = '' } = await eu.send(
        new CopyImageCommand({ SourceImageId: src.ImageId, SourceRegion: 'us-east-1', Name: 'web-failcopy' }),
      );
      const failed = await settled(eu, ImageId);
      expect(failed.State).toBe('failed');
      expect(failed.StateReason?.Message).toContain('failCopiesTo');
      const event = await until(() => h.events.find((e) => e.detail.ImageId === ImageId));
      expect(event.detail.State).toBe('failed');
    });

    it('refuses a copy beyond 300 concurrent copies into a region (ResourceLimitExceeded)', async () => {
      await h.close();
      h = await startEc2({ timeScale: 1, throttling: false });
      c = h.client();
      const src = await until(async () => {
        const base = await baseImage(c);
        return base === '' ? undefined : base;
      });
      const west = h.client('us-west-2');
      const copies = await Promise.all(
        Array.from({ length: 300 }, (_, n) =>
          west.send(new CopyImageCommand({ SourceImageId: src, SourceRegion: 'us-east-1', Name: `quota-${n}` })),
        ),
      );
      expect(new Set(copies.map((r) => r.ImageId)).size).toBe(300);
      expect(await errorName(west.send(new CopyImageCommand({ SourceImageId: src, SourceRegion: 'us-east-1', Name: 'quota-300' })))).toBe(
        'ResourceLimitExceeded',
      );
      // Another destination region has its own quota.
      const eu = h.client('eu-west-1');
      expect((await eu.send(new CopyImageCommand({ SourceImageId: src, SourceRegion: 'us-east-1', Name: 'quota-300' }))).ImageId).toMatch(
        /^ami-/,
      );
    });

    it('refuses an unknown or pending source image', async () => {
      const west = h.client('us-west-2');
      expect(
        await errorName(
          west.send(new CopyImageCommand({ SourceImageId: 'ami-0123456789abcdef0', SourceRegion: 'us-east-1', Name: 'x-copy' })),
        ),
      ).toBe('InvalidAMIID.NotFound');
      const r = await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Golden', Values: ['true'] }] }));
      const { ImageId } = await c.send(
        new CreateImageCommand({ InstanceId: r.Reservations?.[0]?.Instances?.[0]?.InstanceId, Name: 'still-pending', NoReboot: true }),
      );
      expect(
        await errorName(west.send(new CopyImageCommand({ SourceImageId: ImageId, SourceRegion: 'us-east-1', Name: 'still-pending' }))),
      ).toBe('IncorrectState');
      expect(await errorName(west.send(new CopyImageCommand({ SourceImageId: ImageId, Name: 'x' } as never)))).toBe('MissingParameter');
    });
  });

  describe('launch permissions and attributes', () => {
    it('adds and removes accounts, organizations, OUs and public access; describes and resets them', async () => {
      const img = await webImage(c, 'web-share');
      const ImageId = img.ImageId ?? '';
      await c.send(
        new ModifyImageAttributeCommand({
          ImageId,
          LaunchPermission: { Add: [{ UserId: OTHER }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU }] },
        }),
      );
      // Adding the same grant again changes nothing.
      await c.send(new ModifyImageAttributeCommand({ ImageId, Attribute: 'launchPermission', OperationType: 'add', UserIds: [OTHER] }));
      const perms = await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'launchPermission' }));
      expect(perms.LaunchPermissions).toEqual([{ UserId: OTHER }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU }]);
      await c.send(
        new ModifyImageAttributeCommand({ ImageId, LaunchPermission: { Add: [{ Group: 'all' }], Remove: [{ OrganizationArn: ORG }] } }),
      );
      expect((await image(c, ImageId)).Public).toBe(true);
      expect((await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'launchPermission' }))).LaunchPermissions).toEqual([
        { UserId: OTHER },
        { OrganizationalUnitArn: OU },
        { Group: 'all' },
      ]);
      await c.send(new ModifyImageAttributeCommand({ ImageId, Description: { Value: 'new description' } }));
      expect((await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'description' }))).Description?.Value).toBe(
        'new description',
      );
      expect(
        (await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'blockDeviceMapping' }))).BlockDeviceMappings?.length,
      ).toBe(2);
      expect((await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'bootMode' }))).BootMode?.Value).toBe('uefi-preferred');
      await c.send(new ResetImageAttributeCommand({ ImageId, Attribute: 'launchPermission' }));
      expect((await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'launchPermission' }))).LaunchPermissions).toEqual([]);
      expect(
        await errorName(c.send(new ModifyImageAttributeCommand({ ImageId, LaunchPermission: { Add: [{ UserId: 'not-an-account' }] } }))),
      ).toBe('InvalidAMIAttributeItemValue');
      expect(await errorName(c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'colour' as never })))).toBe(
        'InvalidParameterValue',
      );
      expect(
        await errorName(c.send(new DescribeImageAttributeCommand({ ImageId: 'ami-0123456789abcdef0', Attribute: 'launchPermission' }))),
      ).toBe('InvalidAMIID.NotFound');
    });

    it('refuses public sharing under block public access, and of encrypted images', async () => {
      expect((await c.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe('unblocked');
      expect(
        (await c.send(new EnableImageBlockPublicAccessCommand({ ImageBlockPublicAccessState: 'block-new-sharing' })))
          .ImageBlockPublicAccessState,
      ).toBe('block-new-sharing');
      expect((await c.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe('block-new-sharing');
      // Per region.
      expect((await h.client('us-west-2').send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe(
        'unblocked',
      );
      const img = await webImage(c, 'web-public');
      expect(
        await errorName(c.send(new ModifyImageAttributeCommand({ ImageId: img.ImageId, LaunchPermission: { Add: [{ Group: 'all' }] } }))),
      ).toBe('OperationNotPermitted');
      expect((await c.send(new DisableImageBlockPublicAccessCommand({}))).ImageBlockPublicAccessState).toBe('unblocked');
      await c.send(new ModifyImageAttributeCommand({ ImageId: img.ImageId, LaunchPermission: { Add: [{ Group: 'all' }] } }));
      expect((await image(c, img.ImageId ?? '')).Public).toBe(true);

      const eu = h.client('eu-west-1');
      const { ImageId = '' } = await eu.send(
        new CopyImageCommand({ SourceImageId: img.ImageId, SourceRegion: 'us-east-1', Name: 'enc', Encrypted: true, KmsKeyId: 'alias/k' }),
      );
      await settled(eu, ImageId);
      expect(await errorName(eu.send(new ModifyImageAttributeCommand({ ImageId, LaunchPermission: { Add: [{ Group: 'all' }] } })))).toBe(
        'InvalidParameterValue',
      );
      await eu.send(new ModifyImageAttributeCommand({ ImageId, LaunchPermission: { Add: [{ UserId: OTHER }] } }));
    });

    it('shares snapshots with createVolumePermission, but not ones encrypted with the AWS-managed key', async () => {
      const img = await webImage(c, 'web-snapshare');
      const [snap = ''] = snapshotIds(img);
      await c.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: snap,
          Attribute: 'createVolumePermission',
          OperationType: 'add',
          UserIds: [OTHER],
        }),
      );
      await c.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, CreateVolumePermission: { Add: [{ UserId: OTHER }] } }));
      expect(
        (await c.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' })))
          .CreateVolumePermissions,
      ).toEqual([{ UserId: OTHER }]);
      await c.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, CreateVolumePermission: { Remove: [{ UserId: OTHER }] } }));
      expect(
        (await c.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' })))
          .CreateVolumePermissions,
      ).toEqual([]);

      const eu = h.client('eu-west-1');
      const { ImageId = '' } = await eu.send(
        new CopyImageCommand({ SourceImageId: img.ImageId, SourceRegion: 'us-east-1', Name: 'managed-key', Encrypted: true }),
      );
      const [encSnap] = snapshotIds(await settled(eu, ImageId));
      expect(
        await errorName(
          eu.send(
            new ModifySnapshotAttributeCommand({
              SnapshotId: encSnap,
              Attribute: 'createVolumePermission',
              OperationType: 'add',
              UserIds: [OTHER],
            }),
          ),
        ),
      ).toBe('InvalidParameterValue');
    });
  });

  describe('retirement', () => {
    it('deprecates at the minute (rounded), not in the past nor beyond 10 years; deprecated own images stay visible', async () => {
      const img = await webImage(c, 'web-deprecate');
      const ImageId = img.ImageId ?? '';
      const at = new Date(h.clock.nowMs() + 30 * 86_400_000);
      at.setUTCSeconds(40, 0);
      await c.send(new EnableImageDeprecationCommand({ ImageId, DeprecateAt: at }));
      const expected = new Date(Math.round(at.getTime() / 60_000) * 60_000).toISOString();
      expect((await image(c, ImageId)).DeprecationTime).toBe(expected);
      expect(
        await errorName(c.send(new EnableImageDeprecationCommand({ ImageId, DeprecateAt: new Date(h.clock.nowMs() - 3_600_000) }))),
      ).toBe('InvalidParameterValue');
      expect(
        await errorName(
          c.send(new EnableImageDeprecationCommand({ ImageId, DeprecateAt: new Date(h.clock.nowMs() + 11 * 365 * 86_400_000) })),
        ),
      ).toBe('InvalidParameterValue');
      await c.send(new DisableImageDeprecationCommand({ ImageId }));
      expect((await image(c, ImageId)).DeprecationTime).toBeUndefined();
    });

    it('disables (private, hidden unless IncludeDisabled) and re-enables an image, with events', async () => {
      const img = await webImage(c, 'web-disable');
      const ImageId = img.ImageId ?? '';
      await c.send(new ModifyImageAttributeCommand({ ImageId, LaunchPermission: { Add: [{ UserId: OTHER }] } }));
      await c.send(new DisableImageCommand({ ImageId }));
      expect((await c.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images?.map((i) => i.ImageId)).not.toContain(ImageId);
      const disabled = await image(c, ImageId);
      expect(disabled.State).toBe('disabled');
      expect((await c.send(new DescribeImageAttributeCommand({ ImageId, Attribute: 'launchPermission' }))).LaunchPermissions).toEqual([]);
      await c.send(new EnableImageCommand({ ImageId }));
      expect((await image(c, ImageId)).State).toBe('available');
      expect(h.events.filter((e) => e.detail.ImageId === ImageId).map((e) => e.detail.State)).toEqual([
        'available',
        'disabled',
        'available',
      ]);
    });

    it('deregisters with DeleteAssociatedSnapshots, keeping a snapshot another image uses', async () => {
      const img = await webImage(c, 'web-dereg');
      const [root = '', data = ''] = snapshotIds(img);
      const { ImageId: other = '' } = await c.send(
        new RegisterImageCommand({
          Name: 'shares-root',
          RootDeviceName: '/dev/xvda',
          Architecture: 'x86_64',
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: root } }],
        }),
      );
      expect(await errorName(c.send(new DeleteSnapshotCommand({ SnapshotId: root })))).toBe('InvalidSnapshot.InUse');
      const r = await c.send(new DeregisterImageCommand({ ImageId: img.ImageId, DeleteAssociatedSnapshots: true }));
      expect(r.Return).toBe(true);
      expect(r.DeleteSnapshotResults).toEqual([
        { SnapshotId: root, ReturnCode: 'skipped' },
        { SnapshotId: data, ReturnCode: 'success' },
      ]);
      const left = (await c.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots?.map((s) => s.SnapshotId);
      expect(left).toContain(root);
      expect(left).not.toContain(data);
      expect((await image(c, img.ImageId ?? '')).State).toBe('deregistered');
      expect(h.events.find((e) => e.detail.ImageId === img.ImageId && e.detail.State === 'deregistered')).toBeDefined();
      // The name is free again.
      await webImage(c, 'web-dereg');
      // Once `other` goes too, the root snapshot can be deleted.
      await c.send(new DeregisterImageCommand({ ImageId: other }));
      await c.send(new DeleteSnapshotCommand({ SnapshotId: root }));
      expect(await errorName(c.send(new DeleteSnapshotCommand({ SnapshotId: root })))).toBe('InvalidSnapshot.NotFound');
    });

    it('honours deregistration protection, with and without cooldown', async () => {
      const img = await webImage(c, 'web-protect');
      const ImageId = img.ImageId ?? '';
      await c.send(new EnableImageDeregistrationProtectionCommand({ ImageId }));
      expect((await image(c, ImageId)).DeregistrationProtection).toBe('enabled-without-cooldown');
      expect(await errorName(c.send(new DeregisterImageCommand({ ImageId })))).toBe('OperationNotPermitted');
      await c.send(new EnableImageDeregistrationProtectionCommand({ ImageId, WithCooldown: true }));
      await c.send(new DisableImageDeregistrationProtectionCommand({ ImageId }));
      expect((await image(c, ImageId)).DeregistrationProtection).toMatch(/^disabled-until \d{4}-/);
      expect(await errorName(c.send(new DeregisterImageCommand({ ImageId })))).toBe('OperationNotPermitted');

      const other = await webImage(c, 'web-protect-2');
      await c.send(new EnableImageDeregistrationProtectionCommand({ ImageId: other.ImageId }));
      await c.send(new DisableImageDeregistrationProtectionCommand({ ImageId: other.ImageId }));
      expect((await image(c, other.ImageId ?? '')).DeregistrationProtection).toBe('disabled');
      await c.send(new DeregisterImageCommand({ ImageId: other.ImageId }));
    });
  });
});
