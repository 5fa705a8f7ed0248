import { DescribeImagesCommand, EC2Client, RegisterImageCommand, type Image } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { findBuildImage, registerImageFromBundle } from '../../functions/lib/ec2/images.js';
import { awsError, BUILD_ID, buildRequest, IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const NAME = 'web-20261123T0742Z-3f2a1b2c';
const LOCATION = 'factory-bundles/web/web.manifest.xml';
const own: Image = { ImageId: IMAGE_ID, Name: NAME, State: 'available', Tags: [{ Key: 'ami-factory:build-id', Value: BUILD_ID }] };
const bundleRequest = () => buildRequest({ source: { type: 'bundle', imageLocation: LOCATION, architecture: 'x86_64' } });

describe('registerImageFromBundle', () => {
  const checked: string[] = [];
  const check = async (location: string): Promise<void> => {
    checked.push(location);
  };
  beforeEach(() => {
    ec2.reset();
    checked.length = 0;
  });

  it('does check the bundle, then register it under the build name with its architecture and tags', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(RegisterImageCommand).resolves({ ImageId: IMAGE_ID });

    const out = await registerImageFromBundle(ec2 as unknown as EC2Client, bundleRequest(), LOCATION, check);

    expect(out).toEqual({ imageId: IMAGE_ID, imageName: NAME, created: true });
    expect(checked).toEqual([LOCATION]);
    const call = ec2.commandCalls(RegisterImageCommand)[0]?.args[0].input;
    expect(call).toMatchObject({ Name: NAME, ImageLocation: LOCATION, Architecture: 'x86_64' });
    const tags = Object.fromEntries((call?.TagSpecifications?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ Name: NAME, 'ami-factory:build-id': BUILD_ID, 'ami-factory:source': LOCATION });
  });

  it('does return the image an earlier attempt registered, without checking or registering again', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [own] });
    const out = await registerImageFromBundle(ec2 as unknown as EC2Client, bundleRequest(), LOCATION, check);
    expect(out).toEqual({ imageId: IMAGE_ID, imageName: NAME, created: false });
    expect(checked).toEqual([]);
    expect(ec2).toHaveReceivedCommandTimes(RegisterImageCommand, 0);
  });

  it('does resolve a lost race (InvalidAMIName.Duplicate) to the image that won', async () => {
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [] })
      .resolves({ Images: [own] });
    ec2.on(RegisterImageCommand).rejects(awsError('InvalidAMIName.Duplicate'));
    await expect(registerImageFromBundle(ec2 as unknown as EC2Client, bundleRequest(), LOCATION, check)).resolves.toMatchObject({
      imageId: IMAGE_ID,
      created: false,
    });
  });

  it('does refuse an image of that name from another build, and register nothing when the check fails', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ...own, Tags: [{ Key: 'ami-factory:build-id', Value: 'other' }] }] });
    await expect(registerImageFromBundle(ec2 as unknown as EC2Client, bundleRequest(), LOCATION, check)).rejects.toMatchObject({
      name: 'ImageFailedError',
    });
    ec2.reset();
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    const refuse = async (): Promise<void> => {
      throw awsError('BundleNotFoundError');
    };
    await expect(registerImageFromBundle(ec2 as unknown as EC2Client, bundleRequest(), LOCATION, refuse)).rejects.toMatchObject({
      name: 'BundleNotFoundError',
    });
    expect(ec2).toHaveReceivedCommandTimes(RegisterImageCommand, 0);
  });
});

describe('findBuildImage', () => {
  beforeEach(() => ec2.reset());

  it('does answer the deterministic name and no image for a new build', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    await expect(findBuildImage(ec2 as unknown as EC2Client, buildRequest())).resolves.toEqual({
      imageName: NAME,
      imageId: null,
      state: null,
    });
  });

  it("does resume from the build's own image and refuse another build's", async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [own] });
    await expect(findBuildImage(ec2 as unknown as EC2Client, buildRequest())).resolves.toEqual({
      imageName: NAME,
      imageId: IMAGE_ID,
      state: 'available',
    });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ...own, Tags: [] }] });
    await expect(findBuildImage(ec2 as unknown as EC2Client, buildRequest())).rejects.toMatchObject({ name: 'ImageFailedError' });
  });
});
