import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { AccountIdSchema } from '../build-request.js';
import { FactoryError } from '../errors.js';
import { bundleImage } from './bundle.js';
import { parseBucketArgument, s3BundleSink } from './s3.js';
import { s3ImageObject } from './s3-image.js';
import { bundleKeys } from './signing.js';

/**
 * Measured throughput of the bundler (npm run bench -- bundle: 42 MB/s median on 2 cores),
 * halved for a Lambda's share of a CPU and the image read twice from S3 (sparse scan, then
 * data). A bundle that would not finish within the invocation's time budget is refused up
 * front with BundleTooSlowError instead of timing out halfway.
 */
export const PLANNING_THROUGHPUT_BYTES_PER_S = 20 * 1e6;

/** The image would not be bundled within the Lambda's time limit. */
export class BundleTooSlowError extends FactoryError {
  override name = 'BundleTooSlowError';
}

/** The bundle-image function's input: an image object in S3 and where its bundle goes. */
export const S3BundleJobSchema = z.lazy(() =>
  z
    .object({
      source: z.object({ bucket: z.string().min(3).max(63), key: z.string().min(1).max(1024) }).strict(),
      /** `bucket` or `bucket/prefix` for the parts and the manifest. */
      destination: z.string().min(3).max(1024),
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/)
        .optional(),
      architecture: z.enum(['i386', 'x86_64']),
      account: AccountIdSchema,
    })
    .strict(),
);
export type S3BundleJob = z.infer<typeof S3BundleJobSchema>;

/** Throws BundleTooSlowError when an image of `size` bytes would take longer than `budgetMs` to bundle. */
export function assertBundlesInTime(label: string, size: number, budgetMs: number): void {
  const seconds = (2 * size) / PLANNING_THROUGHPUT_BYTES_PER_S;
  if (seconds * 1000 > budgetMs) {
    throw new BundleTooSlowError(
      `${label} is ${(size / 2 ** 30).toFixed(1)} GiB: about ${Math.ceil(seconds)} s to bundle, more than the ${Math.floor(budgetMs / 1000)} s a Lambda invocation has; bundle it with \`ami-factory bundle\` on an instance and upload it`,
    );
  }
}

/** RegisterImage's ImageLocation of a manifest written under `bucket/prefix`. */
export function imageLocationOf(bucket: string, prefix: string, manifestFileName: string): string {
  return `${bucket}/${prefix === '' ? '' : `${prefix.replace(/\/$/, '')}/`}${manifestFileName}`;
}

/**
 * Bundles an image object from S3 into an instance-store bundle under an S3 prefix, streaming:
 * ranged reads of the image, parallel gzip, parts uploaded as they are made, the manifest last.
 * Returns the ImageLocation for RegisterImage.
 */
export async function bundleS3Image(
  deps: { s3: S3Client; ssm: () => SSMClient; budgetMs: number },
  job: S3BundleJob,
): Promise<{ imageLocation: string; parts: number; size: number }> {
  const image = await s3ImageObject(deps.s3, job.source.bucket, job.source.key);
  assertBundlesInTime(image.label, image.size, deps.budgetMs);
  const keys = await bundleKeys(deps.ssm);
  const { bucket, prefix } = parseBucketArgument(job.destination);
  const result = await bundleImage({
    image,
    ...(job.name !== undefined ? { name: job.name } : {}),
    user: job.account,
    architecture: job.architecture,
    ...keys,
    sink: s3BundleSink(deps.s3, bucket, prefix),
  });
  return { imageLocation: imageLocationOf(bucket, prefix, result.manifestFileName), parts: result.parts.length, size: image.size };
}
