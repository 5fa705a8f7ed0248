import { z } from 'zod';
import { AccountIdSchema } from './lib/build-request.js';
import { s3Client, ssmClient } from './lib/clients.js';
import { env } from './lib/env.js';
import { FactoryError } from './lib/errors.js';
import { bundleImage } from './lib/bundle/index.js';
import { parseBucketArgument, s3BundleSink } from './lib/bundle/s3.js';
import { s3ImageObject } from './lib/bundle/s3-image.js';
import { bundleKeys } from './lib/bundle/signing.js';
import { taskHandler } from './lib/task-handler.js';

/**
 * Measured throughput of the bundler (npm run bench -- bundle: 42 MB/s median on 2 cores),
 * halved for a Lambda's share of a CPU and the image read twice from S3 (sparse scan, then
 * data). A bundle that would not finish within the invocation's remaining time is refused
 * up front with BundleTooSlowError instead of timing out halfway.
 */
export const PLANNING_THROUGHPUT_BYTES_PER_S = 20 * 1e6;

/** The image would not be bundled within the Lambda's time limit. */
export class BundleTooSlowError extends FactoryError {}

const Input = z
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
  .strict();

/**
 * Bundles an image object from S3 into an instance-store bundle under an S3 prefix,
 * streaming: ranged reads of the image, parallel gzip, parts uploaded as they are made,
 * the manifest last. Returns the ImageLocation for RegisterImage.
 */
export const handler = taskHandler('bundle-image', Input, async (input, logger) => {
  const s3 = s3Client();
  const image = await s3ImageObject(s3, input.source.bucket, input.source.key);
  const seconds = (2 * image.size) / PLANNING_THROUGHPUT_BYTES_PER_S;
  const remainingMs = env().AMI_FACTORY_TIME_BUDGET_MS;
  if (seconds * 1000 > remainingMs) {
    throw new BundleTooSlowError(
      `${image.label} is ${(image.size / 2 ** 30).toFixed(1)} GiB: about ${Math.ceil(seconds)} s to bundle, more than the ${Math.floor(remainingMs / 1000)} s a Lambda invocation has; bundle it with \`ami-factory bundle\` on an instance and upload it`,
    );
  }
  const keys = await bundleKeys(() => ssmClient());
  const { bucket, prefix } = parseBucketArgument(input.destination);
  const result = await bundleImage({
    image,
    ...(input.name !== undefined ? { name: input.name } : {}),
    user: input.account,
    architecture: input.architecture,
    ...keys,
    sink: s3BundleSink(s3, bucket, prefix),
  });
  const imageLocation = `${bucket}/${prefix === '' ? '' : `${prefix.replace(/\/$/, '')}/`}${result.manifestFileName}`;
  logger.info('image bundled', { imageLocation, parts: result.parts.length, bytes: image.size });
  return { imageLocation, parts: result.parts.length, size: image.size };
});
