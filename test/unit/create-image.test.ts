import { CreateImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../functions/create-image.js';
import { awsError, BUILD_ID, buildRequest, IMAGE_ID, INSTANCE_ID, lambdaContext } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const NAME = 'web-20261123T0742Z-3f2a1b2c';

describe('create-image handler', () => {
  beforeEach(() => ec2.reset());

  it('creates the image with the deterministic name, reboot flag and factory tags on image and snapshots', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });

    const out = await handler({ request: buildRequest({ tags: { Team: 'platform' } }), instanceId: INSTANCE_ID }, lambdaContext);

    expect(out).toEqual({ imageId: IMAGE_ID, imageName: NAME, created: true, region: 'us-east-1' });
    const call = ec2.commandCalls(CreateImageCommand)[0]?.args[0].input;
    expect(call?.InstanceId).toBe(INSTANCE_ID);
    expect(call?.Name).toBe(NAME);
    expect(call?.NoReboot).toBe(false);
    expect(call?.TagSpecifications?.map((t) => t.ResourceType)).toEqual(['image', 'snapshot']);
    for (const spec of call?.TagSpecifications ?? []) {
      const tags = Object.fromEntries((spec.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({
        Name: NAME,
        Team: 'platform',
        'ami-factory:managed': 'true',
        'ami-factory:family': 'web',
        'ami-factory:build-id': BUILD_ID,
        'ami-factory:source': INSTANCE_ID,
        'ami-factory:created-at': '2026-11-23T07:42:10.000Z',
        'ami-factory:reboot': 'true',
      });
    }
  });

  it('passes NoReboot=true for a crash-consistent build', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
    const request = buildRequest({ source: { type: 'instance', instanceId: INSTANCE_ID, noReboot: true } });
    await handler({ request, instanceId: INSTANCE_ID }, lambdaContext);
    expect(ec2).toHaveReceivedCommandWith(CreateImageCommand, { NoReboot: true });
  });

  it('returns the image of an earlier attempt of the same build without a second CreateImage', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [{ ImageId: IMAGE_ID, Name: NAME, Tags: [{ Key: 'ami-factory:build-id', Value: BUILD_ID }] }],
    });

    const out = await handler({ request: buildRequest(), instanceId: INSTANCE_ID }, lambdaContext);

    expect(out).toMatchObject({ imageId: IMAGE_ID, created: false });
    expect(ec2).toHaveReceivedCommandTimes(CreateImageCommand, 0);
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, { Owners: ['self'], Filters: [{ Name: 'name', Values: [NAME] }] });
  });

  it('resolves a lost race (InvalidAMIName.Duplicate) to the image that won', async () => {
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [] })
      .resolves({ Images: [{ ImageId: IMAGE_ID, Name: NAME, Tags: [{ Key: 'ami-factory:build-id', Value: BUILD_ID }] }] });
    ec2.on(CreateImageCommand).rejects(awsError('InvalidAMIName.Duplicate'));

    const out = await handler({ request: buildRequest(), instanceId: INSTANCE_ID }, lambdaContext);
    expect(out).toMatchObject({ imageId: IMAGE_ID, created: false });
  });

  it('asks for a retry when the duplicate is not visible yet', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(CreateImageCommand).rejects(awsError('InvalidAMIName.Duplicate'));
    await expect(handler({ request: buildRequest(), instanceId: INSTANCE_ID }, lambdaContext)).rejects.toMatchObject({
      name: 'ImageNotVisibleYetError',
    });
  });

  it('never adopts an image of the same name made by another build', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [{ ImageId: IMAGE_ID, Name: NAME, Tags: [{ Key: 'ami-factory:build-id', Value: 'someone-else' }] }],
    });
    await expect(handler({ request: buildRequest(), instanceId: INSTANCE_ID }, lambdaContext)).rejects.toMatchObject({
      name: 'ImageFailedError',
      message: expect.stringContaining('someone-else'),
    });
    expect(ec2).toHaveReceivedCommandTimes(CreateImageCommand, 0);
  });

  it('validates its input and calls nothing when it is bad', async () => {
    await expect(handler({ request: buildRequest(), instanceId: 'not-an-instance' }, lambdaContext)).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('instanceId'),
    });
    expect(ec2.calls()).toHaveLength(0);
  });
});
