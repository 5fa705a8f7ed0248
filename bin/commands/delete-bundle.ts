import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { deleteBundleFromS3, deleteBundlePrefixFromS3, parseBucketArgument } from '../../functions/lib/bundle/s3.js';
import { localEndpoint, s3ClientFor } from './upload-bundle.js';
import { parseOptions, usageError } from './_common.js';

export const summary = 'Delete a bundle (its parts and manifest) from S3';

const HELP = `usage: ami-factory delete-bundle -b BUCKET[/PREFIX] (-m MANIFEST | -p NAME) [options]

As ec2-delete-bundle: by manifest, deletes every part it lists and then the manifest; by
prefix, deletes the keys <NAME>.part.<n> and <NAME>.manifest[.xml] under the bucket prefix.
An image registered from the bundle stops working once it is deleted.
  -b, --bucket BUCKET[/PREFIX]  where the bundle is
  -m, --manifest FILE|NAME      a local copy of the manifest, or its name in the bucket
  -p, --prefix NAME             the bundle's name (instead of --manifest)
      --endpoint URL            S3 endpoint (default: the local cloud, ${localEndpoint()})
      --aws                     use AWS itself (default credentials and endpoint)
      --region REGION           region (default us-east-1, or AWS_REGION)
  -h, --help                    this help`;

const OPTIONS = {
  bucket: { type: 'string', short: 'b' },
  manifest: { type: 'string', short: 'm' },
  prefix: { type: 'string', short: 'p' },
  endpoint: { type: 'string' },
  aws: { type: 'boolean' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): number {
  return usageError('delete-bundle', message);
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('delete-bundle', HELP, argv, OPTIONS, ['bucket']);
  if (typeof values === 'number') return values;
  if ((values.manifest === undefined) === (values.prefix === undefined)) return usage('give exactly one of --manifest and --prefix');
  let target: { bucket: string; prefix: string };
  try {
    target = parseBucketArgument(values.bucket);
  } catch (e) {
    return usage((e as Error).message);
  }
  const s3 = await s3ClientFor('delete-bundle', values);
  if (s3 === undefined) return 1;
  try {
    let keys: string[];
    if (values.manifest !== undefined) {
      const name = basename(values.manifest);
      const local = existsSync(values.manifest) ? readFileSync(values.manifest, 'utf8') : undefined;
      keys = await deleteBundleFromS3(s3, `${target.bucket}/${target.prefix}${name}`, local === undefined ? {} : { manifest: local });
    } else {
      keys = await deleteBundlePrefixFromS3(s3, target.bucket, target.prefix, values.prefix ?? '');
    }
    console.log(
      `Deleted ${keys.length} object${keys.length === 1 ? '' : 's'} from s3://${target.bucket}/${target.prefix} (${keys.map((k) => basename(k)).join(', ')})`,
    );
    return 0;
  } catch (e) {
    console.error(`FAILED: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    s3.destroy();
  }
}
