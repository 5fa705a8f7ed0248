import * as z from 'zod';
import { BuildRequestSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { terminateBuilders } from './lib/ec2/builder.js';
import { cleanupBuildImages } from './lib/ec2/copy.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z
  .object({
    request: BuildRequestSchema,
    region: RegionSchema,
    /** Image ids known to the failed step (a copy id, the home image id), if any. */
    imageIds: z.array(z.string().regex(/^ami-[0-9a-f]{8,17}$/)).default([]),
    /** Also terminate the build's builders (the build-region cleanup of a fresh build). */
    builders: z.boolean().default(false),
  })
  .strict();

/**
 * After a failure in a region: the build's images there are deregistered and their
 * snapshots deleted (only images tagged managed with this build id), builders terminated.
 */
export const handler = taskHandler('cleanup-build', Input, async ({ request, region, imageIds, builders }, logger) => {
  const ec2 = ec2Client(region);
  const terminated = builders ? await terminateBuilders(ec2, request.buildId) : [];
  const result = await cleanupBuildImages(ec2, request, imageIds);
  logger.info('cleaned up', { region, terminated, ...result });
  return { region, terminated, ...result };
});
