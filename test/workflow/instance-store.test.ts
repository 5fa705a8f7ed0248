import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CopyImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { bundleImage } from '../../functions/lib/bundle/index.js';
import { checkBundleInS3, s3BundleSink } from '../../functions/lib/bundle/s3.js';
import { localEc2CertificateFor } from '../../local/ec2-bundles.js';
import { opensslKeyPair, randomFile, removeDir, tempDir, ACCOUNT, MIB, type KeyPairFiles } from '../fixtures/bundle/helpers.js';
import { registerImageFromBundle } from '../../functions/lib/ec2/images.js';
import { buildRequest } from '../fixtures.js';
import { runBuild, startHarness, tagMap, type Harness } from './harness.js';

/**
 * An instance-store image end to end on the local cloud: bundle an image file (user keys made by
 * openssl, EC2's certificate the cloud's own), upload it to the local S3 with aws-exec-read,
 * RegisterImage with ImageLocation, CopyImage to another region and share the copy.
 */
let h: Harness;
let dir: string;
let user: KeyPairFiles;
let s3: S3Client;
const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

beforeAll(async () => {
  dir = tempDir('instance-store');
  user = opensslKeyPair(dir, 'user');
  randomFile(join(dir, 'root.img'), 11 * MIB);
  h = await startHarness({
    seed: false,
    schedules: false,
    // Declared when the cloud starts, so the packaged IAM scopes (its channel parameters) know it.
    families: {
      legacy: {
        region: 'us-east-1',
        source: { type: 'bundle', imageLocation: 'factory-bundles/pipeline/pipeline-img.manifest.xml' },
        copies: [{ region: 'us-west-2' }],
      },
    },
  });
  s3 = new S3Client({ region: 'us-east-1', endpoint: h.cloud.endpoint, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: 'factory-bundles' }));
});
afterAll(async () => {
  s3.destroy();
  await h.close();
  removeDir(dir);
});

async function waitAvailable(ec2: EC2Client, imageId: string): Promise<Image> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
    if (image?.State === 'available') return image;
    if (image?.State === 'failed') throw new Error(`${imageId} failed: ${image.StateReason?.Message ?? ''}`);
    if (Date.now() > deadline) throw new Error(`${imageId} still ${image?.State ?? 'missing'}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('instance-store image: bundle → S3 → RegisterImage → CopyImage → share', () => {
  it('registers, copies and shares a bundled image', async () => {
    const ec2Cert = await localEc2CertificateFor(h.cloud.stateDir);
    const bundled = await bundleImage({
      image: join(dir, 'root.img'),
      name: 'web-2026',
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: ec2Cert.certPem,
      sink: s3BundleSink(s3, 'factory-bundles', 'web/2026'),
    });
    expect(bundled.parts).toHaveLength(2);
    const location = 'factory-bundles/web/2026/web-2026.manifest.xml';
    const check = await checkBundleInS3(s3, location, { certificate: user.certPem });
    expect(check.partKeys).toEqual(['web/2026/web-2026.part.0', 'web/2026/web-2026.part.1']);

    const registered = await h.ec2.send(new RegisterImageCommand({ ImageLocation: location, Name: 'web-2026-instance-store' }));
    const image = await waitAvailable(h.ec2, registered.ImageId ?? '');
    expect(image).toMatchObject({
      RootDeviceType: 'instance-store',
      ImageLocation: location,
      Architecture: 'x86_64',
      Name: 'web-2026-instance-store',
    });

    const west = new EC2Client({ region: 'us-west-2', endpoint: h.cloud.endpoint, credentials: creds, maxAttempts: 1 });
    try {
      const copied = await west.send(
        new CopyImageCommand({ SourceRegion: 'us-east-1', SourceImageId: image.ImageId ?? '', Name: 'web-2026-instance-store' }),
      );
      const copy = await waitAvailable(west, copied.ImageId ?? '');
      expect(copy).toMatchObject({ RootDeviceType: 'instance-store', Architecture: 'x86_64', State: 'available' });

      await west.send(new ModifyImageAttributeCommand({ ImageId: copy.ImageId, LaunchPermission: { Add: [{ UserId: '111122223333' }] } }));
      const attr = await west.send(new DescribeImageAttributeCommand({ ImageId: copy.ImageId, Attribute: 'launchPermission' }));
      expect(attr.LaunchPermissions).toEqual([{ UserId: '111122223333' }]);
    } finally {
      west.destroy();
    }
  });

  it('refuses a bundle EC2 cannot read, and registers nothing', async () => {
    const bundled = await bundleImage({
      image: join(dir, 'root.img'),
      name: 'private',
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: (await localEc2CertificateFor(h.cloud.stateDir)).certPem,
      sink: s3BundleSink(s3, 'factory-bundles', 'private', { acl: 'private' }),
    });
    expect(bundled.parts.length).toBeGreaterThan(0);
    await expect(
      h.ec2.send(new RegisterImageCommand({ ImageLocation: 'factory-bundles/private/private.manifest.xml', Name: 'private-is' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/not readable by EC2/),
    });
    const named = await h.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['private-is'] }] }));
    expect(named.Images).toEqual([]);
  });

  it("register-bundle: checks the bundle, registers under the build's name with its tags, and is idempotent", async () => {
    await bundleImage({
      image: join(dir, 'root.img'),
      name: 'factory',
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: (await localEc2CertificateFor(h.cloud.stateDir)).certPem,
      sink: s3BundleSink(s3, 'factory-bundles', 'factory'),
    });
    const request = buildRequest({ region: 'us-east-1' });
    const location = 'factory-bundles/factory/factory.manifest.xml';
    const check = (l: string): Promise<unknown> => checkBundleInS3(s3, l, { certificate: user.certPem });
    const first = await registerImageFromBundle(h.ec2, request, location, check);
    expect(first.created).toBe(true);
    const image = await waitAvailable(h.ec2, first.imageId);
    expect(image.RootDeviceType).toBe('instance-store');
    expect(image.Name).toBe(first.imageName);
    expect(tagMap(image.Tags)).toMatchObject({ Name: first.imageName });
    const again = await registerImageFromBundle(h.ec2, request, location, check);
    expect(again).toEqual({ imageId: first.imageId, imageName: first.imageName, created: false });
    await expect(
      registerImageFromBundle(
        h.ec2,
        buildRequest({ region: 'us-east-1', buildId: 'aaaaaaaa-0000-4000-8000-000000000002' }),
        'factory-bundles/none/x.manifest.xml',
        check,
      ),
    ).rejects.toMatchObject({
      name: 'BundleNotFoundError',
    });
  });
});

describe('instance-store image through the image-factory state machine', () => {
  it('registers a bundle source, copies it to another region and shares every image', async () => {
    const ec2Cert = await localEc2CertificateFor(h.cloud.stateDir);
    await bundleImage({
      image: join(dir, 'root.img'),
      name: 'pipeline-img',
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: ec2Cert.certPem,
      sink: s3BundleSink(s3, 'factory-bundles', 'pipeline'),
    });
    const req = buildRequest({
      buildId: `bundle-${Date.now()}`,
      family: 'legacy',
      requestedAt: new Date().toISOString(),
      source: { type: 'bundle', imageLocation: 'factory-bundles/pipeline/pipeline-img.manifest.xml' },
      copies: [{ region: 'us-west-2' }],
      sharing: { accounts: ['444455556666'] },
    });

    const exec = await runBuild(h, req);

    expect(exec.status).toBe('SUCCEEDED');
    const report = JSON.parse(exec.output ?? '{}') as { outcome: string; regions: { region: string; status: string; imageId: string }[] };
    expect(report.outcome).toBe('BuildSucceeded');
    for (const r of report.regions) {
      const c = new EC2Client({ region: r.region, endpoint: h.cloud.endpoint, credentials: creds, maxAttempts: 1 });
      const image = (await c.send(new DescribeImagesCommand({ ImageIds: [r.imageId] }))).Images?.[0];
      expect(image).toMatchObject({ State: 'available', RootDeviceType: 'instance-store' });
      expect(tagMap(image?.Tags)).toMatchObject({ 'ami-factory:managed': 'true', 'ami-factory:build-id': req.buildId });
      const perms = await c.send(new DescribeImageAttributeCommand({ ImageId: r.imageId, Attribute: 'launchPermission' }));
      expect(perms.LaunchPermissions).toEqual([{ UserId: '444455556666' }]);
      c.destroy();
    }
  });

  it('fails the build with a clear error when the bundle is missing, leaving nothing behind', async () => {
    const req = buildRequest({
      buildId: `missing-${Date.now()}`,
      family: 'legacy',
      requestedAt: new Date().toISOString(),
      source: { type: 'bundle', imageLocation: 'factory-bundles/nowhere/none.manifest.xml' },
    });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('BundleNotFoundError');
  });
});

describe('bundle-image handler (S3 image object → S3 bundle, streaming)', () => {
  it('bundles an image object into parts and a manifest that EC2 registers', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'factory-bundles', Key: 'raw/root.img', Body: readFileSync(join(dir, 'root.img')) }));

    const out = (await h.cloud.lambda.invoke('bundleImage', {
      source: { bucket: 'factory-bundles', key: 'raw/root.img' },
      destination: 'factory-bundles/from-lambda',
      name: 'lambda-img',
      architecture: 'x86_64',
      account: ACCOUNT,
    })) as { imageLocation: string; parts: number; size: number };

    expect(out).toEqual({ imageLocation: 'factory-bundles/from-lambda/lambda-img.manifest.xml', parts: 2, size: 11 * MIB });
    const keys = h.cloud.s3.listKeys('factory-bundles', 'from-lambda/');
    expect(keys).toEqual(['from-lambda/lambda-img.manifest.xml', 'from-lambda/lambda-img.part.0', 'from-lambda/lambda-img.part.1']);
    expect(keys.every((k) => h.cloud.s3.getObject('factory-bundles', k)?.ec2Readable === true)).toBe(true);
    const registered = await h.ec2.send(new RegisterImageCommand({ ImageLocation: out.imageLocation, Name: 'from-lambda' }));
    await expect(waitAvailable(h.ec2, registered.ImageId ?? '')).resolves.toMatchObject({ RootDeviceType: 'instance-store' });
  });

  it('refuses up front, naming the reason, an image too big for the invocation time', async () => {
    // A function whose time budget (its environment, as a deployment could set it) is 100 ms.
    const slow = await startHarness({
      seed: false,
      schedules: false,
      functionEnvironment: { bundleImage: { AMI_FACTORY_TIME_BUDGET_MS: '100' } },
    });
    try {
      const s3c = new S3Client({ region: 'us-east-1', endpoint: slow.cloud.endpoint, credentials: creds, maxAttempts: 1 });
      await s3c.send(new CreateBucketCommand({ Bucket: 'factory-bundles' }));
      await s3c.send(new PutObjectCommand({ Bucket: 'factory-bundles', Key: 'raw/root.img', Body: readFileSync(join(dir, 'root.img')) }));
      s3c.destroy();
      await expect(
        slow.cloud.lambda.invoke('bundleImage', {
          source: { bucket: 'factory-bundles', key: 'raw/root.img' },
          destination: 'factory-bundles/too-slow',
          architecture: 'x86_64',
          account: ACCOUNT,
        }),
      ).rejects.toMatchObject({ name: 'BundleTooSlowError', message: expect.stringContaining('ami-factory bundle') });
      expect(slow.cloud.s3.listKeys('factory-bundles', 'too-slow/')).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});
