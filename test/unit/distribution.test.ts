import { readFileSync } from 'node:fs';
import { DescribeImagesCommand, EC2Client, type Image } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { BuildRequestSchema } from '../../functions/lib/build-request.js';
import { parseFactoryConfig } from '../../functions/lib/config.js';
import {
  checkDistribution,
  describeOwnImage,
  distributableImage,
  distributionExecutionName,
  distributionRequestFor,
  ImageNotDistributableError,
} from '../../functions/lib/distribution.js';
import { imageName } from '../../functions/lib/naming.js';
import { RequestNotAllowedError } from '../../functions/lib/request-policy.js';
import { awsError, BUILD_ID, IMAGE_ID } from '../fixtures.js';

const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
const CREATED_AT = '2026-11-23T07:42:10.000Z';
const RUN_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const ec2 = mockClient(EC2Client);

/** An available image the factory built for web in us-east-1; `over` replaces fields, `tags` tag values (undefined: tag removed). */
function webImage(over: Partial<Image> = {}, tags: Record<string, string | undefined> = {}): Image {
  const all: Record<string, string | undefined> = {
    'ami-factory:managed': 'true',
    'ami-factory:family': 'web',
    'ami-factory:build-id': BUILD_ID,
    'ami-factory:created-at': CREATED_AT,
    ...tags,
  };
  return {
    ImageId: IMAGE_ID,
    Name: imageName('web', CREATED_AT, BUILD_ID),
    State: 'available',
    Tags: Object.entries(all).flatMap(([Key, Value]) => (Value === undefined ? [] : [{ Key, Value }])),
    ...over,
  };
}

function refusal(f: () => unknown): { name: string; message: string } {
  try {
    f();
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error('expected a refusal');
}

describe('distributableImage', () => {
  it("reads the build's id, requestedAt and name from an available image of the family", () => {
    expect(distributableImage(webImage(), 'web', 'us-east-1', IMAGE_ID)).toEqual({
      imageId: IMAGE_ID,
      imageName: imageName('web', CREATED_AT, BUILD_ID),
      buildId: BUILD_ID,
      createdAt: CREATED_AT,
    });
  });

  it.each([
    ['missing', undefined, /not an image of this account in us-east-1/],
    ['not managed', webImage({}, { 'ami-factory:managed': undefined }), /not an image of family web/],
    ["another family's", webImage({}, { 'ami-factory:family': 'al2023-base' }), /not an image of family web .*al2023-base/],
    ['without a build id', webImage({}, { 'ami-factory:build-id': undefined }), /no valid ami-factory:build-id/],
    ['with a malformed creation time', webImage({}, { 'ami-factory:created-at': 'yesterday' }), /no valid/],
    ['renamed', webImage({ Name: 'web-hand-made' }), /named web-hand-made, not web-20261123T0742Z-3f2a1b2c/],
    ['pending', webImage({ State: 'pending' }), /is pending; only an available image/],
    ['disabled', webImage({ State: 'disabled' }), /is disabled/],
  ])('refuses an image that is %s with ImageNotDistributableError', (_what, image, message) => {
    const e = refusal(() => distributableImage(image, 'web', 'us-east-1', IMAGE_ID));
    expect(e.name).toBe('ImageNotDistributableError');
    expect(e.message).toMatch(message);
  });

  it('is a ValidationError (not retried by the state machine, rejected by trigger-build)', () => {
    expect(new ImageNotDistributableError('x')).toBeInstanceOf(Error);
    expect(new ImageNotDistributableError('x').name).toBe('ImageNotDistributableError');
  });
});

describe('distributionRequestFor', () => {
  const image = distributableImage(webImage(), 'web', 'us-east-1', IMAGE_ID);

  it("is the family's request for the build that made the image, with distribute", () => {
    const r = distributionRequestFor(config, 'web', image, { runId: RUN_ID, trigger: { type: 'cli', actor: 'ops' } });
    expect(r).toMatchObject({
      buildId: BUILD_ID,
      requestedAt: CREATED_AT,
      family: 'web',
      region: 'us-east-1',
      copies: [{ region: 'us-west-2' }, { region: 'eu-west-1', kmsKeyId: 'alias/ami-factory' }],
      sharing: { accounts: ['444455556666'] },
      trigger: { type: 'cli', actor: 'ops' },
      distribute: { imageId: IMAGE_ID, runId: RUN_ID },
    });
    // What the state machine receives parses as a BuildRequest, unchanged.
    expect(BuildRequestSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });

  it('distributes only to the regions asked for, and refuses a region the family does not copy to', () => {
    const r = distributionRequestFor(config, 'web', image, { runId: RUN_ID, trigger: { type: 'cli' }, regions: ['eu-west-1'] });
    expect(r.copies.map((c) => c.region)).toEqual(['eu-west-1']);
    expect(() =>
      distributionRequestFor(config, 'web', image, { runId: RUN_ID, trigger: { type: 'cli' }, regions: ['ap-south-1'] }),
    ).toThrow(RequestNotAllowedError);
  });

  it('refuses an unknown family', () => {
    expect(refusal(() => distributionRequestFor(config, 'nope', image, { runId: RUN_ID, trigger: { type: 'cli' } })).name).toBe(
      'RequestNotAllowedError',
    );
  });

  it('rejects a malformed distribute field at the edge', () => {
    const r = distributionRequestFor(config, 'web', image, { runId: RUN_ID, trigger: { type: 'cli' } });
    expect(BuildRequestSchema.safeParse({ ...r, distribute: { imageId: 'i-0123456789abcdef0', runId: RUN_ID } }).success).toBe(false);
    expect(BuildRequestSchema.safeParse({ ...r, distribute: { imageId: IMAGE_ID } }).success).toBe(false);
    expect(BuildRequestSchema.safeParse({ ...r, distribute: { imageId: IMAGE_ID, runId: RUN_ID, extra: 1 } }).success).toBe(false);
  });
});

describe('checkDistribution (planBuild)', () => {
  const image = distributableImage(webImage(), 'web', 'us-east-1', IMAGE_ID);
  const request = distributionRequestFor(config, 'web', image, { runId: RUN_ID, trigger: { type: 'test' } });

  it("accepts the image of the request's build", () => {
    expect(checkDistribution(request, webImage()).buildId).toBe(BUILD_ID);
  });

  it('refuses an image of another build, a request without distribute and an image that is not there', () => {
    const other = webImage({}, { 'ami-factory:build-id': '9e9e9e9e-0000-4000-8000-000000000009' });
    const e = refusal(() =>
      checkDistribution(request, { ...other, Name: imageName('web', CREATED_AT, '9e9e9e9e-0000-4000-8000-000000000009') }),
    );
    expect(e).toMatchObject({ name: 'ImageNotDistributableError', message: expect.stringMatching(/made by build 9e9e9e9e/) });
    const { distribute: _d, ...build } = request;
    expect(refusal(() => checkDistribution(build, webImage())).name).toBe('ImageNotDistributableError');
    expect(refusal(() => checkDistribution(request, undefined)).name).toBe('ImageNotDistributableError');
  });
});

describe('describeOwnImage', () => {
  beforeEach(() => ec2.reset());

  it("asks for the account's own image, deprecated and disabled included", async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [webImage()] });
    expect((await describeOwnImage(ec2 as unknown as EC2Client, IMAGE_ID))?.ImageId).toBe(IMAGE_ID);
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, {
      ImageIds: [IMAGE_ID],
      Owners: ['self'],
      IncludeDeprecated: true,
      IncludeDisabled: true,
    });
  });

  it('reads an unknown or deregistered image as none, and lets other errors through', async () => {
    ec2
      .on(DescribeImagesCommand)
      .rejectsOnce(awsError('InvalidAMIID.NotFound'))
      .resolvesOnce({ Images: [webImage({ State: 'deregistered' })] });
    expect(await describeOwnImage(ec2 as unknown as EC2Client, IMAGE_ID)).toBeUndefined();
    expect(await describeOwnImage(ec2 as unknown as EC2Client, IMAGE_ID)).toBeUndefined();
    ec2.on(DescribeImagesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(describeOwnImage(ec2 as unknown as EC2Client, IMAGE_ID)).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
  });
});

describe('distributionExecutionName', () => {
  it('is one name per run, within Step Functions limits, apart from the build names', () => {
    const a = distributionExecutionName('web', RUN_ID);
    expect(a).toBe(`web-dist-${RUN_ID}`);
    expect(a).not.toBe(distributionExecutionName('web', 'a1b2c3d4-0000-4000-8000-000000000002'));
    expect(distributionExecutionName('x'.repeat(63), RUN_ID).length).toBeLessThanOrEqual(80);
  });
});
