import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  EC2Client,
  GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { applySharing, deprecationTime } from '../../functions/lib/ec2/share.js';
import { IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const ORG = 'arn:aws:organizations::111122223333:organization/o-abcdefghij';
const sharing = (over: Partial<Parameters<typeof applySharing>[2]> = {}) => ({
  accounts: ['444455556666', '777788889999'],
  organizationArns: [ORG],
  organizationalUnitArns: [],
  public: false,
  snapshotVolumePermission: true,
  ...over,
});

function image(encrypted = false) {
  ec2.on(DescribeImagesCommand).resolves({
    Images: [
      {
        ImageId: IMAGE_ID,
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0123456789abcdef0', Encrypted: encrypted } }],
      },
    ],
  });
}

describe('applySharing', () => {
  beforeEach(() => ec2.reset());

  it('adds only the launch and snapshot permissions that are missing', async () => {
    image();
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: '444455556666' }, { UserId: '999999999999' }] });
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [{ UserId: '777788889999' }] });

    const r = await applySharing(ec2 as unknown as EC2Client, IMAGE_ID, sharing());

    expect(ec2).toHaveReceivedCommandWith(ModifyImageAttributeCommand, {
      ImageId: IMAGE_ID,
      LaunchPermission: { Add: [{ UserId: '777788889999' }, { OrganizationArn: ORG }] },
    });
    expect(ec2).toHaveReceivedCommandWith(ModifySnapshotAttributeCommand, {
      SnapshotId: 'snap-0123456789abcdef0',
      OperationType: 'add',
      UserIds: ['444455556666'],
    });
    expect(r.unmanaged).toEqual(['999999999999']);
    expect(r.added.userIds).toEqual(['777788889999']);
  });

  it('changes nothing when everything is already shared (a re-run)', async () => {
    image();
    ec2.on(DescribeImageAttributeCommand).resolves({
      LaunchPermissions: [{ UserId: '444455556666' }, { UserId: '777788889999' }, { OrganizationArn: ORG }],
    });
    ec2
      .on(DescribeSnapshotAttributeCommand)
      .resolves({ CreateVolumePermissions: [{ UserId: '444455556666' }, { UserId: '777788889999' }] });

    const r = await applySharing(ec2 as unknown as EC2Client, IMAGE_ID, sharing());

    expect(ec2).toHaveReceivedCommandTimes(ModifyImageAttributeCommand, 0);
    expect(ec2).toHaveReceivedCommandTimes(ModifySnapshotAttributeCommand, 0);
    expect(r.snapshotPermissionsAdded).toEqual([]);
  });

  it('refuses public sharing of an image with encrypted snapshots before changing anything', async () => {
    image(true);
    await expect(applySharing(ec2 as unknown as EC2Client, IMAGE_ID, sharing({ public: true }))).rejects.toMatchObject({
      name: 'PublicSharingRefusedError',
    });
    expect(ec2).toHaveReceivedCommandTimes(ModifyImageAttributeCommand, 0);
  });

  it('refuses public sharing when block public access is on', async () => {
    image();
    ec2.on(GetImageBlockPublicAccessStateCommand).resolves({ ImageBlockPublicAccessState: 'block-new-sharing' });
    await expect(applySharing(ec2 as unknown as EC2Client, IMAGE_ID, sharing({ public: true }))).rejects.toThrow(/block-new-sharing/);
    expect(ec2).toHaveReceivedCommandTimes(ModifyImageAttributeCommand, 0);
  });

  it('makes the image public when allowed and unblocked', async () => {
    image();
    ec2.on(GetImageBlockPublicAccessStateCommand).resolves({ ImageBlockPublicAccessState: 'unblocked' });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [] });
    const r = await applySharing(ec2 as unknown as EC2Client, IMAGE_ID, sharing({ public: true, accounts: [], organizationArns: [] }));
    expect(r.added.public).toBe(true);
    expect(ec2).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { LaunchPermission: { Add: [{ Group: 'all' }] } });
  });

  it('refuses to go past 1,000 sharing entities', async () => {
    image();
    ec2.on(DescribeImageAttributeCommand).resolves({
      LaunchPermissions: Array.from({ length: 999 }, (_, i) => ({ UserId: String(100000000000 + i) })),
    });
    await expect(applySharing(ec2 as unknown as EC2Client, IMAGE_ID, sharing())).rejects.toMatchObject({ name: 'ShareLimitExceededError' });
  });
});

describe('deprecationTime', () => {
  const now = new Date('2026-11-23T08:00:00Z');

  it('is requestedAt plus the days, rounded up to the minute', () => {
    expect(deprecationTime('2026-11-23T07:42:10Z', 180, now).toISOString()).toBe('2027-05-22T07:43:00.000Z');
  });

  it('is never in the past and never more than 10 years ahead', () => {
    expect(deprecationTime('2020-01-01T00:00:00Z', 1, now).getTime()).toBeGreaterThan(now.getTime());
    const far = deprecationTime('2026-11-23T00:00:00Z', 3650 + 10, now);
    expect(far.getTime()).toBeLessThanOrEqual(now.getTime() + 10 * 365 * 86_400_000);
  });
});
