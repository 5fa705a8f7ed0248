import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, S3Client, type ObjectCannedACL } from '@aws-sdk/client-s3';
import { checkPartSizes, directorySource, parseManifest } from '../../functions/lib/bundle/index.js';
import { formatBytes, progressLine } from '../../functions/lib/bundle/progress.js';
import { parseBucketArgument, uploadBundleToS3 } from '../../functions/lib/bundle/s3.js';
import { DEFAULT_PORT, isLocalCloudUp } from '../../local/server.js';
import { parseOptions, usageError } from './_common.js';

export const summary = 'Upload a bundle (parts, then manifest) to S3 with the aws-exec-read ACL';

const HELP = `usage: ami-factory upload-bundle -b BUCKET[/PREFIX] -m MANIFEST [options]

Uploads every part the manifest lists (from the manifest's directory) and then the manifest,
each with Content-MD5 and the canned ACL aws-exec-read (EC2 must read them), as
ec2-upload-bundle does. Prints the ImageLocation to give RegisterImage.
  -b, --bucket BUCKET[/PREFIX]  where to upload (the bucket is created if missing)
  -m, --manifest FILE           the bundle's manifest (<name>.manifest.xml)
  -d, --directory DIR           directory holding the parts (default: the manifest's directory)
      --acl ACL                 canned ACL (default aws-exec-read)
      --endpoint URL            S3 endpoint (default: the local cloud, ${localEndpoint()})
      --aws                     use AWS itself (default credentials and endpoint)
      --region REGION           region (default us-east-1, or AWS_REGION)
  -q, --quiet                   no progress (a bar on a terminal, a line every 5 s otherwise)
  -h, --help                    this help`;

const OPTIONS = {
  bucket: { type: 'string', short: 'b' },
  manifest: { type: 'string', short: 'm' },
  directory: { type: 'string', short: 'd' },
  acl: { type: 'string' },
  endpoint: { type: 'string' },
  aws: { type: 'boolean' },
  region: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

const CANNED = [
  'private',
  'public-read',
  'public-read-write',
  'aws-exec-read',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
];

export function localEndpoint(): string {
  return `http://127.0.0.1:${DEFAULT_PORT}`;
}

export interface S3TargetOptions {
  endpoint?: string;
  aws?: boolean;
  region?: string;
}

/**
 * The S3 client of a bundle command: `--endpoint URL`, `--aws`, or the local cloud on its default
 * port. Undefined (with the reason printed) when the local cloud is not running.
 */
export async function s3ClientFor(command: string, o: S3TargetOptions): Promise<S3Client | undefined> {
  const region = o.region ?? process.env.AWS_REGION ?? 'us-east-1';
  if (o.aws === true) return new S3Client({ region });
  const endpoint = o.endpoint ?? localEndpoint();
  const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/.test(endpoint);
  if (o.endpoint === undefined && !(await isLocalCloudUp(endpoint))) {
    console.error(
      `ami-factory ${command}: the local cloud is not running on ${endpoint}.\n` +
        'Start it in another terminal with `ami-factory cloud`, or pass --endpoint URL (another S3) or --aws.',
    );
    return undefined;
  }
  const credentials =
    local && process.env.AWS_ACCESS_KEY_ID === undefined ? { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } : undefined;
  return new S3Client({ region, endpoint, forcePathStyle: true, maxAttempts: 3, ...(credentials === undefined ? {} : { credentials }) });
}

function usage(message: string): number {
  return usageError('upload-bundle', message);
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) throw e;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('upload-bundle', HELP, argv, OPTIONS, ['bucket', 'manifest']);
  if (typeof values === 'number') return values;
  const acl = values.acl ?? 'aws-exec-read';
  if (!CANNED.includes(acl)) return usage(`--acl must be one of ${CANNED.join(', ')}`);
  let target: { bucket: string; prefix: string };
  let xml: string;
  try {
    target = parseBucketArgument(values.bucket);
    xml = readFileSync(values.manifest, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return usage(err.code !== undefined ? `cannot read ${err.path ?? values.manifest}: ${err.code}` : err.message);
  }
  const s3 = await s3ClientFor('upload-bundle', values);
  if (s3 === undefined) return 1;
  const progress = progressLine(process.stderr, 'uploading', undefined, undefined, { quiet: values.quiet === true });
  try {
    const manifest = parseManifest(xml);
    const source = directorySource(values.directory ?? dirname(values.manifest));
    await checkPartSizes(manifest, source);
    await ensureBucket(s3, target.bucket);
    const r = await uploadBundleToS3(s3, target.bucket, target.prefix, manifest, source, {
      acl: acl as ObjectCannedACL,
      manifestFileName: basename(values.manifest),
      onProgress: (bytes, total) => progress.update(bytes, total),
    });
    const ms = progress.done();
    const parts = manifest.image.parts.length;
    console.log(
      `Uploaded ${manifest.image.name}: ${parts} part${parts === 1 ? '' : 's'} (${formatBytes(manifest.image.bundledSize)}) and the manifest to s3://${target.bucket}/${target.prefix} with ${acl} in ${(ms / 1000).toFixed(1)} s; ImageLocation ${r.imageLocation}`,
    );
    return 0;
  } catch (e) {
    progress.done();
    console.error(`FAILED ${values.manifest}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    s3.destroy();
  }
}
