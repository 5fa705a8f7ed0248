import { join } from 'node:path';
import { DescribeImagesCommand, EC2Client, RegisterImageCommand, type Image } from '@aws-sdk/client-ec2';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { bundleImage, type BundleResult } from '../../functions/lib/bundle/index.js';
import { s3BundleSink } from '../../functions/lib/bundle/s3.js';
import { VirtualClock } from '../../local/clock.js';
import { makeRegisterFromImageLocation } from '../../local/ec2/register-location.js';
import { createEc2Service, type Ec2Service } from '../../local/ec2/service.js';
import type { LocalService } from '../../local/http.js';
import { serveLocalServices, type ServedServices } from '../../local/server.js';
import { createS3Service, type S3Service } from '../../local/s3/service.js';
import { ACCOUNT, opensslKeyPair, randomFile, removeDir, tempDir, type KeyPairFiles } from '../fixtures/bundle/helpers.js';

const PART = 64 * 1024;
const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

let dir: string;
let user: KeyPairFiles;
let ec2Cert: KeyPairFiles;
let otherEc2: KeyPairFiles;
let s3Service: S3Service;
let ec2Service: Ec2Service;
let served: ServedServices;
let ec2: EC2Client;
let s3: S3Client;

/** The local S3 and EC2 (with the instance-store hook) behind one node:http server, as the local cloud routes them. */
async function start(): Promise<void> {
  const clock = new VirtualClock(1000);
  s3Service = createS3Service({ accountId: ACCOUNT, clock });
  ec2Service = createEc2Service({
    clock,
    seed: false,
    throttling: false,
    imageAvailableAfterMs: 300_000,
    registerFromImageLocation: makeRegisterFromImageLocation({ s3: () => s3Service, ec2KeyPem: ec2Cert.keyPem }),
  });
  const services: LocalService[] = [ec2Service, s3Service];
  served = await serveLocalServices(services);
  const endpoint = served.endpoint;
  ec2 = new EC2Client({ region: 'us-east-1', endpoint, credentials: creds, maxAttempts: 1 });
  s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
}

beforeAll(async () => {
  dir = tempDir('ec2-register-location');
  user = opensslKeyPair(dir, 'user');
  ec2Cert = opensslKeyPair(dir, 'ec2');
  otherEc2 = opensslKeyPair(dir, 'other-ec2');
  randomFile(join(dir, 'disk.img'), 200 * 1024);
  await start();
  await s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
});
afterAll(async () => {
  ec2.destroy();
  s3.destroy();
  ec2Service.close();
  await served.close();
  removeDir(dir);
});

function upload(prefix: string, opts: { acl?: 'aws-exec-read' | 'private'; ec2Certificate?: string } = {}): Promise<BundleResult> {
  return bundleImage({
    image: join(dir, 'disk.img'),
    name: 'web',
    user: ACCOUNT,
    architecture: 'x86_64',
    userCertificate: user.certPem,
    privateKey: user.keyPem,
    ec2Certificate: opts.ec2Certificate ?? ec2Cert.certPem,
    partSize: PART,
    blockDeviceMapping: { ami: 'sda1', root: '/dev/sda1', ephemeral0: 'sda2', swap: 'sda3' },
    sink: s3BundleSink(s3, 'bundles', prefix, opts.acl === undefined ? {} : { acl: opts.acl }),
  });
}

async function describe1(imageId: string): Promise<Image | undefined> {
  return (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
}

async function imagesNamed(name: string): Promise<Image[]> {
  return (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] }))).Images ?? [];
}

async function registerError(location: string, name: string): Promise<{ name: string; message: string }> {
  try {
    await ec2.send(new RegisterImageCommand({ ImageLocation: location, Name: name }));
  } catch (e) {
    const err = e as Error;
    expect(await imagesNamed(name)).toEqual([]);
    return { name: err.name, message: err.message };
  }
  throw new Error(`RegisterImage ${location} succeeded`);
}

describe('RegisterImage with ImageLocation', () => {
  it('registers a valid bundle as an instance-store image that becomes available', async () => {
    const r = await upload('ok');
    expect(r.parts.length).toBeGreaterThan(1);
    const out = await ec2.send(
      new RegisterImageCommand({ ImageLocation: 'bundles/ok/web.manifest.xml', Name: 'web-ok', Description: 'from a bundle' }),
    );
    const imageId = out.ImageId ?? '';
    expect(imageId).toMatch(/^ami-/);
    const image = await describe1(imageId);
    expect(image).toMatchObject({
      State: 'pending',
      RootDeviceType: 'instance-store',
      ImageLocation: 'bundles/ok/web.manifest.xml',
      Architecture: 'x86_64',
      RootDeviceName: '/dev/sda1',
      Description: 'from a bundle',
    });
    expect(image?.BlockDeviceMappings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ DeviceName: '/dev/sda2', VirtualName: 'ephemeral0' }),
        expect.objectContaining({ DeviceName: '/dev/sda3', VirtualName: 'swap' }),
      ]),
    );
    const deadline = Date.now() + 10_000;
    while ((await describe1(imageId))?.State !== 'available') {
      if (Date.now() > deadline) throw new Error('image never became available');
      await new Promise((res) => setTimeout(res, 10));
    }
  });

  it('takes the architecture from the request when given', async () => {
    await upload('arch');
    const out = await ec2.send(
      new RegisterImageCommand({ ImageLocation: 'bundles/arch/web.manifest.xml', Name: 'web-arch', Architecture: 'i386' }),
    );
    expect((await describe1(out.ImageId ?? ''))?.Architecture).toBe('i386');
  });

  it('refuses a location that is not a manifest, or a manifest that does not exist', async () => {
    expect(await registerError('bundles', 'bad-1')).toMatchObject({ name: 'InvalidParameterValue' });
    expect(await registerError('bundles/nope/web.manifest.xml', 'bad-2')).toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/does not exist/),
    });
  });

  it('refuses a bundle with a missing part', async () => {
    const r = await upload('missing');
    await s3.send(new DeleteObjectCommand({ Bucket: 'bundles', Key: `missing/${r.parts[1]?.filename ?? ''}` }));
    const err = await registerError('bundles/missing/web.manifest.xml', 'bad-missing');
    expect(err).toMatchObject({ name: 'InvalidManifest', message: expect.stringMatching(/does not exist/) });
  });

  it('refuses objects EC2 cannot read (no aws-exec-read)', async () => {
    await upload('private', { acl: 'private' });
    expect(await registerError('bundles/private/web.manifest.xml', 'bad-private')).toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/not readable by EC2/),
    });
    const r = await upload('one-private');
    await s3.send(new PutObjectAclCommand({ Bucket: 'bundles', Key: `one-private/${r.parts[0]?.filename ?? ''}`, ACL: 'private' }));
    expect(await registerError('bundles/one-private/web.manifest.xml', 'bad-one-private')).toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/part .* not readable by EC2/),
    });
  });

  it('refuses tampered manifests and parts', async () => {
    const r = await upload('tamper');
    const xml = r.manifestXml;
    const put = (key: string, body: string | Buffer): Promise<unknown> =>
      s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: key, Body: body, ACL: 'aws-exec-read' }));
    // Another image digest: the signature no longer matches, and what EC2 decrypts differs.
    const flipped = r.manifest.image.digest.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await put('tamper/web.manifest.xml', xml.replace(r.manifest.image.digest, flipped));
    expect(await registerError('bundles/tamper/web.manifest.xml', 'bad-digest')).toMatchObject({
      name: 'InvalidManifest',
      message: expect.stringMatching(/SHA-1/),
    });
    // Not XML.
    await put('tamper/web.manifest.xml', '<manifest>');
    expect(await registerError('bundles/tamper/web.manifest.xml', 'bad-xml')).toMatchObject({ name: 'InvalidManifest' });
    // A part changed.
    await put('tamper/web.manifest.xml', xml);
    const partKey = `tamper/${r.parts[0]?.filename ?? ''}`;
    const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: partKey }))).Body!.transformToByteArray());
    body[10] = (body[10] ?? 0) ^ 0xff;
    await put(partKey, body);
    expect(await registerError('bundles/tamper/web.manifest.xml', 'bad-part')).toMatchObject({
      name: 'InvalidManifest',
      message: expect.stringMatching(/part .* SHA-1/),
    });
  });

  it('refuses a bundle wrapped for another EC2 certificate', async () => {
    await upload('other-cert', { ec2Certificate: otherEc2.certPem });
    expect(await registerError('bundles/other-cert/web.manifest.xml', 'bad-cert')).toMatchObject({
      name: 'InvalidManifest',
      message: expect.stringMatching(/EC2 cannot decrypt/),
    });
  });
});
