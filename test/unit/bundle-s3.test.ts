import { jest } from '@jest/globals';
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  bundleImage,
  directorySink,
  MissingPartError,
  PartSizeMismatchError,
  SignatureMismatchError,
  unbundle,
  verifyParts,
  type BundleResult,
} from '../../functions/lib/bundle/index.js';
import {
  BundleNotFoundError,
  BundleNotReadableError,
  checkBundleInS3,
  deleteBundleFromS3,
  deleteBundlePrefixFromS3,
  EC2_CANONICAL_USER_ID,
  parseBucketArgument,
  parseImageLocation,
  readManifestFromS3,
  s3BundleSink,
  s3BundleSource,
} from '../../functions/lib/bundle/s3.js';
import { run as deleteBundle } from '../../bin/commands/delete-bundle.js';
import { run as uploadBundle } from '../../bin/commands/upload-bundle.js';
import { startLocalCloud, type LocalCloud } from '../../local/server.js';
import { ACCOUNT, opensslKeyPair, randomFile, removeDir, tempDir, type KeyPairFiles } from '../fixtures/bundle/helpers.js';

const PART = 64 * 1024;
let dir: string;
let user: KeyPairFiles;
let ec2: KeyPairFiles;
let other: KeyPairFiles;
let cloud: LocalCloud;
let s3: S3Client;
let image: Buffer;

beforeAll(async () => {
  dir = tempDir('bundle-s3');
  user = opensslKeyPair(dir, 'user');
  ec2 = opensslKeyPair(dir, 'ec2');
  other = opensslKeyPair(dir, 'other');
  image = randomFile(join(dir, 'disk.img'), 200 * 1024);
  cloud = await startLocalCloud({ port: 0, stateDir: null, seed: false, schedules: false });
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cloud.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
});
afterAll(async () => {
  s3.destroy();
  await cloud.close();
  removeDir(dir);
});

function upload(prefix: string, name: string, acl?: 'aws-exec-read' | 'private'): Promise<BundleResult> {
  return bundleImage({
    image: join(dir, 'disk.img'),
    name,
    user: ACCOUNT,
    architecture: 'x86_64',
    userCertificate: user.certPem,
    privateKey: user.keyPem,
    ec2Certificate: ec2.certPem,
    partSize: PART,
    sink: s3BundleSink(s3, 'bundles', prefix, acl === undefined ? {} : { acl }),
  });
}

describe('locations', () => {
  it('splits image locations and -b arguments', () => {
    expect(parseImageLocation('b/some/prefix/web.manifest.xml')).toEqual({
      bucket: 'b',
      manifestKey: 'some/prefix/web.manifest.xml',
      prefix: 'some/prefix/',
    });
    expect(parseImageLocation('b/web.manifest.xml')).toEqual({ bucket: 'b', manifestKey: 'web.manifest.xml', prefix: '' });
    expect(() => parseImageLocation('b')).toThrow(/bucket/);
    expect(() => parseImageLocation('b/web.xml')).toThrow(/manifest/);
    expect(parseBucketArgument('b/some/prefix')).toEqual({ bucket: 'b', prefix: 'some/prefix/' });
    expect(parseBucketArgument('b')).toEqual({ bucket: 'b', prefix: '' });
  });
});

describe('s3BundleSink / s3BundleSource', () => {
  it('uploads parts and manifest with aws-exec-read and no staging leftovers; the bundle verifies and unbundles from S3', async () => {
    const r = await upload('images/v1', 'web');
    expect(r.parts.length).toBeGreaterThan(2);
    const keys = cloud.s3.listKeys('bundles', 'images/v1/');
    expect(keys.sort()).toEqual([...r.parts.map((p) => `images/v1/${p.filename}`), 'images/v1/web.manifest.xml'].sort());
    for (const k of keys) expect(cloud.s3.getObject('bundles', k)?.ec2Readable).toBe(true);
    const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'bundles', Key: 'images/v1/web.manifest.xml' }));
    expect(acl.Grants?.some((g) => g.Grantee?.ID === EC2_CANONICAL_USER_ID && g.Permission === 'READ')).toBe(true);

    const source = s3BundleSource(s3, 'bundles', 'images/v1/');
    const checks = await verifyParts(r.manifest, source, { partSize: PART });
    expect(checks).toHaveLength(r.parts.length);
    const out = join(dir, 'out');
    const u = await unbundle({ manifest: r.manifestXml, source, privateKey: user.keyPem, destination: out, partSize: PART });
    expect(statSync(u.path).size).toBe(image.length);

    const check = await checkBundleInS3(s3, 'bundles/images/v1/web.manifest.xml', { certificate: user.certPem, partSize: PART });
    expect(check.partKeys).toEqual(r.parts.map((p) => `images/v1/${p.filename}`));
    expect((await readManifestFromS3(s3, 'bundles/images/v1/web.manifest.xml')).manifest.image.digest).toBe(r.manifest.image.digest);
  });

  it('abort removes what was uploaded', async () => {
    const sink = s3BundleSink(s3, 'bundles', 'aborted');
    const w = await sink.openPart(0);
    await w.write(Buffer.from('abc'));
    await w.close();
    expect(cloud.s3.listKeys('bundles', 'aborted/')).toHaveLength(1);
    await sink.abort();
    expect(cloud.s3.listKeys('bundles', 'aborted/')).toEqual([]);
  });
});

describe('checkBundleInS3', () => {
  it('names what is wrong: no manifest, bad signature, missing or resized part, no aws-exec-read', async () => {
    const r = await upload('chk', 'web');
    const loc = 'bundles/chk/web.manifest.xml';
    await expect(checkBundleInS3(s3, 'bundles/chk/nope.manifest.xml')).rejects.toBeInstanceOf(BundleNotFoundError);
    await expect(checkBundleInS3(s3, loc, { certificate: other.certPem, partSize: PART })).rejects.toBeInstanceOf(SignatureMismatchError);

    const last = `chk/${r.parts.at(-1)?.filename ?? ''}`;
    await s3.send(new PutObjectAclCommand({ Bucket: 'bundles', Key: last, ACL: 'private' }));
    await expect(checkBundleInS3(s3, loc, { partSize: PART })).rejects.toBeInstanceOf(BundleNotReadableError);
    await expect(checkBundleInS3(s3, loc, { partSize: PART, skipAcl: true })).resolves.toBeDefined();

    await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: last, Body: Buffer.alloc(PART + 1), ACL: 'aws-exec-read' }));
    await expect(checkBundleInS3(s3, loc, { partSize: PART })).rejects.toBeInstanceOf(PartSizeMismatchError);

    await s3.send(new DeleteObjectCommand({ Bucket: 'bundles', Key: `chk/${r.parts[0]?.filename ?? ''}` }));
    await expect(checkBundleInS3(s3, loc, { partSize: PART })).rejects.toBeInstanceOf(MissingPartError);
  });

  it('private uploads are refused', async () => {
    await upload('priv', 'web', 'private');
    await expect(checkBundleInS3(s3, 'bundles/priv/web.manifest.xml', { partSize: PART })).rejects.toThrow(/aws-exec-read/);
  });
});

describe('deleting bundles', () => {
  it('by manifest deletes the parts and the manifest, and leaves other keys', async () => {
    const r = await upload('del', 'web');
    await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'del/web.txt', Body: 'keep' }));
    const deleted = await deleteBundleFromS3(s3, 'bundles/del/web.manifest.xml');
    expect(deleted).toHaveLength(r.parts.length + 1);
    expect(deleted.at(-1)).toBe('del/web.manifest.xml');
    expect(cloud.s3.listKeys('bundles', 'del/')).toEqual(['del/web.txt']);
    await expect(deleteBundleFromS3(s3, 'bundles/del/web.manifest.xml')).rejects.toBeInstanceOf(BundleNotFoundError);
  });

  it('by prefix deletes .part.N and .manifest.xml keys of that name only', async () => {
    const r = await upload('pre', 'web');
    await upload('pre', 'web2');
    const deleted = await deleteBundlePrefixFromS3(s3, 'bundles', 'pre/', 'web');
    expect(deleted).toHaveLength(r.parts.length + 1);
    expect(cloud.s3.listKeys('bundles', 'pre/').every((k) => k.startsWith('pre/web2.'))).toBe(true);
    await expect(deleteBundlePrefixFromS3(s3, 'bundles', 'pre/', 'web')).rejects.toBeInstanceOf(BundleNotFoundError);
  });
});

describe('ami-factory upload-bundle / delete-bundle', () => {
  let out: string[];
  let err: string[];
  beforeEach(() => {
    out = [];
    err = [];
    jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
    jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  });
  afterEach(() => jest.restoreAllMocks());

  it('uploads a bundle from disk with aws-exec-read (creating the bucket), then deletes it by manifest and by prefix', async () => {
    const local = join(dir, 'cli-bundle');
    const r = await bundleImage({
      image: join(dir, 'disk.img'),
      name: 'cli',
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: ec2.certPem,
      sink: directorySink(local),
    });
    const manifestPath = join(local, r.manifestFileName);
    const up = ['-b', 'cli-bucket/a/b', '-m', manifestPath, '--endpoint', cloud.endpoint];
    expect(await uploadBundle(up)).toBe(0);
    expect(out.join('\n')).toMatch(/Uploaded cli: 1 part .* ImageLocation cli-bucket\/a\/b\/cli\.manifest\.xml/);
    expect(err).toEqual([]);
    expect(cloud.s3.listKeys('cli-bucket').sort()).toEqual(['a/b/cli.manifest.xml', 'a/b/cli.part.0']);
    await expect(checkBundleInS3(s3, 'cli-bucket/a/b/cli.manifest.xml', { certificate: user.certPem })).resolves.toBeDefined();

    expect(await deleteBundle(['-b', 'cli-bucket/a/b', '-m', manifestPath, '--endpoint', cloud.endpoint])).toBe(0);
    expect(out.at(-1)).toMatch(/Deleted 2 objects/);
    expect(cloud.s3.listKeys('cli-bucket')).toEqual([]);

    expect(await uploadBundle([...up, '--acl', 'private'])).toBe(0);
    expect(cloud.s3.getObject('cli-bucket', 'a/b/cli.part.0')?.ec2Readable).toBe(false);
    expect(await deleteBundle(['-b', 'cli-bucket/a/b', '--prefix', 'cli', '--endpoint', cloud.endpoint])).toBe(0);
    expect(cloud.s3.listKeys('cli-bucket')).toEqual([]);
    expect(await deleteBundle(['-b', 'cli-bucket/a/b', '--prefix', 'cli', '--endpoint', cloud.endpoint])).toBe(1);
    expect(err.at(-1)).toMatch(/BundleNotFoundError/);
  });

  it('refuses bad arguments with exit code 2 and a missing part with 1', async () => {
    expect(await uploadBundle(['-m', 'x.manifest.xml'])).toBe(2);
    expect(err.at(-1)).toMatch(/missing --bucket/);
    expect(await uploadBundle(['-b', 'b', '-m', 'x.manifest.xml', '--acl', 'nope'])).toBe(2);
    expect(await uploadBundle(['-b', 'b', '-m', join(dir, 'none.manifest.xml'), '--endpoint', cloud.endpoint])).toBe(2);
    expect(await deleteBundle(['-b', 'b'])).toBe(2);
    expect(await deleteBundle(['-b', 'b', '-m', 'x', '-p', 'y'])).toBe(2);
    const local = join(dir, 'cli-missing');
    const r = await bundleImage({
      image: join(dir, 'disk.img'),
      name: 'gone',
      user: ACCOUNT,
      architecture: 'x86_64',
      userCertificate: user.certPem,
      privateKey: user.keyPem,
      ec2Certificate: ec2.certPem,
      sink: directorySink(local),
    });
    unlinkSync(join(local, r.parts[0]?.filename ?? ''));
    expect(await uploadBundle(['-b', 'cli-bucket', '-m', join(local, r.manifestFileName), '--endpoint', cloud.endpoint])).toBe(1);
    expect(err.at(-1)).toMatch(/MissingPartError/);
    expect(cloud.s3.listKeys('cli-bucket')).toEqual([]);
  });
});
