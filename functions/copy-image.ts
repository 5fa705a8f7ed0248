import * as z from 'zod';
import { BuildRequestSchema, CopyTargetSchema, ImageIdSchema } from './lib/build-request.js';
import { publishedAlready } from './lib/channels/read.js';
import { ec2Client, ssmClient } from './lib/clients.js';
import { copyImageToRegion } from './lib/ec2/copy.js';
import { factoryConfig } from './lib/factory-config.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z.object({ request: BuildRequestSchema, sourceImageId: ImageIdSchema, target: CopyTargetSchema }).strict();

/**
 * CopyImage into one destination region (ClientToken per build and region, and per run for a
 * distribution). A copy an earlier run made is adopted. In a distribution run, `published` is
 * its channel when the region's channel already holds it (the state machine then leaves the
 * region alone); a re-driven build finalizes, tests and publishes an adopted copy again, as before.
 */
export const handler = taskHandler('copy-image', Input, async ({ request, sourceImageId, target }, logger) => {
  const copy = await copyImageToRegion(ec2Client(target.region), request, sourceImageId, target);
  const published =
    copy.created || request.distribute === undefined
      ? null
      : await publishedAlready(ssmClient(target.region), factoryConfig(), request, copy.imageId);
  logger.info(copy.created ? 'copy started' : published !== null ? 'copy already published' : 'copy already existed', {
    region: target.region,
    imageId: copy.imageId,
  });
  return { ...copy, published };
});
