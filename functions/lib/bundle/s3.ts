/**
 * Instance-store bundles in S3 (shared/specs/instance-store-bundle.md, "Upload" and "Delete"):
 * a BundleSink uploading parts and the manifest as ec2-upload-bundle does (canned ACL
 * `aws-exec-read`, Content-MD5, manifest last), a BundleSource reading parts back, and the checks
 * EC2 makes at RegisterImage (manifest and parts present with their sizes, readable by EC2,
 * signature valid when the user's certificate is known).
 *
 * Part names depend on the part count, known only at the end: parts are uploaded as they
 * complete under staging keys (`<prefix>.bundle-staging-<random>/<i>`) and copied server-side
 * to their final names, with the ACL, in `commitParts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type Grant,
  type ObjectCannedACL,
  type S3Client,
} from '@aws-sdk/client-s3';
import { deleteBundleKeys } from './delete.js';
import { BundleError, BundleInputError, ManifestError, MissingPartError } from './errors.js';
import type { KeyInput } from './keys.js';
import { parseManifest, verifyManifestSignature, type Manifest } from './manifest.js';
import type { BundleSink, BundleSource, PartWriter } from './storage.js';
import { checkPartSizes } from './unbundle.js';
import { PART_SIZE } from './constants.js';
import { S3_ERROR } from '../error-codes.js';

/** EC2's canonical user (`za-team`): what the canned ACL `aws-exec-read` grants READ to. */
export const EC2_CANONICAL_USER_ID = '6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c';
export const EC2_CANONICAL_USER_NAME = 'za-team';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';

/** The bundle's manifest (or, by prefix, any of its objects) is not in the bucket. */
export class BundleNotFoundError extends BundleError {
  override name = 'BundleNotFoundError';
  constructor(
    readonly location: string,
    options?: ErrorOptions,
  ) {
    super(`no bundle manifest at s3://${location}`, options);
  }
}

/** An object of the bundle does not grant EC2 READ (upload it with the canned ACL aws-exec-read). */
export class BundleNotReadableError extends BundleError {
  override name = 'BundleNotReadableError';
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`s3 object ${key} is not readable by EC2 (it needs the canned ACL aws-exec-read)`, options);
  }
}

/** A `bucket/key…` location split into its parts. */
export interface BundleLocation {
  bucket: string;
  /** The manifest's key, e.g. `images/web.manifest.xml`. */
  manifestKey: string;
  /** Key prefix of the bundle's objects: `images/` (or `` at the bucket's root). */
  prefix: string;
}

/** `bucket/some/prefix/name.manifest.xml` → bucket, manifest key and key prefix. */
export function parseImageLocation(imageLocation: string): BundleLocation {
  const loc = imageLocation.replace(/^s3:\/\//, '');
  const slash = loc.indexOf('/');
  if (slash <= 0 || slash === loc.length - 1) {
    throw new BundleInputError(`image location "${imageLocation}" is not bucket/[prefix/]name.manifest.xml`);
  }
  const bucket = loc.slice(0, slash);
  const manifestKey = loc.slice(slash + 1);
  if (!manifestKey.endsWith('.manifest.xml') || manifestKey.endsWith('/.manifest.xml') || manifestKey === '.manifest.xml') {
    throw new BundleInputError(`image location "${imageLocation}" does not name a manifest (<name>.manifest.xml)`);
  }
  const last = manifestKey.lastIndexOf('/');
  return { bucket, manifestKey, prefix: last === -1 ? '' : manifestKey.slice(0, last + 1) };
}

/** `bucket/some/prefix` (ec2-upload-bundle's `-b`) → bucket and key prefix `some/prefix/`. */
export function parseBucketArgument(arg: string): { bucket: string; prefix: string } {
  const loc = arg.replace(/^s3:\/\//, '');
  const slash = loc.indexOf('/');
  const bucket = slash === -1 ? loc : loc.slice(0, slash);
  if (bucket === '') throw new BundleInputError(`"${arg}" does not name a bucket`);
  return { bucket, prefix: normalizePrefix(slash === -1 ? '' : loc.slice(slash + 1)) };
}

function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '');
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

function md5Base64(body: Uint8Array): string {
  return createHash('md5').update(body).digest('base64');
}

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

function isNotFound(e: unknown): boolean {
  const name = errorName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return name === S3_ERROR.noSuchKey || name === S3_ERROR.notFound || status === 404;
}

/** Deletes keys with DeleteObjects (1000 a call); throws on the first key S3 could not delete. */
async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    if (batch.length === 0) continue;
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
    );
    const failed = out.Errors?.[0];
    if (failed !== undefined)
      throw new BundleError(`could not delete s3://${bucket}/${failed.Key ?? '?'}: ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim());
  }
}

export interface S3SinkOptions {
  /** Canned ACL of every object (default `aws-exec-read`, which EC2 needs). */
  acl?: ObjectCannedACL;
  /** Called after each part and the manifest are stored (bytes uploaded so far). */
  onUploaded?: (key: string, bytes: number) => void;
}

/**
 * A sink uploading to `s3://bucket/<prefix>`: each part as it completes (PutObject with
 * Content-MD5) under a staging key, copied with the ACL to its final name in `commitParts`;
 * the manifest last. Parts are held in memory one at a time (at most one part size).
 */
export function s3BundleSink(s3: S3Client, bucket: string, prefix: string, opts: S3SinkOptions = {}): BundleSink {
  const keyPrefix = normalizePrefix(prefix);
  const acl = opts.acl ?? 'aws-exec-read';
  const staging = `${keyPrefix}.bundle-staging-${randomBytes(6).toString('hex')}/`;
  const staged: string[] = [];
  const committed: string[] = [];
  let manifestKey: string | undefined;
  let uploaded = 0;
  return {
    async openPart(index): Promise<PartWriter> {
      const chunks: Buffer[] = [];
      return {
        async write(chunk) {
          chunks.push(Buffer.from(chunk));
        },
        async close() {
          const body = Buffer.concat(chunks);
          chunks.length = 0;
          const key = `${staging}${index}`;
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: body,
              ContentMD5: md5Base64(body),
              ContentType: 'application/octet-stream',
            }),
          );
          staged[index] = key;
          uploaded += body.length;
          opts.onUploaded?.(key, uploaded);
        },
      };
    },
    async commitParts(names) {
      if (names.length !== staged.length) throw new RangeError(`commitParts got ${names.length} names for ${staged.length} parts`);
      for (const [i, from] of staged.entries()) {
        const name = names[i] as string;
        if (name.includes('/')) throw new BundleInputError(`part name "${name}" is not a plain file name`);
        const to = keyPrefix + name;
        await s3.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: to,
            CopySource: `${bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`,
            ACL: acl,
            MetadataDirective: 'COPY',
          }),
        );
        committed.push(to);
      }
      await deleteKeys(
        s3,
        bucket,
        staged.filter((k) => k !== undefined),
      );
      staged.length = 0;
    },
    async writeManifest(fileName, xml) {
      if (fileName.includes('/')) throw new BundleInputError(`manifest name "${fileName}" is not a plain file name`);
      const key = keyPrefix + fileName;
      const body = Buffer.from(xml, 'utf8');
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: md5Base64(body), ContentType: 'text/xml', ACL: acl }),
      );
      manifestKey = key;
      opts.onUploaded?.(key, uploaded + body.length);
    },
    async abort() {
      const keys = [...staged.filter((k) => k !== undefined), ...committed, ...(manifestKey === undefined ? [] : [manifestKey])];
      await deleteKeys(s3, bucket, keys).catch(() => undefined);
    },
  };
}

/** A source reading parts from `s3://bucket/<prefix><part filename>`. */
export function s3BundleSource(s3: S3Client, bucket: string, prefix: string): BundleSource {
  const keyPrefix = normalizePrefix(prefix);
  return {
    async partSize(fileName) {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keyPrefix + fileName }));
        return head.ContentLength;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    readPart(fileName) {
      return (async function* () {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keyPrefix + fileName }));
        const body = out.Body;
        if (body === undefined) return;
        if (body instanceof Readable) {
          for await (const chunk of body) yield chunk as Uint8Array;
        } else {
          yield await body.transformToByteArray();
        }
      })();
    },
  };
}

export interface ManifestInS3 extends BundleLocation {
  manifest: Manifest;
}

/** Reads and parses the manifest at `bucket/prefix/name.manifest.xml` (BundleNotFoundError, ManifestError). */
export async function readManifestFromS3(s3: S3Client, imageLocation: string): Promise<ManifestInS3> {
  const loc = parseImageLocation(imageLocation);
  let xml: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.manifestKey }));
    xml = out.Body === undefined ? '' : await out.Body.transformToString('utf8');
  } catch (e) {
    if (isNotFound(e) || errorName(e) === 'NoSuchBucket') throw new BundleNotFoundError(`${loc.bucket}/${loc.manifestKey}`, { cause: e });
    throw e;
  }
  return { ...loc, manifest: parseManifest(xml) };
}

/** Whether the grants let EC2 read the object (its canonical user, or everyone, has READ or FULL_CONTROL). */
export function grantsAllowEc2Read(grants: readonly Grant[]): boolean {
  return grants.some((g) => {
    if (g.Permission !== 'READ' && g.Permission !== 'FULL_CONTROL') return false;
    const who = g.Grantee;
    if (who === undefined) return false;
    if (who.Type === 'CanonicalUser') return who.ID === EC2_CANONICAL_USER_ID || who.DisplayName === EC2_CANONICAL_USER_NAME;
    return who.Type === 'Group' && who.URI === ALL_USERS;
  });
}

async function assertEc2Readable(s3: S3Client, bucket: string, key: string): Promise<void> {
  const acl = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: key }));
  if (!grantsAllowEc2Read(acl.Grants ?? [])) throw new BundleNotReadableError(`${bucket}/${key}`);
}

export interface CheckBundleOptions {
  /** The user's certificate: verify the manifest's signature against it. */
  certificate?: KeyInput;
  /** Part size the bundle was made with (tests); the format's 10 MiB by default. */
  partSize?: number;
  /** Skip the ACL checks (a bucket with ACLs disabled, checked some other way). */
  skipAcl?: boolean;
}

export interface BundleCheck extends ManifestInS3 {
  /** Part keys, in index order. */
  partKeys: string[];
}

/**
 * What EC2 checks at RegisterImage, before registering: the manifest is there and parses
 * (BundleNotFoundError, ManifestError), the signature verifies when a certificate is given
 * (SignatureMismatchError), every part is there with the size the manifest implies
 * (MissingPartError, TruncatedPartError, PartSizeMismatchError), and every object grants EC2 READ
 * (BundleNotReadableError). Reads no part data.
 */
export async function checkBundleInS3(s3: S3Client, imageLocation: string, opts: CheckBundleOptions = {}): Promise<BundleCheck> {
  const found = await readManifestFromS3(s3, imageLocation);
  const { bucket, prefix, manifestKey, manifest } = found;
  if (opts.certificate !== undefined) verifyManifestSignature(manifest, opts.certificate);
  for (const part of manifest.image.parts) {
    if (part.filename.includes('/') || part.filename === '' || part.filename === '.' || part.filename === '..') {
      throw new ManifestError(`manifest/image/parts/part[${part.index}]/filename`, `"${part.filename}" is not a plain file name`);
    }
  }
  await checkPartSizes(manifest, s3BundleSource(s3, bucket, prefix), opts.partSize ?? PART_SIZE);
  const partKeys = manifest.image.parts.map((p) => prefix + p.filename);
  if (opts.skipAcl !== true) {
    for (const key of [manifestKey, ...partKeys]) await assertEc2Readable(s3, bucket, key);
  }
  return { ...found, partKeys };
}

/**
 * Deletes a bundle by its manifest (ec2-delete-bundle -m): the parts it lists, then the manifest.
 * The manifest is read from S3 unless given (a local copy). Returns the keys deleted.
 */
export async function deleteBundleFromS3(
  s3: S3Client,
  imageLocation: string,
  opts: { manifest?: Manifest | string } = {},
): Promise<string[]> {
  const { bucket, manifestKey, manifest } =
    opts.manifest === undefined
      ? await readManifestFromS3(s3, imageLocation)
      : { ...parseImageLocation(imageLocation), manifest: opts.manifest };
  const keys = deleteBundleKeys({ manifestKey, manifest });
  const parts = keys.filter((k) => k !== manifestKey);
  await deleteKeys(s3, bucket, parts);
  await deleteKeys(s3, bucket, [manifestKey]);
  return keys;
}

/**
 * Deletes a bundle by name prefix (ec2-delete-bundle -p): keys `<keyPrefix><name>.part.<n>` and
 * `<keyPrefix><name>.manifest[.xml]`, manifest last. Returns the keys deleted (none: BundleNotFoundError).
 */
export async function deleteBundlePrefixFromS3(s3: S3Client, bucket: string, keyPrefix: string, name: string): Promise<string[]> {
  const prefix = normalizePrefix(keyPrefix) + name;
  const listed: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) if (o.Key !== undefined) listed.push(o.Key);
  }
  const keys = deleteBundleKeys({ prefix, keys: listed });
  if (keys.length === 0) throw new BundleNotFoundError(`${bucket}/${prefix}.*`);
  const isManifest = (k: string): boolean => /\.manifest(\.xml)?$/.test(k);
  await deleteKeys(
    s3,
    bucket,
    keys.filter((k) => !isManifest(k)),
  );
  await deleteKeys(s3, bucket, keys.filter(isManifest));
  return keys;
}

export interface UploadBundleOptions {
  /** Canned ACL of every object (default `aws-exec-read`). */
  acl?: ObjectCannedACL;
  /** The manifest's object name (default `<image name>.manifest.xml`; the tools use the manifest file's name). */
  manifestFileName?: string;
  /** Bytes uploaded so far, of the bundled size. */
  onProgress?: (bytes: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Uploads a bundle already on disk (ec2-upload-bundle): every part the manifest lists, read from
 * `source`, with Content-MD5 and the ACL, then the manifest. Returns the ImageLocation to register.
 */
export async function uploadBundleToS3(
  s3: S3Client,
  bucket: string,
  prefix: string,
  manifest: Manifest | string,
  source: BundleSource,
  opts: UploadBundleOptions = {},
): Promise<{ imageLocation: string; keys: string[] }> {
  const m = typeof manifest === 'string' ? parseManifest(manifest) : manifest;
  const keyPrefix = normalizePrefix(prefix);
  const acl = opts.acl ?? 'aws-exec-read';
  const keys: string[] = [];
  let bytes = 0;
  for (const part of m.image.parts) {
    opts.signal?.throwIfAborted();
    if (part.filename.includes('/'))
      throw new ManifestError(`manifest/image/parts/part[${part.index}]/filename`, `"${part.filename}" is not a plain file name`);
    const chunks: Buffer[] = [];
    try {
      for await (const c of source.readPart(part.filename)) chunks.push(Buffer.from(c));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingPartError(part.filename, { cause: e });
      throw e;
    }
    const body = Buffer.concat(chunks);
    const key = keyPrefix + part.filename;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentMD5: md5Base64(body),
        ContentType: 'application/octet-stream',
        ACL: acl,
      }),
    );
    keys.push(key);
    bytes += body.length;
    opts.onProgress?.(bytes, m.image.bundledSize);
  }
  const manifestName = opts.manifestFileName ?? `${m.image.name}.manifest.xml`;
  if (manifestName.includes('/')) throw new BundleInputError(`manifest name "${manifestName}" is not a plain file name`);
  const manifestKey = keyPrefix + manifestName;
  const body = Buffer.from(m.xml, 'utf8');
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: body, ContentMD5: md5Base64(body), ContentType: 'text/xml', ACL: acl }),
  );
  keys.push(manifestKey);
  return { imageLocation: `${bucket}/${manifestKey}`, keys };
}
