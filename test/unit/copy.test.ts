import { CopyImageCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { cleanupBuildImages, copyClientToken, copyImageToRegion } from '../../functions/lib/ec2/copy.js';
import { awsError, BUILD_ID, buildRequest, IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const NAME = 'web-20261123T0742Z-3f2a1b2c';
const client = () => ec2 as unknown as EC2Client;

describe('copyImageToRegion', () => {
  beforeEach(() => ec2.reset());

  it('copies with a per-(build, region) ClientToken, the region KMS key and the factory tags', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(CopyImageCommand).resolves({ ImageId: 'ami-0000000000000000e' });
    const r = await copyImageToRegion(client(), buildRequest(), IMAGE_ID, { region: 'eu-west-1', kmsKeyId: 'alias/k' });
    expect(r).toEqual({ region: 'eu-west-1', imageId: 'ami-0000000000000000e', imageName: NAME, created: true });
    const input = ec2.commandCalls(CopyImageCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      SourceImageId: IMAGE_ID,
      SourceRegion: 'us-east-1',
      Name: NAME,
      Encrypted: true,
      KmsKeyId: 'alias/k',
      CopyImageTags: true,
      ClientToken: copyClientToken(BUILD_ID, 'eu-west-1'),
    });
    const tags = Object.fromEntries((input?.TagSpecifications?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ 'ami-factory:managed': 'true', 'ami-factory:build-id': BUILD_ID, 'ami-factory:copied-from': 'us-east-1' });
    expect(input?.TagSpecifications?.map((t) => t.ResourceType)).toEqual(['image', 'snapshot']);
  });

  it('gives distinct tokens per region and the same token to every retry', () => {
    expect(copyClientToken('b', 'eu-west-1')).toBe(copyClientToken('b', 'eu-west-1'));
    expect(copyClientToken('b', 'eu-west-1')).not.toBe(copyClientToken('b', 'us-west-2'));
    expect(copyClientToken('b', 'eu-west-1').length).toBeLessThanOrEqual(64);
  });

  it('returns an existing copy of the same build and source instead of copying again', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-0000000000000000e',
          Name: NAME,
          Tags: [
            { Key: 'ami-factory:build-id', Value: BUILD_ID },
            { Key: 'ami-factory:source', Value: IMAGE_ID },
          ],
        },
      ],
    });
    const r = await copyImageToRegion(client(), buildRequest(), IMAGE_ID, { region: 'eu-west-1' });
    expect(r).toEqual({ region: 'eu-west-1', imageId: 'ami-0000000000000000e', imageName: NAME, created: false });
    expect(ec2).toHaveReceivedCommandTimes(CopyImageCommand, 0);
  });

  it('does not adopt an image of the same build copied from another source', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-0000000000000000e',
          Name: NAME,
          Tags: [
            { Key: 'ami-factory:build-id', Value: BUILD_ID },
            { Key: 'ami-factory:source', Value: 'ami-0000000000000000f' },
          ],
        },
      ],
    });
    ec2.on(CopyImageCommand).resolves({ ImageId: 'ami-00000000000000010' });
    const r = await copyImageToRegion(client(), buildRequest(), IMAGE_ID, { region: 'eu-west-1' });
    expect(r.created).toBe(true);
    expect(ec2).toHaveReceivedCommandTimes(CopyImageCommand, 1);
  });

  it("copies a distribution run's region under a token of its own (EC2 would answer the build's token with the old copy)", async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(CopyImageCommand).resolves({ ImageId: 'ami-0000000000000000e' });
    const runId = 'a1b2c3d4-0000-4000-8000-000000000001';
    await copyImageToRegion(client(), { ...buildRequest(), distribute: { imageId: IMAGE_ID, runId } }, IMAGE_ID, { region: 'eu-west-1' });
    const token = ec2.commandCalls(CopyImageCommand)[0]?.args[0].input.ClientToken;
    expect(token).toBe(copyClientToken(BUILD_ID, 'eu-west-1', runId));
    expect(token).not.toBe(copyClientToken(BUILD_ID, 'eu-west-1'));
    expect(token).not.toBe(copyClientToken(BUILD_ID, 'eu-west-1', 'a1b2c3d4-0000-4000-8000-000000000002'));
  });
});

describe('cleanupBuildImages', () => {
  beforeEach(() => ec2.reset());

  it("deregisters this build's managed images and deletes their snapshots, and nothing else", async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-0000000000000000a',
          Name: NAME,
          State: 'failed',
          Tags: [
            { Key: 'ami-factory:managed', Value: 'true' },
            { Key: 'ami-factory:build-id', Value: BUILD_ID },
          ],
          BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-0000000000000000a' } }, { Ebs: { SnapshotId: 'snap-0000000000000000b' } }],
        },
        { ImageId: 'ami-0000000000000000b', Name: NAME, State: 'available', Tags: [] },
      ],
    });
    ec2.on(DeleteSnapshotCommand, { SnapshotId: 'snap-0000000000000000b' }).rejects(awsError('InvalidSnapshot.InUse'));
    const r = await cleanupBuildImages(client(), buildRequest());
    expect(r).toEqual({
      deregistered: ['ami-0000000000000000a'],
      deletedSnapshots: ['snap-0000000000000000a'],
      skipped: ['ami-0000000000000000b'],
    });
    expect(ec2).toHaveReceivedCommandTimes(DeregisterImageCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: 'ami-0000000000000000a' });
  });

  it('does nothing when the build left nothing behind', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    await expect(cleanupBuildImages(client(), buildRequest())).resolves.toEqual({ deregistered: [], deletedSnapshots: [], skipped: [] });
    expect(ec2).toHaveReceivedCommandTimes(DeregisterImageCommand, 0);
  });
});
