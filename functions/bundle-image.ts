import { S3BundleJobSchema, bundleS3Image } from './lib/bundle/s3-job.js';
import { s3Client, ssmClient } from './lib/clients.js';
import { env } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';

/** Bundles an image object from S3 into an instance-store bundle under an S3 prefix; returns its ImageLocation. */
export const handler = taskHandler('bundle-image', S3BundleJobSchema, async (job, logger) => {
  const out = await bundleS3Image({ s3: s3Client(), ssm: () => ssmClient(), budgetMs: env().AMI_FACTORY_TIME_BUDGET_MS }, job);
  logger.info('image bundled', { imageLocation: out.imageLocation, parts: out.parts, bytes: out.size });
  return out;
});
